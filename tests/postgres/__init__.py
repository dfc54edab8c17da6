"""Finding the machine's PostgreSQL binaries and running a throw-away server from them (with
pytest-postgresql's executor) — for the test suite (tests/conftest.py) and the benchmarks."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

PG_CTL_AS_POSTGRES = Path(__file__).parent / "pg_ctl_as_postgres.sh"
"""pg_ctl, run as the `postgres` user when called as root (PostgreSQL refuses root)."""


def find_pg_ctl() -> str | None:
    """`pg_ctl` on the PATH, else the newest one Debian's postgresql packages install."""
    found = shutil.which("pg_ctl")
    if found:
        return found
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"),
        key=lambda path: int(path.parts[-3]) if path.parts[-3].isdigit() else 0,
    )
    return str(candidates[-1]) if candidates else None


async def wipe_public_schema(url: str) -> None:
    """Drop and recreate the public schema of the PostgreSQL database at `url`: every table,
    the migrations' record included, is gone."""
    import sqlalchemy as sa

    from storage.database import create_engine, normalize_database_url

    engine = create_engine(normalize_database_url(url), for_migrations=True)
    try:
        async with engine.begin() as connection:
            await connection.execute(sa.text("DROP SCHEMA public CASCADE"))
            await connection.execute(sa.text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


@contextlib.contextmanager
def throwaway_postgres(dbname: str = "flows") -> Iterator[str]:
    """Start a PostgreSQL server in a temporary directory, yield the URL of an empty database on
    it, stop it and remove everything afterwards."""
    import port_for
    from pytest_postgresql.executors import PostgreSQLExecutor
    from pytest_postgresql.janitor import DatabaseJanitor

    pg_ctl = find_pg_ctl()
    if pg_ctl is None:
        raise RuntimeError("no pg_ctl on the PATH or in /usr/lib/postgresql/*/bin")
    os.environ["FLOWS_PG_CTL"] = pg_ctl
    with tempfile.TemporaryDirectory(prefix="flows-bench-pg-") as scratch:
        port = port_for.select_random()
        executor = PostgreSQLExecutor(
            executable=str(PG_CTL_AS_POSTGRES),
            host="127.0.0.1",
            port=port,
            datadir=f"{scratch}/data",
            unixsocketdir=tempfile.gettempdir(),
            logfile=f"{scratch}/postgresql.log",
            startparams="-w",
            dbname=dbname,
            postgres_options="-c max_connections=200",
        )
        executor.start()
        try:
            executor.wait_for_postgres()
            janitor = DatabaseJanitor(
                user=executor.user,
                host=executor.host,
                port=executor.port,
                dbname=dbname,
                version=executor.version,
            )
            janitor.init()
            yield f"postgresql+asyncpg://{executor.user}@127.0.0.1:{port}/{dbname}"
        finally:
            executor.stop()
