"""Outbox leases (storage/leases.py): several workers share one outbox, on SQLite and PostgreSQL.
A delivery is claimed by one worker at a time, a channel is drained by one worker at a time, an
expired lease is reclaimed and flagged so the platform is asked before a resend."""

from __future__ import annotations

import asyncio
import datetime as dt

import sqlalchemy as sa

from bot.dispatcher import Dispatcher
from storage import NewAlert, Store
from tests.botkit import RecordingAdapter, RecordingPlatform

NOW = dt.datetime(2026, 3, 31, 14, 0, tzinfo=dt.UTC)


async def fan_out(store: Store, channels: int, alerts: int, platform: str = "console") -> None:
    ids = []
    for index in range(channels):
        subscription, _ = await store.add_subscription(
            platform=platform, workspace="W1", channel=f"C{index}", asset="BTC", kinds="drift"
        )
        ids.append(subscription.id)
    await store.record_alerts(
        [
            NewAlert(
                dedupe_key=f"drift:BTC:{number}",
                kind="drift",
                asset="BTC",
                as_of=dt.date(2026, 3, 31),
                title=f"alert {number}",
                content={"title": f"alert {number}", "summary": "", "sections": []},
                subscription_ids=ids,
            )
            for number in range(alerts)
        ],
        now=NOW,
    )


async def test_a_channel_is_claimed_by_one_worker_at_a_time(database_url) -> None:
    store = await Store.open(database_url)
    try:
        await fan_out(store, channels=3, alerts=4)
        first = await store.claim_due("a", lease_seconds=30, now=NOW, limit=5)
        # Oldest due first; the limit cut channel C1 after its first delivery.
        assert [c.delivery.id for c in first] == sorted(c.delivery.id for c in first)
        assert {c.delivery.claimed_by for c in first} == {"a"}
        assert all(not c.reclaimed and c.delivery.attempt_started_at for c in first)
        held = {c.delivery.channel for c in first}
        second = await store.claim_due("b", lease_seconds=30, now=NOW, limit=100)
        # b takes nothing in a channel a holds: those channels stay in a's order.
        assert {c.delivery.channel for c in second}.isdisjoint(held)
        assert {c.delivery.id for c in first}.isdisjoint(c.delivery.id for c in second)
        # a's own further claim continues its channels; nothing is claimed twice.
        third = await store.claim_due("a", lease_seconds=30, now=NOW, limit=100)
        taken = [c.delivery.id for c in first + second + third]
        assert len(taken) == len(set(taken)) == 12
    finally:
        await store.close()


async def test_settled_deliveries_are_never_claimed_and_expired_leases_are_reclaimed(
    database_url,
) -> None:
    store = await Store.open(database_url)
    try:
        await fan_out(store, channels=2, alerts=1)
        first, second = await store.claim_due("a", lease_seconds=30, now=NOW)
        assert await store.mark_sent_many([(first.delivery.id, "m1")], now=NOW) == 1
        # Worker a dies holding `second`: nobody may take it while the lease runs...
        assert (
            await store.claim_due("b", lease_seconds=30, now=NOW + dt.timedelta(seconds=29)) == []
        )
        # ...then b takes it back, flagged: an attempt began and never settled.
        later = NOW + dt.timedelta(seconds=31)
        [reclaimed] = await store.claim_due("b", lease_seconds=30, now=later)
        assert reclaimed.delivery.id == second.delivery.id and reclaimed.reclaimed
        assert reclaimed.delivery.claimed_by == "b"
        # A renewal by a worker that lost the lease changes nothing; b's renewal holds it.
        assert await store.renew_leases("a", [second.delivery.id], lease_seconds=30, now=later) == 0
        assert await store.renew_leases("b", [second.delivery.id], lease_seconds=30, now=later) == 1
        # Settling ends the lease: a retry is claimable again once due, by anyone.
        retry_at = later + dt.timedelta(seconds=5)
        assert await store.mark_retry(second.delivery.id, "502", retry_at)
        [again] = await store.claim_due("c", lease_seconds=30, now=retry_at)
        assert again.delivery.id == second.delivery.id and not again.reclaimed
        # The sent one is never claimable, however much time passes.
        hours_later = await store.claim_due(
            "d", lease_seconds=30, now=later + dt.timedelta(hours=1)
        )
        assert [c.delivery.id for c in hours_later] == [second.delivery.id]
    finally:
        await store.close()


async def test_released_leases_are_free_at_once_and_not_in_flight(database_url) -> None:
    store = await Store.open(database_url)
    try:
        await fan_out(store, channels=1, alerts=2)
        claims = await store.claim_due("a", lease_seconds=30, now=NOW)
        assert await store.release_leases("a", [c.delivery.id for c in claims]) == 2
        again = await store.claim_due("b", lease_seconds=30, now=NOW)
        assert [c.delivery.id for c in again] == [c.delivery.id for c in claims]
        assert not any(c.reclaimed for c in again)
    finally:
        await store.close()


async def test_concurrent_workers_never_claim_the_same_delivery(database_url) -> None:
    """Three stores (three connection pools, as three processes have) claim and settle at once."""
    seed = await Store.open(database_url)
    await fan_out(seed, channels=40, alerts=10)
    stores = [await Store.open(database_url, migrate=False) for _ in range(3)]
    claimed: dict[str, list[int]] = {}

    async def work(name: str, store: Store) -> None:
        mine = claimed.setdefault(name, [])
        while True:
            batch = await store.claim_due(name, lease_seconds=60, now=NOW, limit=37)
            if not batch:
                if await store.pending_count() == 0:
                    return
                await asyncio.sleep(0.01)
                continue
            mine.extend(c.delivery.id for c in batch)
            await store.mark_sent_many([(c.delivery.id, name) for c in batch], now=NOW)

    try:
        await asyncio.wait_for(
            asyncio.gather(*(work(f"w{i}", s) for i, s in enumerate(stores))), timeout=120
        )
        every = [delivery_id for ids in claimed.values() for delivery_id in ids]
        assert len(every) == len(set(every)) == 400
        assert await seed.delivery_counts() == {"pending": 0, "sent": 400, "failed": 0}
    finally:
        for store in [seed, *stores]:
            await store.close()


async def test_a_reclaimed_delivery_is_looked_up_before_it_is_resent(database_url) -> None:
    """Worker a posted and died before recording it; worker b finds the post (the platform's
    idempotency key) once a's lease expires, records it and sends only the rest."""
    store = await Store.open(database_url)
    platform = RecordingPlatform()
    try:
        await fan_out(store, channels=1, alerts=2)
        dead = Dispatcher(store, {"console": RecordingAdapter(platform)}, worker_id="a")
        claims = await store.claim_due("a", lease_seconds=0.2, limit=1)
        [claim] = claims
        platform.accept(
            None, None, f"flows-{claim.delivery.alert_id}-{claim.delivery.subscription_id}"
        )
        del dead
        await asyncio.sleep(0.3)
        live = Dispatcher(store, {"console": RecordingAdapter(platform)}, worker_id="b")
        await live.drain(max_wait=5)
        keys = [key for _, _, key in platform.posts]
        assert len(keys) == len(set(keys)) == 2
        assert await store.delivery_counts() == {"pending": 0, "sent": 2, "failed": 0}
    finally:
        await store.close()


async def test_a_claim_can_be_limited_to_a_number_of_channels(database_url) -> None:
    store = await Store.open(database_url)
    try:
        await fan_out(store, channels=5, alerts=3)
        first = await store.claim_due("a", lease_seconds=30, now=NOW, max_channels=2)
        assert len({c.delivery.channel for c in first}) == 2 and len(first) == 6
        second = await store.claim_due("b", lease_seconds=30, now=NOW, max_channels=2)
        assert len({c.delivery.channel for c in second}) == 2 and len(second) == 6
        assert {c.delivery.channel for c in first}.isdisjoint(c.delivery.channel for c in second)
    finally:
        await store.close()


async def test_the_leased_backlog_counts_what_each_worker_holds(database_url) -> None:
    store = await Store.open(database_url)
    try:
        await fan_out(store, channels=5, alerts=3)
        await store.claim_due("a", lease_seconds=30, now=NOW, max_channels=2)
        await store.claim_due("b", lease_seconds=30, now=NOW, max_channels=1)
        assert await store.leased_backlog(NOW) == {
            ("a", "console", "W1"): 6,
            ("b", "console", "W1"): 3,
        }
        # Settled deliveries and expired leases are nobody's backlog.
        (first, *rest) = await store.claim_due("a", lease_seconds=30, now=NOW)
        assert len(rest) == 5  # the two channels nobody held
        await store.mark_sent(first.delivery.id, "m1", now=NOW)
        backlog = await store.leased_backlog(NOW)
        assert backlog == {("a", "console", "W1"): 11, ("b", "console", "W1"): 3}
        later = NOW + dt.timedelta(seconds=31)
        assert await store.leased_backlog(later) == {}
    finally:
        await store.close()


async def test_a_failed_worker_frees_only_the_leases_no_other_worker_is_sending(
    database_url,
) -> None:
    """After a worker error the dispatcher frees its leases for a look-up (`_recover_in_flight`)
    — but not those of deliveries its other workers still hold queued: freed, another process
    could claim one and send it while this one sends it too."""
    store = await Store.open(database_url)
    try:
        await fan_out(store, channels=3, alerts=2)
        claims = await store.claim_due("a", lease_seconds=30, now=NOW)
        queued = {c.delivery.id for c in claims if c.delivery.channel != "C0"}
        assert await store.release_leases("a", keep=queued) == 2  # C0's two deliveries
        held = {("a", "console", "W1"): len(queued)}
        assert await store.leased_backlog(NOW) == held
        # Freed, still flagged in flight: whoever claims them looks them up first.
        again = await store.claim_due("b", lease_seconds=30, now=NOW)
        assert {c.delivery.channel for c in again} == {"C0"} and all(c.reclaimed for c in again)
    finally:
        await store.close()


async def test_a_deadlock_is_a_transient_error_the_dispatcher_retries(postgres_url) -> None:
    """Two transactions that lock the same rows in opposite order: PostgreSQL rolls one back
    with "deadlock detected", which the storage layer maps to a transient error (retried by the
    dispatcher's bookkeeping writes) rather than failing the worker."""
    from storage.errors import TransactionConflict

    store = await Store.open(postgres_url)
    try:
        await fan_out(store, channels=2, alerts=1)
        first, second = (c.delivery.id for c in await store.claim_due("a", lease_seconds=30))
        errors: list[BaseException] = []

        async def lock_in_order(ids: list[int]) -> None:
            try:
                async with store.engine.begin() as connection:
                    for delivery_id in ids:
                        await connection.execute(
                            sa.text("UPDATE deliveries SET attempts = attempts + 1 WHERE id = :id"),
                            {"id": delivery_id},
                        )
                        await asyncio.sleep(0.3)  # both hold their first row before the second
            except BaseException as exc:  # the one PostgreSQL picks as the victim
                errors.append(exc)

        await asyncio.gather(lock_in_order([first, second]), lock_in_order([second, first]))
        assert len(errors) == 1 and isinstance(errors[0], TransactionConflict)
        assert errors[0].transient and "deadlock detected" in str(errors[0])
    finally:
        await store.close()
