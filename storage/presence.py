"""How many `flows-bot run` processes share the database now — for pacing the rate limits that
belong to a Slack workspace or a Discord bot token rather than to one process.

On PostgreSQL each process holds one session-level advisory lock from a block of keys, on a
connection of its own; the server frees it when the process (or its connection) dies, so the
held keys of the block count the live processes: no table, no heartbeat to clean up. SQLite
serves one process.
"""

from __future__ import annotations

import contextlib

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage._common import StoreBase

WORKER_KEY_FIRST = 0x666C6F77730300
"""The first advisory-lock key of the block (`flows` + 3, then the slot)."""
WORKER_SLOTS = 256
"""Processes counted at most; a process that finds every slot taken counts as one more."""

_COUNT_HELD = sa.text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND classid::bigint = :high AND objid::bigint BETWEEN :low_first AND :low_last"
)


class WorkerPresence:
    """This process's slot in the block, and the count of slots held (see the module)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self.slot: int | None = None

    @property
    def shared(self) -> bool:
        return self._engine.dialect.name == "postgresql"

    async def join(self) -> int | None:
        """Take the first free slot (kept until `leave` or the process dies); its number, or
        None when all are taken or the database is not shared."""
        if not self.shared:
            return None
        if self.slot is not None and await self._alive():
            return self.slot
        await self._drop_connection()
        self._connection = await self._engine.connect()
        try:
            for slot in range(WORKER_SLOTS):
                taken = await self._connection.execute(
                    sa.select(sa.func.pg_try_advisory_lock(WORKER_KEY_FIRST + slot))
                )
                if taken.scalar_one():
                    self.slot = slot
                    break
            await self._connection.commit()  # the locks are the session's; no open transaction
        except Exception:
            await self._drop_connection()
            raise
        return self.slot

    async def count(self) -> int:
        """The processes sharing the database now, this one included (1 on SQLite). Re-joins
        first if this process's connection was lost."""
        if not self.shared:
            return 1
        await self.join()
        low = WORKER_KEY_FIRST & 0xFFFFFFFF
        async with self._engine.connect() as connection:
            held = await connection.execute(
                _COUNT_HELD,
                {
                    "high": WORKER_KEY_FIRST >> 32,
                    "low_first": low,
                    "low_last": low + WORKER_SLOTS - 1,
                },
            )
            counted = int(held.scalar_one())
        return max(1, counted + (1 if self.slot is None else 0))

    async def leave(self) -> None:
        """Give the slot up (at shutdown)."""
        await self._drop_connection()

    async def _alive(self) -> bool:
        if self._connection is None:
            return False
        try:
            await self._connection.execute(sa.select(1))
            await self._connection.commit()
        except Exception:
            return False
        return True

    async def _drop_connection(self) -> None:
        # Invalidated, not returned to the pool: ending the session is what frees its locks.
        self.slot = None
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.invalidate()
            with contextlib.suppress(Exception):
                await connection.close()


class PresenceMixin(StoreBase):
    def worker_presence(self) -> WorkerPresence:
        """This process's presence among the processes sharing the database (one per process)."""
        return WorkerPresence(self._engine)
