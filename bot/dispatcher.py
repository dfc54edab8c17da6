"""The outbox dispatcher: drains pending deliveries to the chat platforms, reliably.

Alerts and their deliveries are written before anything is sent (see bot/monitors/tick.py).
Here each channel gets its own worker so a slow or rate-limited channel never holds up the
others, and command handling never waits on delivery. Per-channel and per-platform pacing
follows each adapter's `Pacing`; 429s pause the channel for Retry-After; transient failures back
off exponentially up to a cap; 403/404 mark the subscription broken so nothing more is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot.adapters.base import ChatAdapter, DeliveryError, Destination
from bot.messages import Message
from bot.ratelimit import SlidingWindowLimiter

log = logging.getLogger(__name__)

MAX_TRANSIENT_ATTEMPTS = 6
MAX_RATE_LIMITED_ATTEMPTS = 30
BASE_BACKOFF_SECONDS = 2.0
MAX_BACKOFF_SECONDS = 600.0
POLL_SECONDS = 2.0
BATCH = 500
LEASE_SECONDS = 60.0
"""How long a claimed delivery stays reserved for this process (renewed while it waits)."""
CLAIM_CHANNELS = 25
CLAIM_ROUND_PAUSE = 0.25
"""On a database several processes share, a claim takes at most CLAIM_CHANNELS channels and the
next round waits a moment, so that a fan-out is spread over the processes rather than taken
whole by the first one to look (each channel is drained by one process at a time)."""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class _ChannelKey:
    platform: str
    workspace: str
    channel: str
    user: str | None


class Dispatcher:
    def __init__(
        self,
        store,
        adapters: dict[str, ChatAdapter],
        clock: Callable[[], dt.datetime] = utcnow,
        poll_seconds: float = POLL_SECONDS,
        base_backoff: float = BASE_BACKOFF_SECONDS,
        worker_id: str = "flows-bot",
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.store = store
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds
        self._renewed_at = 0.0
        self.adapters = adapters
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.base_backoff = base_backoff
        self._queues: dict[_ChannelKey, asyncio.Queue] = {}
        self._workers: dict[_ChannelKey, asyncio.Task] = {}
        self._queued: set[int] = set()
        self._channel_limits: dict[_ChannelKey, SlidingWindowLimiter] = {}
        self._platform_limits: dict[tuple[str, str], SlidingWindowLimiter] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._sent = _GroupCommit(store)
        self._messages: dict[int, Message] = {}
        self.sent = 0

    def wake(self) -> None:
        """New deliveries were written: look now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Poll and enqueue until `stop()`; recovers deliveries left in flight by a crash."""
        await self._recover_in_flight()
        while not self._stopping:
            try:
                await self._renew_leases()
                await self.enqueue_due()
            except Exception:
                log.exception("dispatcher: could not read pending deliveries; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            self._wake.clear()

    async def drain(self, max_wait: float = 120.0) -> None:
        """Send everything due now, and what comes due within `max_wait` seconds (retries after
        a 429 or a transient failure), then return (`--once`, tests)."""
        await self._recover_in_flight()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_wait
        while True:
            await self.enqueue_due()
            await asyncio.gather(*(queue.join() for queue in list(self._queues.values())))
            horizon = self.clock() + dt.timedelta(seconds=max(0.0, deadline - loop.time()))
            upcoming = [
                delivery
                for delivery, _ in await self.store.due_deliveries(horizon, limit=BATCH)
                if delivery.platform in self.adapters and delivery.id not in self._queued
            ]
            if not upcoming:
                return
            wait = (min(d.next_attempt_at for d in upcoming) - self.clock()).total_seconds()
            if wait > 0:
                await asyncio.sleep(wait)

    async def stop(self) -> None:
        """Stop taking work; a send in progress completes, queued ones stay pending in the DB."""
        self._stopping = True
        self._wake.set()
        for task in list(self._workers.values()):
            task.cancel()
        await asyncio.gather(*self._workers.values(), return_exceptions=True)
        self._workers.clear()
        await self._sent.wait()
        # What was still queued goes back at once rather than when its lease runs out.
        with contextlib.suppress(Exception):
            await self.store.release_leases(self.worker_id, sorted(self._queued))

    async def _recover_in_flight(self) -> None:
        """A delivery attempted but not marked sent may have reached the platform before the
        process died: ask the platform, where it can tell, before sending again."""
        # Leases held under this worker id belong to a previous life of this process (ids are
        # unique among live processes): free them now, still flagged in flight, rather than
        # let this life send a channel's later alerts before the earlier ones come free.
        await self.store.release_leases(self.worker_id)
        for delivery, _alert in await self.store.in_flight_deliveries(now=self.clock()):
            await self._already_posted(delivery)

    async def _already_posted(self, delivery) -> bool:
        """Ask the platform whether an attempt that never settled reached it; if so record
        the send. True when it did (do not send again)."""
        adapter = self.adapters.get(delivery.platform)
        if adapter is None:
            return False
        message_id = await adapter.find_sent(_destination(delivery), _idempotency_key(delivery))
        if message_id:
            await self.store.mark_sent(delivery.id, message_id)
            log.info("delivery %s was already posted (%s); not resending", delivery.id, message_id)
            return True
        return False

    async def _renew_leases(self) -> None:
        """Heartbeat: keep the leases on what waits in this process's queues."""
        loop = asyncio.get_running_loop()
        if not self._queued or loop.time() - self._renewed_at < self.lease_seconds / 3:
            return
        self._renewed_at = loop.time()
        await self.store.renew_leases(
            self.worker_id, sorted(self._queued), lease_seconds=self.lease_seconds, now=self.clock()
        )

    async def enqueue_due(self) -> int:
        """Claim due deliveries (a lease per row: several processes may share the outbox; see
        storage/leases.py) and queue them on their channels' workers. Only rows the claim
        actually took are queued — the claim re-checks that each is still pending and free, so
        a delivery sent a moment ago is never queued again."""
        if not getattr(self.store, "is_shared", False):
            return await self._claim_round(None)
        added = 0
        while not self._stopping:
            round_added = await self._claim_round(CLAIM_CHANNELS)
            added += round_added
            if round_added == 0 or added >= BATCH:
                return added
            await asyncio.sleep(CLAIM_ROUND_PAUSE)
        return added

    async def _claim_round(self, max_channels: int | None) -> int:
        claimed = await self.store.claim_due(
            self.worker_id,
            lease_seconds=self.lease_seconds,
            now=self.clock(),
            limit=BATCH,
            platforms=sorted(self.adapters),
            max_channels=max_channels,
        )
        due = []
        for claim in claimed:
            delivery = claim.delivery
            if delivery.id in self._queued:
                continue  # its lease ran out while it waited here; now it is ours again
            # A worker died (or lost its lease) mid-send: ask the platform before resending.
            if claim.reclaimed and await self._already_posted(delivery):
                continue
            due.append((delivery, claim.alert))
        added = 0
        for delivery, alert in due:
            key = _ChannelKey(
                delivery.platform, delivery.workspace, delivery.channel, delivery.user or None
            )
            queue = self._queues.setdefault(key, asyncio.Queue())
            self._queued.add(delivery.id)
            queue.put_nowait((delivery, alert))
            added += 1
            worker = self._workers.get(key)
            if worker is None or worker.done():
                self._workers[key] = asyncio.create_task(self._worker(key, queue))
        return added

    def _channel_limiter(self, key: _ChannelKey) -> SlidingWindowLimiter:
        limiter = self._channel_limits.get(key)
        if limiter is None:
            pacing = self.adapters[key.platform].pacing
            limiter = SlidingWindowLimiter(pacing.per_channel_messages, pacing.per_channel_seconds)
            self._channel_limits[key] = limiter
        return limiter

    def _platform_limiter(self, key: _ChannelKey) -> SlidingWindowLimiter:
        """The overall rate: per workspace where the platform limits each workspace apart
        (Slack), else one for the whole platform (Discord's global limit per bot token)."""
        pacing = self.adapters[key.platform].pacing
        scope = (key.platform, key.workspace if pacing.per_workspace else "")
        limiter = self._platform_limits.get(scope)
        if limiter is None:
            limiter = SlidingWindowLimiter(max(1, int(pacing.global_per_second)), 1.0)
            self._platform_limits[scope] = limiter
        return limiter

    async def _worker(self, key: _ChannelKey, queue: asyncio.Queue) -> None:
        adapter = self.adapters[key.platform]
        channel_limit = self._channel_limiter(key)
        while not queue.empty():
            delivery, alert = queue.get_nowait()
            try:
                await channel_limit.acquire()
                await self._platform_limiter(key).acquire()
                await self._deliver(adapter, delivery, alert, channel_limit)
            except Exception:
                log.exception("dispatcher: delivery %s crashed; it stays pending", delivery.id)
            finally:
                self._queued.discard(delivery.id)
                queue.task_done()

    async def _deliver(self, adapter: ChatAdapter, delivery, alert, channel_limit) -> None:
        message = self._messages.get(alert.id)
        if message is None:
            if len(self._messages) > 1000:
                self._messages.clear()
            message = self._messages[alert.id] = Message.from_storage(alert.content)
        try:
            message_id = await adapter.send(
                _destination(delivery), message, _idempotency_key(delivery)
            )
        except DeliveryError as error:
            await self._failed_attempt(delivery, error, channel_limit)
            return
        self.sent += 1
        await self._sent.record(delivery.id, message_id)

    async def _failed_attempt(self, delivery, error: DeliveryError, channel_limit) -> None:
        attempts = delivery.attempts + 1
        where = f"{delivery.platform}:{delivery.channel}"
        if error.permanent:
            await self.store.mark_subscription_broken(delivery.subscription_id, error.reason)
            await self.store.mark_failed(delivery.id, error.reason)
            log.error("delivery %s to %s failed for good: %s", delivery.id, where, error.reason)
            return
        if error.retry_after is not None:
            channel_limit.pause(error.retry_after)
            if attempts < MAX_RATE_LIMITED_ATTEMPTS:
                retry_at = self.clock() + dt.timedelta(seconds=error.retry_after)
                await self.store.mark_retry(delivery.id, error.reason, retry_at)
                return
        elif attempts < MAX_TRANSIENT_ATTEMPTS:
            backoff = min(MAX_BACKOFF_SECONDS, self.base_backoff * 2 ** (attempts - 1))
            await self.store.mark_retry(
                delivery.id, error.reason, self.clock() + dt.timedelta(seconds=backoff)
            )
            return
        await self.store.mark_failed(
            delivery.id, f"gave up after {attempts} attempts: {error.reason}"
        )
        log.error(
            "delivery %s to %s gave up after %d attempts: %s", delivery.id, where, attempts, error
        )


class _GroupCommit:
    """Records each send before its worker goes on — most platforms cannot be asked afterwards
    whether a message went out, so an unrecorded send would be repeated after a crash — while
    every worker waiting at the same moment shares one transaction: 200 channels sending at once
    cost one commit, not 200. Each caller returns only once its own send is committed."""

    def __init__(self, store) -> None:
        self.store = store
        self._waiting: list[tuple[tuple[int, str | None], asyncio.Future[None]]] = []
        self._writer: asyncio.Task | None = None

    async def record(self, delivery_id: int, message_id: str | None) -> None:
        done = asyncio.get_running_loop().create_future()
        self._waiting.append(((delivery_id, message_id), done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        # Shielded: a worker cancelled at shutdown must not cancel the commit of its send.
        await asyncio.shield(done)

    async def _write(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                await self.store.mark_sent_many([sent for sent, _ in batch])
            except Exception as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)

    async def wait(self) -> None:
        """Until every send handed in so far is committed (or has failed)."""
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)


def _destination(delivery) -> Destination:
    return Destination(
        delivery.platform, delivery.workspace, delivery.channel, delivery.user or None
    )


def _idempotency_key(delivery) -> str:
    return f"flows-{delivery.alert_id}-{delivery.subscription_id}"
