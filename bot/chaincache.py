"""A chain source that keeps each day's live option chain in the database.

A day's chain is fetched once; later requests for that day (the CLI again, chat, the monitor,
`ask`) read the stored copy, and past days stay answerable after the provider has moved on.
Only chains that passed every check are stored: a failed fetch leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt

from flows.options.chain import ChainSource, OptionChain


class CachedChainSource:
    def __init__(self, source: ChainSource, store) -> None:
        self.source = source
        self.store = store
        self.name = source.name
        self.is_sample = source.is_sample

    def _day(self, asset: str, as_of: dt.date | None) -> dt.date | None:
        if as_of is not None:
            return as_of
        today = getattr(self.source, "today", None)
        return today(asset) if today is not None else None

    async def chain(self, asset: str, as_of: dt.date | None) -> OptionChain:
        asset = asset.upper()
        day = self._day(asset, as_of)
        if day is not None:
            cached = await self.store.load_option_chain(self.name, asset, day)
            if cached is not None:
                stored = f"stored {cached.fetched_at:%Y-%m-%d %H:%M} UTC"
                return OptionChain.from_payload(
                    cached.payload,
                    asset=asset,
                    as_of=cached.as_of,
                    source=cached.payload.get("source", self.name),
                    description=f"{cached.description} ({stored})",
                )
        chain = await self.source.chain(asset, as_of)
        await self.store.save_option_chain(
            self.name,
            asset,
            chain.as_of,
            description=chain.description,
            contracts=len(chain),
            payload={**chain.to_payload(), "source": chain.source},
        )
        return chain

    async def close(self) -> None:
        await self.source.close()


def cached_chains(market_source, store) -> ChainSource:
    """Option chains matching a market-data source; live ones through the store's per-day
    cache (sample and CSV chains need none)."""
    from flows.options import chain_source_for

    chains = chain_source_for(market_source)
    if chains.name == "live" and store is not None:
        return CachedChainSource(chains, store)
    return chains
