"""Bot benchmarks: one monitor tick for 10,000 subscriptions over 50 assets (no network),
dispatcher overhead per delivery with an instant adapter, and peak memory.

Targets: tick < 200 ms, dispatcher < 1 ms per delivery, peak memory < 250 MB.
Run: .venv/bin/python bench/bench_bot.py
"""

from __future__ import annotations

import asyncio
import datetime as dt
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.adapters.base import ChatAdapter, Pacing
from bot.app import freeze_startup_heap
from bot.dispatcher import Dispatcher
from bot.monitors.tick import run_tick
from bot.settings import Settings
from flows import calendar
from flows.funds import parse_registry
from flows.marketdata import MarketData
from storage.store import Store

N_ASSETS = 50
N_SUBSCRIPTIONS = 10_000
AS_OF = dt.date(2026, 9, 24)  # 4 sessions before the 2026Q3 end: every asset's countdown fires
WARM_UP = dt.date(2026, 8, 26)  # 24 sessions before it: no countdown step is due


class FrameSource:
    """Bars already in memory: the tick measured without any network or disk."""

    name = "bench"
    is_sample = True

    def __init__(self, frames: dict[str, pd.DataFrame]) -> None:
        self.frames = frames
        self.calls = 0

    async def fetch(self, symbol, start, end):
        self.calls += 1
        return self.frames[symbol].loc[pd.Timestamp(start) : pd.Timestamp(end)]

    async def close(self) -> None:
        return None


class InstantAdapter(ChatAdapter):
    platform = "console"
    pacing = Pacing(100_000, 1.0, 100_000)

    def __init__(self) -> None:
        self.count = 0
        self.keys: dict[str, str] = {}

    async def start(self, handle_command) -> None:
        return None

    async def send(self, destination, message, idempotency_key) -> str:
        self.count += 1
        self.keys[idempotency_key] = str(self.count)
        return str(self.count)

    async def find_sent(self, destination, idempotency_key) -> str | None:
        return self.keys.get(idempotency_key)

    async def stop(self) -> None:
        return None


def make_frames(symbols: list[str]) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(7)
    sessions = pd.DatetimeIndex(calendar.sessions_between(dt.date(2022, 1, 3), AS_OF))
    frames = {}
    for symbol in symbols:
        close = 100 * np.exp(np.cumsum(rng.normal(0.0003, 0.012, len(sessions))))
        frames[symbol] = pd.DataFrame(
            {
                "open": close,
                "high": close * 1.01,
                "low": close * 0.99,
                "close": close,
                "volume": np.full(len(sessions), 1e6),
                "adj_close": close,
            },
            index=sessions.rename("date"),
        )
    return frames


def registry_text(symbols: list[str]) -> str:
    funds = []
    for index, symbol in enumerate(symbols):
        funds.append(
            f'[[fund]]\nname = "Fund {index}"\naum_usd = 5e10\nrebalance = "quarterly"\n'
            f'aum_source = "bench"\nweights = {{ BOND0 = 0.6, {symbol} = 0.4 }}\n'
        )
    return "\n".join(funds)


async def main() -> None:
    symbols = [f"EQ{index:02d}" for index in range(N_ASSETS)]
    frames = make_frames([*symbols, "BOND0", "SPY"])  # SPY: the track record's benchmark
    registry = parse_registry(registry_text(symbols), "bench")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            _env_file=None,
            data_source="sample",
            database_url=f"sqlite+aiosqlite:///{tmp}/bench.db",
            chart_dir=Path(tmp) / "charts",
        )
        store = await Store.open(settings.database_url)
        # The first 200 subscriptions watch every kind; the rest only the countdown.
        for index in range(200):
            await store.add_subscription(
                platform="console",
                channel=f"C{index // N_ASSETS}",
                asset=symbols[index % N_ASSETS],
                kinds=("quarter_end", "drift", "vol"),
            )
        rows = [
            {"channel": f"C{index // N_ASSETS}", "asset": symbols[index % N_ASSETS]}
            for index in range(200, N_SUBSCRIPTIONS)
        ]
        for row in rows:
            await store.add_subscription(platform="console", kinds=("quarter_end",), **row)
        source = FrameSource(frames)
        freeze_startup_heap()  # as `flows-bot run` does once it has started

        # The first tick after start-up pays one-off costs (lazy imports, loading every
        # subscription into memory); it runs 20 sessions before AS_OF, where no countdown is due.
        start = time.perf_counter()
        cold = await run_tick(store, MarketData(source), registry, settings, WARM_UP, charts=False)
        cold_ms = (time.perf_counter() - start) * 1000
        # After each daily tick the bot computes, in the background, the track-record line that
        # ends each asset's countdown alerts (it changes only when a quarter completes).
        from bot.monitors.track_line import warm_record_lines
        from flows.status import AnalyticsConfig, resolve_asset

        start = time.perf_counter()
        await warm_record_lines(
            [resolve_asset(symbol, registry) for symbol in symbols],
            WARM_UP,
            MarketData(FrameSource(frames)),  # its own source: not counted as the ticks' fetches
            registry,
            settings.track_since,
            AnalyticsConfig(with_garch=False),
        )
        warm_ms = (time.perf_counter() - start) * 1000
        timings = []
        first = None
        for run in range(5):
            market = MarketData(source)
            start = time.perf_counter()
            result = await run_tick(store, market, registry, settings, AS_OF, charts=False)
            timings.append(time.perf_counter() - start)
            if run == 0:
                first = result
        assert first is not None
        print(f"subscriptions: {N_SUBSCRIPTIONS}, assets: {N_ASSETS}")
        print(
            f"first tick after start-up ({cold.new_alerts} alerts, {cold.deliveries} deliveries): "
            f"{cold_ms:.0f} ms  (one-off)"
        )
        print(
            f"tick that fires ({first.new_alerts} alerts, {first.deliveries} deliveries, "
            f"charts off): {timings[0] * 1000:.0f} ms  (target < 200 ms)"
        )
        print(
            f"track-record lines of {len(symbols)} assets, computed in the background after the "
            f"previous daily tick (once per completed quarter): {warm_ms:.0f} ms"
        )
        print(
            f"steady-state tick (nothing new), median of {len(timings) - 1}: "
            f"{statistics.median(timings[1:]) * 1000:.0f} ms  (target < 200 ms)"
        )
        print(
            f"symbol fetches per tick: {source.calls // (len(timings) + 1)} "
            f"for {N_ASSETS + 1} symbols"
        )
        tick_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak memory after set-up and ticks: {tick_peak:.0f} MB")

        # Every send is recorded before its channel's next one; channels sending at the same
        # moment share a commit (the dispatcher's group commit).
        adapter = InstantAdapter()
        dispatcher = Dispatcher(store, {"console": adapter})
        start = time.perf_counter()
        await dispatcher.drain()
        elapsed = time.perf_counter() - start
        channels = N_SUBSCRIPTIONS // N_ASSETS  # subscription i is in channel C{i // 50}
        print(
            f"dispatcher: {adapter.count} deliveries to {channels} channels in {elapsed:.2f} s = "
            f"{elapsed / max(1, adapter.count) * 1000:.2f} ms per delivery  (target < 1 ms)"
        )
        await store.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (max RSS): {peak_mb:.0f} MB  (target < 250 MB)")


if __name__ == "__main__":
    asyncio.run(main())
