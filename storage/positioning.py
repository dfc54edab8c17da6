"""The positioning caches: daily perpetual-futures history per (exchange, asset) and daily ETF
flows per (source, fund). Every day fetched is kept, so history grows past what exchanges serve
(Binance keeps 30 days of open-interest statistics); a refetched day replaces the cached one
(an exchange's correction, a restated flow)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable

import pandas as pd
import sqlalchemy as sa

from storage._common import StoreBase
from storage.models import DerivativesDay, EtfFlowDay, utcnow

_DERIVS = DerivativesDay.__table__
_FLOWS = EtfFlowDay.__table__
DERIVS_COLUMNS = ("open_interest_usd", "funding_rate", "long_short_ratio")


def _optional(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return number if math.isfinite(number) else None


class PositioningCacheMixin(StoreBase):
    async def load_derivatives(
        self, exchange: str, asset: str, start: dt.date, end: dt.date
    ) -> pd.DataFrame:
        """Cached days from `start` to `end`: columns DERIVS_COLUMNS (NaN = unknown), a
        DatetimeIndex named `date`; empty when nothing is cached."""
        async with self._engine.connect() as connection:
            rows = (
                await connection.execute(
                    sa.select(_DERIVS.c.date, *(_DERIVS.c[c] for c in DERIVS_COLUMNS))
                    .where(
                        _DERIVS.c.exchange == exchange,
                        _DERIVS.c.asset == asset,
                        _DERIVS.c.date >= start,
                        _DERIVS.c.date <= end,
                    )
                    .order_by(_DERIVS.c.date)
                )
            ).all()
        index = pd.DatetimeIndex([pd.Timestamp(row[0]) for row in rows], name="date")
        return pd.DataFrame(
            [[float("nan") if v is None else v for v in row[1:]] for row in rows],
            index=index,
            columns=list(DERIVS_COLUMNS),
            dtype="float64",
        )

    async def save_derivatives(
        self, exchange: str, asset: str, frame: pd.DataFrame, *, now: dt.datetime | None = None
    ) -> int:
        """Upsert every day of `frame` (the shape `load_derivatives` returns)."""
        now = now or utcnow()
        rows = []
        for day, values in frame.iterrows():
            oi = _optional(values["open_interest_usd"])
            if oi is None:
                continue
            rows.append(
                {
                    "exchange": exchange,
                    "asset": asset,
                    "date": pd.Timestamp(day).date(),
                    "open_interest_usd": oi,
                    "funding_rate": _optional(values["funding_rate"]),
                    "long_short_ratio": _optional(values["long_short_ratio"]),
                    "fetched_at": now,
                }
            )
        if not rows:
            return 0
        statement = self._insert(_DERIVS)
        statement = statement.on_conflict_do_update(
            index_elements=["exchange", "asset", "date"],
            set_={c: statement.excluded[c] for c in (*DERIVS_COLUMNS, "fetched_at")},
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement, rows)
        return len(rows)

    async def load_etf_flows(
        self, source: str, funds: Iterable[str], start: dt.date, end: dt.date
    ) -> pd.DataFrame:
        """Cached rows `date, fund, asset, flow_usd` for `funds` in the range, by date."""
        wanted = sorted({f.upper() for f in funds})
        async with self._engine.connect() as connection:
            rows = (
                await connection.execute(
                    sa.select(_FLOWS.c.date, _FLOWS.c.fund, _FLOWS.c.asset, _FLOWS.c.flow_usd)
                    .where(
                        _FLOWS.c.source == source,
                        _FLOWS.c.fund.in_(wanted),
                        _FLOWS.c.date >= start,
                        _FLOWS.c.date <= end,
                    )
                    .order_by(_FLOWS.c.date, _FLOWS.c.fund)
                )
            ).all()
        return pd.DataFrame(
            [(pd.Timestamp(d), fund, asset, float(flow)) for d, fund, asset, flow in rows],
            columns=["date", "fund", "asset", "flow_usd"],
        ).astype({"flow_usd": "float64"})

    async def save_etf_flows(
        self, source: str, flows: pd.DataFrame, *, now: dt.datetime | None = None
    ) -> int:
        """Upsert rows `date, fund, asset, flow_usd`; a day already cached is replaced."""
        now = now or utcnow()
        rows = [
            {
                "source": source,
                "fund": str(row.fund).upper(),
                "date": pd.Timestamp(row.date).date(),
                "asset": str(row.asset).upper(),
                "flow_usd": float(row.flow_usd),
                "fetched_at": now,
            }
            for row in flows.itertuples(index=False)
            if _optional(row.flow_usd) is not None
        ]
        if not rows:
            return 0
        statement = self._insert(_FLOWS)
        statement = statement.on_conflict_do_update(
            index_elements=["source", "fund", "date"],
            set_={c: statement.excluded[c] for c in ("asset", "flow_usd", "fetched_at")},
        )
        async with self._engine.begin() as connection:
            await connection.execute(statement, rows)
        return len(rows)
