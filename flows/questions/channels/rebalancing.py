"""Fixed-weight funds (60/40, pensions, multi-asset and model portfolios) trading back to target
at the month or quarter ends that fall inside a question's window.

A rebalance date on or before as-of is history: its trade is the drift from the fund's previous
rebalance to that date's close. A later one is a projection with prices held where they are on
as-of: the fund's next rebalance trades today's drift, and any rebalance after that trades
nothing, because flat prices build no new drift.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from flows.calendar import period_end_before, period_ends_between
from flows.errors import InputError
from flows.funds import FundRegistry, RebalancingFund
from flows.questions.channels.base import (
    ChannelInput,
    closes_through,
    not_sized,
    register_channel,
    require_history,
    sized,
    what_ifs,
)
from flows.questions.results import ChannelFlow, Drift, RebalanceFundFlow
from flows.questions.wording import side
from flows.rebalance import (
    drifted_weights,
    price_on_or_before,
    rebalance_trades,
    trades_this_period,
)


class RebalancingChannel:
    name = "rebalancing"
    label = "fixed-weight fund rebalancing"

    def covers(self, symbol: str, registry: FundRegistry) -> bool:
        return bool(_calendar_funds(registry, symbol))

    def symbols(self, symbol: str, registry: FundRegistry) -> set[str]:
        needed = {symbol}
        for fund in _calendar_funds(registry, symbol):
            needed |= set(fund.weights)
        return needed

    def estimate(self, inputs: ChannelInput) -> ChannelFlow:
        asset, window, as_of = inputs.asset.symbol, inputs.window, inputs.as_of
        moves = np.asarray(inputs.config.what_if_moves, dtype=float)
        funds = _calendar_funds(inputs.registry, asset)
        flows: list[RebalanceFundFlow] = []
        # Annual and calendar-free programs make no month- or quarter-end trade: idle here.
        idle: list[str] = [
            fund.name for fund in inputs.registry.holding(asset) if fund not in funds
        ]
        drift: dict[tuple[str, dt.date, dt.date], Drift] = {}
        scenario = np.zeros(len(moves))
        for fund in funds:
            dates = period_ends_between(window.start, window.end, fund.rebalance)
            # A program counts only once its sleeve exists (`since`).
            dates = [day for day in dates if fund.since is None or day >= fund.since]
            if not dates:
                idle.append(fund.name)
                continue
            shocked_once = False
            for date in dates:
                flow, growth = self._fund_flow(fund, asset, date, inputs)
                flows.append(flow)
                if not flow.projected or flow.base_date <= as_of:
                    key = (fund.rebalance, flow.base_date, flow.measured_on)
                    drift.setdefault(key, _drift(fund, flow, growth))
                if flow.projected and not shocked_once:
                    # The move happens once, before the fund's first rebalance in the window;
                    # later rebalances under flat prices see no new drift.
                    scenario += self._shocked(fund, asset, growth, moves, inputs.scenario_symbols)
                    shocked_once = True
                else:
                    scenario += flow.trade_usd
        if not funds:
            return not_sized(self, f"no fixed-weight fund in the registry holds {asset}")
        projected = any(flow.projected for flow in flows)
        band = inputs.neutral_band_usd
        what_if = what_ifs(moves, scenario, band)
        if flows and all(f.projected and f.base_date > as_of for f in flows):
            # Every rebalance in the window measures drift from a later rebalance: flat prices
            # would say "no trade", but that zero carries no information about the window.
            return not_sized(
                self,
                self._pending_note(funds, asset, inputs),
                projected=True,
                funds=flows,
                idle_funds=idle,
                what_if=what_if,
            )
        total = float(sum(flow.trade_usd for flow in flows))
        off_calendar = _off_calendar_notes(inputs.registry, asset, as_of)
        note = None if flows else _idle_note(funds, window.end)
        if off_calendar:
            note = "; ".join([*([note] if note else []), *off_calendar])
        return sized(
            self,
            total,
            band,
            projected=projected,
            funds=flows,
            idle_funds=idle,
            drift=sorted(drift.values(), key=lambda d: (d.base_date, d.schedule)),
            what_if=what_if if projected else [],
            note=note,
        )

    def _pending_note(
        self, funds: tuple[RebalancingFund, ...], asset: str, inputs: ChannelInput
    ) -> str:
        """Why the window cannot be sized yet, and where today's drift goes instead."""
        as_of = inputs.as_of
        nexts = [(fund, _next_period_end(fund, as_of)) for fund in funds]
        known = [day for _, day in nexts if day is not None]
        first = min(known).isoformat() if known else "a later month or quarter end"
        note = (
            f"the funds rebalance first on {first}, before the window, so the drift they trade "
            f"in it builds after as-of {as_of} and cannot be known yet"
        )
        today = 0.0
        for fund, day in nexts:
            if day is None:
                return note
            today += self._fund_flow(fund, asset, day, inputs)[0].trade_usd
        return (
            f"{note}; today's drift goes to those earlier rebalances instead "
            f"({side(today)} of {asset} if prices stay where they are)"
        )

    def _fund_flow(
        self, fund: RebalancingFund, asset: str, date: dt.date, inputs: ChannelInput
    ) -> tuple[RebalanceFundFlow, np.ndarray]:
        as_of = inputs.as_of
        symbols = list(fund.weights)
        targets = np.array([fund.weights[s] for s in symbols])
        base = period_end_before(date, fund.rebalance)
        projected = date > as_of
        if projected and base > as_of:
            # An earlier rebalance (on `base`, still ahead) trades today's drift first.
            growth = np.ones(len(symbols))
            measured_on = base
        else:
            measured_on = as_of if projected else date
            growth = np.array(
                [_growth(inputs, symbol, base, measured_on, fund.name) for symbol in symbols]
            )
        position = symbols.index(asset)
        current = drifted_weights(targets, growth)
        # The program's size at that date: its dated AUM point on or before it.
        aum, aum_source = fund.aum_on(min(date, as_of))
        trades = rebalance_trades(targets, growth, aum)
        flow = RebalanceFundFlow(
            name=fund.name,
            aum_usd=aum,
            aum_source=aum_source,
            rebalance=fund.rebalance,
            rebalance_date=date,
            base_date=base,
            measured_on=measured_on,
            projected=projected,
            target_weight=float(targets[position]),
            current_weight=float(current[position]),
            drift=float(current[position] - targets[position]),
            trade_usd=float(trades[position]),
        )
        return flow, growth

    @staticmethod
    def _shocked(
        fund: RebalancingFund,
        asset: str,
        growth: np.ndarray,
        moves: np.ndarray,
        scenario_symbols: frozenset[str],
    ) -> np.ndarray:
        symbols = list(fund.weights)
        targets = np.array([fund.weights[s] for s in symbols])
        mask = np.array([symbol in scenario_symbols for symbol in symbols])
        shocked = np.tile(growth, (len(moves), 1))
        shocked[:, mask] *= (1.0 + moves)[:, None]
        return rebalance_trades(targets, shocked, fund.aum_usd)[:, symbols.index(asset)]


def _growth(inputs: ChannelInput, symbol: str, base: dt.date, day: dt.date, fund: str) -> float:
    closes = closes_through(inputs.frames, symbol)
    require_history(closes, symbol, base, f"the base date of {fund!r},")
    return price_on_or_before(closes, day, symbol) / price_on_or_before(closes, base, symbol)


def _off_calendar_notes(registry: FundRegistry, symbol: str, as_of: dt.date) -> list[str]:
    """Why the annual and calendar-free programs holding `symbol` are not in the figure, e.g.
    "FBAL: annual rebalance in June; no calendar trade this quarter"."""
    notes = []
    for fund in registry.holding(symbol):
        if fund.rebalance in ("monthly", "quarterly"):
            continue
        if fund.since is not None and fund.since > as_of:
            continue
        _, note = trades_this_period(fund, as_of)
        notes.append(note or f"{fund.name}: annual rebalance this quarter, not sized here")
    return notes


def _calendar_funds(registry: FundRegistry, symbol: str) -> tuple[RebalancingFund, ...]:
    """The programs holding `symbol` that trade at month or quarter ends."""
    return tuple(f for f in registry.holding(symbol) if f.rebalance in ("monthly", "quarterly"))


def _drift(fund: RebalancingFund, flow: RebalanceFundFlow, growth: np.ndarray) -> Drift:
    return Drift(
        schedule=fund.rebalance,
        base_date=flow.base_date,
        measured_on=flow.measured_on,
        returns={s: float(g - 1.0) for s, g in zip(fund.weights, growth, strict=True)},
    )


def _next_period_end(fund: RebalancingFund, after: dt.date) -> dt.date | None:
    """The fund's first rebalance date after `after`; None past the end of the calendar."""
    try:
        # A quarter end always falls within the next 95 days.
        ahead = after + dt.timedelta(days=95)
        return period_ends_between(after + dt.timedelta(days=1), ahead, fund.rebalance)[0]
    except InputError:
        return None


def _idle_note(funds: tuple[RebalancingFund, ...], after: dt.date) -> str:
    note = "no fund holding it rebalances inside the window (they trade at month or quarter ends)"
    upcoming = [day for day in (_next_period_end(fund, after) for fund in funds) if day]
    return f"{note}; the next rebalance after it is {min(upcoming)}" if upcoming else note


register_channel(RebalancingChannel())
