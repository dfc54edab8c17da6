"""What the parts of `Store` share: table handles, limits, the base class and small helpers."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import (
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    PLATFORMS,
    SUBSCRIPTION_ACTIVE,
    Alert,
    Bar,
    ChannelSetting,
    Delivery,
    MonitorState,
    StoreRevision,
    Subscription,
    join_kinds,
)

BAR_COLUMNS = ("open", "high", "low", "close", "volume", "adj_close")
"""The columns of a cached bar frame: `flows.marketdata.base.BAR_COLUMNS` plus `adj_close`."""

_CHUNK = 5_000
"""Most ids bound in one IN (…) — far below SQLite's and asyncpg's parameter limits."""
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


class StoreBase:
    """What every part of `Store` shares: the engine, a session factory and the dialect."""

    _engine: AsyncEngine
    _sessions: async_sessionmaker[AsyncSession]
    _dialect: str

    def _insert(self, table: sa.Table) -> Any:
        """The dialect's INSERT, which has ON CONFLICT on both SQLite and PostgreSQL."""
        return (sqlite if self._dialect == "sqlite" else postgresql).insert(table)


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


def _free(now: dt.datetime) -> sa.ColumnElement[bool]:
    """The deliveries nobody holds a live lease on (storage/leases.py)."""
    return sa.or_(_DELIVERIES.c.lease_until.is_(None), _DELIVERIES.c.lease_until <= now)


def _same_destination(a: Any, b: Any) -> sa.ColumnElement[bool]:
    """Two deliveries' (or a delivery's and a grouping's) columns name one destination."""
    return sa.and_(
        a.platform == b.platform,
        a.workspace == b.workspace,
        a.channel == b.channel,
        a.user == b.user,
    )


def _subscription_row(
    *,
    platform: str,
    channel: str,
    asset: str,
    kinds: Any,
    workspace: str | None = None,
    user: str | None = None,
    threshold_usd: Any = None,
    threshold_pct_adv: Any = None,
    created_by: str | None = None,
    created_by_id: str | None = None,
    now: dt.datetime,
) -> dict[str, Any]:
    """A new active subscription's column values, checked (one row or a bulk insert alike)."""
    return {
        "platform": _platform(platform),
        "workspace": workspace or "",
        "channel": _required("channel", channel),
        "user": user or "",
        "asset": _required("asset", asset),
        "kinds": join_kinds(kinds),
        "threshold_usd": _threshold("threshold_usd", threshold_usd),
        "threshold_pct_adv": _threshold("threshold_pct_adv", threshold_pct_adv),
        "created_by": created_by or "",
        "created_by_id": created_by_id or "",
        "created_at": now,
        "status": SUBSCRIPTION_ACTIVE,
        "broken_reason": None,
    }


async def _fail_pending(connection: Any, where: Any, error: str) -> int:
    """The pending deliveries matching `where` fail with `error`, settled like any attempt (no
    attempt in flight, no lease). Returns how many."""
    result = await connection.execute(
        sa.update(_DELIVERIES)
        .where(where, _DELIVERIES.c.status == DELIVERY_PENDING)
        .values(
            status=DELIVERY_FAILED,
            attempt_started_at=None,
            lease_until=None,
            last_error=_clip(error),
        )
    )
    return result.rowcount


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
