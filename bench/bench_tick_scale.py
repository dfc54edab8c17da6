"""The monitor tick as subscriptions grow: 10,000 and 100,000 subscriptions over 50 assets, on
SQLite and on PostgreSQL (a throw-away server from the machine's pg_ctl, or --database).

Per size and back-end: the first tick after start-up (one-off: loads every subscription into
memory), the tick that fires (every asset's quarter-end countdown: one delivery per
subscription; median and range of 3, the alerts forgotten in between) and the steady tick
(nothing new; median of 3). Charts off, bars in memory (no
network): the database and the bot's own work are what is measured.
Targets at 100k: steady < 200 ms, firing < 1 s on either back-end.

Run: .venv/bin/python bench/bench_tick_scale.py [--database postgresql://…] [--sizes 10000,100000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import sqlalchemy as sa  # noqa: E402
from bench_bot import AS_OF, N_ASSETS, WARM_UP, FrameSource, make_frames, registry_text  # noqa: E402

from bot.app import freeze_startup_heap  # noqa: E402
from bot.monitors.tick import run_tick  # noqa: E402
from bot.monitors.track_line import warm_record_lines  # noqa: E402
from bot.settings import Settings  # noqa: E402
from flows.funds import parse_registry  # noqa: E402
from flows.marketdata import MarketData  # noqa: E402
from flows.status import AnalyticsConfig, resolve_asset  # noqa: E402
from storage.store import Store  # noqa: E402
from tests.postgres import throwaway_postgres, wipe_public_schema  # noqa: E402


async def empty(url: str) -> None:
    if url.startswith("postgresql"):
        await wipe_public_schema(url)


TARGET_SIZE = 100_000
STEADY_TARGET_S = 0.2
FIRING_TARGET_S = 1.0
"""At TARGET_SIZE subscriptions, on either back-end (medians)."""

FIRINGS = 3
"""The firing tick is measured this many times (median and range): one run is one sample of a
figure that varies by tens of percent on a shared machine."""


async def forget_alerts(store: Store) -> None:
    """Back to the state before the firing tick: no alerts, deliveries or monitor state, so the
    same tick fires the same 100,000 deliveries again."""
    async with store.engine.begin() as connection:
        for table in ("live_records", "deliveries", "alerts", "monitor_state"):
            if connection.dialect.name == "postgresql":
                await connection.execute(sa.text(f"TRUNCATE {table} CASCADE"))
            else:
                await connection.execute(sa.text(f"DELETE FROM {table}"))


async def measure(url: str, size: int, chart_dir: Path) -> tuple[str, bool]:
    """The figures' line, and whether they meet the targets (always true below TARGET_SIZE)."""
    await empty(url)
    symbols = [f"EQ{index:02d}" for index in range(N_ASSETS)]
    source = FrameSource(make_frames([*symbols, "BOND0", "SPY"]))
    registry = parse_registry(registry_text(symbols), "bench")
    settings = Settings(_env_file=None, data_source="sample", database_url=url, chart_dir=chart_dir)
    store = await Store.open(url)
    try:
        # As bench_bot: 200 subscriptions watch every kind, the rest only the countdown; 50
        # assets per channel.
        await store.add_subscriptions(
            {
                "platform": "console",
                "channel": f"C{index // N_ASSETS}",
                "asset": symbols[index % N_ASSETS],
                "kinds": "quarter_end,drift,vol" if index < 200 else "quarter_end",
            }
            for index in range(size)
        )
        freeze_startup_heap()
        start = time.perf_counter()
        await run_tick(store, MarketData(source), registry, settings, WARM_UP, charts=False)
        cold = time.perf_counter() - start
        # As the bot does in the background after a daily tick (see bench_bot): the countdown
        # alerts' track-record lines, once per completed quarter (not part of a tick).
        await warm_record_lines(
            [resolve_asset(symbol, registry) for symbol in symbols],
            WARM_UP,
            MarketData(source),
            registry,
            settings.track_since,
            AnalyticsConfig(with_garch=False),
        )
        firings: list[float] = []
        fired = None
        for repeat in range(FIRINGS):
            if repeat:
                await forget_alerts(store)
            start = time.perf_counter()
            result = await run_tick(
                store, MarketData(source), registry, settings, AS_OF, charts=False
            )
            firings.append(time.perf_counter() - start)
            fired = fired if repeat else result  # the first: the monitors' states were real
        steady = []
        for _ in range(3):
            start = time.perf_counter()
            await run_tick(store, MarketData(source), registry, settings, AS_OF, charts=False)
            steady.append(time.perf_counter() - start)
    finally:
        await store.close()
    backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    firing, steady_median = statistics.median(firings), statistics.median(steady)
    met = size < TARGET_SIZE or (firing < FIRING_TARGET_S and steady_median < STEADY_TARGET_S)
    verdict = "" if size < TARGET_SIZE else ("  ok" if met else "  MISSED")
    line = (
        f"{backend:<10} {size:>7,} subscriptions: first {cold * 1000:6.0f} ms, firing "
        f"({fired.deliveries:,} deliveries) {firing * 1000:6.0f} ms "
        f"({min(firings) * 1000:.0f}–{max(firings) * 1000:.0f}), steady "
        f"{steady_median * 1000:5.0f} ms{verdict}"
    )
    return line, met


async def run(postgres_url: str, sizes: list[int]) -> bool:
    """Prints each line; True when every target is met."""
    print("tick by subscriptions (targets at 100k: steady < 200 ms, firing < 1 s)")
    met = True
    with tempfile.TemporaryDirectory() as scratch:
        for size in sizes:
            sqlite_url = f"sqlite+aiosqlite:///{scratch}/tick-{size}.db"
            for url in (sqlite_url, postgres_url):
                line, ok = await measure(url, size, Path(scratch))
                print(line, flush=True)
                met = met and ok
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", help="PostgreSQL URL (default: a throw-away server)")
    parser.add_argument("--sizes", default="10000,100000")
    args = parser.parse_args()
    sizes = [int(part) for part in args.sizes.split(",")]
    if args.database:
        return 0 if asyncio.run(run(args.database, sizes)) else 1
    with throwaway_postgres("flows_tick_bench") as url:
        return 0 if asyncio.run(run(url, sizes)) else 1


if __name__ == "__main__":
    sys.exit(main())
