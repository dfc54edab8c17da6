"""Leader election: one process of several runs the monitors.

On PostgreSQL the leader holds a session-level advisory lock (`pg_try_advisory_lock`) on a
connection of its own for as long as it lives; when the process dies, its connection closes and
the server frees the lock, so a standby's next `try_acquire` wins. SQLite serves one process:
that process is always the leader.
"""

from __future__ import annotations

import contextlib

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage._common import StoreBase

MONITORS_LOCK_KEY = 0x666C6F7773_02
"""The advisory-lock key of the monitors' leader (`flows` + 2)."""


class LeaderLock:
    """Try, keep and give up the leadership (see the module docstring)."""

    def __init__(self, engine: AsyncEngine, key: int = MONITORS_LOCK_KEY) -> None:
        self._engine = engine
        self._key = key
        self._connection: AsyncConnection | None = None
        self._held = False

    @property
    def shared(self) -> bool:
        """True when several processes can share the database (and so must elect a leader)."""
        return self._engine.dialect.name == "postgresql"

    async def try_acquire(self) -> bool:
        """Become the leader if nobody is; True when this process is the leader now."""
        if not self.shared:
            self._held = True
            return True
        if self._held:
            return await self.still_held()
        try:
            if self._connection is None:
                self._connection = await self._engine.connect()
            result = await self._connection.execute(
                sa.select(sa.func.pg_try_advisory_lock(self._key))
            )
            self._held = bool(result.scalar_one())
            await self._connection.commit()  # the lock is the session's; no open transaction
        except Exception:
            await self._drop_connection()
            raise
        return self._held

    async def still_held(self) -> bool:
        """Whether the lock's connection is still alive (a lost connection lost the lock)."""
        if not self.shared:
            return self._held
        if not self._held or self._connection is None:
            return False
        try:
            await self._connection.execute(sa.select(1))
            await self._connection.commit()
        except Exception:
            await self._drop_connection()
            return False
        return True

    async def release(self) -> None:
        """Give up the leadership (at shutdown): a standby takes over at its next try."""
        if self._connection is not None and self._held:
            with contextlib.suppress(Exception):
                await self._connection.execute(sa.select(sa.func.pg_advisory_unlock(self._key)))
                await self._connection.commit()
        await self._drop_connection()

    async def _drop_connection(self) -> None:
        self._held = False
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                await connection.close()


class LeaderMixin(StoreBase):
    def leader_lock(self, key: int = MONITORS_LOCK_KEY) -> LeaderLock:
        """A lock deciding which process runs the monitors (one per process)."""
        return LeaderLock(self._engine, key)
