"""Fan-out delivery against stand-ins that enforce the platforms' rate limits.

For Slack and Discord, at 200 channels × 5 alerts and 20 channels × 50 alerts, the real adapters
and the real dispatcher drain an outbox written to a SQLite file into the local stand-ins
(tests/standins/), which hold every message to the platform's limits and answer 429 beyond them:

- Slack: 1 message per second per channel, 20 per second per workspace (Retry-After on a 429).
- Discord: a bucket of 5 messages per 5 s per channel, announced in X-RateLimit-* headers, and
  the global 50 requests per second.

Reported per run: throughput as a share of the bound (the sustained rate those limits allow for
that fan-out: min(channels × per-channel rate, overall rate)), the 429s the stand-in had to
answer (all self-inflicted: nothing else is sent), and how many channels received their alerts
out of order. Targets: ≥ 0.9 × the bound, 0 429s, 0 channels out of order.

    python bench/bench_delivery.py                # all four runs (about 3 minutes)
    python bench/bench_delivery.py --platform slack --shape 20x50
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.adapters.discord import DiscordAdapter, nonce_for
from bot.adapters.slack import SlackAdapter
from bot.dispatcher import Dispatcher
from storage.store import Store
from tests.delivery_seed import seed_fan_out
from tests.standins.discord_server import DiscordStandIn
from tests.standins.slack_server import SlackStandIn

SHAPES = {"200x5": (200, 5), "20x50": (20, 50)}


def bound_per_second(platform: str, channels: int) -> float:
    if platform == "slack":
        return min(channels * 1.0, 20.0)
    return min(channels * 5 / 5.0, 50.0)


async def run_slack(channels: int, alerts: int, folder: Path) -> dict:
    standin = await SlackStandIn().start()
    standin.enforce_limits = True
    store = await Store.open(f"sqlite+aiosqlite:///{folder / 'slack.db'}")
    adapter = SlackAdapter("xoxb-test", app_token="xapp-test", api_url=standin.api_url)
    try:
        names = [f"C{index:04d}" for index in range(channels)]
        expected = await seed_fan_out(
            store, platform="slack", workspace="T0TEAM", channels=names, alerts=alerts
        )
        started = time.monotonic()
        await Dispatcher(store, {"slack": adapter}).drain(max_wait=600)
        elapsed = time.monotonic() - started
        received = {name: standin.delivered_keys(name) for name in names}
        return _figures("slack", expected, received, elapsed, standin.limited)
    finally:
        await adapter.stop()
        await store.close()
        await standin.close()


async def run_discord(channels: int, alerts: int, folder: Path) -> dict:
    standin = await DiscordStandIn().start()
    standin.enforce_limits = True
    store = await Store.open(f"sqlite+aiosqlite:///{folder / 'discord.db'}")
    adapter = DiscordAdapter(standin.token, api_url=standin.api_url)

    async def no_commands(ctx, text):
        raise AssertionError("no commands in a benchmark")

    await adapter.start(no_commands)
    try:
        names = [str(700000000000000000 + index) for index in range(channels)]
        expected = await seed_fan_out(
            store, platform="discord", workspace="800000000000000001", channels=names, alerts=alerts
        )
        started = time.monotonic()
        await Dispatcher(store, {"discord": adapter}).drain(max_wait=600)
        elapsed = time.monotonic() - started
        by_nonce = {nonce_for(key): key for keys in expected.values() for key in keys}
        received = {
            name: [by_nonce.get(nonce, nonce) for nonce in standin.delivered_nonces(name)]
            for name in names
        }
        return _figures("discord", expected, received, elapsed, standin.limited)
    finally:
        await adapter.stop()
        await store.close()
        await standin.close()


def _figures(platform, expected, received, elapsed, limited) -> dict:
    """Distinct deliveries only: a duplicate is counted apart, never as throughput, and a
    channel's order is compared on the messages it got (a lost one is counted as lost)."""
    total = sum(len(keys) for keys in expected.values())
    firsts = {name: list(dict.fromkeys(received[name])) for name in expected}
    delivered = sum(len(set(firsts[name]) & set(keys)) for name, keys in expected.items())
    duplicates = sum(len(received[name]) - len(firsts[name]) for name in expected)
    bound = bound_per_second(platform, len(expected))
    out_of_order = 0
    for name, keys in expected.items():
        got = set(firsts[name])
        if [key for key in keys if key in got] != [key for key in firsts[name] if key in keys]:
            out_of_order += 1
    return {
        "delivered": delivered,
        "total": total,
        "lost": total - delivered,
        "duplicates": duplicates,
        "seconds": elapsed,
        "per_second": delivered / elapsed,
        "bound": bound,
        "share": (delivered / elapsed) / bound,
        "429s": limited,
        "out_of_order": out_of_order,
    }


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--platform", choices=("slack", "discord"), action="append")
    parser.add_argument("--shape", choices=tuple(SHAPES), action="append")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("discord").setLevel(logging.CRITICAL)
    print(
        f"{'platform':<8} {'fan-out':<8} {'sent':>9} {'seconds':>8} {'msg/s':>7} "
        f"{'bound':>6} {'share':>6} {'429s':>5} {'out of order':>13} {'lost':>5} {'dup':>5}"
    )
    failed = False
    for platform in args.platform or ("slack", "discord"):
        for shape in args.shape or tuple(SHAPES):
            channels, alerts = SHAPES[shape]
            with tempfile.TemporaryDirectory() as folder:
                run = run_slack if platform == "slack" else run_discord
                figures = await run(channels, alerts, Path(folder))
            ok = (
                figures["share"] >= 0.9
                and figures["429s"] == 0
                and not figures["out_of_order"]
                and not figures["lost"]
                and not figures["duplicates"]
            )
            failed |= not ok
            print(
                f"{platform:<8} {shape:<8} {figures['delivered']:>4}/{figures['total']:<4} "
                f"{figures['seconds']:>8.1f} {figures['per_second']:>7.1f} "
                f"{figures['bound']:>6.0f} {figures['share']:>6.2f} {figures['429s']:>5} "
                f"{figures['out_of_order']:>13} {figures['lost']:>5} {figures['duplicates']:>5}"
                + ("" if ok else "   (target missed)"),
                flush=True,
            )
    print(
        "targets: share ≥ 0.90, 0 self-inflicted 429s, 0 channels out of order, none lost "
        "or duplicated"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
