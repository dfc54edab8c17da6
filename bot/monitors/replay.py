"""Run the monitors day by day over history with a fresh state: what would the bot have said?"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import pandas as pd

from bot.monitors.evaluate import (
    MONITORS,
    AlertEvent,
    DriftThreshold,
    evaluate_monitors,
)
from flows import freshness
from flows.assets import Asset
from flows.errors import InputError
from flows.funds import FundRegistry
from flows.marketdata import MarketData
from flows.marketdata.liquidity import fetch_liquidity
from flows.status import (
    HISTORY_DAYS,
    AnalyticsConfig,
    resolve_asset,
    source_label,
    status_from_frames,
    symbols_for,
)


async def replay(
    asset_texts: Sequence[str],
    start: dt.date,
    end: dt.date,
    market: MarketData,
    registry: FundRegistry,
    steps: Sequence[int],
    thresholds: Sequence[DriftThreshold] | Mapping[str, Sequence[DriftThreshold]],
    config: AnalyticsConfig | None = None,
    monitors: Sequence[str] = MONITORS,
) -> list[AlertEvent]:
    """Every alert that would have fired between `start` and `end`, in order. `thresholds` is
    one list for every asset or a list per asset as typed (`--watch` text)."""
    if end < start:
        raise InputError(f"--to {end} is before --from {start}")
    config = config or AnalyticsConfig(with_garch=False)
    assets: list[Asset] = []
    per_asset: dict[str, Sequence[DriftThreshold]] = {}
    for text in asset_texts:
        asset = resolve_asset(text, registry)
        if asset not in assets:
            assets.append(asset)
        per_asset[asset.symbol] = (
            thresholds.get(text, []) if isinstance(thresholds, Mapping) else thresholds
        )
    symbols = set().union(*(symbols_for(asset, registry) for asset in assets))
    frames = await market.bars_many(symbols, start - dt.timedelta(days=HISTORY_DAYS), end)
    # The last replayed day must be covered like any as-of: a series that stops early would
    # otherwise price the days after its last bar with an old close.
    freshness.check_fresh(
        {symbol: frame.index[-1].date() for symbol, frame in frames.items()},
        end,
        source=market.source.name,
    )
    for symbol, frame in frames.items():
        first = frame.index[0].date()
        if first > start:
            raise InputError(f"{symbol} data starts {first}; pass --from after {first}")
    for asset in assets:
        frames |= await fetch_liquidity(
            market, asset, start - dt.timedelta(days=HISTORY_DAYS), end, config.spot_exchanges
        )
    label = source_label(market)
    states: dict[str, dict[str, dict]] = {}
    events: list[AlertEvent] = []
    for day in pd.date_range(start, end, freq="D"):
        as_of = day.date()
        for asset in assets:
            report = status_from_frames(
                asset, as_of, frames, registry, label, market.is_sample, config
            )
            fired, states[asset.symbol] = evaluate_monitors(
                report, states.get(asset.symbol, {}), steps, per_asset[asset.symbol], monitors
            )
            events.extend(fired)
    return events
