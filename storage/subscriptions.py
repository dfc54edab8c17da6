"""Subscriptions, channel settings and mutes: who wants which alerts where."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import EllipsisType
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select

from storage._common import (
    _CHANNELS,
    _DELIVERIES,
    _REVISIONS,
    _SUBSCRIPTIONS,
    _SUBSCRIPTIONS_REVISION,
    StoreBase,
    _bump,
    _clip,
    _fail_pending,
    _platform,
    _required,
    _subscription_row,
    _target_clause,
    _threshold,
)
from storage.models import (
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    SUBSCRIPTION_ACTIVE,
    SUBSCRIPTION_BROKEN,
    ChannelSetting,
    Subscription,
    join_kinds,
    split_kinds,
    utcnow,
)


class ActiveSubscription(NamedTuple):
    """What a monitor needs of an active subscription: whom to alert, for what, above what.

    A light read-only snapshot (a monitor tick loads thousands, so a tuple, not an ORM object):
    the fields of `Subscription` that matter for matching, with the kinds already split.
    """

    id: int
    platform: str
    workspace: str
    channel: str
    user: str
    asset: str
    alert_kinds: tuple[str, ...]
    threshold_usd: float | None
    threshold_pct_adv: float | None


@dataclass(frozen=True, slots=True)
class _ActiveSnapshot:
    """Every active subscription by asset, as of one revision of the subscriptions table."""

    revision: int
    by_asset: dict[str, tuple[ActiveSubscription, ...]]
    by_kind: dict[str, dict[str, tuple[ActiveSubscription, ...]]]
    """{asset: {alert kind: subscriptions}}: a tick asks per kind, without rescanning them all."""


def _unmuted(
    rows: Sequence[ActiveSubscription], muted: set[tuple[str, str, str]]
) -> list[ActiveSubscription]:
    if not muted:  # the common case: a copy, no per-row test
        return list(rows)
    return [s for s in rows if (s.platform, s.workspace, s.channel) not in muted]


class SubscriptionsMixin(StoreBase):
    """Subscriptions (cached in memory against a revision counter) and channel mutes."""

    async def add_subscription(
        self,
        *,
        platform: str,
        channel: str,
        asset: str,
        kinds: Iterable[str] | str,
        workspace: str = "",
        user: str | None = None,
        threshold_usd: float | None = None,
        threshold_pct_adv: float | None = None,
        created_by: str = "",
        created_by_id: str = "",
        now: dt.datetime | None = None,
    ) -> tuple[Subscription, bool]:
        """Watch `asset` in a channel (or a user's DM); returns (subscription, created).

        Watching an asset already watched there returns the existing row with created=False and
        changes nothing — except that a *broken* subscription is made active again (someone just
        ran a command in that channel, so the bot can evidently reach it). To change the kinds or
        thresholds of an existing subscription use `update_subscription`.
        """
        values = _subscription_row(
            platform=platform,
            workspace=workspace,
            channel=channel,
            user=user,
            asset=asset,
            kinds=kinds,
            threshold_usd=threshold_usd,
            threshold_pct_adv=threshold_pct_adv,
            created_by=created_by,
            created_by_id=created_by_id,
            now=now or utcnow(),
        )
        platform, channel, asset = values["platform"], values["channel"], values["asset"]
        key = _target_clause(_SUBSCRIPTIONS, platform, workspace, channel, user)
        key = sa.and_(key, _SUBSCRIPTIONS.c.asset == asset)
        async with self._sessions() as session, session.begin():
            inserted = await session.exec(
                self._insert(_SUBSCRIPTIONS)
                .values(values)
                .on_conflict_do_nothing(
                    index_elements=["platform", "workspace", "channel", "user", "asset"]
                )
            )
            created = inserted.rowcount == 1
            if not created:
                await session.exec(
                    sa.update(_SUBSCRIPTIONS)
                    .where(key, _SUBSCRIPTIONS.c.status == SUBSCRIPTION_BROKEN)
                    .values(status=SUBSCRIPTION_ACTIVE, broken_reason=None)
                )
            await session.exec(_bump(_SUBSCRIPTIONS_REVISION))
            subscription = (await session.exec(select(Subscription).where(key))).one()
        return subscription, created

    async def update_subscription(
        self,
        subscription_id: int,
        *,
        kinds: Iterable[str] | str | None = None,
        threshold_usd: float | EllipsisType | None = ...,
        threshold_pct_adv: float | EllipsisType | None = ...,
    ) -> Subscription | None:
        """Change the kinds and/or thresholds (pass None to clear a threshold; omit to keep)."""
        values: dict[str, Any] = {}
        if kinds is not None:
            values["kinds"] = join_kinds(kinds)
        if threshold_usd is not ...:
            values["threshold_usd"] = _threshold("threshold_usd", threshold_usd)
        if threshold_pct_adv is not ...:
            values["threshold_pct_adv"] = _threshold("threshold_pct_adv", threshold_pct_adv)
        async with self._sessions() as session, session.begin():
            if values:
                await session.exec(
                    sa.update(_SUBSCRIPTIONS)
                    .where(_SUBSCRIPTIONS.c.id == subscription_id)
                    .values(values)
                )
                await session.exec(_bump(_SUBSCRIPTIONS_REVISION))
            return await session.get(Subscription, subscription_id)

    async def remove_subscriptions(
        self,
        *,
        platform: str,
        channel: str,
        workspace: str = "",
        user: str | None = None,
        asset: str | None = None,
    ) -> int:
        """Unwatch `asset` (or, with None, everything) in a channel / DM; returns rows removed.

        Their pending deliveries are failed with `last_error='subscription removed'`; delivery
        history stays (its `subscription_id` becomes NULL).
        """
        where = _target_clause(_SUBSCRIPTIONS, _platform(platform), workspace, channel, user)
        if asset is not None:
            where = sa.and_(where, _SUBSCRIPTIONS.c.asset == asset)
        ids = sa.select(_SUBSCRIPTIONS.c.id).where(where).scalar_subquery()
        async with self._engine.begin() as connection:
            await connection.execute(
                sa.update(_DELIVERIES)
                .where(
                    _DELIVERIES.c.subscription_id.in_(ids),
                    _DELIVERIES.c.status == DELIVERY_PENDING,
                )
                .values(status=DELIVERY_FAILED, last_error="subscription removed")
            )
            # What a foreign key's ON DELETE SET NULL did before migration 0012.
            await connection.execute(
                sa.update(_DELIVERIES)
                .where(_DELIVERIES.c.subscription_id.in_(ids))
                .values(subscription_id=None)
            )
            deleted = await connection.execute(sa.delete(_SUBSCRIPTIONS).where(where))
            await connection.execute(_bump(_SUBSCRIPTIONS_REVISION))
            return deleted.rowcount

    async def list_subscriptions(
        self, *, platform: str, channel: str, workspace: str = "", user: str | None = None
    ) -> list[Subscription]:
        """The subscriptions of one channel (user=None) or one user's DM, by asset."""
        where = _target_clause(Subscription, _platform(platform), workspace, channel, user)
        async with self._sessions() as session:
            query = select(Subscription).where(where).order_by(col(Subscription.asset))
            rows = await session.exec(query)
            return list(rows.all())

    async def get_subscription(self, subscription_id: int) -> Subscription | None:
        async with self._sessions() as session:
            return await session.get(Subscription, subscription_id)

    async def active_subscriptions_for(
        self,
        asset: str,
        *,
        kind: str | None = None,
        include_muted: bool = False,
        now: dt.datetime | None = None,
    ) -> list[ActiveSubscription]:
        """Active subscriptions to `asset` (wanting `kind`, if given), muted channels left out."""
        found = await self.active_subscriptions_by_asset(
            [asset], kind=kind, include_muted=include_muted, now=now
        )
        return found[asset]

    async def active_subscriptions_by_asset(
        self,
        assets: Iterable[str],
        *,
        kind: str | None = None,
        include_muted: bool = False,
        now: dt.datetime | None = None,
    ) -> dict[str, list[ActiveSubscription]]:
        """Active subscriptions of many assets: {asset: [subscription, …]}, from the in-memory
        snapshot (see `_active_snapshot`) plus one query for the channels muted now.

        Every requested asset is a key (with an empty list when nobody watches it). Channels muted
        at `now` are left out unless `include_muted`. Within an asset, oldest subscription first.
        """
        wanted = list(dict.fromkeys(assets))
        found: dict[str, list[ActiveSubscription]] = {asset: [] for asset in wanted}
        if not wanted:
            return found
        snapshot, muted = await self._snapshot_and_mutes(include_muted, now)
        for asset in wanted:
            if kind is None:
                rows = snapshot.by_asset.get(asset, ())
            else:
                rows = snapshot.by_kind.get(asset, {}).get(kind, ())
            found[asset] = _unmuted(rows, muted)
        return found

    async def active_subscriptions_by_kind(
        self,
        assets: Iterable[str],
        *,
        include_muted: bool = False,
        now: dt.datetime | None = None,
    ) -> dict[str, Mapping[str, Sequence[ActiveSubscription]]]:
        """Active subscriptions of many assets by alert kind: {asset: {kind: [subscription, …]}}.

        As `active_subscriptions_by_asset` (muted channels left out unless `include_muted`,
        oldest first), but grouped so a monitor tick finds who watches what kind without
        scanning every subscription; an asset nobody watches maps to {}. Treat the result as
        read-only: with no channel muted it is the cached snapshot itself.
        """
        wanted = list(dict.fromkeys(assets))
        if not wanted:
            return {}
        snapshot, muted = await self._snapshot_and_mutes(include_muted, now)
        found: dict[str, Mapping[str, Sequence[ActiveSubscription]]] = {}
        for asset in wanted:
            kinds = snapshot.by_kind.get(asset, {})
            if muted:
                kinds = {kind: _unmuted(rows, muted) for kind, rows in kinds.items()}
                kinds = {kind: rows for kind, rows in kinds.items() if rows}
            found[asset] = kinds
        return found

    async def _snapshot_and_mutes(
        self, include_muted: bool, now: dt.datetime | None
    ) -> tuple[_ActiveSnapshot, set[tuple[str, str, str]]]:
        """The active-subscription snapshot and the (platform, workspace, channel) muted at
        `now` (none when `include_muted`)."""
        async with self._engine.connect() as connection:
            snapshot = await self._active_snapshot(connection)
            if include_muted:
                return snapshot, set()
            channels = _CHANNELS.c
            result = await connection.execute(
                sa.select(channels.platform, channels.workspace, channels.channel).where(
                    channels.muted_until > (now or utcnow())
                )
            )
            return snapshot, {tuple(row) for row in result.all()}

    async def _active_snapshot(self, connection: AsyncConnection) -> _ActiveSnapshot:
        """Every active subscription, from memory while the table's revision is unchanged.

        A monitor tick reads thousands of subscriptions that rarely change; one indexed read of
        the revision replaces reloading them all. The revision is read before the rows, so a
        write landing in between leaves the snapshot tagged older than its rows: reloaded next
        time, never stale.
        """
        revision = (
            await connection.execute(
                sa.select(_REVISIONS.c.revision).where(_REVISIONS.c.name == _SUBSCRIPTIONS_REVISION)
            )
        ).scalar_one_or_none()
        snapshot = self._active
        if snapshot is not None and revision is not None and snapshot.revision == revision:
            return snapshot
        subs = _SUBSCRIPTIONS.c
        result = await connection.execute(
            sa.select(
                subs.id,
                subs.platform,
                subs.workspace,
                subs.channel,
                subs.user,
                subs.asset,
                subs.kinds,
                subs.threshold_usd,
                subs.threshold_pct_adv,
            )
            .where(subs.status == SUBSCRIPTION_ACTIVE)
            .order_by(subs.id)
        )
        split: dict[str, tuple[str, ...]] = {}
        by_asset: dict[str, list[ActiveSubscription]] = {}
        for id_, platform, workspace, channel, user, asset, text, usd, pct in result.all():
            kinds = split.get(text)
            if kinds is None:
                kinds = split[text] = split_kinds(text)
            by_asset.setdefault(asset, []).append(
                ActiveSubscription(id_, platform, workspace, channel, user, asset, kinds, usd, pct)
            )
        by_kind: dict[str, dict[str, list[ActiveSubscription]]] = {}
        for asset, rows in by_asset.items():
            kinds_of_asset = by_kind[asset] = {}
            for subscription in rows:
                for kind in subscription.alert_kinds:
                    kinds_of_asset.setdefault(kind, []).append(subscription)
        snapshot = _ActiveSnapshot(
            -1 if revision is None else revision,
            {asset: tuple(rows) for asset, rows in by_asset.items()},
            {
                asset: {kind: tuple(rows) for kind, rows in kinds.items()}
                for asset, kinds in by_kind.items()
            },
        )
        if revision is not None:
            self._active = snapshot
        return snapshot

    async def watched_assets(self) -> set[str]:
        """Every asset with at least one active subscription."""
        async with self._engine.connect() as connection:
            return set((await self._active_snapshot(connection)).by_asset)

    async def mark_subscription_broken(self, subscription_id: int, reason: str) -> int:
        """Stop alerting a subscription the platform refuses (403/404, channel gone…).

        Its pending deliveries become failed. Returns how many deliveries that failed.
        """
        async with self._engine.begin() as connection:
            await connection.execute(
                sa.update(_SUBSCRIPTIONS)
                .where(_SUBSCRIPTIONS.c.id == subscription_id)
                .values(status=SUBSCRIPTION_BROKEN, broken_reason=_clip(reason))
            )
            await connection.execute(_bump(_SUBSCRIPTIONS_REVISION))
            return await _fail_pending(
                connection,
                _DELIVERIES.c.subscription_id == subscription_id,
                f"subscription broken: {reason}",
            )

    async def mark_channel_broken(
        self, *, platform: str, channel: str, reason: str, workspace: str = ""
    ) -> int:
        """Mark every subscription of a channel broken (DM ones too); fail their pending
        deliveries. Returns how many subscriptions were active and are now broken."""
        where = sa.and_(
            _SUBSCRIPTIONS.c.platform == _platform(platform),
            _SUBSCRIPTIONS.c.workspace == (workspace or ""),
            _SUBSCRIPTIONS.c.channel == channel,
        )
        async with self._engine.begin() as connection:
            result = await connection.execute(
                sa.update(_SUBSCRIPTIONS)
                .where(where, _SUBSCRIPTIONS.c.status == SUBSCRIPTION_ACTIVE)
                .values(status=SUBSCRIPTION_BROKEN, broken_reason=_clip(reason))
            )
            await connection.execute(_bump(_SUBSCRIPTIONS_REVISION))
            ids = sa.select(_SUBSCRIPTIONS.c.id).where(where).scalar_subquery()
            await _fail_pending(
                connection, _DELIVERIES.c.subscription_id.in_(ids), f"subscription broken: {reason}"
            )
            return result.rowcount

    # ------------------------------------------------------------------ channel mutes

    async def mute_channel(
        self,
        *,
        platform: str,
        channel: str,
        until: dt.datetime,
        workspace: str = "",
        now: dt.datetime | None = None,
    ) -> None:
        """No new alerts for the channel's subscriptions until `until` (they are not queued)."""
        await self._set_muted_until(platform, workspace, channel, until, now)

    async def unmute_channel(
        self, *, platform: str, channel: str, workspace: str = "", now: dt.datetime | None = None
    ) -> None:
        await self._set_muted_until(platform, workspace, channel, None, now)

    async def _set_muted_until(
        self,
        platform: str,
        workspace: str,
        channel: str,
        until: dt.datetime | None,
        now: dt.datetime | None,
    ) -> None:
        values = {
            "platform": _platform(platform),
            "workspace": workspace or "",
            "channel": _required("channel", channel),
            "muted_until": until,
            "updated_at": now or utcnow(),
        }
        statement = self._insert(_CHANNELS).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=["platform", "workspace", "channel"],
            set_={
                "muted_until": statement.excluded.muted_until,
                "updated_at": statement.excluded.updated_at,
            },
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement)

    async def muted_until(
        self, *, platform: str, channel: str, workspace: str = "", now: dt.datetime | None = None
    ) -> dt.datetime | None:
        """When the channel's mute ends, or None when it is not muted at `now`."""
        async with self._sessions() as session:
            setting = await session.get(
                ChannelSetting, (_platform(platform), workspace or "", channel)
            )
        if setting is None or setting.muted_until is None:
            return None
        return setting.muted_until if setting.muted_until > (now or utcnow()) else None

    async def is_muted(
        self, *, platform: str, channel: str, workspace: str = "", now: dt.datetime | None = None
    ) -> bool:
        until = await self.muted_until(
            platform=platform, channel=channel, workspace=workspace, now=now
        )
        return until is not None
