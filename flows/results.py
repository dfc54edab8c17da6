"""Typed results shared by the CLI, the monitors, chat rendering and the question engine.

These models *are* the `--json` contract: field names here are what users script against, so
extend them, never rename. Weights are fractions; `pct_adv` is a percentage (0.4 means 0.4 %).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict

from flows.freshness import DataLag
from flows.models.estimate import FlowEstimate

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


class BandRule(Result):
    asset: str | None = None
    group: str | None = None
    max_multiple: float | None = None
    max_weight: float | None = None
    max_drift_pts: float | None = None
    restores: Literal["all", "sleeve"] = "all"


class ProgramRule(Result):
    """A program's rebalancing rule as the registry states it."""

    calendar: Literal["monthly", "quarterly", "annual", "none"]
    calendar_month: int | None = None
    bands: list[BandRule] = []


class FundDrift(Result):
    name: str
    aum_usd: float
    aum_source: str
    rebalance: Literal["monthly", "quarterly", "annual", "none"]
    base_date: dt.date
    target_weight: float
    current_weight: float
    drift: float
    trade_usd: float
    """The trade that restores the targets today (what the next rebalance would trade)."""
    id: str = ""
    kind: str = "custom"
    scenario: bool = False
    rule: ProgramRule | None = None
    trades_this_period: bool = True
    """Whether the program's rule trades in the current period (its calendar has a date before
    the next quarter end, or a band is breached now); only these count in the aggregate."""
    period_note: str | None = None
    """Why a program makes no calendar trade this period, e.g. an annual rebalance elsewhere."""
    band_trigger_move: float | None = None
    """The move of the asset from the latest close (others flat) at which the nearest band is
    breached: +0.38 = "+38 % from here"; 0.0 when breached now; None beyond ±90 % or no band."""
    band_trigger_trade_usd: float | None = None
    trade_usd_range: list[float] = []
    """[low, central, high] from the AUM range; equal values for a fixed AUM."""
    since: dt.date | None = None
    aum_as_of: dt.date | None = None


class NotSizedProgram(Result):
    """A program holding the asset that gets no trade figure, and why."""

    id: str
    name: str
    kind: str
    scenario: bool
    reason: str


class WhatIf(Result):
    move: float
    trade_usd: float
    direction: Direction


class RebalanceEstimate(Result):
    funds: list[FundDrift]
    trade_usd: float | None
    """Programs trading this period: real funds plus scenario programs at their central AUM.
    None (unknown) when no sized program in the registry holds the asset: nothing is modelled,
    which is not the same as a zero trade."""
    direction: Direction | None
    pct_adv: float | None
    adv_usd: float | None
    aum_total_usd: float | None
    what_if: list[WhatIf]
    trade_usd_funds: float = 0.0
    """Real funds only (no scenario program)."""
    trade_usd_range: list[float] = []
    """[low, central, high] of `trade_usd` from the programs' AUM ranges."""
    not_sized: list[NotSizedProgram] = []
    adv_basis: str | None = None
    """The liquidity yardstick `adv_usd` / `pct_adv` measure against (flows.liquidity), or
    why it is unknown when they are null."""


class VolTargetFlow(Result):
    name: str
    aum_usd: float
    aum_source: str
    target_vol: float
    max_exposure: float
    exposure: float | None
    previous_exposure: float | None
    trade_usd: float | None
    trade_usd_range: list[float] | None = None
    """[low, central, high] from the published AUM range; None without a range or a trade."""


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
    leveraged: LeveragedEstimate | None = None
    """Leveraged/inverse ETFs' close rebalance for the last bar's move; None when no such
    fund tracks the asset."""
    flow_estimates: list[FlowEstimate] = []
    """Each model's aggregate in the shared `FlowEstimate` shape (flows.models): `rebalance`,
    `vol_target`, `leveraged`, for the models that cover the asset; a model with no fund or
    program on the asset is absent (nothing to estimate), an unknown one has `usd` null."""
    data_lag: DataLag | None = None
    """Set when the as-of was not given and the data ends more than the freshness allowance
    before today (see flows.freshness); text and chat replies then start with its line."""


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


class FlowEvent(CalendarEvent):
    """A flow-calendar event: a CalendarEvent plus when in the day, where the date comes from and
    the numbers some kinds carry. `flow_calendar` returns these so every JSON object has the same
    keys; a model that nests them as `list[CalendarEvent]` must dump with `serialize_as_any=True`
    to keep the extra fields."""

    timing: str | None = None
    source: str | None = None
    trades_usd: dict[str, float] | None = None
    """Sized period ends: the trade per symbol (SPY, AGG); `trade_usd` is the SPY leg."""
    trade_basis: str | None = None
    """month_end / quarter_end: how `trade_usd` was sized, or why it is unknown. `basis` says
    how the date was derived."""
    blackout_share: float | None = None
    """buyback_blackout: estimated fraction of S&P 500 companies in blackout on `date`."""


class PeriodEndSizing(Result):
    """The month- or quarter-end trade "if the period ended on `as_of`", computed from market
    data outside the calendar and handed to `flow_calendar`. `trade_usd` None means unknown and
    `basis` says why."""

    kind: Literal["month_end", "quarter_end"]
    period_end: dt.date | None
    as_of: dt.date | None
    trade_usd: float | None
    direction: Direction | None
    trades_usd: dict[str, float] | None
    basis: str


class BuybackBlackout(Result):
    """Estimated share of S&P 500 companies in their buyback blackout on `day`."""

    day: dt.date
    share: float
    quarter: str | None
    """The quarter whose earnings season the blackout belongs to, e.g. 2026Q3."""
    method: Literal["rule_of_thumb", "earnings_dates"]
    companies: int | None
    basis: str


class LeveragedFlow(Result):
    name: str
    ticker: str | None
    leverage: float
    multiplier: float
    """L · (L − 1): the rebalance trade per dollar of AUM per unit move of the underlying."""
    aum_usd: float
    aum_source: str
    trade_usd: float
    aum_as_of: dt.date | None = None
    """The day `aum_usd` was fetched from a data provider (live AUM); None when it is the fund
    registry's figure (dated in `aum_source`) or an override."""


class LeveragedEstimate(Result):
    """Leveraged and inverse ETFs' end-of-day rebalance in one underlying: A · L · (L − 1) · r."""

    underlying: str
    as_of: dt.date | None
    move: float
    move_basis: str
    funds: list[LeveragedFlow]
    trade_usd: float
    direction: Direction
    trade_per_1pct_usd: float
    adv_usd: float | None
    pct_adv: float | None
    aum_total_usd: float
    data_source: str | None
    sample: bool
    funds_source: str
    basis: str
    data_lag: DataLag | None = None
    """As on StatusReport: the data ends more than the allowance before today."""
    flow_estimates: list[FlowEstimate] = []
    """The same trade in the shared shape every flow model yields (source `leveraged`)."""
    adv_basis: str | None = None
    """The liquidity yardstick `pct_adv` is measured against, or why it is unknown."""


# StatusReport names LeveragedEstimate before it is defined.
StatusReport.model_rebuild()
