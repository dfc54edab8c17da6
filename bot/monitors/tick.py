"""One monitor tick: fetch each needed symbol once, evaluate each watched asset once, then write
every new alert with its deliveries (and the monitor state that says it fired) in one
transaction. Nothing is sent here; the dispatcher drains the outbox."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bot.monitors.evaluate import (
    MONITORS,
    AlertEvent,
    DriftThreshold,
    evaluate_monitors,
)
from bot.monitors.flow_events import calendar_events, letf_event
from bot.monitors.thresholds import default_drift_usd
from bot.monitors.track_line import quarter_end_record_line
from bot.monitors.track_live import record_live_calls
from bot.render.messages import alert_message
from bot.settings import Settings
from flows import calendar, freshness
from flows.errors import FlowsError
from flows.funds import FundRegistry
from flows.marketdata import MarketData
from flows.marketdata.liquidity import fetch_liquidity
from flows.results import StatusReport
from flows.status import (
    HISTORY_DAYS,
    AnalyticsConfig,
    resolve_asset,
    source_label,
    status_from_frames,
    symbols_for,
)
from storage.store import NewAlert

log = logging.getLogger(__name__)


@dataclass
class TickResult:
    as_of: dt.date
    assets: int = 0
    alerts: list[AlertEvent] = field(default_factory=list)
    new_alerts: int = 0
    deliveries: int = 0
    errors: dict[str, str] = field(default_factory=dict)


def subscription_threshold(subscription, settings: Settings) -> DriftThreshold:
    if subscription.threshold_usd:
        return DriftThreshold(usd=subscription.threshold_usd)
    if subscription.threshold_pct_adv:
        return DriftThreshold(pct_adv=subscription.threshold_pct_adv)
    return default_threshold(settings, subscription.asset)


def default_threshold(settings: Settings, asset: str) -> DriftThreshold:
    """The drift threshold of subscriptions that set none: the configured USD or % of the
    liquidity yardstick when set, else the per-asset default chosen from the data."""
    if settings.drift_threshold_usd:
        return DriftThreshold(usd=settings.drift_threshold_usd)
    if settings.drift_threshold_pct_adv:
        return DriftThreshold(pct_adv=settings.drift_threshold_pct_adv)
    return DriftThreshold(usd=default_drift_usd(asset))


Watchers = Mapping[str, Sequence]
"""One asset's active subscriptions by alert kind (`Store.active_subscriptions_by_kind`)."""


def _audience(event: AlertEvent, watchers: Watchers, settings: Settings) -> list[int]:
    subscriptions = watchers.get(event.subscription_kind, ())
    if event.subscription_kind != "drift":
        return [subscription.id for subscription in subscriptions]
    return [
        subscription.id
        for subscription in subscriptions
        if subscription_threshold(subscription, settings).id == event.threshold_id
    ]


async def run_tick(
    store,
    market: MarketData,
    registry: FundRegistry,
    settings: Settings,
    as_of: dt.date | None = None,
    config: AnalyticsConfig | None = None,
    charts: bool = True,
) -> TickResult:
    today = freshness.today_utc()
    as_of = as_of or today
    config = config or settings.analytics_config(with_garch=False)
    result = TickResult(as_of=as_of)
    by_asset = await store.active_subscriptions_by_kind(await store.watched_assets())
    by_asset = {asset: watchers for asset, watchers in by_asset.items() if watchers}
    if not by_asset:
        return result
    assets = {}
    for symbol in by_asset:
        try:
            assets[symbol] = resolve_asset(symbol, registry)
        except FlowsError as exc:
            result.errors[symbol] = str(exc)
    symbols = sorted(set().union(*(symbols_for(asset, registry) for asset in assets.values())))
    start = as_of - dt.timedelta(days=HISTORY_DAYS)
    fetched = await asyncio.gather(
        *(market.bars(symbol, start, as_of) for symbol in symbols), return_exceptions=True
    )
    frames = {}
    for symbol, frame in zip(symbols, fetched, strict=True):
        if isinstance(frame, BaseException):
            result.errors[symbol] = str(frame)
        elif freshness.is_stale(symbol, last := frame.index[-1].date(), as_of, today):
            result.errors[symbol] = freshness.stale_line(symbol, last, as_of, market.source.name)
        else:
            frames[symbol] = frame

    # The liquidity yardstick each % threshold and % of liquidity is measured against.
    for liquidity in await asyncio.gather(
        *(
            fetch_liquidity(market, asset, start, as_of, config.spot_exchanges)
            for asset in assets.values()
        )
    ):
        frames |= liquidity
    kinds_states = {kind: await store.get_states(kind, assets) for kind in MONITORS}
    known_reports = None
    if _watching(by_asset, "calendar"):
        from bot.reference import tick_known_reports

        known_reports = await tick_known_reports(store, market.source)
    label = source_label(market)
    new_alerts: list[NewAlert] = []
    new_states: dict[tuple[str, str], dict] = {}
    reports: dict[str, StatusReport] = {}
    for symbol, asset in assets.items():
        needed = symbols_for(asset, registry)
        missing = sorted(needed - frames.keys())
        if missing:
            result.errors.setdefault(symbol, f"no usable data for {', '.join(missing)}")
            continue
        try:
            report = status_from_frames(
                asset, as_of, frames, registry, label, market.is_sample, config
            )
        except FlowsError as exc:
            result.errors[symbol] = str(exc)
            continue
        result.assets += 1
        reports[symbol] = report
        watchers = by_asset[symbol]
        thresholds = {subscription_threshold(s, settings) for s in watchers.get("drift", ())}
        states = {kind: kinds_states[kind].get(symbol) for kind in MONITORS}
        events, evaluated = evaluate_monitors(
            report, states, settings.countdown_steps, sorted(thresholds, key=lambda t: t.id)
        )
        for kind, new_state in evaluated.items():
            if new_state != states[kind]:
                new_states[(kind, symbol)] = new_state
        if watchers.get("calendar"):
            events.extend(calendar_events(symbol, as_of, known_reports))
        line = None
        if any(event.kind == "quarter_end" for event in events):
            line = await quarter_end_record_line(
                asset, as_of, market, registry, settings.track_since, config
            )
        for event in events:
            alert = await _new_alert(
                event, watchers, settings, frames, registry, charts, record_line=line
            )
            if alert is not None:
                new_alerts.append(alert)
                result.alerts.append(event)
    await _gamma(store, market, by_asset, settings, as_of, charts, new_alerts, new_states, result)
    await _net_flow(
        store, market, registry, by_asset, settings, as_of, charts, new_alerts, result, reports
    )
    recorded = await _record(store, new_alerts, new_states, result)
    await record_live_calls(store, result.alerts, recorded, label)
    for symbol, error in result.errors.items():
        log.warning("tick %s: %s skipped: %s", as_of, symbol, error)
    return result


async def _gamma(
    store, market, by_asset, settings, as_of, charts, new_alerts, new_states, result
) -> None:
    """The dealer-gamma monitor for assets someone watches with kind `gamma`."""
    watched = _watching(by_asset, "gamma")
    if not watched:
        return
    from bot.monitors.gamma import gamma_alerts

    states = await store.get_states("gamma", watched)
    events, evaluated, errors = await gamma_alerts(
        store, market, watched, states, settings, as_of, charts
    )
    for asset, error in errors.items():
        result.errors[f"{asset} gamma"] = error
    for asset, state in evaluated.items():
        if state != states.get(asset):
            new_states[("gamma", asset)] = state
    await _queue(events, by_asset, settings, charts, new_alerts, result)


def _watching(by_asset: Mapping[str, Watchers], kind: str) -> list[str]:
    """The assets some active subscription watches for alert kind `kind`."""
    return sorted(asset for asset, watchers in by_asset.items() if watchers.get(kind))


async def _queue(events, by_asset, settings, charts, new_alerts, result) -> None:
    """Events with a prebuilt message (gamma, net_flow) as alerts to their subscribers."""
    for event in events:
        alert = await _new_alert(event, by_asset[event.asset], settings, {}, None, charts)
        if alert is not None:
            new_alerts.append(alert)
            result.alerts.append(event)


async def _net_flow(
    store, market, registry, by_asset, settings, as_of, charts, new_alerts, result, reports
) -> None:
    """The daily net mechanical-flow digest for assets someone watches with kind `net_flow`;
    `reports`: the statuses this tick computed, which the ledgers reuse."""
    watched = _watching(by_asset, "net_flow")
    if not watched:
        return
    from bot.monitors.net_flow import net_flow_alerts

    events, errors = await net_flow_alerts(
        store, market, registry, watched, settings, as_of, charts, reports=reports
    )
    for asset, error in errors.items():
        result.errors[f"{asset} net_flow"] = error
    await _queue(events, by_asset, settings, charts, new_alerts, result)


async def _new_alert(
    event: AlertEvent,
    watchers: Watchers,
    settings: Settings,
    frames,
    registry,
    charts: bool,
    record_line: str | None = None,
) -> NewAlert | None:
    audience = _audience(event, watchers, settings)
    if not audience:
        return None
    chart = None
    message = event.message
    if message is None:
        chart = await _chart_for(event, frames, registry, settings.chart_dir) if charts else None
        line = record_line if event.kind == "quarter_end" else None
        message = alert_message(event, chart, record_line=line)
    return NewAlert(
        dedupe_key=event.key,
        kind=event.kind,
        asset=event.asset,
        as_of=event.as_of,
        title=message.title,
        summary=message.summary,
        content=message.to_storage(),
        subscription_ids=audience,
        chart_path=str(chart) if chart else None,
        trade_usd=event.trade_usd,
        direction=event.direction,
    )


async def _record(store, new_alerts: list[NewAlert], new_states: dict, result: TickResult) -> list:
    recorded = await store.record_alerts(new_alerts, monitor_states=new_states)
    result.new_alerts += sum(1 for _, created in recorded if created)
    result.deliveries += sum(
        len(alert.subscription_ids)
        for alert, (_, created) in zip(new_alerts, recorded, strict=True)
        if created
    )
    return recorded


async def run_letf_tick(
    store,
    market: MarketData,
    registry: FundRegistry,
    settings: Settings,
    session: dt.date,
) -> TickResult:
    """Shortly before the close: the leveraged-ETF rebalance implied by the move so far."""
    from flows.models.leveraged import adv_series, estimate_letf, funds_on

    result = TickResult(as_of=session)
    by_asset = await store.active_subscriptions_by_asset(await store.watched_assets(), kind="letf")
    new_alerts: list[NewAlert] = []
    for symbol, subscriptions in sorted(by_asset.items()):
        if not subscriptions or not funds_on(symbol, registry):
            continue
        try:
            bars = await market.bars(symbol, session - dt.timedelta(days=120), session)
        except FlowsError as exc:
            result.errors[symbol] = str(exc)
            continue
        # The funds reset at the NYSE close: crypto's weekend bars are not a close of theirs.
        previous = bars.loc[: pd.Timestamp(calendar.previous_session(session))]
        if previous.empty:
            result.errors[symbol] = f"no close before {session}"
            continue
        latest = await _latest_price(market, symbol)
        basis = "last trade vs previous close"
        if latest is None and pd.Timestamp(session) in bars.index:
            latest, basis = float(bars.loc[pd.Timestamp(session), "close"]), "session close"
        if latest is None:
            result.errors[symbol] = f"no price for {session} yet"
            continue
        move = latest / float(previous["close"].iloc[-1]) - 1.0
        adv = adv_series(previous).iloc[-1] if len(previous) >= 20 else None
        estimate = estimate_letf(
            symbol,
            move,
            registry,
            None if adv is None or pd.isna(adv) else float(adv),
            as_of=session,
            move_basis=basis,
            data_source=source_label(market),
            sample=market.is_sample,
        )
        result.assets += 1
        event = letf_event(estimate, settings.letf_threshold_usd, session)
        if event is not None:
            watchers = {"letf": subscriptions}
            alert = await _new_alert(event, watchers, settings, {}, registry, charts=False)
            if alert is not None:
                new_alerts.append(alert)
                result.alerts.append(event)
    await _record(store, new_alerts, {}, result)
    return result


async def _latest_price(market: MarketData, symbol: str) -> float | None:
    latest = getattr(market.source, "latest_price", None)
    return await latest(symbol) if latest is not None else None


async def _chart_for(
    event: AlertEvent, frames, registry: FundRegistry, chart_dir: Path
) -> Path | None:
    from bot.render.charts import headline_chart, vol_chart
    from flows.assets import get_asset
    from flows.volatility import DEFAULT_BANDS

    report = event.report
    safe_key = event.key.replace(":", "_").replace("/", "_")
    path = chart_dir / f"{safe_key}.png"
    try:
        if event.kind == "vol_regime":
            asset = get_asset(report.asset, registry.symbols)
            bands = DEFAULT_BANDS[asset.asset_class]
            closes = frames[report.asset]["adj_close"]
            return await asyncio.to_thread(
                vol_chart,
                report.asset,
                closes,
                asset.annualization_days,
                bands,
                report.as_of,
                path,
                report.sample,
            )
        funds = registry.holding(report.asset)
        if report.rebalance.trade_usd is None or not funds:
            return None  # nothing sized: no headline to chart
        symbols = set().union(*(fund.weights for fund in funds))
        closes = {symbol: frames[symbol]["adj_close"] for symbol in symbols}
        return await asyncio.to_thread(headline_chart, report, funds, closes, path)
    except Exception:
        log.exception("chart for %s failed; the alert goes without it", event.key)
        return None
