"""Fixed-weight fund rebalancing as `FlowEstimate`s.

The computation itself stays in `flows.rebalance` (`estimate_rebalance` → `RebalanceEstimate`:
each fund's drift from its target weights since its last month- or quarter-end and the trade that
restores them). This module turns that typed result into the shared shape: one estimate per fund
(`rebalance:<fund>`) and one for all funds together (`rebalance`), timed at the fund's next
rebalancing close (quarterly funds: spread over the quarter-end window).
"""

from __future__ import annotations

import datetime as dt

from flows import calendar
from flows.models._common import aum_confidence, slug
from flows.models.estimate import FlowEstimate, FlowTiming
from flows.results import FundDrift, RebalanceEstimate

SOURCE = "rebalance"


def _timing(as_of: dt.date, schedules: set[str]) -> FlowTiming:
    if schedules == {"monthly"}:
        return FlowTiming(kind="at_close", start=calendar.period_end_on_or_after(as_of, "monthly"))
    quarter = calendar.quarter_end_status(as_of)
    start = min(max(quarter.window_start, as_of), quarter.last_session)
    if "monthly" in schedules:
        start = min(start, calendar.period_end_on_or_after(as_of, "monthly"))
    return FlowTiming(kind="window", start=start, end=quarter.last_session)


def fund_estimate(
    asset: str, as_of: dt.date, fund: FundDrift, data_source: str, funds_source: str
) -> FlowEstimate:
    return FlowEstimate(
        source=f"{SOURCE}:{fund.id or slug(fund.name)}",
        asset=asset,
        usd=fund.trade_usd,
        timing=_timing(as_of, {fund.rebalance}),
        basis=f"{fund.name} ({fund.rebalance}{', scenario' if fund.scenario else ''}): {asset} "
        f"weight {fund.current_weight:.4%} vs target {fund.target_weight:.4%} since "
        f"{fund.base_date}, AUM {fund.aum_usd:,.0f} USD ({fund.aum_source}); prices "
        f"{data_source} to {as_of}; funds {funds_source}",
        confidence="scenario" if fund.scenario else aum_confidence([fund.aum_source]),
    )


def fund_estimates(
    asset: str, as_of: dt.date, estimate: RebalanceEstimate, data_source: str, funds_source: str
) -> list[FlowEstimate]:
    """One estimate per program holding `asset` whose rule trades this period; their total is
    `estimate.trade_usd` (programs with no calendar trade this period are not counted there
    either)."""
    return [
        fund_estimate(asset, as_of, fund, data_source, funds_source)
        for fund in estimate.funds
        if fund.trades_this_period
    ]


def aggregate_estimate(
    asset: str, as_of: dt.date, estimate: RebalanceEstimate, data_source: str, funds_source: str
) -> FlowEstimate | None:
    """All funds together (the figure `status` prints); None when no fund holds `asset`."""
    trading = [fund for fund in estimate.funds if fund.trades_this_period]
    if not trading:
        return None
    return FlowEstimate(
        source=SOURCE,
        asset=asset,
        usd=estimate.trade_usd,
        timing=_timing(as_of, {fund.rebalance for fund in trading}),
        basis=f"trade restoring the target weights of {len(trading)} program(s) holding "
        f"{asset}, AUM {estimate.aum_total_usd:,.0f} USD from {funds_source}; prices "
        f"{data_source} to {as_of}; held at today's prices until the rebalance",
        confidence="scenario"
        if all(fund.scenario for fund in trading)
        else aum_confidence(fund.aum_source for fund in trading),
    )
