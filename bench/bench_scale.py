"""Several `flows-bot run` processes on one PostgreSQL database, against the local Slack and
Discord stand-ins (tests/standins/), with processes SIGKILLed and restarted mid-run.

Scenario: 200 channels (100 Slack channels over 4 workspaces, 100 Discord channels) each watch
10 assets; 10 alerts (one per asset) fan out to 2,000 deliveries while the processes run. Every
posted message is matched to its delivery by its idempotency key (Slack message metadata,
Discord nonce), and the report says: deliveries, kills, lost, duplicated, channels out of alert
order, and throughput (deliveries per second, from the first alert until the outbox has no
pending delivery left, polled every 50 ms; lost ones are not counted).

Runs: 1 process; 3 processes; 3 processes with 5 SIGKILLs of a random process (each restarted).
Then the outbox claim rate with 1 and 3 claimers (no sending).

Run: .venv/bin/python bench/bench_scale.py [--database postgresql://…] [--quick]
Without --database a throw-away PostgreSQL is started from the machine's pg_ctl.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bot.adapters.discord import nonce_for  # noqa: E402
from storage import NewAlert, Store  # noqa: E402
from tests.postgres import throwaway_postgres, wipe_public_schema  # noqa: E402
from tests.standins.discord_server import DiscordStandIn  # noqa: E402
from tests.standins.slack_server import SlackStandIn  # noqa: E402

SLACK_WORKSPACES = 4
DISCORD_GUILD = "900000000000000001"
LEASE_SECONDS = 5.0


@dataclass
class Outcome:
    processes: int
    deliveries: int
    kills: int
    lost: int
    duplicated: int
    out_of_order: int
    seconds: float
    slack_duplicates: int = 0
    discord_duplicates: int = 0
    found_posted: int = 0
    """In-flight deliveries (a kill, a failed worker) found on the platform and not resent."""

    @property
    def per_second(self) -> float:
        return (self.deliveries - self.lost) / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        return (
            f"{self.processes} process(es): {self.deliveries} deliveries, {self.kills} kills, "
            f"lost {self.lost}, duplicated {self.duplicated} (Slack {self.slack_duplicates}, "
            f"Discord {self.discord_duplicates}), channels out of order "
            f"{self.out_of_order}, {self.seconds:.1f} s, {self.per_second:.0f} deliveries/s"
            + (f"; {self.found_posted} found already posted" if self.kills else "")
        )


async def reset(url: str) -> None:
    """An empty schema at head (each run starts from nothing)."""
    await wipe_public_schema(url)
    await (await Store.open(url)).close()


async def seed(store: Store, channels: int, assets: int) -> dict[str, list[int]]:
    """Subscriptions: channel i watches every asset; returns {asset: subscription ids}."""
    by_asset: dict[str, list[int]] = defaultdict(list)
    for index in range(channels):
        if index % 2 == 0:
            target = {
                "platform": "slack",
                "workspace": f"T{index % (2 * SLACK_WORKSPACES) // 2}",
                "channel": f"C{index:05d}",
            }
        else:
            target = {
                "platform": "discord",
                "workspace": DISCORD_GUILD,
                "channel": str(800_000_000_000_000_000 + index),
            }
        for number in range(assets):
            subscription, _ = await store.add_subscription(
                asset=f"A{number}", kinds="drift", **target
            )
            by_asset[f"A{number}"].append(subscription.id)
    return by_asset


def start_process(name: str, env: dict[str, str], log_dir: Path) -> subprocess.Popen:
    log = (log_dir / f"{name}.log").open("a")
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--no-input", "--worker-id", name],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


async def wait_ready(log_dir: Path, name: str, starts: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    path = log_dir / f"{name}.log"
    while time.monotonic() < deadline:
        if path.exists() and path.read_text(errors="replace").count("flows-bot running") >= starts:
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{name} did not start: {path.read_text(errors='replace')[-2000:]}")


async def scenario(url: str, processes: int, kills: int, channels: int, assets: int) -> Outcome:
    await reset(url)
    slack = await SlackStandIn().start()
    discord = await DiscordStandIn().start()
    store = await Store.open(url, migrate=False)
    log_dir = Path(tempfile.mkdtemp(prefix="flows-bench-scale-"))
    running: dict[str, subprocess.Popen] = {}
    starts: dict[str, int] = defaultdict(int)
    try:
        by_asset = await seed(store, channels, assets)
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "DATA_SOURCE": "sample",
            "CHART_DIR": str(log_dir),
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_APP_TOKEN": slack.app_token,
            "SLACK_API_URL": slack.api_url,
            "DISCORD_TOKEN": discord.token,
            "DISCORD_API_URL": discord.api_url,
            "OUTBOX_LEASE_SECONDS": str(LEASE_SECONDS),
            "LOG_LEVEL": "INFO",  # the "already posted; not resending" look-ups are counted
        }
        names = [f"w{number}" for number in range(processes)]
        for name in names:
            running[name] = start_process(name, env, log_dir)
            starts[name] += 1
        for name in names:
            await wait_ready(log_dir, name, starts[name])

        began = time.monotonic()
        for number in range(assets):  # one alert per asset, in order: the order to check
            asset = f"A{number}"
            await store.record_alerts(
                [
                    NewAlert(
                        dedupe_key=f"drift:{asset}:bench",
                        kind="drift",
                        asset=asset,
                        as_of=dt.date(2026, 12, 4),
                        title=f"{asset} drift",
                        content={"title": f"{asset} drift", "summary": f"alert {number}"},
                        subscription_ids=by_asset[asset],
                    )
                ]
            )
            await asyncio.sleep(0.05)
        expected = channels * assets

        rng = random.Random(20)
        killed = 0
        kill_every = 2.0
        next_kill = time.monotonic() + 1.0
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if await store.pending_count() == 0:
                break
            if killed < kills and time.monotonic() >= next_kill:
                victim = rng.choice(names)
                running[victim].send_signal(signal.SIGKILL)
                running[victim].wait()
                killed += 1
                running[victim] = start_process(victim, env, log_dir)
                starts[victim] += 1
                next_kill = time.monotonic() + kill_every
            await asyncio.sleep(0.05)
        seconds = time.monotonic() - began
        if killed < kills:
            print(f"  (the run ended after {killed} of {kills} kills)")
        outcome = await analyse(store, slack, discord, processes, killed, expected, seconds)
        outcome.found_posted = found_posted(log_dir)
        return outcome
    finally:
        for process in running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in running.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        await store.close()
        await slack.close()
        await discord.close()


def found_posted(log_dir: Path) -> int:
    """Deliveries the processes found already posted before resending (bot/dispatcher.py)."""
    found = 0
    for path in log_dir.glob("*.log"):
        text = path.read_text(errors="replace")
        found += text.count("was already posted (")
        found += sum(
            int(n) for n in re.findall(r"(\d+) deliver(?:y was|ies were) already posted", text)
        )
    return found


async def analyse(store, slack, discord, processes, kills, expected, seconds) -> Outcome:
    """Match every post to its delivery; count lost, duplicated and out-of-order channels."""
    async with store.engine.connect() as connection:
        rows = (
            await connection.execute(
                sa.text("SELECT alert_id, subscription_id, platform, channel FROM deliveries")
            )
        ).all()
    keys = {
        f"flows-{alert}-{sub}": (alert, platform, channel) for alert, sub, platform, channel in rows
    }
    by_nonce = {nonce_for(key): key for key in keys}
    posts: list[tuple[str, str]] = []  # (channel, key) in the order the platform accepted them
    for params in slack.posted():
        metadata = params.get("metadata")
        if isinstance(metadata, str):
            metadata = json.loads(metadata)
        posts.append((params["channel"], metadata["event_payload"]["key"]))
    for request in discord.channel_posts():
        channel = request.path.split("/")[-2]
        key = by_nonce.get(str(request.payload.get("nonce")))
        if key is not None:
            posts.append((channel, key))
    # Discord returns the existing message for a repeated nonce: one message, not two.
    created = sum(len(messages) for messages in discord.messages.values())
    discord_keys = [key for channel, key in posts if not channel.startswith("C")]
    seen: dict[str, int] = defaultdict(int)
    for _, key in posts:
        seen[key] += 1
    slack_duplicates = sum(
        count - 1 for key, count in seen.items() if keys.get(key, (0, "", ""))[1] == "slack"
    )
    discord_duplicates = created - len(set(discord_keys))
    lost = len(set(keys) - set(seen))
    order: dict[str, list[int]] = defaultdict(list)
    for channel, key in posts:
        alert = keys[key][0]
        if alert not in order[channel]:
            order[channel].append(alert)
    out_of_order = sum(1 for alerts in order.values() if alerts != sorted(alerts))
    return Outcome(
        processes,
        expected,
        kills,
        lost,
        slack_duplicates + discord_duplicates,
        out_of_order,
        seconds,
        slack_duplicates,
        discord_duplicates,
    )


async def claim_rate(url: str, claimers: int, deliveries: int = 20_000) -> float:
    """Deliveries claimed and settled per second by `claimers` stores (processes' worth of
    connection pools), no sending: the outbox's own ceiling."""
    await reset(url)
    seeder = await Store.open(url, migrate=False)
    by_asset = await seed(seeder, channels=deliveries // 10, assets=1)
    await seeder.record_alerts(
        [
            NewAlert(
                dedupe_key=f"drift:A0:{number}",
                kind="drift",
                asset="A0",
                as_of=dt.date(2026, 12, 4),
                title="x",
                content={"title": "x", "summary": "y"},
                subscription_ids=by_asset["A0"],
            )
            for number in range(10)
        ]
    )
    stores = [await Store.open(url, migrate=False) for _ in range(claimers)]

    async def work(name: str, store: Store) -> None:
        while True:
            batch = await store.claim_due(name, lease_seconds=60, limit=500)
            if not batch:
                if await store.pending_count() == 0:
                    return
                await asyncio.sleep(0.005)
                continue
            await store.mark_sent_many([(claim.delivery.id, "m") for claim in batch])

    began = time.perf_counter()
    await asyncio.gather(*(work(f"c{i}", store) for i, store in enumerate(stores)))
    elapsed = time.perf_counter() - began
    for store in [seeder, *stores]:
        await store.close()
    return deliveries / elapsed


async def run(url: str, quick: bool, kills_only: bool = False) -> None:
    channels, assets = (40, 5) if quick else (200, 10)
    print(f"== {channels} channels x {assets} assets; lease {LEASE_SECONDS:.0f} s")
    outcomes = (
        []
        if kills_only
        else [
            await scenario(url, 1, 0, channels, assets),
            await scenario(url, 3, 0, channels, assets),
        ]
    )
    outcomes.append(await scenario(url, 3, 2 if quick else 5, channels, assets))
    for outcome in outcomes:
        print(outcome.line())
    if kills_only:
        return
    print("== outbox claim rate (claim + mark sent, no sending), PostgreSQL")
    for claimers in (1, 3):
        rate = await claim_rate(url, claimers, 5_000 if quick else 20_000)
        print(f"{claimers} claimer(s): {rate:,.0f} deliveries/s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", help="PostgreSQL URL (default: a throw-away server)")
    parser.add_argument("--quick", action="store_true", help="a small run (smoke test)")
    parser.add_argument("--kills-only", action="store_true", help="only the SIGKILL scenario")
    args = parser.parse_args()
    if args.database:
        asyncio.run(run(args.database, args.quick, args.kills_only))
        return 0
    with throwaway_postgres("flows_bench") as url:
        asyncio.run(run(url, args.quick, args.kills_only))
    return 0


if __name__ == "__main__":
    sys.exit(main())
