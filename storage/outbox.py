"""The alert outbox: alerts, their deliveries and each delivery's attempts."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select

from storage._common import (
    _ALERTS,
    _DELIVERIES,
    _DELIVERY_TARGET_COLUMNS,
    _SUBSCRIPTIONS,
    StoreBase,
    _chunks,
    _clip,
    _content_json,
    _free,
    _platform,
    _required,
)
from storage.models import (
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    DELIVERY_SENT,
    SUBSCRIPTION_ACTIVE,
    Alert,
    Delivery,
    UTCDateTime,
    utcnow,
)


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


class OutboxMixin(StoreBase):
    """Alerts and deliveries: recorded in one transaction, drained by the dispatcher."""

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
            audiences = [
                (alert_id, sorted({int(i) for i in unique[key].subscription_ids}))
                for key, alert_id in sorted(alert_ids.items(), key=lambda item: item[1])
            ]
            if audiences:
                await self._insert_deliveries(connection, audiences, now)
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

    async def _insert_deliveries(
        self,
        connection: AsyncConnection,
        audiences: Sequence[tuple[int, Sequence[int]]],
        now: dt.datetime,
    ) -> None:
        """Pending deliveries, due at `now`, for (alert id, ascending subscription ids) in
        alert-id order: deliveries get ids in alert order within every channel.

        The ids travel as parameters the database unpacks — PostgreSQL: two integer arrays in
        ONE statement for every alert; SQLite: one statement per alert (an executemany) with
        the ids as JSON for `json_each` — so 100,000 deliveries cost no per-row parameter
        processing. The targets are copied from the subscriptions in the same statement, and
        ids of subscriptions removed or broken since the caller looked them up match nothing.
        """
        subs = _SUBSCRIPTIONS.c
        if self._dialect == "sqlite":
            ids = sa.func.json_each(sa.bindparam("subscription_ids", type_=sa.String))
            alert_id: Any = sa.bindparam("alert_id", type_=sa.Integer)
            selected = sa.select(alert_id).where(
                subs.id.in_(sa.select(ids.table_valued("value").c.value))
            )
            order: Any = subs.id
            parameters: Any = [
                {"alert_id": alert, "subscription_ids": json.dumps(list(subscription_ids))}
                for alert, subscription_ids in audiences
            ]
        else:
            # One statement, whatever the table's statistics: a hash join (or index probes)
            # of all the pairs at once, where a statement per alert could be planned as a scan
            # of every subscription per alert.
            array = postgresql.ARRAY(sa.Integer)
            pairs = (
                sa.func.unnest(
                    sa.bindparam("alert_ids", type_=array),
                    sa.bindparam("subscription_ids", type_=array),
                )
                .table_valued("alert_id", "subscription_id", with_ordinality="position")
                .render_derived()
            )
            alert_id = pairs.c.alert_id
            selected = sa.select(alert_id).join_from(
                pairs, _SUBSCRIPTIONS, subs.id == pairs.c.subscription_id
            )
            order = pairs.c.position
            parameters = {
                "alert_ids": [alert for alert, ids in audiences for _ in ids],
                "subscription_ids": [i for _, ids in audiences for i in ids],
            }
        selected = (
            selected.add_columns(
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
            .where(subs.status == SUBSCRIPTION_ACTIVE)
            .order_by(order)
        )
        statement = sa.insert(_DELIVERIES).from_select(_DELIVERY_TARGET_COLUMNS, selected)
        await connection.execute(statement, parameters)

    async def get_alert(self, dedupe_key: str) -> Alert | None:
        async with self._sessions() as session:
            rows = await session.exec(select(Alert).where(Alert.dedupe_key == dedupe_key))
            return rows.one_or_none()

    async def deliveries_for(self, alert_id: int) -> list[Delivery]:
        """Every delivery of one alert, in creation order (a diagnostic: no index leads with
        `alert_id`, so on a large outbox this scans it)."""
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

    async def in_flight_deliveries(
        self, limit: int = 1000, *, now: dt.datetime | None = None
    ) -> list[tuple[Delivery, Alert]]:
        """Pending deliveries with an attempt begun and never settled — after a crash, those
        the platform may have received. They stay due: ask the platform (idempotency key) and
        `mark_sent` the ones it has, and the rest are simply sent again. Deliveries another
        worker holds a live lease on (storage/leases.py) are its business and left out."""
        now = now or utcnow()
        async with self._sessions() as session:
            rows = await session.exec(
                select(Delivery, Alert)
                .join(Alert, col(Alert.id) == col(Delivery.alert_id))
                .where(
                    Delivery.status == DELIVERY_PENDING,
                    col(Delivery.attempt_started_at).is_not(None),
                    _free(now),
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
                lease_until=None,
                status=DELIVERY_SENT,
                platform_message_id=sa.bindparam("message_id"),
                sent_at=now or utcnow(),
                last_error=None,
            )
        )
        # In id order, as every other multi-row update locks them: no deadlock between two.
        rows = [
            {"delivery_id": delivery_id, "message_id": message_id}
            for delivery_id, message_id in sorted(sent, key=lambda pair: pair[0])
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
                .values(
                    attempts=_DELIVERIES.c.attempts + 1,
                    attempt_started_at=None,
                    lease_until=None,  # settled: the lease (storage/leases.py) ends
                    **values,
                )
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
