"""Live positioning data through the database: every day fetched is cached, so the history of
open interest, funding and ETF flows grows past what exchanges and Yahoo serve (Binance keeps 30
days of open-interest statistics). A refetched day replaces its cached copy (a restated flow)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pandas as pd

from flows.errors import FlowsError
from flows.models.positioning import PositioningConfig
from flows.positioning import PositioningSource, etf_funds
from flows.positioning.data import empty_flows

log = logging.getLogger(__name__)

ETF_FLOWS_CACHE_KEY = "yahoo-shares"
"""The `source` of cached ETF flows derived from Yahoo share counts."""


class CachedPositioningSource:
    """Wraps a live source: fetch, save every day fetched, answer from cache + fetch."""

    def __init__(self, live: Any, store: Any, exchange: str) -> None:
        self.live = live
        self.store = store
        self.exchange = exchange
        self.name = live.name
        self.description = f"{live.description} (days cached in the database)"
        self.is_sample = False
        self.flows_confidence = live.flows_confidence
        self._notes: list[str] = []

    @property
    def notes(self) -> list[str]:
        """This wrapper's notes (cache use) and the live source's (what it could not get)."""
        return list(dict.fromkeys([*getattr(self.live, "notes", []), *self._notes]))

    def flows_method(self, fund: str) -> str:
        return self.live.flows_method(fund)

    async def derivatives(self, asset: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        cached = await self.store.load_derivatives(self.exchange, asset, start, end)
        try:
            fetched = await self.live.derivatives(asset, start, end)
        except FlowsError as exc:
            if cached.empty:
                raise
            self._notes.append(f"live derivatives fetch failed, cached days only: {exc}")
            return cached
        await self.store.save_derivatives(self.exchange, asset, fetched)
        merged = fetched.combine_first(cached) if not cached.empty else fetched
        if not cached.empty and cached.index[0] < fetched.index[0]:
            self._notes.append(
                f"{asset} derivatives before {fetched.index[0].date()} from the cache "
                f"(kept since {cached.index[0].date()})"
            )
        return merged.sort_index()

    async def etf_flows(self, asset: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        funds = [f.ticker for f in etf_funds() if f.asset == asset.upper()]
        if not funds:
            return empty_flows()
        cached = await self.store.load_etf_flows(ETF_FLOWS_CACHE_KEY, funds, start, end)
        try:
            fetched = await self.live.etf_flows(asset, start, end)
        except FlowsError as exc:
            self._notes.append(f"live ETF flows failed, cached days only: {exc}")
            return cached
        await self.store.save_etf_flows(ETF_FLOWS_CACHE_KEY, fetched)
        if cached.empty:
            return fetched
        merged = pd.concat([cached, fetched], ignore_index=True)
        # The fresh figure of a day wins over its cached copy (a restatement).
        return merged.drop_duplicates(["date", "fund"], keep="last").reset_index(drop=True)

    async def close(self) -> None:
        await self.live.close()


def positioning_config(settings: Any) -> PositioningConfig:
    return PositioningConfig(
        price_band_pct=settings.positioning_price_band_pct,
        oi_band_pct=settings.positioning_oi_band_pct,
        funding_weight=settings.positioning_funding_weight,
    )


def positioning_for_market(market: Any, settings: Any, store: Any | None) -> PositioningSource:
    """The positioning source for a run: cached through `store` when the bars are live."""
    from flows.positioning import positioning_source_for

    source = positioning_source_for(market, exchange=settings.derivatives_exchange)
    if store is not None and source.name == "live" and not source.is_sample:
        return CachedPositioningSource(source, store, settings.derivatives_exchange)
    return source
