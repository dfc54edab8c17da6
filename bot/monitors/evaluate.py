"""What fires, given one asset's status today and what the monitors saw before. Pure.

State is a plain dict per (monitor, asset) so it can be stored as JSON:
- quarter_end: {"quarter": "2026Q4", "fired": [9, 4]}
- drift: {"period": "2026Q4", "levels": {"usd:1e+08": -2}, "seq": {"usd:1e+08": 3},
  "fired": {"usd:1e+08": 2}} (the highest step announced this period)

When alerts may fire (docs/trust.md): month/quarter-end countdowns and drift alerts are about
funds that trade at the NYSE close, so they fire on NYSE sessions only, for crypto too (a weekend
move is announced on the next session, when the funds can act on it). A volatility-regime
change fires on a session of the asset's own market: every day for crypto, NYSE sessions for
the rest.
- vol_regime: {"regime": "elevated"}
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from bot.messages import Message
from flows import calendar
from flows.assets import is_crypto
from flows.results import Direction, StatusReport

AlertKind = Literal[
    "quarter_end",
    "drift",
    "vol_regime",
    "letf",
    "calendar",
    "positioning",
    "etf_flows",
    "gamma",
    "net_flow",
]
SUBSCRIPTION_KIND = {
    "quarter_end": "quarter_end",
    "drift": "drift",
    "vol_regime": "vol",
    "letf": "letf",
    "calendar": "calendar",
    "positioning": "positioning",
    "etf_flows": "etf_flows",
    "gamma": "gamma",
    "net_flow": "net_flow",
}
DRIFT_HYSTERESIS = 0.1
MAX_DRIFT_LEVEL = 30


@dataclass(frozen=True, slots=True)
class DriftThreshold:
    """A drift alert threshold in USD or in % of average daily volume; `id` keys the state."""

    usd: float | None = None
    pct_adv: float | None = None

    @property
    def id(self) -> str:
        return f"usd:{self.usd:.6g}" if self.usd is not None else f"adv:{self.pct_adv:.6g}"

    def magnitude(self, report: StatusReport) -> float | None:
        """|trade| in this threshold's unit; None when it cannot be measured (no volume, or
        no program holds the asset)."""
        if report.rebalance.trade_usd is None:
            return None
        if self.usd is not None:
            return abs(report.rebalance.trade_usd)
        return report.rebalance.pct_adv

    @property
    def step(self) -> float:
        return self.usd if self.usd is not None else float(self.pct_adv or 0.0)


@dataclass(frozen=True)
class AlertEvent:
    kind: AlertKind
    asset: str
    key: str
    as_of: dt.date
    text: str
    trade_usd: float | None
    direction: Direction | None
    report: StatusReport | None
    threshold_id: str | None = None
    detail: dict = field(default_factory=dict)
    message: Message | None = None
    """Prebuilt chat message (events without a status report: letf, calendar)."""
    sample: bool = False

    @property
    def subscription_kind(self) -> str:
        return SUBSCRIPTION_KIND[self.kind]


def _trade(amount: float | None, direction: str | None) -> str:
    from bot.render.numbers import trade

    return trade(amount, direction)


def evaluate_quarter_end(
    report: StatusReport, state: dict | None, steps: Sequence[int]
) -> tuple[list[AlertEvent], dict]:
    """Countdown at each configured `sessions_left` step; a missed step posts once, late."""
    quarter = report.quarter_end
    fired = (
        set(state.get("fired", [])) if state and state.get("quarter") == quarter.quarter else set()
    )
    due = [step for step in sorted(steps) if step >= quarter.sessions_left and step not in fired]
    new_state = {"quarter": quarter.quarter, "fired": sorted(fired | set(due))}
    if not due:
        return [], new_state
    # Several steps missed while the bot was down coalesce into one post: the nearest step.
    step = due[0]
    rebalance = report.rebalance
    text = (
        f"{report.asset}: {quarter.sessions_left} session(s) to the {quarter.quarter} quarter end "
        f"({quarter.last_session}); est. rebalancing "
        f"{_trade(rebalance.trade_usd, rebalance.direction)}"
    )
    event = AlertEvent(
        kind="quarter_end",
        asset=report.asset,
        key=f"quarter_end:{report.asset}:{quarter.quarter}:{step}",
        as_of=report.as_of,
        text=text,
        trade_usd=rebalance.trade_usd,
        direction=rebalance.direction,
        report=report,
        detail={"step": step, "sessions_left": quarter.sessions_left},
    )
    return [event], new_state


def _line(level: int, threshold: float) -> float:
    """The value at which `level` starts: 1x, 2x, 4x, 8x ... the threshold."""
    return threshold * 2 ** (level - 1)


def _level(magnitude: float, threshold: float, previous: int) -> int:
    """How many doubling steps of the threshold the trade has crossed (0 = under it), with
    hysteresis so that a value hovering at a line does not flap."""
    if threshold <= 0 or magnitude < threshold * (1 - DRIFT_HYSTERESIS):
        return 0
    raw = 0 if magnitude < threshold else 1 + math.floor(math.log2(magnitude / threshold))
    raw = min(raw, MAX_DRIFT_LEVEL)
    if raw >= previous:
        return raw
    # Falling: drop a level only once clearly below the line that level started at.
    level = previous
    while level > raw and magnitude < _line(level, threshold) * (1 - DRIFT_HYSTERESIS):
        level -= 1
    return level


def evaluate_drift(
    report: StatusReport, state: dict | None, thresholds: Iterable[DriftThreshold]
) -> tuple[list[AlertEvent], dict]:
    """One alert when the trade crosses a step (the threshold, then 2x, 4x ...) that is higher
    than any step already fired for the period; a smaller figure at a step already announced,
    or a fall back under the threshold, is not news and posts nothing."""
    period = report.quarter_end.quarter
    if not state or state.get("period") != period:
        state = {"period": period, "levels": {}, "seq": {}, "fired": {}}
    levels, seqs = dict(state["levels"]), dict(state["seq"])
    fired = dict(state.get("fired", {}))
    rebalance = report.rebalance
    sign = 1 if (rebalance.trade_usd or 0.0) > 0 else -1
    events = []
    for threshold in thresholds:
        magnitude = threshold.magnitude(report)
        if magnitude is None:
            continue
        previous = int(levels.get(threshold.id, 0))
        same_side = previous == 0 or (previous > 0) == (sign > 0)
        level = sign * _level(magnitude, threshold.step, abs(previous) if same_side else 0)
        levels[threshold.id] = level
        highest = int(fired.get(threshold.id, 0))
        if abs(level) <= highest:
            continue
        fired[threshold.id] = abs(level)
        seqs[threshold.id] = int(seqs.get(threshold.id, 0)) + 1
        what = "crossed" if abs(level) == 1 else f"grew past {2 ** (abs(level) - 1)}x"
        events.append(
            AlertEvent(
                kind="drift",
                asset=report.asset,
                key=f"drift:{report.asset}:{period}:{threshold.id}:{seqs[threshold.id]}",
                as_of=report.as_of,
                text=(
                    f"{report.asset}: estimated rebalancing trade {what} the "
                    f"{_threshold_text(threshold)} threshold: "
                    f"{_trade(rebalance.trade_usd, rebalance.direction)}"
                ),
                trade_usd=rebalance.trade_usd,
                direction=rebalance.direction,
                report=report,
                threshold_id=threshold.id,
                detail={"level": level, "previous_level": previous, "change": what},
            )
        )
    return events, {"period": period, "levels": levels, "seq": seqs, "fired": fired}


def _threshold_text(threshold: DriftThreshold) -> str:
    if threshold.usd is not None:
        from bot.render.numbers import usd

        return usd(threshold.usd)
    return f"{threshold.pct_adv:g}% of ADV"


def evaluate_vol_regime(report: StatusReport, state: dict | None) -> tuple[list[AlertEvent], dict]:
    """An alert when the (hysteresis-smoothed) regime differs from the last one seen."""
    vol = report.volatility
    if vol.regime is None:
        return [], state or {}
    new_state = {"regime": vol.regime}
    previous = state.get("regime") if state else None
    if previous is None or previous == vol.regime:
        return [], new_state
    trade = vol.vol_target_trade_usd
    direction: Direction | None = None
    if trade is not None:
        direction = "buy" if trade > 0 else "sell" if trade < 0 else "neutral"
    realized = f"{vol.realized:.0%}" if vol.realized is not None else "unknown"
    event = AlertEvent(
        kind="vol_regime",
        asset=report.asset,
        key=f"vol_regime:{report.asset}:{report.as_of}:{vol.regime}",
        as_of=report.as_of,
        text=(
            f"{report.asset}: volatility regime {previous} → {vol.regime} "
            f"(20d realized {realized})"
            + (f"; vol-target funds {_trade(trade, direction)}" if trade else "")
        ),
        trade_usd=trade,
        direction=direction,
        report=report,
        detail={"previous_regime": previous, "regime": vol.regime},
    )
    return [event], new_state


MONITORS = ("quarter_end", "drift", "vol_regime")


def is_alert_day(kind: str, asset: str, day: dt.date) -> bool:
    """Whether monitor `kind` on `asset` may fire on `day` (see the module docstring)."""
    if kind == "vol_regime" and is_crypto(asset):
        return True
    return calendar.is_session(day)


def evaluate_monitors(
    report: StatusReport,
    states: dict[str, dict | None],
    steps: Sequence[int],
    thresholds: Iterable[DriftThreshold],
    monitors: Sequence[str] = MONITORS,
) -> tuple[list[AlertEvent], dict[str, dict]]:
    """Every monitor on one asset's status: the events fired and each monitor's new state
    (keyed by monitor kind). Shared by the live tick and the replay so both decide alike."""
    events: list[AlertEvent] = []
    new_states: dict[str, dict] = {}
    for kind in monitors:
        state = states.get(kind)
        if not is_alert_day(kind, report.asset, report.as_of):
            # Nothing is evaluated on a day the monitor's market is closed: state unchanged.
            if state is not None:
                new_states[kind] = state
            continue
        if kind == "quarter_end":
            fired, new_states[kind] = evaluate_quarter_end(report, state, steps)
        elif kind == "drift":
            fired, new_states[kind] = evaluate_drift(report, state, thresholds)
        else:
            fired, new_states[kind] = evaluate_vol_regime(report, state)
        events.extend(fired)
    return events, new_states
