"""One asset's full picture on one day: quarter-end timing, rebalancing trade, volatility."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from flows import calendar, freshness
from flows.assets import Asset, AssetClass, get_asset
from flows.errors import InputError
from flows.funds import FundRegistry
from flows.liquidity import DEFAULT_SPOT_EXCHANGES, yardstick
from flows.marketdata import MarketData
from flows.marketdata.liquidity import fetch_liquidity
from flows.models import rebalance as rebalance_model
from flows.models import vol_target as vol_target_model
from flows.models.leveraged import estimate_letf, latest_reset_day, reset_move
from flows.rebalance import (
    WHAT_IF_MOVES,
    average_dollar_volume,
    base_date_for,
    estimate_rebalance,
    not_sized_programs,
)
from flows.results import QuarterEndInfo, StatusReport
from flows.volatility import DEFAULT_BANDS, REALIZED_WINDOW, RegimeBands, assess_volatility

NEUTRAL_BAND_FALLBACK_USD = 1e6
"""The neutral band when neither a liquidity yardstick nor the asset's own volume is known."""
HISTORY_DAYS = 3 * 365
"""How far back a status fetches: enough for the GARCH fit and the regime path."""


@dataclass(frozen=True)
class AnalyticsConfig:
    neutral_band_pct_adv: float = 0.1
    adv_sessions: int = 20
    vol_window: int = REALIZED_WINDOW
    what_if_moves: tuple[float, ...] = WHAT_IF_MOVES
    bands: dict[AssetClass, RegimeBands] = field(default_factory=lambda: dict(DEFAULT_BANDS))
    with_garch: bool = True
    spot_exchanges: tuple[str, ...] = DEFAULT_SPOT_EXCHANGES


def source_label(market: MarketData) -> str:
    source = market.source
    label = getattr(source, "description", None) or source.name
    return f"{label} — SAMPLE DATA" if source.is_sample and "SAMPLE" not in label else label


def resolve_asset(text: str, registry: FundRegistry) -> Asset:
    return get_asset(text, extra_symbols=registry.symbols)


def symbols_for(asset: Asset, registry: FundRegistry) -> set[str]:
    """Every series a status of `asset` reads: the asset and each sleeve of funds holding it."""
    symbols = {asset.symbol}
    for fund in registry.holding(asset.symbol):
        symbols |= set(fund.weights)
    return symbols


async def load_frames(
    symbols: set[str], as_of: dt.date | None, market: MarketData, anchor: str
) -> tuple[dt.date, dict[str, pd.DataFrame]]:
    """Fetch every symbol once and apply the freshness rule (flows.freshness): an as-of given is
    checked; the default is the anchor's latest bar, or the latest day every series covers."""
    today = freshness.today_utc()
    freshness.check_not_future(as_of, today)
    end = as_of or today
    frames = await market.recent_bars_many(symbols, end, HISTORY_DAYS, older=as_of is None)
    last_bars = {symbol: frame.index[-1].date() for symbol, frame in frames.items()}
    if as_of is None:
        as_of = freshness.default_as_of(last_bars, anchor, today)
    freshness.check_fresh(last_bars, as_of, today, market.source.name)
    return as_of, frames


def lag_of(
    as_of: dt.date, frames: dict[str, pd.DataFrame], anchor: str
) -> freshness.DataLag | None:
    """How far an answer's data is behind today, when more than the allowance."""
    last_bars = {symbol: frame.index[-1].date() for symbol, frame in frames.items()}
    return freshness.data_lag(as_of, freshness.today_utc(), last_bars, anchor)


async def build_status(
    asset_text: str,
    market: MarketData,
    registry: FundRegistry,
    as_of: dt.date | None = None,
    config: AnalyticsConfig | None = None,
) -> StatusReport:
    config = config or AnalyticsConfig()
    asset = resolve_asset(asset_text, registry)
    asked = as_of
    as_of, frames = await load_frames(symbols_for(asset, registry), as_of, market, asset.symbol)
    # An as-of the user chose is what they asked for; a default one far behind today is news.
    lag = lag_of(as_of, frames, asset.symbol) if asked is None else None
    start = as_of - dt.timedelta(days=HISTORY_DAYS)
    frames |= await fetch_liquidity(market, asset, start, as_of, config.spot_exchanges)
    report = status_from_frames(
        asset, as_of, frames, registry, source_label(market), market.is_sample, config
    )
    if lag is None:
        return report
    # The leveraged section is the same object as `letf --json`, which carries the lag too.
    leveraged = report.leveraged
    if leveraged is not None:
        leveraged = leveraged.model_copy(update={"data_lag": lag})
    return report.model_copy(update={"data_lag": lag, "leveraged": leveraged})


def status_from_frames(
    asset: Asset,
    as_of: dt.date,
    frames: dict[str, pd.DataFrame],
    registry: FundRegistry,
    data_source: str,
    sample: bool,
    config: AnalyticsConfig,
) -> StatusReport:
    """The pure part of a status: no I/O, frames already fetched (used by replays too)."""
    funds = registry.holding(asset.symbol)
    needed = {symbol for fund in funds for symbol in fund.weights}
    closes = {symbol: frames[symbol]["adj_close"] for symbol in needed}
    for fund in funds:
        if fund.since is not None and fund.since > as_of:
            continue  # not counted at this date (estimate_rebalance lists it as not sized)
        base = base_date_for(fund, as_of)
        for symbol in fund.weights:
            first = closes[symbol].index[0].date()
            if first > base:
                raise InputError(
                    f"{symbol} data starts {first}, after {fund.name!r}'s base date {base}; "
                    "pick a later --as-of"
                )
    own = _through(frames[asset.symbol], as_of)
    liquidity = yardstick(asset, as_of, own, frames, config.adv_sessions)
    adv = liquidity.adv_usd
    # Without a yardstick the percentage is unknown, but the neutral band still needs a scale:
    # the asset's own dollar volume (what a small trade is small against), not a fixed $1m.
    own_volume = None if adv else average_dollar_volume(own, as_of, config.adv_sessions)
    rebalance = estimate_rebalance(
        asset.symbol,
        as_of,
        funds,
        closes,
        adv,
        neutral_band_pct_adv=config.neutral_band_pct_adv,
        neutral_band_usd=(
            own_volume * config.neutral_band_pct_adv / 100.0
            if own_volume
            else NEUTRAL_BAND_FALLBACK_USD
        ),
        moves=config.what_if_moves,
        not_sized=not_sized_programs(registry.programs_holding(asset.symbol), as_of),
    )
    bands = config.bands.get(asset.asset_class, DEFAULT_BANDS[AssetClass.EQUITY])
    volatility = assess_volatility(
        own["adj_close"],
        asset.annualization_days,
        bands,
        registry.vol_targets_on(asset.symbol),
        window=config.vol_window,
        with_garch=config.with_garch,
    )
    quarter_end = calendar.quarter_end_status(as_of)
    leveraged = _leveraged_flow(asset.symbol, own, registry, adv, data_source, sample)
    estimates = [
        rebalance_model.aggregate_estimate(
            asset.symbol, as_of, rebalance, data_source, registry.source
        ),
        vol_target_model.aggregate_estimate(asset.symbol, as_of, volatility, data_source),
        leveraged.flow_estimates[0] if leveraged is not None else None,
    ]
    return StatusReport(
        asset=asset.symbol,
        asset_name=asset.name,
        as_of=as_of,
        data_source=data_source,
        sample=sample,
        funds_source=registry.source,
        quarter_end=QuarterEndInfo(
            quarter=quarter_end.quarter,
            last_session=quarter_end.last_session,
            window_start=quarter_end.window_start,
            sessions_left=quarter_end.sessions_left,
            in_window=quarter_end.in_window,
        ),
        rebalance=rebalance.model_copy(
            update={"adv_basis": liquidity.basis}
            | (
                {}
                if rebalance.funds
                else dict.fromkeys(("trade_usd", "direction", "pct_adv", "aum_total_usd"))
            )
        ),
        volatility=volatility,
        leveraged=leveraged and leveraged.model_copy(update={"adv_basis": liquidity.basis}),
        flow_estimates=[estimate for estimate in estimates if estimate is not None],
    )


def _through(frame: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """The bars up to and including `as_of` (usually all of them: no slicing cost then)."""
    end = int(np.searchsorted(frame.index.values, np.datetime64(as_of, "D"), side="right"))
    return frame if end == len(frame) else frame.iloc[:end]


def _leveraged_flow(
    symbol: str, own: pd.DataFrame, registry: FundRegistry, adv, data_source, sample
):
    """The leveraged-ETF rebalance at the latest reset in the bars: the last bar's close-to-close
    move (crypto: the last NYSE session's, from the session before)."""
    if not registry.leveraged_on(symbol) or len(own) < 2:
        return None
    closes = own["close"]
    last = closes.index[-1].date()
    reset_day = latest_reset_day(symbol, last)
    try:
        move, previous = reset_move(closes, reset_day, symbol)
    except InputError:
        return None
    return estimate_letf(
        symbol,
        move,
        registry,
        adv,
        as_of=reset_day,
        move_basis=f"close {previous} → close {reset_day}",
        data_source=data_source,
        sample=sample,
    )
