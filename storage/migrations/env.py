"""Alembic environment of flows-bot's storage.

Normally driven by `storage.migrate.upgrade_database`, which hands over an open connection in
`config.attributes["connection"]`. Run without one (the `alembic` command line with a config whose
`sqlalchemy.url` is set), it connects by itself through the store's async engine.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from storage.database import create_engine, normalize_database_url
from storage.models import UTCDateTime, metadata

config = context.config
target_metadata = metadata


def _render_item(type_: str, obj: object, _autogen_context: object) -> str | bool:
    """Autogenerate writes our UTC type as what the database sees, keeping revisions standalone."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode rebuilds the table instead.
        render_as_batch=True,
        compare_type=True,
        render_item=_render_item,
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(
        url=normalize_database_url(config.get_main_option("sqlalchemy.url") or ""),
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    url = normalize_database_url(config.get_main_option("sqlalchemy.url") or "")
    engine = create_engine(url, for_migrations=True)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
elif (connection := config.attributes.get("connection")) is not None:
    do_run_migrations(connection)
else:
    asyncio.run(run_async_migrations())
