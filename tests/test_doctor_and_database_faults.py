"""Database faults at the storage boundary (corrupt, read-only, locked: one line, exit 2, file
untouched; `run` waits out a lock and stops cleanly on a corrupt file) and `flows-bot doctor` on a
healthy and a broken set-up, against the Slack and Discord stand-ins."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.settings import get_settings
from storage import database
from storage.errors import DatabaseCorrupt, DatabaseLocked, DatabaseReadOnly
from storage.store import Store
from tests.standins.discord_server import DiscordStandIn
from tests.standins.slack_server import SlackStandIn

ENV_KEYS = (
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_API_URL",
    "DISCORD_TOKEN",
    "DISCORD_API_URL",
    "DISCORD_GUILD_ID",
    "DATABASE_URL",
    "DATA_SOURCE",
    "FUNDS_FILE",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path) -> Iterator[None]:
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env from the checkout
    monkeypatch.setenv("DATA_SOURCE", "sample")
    monkeypatch.setenv("CHART_DIR", str(tmp_path / "charts"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def make_database(path: Path) -> str:
    url = f"sqlite+aiosqlite:///{path}"
    store = await Store.open(url)
    await store.add_subscription(platform="console", channel="C1", asset="BTC", kinds=["vol"])
    await store.close()
    for suffix in ("-wal", "-shm"):  # checkpointed and closed: the file alone is the database
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return url


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """A file this process cannot write — even as root (chattr +i), where permissions do not
    bind."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        try:
            yield
        finally:
            path.chmod(0o644)
        return
    if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode != 0:
        pytest.skip("cannot make a file read-only for root here (chattr +i)")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------ the storage boundary


def test_a_corrupt_database_file_is_one_clear_line_exit_2_and_left_untouched(tmp_path, capsys):
    path = tmp_path / "flows.db"
    path.write_bytes(b"this is not a database\n" * 200)
    before = digest(path)

    code, _out, err = run_cli(
        capsys, "run", "--once", "--no-input", "--database", f"sqlite:///{path}"
    )

    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert str(path) in err and "corrupt" in err and "backup" in err
    assert digest(path) == before
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0


async def test_the_store_raises_the_storage_error_types(tmp_path):
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"\x00garbage" * 512)
    with pytest.raises(DatabaseCorrupt):
        await Store.open(f"sqlite+aiosqlite:///{corrupt}")


def test_a_read_only_database_is_one_clear_line_exit_2_and_left_untouched(tmp_path, capsys):
    path = tmp_path / "flows.db"
    url = asyncio.run(make_database(path))
    before = digest(path)

    with read_only(path):
        code, _out, err = run_cli(capsys, "run", "--once", "--no-input", "--database", url)

    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert str(path) in err and "cannot be written" in err and "writable" in err
    assert digest(path) == before


def test_a_locked_database_is_one_clear_line_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 200)
    path = tmp_path / "flows.db"
    url = asyncio.run(make_database(path))
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        code, _out, err = run_cli(capsys, "run", "--once", "--no-input", "--database", url)
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert code == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert str(path) in err and "locked by another process" in err


async def test_storage_errors_are_typed_and_transient_only_for_a_lock(tmp_path, monkeypatch):
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 100)
    path = tmp_path / "flows.db"
    store = await Store.open(f"sqlite+aiosqlite:///{path}")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(DatabaseLocked) as raised:
            await store.add_subscription(platform="console", channel="C", asset="BTC", kinds="vol")
        assert raised.value.transient and raised.value.path == str(path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        await store.close()
    assert not DatabaseReadOnly("x", "p").transient and not DatabaseCorrupt("x", "p").transient


def test_run_stops_cleanly_when_the_database_turns_corrupt(tmp_path):
    """`run` (not --once) on a file that is not a database: one line, exit 2, no traceback."""
    path = tmp_path / "flows.db"
    path.write_bytes(b"not a database" * 100)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    env["DATABASE_URL"] = f"sqlite:///{path}"
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run", "--no-input"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "corrupt" in result.stderr


# ------------------------------------------------------------------ doctor


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    standin = await SlackStandIn().start()
    yield standin
    await standin.close()


@pytest.fixture
async def discord_standin() -> AsyncIterator[DiscordStandIn]:
    standin = await DiscordStandIn().start()
    yield standin
    await standin.close()


async def doctor(capsys) -> tuple[int, list[str]]:
    code = await asyncio.to_thread(main, ["doctor"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out.splitlines()


def line(lines: list[str], name: str) -> str:
    return next(text for text in lines if text.split()[1:2] == name.split()[:1])


async def test_doctor_on_a_healthy_set_up(tmp_path, capsys, monkeypatch, slack, discord_standin):
    path = tmp_path / "flows.db"
    monkeypatch.setenv("DATABASE_URL", await make_database(path))
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-test")
    monkeypatch.setenv("SLACK_API_URL", slack.api_url)
    monkeypatch.setenv("DISCORD_TOKEN", discord_standin.token)
    monkeypatch.setenv("DISCORD_API_URL", discord_standin.api_url)
    before = digest(path)

    code, lines = await doctor(capsys)

    assert code == 0, lines
    assert line(lines, "database").startswith("ok") and "integrity ok" in line(lines, "database")
    assert line(lines, "migrations").startswith("ok") and "at head" in line(lines, "migrations")
    assert line(lines, "writable").startswith("ok")
    assert line(lines, "slack").startswith("ok") and "flows-bot" in line(lines, "slack")
    assert line(lines, "discord").startswith("ok")
    assert line(lines, "market").startswith("ok") and "SAMPLE DATA" in line(lines, "market")
    assert slack.calls_to("auth.test") and discord_standin.to_route("GET /users/@me")
    assert digest(path) == before


async def test_doctor_on_a_broken_set_up_says_what_to_do(
    tmp_path, capsys, monkeypatch, slack, discord_standin
):
    path = tmp_path / "flows.db"
    path.write_bytes(b"not a database" * 100)
    before = digest(path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-wrong")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-test")
    monkeypatch.setenv("SLACK_API_URL", slack.api_url)
    monkeypatch.setenv("DISCORD_TOKEN", "wrong-token")
    monkeypatch.setenv("DISCORD_API_URL", discord_standin.api_url)
    monkeypatch.setenv("DATA_SOURCE", str(tmp_path / "no-such-dir"))

    code, lines = await doctor(capsys)

    assert code == 1
    database_line = line(lines, "database")
    assert database_line.startswith("FAIL") and "corrupt" in database_line and "→" in database_line
    assert line(lines, "slack").startswith("FAIL") and "invalid_auth" in line(lines, "slack")
    assert line(lines, "discord").startswith("FAIL") and "401" in line(lines, "discord")
    assert line(lines, "market").startswith("FAIL") and "DATA_SOURCE" in line(lines, "market")
    assert digest(path) == before


async def test_doctor_warns_when_the_slack_history_scope_is_missing(
    tmp_path, capsys, monkeypatch, slack
):
    monkeypatch.setenv("DATABASE_URL", await make_database(tmp_path / "flows.db"))
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-test")
    monkeypatch.setenv("SLACK_API_URL", slack.api_url)
    slack.history_scope = False

    code, lines = await doctor(capsys)

    assert code == 0
    slack_line = line(lines, "slack")
    assert slack_line.startswith("warn") and "channels:history" in slack_line
    assert "duplicates are possible" in slack_line
    assert line(lines, "channels").startswith("ok")


async def test_doctor_accepts_slack_in_oauth_mode(tmp_path, capsys, monkeypatch, slack):
    """SLACK_CLIENT_ID (many workspaces): no one bot token to test, and none is missing."""
    monkeypatch.setenv("DATABASE_URL", await make_database(tmp_path / "flows.db"))
    monkeypatch.setenv("SLACK_CLIENT_ID", "111.222")
    monkeypatch.setenv("SLACK_CLIENT_SECRET", "client-secret")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing-secret")
    monkeypatch.setenv("SLACK_API_URL", slack.api_url)

    code, lines = await doctor(capsys)

    assert code == 0, lines
    assert line(lines, "slack").startswith("ok") and "OAuth" in line(lines, "slack")
    assert not slack.calls_to("auth.test")


async def test_doctor_lists_broken_channels(tmp_path, capsys, monkeypatch):
    url = await make_database(tmp_path / "flows.db")
    store = await Store.open(url)
    await store.break_destination(
        platform="console", workspace="", channel="C1", user=None, reason="slack: is_archived"
    )
    await store.close()
    monkeypatch.setenv("DATABASE_URL", url)

    code, lines = await doctor(capsys)

    assert code == 0
    channels = line(lines, "channels")
    assert channels.startswith("warn") and "C1 (slack: is_archived" in channels
    assert "/flows watch" in channels
