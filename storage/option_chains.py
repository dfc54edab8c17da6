"""The option-chain cache: one row per (source, asset, day) holding the chain's columns as JSON."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from storage._common import StoreBase
from storage.models import OptionChainDay, utcnow

_CHAINS = OptionChainDay.__table__


@dataclass(frozen=True, slots=True)
class CachedChain:
    source: str
    asset: str
    as_of: dt.date
    description: str
    contracts: int
    payload: dict[str, Any]
    fetched_at: dt.datetime


class OptionChainCacheMixin(StoreBase):
    """Cached option chains per (source, asset, day)."""

    async def load_option_chain(
        self, source: str, asset: str, as_of: dt.date
    ) -> CachedChain | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    sa.select(_CHAINS).where(
                        _CHAINS.c.source == source,
                        _CHAINS.c.asset == asset.upper(),
                        _CHAINS.c.as_of == as_of,
                    )
                )
            ).one_or_none()
        if row is None:
            return None
        return CachedChain(
            source=row.source,
            asset=row.asset,
            as_of=row.as_of,
            description=row.description,
            contracts=row.contracts,
            payload=json.loads(row.payload),
            fetched_at=row.fetched_at,
        )

    async def save_option_chain(
        self,
        source: str,
        asset: str,
        as_of: dt.date,
        *,
        description: str,
        contracts: int,
        payload: dict[str, Any],
        now: dt.datetime | None = None,
    ) -> None:
        """Store (or replace) the chain of `asset` on `as_of` from `source`."""
        values = {
            "source": source,
            "asset": asset.upper(),
            "as_of": as_of,
            "description": description,
            "contracts": int(contracts),
            "payload": json.dumps(payload, separators=(",", ":")),
            "fetched_at": now or utcnow(),
        }
        statement = self._insert(_CHAINS).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=["source", "asset", "as_of"],
            set_={
                name: statement.excluded[name]
                for name in values
                if name not in ("source", "asset", "as_of")
            },
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)

    async def option_chain_days(self, source: str, asset: str) -> list[dt.date]:
        """The days cached for (source, asset), oldest first."""
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                sa.select(_CHAINS.c.as_of)
                .where(_CHAINS.c.source == source, _CHAINS.c.asset == asset.upper())
                .order_by(_CHAINS.c.as_of)
            )
            return [row[0] for row in rows]
