"""The daily net mechanical-flow digest (alert kind `net_flow`): after the daily tick, the `why`
ledger of each asset watched with `net_flow`, posted when the net mechanical flow reaches
`NET_FLOW_THRESHOLD_USD` or the verdict is `mechanical`. One alert per asset and day (the dedupe
key carries the date), through the same outbox as every other alert."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from bot.monitors.evaluate import AlertEvent
from bot.render.drawing import chart_file, draw_chart
from bot.render.why import verdict_sentence, why_chart, why_message
from bot.settings import Settings
from flows.errors import FlowsError
from flows.funds import FundRegistry
from flows.models.ledger import Ledger
from flows.results import StatusReport


def evaluate_net_flow(ledger: Ledger, threshold_usd: float) -> tuple[str, str] | None:
    """(dedupe key, title) when the day's ledger is news, else None."""
    net = ledger.net_mechanical_usd
    large = net is not None and abs(net) >= threshold_usd
    if not (large or ledger.verdict == "mechanical"):
        return None
    why = "mostly mechanical" if ledger.verdict == "mechanical" else "large net mechanical flow"
    return f"net_flow:{ledger.asset}:{ledger.as_of}", f"{ledger.asset} · {why} today"


async def net_flow_alerts(
    store,
    market,
    registry: FundRegistry,
    assets: Sequence[str],
    settings: Settings,
    as_of: dt.date,
    charts: bool = True,
    reports: Mapping[str, StatusReport] | None = None,
) -> tuple[list[AlertEvent], dict[str, str]]:
    """Events and errors (by asset) for the assets watched for `net_flow`. `reports`: statuses
    already computed for `as_of` (the tick's), reused rather than built again."""
    from bot.flow_sources import flow_sources, ledger_for

    events: list[AlertEvent] = []
    errors: dict[str, str] = {}
    async with flow_sources(market, settings, store) as sources:
        for asset in assets:
            try:
                ledger = await ledger_for(
                    asset,
                    market,
                    registry,
                    settings,
                    sources,
                    as_of=as_of,
                    status=(reports or {}).get(asset),
                    with_garch=False,
                )
            except FlowsError as exc:
                errors[asset] = str(exc)
                continue
            fired = evaluate_net_flow(ledger, settings.net_flow_threshold_usd)
            if fired is None:
                continue
            key, title = fired
            if await store.get_alert(key) is not None:
                continue  # posted already (a repeated or restarted tick): no second chart
            chart = None
            if charts:
                path = chart_file(settings.chart_dir, "why", ledger)
                chart = await draw_chart(why_chart, ledger, path, what=f"why {asset}")
            message = why_message(ledger, chart).model_copy(update={"title": title})
            events.append(
                AlertEvent(
                    kind="net_flow",
                    asset=asset,
                    key=key,
                    as_of=ledger.as_of,
                    text=verdict_sentence(ledger),
                    trade_usd=ledger.net_mechanical_usd,
                    direction=None,
                    report=None,
                    message=message,
                    sample=ledger.sample,
                )
            )
    return events, errors
