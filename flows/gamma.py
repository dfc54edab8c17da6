"""Dealer gamma for one asset: fetch its option chain and spot, then run `flows.models.gamma`.

Spot is the asset's close on the chain's day (the last bar on or before it) unless given.
"""

from __future__ import annotations

import datetime as dt

from flows import freshness
from flows.assets import get_asset
from flows.errors import MarketDataError
from flows.marketdata import MarketData
from flows.models.gamma import (
    DEFAULT_RATE,
    GammaResult,
    compute_gamma,
    validate_rate,
    validate_spot,
)
from flows.options.chain import ChainSource
from flows.status import source_label

SPOT_MAX_STALENESS_DAYS = 5
"""A close older than this before the chain's day is not the chain's spot."""


async def close_on_or_before(
    market: MarketData, symbol: str, day: dt.date
) -> tuple[float, dt.date]:
    """The asset's close on `day`, or on the last bar before it (weekends, holidays)."""
    bars = await market.bars(symbol, day - dt.timedelta(days=14), day)
    last = bars.index[-1].date()
    if (day - last).days > SPOT_MAX_STALENESS_DAYS:
        raise MarketDataError(symbol, market.source.name, f"no close near {day} (last bar {last})")
    return float(bars["close"].iloc[-1]), last


async def build_gamma(
    asset_text: str,
    market: MarketData,
    chains: ChainSource,
    as_of: dt.date | None = None,
    spot: float | None = None,
    rate: float = DEFAULT_RATE,
) -> GammaResult:
    """GEX, zero gamma, walls and hedge flows of `asset_text` from `chains` (option data) and
    `market` (its close as spot, unless `spot` is given)."""
    asset = get_asset(asset_text)
    validate_rate(rate)
    if spot is not None:
        validate_spot(spot)
    freshness.check_not_future(as_of)
    chain = await chains.chain(asset.symbol, as_of)
    if spot is None:
        spot, day = await close_on_or_before(market, asset.symbol, chain.as_of)
        basis = f"close {day}, {source_label(market)}"
    else:
        basis = "given with --spot"
    return compute_gamma(chain, spot, rate, spot_basis=basis)
