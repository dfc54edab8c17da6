"""The answer to a question, as typed results: this is the `flows-bot ask --json` contract.

Field names are what users script against: extend, never rename. `trade_usd` is signed (buys
positive, sells negative); `pct_adv` is an unsigned percentage (0.4 means 0.4 % of average daily
dollar volume); weights and returns are fractions. A number that cannot be computed is null.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field

from flows.freshness import DataLag
from flows.results import Direction, Result, VolatilityReport, WhatIf
from flows.track import TrackSummary

Verdict = Literal["sell_pressure", "buy_pressure", "neutral", "unknown", "mixed"]
"""`mixed`: a question about several assets whose trades point different ways; each asset is
reported on its own (the breakdown) and never netted against another."""
Ask = Literal["direction", "size", "volatility", "price", "timing", "accuracy"]
Reason = Literal[
    "out_of_scope",
    "advice",
    "unknown_asset",
    "unsupported_source",
    "source_unavailable",
    "no_funds",
    "window_unreadable",
    "window_outside_data",
    "data_unavailable",
    "not_yet_determined",
]
"""Why the verdict is `unknown`; null whenever the engine could answer. `not_yet_determined`:
the flow depends on prices or volatility after as-of (the breakdown still has the what-ifs)."""


class WindowInfo(Result):
    start: dt.date | None = None
    end: dt.date | None = None
    label: str | None = None
    kind: str | None = None
    sessions: int = 0
    words: str | None = None
    """The words of the question the window was read from; empty when none named one."""
    assumed: bool = False
    """No window in the question: the next quarter-end rebalancing window was used."""


class ParsedInfo(Result):
    assets: list[str]
    window: WindowInfo
    sources: list[str]
    asks: Ask
    sources_assumed: bool = False
    """No flow source in the question: rebalancing, the quarter- and month-end flow, was used."""
    unrecognized: list[str] = Field(default_factory=list)
    """Ticker-like words the engine does not know (e.g. DOGE)."""
    fund_kinds: list[str] = Field(default_factory=list)
    """Kinds of rebalancing programs the question's words restrict the count to (pension,
    balanced_fund ...); empty when it names none and every program counts."""
    kind_words: list[str] = Field(default_factory=list)
    """The words that named those kinds ("pensions", "60/40 funds")."""
    not_modelled: list[str] = Field(default_factory=list)
    """Flows the question names that are not modelled yet (dealer gamma, short covering ...)."""


class RebalanceFundFlow(Result):
    """One fixed-weight fund's trade in the asset at one rebalance date inside the window."""

    kind: Literal["rebalancing"] = "rebalancing"
    name: str
    aum_usd: float
    aum_source: str
    rebalance: Literal["monthly", "quarterly"]
    rebalance_date: dt.date
    base_date: dt.date
    """The fund's previous rebalance: drift is measured from its close."""
    measured_on: dt.date
    """The close the drift is measured at: the rebalance date, or as-of for a projection."""
    projected: bool
    """True when the rebalance date is after as-of and prices are held where they are."""
    target_weight: float
    current_weight: float
    drift: float
    trade_usd: float


class VolTargetFundFlow(Result):
    """A vol-targeting aggregate's exposure change in the asset across the window."""

    kind: Literal["vol_target"] = "vol_target"
    name: str
    aum_usd: float
    aum_source: str
    target_vol: float
    max_exposure: float
    realized_before: float | None
    exposure_before: float | None
    realized_after: float | None
    exposure_after: float | None
    measured_from: dt.date | None
    measured_to: dt.date | None
    projected: bool
    trade_usd: float | None


class LeveragedFundFlow(Result):
    """A leveraged or inverse ETF's summed daily rebalances across the window."""

    kind: Literal["leveraged"] = "leveraged"
    name: str
    ticker: str | None
    leverage: float
    multiplier: float
    """L · (L − 1): the trade per dollar of AUM per unit move of the underlying."""
    aum_usd: float
    aum_source: str
    summed_move: float | None
    """Sum of the underlying's session-to-session returns over the window."""
    measured_from: dt.date | None
    trade_usd: float | None


FundFlow = Annotated[
    RebalanceFundFlow | VolTargetFundFlow | LeveragedFundFlow, Field(discriminator="kind")
]


class Drift(Result):
    """Price changes (fractions) of a fund group's holdings since its base date."""

    schedule: Literal["monthly", "quarterly"]
    base_date: dt.date
    measured_on: dt.date
    returns: dict[str, float]


class ChannelFlow(Result):
    """One flow source's trade in one asset over the window."""

    source: str
    label: str
    trade_usd: float | None
    direction: Direction | None
    projected: bool
    funds: list[FundFlow]
    idle_funds: list[str] = Field(default_factory=list)
    """Funds holding the asset that do not rebalance inside the window."""
    drift: list[Drift] = Field(default_factory=list)
    what_if: list[WhatIf] = Field(default_factory=list)
    what_if_on: Literal["price", "realized_vol"] = "price"
    """`price`: the asked assets move by `move` by the window, everything else flat;
    `realized_vol`: realized volatility at the window's end is `move` higher than now."""
    detail: str | None = None
    """A sentence the answer always shows, sized or not (e.g. which days shorts covered)."""
    note: str | None = None
    track_record: TrackSummary | None = None
    """`track_record` channel: the hit rate of past rebalancing calls (see `flows-bot track`)."""


class VolatilityHistory(Result):
    """How one asset moved on past period-end sessions against all other NYSE sessions."""

    asset: str
    measure: str = "absolute daily log return"
    period: Literal["month", "quarter"]
    final_sessions: int
    periods: int
    """How many past month or quarter ends the comparison rests on."""
    first_period: str
    last_period: str
    window_days: int
    other_days: int
    window_mean_abs_return: float
    other_mean_abs_return: float
    ratio: float | None
    """window / other mean absolute return; null when the other sessions never moved."""
    window_daily_vol: float | None
    other_daily_vol: float | None


class AssetAnswer(Result):
    asset: str
    asset_name: str
    verdict: Verdict
    trade_usd: float | None
    pct_adv: float | None
    adv_usd: float | None
    adv_as_of: dt.date | None
    channels: list[ChannelFlow]
    adv_basis: str | None = None
    """The liquidity yardstick `adv_usd` / `pct_adv` measure against, or why it is unknown."""
    what_if: list[WhatIf] = Field(default_factory=list)
    volatility_history: VolatilityHistory | None = None
    note: str | None = None
    volatility: VolatilityReport | None = None
    """Volatility questions: the volatility model on as-of (regime, EWMA, GARCH 5-day forecast,
    the vol-target funds' flow)."""


class Basis(Result):
    as_of: dt.date
    data_source: str
    sample: bool
    funds_source: str
    funds_counted: int
    fund_names: list[str]
    aum_usd: float
    aum_illustrative: bool
    """Every counted fund's AUM is marked as an illustrative assumption in the registry."""
    drift: list[Drift]
    adv_sessions: int
    neutral_band_pct_adv: float
    assumptions: list[str]


class AnswerSummary(Result):
    verdict: Verdict
    trade_usd: float | None
    pct_adv: float | None
    text: str
    reason: Reason | None = None
    adv_usd: float | None = None
    projected: bool | None = None
    """True when part of the trade is a projection with prices held at as-of."""
    partial: bool = False
    """The total leaves out an asset or a channel that could not be sized (see breakdown)."""


class Answer(Result):
    question: str
    as_of: dt.date | None
    parsed: ParsedInfo
    answer: AnswerSummary
    breakdown: list[AssetAnswer] = Field(default_factory=list)
    what_if: list[WhatIf] = Field(default_factory=list)
    """The headline trade if the asked assets move together by `move` by the window."""
    basis: Basis | None = None
    data_source: str | None = None
    sample: bool = False
    examples: list[str] = Field(default_factory=list)
    """Questions the engine can answer, offered when it could not answer this one."""
    data_lag: DataLag | None = None
    """Set when no as-of was given and the data ends more than the freshness allowance before
    today (flows.freshness); the reply then starts with its line."""
