"""Ten SIGKILLs during a fan-out, restart after each: nothing lost, nothing posted twice.

The real bot runs as a subprocess (`python -m bot.cli run`) against the local Slack and Discord
stand-ins, draining a 200-delivery fan-out written to its SQLite outbox beforehand. The test kills
it at random moments (some right after the stand-in accepted a message, before the bot could
record it), restarts it, and finally counts what each platform received per delivery key."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import signal
import sys
from collections import Counter
from pathlib import Path

from bot.adapters.discord import nonce_for
from storage.store import Store
from tests.delivery_seed import seed_fan_out
from tests.standins.discord_server import DiscordStandIn
from tests.standins.slack_server import SlackStandIn

ROOT = Path(__file__).resolve().parents[1]
KILLS = 10
CHANNELS = 40
ALERTS = 5


def _env(tmp: Path, database: str, **platform: str) -> dict[str, str]:
    now = dt.datetime.now(dt.UTC)
    far = (now + dt.timedelta(hours=12)).strftime("%H:%M")  # no scheduled check during the test
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "DISCORD_", "DATABASE_"))
    }
    env.update(
        PYTHONPATH=str(ROOT),
        DATABASE_URL=database,
        DATA_SOURCE="sample",
        POST_TIME_UTC=far,
        CHART_DIR=str(tmp / "charts"),
        LOG_LEVEL="INFO",
        **platform,
    )
    return env


_MIGRATING = asyncio.Lock()
"""Alembic keeps its migration context in module globals: one `Store.open` at a time."""


async def _open(database: str) -> Store:
    async with _MIGRATING:
        return await Store.open(database)


async def _seed(
    database: str, platform: str, workspace: str, channels: list[str], alerts: int = ALERTS
):
    store = await _open(database)
    try:
        expected = await seed_fan_out(
            store, platform=platform, workspace=workspace, channels=channels, alerts=alerts
        )
        # Today's check already ran: the bot only drains the outbox.
        today = dt.datetime.now(dt.UTC).date().isoformat()
        await store.set_state("_scheduler", "monitors", {"date": today})
    finally:
        await store.close()
    return expected


async def _crash_and_restart(
    tmp: Path, env: dict[str, str], accepted, total: int, seed: int
) -> tuple[int, int]:
    """Run the bot, SIGKILL it at random points of the fan-out KILLS times, then let it finish.
    Returns (kills, restarts)."""
    rng = random.Random(seed)
    kills = 0
    loop = asyncio.get_running_loop()
    started_at = loop.time()
    log = (tmp / "bot.log").open("ab")
    while True:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "run",
            "--no-input",
            cwd=tmp,
            env=env,
            stdout=log,
            stderr=log,
        )
        try:
            if kills < KILLS:
                before = accepted()
                target = min(total - 1, before + rng.randint(1, 8))
                launched = loop.time()
                while accepted() == before and process.returncode is None:
                    await asyncio.sleep(0.002)
                first_send = loop.time() - launched
                while accepted() < target and process.returncode is None:
                    await asyncio.sleep(0.002)
                if os.environ.get("CRASH_TEST_TRACE"):
                    print(f"run {kills}: first send after {first_send:.1f}s, {accepted()} sent")
                await asyncio.sleep(rng.uniform(0, 0.03))
                process.send_signal(signal.SIGKILL)
                await process.wait()
                kills += 1
                continue
            deadline = asyncio.get_running_loop().time() + 60
            while accepted() < total and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # the last records commit
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), timeout=20)
            if os.environ.get("CRASH_TEST_TRACE"):
                print(f"finished after {loop.time() - started_at:.1f}s")
            return kills, kills + 1
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()


async def _database_counts(database: str) -> dict[str, int]:
    store = await _open(database)
    try:
        return await store.delivery_counts()
    finally:
        await store.close()


def _reconciled(log: Path) -> int:
    """How many in-flight deliveries the restarted bot found already posted (its log says)."""
    found = 0
    for line in log.read_text(errors="replace").splitlines():
        if "already posted before a restart" in line:
            found += int(line.split(" deliver")[0].rsplit(" ", 1)[-1])
    return found


async def _slack_run(tmp: Path) -> dict[str, int]:
    tmp.mkdir()
    slack = await SlackStandIn().start()
    try:
        database = f"sqlite+aiosqlite:///{tmp / 'bot.db'}"
        channels = [f"C{index:03d}" for index in range(CHANNELS)]
        expected = await _seed(database, "slack", "T0TEAM", channels)
        env = _env(
            tmp,
            database,
            SLACK_BOT_TOKEN="xoxb-test",
            SLACK_APP_TOKEN="xapp-test",
            SLACK_API_URL=slack.api_url,
        )
        total = sum(len(keys) for keys in expected.values())
        kills, _ = await _crash_and_restart(
            tmp, env, lambda: len(slack.delivered_keys()), total, seed=19
        )
        received = Counter(slack.delivered_keys())
        wanted = {key for keys in expected.values() for key in keys}
        return {
            "deliveries": total,
            "kills": kills,
            "lost": len(wanted - set(received)),
            "duplicated": sum(n - 1 for n in received.values() if n > 1),
            "history_lookups": len(slack.calls_to("conversations.history")),
            # Sends Slack had taken when a kill came, found in history instead of re-sent:
            "found_in_history": _reconciled(tmp / "bot.log"),
            **{f"db_{k}": v for k, v in (await _database_counts(database)).items()},
        }
    finally:
        await slack.close()


async def _discord_run(tmp: Path) -> dict[str, int]:
    tmp.mkdir()
    discord = await DiscordStandIn().start()
    try:
        database = f"sqlite+aiosqlite:///{tmp / 'bot.db'}"
        channels = [str(700000000000000000 + index) for index in range(CHANNELS)]
        # Discord takes 48 messages a second: a longer fan-out, so that all ten kills land in it.
        expected = await _seed(database, "discord", "800000000000000001", channels, alerts=10)
        env = _env(tmp, database, DISCORD_TOKEN=discord.token, DISCORD_API_URL=discord.api_url)
        total = sum(len(keys) for keys in expected.values())
        kills, _ = await _crash_and_restart(
            tmp, env, lambda: len(discord.delivered_nonces()), total, seed=20
        )
        received = Counter(discord.delivered_nonces())
        wanted = {nonce_for(key) for keys in expected.values() for key in keys}
        return {
            "deliveries": total,
            "kills": kills,
            "lost": len(wanted - set(received)),
            "duplicated": sum(n - 1 for n in received.values() if n > 1),
            "nonce_replays": len(discord.channel_posts()) - len(discord.delivered_nonces()),
            **{f"db_{k}": v for k, v in (await _database_counts(database)).items()},
        }
    finally:
        await discord.close()


async def test_ten_sigkills_during_a_fan_out_lose_and_duplicate_nothing(tmp_path) -> None:
    slack, discord = await asyncio.gather(
        _slack_run(tmp_path / "slack"), _discord_run(tmp_path / "discord")
    )
    print(f"\nslack crash test: {slack}\ndiscord crash test: {discord}")
    for figures in (slack, discord):
        assert figures["kills"] == KILLS
        assert figures["lost"] == 0, figures
        assert figures["duplicated"] == 0, figures
        assert figures["db_sent"] == figures["deliveries"] and figures["db_pending"] == 0
