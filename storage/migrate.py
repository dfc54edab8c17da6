"""Schema migrations: bring any database to the current revision.

The Alembic scripts ship inside the package (`storage/migrations/`) and the configuration is built
here in code, so no `alembic.ini` is needed and an installed package can migrate its database.

    python -m storage.migrate upgrade [URL]          # to head (default URL: $DATABASE_URL)
    python -m storage.migrate current [URL]
    python -m storage.migrate revision -m "add x"    # autogenerate a new revision from the models
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.database import create_engine, database_url_from_env, normalize_database_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic configuration pointing at the packaged scripts (and at `url`, if given)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        # ConfigParser interpolation: a literal % in a password must be doubled.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The revision the code expects."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "no migration scripts found"
    return head


def _upgrade(connection: Connection, revision: str) -> str | None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)
    return MigrationContext.configure(connection).get_current_revision()


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade_engine(engine: AsyncEngine, revision: str = "head") -> str | None:
    """Run the migrations up to `revision` over `engine`; returns the revision reached."""
    async with engine.begin() as connection:
        return await connection.run_sync(_upgrade, revision)


async def upgrade_database(url: str | None = None, revision: str = "head") -> str | None:
    """Bring the database at `url` (default: `$DATABASE_URL`) to `revision` (default: head).

    Works on an empty database and on one at any older revision; rows are kept. Idempotent. On
    SQLite the migration connection runs with foreign keys off, so that table rebuilds (batch
    mode) do not cascade. Returns the revision reached.
    """
    url = normalize_database_url(url) if url else database_url_from_env()
    engine = create_engine(url, for_migrations=True)
    try:
        return await upgrade_engine(engine, revision)
    finally:
        await engine.dispose()


async def current_revision(url: str | None = None) -> str | None:
    """The database's revision, or None when it has never been migrated."""
    url = normalize_database_url(url) if url else database_url_from_env()
    engine = create_engine(url, for_migrations=True)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_current)
    finally:
        await engine.dispose()


async def _autogenerate(message: str) -> None:
    """Diff the models against a scratch database at head and write a new revision script."""
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite+aiosqlite:///{Path(scratch) / 'scratch.db'}"
        engine = create_engine(url, for_migrations=True)
        try:
            await upgrade_engine(engine)

            def revise(connection: Connection) -> Any:
                config = alembic_config()
                config.attributes["connection"] = connection
                return command.revision(config, message=message, autogenerate=True)

            async with engine.begin() as connection:
                await connection.run_sync(revise)
        finally:
            await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m storage.migrate", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    upgrade = sub.add_parser("upgrade", help="migrate a database to head (or --revision)")
    upgrade.add_argument("url", nargs="?", help="database URL (default: $DATABASE_URL)")
    upgrade.add_argument("--revision", default="head")
    current = sub.add_parser("current", help="print a database's revision")
    current.add_argument("url", nargs="?", help="database URL (default: $DATABASE_URL)")
    revision = sub.add_parser("revision", help="autogenerate a revision from the models")
    revision.add_argument("-m", "--message", required=True)
    args = parser.parse_args(argv)

    if args.command == "upgrade":
        reached = asyncio.run(upgrade_database(args.url, args.revision))
        print(f"database at revision {reached}")
    elif args.command == "current":
        print(asyncio.run(current_revision(args.url)) or "(empty database)")
    else:
        asyncio.run(_autogenerate(args.message))
    return 0


if __name__ == "__main__":
    sys.exit(main())
