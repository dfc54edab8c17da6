"""`Store`: every query the bot runs. Nothing outside `storage/` writes SQL.

One `Store` per process, shared by the scheduler, the dispatcher and the chat adapters. Each
method is one short transaction; objects returned are detached snapshots (safe to read after the
call, not to modify and save). All times are timezone-aware UTC; `now` parameters exist so tests
and the scheduler can pin the clock.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import EllipsisType
from typing import Any, NamedTuple

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.database import (
    create_engine,
    database_url_from_env,
    is_sqlite_memory,
    normalize_database_url,
)
from storage.migrate import upgrade_database, upgrade_engine
from storage.models import (
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    DELIVERY_SENT,
    PLATFORMS,
    SUBSCRIPTION_ACTIVE,
    SUBSCRIPTION_BROKEN,
    Alert,
    Bar,
    ChannelSetting,
    Delivery,
    MonitorState,
    StoreRevision,
    Subscription,
    UTCDateTime,
    join_kinds,
    split_kinds,
    utcnow,
)
from storage.reference import ReferenceCache

BAR_COLUMNS = ("open", "high", "low", "close", "volume", "adj_close")
"""The columns of a cached bar frame: `flows.marketdata.base.BAR_COLUMNS` plus `adj_close`."""

_CHUNK = 5_000
"""Most ids bound in one IN (…) — far below SQLite's and asyncpg's parameter limits."""
_PAIRS_PER_STATEMENT = 50_000
"""(alert, subscription) pairs per delivery INSERT (one JSON parameter)."""
_MAX_ERROR_CHARS = 2_000

_SUBSCRIPTIONS = Subscription.__table__
_CHANNELS = ChannelSetting.__table__
_STATES = MonitorState.__table__
_ALERTS = Alert.__table__
_DELIVERIES = Delivery.__table__
_BARS = Bar.__table__
_REVISIONS = StoreRevision.__table__
_SUBSCRIPTIONS_REVISION = "subscriptions"
_DELIVERY_TARGET_COLUMNS = [
    "alert_id",
    "subscription_id",
    "platform",
    "workspace",
    "channel",
    "user",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
]


@dataclass(frozen=True, slots=True)
class NewAlert:
    """An alert to record, with the subscriptions it goes to."""

    dedupe_key: str
    kind: str
    asset: str
    as_of: dt.date
    title: str
    content: Mapping[str, Any] | Sequence[Any] | str
    """The rendered neutral message: a JSON-able object, or JSON text."""
    subscription_ids: Sequence[int] = ()
    summary: str = ""
    chart_path: str | None = None
    trade_usd: float | None = None
    direction: str | None = None


@dataclass(frozen=True, slots=True)
class BarCoverage:
    """What the bar cache holds for one (source, symbol)."""

    first: dt.date
    last: dt.date
    count: int
    fetched_at: dt.datetime
    """When the most recently fetched bar was written."""


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


class Store:
    """Async access to the bot's database (SQLite by default, PostgreSQL too)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self.reference = ReferenceCache(engine)
        self._active: _ActiveSnapshot | None = None
        self._sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
        self._dialect = engine.dialect.name
        if self._dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database {self._dialect!r}: use SQLite or PostgreSQL")

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    async def open(
        cls, url: str | None = None, *, migrate: bool = True, echo: bool = False
    ) -> Store:
        """Connect to `url` (default: `$DATABASE_URL`, else `sqlite+aiosqlite:///flows-bot.db`).

        With `migrate` (the default) the schema is first brought to the current revision.
        """
        url = normalize_database_url(url) if url else database_url_from_env()
        engine = create_engine(url, echo=echo)
        try:
            if migrate and is_sqlite_memory(url):
                # An in-memory database exists only on this engine's one connection.
                await upgrade_engine(engine)
            elif migrate:
                await upgrade_database(url)
            return cls(engine)
        except BaseException:
            await engine.dispose()
            raise

    async def close(self) -> None:
        """Close every pooled connection; safe to call twice."""
        await self._engine.dispose()

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    @property
    def url(self) -> str:
        """The database URL with any password masked."""
        return self._engine.url.render_as_string(hide_password=True)

    def _insert(self, table: sa.Table) -> Any:
        """The dialect's INSERT, which has ON CONFLICT on both SQLite and PostgreSQL."""
        return (sqlite if self._dialect == "sqlite" else postgresql).insert(table)

    # ------------------------------------------------------------------ subscriptions

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
        now: dt.datetime | None = None,
    ) -> tuple[Subscription, bool]:
        """Watch `asset` in a channel (or a user's DM); returns (subscription, created).

        Watching an asset already watched there returns the existing row with created=False and
        changes nothing — except that a *broken* subscription is made active again (someone just
        ran a command in that channel, so the bot can evidently reach it). To change the kinds or
        thresholds of an existing subscription use `update_subscription`.
        """
        platform = _platform(platform)
        channel, asset = _required("channel", channel), _required("asset", asset)
        values = {
            "platform": platform,
            "workspace": workspace or "",
            "channel": channel,
            "user": user or "",
            "asset": asset,
            "kinds": join_kinds(kinds),
            "threshold_usd": _threshold("threshold_usd", threshold_usd),
            "threshold_pct_adv": _threshold("threshold_pct_adv", threshold_pct_adv),
            "created_by": created_by or "",
            "created_at": now or utcnow(),
            "status": SUBSCRIPTION_ACTIVE,
            "broken_reason": None,
        }
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
        async with self._engine.connect() as connection:
            snapshot = await self._active_snapshot(connection)
            muted: set[tuple[str, str, str]] = set()
            if not include_muted:
                channels = _CHANNELS.c
                result = await connection.execute(
                    sa.select(channels.platform, channels.workspace, channels.channel).where(
                        channels.muted_until > (now or utcnow())
                    )
                )
                muted = {tuple(row) for row in result.all()}
        for asset in wanted:
            found[asset] = [
                subscription
                for subscription in snapshot.by_asset.get(asset, ())
                if (kind is None or kind in subscription.alert_kinds)
                and (subscription.platform, subscription.workspace, subscription.channel)
                not in muted
            ]
        return found

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
        snapshot = _ActiveSnapshot(
            -1 if revision is None else revision,
            {asset: tuple(rows) for asset, rows in by_asset.items()},
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
            return await self._fail_pending(
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
            await self._fail_pending(
                connection, _DELIVERIES.c.subscription_id.in_(ids), f"subscription broken: {reason}"
            )
            return result.rowcount

    async def _fail_pending(self, connection: AsyncConnection, where: Any, error: str) -> int:
        result = await connection.execute(
            sa.update(_DELIVERIES)
            .where(where, _DELIVERIES.c.status == DELIVERY_PENDING)
            .values(status=DELIVERY_FAILED, last_error=_clip(error))
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

    # ------------------------------------------------------------------ monitor state

    async def get_state(self, kind: str, asset: str) -> dict[str, Any] | None:
        """What the `kind` monitor last stored for `asset`, or None."""
        return (await self.get_states(kind, [asset])).get(asset)

    async def get_states(self, kind: str, assets: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Stored states of many assets in one query; assets without one are absent."""
        wanted = list(dict.fromkeys(assets))
        states: dict[str, dict[str, Any]] = {}
        async with self._engine.connect() as connection:
            for chunk in _chunks(wanted):
                rows = await connection.execute(
                    sa.select(_STATES.c.asset, _STATES.c.state).where(
                        _STATES.c.kind == kind, _STATES.c.asset.in_(chunk)
                    )
                )
                states.update((asset, json.loads(state)) for asset, state in rows.all())
        return states

    async def set_state(
        self, kind: str, asset: str, state: Mapping[str, Any], *, now: dt.datetime | None = None
    ) -> None:
        await self.set_states(kind, {asset: state}, now=now)

    async def set_states(
        self,
        kind: str,
        states: Mapping[str, Mapping[str, Any]],
        *,
        now: dt.datetime | None = None,
    ) -> None:
        """Upsert the states of many assets in one statement."""
        if not states:
            return
        async with self._engine.begin() as connection:
            await self._upsert_states(
                connection, {(kind, asset): state for asset, state in states.items()}, now
            )

    async def _upsert_states(
        self,
        connection: AsyncConnection,
        states: Mapping[tuple[str, str], Mapping[str, Any]],
        now: dt.datetime | None,
    ) -> None:
        now = now or utcnow()
        rows = [
            {"kind": kind, "asset": asset, "state": _json(state), "updated_at": now}
            for (kind, asset), state in states.items()
        ]
        statement = self._insert(_STATES)
        statement = statement.on_conflict_do_update(
            index_elements=["kind", "asset"],
            set_={"state": statement.excluded.state, "updated_at": statement.excluded.updated_at},
        )
        await connection.execute(statement, rows)

    # ------------------------------------------------------------------ the outbox

    async def record_alert(
        self,
        *,
        dedupe_key: str,
        kind: str,
        asset: str,
        as_of: dt.date,
        title: str,
        content: Mapping[str, Any] | Sequence[Any] | str,
        subscription_ids: Sequence[int],
        summary: str = "",
        chart_path: str | None = None,
        trade_usd: float | None = None,
        direction: str | None = None,
        now: dt.datetime | None = None,
    ) -> tuple[Alert, bool]:
        """Write an alert and one pending delivery per subscription, in one transaction.

        Idempotent: when `dedupe_key` exists nothing is written and (existing alert, False) is
        returned. See `record_alerts`.
        """
        alert = NewAlert(
            dedupe_key=dedupe_key,
            kind=kind,
            asset=asset,
            as_of=as_of,
            title=title,
            content=content,
            subscription_ids=subscription_ids,
            summary=summary,
            chart_path=chart_path,
            trade_usd=trade_usd,
            direction=direction,
        )
        return (await self.record_alerts([alert], now=now))[0]

    async def record_alerts(
        self,
        alerts: Iterable[NewAlert],
        *,
        monitor_states: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
        now: dt.datetime | None = None,
    ) -> list[tuple[Alert, bool]]:
        """Write many alerts and their deliveries in ONE transaction; returns (alert, created) per
        input, in order.

        - An alert whose dedupe key exists (or repeats earlier in `alerts`) creates nothing.
        - A new alert gets one pending delivery (due at `now`) per distinct subscription id that
          still exists and is active; ids removed or broken since the caller looked them up are
          skipped, not an error. Targets are copied from the subscriptions.
        - `monitor_states`, {(kind, asset): state}, are upserted in the same transaction, so an
          alert and the state that says "already alerted" commit together.
        If anything fails, nothing is written.
        """
        alerts = list(alerts)
        now = now or utcnow()
        unique: dict[str, NewAlert] = {}
        for alert in alerts:
            unique.setdefault(_required("dedupe_key", alert.dedupe_key), alert)
        candidates = {  # validated before the transaction opens
            key: {
                "dedupe_key": key,
                "kind": _required("kind", alert.kind),
                "asset": _required("asset", alert.asset),
                "as_of": alert.as_of,
                "created_at": now,
                "title": alert.title,
                "summary": alert.summary,
                "content": _content_json(alert.content),
                "chart_path": alert.chart_path,
                "trade_usd": alert.trade_usd,
                "direction": alert.direction,
            }
            for key, alert in unique.items()
        }
        created_ids: set[int] = set()
        by_key: dict[str, Alert] = {}
        async with self._sessions() as session, session.begin():
            connection = await session.connection()
            existing: set[str] = set()
            for chunk in _chunks(list(unique)):
                result = await connection.execute(
                    sa.select(_ALERTS.c.dedupe_key).where(_ALERTS.c.dedupe_key.in_(chunk))
                )
                existing.update(result.scalars())
            rows = [row for key, row in candidates.items() if key not in existing]
            alert_ids: dict[str, int] = {}
            if rows:
                # ON CONFLICT DO NOTHING: a key another writer recorded a moment ago is not ours.
                # An executemany (batched by SQLAlchemy's insertmanyvalues) compiles once, where
                # one multi-row VALUES would compile a statement per row count.
                result = await connection.execute(
                    self._insert(_ALERTS)
                    .on_conflict_do_nothing(index_elements=["dedupe_key"])
                    .returning(_ALERTS.c.id, _ALERTS.c.dedupe_key),
                    rows,
                )
                alert_ids.update((key, alert_id) for alert_id, key in result.all())
            created_ids = set(alert_ids.values())
            pairs = [
                (alert_id, subscription_id)
                for key, alert_id in alert_ids.items()
                for subscription_id in sorted({int(i) for i in unique[key].subscription_ids})
            ]
            for chunk in _chunks(pairs, _PAIRS_PER_STATEMENT):
                await connection.execute(self._deliveries_from(chunk, now))
            if monitor_states:
                await self._upsert_states(connection, monitor_states, now)
            for chunk in _chunks(list(unique)):
                found = await session.exec(select(Alert).where(col(Alert.dedupe_key).in_(chunk)))
                by_key.update((alert.dedupe_key, alert) for alert in found.all())

        results: list[tuple[Alert, bool]] = []
        reported: set[str] = set()
        for alert in alerts:
            stored = by_key[alert.dedupe_key]
            first = alert.dedupe_key not in reported
            reported.add(alert.dedupe_key)
            results.append((stored, first and stored.id in created_ids))
        return results

    def _deliveries_from(self, pairs: Sequence[tuple[int, int]], now: dt.datetime) -> sa.Insert:
        """One INSERT … SELECT of pending deliveries, due at `now`, for (alert id, subscription
        id) pairs.

        The pairs travel as ONE JSON parameter, unpacked by the database (`json_each` on SQLite,
        `jsonb_array_elements` on PostgreSQL): 10,000 deliveries are one statement, with no
        per-row parameter processing. The targets are copied from the subscriptions in the same
        statement, and ids of subscriptions removed or broken since the caller looked them up
        match nothing.
        """
        payload = sa.bindparam("pairs", json.dumps(pairs, separators=(",", ":")), sa.String)
        if self._dialect == "sqlite":
            items = sa.func.json_each(payload).table_valued("value")
            alert_id = sa.func.json_extract(items.c.value, "$[0]")
            subscription_id = sa.func.json_extract(items.c.value, "$[1]")
        else:
            items = sa.func.jsonb_array_elements(sa.cast(payload, postgresql.JSONB)).table_valued(
                "value"
            )
            alert_id = sa.cast(items.c.value.op("->>")(0), sa.Integer)
            subscription_id = sa.cast(items.c.value.op("->>")(1), sa.Integer)
        subs = _SUBSCRIPTIONS.c
        return sa.insert(_DELIVERIES).from_select(
            _DELIVERY_TARGET_COLUMNS,
            sa.select(
                alert_id,
                subs.id,
                subs.platform,
                subs.workspace,
                subs.channel,
                subs.user,
                sa.literal(DELIVERY_PENDING, sa.String),
                sa.literal(0, sa.Integer),
                sa.literal(now, UTCDateTime),
                sa.literal(now, UTCDateTime),
            )
            .select_from(items.join(_SUBSCRIPTIONS, subs.id == subscription_id))
            .where(subs.status == SUBSCRIPTION_ACTIVE)
            .order_by(alert_id, subs.id),
        )

    async def get_alert(self, dedupe_key: str) -> Alert | None:
        async with self._sessions() as session:
            rows = await session.exec(select(Alert).where(Alert.dedupe_key == dedupe_key))
            return rows.one_or_none()

    async def deliveries_for(self, alert_id: int) -> list[Delivery]:
        """Every delivery of one alert, in creation order."""
        async with self._sessions() as session:
            rows = await session.exec(
                select(Delivery).where(Delivery.alert_id == alert_id).order_by(col(Delivery.id))
            )
            return list(rows.all())

    async def due_deliveries(
        self, now: dt.datetime | None = None, limit: int = 100
    ) -> list[tuple[Delivery, Alert]]:
        """Pending deliveries due at `now` (next_attempt_at <= now), oldest due first."""
        now = now or utcnow()
        async with self._sessions() as session:
            rows = await session.exec(
                select(Delivery, Alert)
                .join(Alert, col(Alert.id) == col(Delivery.alert_id))
                .where(
                    Delivery.status == DELIVERY_PENDING,
                    col(Delivery.next_attempt_at) <= now,
                )
                .order_by(col(Delivery.next_attempt_at), col(Delivery.id))
                .limit(limit)
            )
            return [(delivery, alert) for delivery, alert in rows.all()]

    async def in_flight_deliveries(self, limit: int = 1000) -> list[tuple[Delivery, Alert]]:
        """Pending deliveries with an attempt begun and never settled — after a crash, those
        the platform may have received. They stay due: ask the platform (idempotency key) and
        `mark_sent` the ones it has, and the rest are simply sent again."""
        async with self._sessions() as session:
            rows = await session.exec(
                select(Delivery, Alert)
                .join(Alert, col(Alert.id) == col(Delivery.alert_id))
                .where(
                    Delivery.status == DELIVERY_PENDING,
                    col(Delivery.attempt_started_at).is_not(None),
                )
                .order_by(col(Delivery.id))
                .limit(limit)
            )
            return [(delivery, alert) for delivery, alert in rows.all()]

    async def begin_attempt(self, delivery_id: int, *, now: dt.datetime | None = None) -> bool:
        """Note that a send is starting (call just before it). The outcome — `mark_sent`,
        `mark_retry` or `mark_failed` — clears it and counts the attempt. False when the
        delivery is no longer pending."""
        async with self._engine.begin() as connection:
            result = await connection.execute(
                sa.update(_DELIVERIES)
                .where(
                    _DELIVERIES.c.id == delivery_id,
                    _DELIVERIES.c.status == DELIVERY_PENDING,
                )
                .values(attempt_started_at=now or utcnow())
            )
            return result.rowcount == 1

    async def begin_attempts(
        self, delivery_ids: Sequence[int], *, now: dt.datetime | None = None
    ) -> int:
        """`begin_attempt` for many deliveries in one transaction (a dispatcher batch);
        returns how many were still pending."""
        if not delivery_ids:
            return 0
        async with self._engine.begin() as connection:
            result = await connection.execute(
                sa.update(_DELIVERIES)
                .where(
                    _DELIVERIES.c.id.in_(list(delivery_ids)),
                    _DELIVERIES.c.status == DELIVERY_PENDING,
                )
                .values(attempt_started_at=now or utcnow())
            )
            return result.rowcount

    async def mark_sent_many(
        self, sent: Sequence[tuple[int, str | None]], *, now: dt.datetime | None = None
    ) -> int:
        """`mark_sent` for many (delivery id, platform message id) pairs in one transaction;
        returns how many were still pending."""
        if not sent:
            return 0
        statement = (
            sa.update(_DELIVERIES)
            .where(
                _DELIVERIES.c.id == sa.bindparam("delivery_id"),
                _DELIVERIES.c.status == DELIVERY_PENDING,
            )
            .values(
                attempts=_DELIVERIES.c.attempts + 1,
                attempt_started_at=None,
                status=DELIVERY_SENT,
                platform_message_id=sa.bindparam("message_id"),
                sent_at=now or utcnow(),
                last_error=None,
            )
        )
        rows = [
            {"delivery_id": delivery_id, "message_id": message_id}
            for delivery_id, message_id in sent
        ]
        async with self._engine.begin() as connection:
            result = await connection.execute(statement, rows)
            return result.rowcount

    async def mark_sent(
        self, delivery_id: int, platform_message_id: str | None, *, now: dt.datetime | None = None
    ) -> bool:
        """Record a successful post. False when the delivery was not pending (already settled)."""
        return await self._settle(
            delivery_id,
            status=DELIVERY_SENT,
            platform_message_id=platform_message_id,
            sent_at=now or utcnow(),
            last_error=None,
        )

    async def mark_retry(self, delivery_id: int, error: str, next_attempt_at: dt.datetime) -> bool:
        """A failed attempt to retry at `next_attempt_at` (backoff / Retry-After); stays pending."""
        return await self._settle(
            delivery_id,
            status=DELIVERY_PENDING,
            last_error=_clip(error),
            next_attempt_at=next_attempt_at,
        )

    async def mark_failed(self, delivery_id: int, error: str) -> bool:
        """A failed attempt that will not be retried."""
        return await self._settle(delivery_id, status=DELIVERY_FAILED, last_error=_clip(error))

    async def _settle(self, delivery_id: int, **values: Any) -> bool:
        """Apply the outcome of an attempt to a delivery that is still pending: attempts += 1,
        and the attempt is no longer in flight."""
        async with self._engine.begin() as connection:
            result = await connection.execute(
                sa.update(_DELIVERIES)
                .where(
                    _DELIVERIES.c.id == delivery_id,
                    _DELIVERIES.c.status == DELIVERY_PENDING,
                )
                .values(attempts=_DELIVERIES.c.attempts + 1, attempt_started_at=None, **values)
            )
            return result.rowcount == 1

    async def defer_channel(
        self, *, platform: str, channel: str, until: dt.datetime, workspace: str = ""
    ) -> int:
        """Push every pending delivery to a channel to `until` at the earliest (a 429 with
        Retry-After applies to the channel, not one message). Returns rows deferred."""
        async with self._engine.begin() as connection:
            result = await connection.execute(
                sa.update(_DELIVERIES)
                .where(
                    _DELIVERIES.c.platform == _platform(platform),
                    _DELIVERIES.c.workspace == (workspace or ""),
                    _DELIVERIES.c.channel == channel,
                    _DELIVERIES.c.status == DELIVERY_PENDING,
                    _DELIVERIES.c.next_attempt_at < until,
                )
                .values(next_attempt_at=until)
            )
            return result.rowcount

    async def pending_count(self) -> int:
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                sa.select(sa.func.count())
                .select_from(_DELIVERIES)
                .where(_DELIVERIES.c.status == DELIVERY_PENDING)
            )
            return int(rows.scalar_one())

    async def delivery_counts(self) -> dict[str, int]:
        """{status: number of deliveries}, every status present."""
        counts = dict.fromkeys((DELIVERY_PENDING, DELIVERY_SENT, DELIVERY_FAILED), 0)
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                sa.select(_DELIVERIES.c.status, sa.func.count()).group_by(_DELIVERIES.c.status)
            )
            counts.update((status, int(count)) for status, count in rows.all())
        return counts

    # ------------------------------------------------------------------ bar cache

    async def load_bars(
        self, source: str, symbol: str, start: dt.date, end: dt.date
    ) -> pd.DataFrame:
        """Cached bars from `start` to `end` inclusive: columns `BAR_COLUMNS` (float64), a
        DatetimeIndex named `date`, sorted. Empty (same columns) when nothing is cached."""
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                sa.select(_BARS.c.date, *(_BARS.c[name] for name in BAR_COLUMNS))
                .where(
                    _BARS.c.source == source,
                    _BARS.c.symbol == symbol,
                    _BARS.c.date >= start,
                    _BARS.c.date <= end,
                )
                .order_by(_BARS.c.date)
            )
            records = rows.all()
        index = pd.DatetimeIndex(
            pd.to_datetime([row[0].isoformat() for row in records], format="%Y-%m-%d"),
            name="date",
        )
        return pd.DataFrame(
            [row[1:] for row in records], index=index, columns=list(BAR_COLUMNS), dtype="float64"
        )

    async def save_bars(
        self, source: str, symbol: str, frame: pd.DataFrame, *, now: dt.datetime | None = None
    ) -> int:
        """Upsert a frame of daily bars (index: dates; columns as `load_bars`, `adj_close`
        optional — defaults to `close`). Returns rows written."""
        if frame.empty:
            return 0
        missing = [name for name in BAR_COLUMNS[:-1] if name not in frame.columns]
        if missing:
            raise ValueError(f"bars of {symbol} lack column(s) {', '.join(missing)}")
        values = frame.copy()
        if "adj_close" not in values.columns:
            values["adj_close"] = values["close"]
        values = values[list(BAR_COLUMNS)].astype("float64")
        if values.isna().to_numpy().any():
            raise ValueError(f"bars of {symbol} contain missing values")
        index = pd.DatetimeIndex(values.index)
        if index.tz is not None:
            index = index.tz_convert("UTC").tz_localize(None)
        dates = index.normalize()
        if dates.has_duplicates:
            raise ValueError(f"bars of {symbol} have duplicate dates")
        now = now or utcnow()
        rows = [
            {
                "source": source,
                "symbol": symbol,
                "date": day.date(),
                **dict(zip(BAR_COLUMNS, map(float, bar), strict=True)),
                "fetched_at": now,
            }
            for day, bar in zip(dates, values.itertuples(index=False, name=None), strict=True)
        ]
        statement = self._insert(_BARS)
        statement = statement.on_conflict_do_update(
            index_elements=["source", "symbol", "date"],
            set_={name: statement.excluded[name] for name in (*BAR_COLUMNS, "fetched_at")},
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement, rows)
        return len(rows)

    async def bar_coverage(self, source: str, symbol: str) -> BarCoverage | None:
        """First and last cached date of a symbol, so a caller fetches only what is missing."""
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                sa.select(
                    sa.func.min(_BARS.c.date),
                    sa.func.max(_BARS.c.date),
                    sa.func.count(),
                    sa.func.max(_BARS.c.fetched_at),
                ).where(_BARS.c.source == source, _BARS.c.symbol == symbol)
            )
            first, last, count, fetched_at = rows.one()
        if not count:
            return None
        return BarCoverage(
            first=_as_date(first), last=_as_date(last), count=int(count), fetched_at=fetched_at
        )


# ---------------------------------------------------------------------- helpers


def _bump(name: str) -> sa.Update:
    """Count a write to a table whose contents someone may hold in memory."""
    return (
        sa.update(_REVISIONS)
        .where(_REVISIONS.c.name == name)
        .values(revision=_REVISIONS.c.revision + 1)
    )


def _platform(platform: str) -> str:
    if platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}; expected one of {', '.join(PLATFORMS)}")
    return platform


def _required(name: str, value: str) -> str:
    if not value or not value.strip():
        raise ValueError(f"{name} must not be empty")
    return value


def _threshold(name: str, value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    if not number >= 0:  # also rejects NaN
        raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    return number


def _target_clause(
    table: Any, platform: str, workspace: str, channel: str, user: str | None
) -> Any:
    columns = table.c if isinstance(table, sa.Table) else table
    return sa.and_(
        columns.platform == platform,
        columns.workspace == (workspace or ""),
        columns.channel == channel,
        columns.user == (user or ""),
    )


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _clip(text: str | None) -> str | None:
    if text is None:
        return None
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 1] + "…"


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _json(value: Any) -> str:
    return json.dumps(value, default=_json_default, ensure_ascii=False, separators=(",", ":"))


def _content_json(content: Any) -> str:
    if isinstance(content, str):
        json.loads(content)  # must already be JSON text
        return content
    return _json(content)


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))
