"""Rebalancing drift of fixed-weight funds and the trade that brings them back to target.

For a fund with target weights w and asset growth R = P(as_of) / P(base_date) since its last
rebalance, the drifted weight of sleeve i is w_i R_i / sum_j w_j R_j, and the trade the fund must
make is (w_i - w_i(t)) * AUM: positive buys, negative sells.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from flows import calendar
from flows.calendar import period_end_before, period_ends_before
from flows.errors import InputError
from flows.funds import RebalancingFund
from flows.program_model import Band, month_label
from flows.results import (
    BandRule,
    Direction,
    FundDrift,
    NotSizedProgram,
    ProgramRule,
    RebalanceEstimate,
    WhatIf,
)

WHAT_IF_MOVES = (-0.20, -0.10, 0.10, 0.20)


def drifted_weights(target_weights: np.ndarray, growth: np.ndarray) -> np.ndarray:
    """Weights after each sleeve grew by `growth` (the last axis holds the sleeves)."""
    grown = target_weights * growth
    return grown / grown.sum(axis=-1, keepdims=True)


def rebalance_trades(target_weights: np.ndarray, growth: np.ndarray, aum_usd: float) -> np.ndarray:
    """Signed USD trade per sleeve that restores the targets; the trades sum to zero."""
    return (target_weights - drifted_weights(target_weights, growth)) * aum_usd


def direction_of(trade_usd: float, neutral_band_usd: float) -> Direction:
    if abs(trade_usd) <= neutral_band_usd:
        return "neutral"
    return "buy" if trade_usd > 0 else "sell"


def price_on_or_before(closes: pd.Series, day: dt.date, symbol: str) -> float:
    """P(t): the last close on or before `day`."""
    position = int(np.searchsorted(closes.index.values, np.datetime64(day, "D"), side="right")) - 1
    if position < 0:
        first = closes.index[0].date() if len(closes) else "never"
        raise InputError(f"{symbol} data starts {first}, after {day}; pick a later --as-of")
    return float(closes.iloc[position])


def estimate_rebalance(
    asset: str,
    as_of: dt.date,
    funds: Sequence[RebalancingFund],
    closes: Mapping[str, pd.Series],
    adv_usd: float | None,
    neutral_band_pct_adv: float = 0.1,
    neutral_band_usd: float = 1e6,
    moves: Sequence[float] = WHAT_IF_MOVES,
    not_sized: Sequence[NotSizedProgram] = (),
) -> RebalanceEstimate:
    """The trade in `asset` of every program holding it, their total, and a what-if on the asset.

    `closes` maps each symbol to its total-return close series (adj_close). Every program's
    trade is what restoring its targets would trade today; only programs whose rule trades this
    period (`trades_this_period`) count in the totals. Programs whose sleeve starts after
    `as_of` are moved to `not_sized`.
    """
    band = neutral_band_usd if adv_usd is None else adv_usd * neutral_band_pct_adv / 100.0
    details: list[FundDrift] = []
    skipped = list(not_sized)
    what_if_totals = np.zeros(len(moves))
    totals = np.zeros(3)
    funds_only = 0.0
    aum_total = 0.0
    for fund in funds:
        if fund.since is not None and fund.since > as_of:
            skipped.append(_not_sized(fund, f"its sleeve started {fund.since}, after {as_of}"))
            continue
        symbols = list(fund.weights)
        targets = np.array([fund.weights[s] for s in symbols])
        base_date = base_date_for(fund, as_of)
        growth = np.array(
            [
                price_on_or_before(closes[s], as_of, s)
                / price_on_or_before(closes[s], base_date, s)
                for s in symbols
            ]
        )
        position = symbols.index(asset)
        current = drifted_weights(targets, growth)
        aum, aum_source = fund.aum_on(as_of)
        assert aum is not None  # only sizable programs are passed
        low_ratio, high_ratio = _range_ratios(fund)
        trades = rebalance_trades(targets, growth, aum)
        trade = float(trades[position])
        trade_range = [trade * low_ratio, trade, trade * high_ratio]
        trigger = band_trigger(fund, symbols, targets, current, asset)
        trigger_move = trigger[0] if trigger else None
        trigger_trade = (
            None if trigger is None else band_trade(aum, symbols, targets, current, asset, *trigger)
        )
        trading, note = trades_this_period(fund, as_of)
        if trigger_move == 0.0:
            trading, note = True, f"{program_label(fund)}: a band is breached now"
        details.append(
            FundDrift(
                name=fund.name,
                aum_usd=aum,
                aum_source=aum_source,
                rebalance=fund.rebalance,
                base_date=base_date,
                target_weight=float(targets[position]),
                current_weight=float(current[position]),
                drift=float(current[position] - targets[position]),
                trade_usd=trade,
                id=fund.id,
                kind=fund.kind,
                scenario=fund.scenario,
                rule=program_rule(fund),
                trades_this_period=trading,
                period_note=note,
                band_trigger_move=trigger_move,
                band_trigger_trade_usd=trigger_trade,
                trade_usd_range=trade_range,
                since=fund.since,
                aum_as_of=fund.aum_as_of,
            )
        )
        if not trading:
            continue
        aum_total += aum
        totals += np.array(trade_range)
        if not fund.scenario:
            funds_only += trade
        shocked = np.tile(growth, (len(moves), 1))
        shocked[:, position] *= 1.0 + np.asarray(moves)
        what_if_totals += rebalance_trades(targets, shocked, aum)[:, position]
    total = float(totals[1])
    return RebalanceEstimate(
        funds=details,
        trade_usd=total,
        direction=direction_of(total, band),
        pct_adv=None if not adv_usd else 100.0 * abs(total) / adv_usd,
        adv_usd=adv_usd,
        aum_total_usd=aum_total,
        what_if=[
            WhatIf(move=move, trade_usd=float(t), direction=direction_of(float(t), band))
            for move, t in zip(moves, what_if_totals, strict=True)
        ],
        trade_usd_funds=funds_only,
        trade_usd_range=[float(v) for v in totals],
        not_sized=skipped,
    )


def _not_sized(fund: RebalancingFund, reason: str) -> NotSizedProgram:
    return NotSizedProgram(
        id=fund.id, name=fund.name, kind=fund.kind, scenario=fund.scenario, reason=reason
    )


def not_sized_programs(
    programs: Sequence[RebalancingFund], as_of: dt.date | None = None
) -> list[NotSizedProgram]:
    """Programs listed without a trade figure, each with its reason (a sleeve that starts
    after `as_of` first: the program does not count at that date whatever its size)."""
    result = []
    for fund in programs:
        reason = fund.unsized_reason()
        if reason is None:
            continue
        if as_of is not None and fund.since is not None and fund.since > as_of:
            reason = f"its sleeve started {fund.since}, after {as_of}"
        result.append(_not_sized(fund, reason))
    return result


def _range_ratios(fund: RebalancingFund) -> tuple[float, float]:
    """The program's low and high AUM as multiples of its central figure (1, 1 without a
    range): the trade scales with AUM, so its range is the trade times these."""
    figures = fund.aum_range()
    if figures is None or figures[1] <= 0:
        return 1.0, 1.0
    low, central, high = figures
    return low / central, high / central


def program_label(fund: RebalancingFund) -> str:
    """A short name for notes: the first ticker without its exchange suffix, else the name."""
    return fund.tickers[0].split(".")[0] if fund.tickers else fund.name


def program_rule(fund: RebalancingFund) -> ProgramRule:
    rule = fund.effective_rule
    return ProgramRule(
        calendar=rule.calendar,
        calendar_month=rule.calendar_month,
        bands=[BandRule(**band.to_dict()) for band in rule.bands],
    )


def _last_session_of_month_before(as_of: dt.date, month: int) -> dt.date:
    last = calendar.last_session_of_month(as_of.year, month)
    return last if last < as_of else calendar.last_session_of_month(as_of.year - 1, month)


def base_date_for(fund: RebalancingFund, as_of: dt.date) -> dt.date:
    """The program's last rebalance before `as_of` by its calendar (the base its drift is
    measured from), or the day its sleeve started when that is later.

    An annual rule in an undisclosed month and a rule without a calendar measure drift from
    the year end and the last quarter end respectively: the basis of each row says which
    calendar it has."""
    schedule = fund.rebalance
    if schedule in ("monthly", "quarterly"):
        base = period_end_before(as_of, schedule)  # type: ignore[arg-type]
    elif schedule == "annual":
        base = _last_session_of_month_before(as_of, fund.effective_rule.calendar_month or 12)
    else:
        base = period_end_before(as_of, "quarterly")
    if fund.since is not None and base < fund.since < as_of:
        return fund.since
    return base


def trades_this_period(fund: RebalancingFund, as_of: dt.date) -> tuple[bool, str | None]:
    """Whether the program's calendar trades before the next quarter end, and why not."""
    rule = fund.effective_rule
    label = program_label(fund)
    if rule.calendar in ("monthly", "quarterly"):
        return True, None
    if rule.calendar == "none":
        return False, f"{label}: no calendar rebalance; no calendar trade counted"
    if rule.calendar_month is None:
        return False, (
            f"{label}: annual rebalance in an undisclosed month; no calendar trade counted "
            "this quarter"
        )
    quarter_end = calendar.quarter_end_status(as_of).last_session
    month = rule.calendar_month
    upcoming = calendar.last_session_of_month(as_of.year, month)
    if upcoming < as_of:
        upcoming = calendar.last_session_of_month(as_of.year + 1, month)
    if upcoming <= quarter_end:
        return True, None
    return False, (
        f"{label}: annual rebalance in {month_label(month)}; no calendar trade this quarter"
    )


BAND_TRIGGER_LIMIT = 0.9
"""Band triggers further than ±90 % from the latest close are reported as none (null)."""


def band_trigger(
    fund: RebalancingFund,
    symbols: Sequence[str],
    targets: np.ndarray,
    current: np.ndarray,
    asset: str,
) -> tuple[float, Band] | None:
    """The nearest move of `asset` (others flat) that breaches one of the program's bands,
    with that band; 0.0 when a band is breached now; None without a band within ±90 %.

    For a band whose members hold current weight g (target t, limit L), with `asset` at
    current weight w: if the asset is a member, g(m) = (g + w·m) / (1 + w·m), so the breach
    is at m = (L − g) / (w·(1 − L)) — for a single-asset band, 1 + m = L·(1 − w) / (w·(1 − L));
    if it is not, g(m) = g / (1 + w·m) and m = (g / L − 1) / w.
    """
    weights_now = dict(zip(symbols, current, strict=True))
    target_of = dict(zip(symbols, targets, strict=True))
    w = weights_now[asset]
    best: tuple[float, Band] | None = None
    for band in fund.effective_rule.bands:
        members = band.members(symbols)
        if not members:
            continue
        g = float(sum(weights_now[m] for m in members))
        lower, upper = band.limits(float(sum(target_of[m] for m in members)))
        if (upper is not None and g > upper) or (lower is not None and g < lower):
            return 0.0, band
        for limit in (lower, upper):
            if limit is None or limit <= 0 or limit >= 1:
                continue
            inside = asset in members
            move = (limit - g) / (w * (1.0 - limit)) if inside else (g / limit - 1.0) / w
            if abs(move) <= BAND_TRIGGER_LIMIT and (best is None or abs(move) < abs(best[0])):
                best = (float(move), band)
    return best


def band_trade(
    aum: float,
    symbols: Sequence[str],
    targets: np.ndarray,
    current: np.ndarray,
    asset: str,
    move: float,
    band: Band,
) -> float:
    """The trade in `asset` the breach at `move` forces: every sleeve back to target
    (`restores = "all"`), or only the breached sleeve, its proceeds spread over the others at
    their targets (`"sleeve"`). `aum` is today's value; the move changes it by w·m."""
    position = list(symbols).index(asset)
    grown = current.copy()
    grown[position] *= 1.0 + move
    value = aum * float(grown.sum())
    weights = grown / grown.sum()
    if band.restores == "all" or band.asset is None or band.asset == asset:
        return float((targets[position] - weights[position]) * value)
    breached = list(symbols).index(band.asset)
    freed = (targets[breached] - weights[breached]) * value
    return float(-freed * targets[position] / (1.0 - targets[breached]))


def average_dollar_volume(bars: pd.DataFrame, as_of: dt.date, sessions: int = 20) -> float | None:
    """Mean of close x volume over the last `sessions` bars up to `as_of`; None without volume."""
    end = int(np.searchsorted(bars.index.values, np.datetime64(as_of, "D"), side="right"))
    if end < sessions:
        return None
    close = bars["close"].to_numpy()[end - sessions : end]
    volume = bars["volume"].to_numpy()[end - sessions : end]
    dollar_volume = float(np.mean(close * volume))
    return dollar_volume if dollar_volume > 0 else None


def aggregate_trade_path(
    funds: Sequence[RebalancingFund], closes: pd.DataFrame, days: pd.DatetimeIndex
) -> pd.DataFrame:
    """Aggregate rebalancing trade per symbol for every day in `days`, all funds at once.

    `closes` holds one total-return close column per symbol, indexed by date (gaps such as
    weekends for equities are filled forward, so P(t) is the last close on or before t). The
    algebra sums funds in closed form: for funds sharing a schedule, the total trade in sleeve i is
    sum_f A_f W_fi - R_i * sum_f (A_f / D_f) W_fi with D_f = sum_j W_fj R_j, which is a pair of
    matrix products instead of a loop over funds.
    """
    symbols = sorted({s for fund in funds for s in fund.weights})
    prices = closes[symbols].sort_index().ffill()
    at_days = prices.reindex(days, method="ffill").to_numpy()
    total = np.zeros((len(days), len(symbols)))
    for schedule in ("monthly", "quarterly"):
        group = [fund for fund in funds if fund.rebalance == schedule]
        if not group:
            continue
        weights = np.array([[fund.weights.get(s, 0.0) for s in symbols] for fund in group])
        # AUM per day and program: its dated figure on each day, zero before its sleeve began.
        aum = np.column_stack([aum_path(fund, days) for fund in group])
        bases = pd.DatetimeIndex(period_ends_before(days, schedule).astype("datetime64[ns]"))
        at_bases = prices.reindex(bases, method="ffill").to_numpy()
        growth = at_days / at_bases
        denominators = growth @ weights.T
        # A program not yet started (AUM 0) adds exactly nothing, even where its prices at the
        # base date are missing (NaN growth).
        scaled = np.where(aum > 0, aum / np.where(aum > 0, denominators, 1.0), 0.0) @ weights
        total += aum @ weights - np.where(scaled != 0, growth * scaled, 0.0)
    return pd.DataFrame(total, index=days, columns=symbols)


def aum_path(fund: RebalancingFund, days: pd.DatetimeIndex) -> np.ndarray:
    """The program's central AUM on each of `days` (`RebalancingFund.aum_on`), 0 before its
    `since`."""
    points = sorted(
        [(point.date, point.usd) for point in fund.aum_history]
        + ([(fund.aum_as_of, fund.aum_usd)] if fund.aum_as_of and fund.aum_usd else [])
    )
    if not points:
        values = np.full(len(days), fund.aum_usd or 0.0)
    else:
        # The latest point on or before each day; before the first point, the first (as aum_on).
        dates = np.array([np.datetime64(day, "ns") for day, _ in points])
        figures = np.array([usd for _, usd in points])
        index = np.searchsorted(dates, days.values, side="right") - 1
        values = figures[np.clip(index, 0, len(points) - 1)]
    if fund.since is not None:
        values[days.values < np.datetime64(fund.since, "ns")] = 0.0
    return values
