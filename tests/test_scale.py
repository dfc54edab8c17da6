"""Several processes on one database: leader election, subscriptions seen across processes,
`--worker-id`, and a PostgreSQL URL that cannot be used (one line, exit code 2)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.cli import main
from storage import Store
from storage.leader import LeaderLock
from tests.botkit import RecordingAdapter, RecordingPlatform, sample_app, sample_settings

ROOT = Path(__file__).resolve().parents[1]


async def test_a_subscription_written_by_one_process_is_seen_by_the_others(database_url) -> None:
    """Each process keeps active subscriptions in memory, checked against the revision counter
    in the database — so a watch answered by one process reaches every other one's next tick."""
    first = await Store.open(database_url)
    second = await Store.open(database_url, migrate=False)
    try:
        await first.add_subscription(
            platform="slack", workspace="T1", channel="C1", asset="BTC", kinds="drift"
        )
        assert [s.channel for s in await second.active_subscriptions_for("BTC")] == ["C1"]
        await first.add_subscription(
            platform="slack", workspace="T1", channel="C2", asset="BTC", kinds="drift"
        )
        assert [s.channel for s in await second.active_subscriptions_for("BTC")] == ["C1", "C2"]
        await second.remove_subscriptions(platform="slack", workspace="T1", channel="C1")
        assert [s.channel for s in await first.active_subscriptions_for("BTC")] == ["C2"]
    finally:
        await first.close()
        await second.close()


async def test_one_leader_at_a_time_and_a_standby_takes_over(postgres_url) -> None:
    stores = [await Store.open(postgres_url), await Store.open(postgres_url, migrate=False)]
    leader, standby = (LeaderLock(store.engine) for store in stores)
    try:
        assert await leader.try_acquire()
        assert not await standby.try_acquire()
        assert await leader.still_held() and await leader.try_acquire()
        # The leader's process dies: the server ends its session and frees the lock.
        async with stores[1].engine.begin() as connection:
            await connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND granted"
                )
            )
        assert not await leader.still_held()
        assert await standby.try_acquire()
    finally:
        await standby.release()
        for store in stores:
            await store.close()


async def test_sqlite_process_is_always_the_leader(tmp_path) -> None:
    async with await Store.open(f"sqlite:///{tmp_path / 'one.db'}") as store:
        lock = store.leader_lock()
        assert not lock.shared and await lock.try_acquire() and await lock.still_held()


async def test_only_the_leader_runs_scheduled_ticks_and_a_standby_takes_over(
    tmp_path, postgres_url
) -> None:
    """Two bot apps on one database, the monitors every 0.5 s: only the leader ticks; when it
    stops, the standby runs the next tick within one interval."""
    settings = sample_settings(
        tmp_path, database_url=postgres_url, tick_interval_seconds=0.5, leader_retry_seconds=5
    )
    apps, tasks, ticks = [], [], {}
    for name in ("first", "second"):
        store = await Store.open(postgres_url)
        app = sample_app(
            settings.model_copy(update={"worker_id": name}),
            store,
            [RecordingAdapter(RecordingPlatform())],
        )
        ticks[name] = []

        async def counting_tick(as_of=None, *, app=app, name=name):
            ticks[name].append(time.monotonic())
            return await type(app).tick(app, as_of)

        app.tick = counting_tick
        apps.append(app)
        tasks.append(asyncio.create_task(app.run_forever()))
        await asyncio.sleep(0.3)  # the first one starts first and becomes the leader
    try:
        await asyncio.sleep(2.0)
        assert [app.is_leader for app in apps] == [True, False]
        assert len(ticks["first"]) >= 2 and ticks["second"] == []
        stopped = time.monotonic()
        apps[0].stop_event.set()
        await asyncio.wait_for(tasks[0], timeout=20)
        await apps[0].store.close()
        # The standby retries every min(leader_retry_seconds, interval) = 0.5 s.
        for _ in range(60):
            if ticks["second"]:
                break
            await asyncio.sleep(0.05)
        assert apps[1].is_leader and ticks["second"]
        assert ticks["second"][0] - stopped < 1.5
    finally:
        for app in apps:
            app.stop_event.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        for app in apps:
            await app.store.close()


def test_an_unreachable_postgresql_url_is_one_line_naming_the_host(capsys) -> None:
    code = main(
        [
            "run",
            "--once",
            "--source",
            "sample",
            "--database",
            "postgresql://flows:hunter2secret@127.0.0.1:1/flows",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "127.0.0.1:1/flows" in err
    assert "hunter2secret" not in err and "Traceback" not in err


@pytest.mark.parametrize(
    "command",
    [["why", "SPY", "--no-chart"], ["gamma", "SPY", "--no-chart"], ["positioning", "BTC"]],
)
def test_commands_with_a_live_cache_report_an_unreachable_database_in_one_line(
    command, capsys, monkeypatch
) -> None:
    """Store.open itself says it (these printed a ConnectionRefusedError traceback)."""
    from bot.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", "postgresql://flows:hunter2secret@127.0.0.1:1/flows")
    get_settings.cache_clear()
    try:
        code = main([*command, "--source", "live"])
    finally:
        get_settings.cache_clear()
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "cannot reach the PostgreSQL server at 127.0.0.1:1" in err
    assert "hunter2secret" not in err and "Traceback" not in err


def test_a_wrong_postgresql_database_is_one_line_without_the_password(capsys, postgres_url):
    from sqlalchemy.engine import make_url

    url = make_url(postgres_url).set(database="no_such_database", password="hunter2secret")
    code = main(
        [
            "run",
            "--once",
            "--source",
            "sample",
            "--database",
            url.render_as_string(hide_password=False),
        ]
    )
    _, err = capsys.readouterr()
    assert code == 2
    assert err.count("\n") == 1 and f"{url.host}:{url.port}/no_such_database" in err
    assert "hunter2secret" not in err and "Traceback" not in err


def test_worker_id_shows_in_the_logs_and_the_lease_columns(tmp_path, postgres_url) -> None:
    """`flows-bot run --worker-id NAME`: the process's log lines and the deliveries it claimed
    carry NAME. Leases are how processes share a PostgreSQL outbox; a SQLite file has one writer
    and no leases."""
    database_url = postgres_url
    env = {**os.environ, "DATA_SOURCE": "sample", "CHART_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)

    async def subscribe_and_alert() -> None:
        async with await Store.open(database_url) as store:
            subscription, _ = await store.add_subscription(
                platform="console", channel="console", asset="BTC", kinds="drift"
            )
            await store.record_alert(
                dedupe_key="drift:BTC:test",
                kind="drift",
                asset="BTC",
                as_of=dt.date(2026, 12, 4),
                title="BTC drift",
                content={"title": "BTC drift", "summary": "SAMPLE DATA", "sections": []},
                subscription_ids=[subscription.id],
            )

    asyncio.run(subscribe_and_alert())
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "run",
            "--no-input",
            "--worker-id",
            "desk-7",
            "--database",
            database_url,
            "--source",
            "sample",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    async def claimed_by() -> set[str | None]:
        async with await Store.open(database_url, migrate=False) as store:
            deliveries = await store.deliveries_for(1)
            return {d.claimed_by for d in deliveries}

    try:
        deadline = time.monotonic() + 60
        owners: set[str | None] = set()
        while time.monotonic() < deadline and not owners - {None}:
            time.sleep(1)
            owners = asyncio.run(claimed_by())
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert owners == {"desk-7"}, err[-2000:]
    assert "worker: desk-7" in out
    assert "[desk-7]" in err


def test_sigkilled_leader_is_replaced_within_one_interval(tmp_path, postgres_url) -> None:
    """Two `flows-bot run` processes on one PostgreSQL, monitors every 3 s: only the leader
    ticks; SIGKILL it and the standby runs the next tick within one interval (plus the
    standby's retry, half an interval, at worst)."""
    interval = 3.0
    env = {
        **os.environ,
        "DATABASE_URL": postgres_url,
        "DATA_SOURCE": "sample",
        "CHART_DIR": str(tmp_path),
        "TICK_INTERVAL_SECONDS": str(interval),
        "LOG_LEVEL": "INFO",
    }
    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "DISCORD_TOKEN", "SLACK_CLIENT_ID"):
        env.pop(name, None)
    logs = {name: tmp_path / f"{name}.log" for name in ("first", "second")}

    def start(name: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--no-input", "--worker-id", name],
            cwd=ROOT,
            env=env,
            stdout=logs[name].open("w"),
            stderr=subprocess.STDOUT,
        )

    def ticks(name: str) -> list[float]:
        """When the process logged each monitor tick (its log's own timestamps)."""
        stamps = []
        for line in logs[name].read_text(errors="replace").splitlines():
            if f"[{name}] bot.app: tick " in line:
                stamp = dt.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
                stamps.append(stamp.timestamp())
        return stamps

    def wait_for(predicate, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(
                    "\n".join(f"{n}: {p.read_text()[-1500:]}" for n, p in logs.items())
                )
            time.sleep(0.1)

    first = start("first")
    second = None
    try:
        wait_for(lambda: len(ticks("first")) >= 2, 60)
        second = start("second")
        wait_for(lambda: "flows-bot running" in logs["second"].read_text(), 60)
        time.sleep(2 * interval)
        assert ticks("second") == []  # a standby does not run the monitors
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        last_tick_of_the_dead = ticks("first")[-1]
        wait_for(lambda: ticks("second"), 30)
        gap = ticks("second")[0] - last_tick_of_the_dead
        assert gap <= 1.5 * interval + 1.0, gap
        assert "worker second is the leader" in logs["second"].read_text()
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
