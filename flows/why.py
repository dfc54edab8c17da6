"""`why`: every flow model's estimate for one asset and one day, composed into the ledger.

Each row is the figure the model's own command reports for the same inputs (status for
rebalancing and vol targeting, `letf` for leveraged ETFs at the day's move, `gamma` for the dealer
hedge at the day's move, `positioning` for the forced flow and ETF creations on the day), so a
user who drills down from `why` sees the same number. A model that cannot be computed here is a
row with `usd = None` and its reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from flows import calendar
from flows.assets import is_crypto
from flows.errors import FlowsError
from flows.funds import FundRegistry
from flows.marketdata import MarketData
from flows.models import rebalance as rebalance_model
from flows.models import vol_target as vol_target_model
from flows.models.estimate import FlowEstimate, FlowTiming
from flows.models.ledger import Ledger, build_ledger
from flows.models.leveraged import daily_move, estimate_letf, reset_move, validate_move
from flows.results import FundDrift, StatusReport
from flows.status import AnalyticsConfig, build_status

REBALANCE_HORIZON_SESSIONS = 5
"""A rebalancing trade joins the day's ledger when the program's next rebalance is at most this
many sessions away (the quarter-end window is the final 5 sessions)."""

_STOCK_BOND_KINDS = frozenset({"pension", "balanced_fund"})


def _unknown(source: str, asset: str, day: dt.date, reason: str, kind: str) -> FlowEstimate:
    return FlowEstimate(
        source=source,
        asset=asset,
        usd=None,
        timing=FlowTiming(kind=kind, start=day),  # type: ignore[arg-type]
        basis=reason,
        confidence="estimated",
        unknown_reason=reason,
    )


def _next_rebalance(fund: FundDrift, day: dt.date) -> dt.date:
    schedule = "monthly" if fund.rebalance == "monthly" else "quarterly"
    return calendar.period_end_on_or_after(day, schedule)


def rebalancing_rows(
    status: StatusReport, horizon: int = REBALANCE_HORIZON_SESSIONS
) -> list[FlowEstimate]:
    """Rebalancing as up to three rows — real funds (`rebalance`), the stock/bond aggregates
    (`rebalance:pension`) and scenario programs (`rebalance:scenario`), kept apart — each the
    sum of the per-program estimates `status` reports, counted when the program's next rebalance
    is within `horizon` sessions and shown as a zero with its date otherwise."""
    asset, day = status.asset, status.as_of
    if status.rebalance.trade_usd is None:
        return [
            _unknown(
                "rebalance", asset, day, f"no sized program in the registry holds {asset}", "window"
            )
        ]
    groups: dict[str, list[FundDrift]] = {}
    for fund in status.rebalance.funds:
        if not fund.trades_this_period:
            continue
        if fund.kind in _STOCK_BOND_KINDS:
            key = "rebalance:pension"
        elif fund.scenario:
            key = "rebalance:scenario"
        else:
            key = "rebalance"
        groups.setdefault(key, []).append(fund)
    rows = []
    for source, funds in groups.items():
        estimates = [
            rebalance_model.fund_estimate(asset, day, f, status.data_source, status.funds_source)
            for f in funds
        ]
        due = [
            (fund, estimate)
            for fund, estimate in zip(funds, estimates, strict=True)
            if calendar.count_sessions_after(day, _next_rebalance(fund, day)) <= horizon
        ]
        next_day = min(_next_rebalance(fund, day) for fund in funds)
        timing = estimates[0].timing
        if due:
            usd = float(sum(estimate.usd or 0.0 for _, estimate in due))
            names = ", ".join(fund.name for fund, _ in due)
            basis = f"{len(due)} program(s) rebalancing by {next_day}: {names}"
        else:
            usd = 0.0
            sessions = calendar.count_sessions_after(day, next_day)
            basis = (
                f"next rebalance {next_day} ({sessions} sessions away), outside the "
                f"{horizon}-session horizon: no rebalancing trade counted today"
            )
        rows.append(
            FlowEstimate(
                source=source,
                asset=asset,
                usd=usd,
                timing=timing,
                basis=f"{basis}; prices {status.data_source} to {day}",
                confidence="scenario" if source == "rebalance:scenario" else "estimated",
            )
        )
    return rows


def vol_target_row(status: StatusReport) -> FlowEstimate:
    estimate = vol_target_model.aggregate_estimate(
        status.asset, status.as_of, status.volatility, status.data_source
    )
    if estimate is None:
        return _unknown(
            "vol_target",
            status.asset,
            status.as_of,
            f"no vol-target program in the registry trades {status.asset}",
            "at_close",
        )
    return estimate


def leveraged_row(
    status: StatusReport, registry: FundRegistry, move: float, move_basis: str
) -> FlowEstimate:
    """What `flows-bot letf ASSET --as-of DAY --move MOVE` reports, as one row."""
    if not registry.leveraged_on(status.asset):
        return _unknown(
            "leveraged",
            status.asset,
            status.as_of,
            f"no leveraged or inverse ETF in the registry tracks {status.asset}",
            "at_close",
        )
    day = status.as_of
    if not calendar.is_session(day):
        # A crypto weekend or holiday: the US-listed funds wait for the next NYSE close.
        return FlowEstimate(
            source="leveraged",
            asset=status.asset,
            usd=0.0,
            timing=FlowTiming(kind="at_close", start=day),
            basis=f"no NYSE session on {day}: US-listed leveraged funds do not trade; the move "
            f"since the close of {calendar.previous_session(day)} is traded at the close of "
            f"{calendar.next_session(day)}",
            confidence="estimated",
        )
    adv = status.leveraged.adv_usd if status.leveraged is not None else None
    estimate = estimate_letf(
        status.asset,
        move,
        registry,
        adv,
        as_of=status.as_of,
        move_basis=move_basis,
        data_source=status.data_source,
        sample=status.sample,
    )
    return estimate.flow_estimates[0]


async def gamma_row(
    asset: str, day: dt.date, market: MarketData, chains: Any, move_pct: float
) -> FlowEstimate:
    """The dealers' hedge for the day's move, −GEX × move% (what `gamma` reports per move)."""
    from flows.gamma import build_gamma

    if chains is None:
        return _unknown("gamma", asset, day, "no option-chain source", "intraday")
    try:
        result = await build_gamma(asset, market, chains, day)
    except FlowsError as exc:
        return _unknown("gamma", asset, day, f"dealer gamma unavailable: {exc}", "intraday")
    return FlowEstimate(
        source="gamma",
        asset=asset,
        usd=result.hedge_for(move_pct),
        timing=FlowTiming(kind="intraday", start=day),
        basis=f"−GEX × move: GEX {result.gex_usd_per_pct:,.0f} USD per 1% ({result.regime}) "
        f"× {move_pct:+.2f}%; chain of {result.as_of}, {result.source}",
        confidence="estimated",
    )


async def positioning_rows(
    asset: str, day: dt.date, market: MarketData, positioning: Any, config: Any
) -> list[FlowEstimate]:
    """The day's forced flow (`positioning`) and ETF creations/redemptions (`etf_flows`)."""
    from flows.models.positioning import build_positioning
    from flows.positioning.data import require_covered

    def unknown_both(reason: str) -> list[FlowEstimate]:
        return [
            _unknown("positioning", asset, day, reason, "at_close"),
            _unknown("etf_flows", asset, day, reason, "at_close"),
        ]

    if positioning is None:
        return unknown_both("no positioning data source")
    try:
        require_covered(asset)
        report = await build_positioning(asset, market, positioning, day, 1, config)
    except FlowsError as exc:
        return unknown_both(f"positioning unavailable: {exc}")
    rows = [estimate for estimate in report.estimates() if estimate.timing.start == day]
    return rows or unknown_both(f"no positioning or ETF-flow data for {day}")


async def build_why(
    asset_text: str,
    market: MarketData,
    registry: FundRegistry,
    *,
    chains: Any = None,
    positioning: Any = None,
    positioning_config: Any = None,
    as_of: dt.date | None = None,
    move: float | None = None,
    config: AnalyticsConfig | None = None,
    horizon: int = REBALANCE_HORIZON_SESSIONS,
    status: StatusReport | None = None,
) -> Ledger:
    """The ledger of `asset_text` on `as_of` (default: the latest bar) for the day's close-to-
    close move, or for `move` (a fraction, −0.05 = −5 %) as a what-if. `status`: the asset's
    status already computed for that day (by `status`, which shows the net line too)."""
    if status is None:
        status = await build_status(asset_text, market, registry, as_of, config)
    asset, day = status.asset, status.as_of
    if move is None:
        bars = await market.bars(asset, day - dt.timedelta(days=14), day)
        move, previous = daily_move(bars["close"], day, asset)
        move_basis = f"close {previous} → close {day}"
        letf_move, letf_basis = move, move_basis
        if is_crypto(asset) and calendar.is_session(day):
            # The funds trade the move since the last NYSE close (Friday's, on a Monday).
            letf_move, since = reset_move(bars["close"], day, asset)
            letf_basis = f"close {since} → close {day}, the NYSE sessions the funds reset on"
    else:
        validate_move(move)
        move_basis = letf_basis = "given with --move"
        letf_move = move
    move_pct = 100.0 * move
    if positioning_config is None:
        from flows.models.positioning import PositioningConfig

        positioning_config = PositioningConfig()
    estimates: Sequence[FlowEstimate] = [
        *rebalancing_rows(status, horizon),
        vol_target_row(status),
        leveraged_row(status, registry, letf_move, letf_basis),
        await gamma_row(asset, day, market, chains, move_pct),
        *await positioning_rows(asset, day, market, positioning, positioning_config),
    ]
    ledger = build_ledger(
        asset, day, move_pct, estimates, data_source=status.data_source, sample=status.sample
    )
    return ledger.model_copy(update={"move_basis": move_basis, "data_lag": status.data_lag})
