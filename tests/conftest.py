"""Database back-ends for the tests: every test that takes `database_url` runs twice, on a fresh
SQLite file and on a fresh database of a real PostgreSQL server.

The server is started once per test run by pytest-postgresql's `postgresql_proc` from the
machine's PostgreSQL binaries (`pg_ctl` on the PATH, else the newest
/usr/lib/postgresql/*/bin/pg_ctl). Under root — CI runs as root, and PostgreSQL refuses to — the
server runs as the `postgres` user through tests/postgres/pg_ctl_as_postgres.sh.
`FLOWS_TEST_DATABASE_URL=postgresql://user@host:port/db` uses that server instead (its public
schema is wiped per test).

Where no PostgreSQL binaries exist (or with FLOWS_TEST_NO_POSTGRES=1) those tests are skipped
with the reason; under `CI=true` or `FLOWS_REQUIRE_POSTGRES=1` (.ci/run sets it) such a skip
fails the run, so CI cannot go green without them.
"""

from __future__ import annotations

import itertools
import os
import pwd
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.database import normalize_database_url
from tests.postgres import PG_CTL_AS_POSTGRES, find_pg_ctl, wipe_public_schema

TEST_DATABASE_URL = os.environ.get("FLOWS_TEST_DATABASE_URL", "")
POSTGRES_SKIP_PREFIX = "PostgreSQL unavailable"


def _postgres_unavailable() -> str | None:
    """Why no throw-away server can be started here, or None when one can."""
    if TEST_DATABASE_URL:
        return None
    if os.environ.get("FLOWS_TEST_NO_POSTGRES") == "1":
        return f"{POSTGRES_SKIP_PREFIX}: FLOWS_TEST_NO_POSTGRES=1"
    try:
        import asyncpg  # noqa: F401
        import pytest_postgresql  # noqa: F401
    except ImportError as error:
        return f"{POSTGRES_SKIP_PREFIX}: {error.name} is not installed (pip install -e '.[dev]')"
    pg_ctl = find_pg_ctl()
    if pg_ctl is None:
        return (
            f"{POSTGRES_SKIP_PREFIX}: no pg_ctl on the PATH or in /usr/lib/postgresql/*/bin "
            "(install PostgreSQL 14+)"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return f"{POSTGRES_SKIP_PREFIX}: running as root and there is no `postgres` user"
    os.environ["FLOWS_PG_CTL"] = pg_ctl
    return None


POSTGRES_UNAVAILABLE = _postgres_unavailable()
_skipped_for_postgres: list[str] = []

if POSTGRES_UNAVAILABLE is None and not TEST_DATABASE_URL:
    from pytest_postgresql import factories

    flows_postgresql_proc = factories.postgresql_proc(executable=str(PG_CTL_AS_POSTGRES), port=None)


def skip_without_postgres() -> None:
    if POSTGRES_UNAVAILABLE is not None:
        _skipped_for_postgres.append(POSTGRES_UNAVAILABLE)
        pytest.skip(POSTGRES_UNAVAILABLE)


@pytest.fixture(scope="session")
def postgres_server(request: pytest.FixtureRequest):
    """The running throw-away server (a pytest-postgresql executor), or None when
    FLOWS_TEST_DATABASE_URL names one."""
    skip_without_postgres()
    if TEST_DATABASE_URL:
        return None
    return request.getfixturevalue("flows_postgresql_proc")


_database_numbers = itertools.count(1)


@pytest.fixture
def postgres_url(postgres_server) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test; dropped afterwards."""
    if postgres_server is None:
        url = normalize_database_url(TEST_DATABASE_URL)
        _wipe_public_schema(url)
        yield url
        return
    from pytest_postgresql.janitor import DatabaseJanitor

    janitor = DatabaseJanitor(
        user=postgres_server.user,
        host=postgres_server.host,
        port=postgres_server.port,
        dbname=f"flows_test_{os.getpid()}_{next(_database_numbers)}",
        template_dbname=postgres_server.template_dbname,
        password=postgres_server.password,
    )
    janitor.init()
    try:
        yield normalize_database_url(
            f"postgresql://{postgres_server.user}@{postgres_server.host}:"
            f"{postgres_server.port}/{janitor.dbname}"
        )
    finally:
        janitor.drop()


def _wipe_public_schema(url: str) -> None:
    import asyncio

    asyncio.run(wipe_public_schema(url))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each back-end: a fresh SQLite file, then a fresh PostgreSQL one."""
    if request.param == "sqlite":
        return normalize_database_url(f"sqlite:///{tmp_path / 'flows-bot.db'}")
    return request.getfixturevalue("postgres_url")


def _postgres_required() -> bool:
    return os.environ.get("CI") == "true" or os.environ.get("FLOWS_REQUIRE_POSTGRES") == "1"


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if _skipped_for_postgres and _postgres_required():
        terminalreporter.write_line(
            f"FAILED: {len(_skipped_for_postgres)} PostgreSQL test(s) skipped under CI: "
            f"{_skipped_for_postgres[0]}",
            red=True,
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped_for_postgres and _postgres_required() and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
