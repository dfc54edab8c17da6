"""Track-record benchmarks (issue 18).

    .venv/bin/python bench/bench_track.py

1. The BTC history record from 2021-01-01 to the latest sample bar (`flows-bot track BTC --source
   sample` without the chart): one `status` per quarter-end window.
2. The record line a quarter-end alert ends with, inside a tick: the first call on a day (fetch +
   one status per window) and the cached call after it (what every further tick that day pays).
Timings are best and median of several rounds (shared machines are noisy).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics
import time

from bot.monitors import track_line
from bot.monitors.track_line import quarter_end_record_line
from flows.assets import get_asset
from flows.funds import load_registry
from flows.marketdata import MarketData
from flows.marketdata.sample import SampleSource
from flows.status import AnalyticsConfig
from flows.track import build_track

ROUNDS = 5
TODAY = dt.date(2026, 11, 20)
SINCE = dt.date(2021, 1, 1)
CONFIG = AnalyticsConfig(with_garch=False)


def _report(label: str, times: list[float]) -> None:
    best, median = min(times) * 1000, statistics.median(times) * 1000
    print(f"{label:<48} best {best:8.1f} ms   median {median:8.1f} ms")


async def main() -> None:
    registry = load_registry()
    history: list[float] = []
    windows = 0
    for _ in range(ROUNDS):
        market = MarketData(SampleSource(today=TODAY))
        start = time.perf_counter()
        record = await build_track("BTC", market, registry, SINCE, TODAY, config=CONFIG)
        history.append(time.perf_counter() - start)
        windows = len(record.windows)
        await market.close()
    _report(f"history record BTC, {windows} windows", history)

    asset = get_asset("BTC")
    first: list[float] = []
    cached: list[float] = []
    for _ in range(ROUNDS):
        track_line._CACHE.clear()
        market = MarketData(SampleSource(today=TODAY))
        start = time.perf_counter()
        line = await quarter_end_record_line(asset, TODAY, market, registry, SINCE, CONFIG)
        first.append(time.perf_counter() - start)
        start = time.perf_counter()
        await quarter_end_record_line(asset, TODAY, market, registry, SINCE, CONFIG)
        cached.append(time.perf_counter() - start)
        await market.close()
    _report("alert record line, first call of the day", first)
    _report("alert record line, cached (later ticks that day)", cached)
    print(f"line: {line}")


if __name__ == "__main__":
    asyncio.run(main())
