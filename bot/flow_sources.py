"""Option chains and positioning data for a run, matching its market-data source; live ones go
through the store's per-day caches (the `why` ledger reads both)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any


@asynccontextmanager
async def flow_sources(market: Any, settings: Any, store: Any | None) -> AsyncIterator[tuple]:
    """(chains, positioning) for `market`, closed on exit."""
    from bot.chaincache import cached_chains
    from bot.positioning_cache import positioning_for_market

    chains = cached_chains(market.source, store)
    positioning = positioning_for_market(market, settings, store)
    try:
        yield chains, positioning
    finally:
        await chains.close()
        await positioning.close()


async def ledger_for(
    asset: str,
    market: Any,
    registry: Any,
    settings: Any,
    sources: tuple,
    *,
    as_of: Any = None,
    move: float | None = None,
    status: Any = None,
    with_garch: bool = True,
):
    """`flows.why.build_why` with the run's settings and the `(chains, positioning)` that
    `flow_sources` opened."""
    from bot.positioning_cache import positioning_config
    from flows.why import build_why

    chains, positioning = sources
    return await build_why(
        asset,
        market,
        registry,
        chains=chains,
        positioning=positioning,
        positioning_config=positioning_config(settings),
        as_of=as_of,
        move=move,
        config=settings.analytics_config(with_garch=with_garch),
        status=status,
    )


NET_LINE_TIMEOUT_SECONDS = 20.0
"""`status` shows the day's net mechanical flow; past this the line says it is unknown rather
than hold the status up (option chains and positioning data can be slow to fetch live)."""


async def status_ledger(report: Any, market: Any, registry: Any, settings: Any, store: Any):
    """The `why` ledger for a status already computed, or None with the reason in words."""
    from flows.errors import FlowsError

    async def build():
        async with flow_sources(market, settings, store) as sources:
            return await ledger_for(
                report.asset, market, registry, settings, sources, as_of=report.as_of, status=report
            )

    try:
        return await asyncio.wait_for(build(), NET_LINE_TIMEOUT_SECONDS), None
    except TimeoutError:
        return None, f"not computed within {NET_LINE_TIMEOUT_SECONDS:.0f} s"
    except FlowsError as exc:
        return None, str(exc)
