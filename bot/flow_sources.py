"""Option chains and positioning data for a run, matching its market-data source; live ones go
through the store's per-day caches (the `why` ledger reads both)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any


@asynccontextmanager
async def flow_sources(market: Any, settings: Any, store: Any | None) -> AsyncIterator[tuple]:
    """(chains, positioning) for `market`, closed on exit."""
    from bot.chaincache import CachedChainSource
    from bot.positioning_cache import positioning_for_market
    from flows.options import chain_source_for

    chains = chain_source_for(market.source)
    cached = (
        CachedChainSource(chains, store) if chains.name == "live" and store is not None else chains
    )
    positioning = positioning_for_market(market, settings, store)
    try:
        yield cached, positioning
    finally:
        await chains.close()
        await positioning.close()
