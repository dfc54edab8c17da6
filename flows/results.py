"""Typed results shared by the CLI, the monitors, chat rendering and the question engine.

These models *are* the `--json` contract: field names here are what users script against, so
extend them, never rename. Weights are fractions; `pct_adv` is a percentage (0.4 means 0.4 %).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict

Direction = Literal["buy", "sell", "neutral"]


class Result(BaseModel):
    model_config = ConfigDict(frozen=True)

    def to_json_dict(self) -> dict:
        return self.model_dump(mode="json")


class QuarterEndInfo(Result):
    quarter: str
    last_session: dt.date
    window_start: dt.date
    sessions_left: int
    in_window: bool


class FundDrift(Result):
    name: str
    aum_usd: float
    aum_source: str
    rebalance: Literal["monthly", "quarterly"]
    base_date: dt.date
    target_weight: float
    current_weight: float
    drift: float
    trade_usd: float


class WhatIf(Result):
    move: float
    trade_usd: float
    direction: Direction


class RebalanceEstimate(Result):
    funds: list[FundDrift]
    trade_usd: float
    direction: Direction
    pct_adv: float | None
    adv_usd: float | None
    aum_total_usd: float
    what_if: list[WhatIf]


class VolTargetFlow(Result):
    name: str
    aum_usd: float
    aum_source: str
    target_vol: float
    max_exposure: float
    exposure: float | None
    previous_exposure: float | None
    trade_usd: float | None


class VolatilityReport(Result):
    window: int
    periods_per_year: int
    realized: float | None
    previous_realized: float | None
    ewma: float | None
    garch_5d: float | None
    regime: str | None
    previous_regime: str | None
    changed: bool
    garch_regime: str | None
    bands: dict[str, float]
    vol_target: list[VolTargetFlow]
    vol_target_trade_usd: float | None


class StatusReport(Result):
    asset: str
    asset_name: str
    as_of: dt.date
    data_source: str
    sample: bool
    funds_source: str
    quarter_end: QuarterEndInfo
    rebalance: RebalanceEstimate
    volatility: VolatilityReport


class CalendarEvent(Result):
    """A scheduled mechanical-flow event. `trade_usd`/`direction` are set where a model sizes it."""

    date: dt.date
    kind: str
    name: str
    sessions_left: int | None = None
    window_start: dt.date | None = None
    window_end: dt.date | None = None
    trade_usd: float | None = None
    direction: Direction | None = None
    basis: str | None = None
