"""Bulk writes: many subscriptions in one statement (imports, benchmarks)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from storage._common import (
    _SUBSCRIPTIONS,
    _SUBSCRIPTIONS_REVISION,
    StoreBase,
    _bump,
    _chunks,
    _platform,
    _required,
)
from storage.models import SUBSCRIPTION_ACTIVE, join_kinds, utcnow


class BulkMixin(StoreBase):
    async def add_subscriptions(
        self, rows: Iterable[Mapping[str, Any]], *, now: dt.datetime | None = None
    ) -> int:
        """`add_subscription` for many rows ({platform, channel, asset, kinds, workspace?,
        user?}) in one transaction; rows already watched are left as they are. Returns how
        many were new."""
        now = now or utcnow()
        values = [
            {
                "platform": _platform(row["platform"]),
                "workspace": row.get("workspace") or "",
                "channel": _required("channel", row["channel"]),
                "user": row.get("user") or "",
                "asset": _required("asset", row["asset"]),
                "kinds": join_kinds(row["kinds"]),
                "threshold_usd": None,
                "threshold_pct_adv": None,
                "created_by": "",
                "created_at": now,
                "status": SUBSCRIPTION_ACTIVE,
                "broken_reason": None,
            }
            for row in rows
        ]
        added = 0
        async with self._engine.begin() as connection:
            for chunk in _chunks(values, 5_000):
                result = await connection.execute(
                    self._insert(_SUBSCRIPTIONS).on_conflict_do_nothing(
                        index_elements=["platform", "workspace", "channel", "user", "asset"]
                    ),
                    list(chunk),
                )
                added += max(0, result.rowcount)
            await connection.execute(_bump(_SUBSCRIPTIONS_REVISION))
        return added
