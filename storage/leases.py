"""Outbox leases: several dispatcher processes drain one outbox without sending a delivery twice.

A worker claims due deliveries by writing its id (`claimed_by`) and a lease end (`lease_until`)
on them; while the lease runs nobody else takes them, and nobody else takes *anything in the same
channel*, so each channel is drained by one process at a time and its messages keep their order.
Settling a delivery (`mark_sent`, `mark_retry`, …) ends its lease. A worker that dies leaves
leases that expire; the next claim takes those deliveries back, flagged `reclaimed`, so the
dispatcher asks the platform whether the send went through before sending again.

PostgreSQL: one claim at a time (a transaction-level advisory lock, held for the few
milliseconds of the claim, so two workers never split a channel between them), and the rows are
taken with `SELECT … FOR UPDATE SKIP LOCKED`, so a claim never waits on a row another transaction
is settling. SQLite has one writer anyway: a plain SELECT, then an UPDATE that re-checks every
condition, each in its own short transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import col, select

from storage._common import _DELIVERIES, StoreBase, _chunks, _free, _same_destination
from storage.models import DELIVERY_PENDING, Alert, Delivery, utcnow

CLAIM_LOCK_KEY = 0x666C6F7773_01
"""PostgreSQL advisory-lock key serialising claims (`flows` + 1)."""


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    delivery: Delivery
    alert: Alert
    reclaimed: bool
    """An earlier attempt began and never settled (its worker died or lost its lease): the
    platform may already have the message."""


class OutboxLeaseMixin(StoreBase):
    """Claiming, renewing and releasing outbox leases."""

    @property
    def is_shared(self) -> bool:
        """True when several processes may share this database (PostgreSQL)."""
        return self._dialect == "postgresql"

    async def claim_due(
        self,
        worker_id: str,
        *,
        lease_seconds: float,
        now: dt.datetime | None = None,
        limit: int = 500,
        platforms: Sequence[str] | None = None,
        max_channels: int | None = None,
    ) -> list[ClaimedDelivery]:
        """Claim up to `limit` due pending deliveries for `worker_id`, oldest due first.

        A delivery is claimable when it is pending, due, not leased (or its lease expired), and
        no *other* worker holds a live lease in its channel. Claiming marks the attempt as begun
        (`attempt_started_at`, as `begin_attempts` does) and leases the row until now +
        `lease_seconds`. Only rows this call actually updated are returned: a row settled or
        claimed by someone else meanwhile is not. `platforms` limits the claim to the
        platforms this worker can post to; `max_channels` to the deliveries of the first that
        many channels (so that one worker does not take every channel in one claim while
        others sit idle: a channel is drained by one worker at a time).
        """
        now = now or utcnow()
        until = now + dt.timedelta(seconds=lease_seconds)
        d = _DELIVERIES.c
        other = _DELIVERIES.alias("other")
        o = other.c
        busy_channel = sa.exists().where(
            _same_destination(o, d),
            o.status == DELIVERY_PENDING,
            o.lease_until > now,
            o.claimed_by != worker_id,
        )
        earlier = _DELIVERIES.alias("earlier")
        e = earlier.c
        # Behind an earlier pending delivery of the same destination that is not due yet
        # (deferred by a 429 or a backoff): it waits, so the channel keeps its alert order.
        queued_behind = sa.exists().where(
            _same_destination(e, d),
            e.status == DELIVERY_PENDING,
            e.next_attempt_at > now,
            e.id < d.id,
        )
        candidates = (
            sa.select(d.id, d.attempt_started_at, d.platform, d.workspace, d.channel, d.user)
            .where(d.status == DELIVERY_PENDING, d.next_attempt_at <= now, _free(now))
            .where(~busy_channel, ~queued_behind)
            .where(sa.true() if platforms is None else d.platform.in_(list(platforms)))
            .order_by(d.next_attempt_at, d.id)
            .limit(limit)
        )
        postgres = self._dialect == "postgresql"
        if postgres:
            candidates = candidates.with_for_update(skip_locked=True, of=_DELIVERIES)
        async with self._engine.begin() as connection:
            if postgres:
                await connection.execute(sa.select(sa.func.pg_advisory_xact_lock(CLAIM_LOCK_KEY)))
            rows = (await connection.execute(candidates)).all()
            if max_channels is not None:
                channels: set[tuple[str, str, str, str]] = set()
                kept = []
                for row in rows:
                    channel = (row.platform, row.workspace, row.channel, row.user)
                    if channel not in channels and len(channels) >= max_channels:
                        continue
                    channels.add(channel)
                    kept.append(row)
                rows = kept
            if not rows:
                return []
            in_flight = {row.id for row in rows if row.attempt_started_at is not None}
            claimed: set[int] = set()
            for chunk in _chunks([row.id for row in rows]):
                result = await connection.execute(
                    sa.update(_DELIVERIES)
                    .where(
                        d.id.in_(list(chunk)),
                        d.status == DELIVERY_PENDING,
                        _free(now),
                    )
                    .values(claimed_by=worker_id, lease_until=until, attempt_started_at=now)
                    .returning(d.id)
                )
                claimed.update(result.scalars())
        if not claimed:
            return []
        found: dict[int, tuple[Delivery, Alert]] = {}
        async with self._sessions() as session:
            for chunk in _chunks(sorted(claimed)):
                result = await session.exec(
                    select(Delivery, Alert)
                    .join(Alert, col(Alert.id) == col(Delivery.alert_id))
                    .where(col(Delivery.id).in_(list(chunk)))
                )
                found.update((delivery.id, (delivery, alert)) for delivery, alert in result.all())
        ordered = [row.id for row in rows if row.id in found]
        return [
            ClaimedDelivery(found[id_][0], found[id_][1], reclaimed=id_ in in_flight)
            for id_ in ordered
        ]

    async def leased_backlog(
        self, now: dt.datetime | None = None
    ) -> dict[tuple[str, str, str], int]:
        """Pending deliveries each worker holds a live lease on — what waits in its queues:
        {(worker id, platform, workspace): count}. The dispatchers share the platforms' rates
        in proportion (bot/dispatcher.py `share_rates`)."""
        now = now or utcnow()
        d = _DELIVERIES.c
        async with self._engine.connect() as connection:
            result = await connection.execute(
                sa.select(d.claimed_by, d.platform, d.workspace, sa.func.count())
                .where(
                    d.lease_until.is_not(None),
                    d.lease_until > now,
                    d.status == DELIVERY_PENDING,
                )
                .group_by(d.claimed_by, d.platform, d.workspace)
            )
            return {(worker, platform, workspace): n for worker, platform, workspace, n in result}

    async def renew_leases(
        self,
        worker_id: str,
        delivery_ids: Sequence[int],
        *,
        lease_seconds: float,
        now: dt.datetime | None = None,
    ) -> int:
        """Extend the leases `worker_id` still holds on these pending deliveries (a heartbeat
        while they wait in its queues); returns how many it still held."""
        if not delivery_ids:
            return 0
        now = now or utcnow()
        renewed = 0
        async with self._engine.begin() as connection:
            for chunk in _chunks(list(delivery_ids)):
                result = await connection.execute(
                    sa.update(_DELIVERIES)
                    .where(
                        _DELIVERIES.c.id.in_(list(chunk)),
                        _DELIVERIES.c.claimed_by == worker_id,
                        _DELIVERIES.c.status == DELIVERY_PENDING,
                        _DELIVERIES.c.lease_until.is_not(None),
                    )
                    .values(lease_until=now + dt.timedelta(seconds=lease_seconds))
                )
                renewed += result.rowcount
        return renewed

    def _none_of(self, delivery_ids: Collection[int]) -> sa.ColumnElement[bool]:
        """`id` is none of these, with the ids as one parameter (a queue can hold thousands)."""
        ids = sorted(delivery_ids)
        if self._dialect == "postgresql":
            array = sa.bindparam("keep", ids, type_=postgresql.ARRAY(sa.Integer))
            return _DELIVERIES.c.id != sa.all_(array)
        listed = sa.func.json_each(sa.bindparam("keep", json.dumps(ids), type_=sa.String))
        return _DELIVERIES.c.id.not_in(sa.select(listed.table_valued("value").c.value))

    async def release_leases(
        self,
        worker_id: str,
        delivery_ids: Sequence[int] | None = None,
        *,
        keep: Collection[int] = (),
    ) -> int:
        """End `worker_id`'s leases on pending deliveries so another worker may take them at
        once: these `delivery_ids` — at shutdown, what was still queued; their send had not
        started, so they lose their in-flight mark too and nobody needs to ask the platform —
        or, with None, all but `keep` (still flagged in flight: after a restart or a failed
        worker, whether they reached the platform is unknown)."""
        where = [
            _DELIVERIES.c.claimed_by == worker_id,
            _DELIVERIES.c.status == DELIVERY_PENDING,
            _DELIVERIES.c.lease_until.is_not(None),
        ]
        async with self._engine.begin() as connection:
            if delivery_ids is None:
                if keep:
                    where.append(self._none_of(keep))
                result = await connection.execute(
                    sa.update(_DELIVERIES).where(*where).values(lease_until=None)
                )
                return result.rowcount
            released = 0
            for chunk in _chunks(list(delivery_ids)):
                result = await connection.execute(
                    sa.update(_DELIVERIES)
                    .where(*where, _DELIVERIES.c.id.in_(list(chunk)))
                    .values(lease_until=None, attempt_started_at=None)
                )
                released += result.rowcount
            return released
