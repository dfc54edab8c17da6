"""Database URLs and engines: which database, which async driver, which connection settings."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool, StaticPool

from storage.errors import database_path, install_error_mapping

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///flows-bot.db"
"""A SQLite file in the working directory: what the bot uses when `DATABASE_URL` is not set."""

DATABASE_URL_ENV = "DATABASE_URL"

SQLITE_BUSY_TIMEOUT_MS = 10_000
"""How long a SQLite connection waits for another writer before failing (`database is locked`)."""

_POSTGRES_ASYNC_DRIVERS = {"asyncpg", "psycopg", "psycopg_async"}


def database_url_from_env(environ: Mapping[str, str] | None = None) -> str:
    """`DATABASE_URL` from the environment (normalised), or the default SQLite file."""
    environ = os.environ if environ is None else environ
    return normalize_database_url(environ.get(DATABASE_URL_ENV) or DEFAULT_DATABASE_URL)


def normalize_database_url(url: str | URL) -> str:
    """Rewrite a database URL to one `create_async_engine` accepts.

    - `postgres://…` (Heroku style), `postgresql://…` and `postgresql+psycopg2://…` become
      `postgresql+asyncpg://…`; a libpq-style `sslmode=` query parameter becomes asyncpg's `ssl=`.
      `postgresql+asyncpg` and `postgresql+psycopg` (async-capable) are kept.
    - `sqlite://…` and `sqlite+pysqlite://…` become `sqlite+aiosqlite://…`.
    - Anything else is returned unchanged (and fails loudly when an engine is created).
    """
    text = str(url).strip() if not isinstance(url, URL) else url.render_as_string(False)
    if not text:
        raise ValueError("empty database URL")
    parsed = make_url(text)
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgres", "postgresql"):
        if driver not in _POSTGRES_ASYNC_DRIVERS:
            driver = "asyncpg"
        parsed = parsed.set(drivername=f"postgresql+{driver}")
        if driver == "asyncpg" and "sslmode" in parsed.query:
            query = dict(parsed.query)
            sslmode = query.pop("sslmode")
            query.setdefault("ssl", sslmode)
            parsed = parsed.set(query=query)
    elif backend == "sqlite" and driver != "aiosqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed.render_as_string(hide_password=False)


def is_sqlite_memory(url: str | URL) -> bool:
    """True for an in-memory SQLite database (which lives only as long as its connection)."""
    parsed = make_url(str(url) if not isinstance(url, URL) else url)
    if parsed.get_backend_name() != "sqlite":
        return False
    database = parsed.database or ""
    return database in ("", ":memory:") or parsed.query.get("mode") == "memory"


def create_engine(url: str, *, for_migrations: bool = False, echo: bool = False) -> AsyncEngine:
    """An async engine for a normalised URL, with the connection settings the store relies on.

    SQLite: WAL journal (readers never block the writer), `synchronous=NORMAL` (safe with WAL),
    a busy timeout, and `foreign_keys=ON` — except for migrations, which may rebuild tables and
    therefore run with foreign keys off, as SQLite's documentation prescribes.
    """
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"echo": echo}
    if parsed.get_backend_name() != "sqlite":
        kwargs["pool_pre_ping"] = True
        if for_migrations:
            kwargs["poolclass"] = NullPool
        engine = create_async_engine(parsed, **kwargs)
        install_error_mapping(engine, database_path(parsed))
        return engine

    in_memory = is_sqlite_memory(parsed)
    if in_memory:
        # One shared connection, or every checkout would see its own empty database.
        kwargs["poolclass"] = StaticPool
    else:
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        if for_migrations:
            kwargs["poolclass"] = NullPool
    kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    engine = create_async_engine(parsed, **kwargs)
    install_error_mapping(engine, database_path(parsed))
    foreign_keys = "OFF" if for_migrations else "ON"

    @event.listens_for(engine.sync_engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute(f"PRAGMA foreign_keys = {foreign_keys}")
            if not in_memory:
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    return engine
