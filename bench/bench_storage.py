"""How fast the store does a monitor tick on SQLite: 50 assets, 10,000 subscriptions.

    python bench/bench_storage.py

Budget (issue): a tick — load the subscriptions and states, record 50 alerts with 10,000
deliveries — must take < 200 ms excluding network. Each step runs ROUNDS times (fresh dedupe keys
every round); the best and the median are printed, since shared machines are noisy.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from storage import NewAlert, Store
from storage.models import Subscription

ASSETS = [f"A{i:02d}" for i in range(50)]
SUBSCRIBERS_PER_ASSET = 200
ROUNDS = 5
NOW = dt.datetime(2026, 3, 31, 14, 0, tzinfo=dt.UTC)


def report(label: str, timings_ms: list[float]) -> None:
    best, median = min(timings_ms), statistics.median(timings_ms)
    print(f"{label:<66} best {best:7.1f} ms   median {median:7.1f} ms")


async def timed(step: Awaitable[Any]) -> tuple[Any, float]:
    """Await `step` (a coroutine: it only starts running here) and time it."""
    start = time.perf_counter()
    result = await step
    return result, (time.perf_counter() - start) * 1000


async def seed(store: Store) -> None:
    """10,000 subscriptions, inserted directly in bulk (the bench is not about /watch)."""
    rows = [
        {
            "platform": "slack",
            "workspace": f"T{n % 40}",
            "channel": f"C{n}",
            "user": "",
            "asset": asset,
            "kinds": "quarter_end,drift,vol",
            "created_by": "bench",
            "created_at": NOW,
            "status": "active",
        }
        for asset in ASSETS
        for n in range(SUBSCRIBERS_PER_ASSET)
    ]
    async with store.engine.begin() as connection:
        await connection.execute(sa.insert(Subscription.__table__), rows)


def alerts_for(subscriptions: dict, tag: str) -> list[NewAlert]:
    return [
        NewAlert(
            dedupe_key=f"quarter_end:{asset}:2026Q1:{tag}",
            kind="quarter_end",
            asset=asset,
            as_of=NOW.date(),
            title=f"{asset}: quarter-end rebalancing",
            content={"blocks": [{"text": "x" * 400}]},
            subscription_ids=[s.id for s in subscriptions[asset]],
            trade_usd=-1.0e9,
            direction="sell",
        )
        for asset in ASSETS
    ]


async def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{Path(scratch) / 'bench.db'}"
        store, open_ms = await timed(Store.open(url))
        report("Store.open (migrate an empty database)", [open_ms])
        try:
            await seed(store)
            load, states, record, tick = [], [], [], []
            for round_ in range(ROUNDS):
                subs, load_ms = await timed(
                    store.active_subscriptions_by_asset(ASSETS, kind="quarter_end")
                )
                assert sum(len(v) for v in subs.values()) == 10_000
                _, states_ms = await timed(store.get_states("quarter_end", ASSETS))
                alerts = alerts_for(subs, f"r{round_}")
                new_states = {("quarter_end", a): {"step": round_} for a in ASSETS}
                results, record_ms = await timed(
                    store.record_alerts(alerts, monitor_states=new_states, now=NOW)
                )
                assert all(created for _, created in results)
                load.append(load_ms)
                states.append(states_ms)
                record.append(record_ms)
                tick.append(load_ms + states_ms + record_ms)
            report("active_subscriptions_by_asset(50 assets, 10,000 subs): first", load[:1])
            report("  later calls (held in memory: subscriptions unchanged)", load[1:])
            report("get_states(50 assets)", states)
            report("record_alerts(50 alerts x 200 subs = 10,000 deliveries) + states", record)
            report("= one tick", tick)

            again = []
            for _ in range(ROUNDS):
                results, ms = await timed(store.record_alerts(alerts, now=NOW))
                assert not any(created for _, created in results)
                again.append(ms)
            report("record_alerts again (every dedupe key exists: no-op)", again)

            singles = alerts_for(subs, "single")

            async def one_by_one() -> None:
                for alert in singles:
                    await store.record_alerts([alert], now=NOW)

            _, singles_ms = await timed(one_by_one())
            report("record_alert x 50 (a transaction each; 10,000 deliveries)", [singles_ms])

            pending = await store.pending_count()
            due_ms = []
            for _ in range(ROUNDS):
                due, ms = await timed(store.due_deliveries(NOW, limit=1000))
                assert len(due) == 1000
                due_ms.append(ms)
            report(f"due_deliveries(limit=1000) of {pending:,} pending", due_ms)

            sent_ms = []
            for delivery, _ in due[:200]:
                _, ms = await timed(store.mark_sent(delivery.id, "m", now=NOW))
                sent_ms.append(ms)
            report("mark_sent (one delivery, one transaction)", sent_ms)
            _, count_ms = await timed(store.pending_count())
            report("pending_count()", [count_ms])
        finally:
            await store.close()


if __name__ == "__main__":
    asyncio.run(main())
