"""The leveraged-ETF close monitor and the flow-calendar digest / heads-up.

Both decide from data handed in (pure) and return AlertEvents with their chat message prebuilt;
`tick.py` fans them out through the outbox like every other alert.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from bot.messages import Message, MessageField
from bot.monitors.evaluate import AlertEvent
from bot.render.numbers import pct, pct_points, trade, usd
from flows.assets import AssetClass, asset_class_of
from flows.buybacks import KnownReports
from flows.flow_calendar import events_needing_heads_up, weekly_digest
from flows.models.leveraged import letf_alert_check
from flows.results import FlowEvent, LeveragedEstimate

CRYPTO_EVENT_KINDS = ("deribit_expiry", "quarter_end", "month_end")
EQUITY_EVENT_KINDS = (
    "month_end",
    "quarter_end",
    "opex",
    "quad_witching",
    "sp500_rebalance",
    "russell_reconstitution",
    "msci_review",
    "buyback_blackout",
)
DIGEST_WEEKDAY = 0  # Monday


def relevant_kinds(asset: str) -> tuple[str, ...]:
    """Calendar kinds that move `asset`: crypto cares about its expiries and the rebalancing
    dates; everything else about the equity calendar."""
    return CRYPTO_EVENT_KINDS if asset_class_of(asset) is AssetClass.CRYPTO else EQUITY_EVENT_KINDS


def letf_event(
    estimate: LeveragedEstimate, threshold_usd: float, session: dt.date
) -> AlertEvent | None:
    """An alert when the estimated close rebalance is at least `threshold_usd`."""
    if not letf_alert_check(estimate, threshold_usd):
        return None
    text = (
        f"{estimate.underlying}: leveraged/inverse ETFs must "
        f"{trade(estimate.trade_usd, estimate.direction)} "
        f"into the close ({pct(estimate.move, 2, signed=True)} so far, "
        f"{pct_points(estimate.pct_adv)} of ADV)"
    )
    rows = [
        f"{flow.ticker or flow.name:<6} {flow.leverage:+.0f}x  AUM {usd(flow.aum_usd):>8}  "
        f"{trade(flow.trade_usd)}"
        for flow in estimate.funds
    ]
    message = Message(
        title=f"{estimate.underlying} · leveraged-ETF rebalance into the close",
        summary=text,
        fields=[
            MessageField(label="Est. trade", value=trade(estimate.trade_usd, estimate.direction)),
            MessageField(
                label="Move so far",
                value=f"{pct(estimate.move, 2, signed=True)} ({estimate.move_basis})",
            ),
            MessageField(label="% of 20-day ADV", value=pct_points(estimate.pct_adv)),
            MessageField(label="Per 1% move", value=usd(estimate.trade_per_1pct_usd)),
            MessageField(
                label="Why",
                value="Daily-reset leveraged and inverse ETFs must trade A·L·(L−1)·r in the "
                "direction of the move to restore their leverage at the close.",
                inline=False,
            ),
        ],
        body="\n".join(rows),
        footer=f"Basis: {estimate.basis}; data: {estimate.data_source}"
        + (
            " — SAMPLE DATA"
            if estimate.sample and "SAMPLE" not in (estimate.data_source or "")
            else ""
        ),
        tone="buy"
        if estimate.direction == "buy"
        else "sell"
        if estimate.direction == "sell"
        else "neutral",
        sample=estimate.sample,
    )
    return AlertEvent(
        kind="letf",
        asset=estimate.underlying,
        key=f"letf:{estimate.underlying}:{session}",
        as_of=session,
        text=text,
        trade_usd=estimate.trade_usd,
        direction=estimate.direction,
        report=None,
        message=message,
        sample=estimate.sample,
    )


def _event_line(event: FlowEvent) -> str:
    sized = (
        f"  est. {trade(event.trade_usd, event.direction)}" if event.trade_usd is not None else ""
    )
    timing = f" · {event.timing}" if event.timing else ""
    return f"{event.date:%a %b %d}  {event.kind:<22} {event.name}{timing}{sized}"


def calendar_events(
    asset: str, today: dt.date, known_reports: KnownReports | None = None
) -> list[AlertEvent]:
    """Monday's weekly digest and the heads-up the session before each relevant event;
    `known_reports` (earnings dates) dates the buyback-blackout milestones it covers."""
    kinds = relevant_kinds(asset)
    alerts: list[AlertEvent] = []
    if today.weekday() == DIGEST_WEEKDAY:
        week = weekly_digest(today, kinds, known_reports=known_reports)
        iso_year, iso_week, _ = today.isocalendar()
        body = (
            "\n".join(_event_line(event) for event in week) or "no scheduled flow events this week"
        )
        alerts.append(
            _calendar_alert(
                asset,
                today,
                key=f"calendar:digest:{asset}:{iso_year}-W{iso_week:02d}",
                title=f"{asset} · flow calendar, week of {today:%b %d}",
                summary=f"{len(week)} scheduled flow event(s) in the next 7 days.",
                body=body,
            )
        )
    for event in _relevant(events_needing_heads_up(today, kinds, known_reports=known_reports)):
        alerts.append(
            _calendar_alert(
                asset,
                today,
                key=f"calendar:{event.kind}:{event.date}:{asset}",
                title=f"{asset} · tomorrow: {event.name}",
                summary=f"Heads-up: {event.name} on {event.date:%a %b %d}"
                + (f" ({event.timing})" if event.timing else "")
                + ".",
                body=_event_line(event),
                basis=event.basis,
            )
        )
    return alerts


def _relevant(events: Iterable[FlowEvent]) -> list[FlowEvent]:
    return [event for event in events if event.kind != "buyback_blackout" or event.blackout_share]


def _calendar_alert(
    asset: str,
    today: dt.date,
    *,
    key: str,
    title: str,
    summary: str,
    body: str,
    basis: str | None = None,
) -> AlertEvent:
    message = Message(
        title=title,
        summary=summary,
        body=body,
        footer=f"Dates: NYSE sessions from exchange_calendars; {basis}"
        if basis
        else "Dates: NYSE sessions from exchange_calendars",
        tone="info",
    )
    return AlertEvent(
        kind="calendar",
        asset=asset,
        key=key,
        as_of=today,
        text=summary,
        trade_usd=None,
        direction=None,
        report=None,
        message=message,
    )
