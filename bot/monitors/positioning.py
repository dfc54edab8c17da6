"""The `positioning` and `etf_flows` monitors.

- `positioning`: the latest day is `short_covering` or `long_liquidation` and its forced flow
  is at least POSITIONING_THRESHOLD_USD. Key `positioning:ASSET:DATE:CLASSIFICATION`.
- `etf_flows`: the day's ETF flow reaches ETF_FLOW_THRESHOLD_USD (`…:DATE:day`), the trailing
  5-session flow reaches ETF_FLOW_5D_THRESHOLD_USD (`…:DATE:5d`), or the 5-session flow changes
  sign against the last one seen (`…:DATE:reversal`; state `{"sign": ±1, "date": …}`).

`positioning_events` decides from a report and the stored state (pure); `run_positioning_tick`
fetches, decides and writes through the outbox like every other monitor.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path
from typing import Any

from bot.messages import Message, MessageField
from bot.monitors.evaluate import AlertEvent
from bot.render.drawing import chart_file, draw_chart
from bot.render.numbers import trade, usd
from flows.errors import FlowsError
from flows.models.positioning import PositioningReport
from flows.positioning import covered_assets

KINDS = ("positioning", "etf_flows")
MONITOR_DAYS = 5


def _message(report: PositioningReport, title: str, summary: str, chart: Any, tone: str) -> Message:
    """`/flows positioning`'s message (table, basis, chart) under the alert's own headline."""
    from bot.render.messages import positioning_message

    field = MessageField(label="ETF flows, 5 sessions", value=usd(report.etf_flow_5d_usd, True))
    return positioning_message(report, chart).model_copy(
        update={"title": title, "summary": summary, "fields": [field], "tone": tone}
    )


def _event(kind: str, report: PositioningReport, key: str, text: str, usd_value, message):
    return AlertEvent(
        kind=kind,  # type: ignore[arg-type]
        asset=report.asset,
        key=key,
        as_of=report.as_of,
        text=text,
        trade_usd=usd_value,
        direction=None if usd_value is None else "buy" if usd_value > 0 else "sell",
        report=None,
        message=message,
        sample=report.sample,
    )


def positioning_events(
    report: PositioningReport,
    state: dict | None,
    *,
    forced_threshold_usd: float,
    day_threshold_usd: float,
    five_day_threshold_usd: float,
    chart: Any = None,
) -> tuple[list[AlertEvent], dict | None]:
    day = report.latest
    asset, date = report.asset, day.date
    events: list[AlertEvent] = []
    forced = day.forced_flow_usd
    if (
        day.classification in ("short_covering", "long_liquidation")
        and forced is not None
        and abs(forced) >= forced_threshold_usd
    ):
        what = "short covering" if day.classification == "short_covering" else "long liquidation"
        text = (
            f"{asset} {date}: {what} — price {day.price_change_pct:+.2f}%, open interest "
            f"{usd(day.oi_change_usd, True)}: forced {trade(forced)}"
        )
        events.append(
            _event(
                "positioning",
                report,
                f"positioning:{asset}:{date}:{day.classification}",
                text,
                forced,
                _message(report, f"{asset} · {what}", text, chart, "buy" if forced > 0 else "sell"),
            )
        )
    flow, five = day.etf_flow_usd, report.etf_flow_5d_usd
    if flow is not None and abs(flow) >= day_threshold_usd:
        text = f"{asset} ETFs {date}: net {'inflow' if flow > 0 else 'outflow'} {usd(abs(flow))}"
        events.append(
            _event(
                "etf_flows",
                report,
                f"etf_flows:{asset}:{date}:day",
                text,
                flow,
                _message(
                    report, f"{asset} · ETF flows", text, chart, "buy" if flow > 0 else "sell"
                ),
            )
        )
    if five is not None and abs(five) >= five_day_threshold_usd:
        text = f"{asset} ETFs, 5 sessions to {date}: net {usd(five, True)}"
        events.append(
            _event(
                "etf_flows",
                report,
                f"etf_flows:{asset}:{date}:5d",
                text,
                five,
                _message(report, f"{asset} · ETF flows, 5 sessions", text, chart, "info"),
            )
        )
    new_state = state
    if five is not None and five != 0:
        sign = 1 if five > 0 else -1
        if state and state.get("sign") and state["sign"] != sign:
            text = (
                f"{asset} ETF flows reversed to net {'inflows' if sign > 0 else 'outflows'}: "
                f"{usd(five, True)} over the 5 sessions to {date}"
            )
            events.append(
                _event(
                    "etf_flows",
                    report,
                    f"etf_flows:{asset}:{date}:reversal",
                    text,
                    five,
                    _message(report, f"{asset} · ETF flows reversed", text, chart, "warning"),
                )
            )
        new_state = {"sign": sign, "date": date.isoformat()}
    return events, new_state


def _with_chart(event: AlertEvent, chart: Path | None) -> AlertEvent:
    if event.message is None or chart is None:
        return event
    return replace(event, message=event.message.model_copy(update={"chart_path": chart}))


async def run_positioning_tick(store, market, settings, as_of: dt.date, result) -> None:
    """Evaluate every asset subscribed to `positioning` or `etf_flows`; adds to `result`."""
    from bot.monitors.tick import _new_alert, _record
    from bot.positioning_cache import positioning_config, positioning_for_market
    from bot.render.positioning_chart import positioning_chart
    from flows.models.positioning import build_positioning

    by_kind = await store.active_subscriptions_by_kind(await store.watched_assets())
    subscriptions = {
        asset: watchers
        for asset, watchers in by_kind.items()
        if asset in covered_assets() and any(watchers.get(kind) for kind in KINDS)
    }
    if not subscriptions:
        return
    states = await store.get_states("etf_flows", subscriptions)
    positioning = positioning_for_market(market, settings, store)
    thresholds = {
        "forced_threshold_usd": settings.positioning_threshold_usd,
        "day_threshold_usd": settings.etf_flow_threshold_usd,
        "five_day_threshold_usd": settings.etf_flow_5d_threshold_usd,
    }
    new_alerts, new_states = [], {}
    try:
        for asset, subs in sorted(subscriptions.items()):
            try:
                report = await build_positioning(
                    asset, market, positioning, as_of, MONITOR_DAYS, positioning_config(settings)
                )
            except FlowsError as exc:
                result.errors[asset] = str(exc)
                continue
            events, state = positioning_events(report, states.get(asset), **thresholds)
            # A chart only for what is new: most ticks fire nothing, and a repeated tick
            # finds its alerts stored already.
            if any([await store.get_alert(event.key) is None for event in events]):
                path = chart_file(settings.chart_dir, "positioning", report)
                chart = await draw_chart(
                    positioning_chart, report, path, what=f"positioning {asset}"
                )
                events = [_with_chart(event, chart) for event in events]
            if state is not None and state != states.get(asset):
                new_states[("etf_flows", asset)] = state
            for event in events:
                alert = await _new_alert(event, subs, settings, {}, None, charts=False)
                if alert is not None:
                    new_alerts.append(alert)
                    result.alerts.append(event)
    finally:
        await positioning.close()
    await _record(store, new_alerts, new_states, result)
