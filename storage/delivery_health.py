"""What keeps delivery trustworthy: per-channel order across restarts, and channels (or whole
workspaces) that the platform refuses, stopped at once and resumed by a new `/flows watch`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from storage._common import (
    _ALERTS,
    _DELIVERIES,
    _SUBSCRIPTIONS,
    _SUBSCRIPTIONS_REVISION,
    StoreBase,
    _bump,
    _clip,
    _fail_pending,
    _platform,
    _same_destination,
    _target_clause,
)
from storage.models import (
    DELIVERY_PENDING,
    SUBSCRIPTION_ACTIVE,
    SUBSCRIPTION_BROKEN,
    Alert,
    Delivery,
    utcnow,
)

WORKSPACE_BROKEN_PREFIX = "workspace: "
"""`broken_reason` of subscriptions stopped because their whole workspace refused the bot."""


@dataclass(frozen=True, slots=True)
class BrokenDestination:
    """What stopping a channel (or workspace) changed, and whom to tell."""

    subscriptions: int
    deliveries_failed: int
    subscriber_ids: tuple[str, ...]


class DeliveryHealthMixin(StoreBase):
    async def due_in_channel_order(
        self, now: dt.datetime | None = None, limit: int = 500
    ) -> list[tuple[Delivery, Alert]]:
        """Pending deliveries due at `now`, except those queued behind an earlier pending delivery
        of the same destination that is not due yet (deferred by a 429 or a backoff): a channel
        receives its alerts in the order they were written, across retries and restarts.
        Oldest first."""
        now = now or utcnow()
        d = _DELIVERIES.c
        waiting = (
            sa.select(
                d.platform, d.workspace, d.channel, d.user, sa.func.min(d.id).label("first_id")
            )
            .where(d.status == DELIVERY_PENDING, d.next_attempt_at > now)
            .group_by(d.platform, d.workspace, d.channel, d.user)
            .subquery()
        )
        query = (
            sa.select(Delivery, Alert)
            .join(Alert, _ALERTS.c.id == d.alert_id)
            .outerjoin(waiting, _same_destination(waiting.c, d))
            .where(
                d.status == DELIVERY_PENDING,
                d.next_attempt_at <= now,
                sa.or_(waiting.c.first_id.is_(None), d.id < waiting.c.first_id),
            )
            .order_by(d.id)
            .limit(limit)
        )
        async with self._sessions() as session:
            rows = await session.exec(query)  # type: ignore[call-overload]
            return [(delivery, alert) for delivery, alert in rows.all()]

    async def break_destination(
        self,
        *,
        platform: str,
        workspace: str,
        channel: str,
        user: str | None,
        reason: str,
    ) -> BrokenDestination:
        """The platform refuses this channel (or this user's DM): every subscription there is
        marked broken and every pending delivery to it failed, in one transaction."""
        platform = _platform(platform)
        where_subs = _target_clause(_SUBSCRIPTIONS, platform, workspace, channel, user)
        where_deliveries = _target_clause(_DELIVERIES, platform, workspace, channel, user)
        return await self._break(where_subs, where_deliveries, reason)

    async def break_workspace(
        self, *, platform: str, workspace: str | None, reason: str
    ) -> BrokenDestination:
        """The platform refuses the bot's token for a workspace (`workspace=None`: everywhere on
        the platform): every subscription there stops."""
        s, d = _SUBSCRIPTIONS.c, _DELIVERIES.c
        platform = _platform(platform)
        where_subs = s.platform == platform
        where_deliveries = d.platform == platform
        if workspace is not None:
            where_subs = sa.and_(where_subs, s.workspace == workspace)
            where_deliveries = sa.and_(where_deliveries, d.workspace == workspace)
        return await self._break(where_subs, where_deliveries, WORKSPACE_BROKEN_PREFIX + reason)

    async def _break(self, where_subs, where_deliveries, reason: str) -> BrokenDestination:
        s = _SUBSCRIPTIONS.c
        async with self._engine.begin() as connection:
            changed = await connection.execute(
                sa.update(_SUBSCRIPTIONS)
                .where(where_subs, s.status == SUBSCRIPTION_ACTIVE)
                .values(status=SUBSCRIPTION_BROKEN, broken_reason=_clip(reason))
                .returning(s.created_by_id)
            )
            subscribers = changed.scalars().all()  # one per subscription stopped
            subscriber_ids = tuple(sorted({sid for sid in subscribers if sid}))
            await connection.execute(_bump(_SUBSCRIPTIONS_REVISION))
            failed = await _fail_pending(connection, where_deliveries, f"channel broken: {reason}")
            return BrokenDestination(len(subscribers), failed, subscriber_ids)

    async def resume_channel(
        self, *, platform: str, workspace: str, channel: str, user: str | None = None
    ) -> int:
        """Someone just ran `/flows watch` here, so the bot can reach it again: the broken
        subscriptions of this channel (or DM), and those stopped with their whole workspace,
        become active. Returns how many."""
        s = _SUBSCRIPTIONS.c
        here = _target_clause(_SUBSCRIPTIONS, _platform(platform), workspace, channel, user)
        workspace_wide = sa.and_(
            s.platform == platform,
            s.workspace == (workspace or ""),
            s.broken_reason.startswith(WORKSPACE_BROKEN_PREFIX),
        )
        async with self._engine.begin() as connection:
            result = await connection.execute(
                sa.update(_SUBSCRIPTIONS)
                .where(sa.or_(here, workspace_wide), s.status == SUBSCRIPTION_BROKEN)
                .values(status=SUBSCRIPTION_ACTIVE, broken_reason=None)
            )
            if result.rowcount:
                await connection.execute(_bump(_SUBSCRIPTIONS_REVISION))
            return result.rowcount

    async def broken_destinations(self) -> list[tuple[str, str, str, str, str, int]]:
        """(platform, workspace, channel, user, reason, subscriptions) of every broken
        destination, for admin output."""
        s = _SUBSCRIPTIONS.c
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                sa.select(
                    s.platform, s.workspace, s.channel, s.user, s.broken_reason, sa.func.count()
                )
                .where(s.status == SUBSCRIPTION_BROKEN)
                .group_by(s.platform, s.workspace, s.channel, s.user, s.broken_reason)
                .order_by(s.platform, s.workspace, s.channel)
            )
            return [(p, w, c, u, reason or "", int(n)) for p, w, c, u, reason, n in rows.all()]
