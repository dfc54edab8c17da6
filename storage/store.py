"""`Store`: every query the bot runs. Nothing outside `storage/` writes SQL.

One `Store` per process, shared by the scheduler, the dispatcher and the chat adapters. Each
method is one short transaction; objects returned are detached snapshots (safe to read after the
call, not to modify and save). All times are timezone-aware UTC; `now` parameters exist so tests
and the scheduler can pin the clock.
"""

from __future__ import annotations

import asyncio

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from storage._common import BAR_COLUMNS
from storage.bulk import BulkMixin
from storage.cache import BarCacheMixin, BarCoverage
from storage.database import (
    create_engine,
    database_url_from_env,
    is_sqlite_memory,
    normalize_database_url,
)
from storage.delivery_health import DeliveryHealthMixin
from storage.errors import DatabaseUnreachable, StorageError, is_connection_refusal
from storage.leader import LeaderMixin
from storage.leases import ClaimedDelivery, OutboxLeaseMixin
from storage.live_records import LiveRecordsMixin, NewLiveRecord
from storage.migrate import upgrade_database, upgrade_engine
from storage.monitor_state import MonitorStateMixin
from storage.option_chains import OptionChainCacheMixin
from storage.outbox import NewAlert, OutboxMixin
from storage.positioning import PositioningCacheMixin
from storage.reference import ReferenceCache
from storage.subscriptions import ActiveSubscription, SubscriptionsMixin, _ActiveSnapshot

__all__ = [
    "BAR_COLUMNS",
    "ActiveSubscription",
    "BarCoverage",
    "ClaimedDelivery",
    "NewAlert",
    "NewLiveRecord",
    "Store",
]

CONNECT_TIMEOUT_SECONDS = 15.0
"""How long opening a PostgreSQL database may take before it counts as unreachable."""


class Store(
    SubscriptionsMixin,
    MonitorStateMixin,
    OutboxMixin,
    OutboxLeaseMixin,
    BarCacheMixin,
    PositioningCacheMixin,
    OptionChainCacheMixin,
    LiveRecordsMixin,
    DeliveryHealthMixin,
    LeaderMixin,
    BulkMixin,
):
    """Async access to the bot's database (SQLite by default, PostgreSQL too).

    The queries live in one module per concern — `storage/subscriptions.py`,
    `storage/monitor_state.py`, `storage/outbox.py`, `storage/cache.py` — and `reference`
    (`storage/reference.py`) caches earnings dates and fund AUM.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self.reference = ReferenceCache(engine)
        self._active: _ActiveSnapshot | None = None
        self._sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
        self._dialect = engine.dialect.name
        if self._dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database {self._dialect!r}: use SQLite or PostgreSQL")

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    async def open(
        cls, url: str | None = None, *, migrate: bool = True, echo: bool = False
    ) -> Store:
        """Connect to `url` (default: `$DATABASE_URL`, else `sqlite+aiosqlite:///flows-bot.db`).

        With `migrate` (the default) the schema is first brought to the current revision.
        """
        url = normalize_database_url(url) if url else database_url_from_env()
        try:
            parsed = make_url(url)
        except Exception as error:
            raise StorageError(f"DATABASE_URL is not a database URL: {error}", "") from None
        if parsed.get_backend_name() == "sqlite":
            return await cls._open(url, migrate, echo)
        where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}/{parsed.database or ''}"
        try:
            return await asyncio.wait_for(
                cls._open(url, migrate, echo), timeout=CONNECT_TIMEOUT_SECONDS
            )
        except TimeoutError:
            reason = f"no answer within {CONNECT_TIMEOUT_SECONDS:.0f} s"
        except (OSError, ImportError) as error:
            reason = error.strerror or str(error) if isinstance(error, OSError) else str(error)
        except Exception as error:
            if not is_connection_refusal(error):
                raise
            reason = str(getattr(error, "orig", None) or error).splitlines()[0]
            if parsed.password:
                reason = reason.replace(parsed.password, "***")
            raise DatabaseUnreachable(
                f"the PostgreSQL server at {where} refused the connection: {reason} "
                "(check DATABASE_URL)",
                where,
            ) from None
        raise DatabaseUnreachable(
            f"cannot reach the PostgreSQL server at {where}: {reason} (check DATABASE_URL)", where
        )

    @classmethod
    async def _open(cls, url: str, migrate: bool, echo: bool) -> Store:
        engine = create_engine(url, echo=echo)
        try:
            if migrate and is_sqlite_memory(url):
                # An in-memory database exists only on this engine's one connection.
                await upgrade_engine(engine)
            elif migrate:
                await upgrade_database(url)
            return cls(engine)
        except BaseException:
            await engine.dispose()
            raise

    async def close(self) -> None:
        """Close every pooled connection; safe to call twice."""
        await self._engine.dispose()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @property
    def url(self) -> str:
        """The database URL with any password masked."""
        return self._engine.url.render_as_string(hide_password=True)
