"""The live track record: each sized alert's estimate as sent, and its outcome once known.

Rows are written once when the alert is recorded; afterwards only the outcome columns of a row
whose outcome is still empty are ever set, so a live record is only what the bot said at the
time — nothing is back-filled with hindsight.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import col, select

from storage._common import _ALERTS, StoreBase, _clip
from storage.models import LiveRecord, utcnow

_LIVE = LiveRecord.__table__


@dataclass(frozen=True, slots=True)
class NewLiveRecord:
    """A sized alert's estimate, recorded when the alert is."""

    dedupe_key: str
    alert_kind: str
    asset: str
    estimate_as_of: dt.date
    window_start: dt.date
    window_end: dt.date
    estimated_trade_usd: float
    direction: str
    benchmark: str | None = None
    data_source: str = ""


class LiveRecordsMixin(StoreBase):
    """Queries of `live_records`."""

    async def add_live_records(
        self, records: Iterable[NewLiveRecord], *, now: dt.datetime | None = None
    ) -> int:
        """Insert records for alerts not yet recorded (by dedupe key), linked to their alert
        row; returns how many were new. Existing rows are never touched."""
        rows = [
            {
                "dedupe_key": r.dedupe_key,
                "alert_kind": r.alert_kind,
                "asset": r.asset,
                "estimate_as_of": r.estimate_as_of,
                "window_start": r.window_start,
                "window_end": r.window_end,
                "estimated_trade_usd": float(r.estimated_trade_usd),
                "direction": r.direction,
                "benchmark": r.benchmark,
                "data_source": r.data_source,
                "recorded_at": now or utcnow(),
            }
            for r in records
        ]
        if not rows:
            return 0
        for row in rows:
            if row["estimated_trade_usd"] != row["estimated_trade_usd"]:
                raise ValueError(f"{row['dedupe_key']}: estimate is NaN; only sized alerts")
        async with self._engine.begin() as connection:
            keys = [row["dedupe_key"] for row in rows]
            alert_ids = dict(
                (
                    await connection.execute(
                        sa.select(_ALERTS.c.dedupe_key, _ALERTS.c.id).where(
                            _ALERTS.c.dedupe_key.in_(keys)
                        )
                    )
                ).all()
            )
            for row in rows:
                row["alert_id"] = alert_ids.get(row["dedupe_key"])
            statement = self._insert(_LIVE).on_conflict_do_nothing(index_elements=["dedupe_key"])
            result = await connection.execute(statement.returning(_LIVE.c.id), rows)
            return len(result.all())

    async def live_records(
        self,
        asset: str,
        *,
        start: dt.date | None = None,
        end: dt.date | None = None,
    ) -> list[LiveRecord]:
        """An asset's live records whose window ends in [start, end], oldest first."""
        query = select(LiveRecord).where(LiveRecord.asset == asset)
        if start is not None:
            query = query.where(LiveRecord.window_end >= start)
        if end is not None:
            query = query.where(LiveRecord.window_end <= end)
        query = query.order_by(col(LiveRecord.window_end), col(LiveRecord.estimate_as_of))
        async with self._sessions() as session:
            return list((await session.exec(query.order_by(col(LiveRecord.id)))).all())

    async def pending_live_records(self, ended_before: dt.date) -> list[LiveRecord]:
        """Records without an outcome whose window ended before `ended_before`."""
        query = (
            select(LiveRecord)
            .where(col(LiveRecord.outcome_filled_at).is_(None))
            .where(LiveRecord.window_end < ended_before)
            .order_by(col(LiveRecord.asset), col(LiveRecord.window_end), col(LiveRecord.id))
        )
        async with self._sessions() as session:
            return list((await session.exec(query)).all())

    async def fill_live_outcome(
        self,
        record_id: int,
        *,
        outcome_return: float | None,
        outcome_excess: float | None,
        hit: bool | None,
        note: str | None = None,
        actual_flow_usd: float | None = None,
        actual_flow_source: str | None = None,
        now: dt.datetime | None = None,
    ) -> bool:
        """Set a record's outcome once; False when it already had one (nothing changes)."""
        async with self._engine.begin() as connection:
            result = await connection.execute(
                sa.update(_LIVE)
                .where(_LIVE.c.id == record_id, _LIVE.c.outcome_filled_at.is_(None))
                .values(
                    outcome_return=outcome_return,
                    outcome_excess=outcome_excess,
                    hit=hit,
                    outcome_note=_clip(note),
                    actual_flow_usd=actual_flow_usd,
                    actual_flow_source=actual_flow_source,
                    outcome_filled_at=now or utcnow(),
                )
            )
            return result.rowcount == 1
