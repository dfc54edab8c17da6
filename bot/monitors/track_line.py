"""The one line of track record that ends each quarter-end alert, from the history available on
the alert's day only. The record changes only when a window completes, so the line is computed
once per asset, source and completed quarter (about 25 ms per asset), not on every alert day."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

from flows import calendar
from flows.assets import Asset
from flows.errors import FlowsError
from flows.funds import FundRegistry
from flows.marketdata import MarketData
from flows.status import HISTORY_DAYS, AnalyticsConfig, source_label, symbols_for
from flows.track import (
    benchmark_for,
    estimable_windows,
    record_line,
    track_from_frames,
    tracked_registry,
    windows_between,
)

log = logging.getLogger(__name__)

_CACHE: dict[tuple[str, str, str, dt.date | None, dt.date], str | None] = {}
_CACHE_SIZE = 256


async def quarter_end_record_line(
    asset: Asset,
    as_of: dt.date,
    market: MarketData,
    registry: FundRegistry,
    since: dt.date,
    config: AnalyticsConfig,
) -> str | None:
    """'record for BTC since 2021: 9 of 14 sell/buy calls right, 95 % CI 39–84 %', or None
    when no record can be computed (logged; the alert goes without it)."""
    completed = calendar.period_ends_between(since, as_of, "quarterly") if as_of > since else []
    key = (
        market.source.name,
        registry.source,
        asset.symbol,
        completed[-1] if completed else None,
        since,
    )
    if key in _CACHE:
        return _CACHE[key]
    try:
        line = await _compute(asset, as_of, market, registry, since, config)
    except (FlowsError, KeyError, ValueError) as exc:
        log.warning("track record line for %s on %s: %s", asset.symbol, as_of, exc)
        line = None
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.clear()
    _CACHE[key] = line
    return line


async def _compute(
    asset: Asset,
    as_of: dt.date,
    market: MarketData,
    registry: FundRegistry,
    since: dt.date,
    config: AnalyticsConfig,
) -> str | None:
    if as_of <= since:
        return None
    tracked = tracked_registry(registry, asset.symbol, monthly=False)
    symbols = symbols_for(asset, tracked) | {benchmark_for(asset.symbol)}
    frames = await market.bars_many(symbols, since - dt.timedelta(days=HISTORY_DAYS), as_of)
    windows = estimable_windows(windows_between(since, as_of), frames)
    if not windows:
        return None
    record = track_from_frames(
        asset,
        windows,
        frames,
        tracked,
        source_label(market),
        market.is_sample,
        config,
        known_through=as_of,
    )
    return record_line(record, record.windows[0].window_end if record.windows else since)


async def warm_record_lines(
    assets: list[Asset],
    as_of: dt.date,
    market: MarketData,
    registry: FundRegistry,
    since: dt.date,
    config: AnalyticsConfig,
) -> None:
    """Compute (and cache) the record line of each asset ahead of its countdown alerts, so the
    tick that posts them does not pay for it. Run by the bot after each daily tick, in the
    background; one asset at a time, yielding to the loop in between."""
    for asset in assets:
        await quarter_end_record_line(asset, as_of, market, registry, since, config)
        await asyncio.sleep(0)
