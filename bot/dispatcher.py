"""The outbox dispatcher: drains pending deliveries to the chat platforms, reliably.

Alerts and their deliveries are written before anything is sent (see bot/monitors/tick.py).
Each destination (a channel, or a user's DM) gets its own worker so a slow or rate-limited
channel never holds up the others, and command handling never waits on delivery. The guarantees
(see docs/delivery.md):

- Order: a channel's next delivery waits for the one before it. A 429 or a transient failure
  retries the same delivery (after Retry-After / a backoff) before anything behind it, and the
  deferral is written to the database so a restart keeps the order too
  (`Store.due_in_channel_order`).
- Pacing: per channel and overall, with headroom below the platform's limits, each request's
  time stamped when its response arrives (`ResponsePacer`), so a fan-out draws no 429 of its own.
  Discord's per-route buckets (`X-RateLimit-Remaining` / `Reset-After`) are followed by discord.py.
- No duplicates: an attempt is committed as started before the send and its result right after
  (group commits). A delivery that was in flight at a crash, or whose attempt failed ambiguously
  (timeout, 5xx, worker error), is looked up on the platform before it is sent again
  (`find_sent_many`: Slack reads the channel's history for the message metadata; Discord's
  enforced nonce makes a re-send return the message already posted).
- A send the platform accepted is never repeated: if recording it fails on a locked database the
  message id is kept in memory and the write retried with backoff.
- A channel the platform refuses (deleted, archived, bot removed, missing access) stops at once:
  every subscription there is marked broken, every pending delivery failed, and whoever
  subscribed is told by DM (else the log). A refused token stops its whole workspace. A new
  `/flows watch` there resumes it.
- Database faults: a lock is waited out; a corrupt or read-only database stops the bot cleanly
  (`on_fatal`).
- Several processes (PostgreSQL): due deliveries are claimed with a lease per row
  (`Store.claim_due`, storage/leases.py), one process per channel at a time, in the same channel
  order; a process that dies leaves leases that expire, and a reclaimed delivery is looked up on
  the platform before it is sent again (docs/scale.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from bot.adapters.base import ChatAdapter, DeliveryError, Destination
from bot.messages import Message
from bot.ratelimit import ResponsePacer
from storage.errors import StorageError

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_TRANSIENT_ATTEMPTS = 6
MAX_RATE_LIMITED_ATTEMPTS = 30
BASE_BACKOFF_SECONDS = 2.0
MAX_BACKOFF_SECONDS = 600.0
POLL_SECONDS = 2.0
RATE_SHARE_SECONDS = 1.0
"""How often, at most, the other processes' backlog is re-read to share the platforms' rates."""
BATCH = 500
LOOKUP_MARGIN = dt.timedelta(seconds=120)
"""Looked-up history starts this much before the attempt: the bot's clock and the platform's
may differ a little."""
LOCK_RETRY_FIRST = 0.05
LOCK_RETRY_MAX = 5.0
LEASE_SECONDS = 60.0
"""How long a claimed delivery stays reserved for this process (renewed while it waits)."""
CLAIM_CHANNELS = 25
CLAIM_ROUND_PAUSE = 0.25
"""On a database several processes share, a claim takes at most CLAIM_CHANNELS channels and the
next round waits a moment, so that a fan-out is spread over the processes rather than taken
whole by the first one to look (each channel is drained by one process at a time)."""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Dispatcher:
    def __init__(
        self,
        store,
        adapters: dict[str, ChatAdapter],
        clock: Callable[[], dt.datetime] = utcnow,
        poll_seconds: float = POLL_SECONDS,
        base_backoff: float = BASE_BACKOFF_SECONDS,
        on_fatal: Callable[[StorageError], None] | None = None,
        worker_id: str = "flows-bot",
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.store = store
        self.adapters = adapters
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.base_backoff = base_backoff
        self.on_fatal = on_fatal
        self.worker_id = worker_id
        self.lease_seconds = lease_seconds
        self._shared = bool(getattr(store, "is_shared", False))
        self._renewed_at = 0.0
        self._queues: dict[Destination, deque] = {}
        self._workers: dict[Destination, asyncio.Task] = {}
        self._queued: set[int] = set()
        self._channel_pacers: dict[Destination, ResponsePacer] = {}
        self._global_pacers: dict[tuple[str, str], ResponsePacer] = {}
        self._others_backlog: dict[tuple[str, str], int] = {}
        self._shared_at = float("-inf")
        self._broken: dict[Destination, dt.datetime] = {}
        self._broken_workspaces: dict[tuple[str, str | None], dt.datetime] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._needs_reconcile = True
        self._sent = _GroupCommit(self._persist, lambda sent: self.store.mark_sent_many(sent))
        self._begun = _GroupCommit(self._persist, lambda ids: self.store.begin_attempts(ids))
        self._messages: dict[int, Message] = {}
        self.sent = 0
        self.fatal: StorageError | None = None

    def wake(self) -> None:
        """New deliveries were written: look now rather than at the next poll."""
        self._wake.set()

    # ------------------------------------------------------------------ loop

    async def run(self) -> None:
        """Poll and enqueue until `stop()` (or a fatal database error); reconciles deliveries
        left in flight by a crash first, and again after a worker error."""
        while not self._stopping:
            try:
                if self._needs_reconcile:
                    await self._recover_in_flight()
                await self.enqueue_due()
                await self._renew_leases()
                await self._share_rates()
            except StorageError as exc:
                if self._storage_failed(exc):
                    return
            except Exception:
                log.exception("dispatcher: could not read pending deliveries; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            self._wake.clear()

    async def drain(self, max_wait: float = 120.0) -> None:
        """Send everything due now, and what comes due within `max_wait` seconds, then return
        (`--once`, tests)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_wait
        while not self._stopping:
            if self._needs_reconcile:
                await self._recover_in_flight()
            await self.enqueue_due()
            await asyncio.gather(*list(self._workers.values()), return_exceptions=True)
            if self._stopping or loop.time() >= deadline:
                return
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
                await asyncio.sleep(min(wait, max(0.0, deadline - loop.time())))

    async def stop(self) -> None:
        """Stop taking work; queued deliveries stay pending in the DB, and every send the
        platform accepted is recorded before this returns (or kept for the reconciler)."""
        self._stopping = True
        self._wake.set()
        still_queued = sorted(self._queued)
        for task in list(self._workers.values()):
            task.cancel()
        await asyncio.gather(*self._workers.values(), return_exceptions=True)
        self._workers.clear()
        await self._sent.wait()
        await self._begun.wait()
        if self._shared:
            # What was still queued goes back at once rather than when its lease runs out.
            with contextlib.suppress(Exception):
                await self.store.release_leases(self.worker_id, still_queued)

    def _storage_failed(self, exc: StorageError) -> bool:
        """Log a database problem; True when it is fatal (the dispatcher stops)."""
        if exc.transient:
            log.warning("dispatcher: %s; retrying", exc)
            return False
        if self.fatal is None:
            self.fatal = exc
            log.error("dispatcher: %s; stopping", exc)
            if self.on_fatal is not None:
                self.on_fatal(exc)
        self._stopping = True
        return True

    async def _persist(self, call: Callable[[], Awaitable[T]]) -> T:
        """A bookkeeping write that must not be lost: waits out a locked database with backoff;
        a corrupt or read-only one raises."""
        delay = LOCK_RETRY_FIRST
        warned = False
        while True:
            try:
                return await call()
            except StorageError as exc:
                if not exc.transient:
                    raise
                if not warned:
                    log.warning("dispatcher: %s; retrying the write", exc)
                    warned = True
                await asyncio.sleep(delay)
                delay = min(LOCK_RETRY_MAX, delay * 2)

    # ------------------------------------------------------------------ reconciliation

    async def _recover_in_flight(self) -> None:
        """A delivery attempted but not recorded may have reached the platform before the
        process died (or before a worker failed): ask the platform, where it can tell, before
        sending again — one look-up per destination."""
        self._needs_reconcile = False
        if self._shared:
            # Leases held under this worker id and not in this life's queues belong to a
            # previous life of this process (ids are unique among live processes) or to a
            # worker that just failed: free them now, still flagged in flight, so they are
            # looked up before anyone resends them. What other workers here are sending keeps
            # its lease — freed, another process could send it a second time.
            await self.store.release_leases(self.worker_id, keep=self._queued)
        groups: dict[Destination, list] = {}
        for delivery, _alert in await self.store.in_flight_deliveries(now=self.clock()):
            if delivery.id in self._queued or delivery.platform not in self.adapters:
                continue
            groups.setdefault(_destination(delivery), []).append(delivery)
        for key, deliveries in groups.items():
            adapter = self.adapters[key.platform]
            since = min(d.attempt_started_at for d in deliveries) - LOOKUP_MARGIN
            keys = {_idempotency_key(d): d for d in deliveries}
            try:
                found = await adapter.find_sent_many(key, list(keys), since)
            except Exception as exc:
                log.warning("dispatcher: could not look up in-flight sends in %s: %s", key, exc)
                continue
            if found:
                sent = [(keys[k].id, message_id) for k, message_id in found.items() if k in keys]
                await self._persist(lambda sent=sent: self.store.mark_sent_many(sent))
                log.info(
                    "%d deliver%s to %s:%s %s already posted before a restart; not resending",
                    len(sent),
                    "y" if len(sent) == 1 else "ies",
                    key.platform,
                    key.channel,
                    "was" if len(sent) == 1 else "were",
                )

    async def _already_posted(self, delivery) -> bool:
        """Ask the platform whether an attempt that never settled reached it; if so record the
        send. True when it did (do not send again)."""
        adapter = self.adapters.get(delivery.platform)
        if adapter is None or delivery.attempt_started_at is None:
            return False
        message_id = await _lookup_sent(adapter, delivery, delivery.attempt_started_at)
        if not message_id:
            return False
        await self._persist(lambda: self.store.mark_sent_many([(delivery.id, message_id)]))
        log.info("delivery %s was already posted (%s); not resending", delivery.id, message_id)
        return True

    async def _renew_leases(self) -> None:
        """Heartbeat: keep the leases on what waits in this process's queues."""
        if not self._shared:
            return
        loop = asyncio.get_running_loop()
        if not self._queued or loop.time() - self._renewed_at < self.lease_seconds / 3:
            return
        self._renewed_at = loop.time()
        await self.store.renew_leases(
            self.worker_id, sorted(self._queued), lease_seconds=self.lease_seconds, now=self.clock()
        )

    # ------------------------------------------------------------------ queueing

    async def _due(self) -> list:
        """Due deliveries in channel order: on a database only this process writes, read them
        (`due_in_channel_order`); on a shared one, claim them with leases (`claim_due`) — only
        rows the claim actually took, re-checked as still pending and free, so a delivery sent a
        moment ago is never queued again — in rounds of a few channels, so that a fan-out spreads
        over the processes."""
        if not self._shared:
            return await self.store.due_in_channel_order(self.clock(), limit=BATCH)
        due: list = []
        while not self._stopping:
            claimed = await self.store.claim_due(
                self.worker_id,
                lease_seconds=self.lease_seconds,
                now=self.clock(),
                limit=BATCH,
                platforms=sorted(self.adapters),
                max_channels=CLAIM_CHANNELS,
            )
            fresh = 0
            for claim in claimed:
                delivery = claim.delivery
                if delivery.id in self._queued:
                    continue  # its lease ran out while it waited here; now it is ours again
                fresh += 1
                # A worker died (or lost its lease) mid-send: ask the platform before resending.
                if claim.reclaimed and await self._already_posted(delivery):
                    continue
                due.append((delivery, claim.alert))
            if fresh == 0 or len(due) >= BATCH:
                return due
            await asyncio.sleep(CLAIM_ROUND_PAUSE)
        return due

    async def enqueue_due(self) -> int:
        due = await self._due()
        added = 0
        for delivery, alert in due:
            if delivery.id in self._queued or delivery.platform not in self.adapters:
                continue
            key = _destination(delivery)
            if self._stopped_before(key, delivery.created_at):
                continue  # failed with its channel a moment ago; not a resumed channel's
            queue = self._queues.setdefault(key, deque())
            self._queued.add(delivery.id)
            queue.append((delivery, alert))
            added += 1
            worker = self._workers.get(key)
            if worker is None or worker.done():
                self._workers[key] = asyncio.create_task(self._worker(key, queue))
        return added

    def _stopped_before(self, key: Destination, created_at: dt.datetime) -> bool:
        """True when `key` was stopped after this delivery was written; a delivery written
        after the stop means someone resumed the channel (`/flows watch`), so it runs again."""
        stops = self._stops(key)
        latest = max((at for at in stops if at is not None), default=None)
        if latest is None:
            return False
        if created_at > latest:
            self._broken.pop(key, None)
            self._broken_workspaces.pop((key.platform, key.workspace), None)
            self._broken_workspaces.pop((key.platform, None), None)
            return False
        return True

    def _stops(self, key: Destination) -> tuple[dt.datetime | None, ...]:
        """When `key` was stopped: the destination itself, its workspace, its whole platform."""
        return (
            self._broken.get(key),
            self._broken_workspaces.get((key.platform, key.workspace)),
            self._broken_workspaces.get((key.platform, None)),
        )

    def _is_stopped(self, key: Destination) -> bool:
        return any(at is not None for at in self._stops(key))

    def _pacers(self, key: Destination) -> tuple[ResponsePacer, ResponsePacer]:
        pacing = self.adapters[key.platform].pacing
        channel = self._channel_pacers.get(key)
        if channel is None:
            channel = ResponsePacer(pacing.per_channel_messages, pacing.per_channel_seconds)
            self._channel_pacers[key] = channel
        scope = self._scope(key.platform, key.workspace)
        overall = self._global_pacers.get(scope)
        if overall is None:
            overall = ResponsePacer.per_second(pacing.global_per_second * self._share(scope))
            self._global_pacers[scope] = overall
        return channel, overall

    def _scope(self, platform: str, workspace: str) -> tuple[str, str]:
        """Whose rate limit a send counts against: a Slack workspace's, or the bot's."""
        return (platform, workspace if self.adapters[platform].pacing.per_workspace else "")

    def _share(self, scope: tuple[str, str], mine: int | None = None) -> float:
        """This process's share of a scope's rate: its backlog there (`mine`, else counted from
        its queues) over everyone's, with the other processes' backlog as last read
        (`share_rates`)."""
        others = self._others_backlog.get(scope, 0)
        if not others:
            return 1.0
        if mine is None:
            mine = self._backlog_by_scope().get(scope, 0)
        return max(mine, 1) / (max(mine, 1) + others)

    def _backlog_by_scope(self) -> dict[tuple[str, str], int]:
        backlog: dict[tuple[str, str], int] = {}
        for key, queue in self._queues.items():
            scope = self._scope(key.platform, key.workspace)
            backlog[scope] = backlog.get(scope, 0) + len(queue)
        return backlog

    def share_rates(self, backlog: Mapping[tuple[str, str, str], int]) -> None:
        """The limits of a Slack workspace and of a Discord bot token are the platform's, not
        this process's: with several dispatchers on one database each paces the share of them
        that its backlog is of everyone's (`backlog`: {(worker id, platform, workspace): leased
        pending deliveries}, `Store.leased_backlog`), so the sum stays within the platform's
        limit and a process holding most of the work gets most of the rate. The per-channel
        limit needs no share: one process at a time drains a channel."""
        others: dict[tuple[str, str], int] = {}
        for (worker, platform, workspace), count in backlog.items():
            if worker != self.worker_id and platform in self.adapters:
                scope = self._scope(platform, workspace)
                others[scope] = others.get(scope, 0) + count
        self._others_backlog = others
        mine = self._backlog_by_scope()
        for scope, pacer in self._global_pacers.items():
            share = self._share(scope, mine.get(scope, 0))
            pacer.set_rate(self.adapters[scope[0]].pacing.global_per_second * share)

    async def _share_rates(self) -> None:
        """Re-read the other processes' backlog (at most once a second) and re-share the rates."""
        if not self._shared:
            return
        loop = asyncio.get_running_loop()
        if loop.time() - self._shared_at < RATE_SHARE_SECONDS:
            return
        self._shared_at = loop.time()
        self.share_rates(await self.store.leased_backlog(self.clock()))

    async def _worker(self, key: Destination, queue: deque) -> None:
        adapter = self.adapters[key.platform]
        try:
            while queue and not self._stopping:
                delivery, alert = queue[0]
                if self._is_stopped(key):
                    queue.popleft()
                    self._queued.discard(delivery.id)
                    continue
                try:
                    await self._deliver(adapter, key, delivery, alert)
                except StorageError as exc:
                    self._storage_failed(exc)
                    return
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # Whether it reached the platform is unknown: look it up before re-sending.
                    log.exception("dispatcher: delivery %s failed in the worker", delivery.id)
                    self._needs_reconcile = True
                    self._wake.set()
                    return
                queue.popleft()
                self._queued.discard(delivery.id)
        finally:
            # Whatever is left stays pending in the database and is picked up again.
            if self._workers.get(key) is asyncio.current_task():
                for delivery, _ in queue:
                    self._queued.discard(delivery.id)
                queue.clear()

    # ------------------------------------------------------------------ one delivery

    def _message(self, alert) -> Message:
        message = self._messages.get(alert.id)
        if message is None:
            if len(self._messages) > 1000:
                self._messages.clear()
            message = self._messages[alert.id] = Message.from_storage(alert.content)
        return message

    async def _deliver(self, adapter: ChatAdapter, key: Destination, delivery, alert) -> None:
        """Send one delivery, retrying it in place (so nothing behind it overtakes it) until it
        is sent, refused or given up."""
        message = self._message(alert)
        idempotency_key = _idempotency_key(delivery)
        channel_pacer, overall_pacer = self._pacers(key)
        rate_limited = transient = 0
        while not self._is_stopped(key):
            await channel_pacer.acquire()
            try:
                await overall_pacer.acquire()
            except BaseException:
                channel_pacer.release()
                raise
            try:
                # Committed before the send: a crash from here on is resolved by asking the
                # platform, not by guessing. Marked only now, with the send's turn come, so a
                # crash leaves few deliveries to look up.
                started = self.clock()
                await self._begun.record(delivery.id)
                message_id = await adapter.send(key, message, idempotency_key)
            except DeliveryError as exc:
                error = exc
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception(
                    "dispatcher: %s crashed sending delivery %s", key.platform, delivery.id
                )
                error = DeliveryError(f"{key.platform}: {type(exc).__name__}: {exc}")
            else:
                self.sent += 1
                await self._sent.record((delivery.id, message_id))
                return
            finally:
                channel_pacer.release()
                overall_pacer.release()

            if error.permanent:
                await self._refused(adapter, key, delivery, error)
                return
            where = f"{key.platform}:{key.channel}"
            if error.retry_after is not None:
                rate_limited += 1
                channel_pacer.pause(error.retry_after)
                if rate_limited >= MAX_RATE_LIMITED_ATTEMPTS:
                    await self._give_up(delivery, rate_limited, error)
                    return
                await self._defer(key, error.retry_after)
                continue
            transient += 1
            # A timeout or a 5xx can hide a post that went through: ask before sending again.
            message_id = await _lookup_sent(adapter, delivery, started)
            if message_id:
                await self._sent.record((delivery.id, message_id))
                return
            if transient >= MAX_TRANSIENT_ATTEMPTS:
                await self._give_up(delivery, transient, error)
                return
            backoff = min(MAX_BACKOFF_SECONDS, self.base_backoff * 2 ** (transient - 1))
            log.warning(
                "delivery %s to %s failed (%s); retrying in %gs", delivery.id, where, error, backoff
            )
            channel_pacer.pause(backoff)
            await self._defer(key, backoff)

    async def _defer(self, key: Destination, seconds: float) -> None:
        """Write the channel's pause down, so a restart neither sends early nor out of order."""
        until = self.clock() + dt.timedelta(seconds=seconds)
        try:
            await self.store.defer_channel(
                platform=key.platform, workspace=key.workspace, channel=key.channel, until=until
            )
        except StorageError as exc:
            if not exc.transient:
                raise
            log.warning("dispatcher: could not record a pause of %s: %s", key.channel, exc)

    async def _give_up(self, delivery, attempts: int, error: DeliveryError) -> None:
        reason = f"gave up after {attempts} attempts: {error.reason}"
        await self._persist(lambda: self.store.mark_failed(delivery.id, reason))
        log.error(
            "delivery %s to %s:%s %s", delivery.id, delivery.platform, delivery.channel, reason
        )

    async def _refused(self, adapter: ChatAdapter, key: Destination, delivery, error) -> None:
        """The platform will not take this (or anything) here: stop at the right scope."""
        if error.scope == "message":
            await self._persist(lambda: self.store.mark_failed(delivery.id, error.reason))
            log.error(
                "delivery %s to %s:%s refused: %s",
                delivery.id,
                key.platform,
                key.channel,
                error.reason,
            )
            return
        now = self.clock()
        if error.scope == "channel":
            self._broken[key] = now
            stopped = await self._persist(
                lambda: self.store.break_destination(
                    platform=key.platform,
                    workspace=key.workspace,
                    channel=key.channel,
                    user=key.user,
                    reason=error.reason,
                )
            )
            where = (
                f"{key.platform} {'DM of ' + key.user if key.user else 'channel ' + key.channel}"
            )
            log.error(
                "%s stopped: %s (%d subscription(s) marked broken, %d pending deliveries "
                "failed); it resumes when someone runs /flows watch there",
                where,
                error.reason,
                stopped.subscriptions,
                stopped.deliveries_failed,
            )
            await self._tell_subscribers(adapter, key, stopped.subscriber_ids, error.reason)
            return
        workspace = key.workspace if error.scope == "workspace" else None
        if (key.platform, workspace) in self._broken_workspaces:
            return  # a send already in flight when the first refusal came back
        self._broken_workspaces[(key.platform, workspace)] = now
        stopped = await self._persist(
            lambda: self.store.break_workspace(
                platform=key.platform, workspace=workspace, reason=error.reason
            )
        )
        log.error(
            "%s %s refused the bot's token (%s): every alert there is stopped (%d "
            "subscription(s) marked broken, %d pending deliveries failed). Fix the token, "
            "restart, and run /flows watch to resume",
            key.platform,
            f"workspace {workspace}" if workspace else "(all workspaces)",
            error.reason,
            stopped.subscriptions,
            stopped.deliveries_failed,
        )

    async def _tell_subscribers(
        self, adapter: ChatAdapter, key: Destination, subscriber_ids: tuple[str, ...], reason: str
    ) -> None:
        """A DM to each person who subscribed there; the log line above when that fails too."""
        where = f"<#{key.channel}>" if key.platform == "slack" else f"channel {key.channel}"
        notice = Message(
            title="flows-bot stopped posting alerts",
            summary=f"flows-bot can no longer post in {where} ({reason}), so its alerts there are "
            "stopped. Once the bot can post there again (invite it, unarchive the channel, "
            "restore its permissions), run /flows watch there to resume.",
            tone="warning",
        )
        _, overall = self._pacers(key)
        for user in subscriber_ids:
            if key.user == user:
                continue  # their DM is what broke
            destination = Destination(key.platform, key.workspace, user, user)
            try:
                await overall.acquire()
                try:
                    await adapter.send(destination, notice, f"flows-broken-{key.channel}-{user}")
                finally:
                    overall.release()
            except Exception as exc:
                log.warning("could not tell %s that %s stopped: %s", user, key.channel, exc)


class _GroupCommit:
    """One bookkeeping write per moment for every worker waiting on it: 200 channels starting
    or finishing a send at once cost one commit, not 200. Each caller returns once its own item
    is committed. A locked database is waited out (the items stay in memory meanwhile — for a
    send already accepted by the platform, that is what keeps it from being sent again)."""

    def __init__(self, persist: Callable[[Callable[[], Awaitable[Any]]], Awaitable[Any]], write):
        self._persist = persist
        self._write_many = write
        self._waiting: list[tuple[Any, asyncio.Future[None]]] = []
        self._writer: asyncio.Task | None = None

    async def record(self, item: Any) -> None:
        done = asyncio.get_running_loop().create_future()
        self._waiting.append((item, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        # Shielded: a worker cancelled at shutdown must not cancel the commit of its send.
        await asyncio.shield(done)

    async def _write(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            items = [item for item, _ in batch]
            try:
                await self._persist(lambda items=items: self._write_many(items))
            except BaseException as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)

    async def wait(self) -> None:
        """Until every item handed in so far is committed (or has failed)."""
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)


def _destination(delivery) -> Destination:
    return Destination(
        delivery.platform, delivery.workspace, delivery.channel, delivery.user or None
    )


async def _lookup_sent(adapter: ChatAdapter, delivery, attempt_started: dt.datetime) -> str | None:
    """The platform's id of this delivery's message if an attempt begun at `attempt_started`
    reached it; None when not found or the platform cannot be asked."""
    key = _idempotency_key(delivery)
    since = attempt_started - LOOKUP_MARGIN
    try:
        found = await adapter.find_sent_many(_destination(delivery), [key], since)
    except Exception as exc:
        log.warning("dispatcher: could not look up delivery %s: %s", delivery.id, exc)
        return None
    return found.get(key) or None


def _idempotency_key(delivery) -> str:
    return f"flows-{delivery.alert_id}-{delivery.subscription_id}"
