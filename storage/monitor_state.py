"""Monitor state: what each monitor last saw per (kind, asset)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from storage._common import (
    _STATES,
    StoreBase,
    _chunks,
    _json,
)
from storage.models import (
    utcnow,
)


class MonitorStateMixin(StoreBase):
    """Per-(kind, asset) JSON state the monitors compare new readings with."""

    async def get_state(self, kind: str, asset: str) -> dict[str, Any] | None:
        """What the `kind` monitor last stored for `asset`, or None."""
        return (await self.get_states(kind, [asset])).get(asset)

    async def get_states(self, kind: str, assets: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Stored states of many assets in one query; assets without one are absent."""
        wanted = list(dict.fromkeys(assets))
        states: dict[str, dict[str, Any]] = {}
        async with self._engine.connect() as connection:
            for chunk in _chunks(wanted):
                rows = await connection.execute(
                    sa.select(_STATES.c.asset, _STATES.c.state).where(
                        _STATES.c.kind == kind, _STATES.c.asset.in_(chunk)
                    )
                )
                states.update((asset, json.loads(state)) for asset, state in rows.all())
        return states

    async def set_state(
        self, kind: str, asset: str, state: Mapping[str, Any], *, now: dt.datetime | None = None
    ) -> None:
        await self.set_states(kind, {asset: state}, now=now)

    async def set_states(
        self,
        kind: str,
        states: Mapping[str, Mapping[str, Any]],
        *,
        now: dt.datetime | None = None,
    ) -> None:
        """Upsert the states of many assets in one statement."""
        if not states:
            return
        async with self._engine.begin() as connection:
            await self._upsert_states(
                connection, {(kind, asset): state for asset, state in states.items()}, now
            )

    async def _upsert_states(
        self,
        connection: AsyncConnection,
        states: Mapping[tuple[str, str], Mapping[str, Any]],
        now: dt.datetime | None,
    ) -> None:
        now = now or utcnow()
        rows = [
            {"kind": kind, "asset": asset, "state": _json(state), "updated_at": now}
            for (kind, asset), state in states.items()
        ]
        statement = self._insert(_STATES)
        statement = statement.on_conflict_do_update(
            index_elements=["kind", "asset"],
            set_={"state": statement.excluded.state, "updated_at": statement.excluded.updated_at},
        )
        await connection.execute(statement, rows)
