"""Leveraged and inverse ETF rebalancing into the close.

A daily-reset fund with NAV A and leverage L holds L·A of exposure. After the underlying moves by
r, exposure is L·A·(1 + r) while the NAV is A·(1 + L·r); restoring L times the new NAV takes a
trade of A·L·(L − 1)·r. L·(L − 1) is positive for every L outside [0, 1] (+2 → 2, +3 → 6,
−1 → 2, −2 → 6, −3 → 12), so long and inverse funds alike trade in the direction of the move.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import pandas as pd

from flows import calendar, freshness
from flows.assets import is_crypto
from flows.errors import FlowsError, InputError
from flows.funds import FundRegistry, LeveragedFund
from flows.models._common import slug
from flows.models.estimate import Confidence, FlowEstimate, FlowTiming
from flows.rebalance import average_dollar_volume
from flows.results import Direction, LeveragedEstimate, LeveragedFlow

if TYPE_CHECKING:
    from flows.marketdata import MarketData

MAX_ABS_MOVE = 0.9
ADV_SESSIONS = 20
HISTORY_DAYS = 120
"""Calendar days fetched for an estimate: the previous close and 20 sessions of volume."""
FORMULA = "A · L · (L − 1) · r per fund"
_TICKER = re.compile(r"^[A-Z][A-Z0-9]{0,5}$")


def listed_ticker(fund: LeveragedFund) -> str | None:
    """The ticker a fund's AUM can be looked up under: its `ticker`, or its name when the name
    is a ticker (a fund file may say `name = "TQQQ"` and nothing more); None otherwise."""
    if fund.ticker:
        return fund.ticker
    name = fund.name.strip().upper()
    return name if _TICKER.match(name) else None


def with_aum(
    registry: FundRegistry, figures: Mapping[str, tuple[float, str, dt.date]]
) -> FundRegistry:
    """The registry with fetched AUM in place of the fund file's: `figures` maps a listed
    ticker to (aum_usd, source, day fetched). Funds without a figure keep theirs, so every
    estimate, monitor and threshold built on the registry uses the same numbers."""
    funds = []
    for fund in registry.leveraged:
        figure = figures.get(listed_ticker(fund) or "")
        if figure is not None:
            aum, source, fetched = figure
            fund = replace(fund, aum_usd=aum, aum_source=source, aum_as_of=fetched)
        funds.append(fund)
    return replace(registry, leveraged=tuple(funds))


def _aum_basis(
    flows: Sequence[LeveragedFlow], fetched: Sequence[bool], registry_source: str
) -> str:
    """Where the AUM figures come from, in a few words; each fund's `aum_source` has its own."""
    live = [flow for flow, was_fetched in zip(flows, fetched, strict=True) if was_fetched]
    if not live:
        return f"AUM from {registry_source}"
    sources = sorted({flow.aum_source for flow in live})
    origin = sources[0] if len(sources) == 1 else "fetched figures (see each fund's source)"
    rest = len(flows) - len(live)
    return f"AUM of {len(live)} from {origin}" + (
        f", {rest} from {registry_source}" if rest else ""
    )


def rebalance_multiplier(leverage: float) -> float:
    """L · (L − 1): the trade per dollar of NAV per unit move of the underlying."""
    return leverage * (leverage - 1.0)


def fund_trade_usd(aum_usd: float, leverage: float, move: float) -> float:
    """Signed end-of-day rebalance of one fund: positive buys the underlying."""
    return aum_usd * rebalance_multiplier(leverage) * move


def validate_move(move: float) -> float:
    """A move is a fraction between −0.9 and 0.9; anything else is almost surely a percentage."""
    if not math.isfinite(move):
        raise InputError(f"--move {move} is not a number; give a fraction like -0.05 for −5%")
    if abs(move) > MAX_ABS_MOVE:
        hint = f"; did you mean {move / 100:g} ({move:g}%)?" if abs(move) <= 100 else ""
        raise InputError(
            f"--move {move:g} is outside -{MAX_ABS_MOVE:g}..{MAX_ABS_MOVE:g}: moves are fractions "
            f"(0.05 = +5%){hint}"
        )
    return move


def underlyings_with_funds(registry: FundRegistry) -> list[str]:
    return sorted({fund.underlying for fund in registry.leveraged})


def funds_on(underlying: str, registry: FundRegistry) -> tuple[LeveragedFund, ...]:
    """The registry's leveraged funds on `underlying`; InputError listing the covered ones."""
    symbol = underlying.strip().upper()
    funds = registry.leveraged_on(symbol)
    if not funds:
        covered = ", ".join(underlyings_with_funds(registry)) or "none"
        raise InputError(
            f"no leveraged or inverse ETF on {symbol} in the fund registry ({registry.source}); "
            f"underlyings with leveraged ETFs: {covered}"
        )
    return funds


def sensitivity_usd(funds: Sequence[LeveragedFund]) -> float:
    """Σ A · L · (L − 1): the aggregate trade for a move of 1.0 (100 %)."""
    return sum(fund.aum_usd * rebalance_multiplier(fund.leverage) for fund in funds)


def implied_move_threshold(funds: Sequence[LeveragedFund], threshold_usd: float) -> float | None:
    """The |move| at which the aggregate trade reaches `threshold_usd`; None without funds."""
    sensitivity = sensitivity_usd(funds)
    return None if sensitivity <= 0 else threshold_usd / sensitivity


def _direction(move: float) -> Direction:
    if move == 0:
        return "neutral"
    return "buy" if move > 0 else "sell"


def estimate_letf(
    underlying: str,
    move: float,
    registry: FundRegistry,
    adv_usd: float | None,
    *,
    as_of: dt.date | None = None,
    move_basis: str = "hypothetical move",
    data_source: str | None = None,
    sample: bool = False,
    adv_basis: str | None = None,
    aum_overrides: Mapping[str, tuple[float, str]] | None = None,
) -> LeveragedEstimate:
    """The rebalance every leveraged/inverse ETF on `underlying` trades for a move `move`.

    `aum_overrides` maps a fund's ticker (or name) to (aum_usd, source), e.g. live net assets,
    replacing the registry's figure. `pct_adv` is a percentage of `adv_usd` (0.4 = 0.4 %).
    The move is not range-checked here (replays take whatever the data says); user input goes
    through `validate_move` first.
    """
    symbol = underlying.strip().upper()
    flows = []
    fetched = []
    for fund in funds_on(symbol, registry):
        aum, source, as_of_aum = fund.aum_usd, fund.aum_source, fund.aum_as_of
        override = (aum_overrides or {}).get(fund.ticker or fund.name)
        if override is not None:
            (aum, source), as_of_aum = override, None
        fetched.append(override is not None or as_of_aum is not None)
        flows.append(
            LeveragedFlow(
                name=fund.name,
                ticker=fund.ticker,
                leverage=fund.leverage,
                multiplier=rebalance_multiplier(fund.leverage),
                aum_usd=aum,
                aum_source=source,
                trade_usd=fund_trade_usd(aum, fund.leverage, move),
                aum_as_of=as_of_aum,
            )
        )
    total = sum(flow.trade_usd for flow in flows)
    per_1pct = sum(flow.aum_usd * flow.multiplier for flow in flows) * 0.01
    adv_text = adv_basis or (
        f"ADV = {symbol}'s own dollar volume, mean close × volume of the last {ADV_SESSIONS} "
        "sessions"
        if adv_usd
        else "ADV unknown"
    )
    estimate = LeveragedEstimate(
        underlying=symbol,
        as_of=as_of,
        move=move,
        move_basis=move_basis,
        funds=flows,
        trade_usd=total,
        direction=_direction(move),
        trade_per_1pct_usd=per_1pct,
        adv_usd=adv_usd,
        pct_adv=100.0 * abs(total) / adv_usd if adv_usd else None,
        aum_total_usd=sum(flow.aum_usd for flow in flows),
        data_source=data_source,
        sample=sample,
        funds_source=registry.source,
        basis=f"{FORMULA}, traded into the close; {len(flows)} fund(s), "
        f"{_aum_basis(flows, fetched, registry.source)}; {adv_text}",
        adv_basis=adv_text,
    )
    return estimate.model_copy(update={"flow_estimates": [aggregate_estimate(estimate)]})


def letf_alert_check(estimate: LeveragedEstimate, threshold_usd: float) -> bool:
    """Whether the estimated rebalance is big enough to alert on."""
    return abs(estimate.trade_usd) >= threshold_usd


def adv_series(bars: pd.DataFrame, sessions: int = ADV_SESSIONS) -> pd.Series:
    """Rolling mean of close × volume over `sessions` bars (NaN until there are enough), the
    same figure `rebalance.average_dollar_volume` gives for each day."""
    dollar_volume = bars["close"] * bars["volume"]
    adv = dollar_volume.rolling(sessions, min_periods=sessions).mean()
    return adv.where(adv > 0)


def daily_move(closes: pd.Series, as_of: dt.date, symbol: str) -> tuple[float, dt.date]:
    """Close-to-close return on `as_of` and the previous bar's date; InputError if `as_of` has
    no bar or no bar before it."""
    stamp = pd.Timestamp(as_of)
    if stamp not in closes.index:
        raise InputError(
            f"{symbol} has no bar on {as_of} (not a trading day or outside the data); "
            "pick a trading day with --as-of"
        )
    position = int(closes.index.get_loc(stamp))
    if position == 0:
        raise InputError(
            f"{symbol} has no bar before {as_of} to measure the move from; pick a later --as-of"
        )
    previous = closes.index[position - 1].date()
    return float(closes.iloc[position] / closes.iloc[position - 1] - 1.0), previous


def reset_move(closes: pd.Series, as_of: dt.date, symbol: str) -> tuple[float, dt.date]:
    """The move daily-reset funds on `symbol` trade at `as_of`'s close, and the day it runs
    from. US-listed funds reset at the NYSE close on NYSE sessions, so on crypto (bars every UTC
    day) the move runs from the bar of the previous NYSE session — Friday's on a Monday — and a
    day without a session has no reset (InputError)."""
    if not is_crypto(symbol):
        return daily_move(closes, as_of, symbol)
    if not calendar.is_session(as_of):
        raise InputError(
            f"{as_of} is not an NYSE session: US-listed leveraged funds on {symbol} reset at the "
            f"NYSE close; the session before is {calendar.previous_session(as_of)}"
        )
    daily_move(closes, as_of, symbol)  # the same errors for a missing bar
    before = closes.loc[: pd.Timestamp(calendar.previous_session(as_of))]
    if before.empty:
        raise InputError(
            f"{symbol} has no bar on or before {calendar.previous_session(as_of)} to measure "
            "the funds' move from; pick a later --as-of"
        )
    move = float(closes.loc[pd.Timestamp(as_of)] / before.iloc[-1] - 1.0)
    return move, before.index[-1].date()


def latest_reset_day(symbol: str, last_bar: dt.date) -> dt.date:
    """The latest close the funds on `symbol` reset at, in bars ending on `last_bar`: a crypto
    series has weekend bars, the funds only NYSE sessions."""
    return calendar.session_on_or_before(last_bar) if is_crypto(symbol) else last_bar


def session_closes(closes: pd.Series, symbol: str) -> pd.Series:
    """The closes leveraged funds on `symbol` reset on: crypto's non-session days dropped."""
    if not is_crypto(symbol) or closes.empty:
        return closes
    first, last = closes.index[0].date(), closes.index[-1].date()
    sessions = pd.DatetimeIndex(list(calendar.sessions_between(first, last)))
    return closes[closes.index.isin(sessions)]


def letf_history(
    underlying: str,
    closes: pd.Series,
    registry: FundRegistry,
    adv: pd.Series | float | None,
    threshold_usd: float,
    *,
    data_source: str | None = None,
    sample: bool = False,
) -> list[tuple[dt.date, LeveragedEstimate]]:
    """Replay: every day whose close-to-close move makes |aggregate trade| ≥ `threshold_usd`.

    `closes` is the underlying's daily close series; `adv` a per-day ADV series (see
    `adv_series`), one figure for every day, or None.
    """
    funds = funds_on(underlying, registry)
    sensitivity = sensitivity_usd(funds)
    series = session_closes(closes.sort_index().dropna(), underlying)
    returns = series.pct_change().iloc[1:]
    fired = returns[(returns.abs() * sensitivity) >= threshold_usd]
    result = []
    for stamp, move in fired.items():
        previous = series.index[series.index.get_loc(stamp) - 1].date()
        if isinstance(adv, pd.Series):
            value = adv.get(stamp)
            day_adv = None if value is None or pd.isna(value) else float(value)
        else:
            day_adv = adv
        day = stamp.date()
        result.append(
            (
                day,
                estimate_letf(
                    underlying,
                    float(move),
                    registry,
                    day_adv,
                    as_of=day,
                    move_basis=f"close-to-close {previous} → {day}",
                    data_source=data_source,
                    sample=sample,
                ),
            )
        )
    return result


async def build_letf(
    underlying: str,
    market: MarketData,
    registry: FundRegistry,
    as_of: dt.date | None = None,
    move: float | None = None,
    data_source: str | None = None,
) -> LeveragedEstimate:
    """The estimate for a hypothetical `move`, or for the underlying's actual close-to-close
    move on `as_of` (default: its latest bar). With a hypothetical move the trade needs no data,
    so a data failure only leaves the ADV unknown; without one it is an error."""
    symbol = underlying.strip().upper()
    funds_on(symbol, registry)
    if move is not None:
        validate_move(move)
    today = freshness.today_utc()
    freshness.check_not_future(as_of, today)
    if as_of is not None and not calendar.is_session(as_of):
        # Crypto trades every day, but the US-listed funds on it reset at the NYSE close.
        before = calendar.previous_session(as_of)
        raise InputError(
            f"--as-of {as_of} is not an NYSE session (weekend or holiday), when leveraged funds "
            f"reset; the session before is {before}"
        )
    label = data_source or market.source.name
    end = as_of or today
    try:
        bars = await market.recent_bars(symbol, end, HISTORY_DAYS, older=as_of is None)
    except FlowsError as exc:
        if move is None:
            raise
        return estimate_letf(
            symbol,
            move,
            registry,
            None,
            as_of=as_of,
            data_source=label,
            sample=market.is_sample,
            adv_basis=f"ADV unknown: {exc}",
        )
    last = bars.index[-1].date()
    asked = as_of
    if as_of is None:
        as_of = latest_reset_day(symbol, last)
    elif move is None:
        freshness.check_fresh({symbol: last}, as_of, today, label)
    adv_basis = None
    if move is None:
        move, previous = reset_move(bars["adj_close"], as_of, symbol)
        move_basis = f"actual close-to-close move {previous} → {as_of}, total-return closes"
        if is_crypto(symbol):
            move_basis += (
                "; crypto bars are UTC days, taken on the NYSE sessions the US-listed funds "
                "reset on"
            )
        adv = average_dollar_volume(bars, as_of, ADV_SESSIONS)
    else:
        move_basis = "hypothetical move"
        adv = None
        if pd.Timestamp(as_of) in bars.index:
            adv = average_dollar_volume(bars, as_of, ADV_SESSIONS)
        else:
            adv_basis = f"ADV unknown: no {symbol} bar on {as_of} from {label}"
    estimate = estimate_letf(
        symbol,
        move,
        registry,
        adv,
        as_of=as_of,
        move_basis=move_basis,
        data_source=label,
        sample=market.is_sample,
        adv_basis=adv_basis,
    )
    lag = freshness.data_lag(last, today) if asked is None else None
    return estimate.model_copy(update={"data_lag": lag}) if lag else estimate


# --- the shared FlowEstimate view ----------------------------------------------------------------

SOURCE = "leveraged"


def _timing(estimate: LeveragedEstimate) -> FlowTiming:
    return FlowTiming(kind="at_close", start=estimate.as_of or freshness.today_utc())


def _confidence(estimate: LeveragedEstimate) -> Confidence:
    return "scenario" if estimate.move_basis == "hypothetical move" else "estimated"


def fund_estimates(estimate: LeveragedEstimate) -> list[FlowEstimate]:
    """One estimate per leveraged/inverse fund (`leveraged:<ticker>`); their total is the
    estimate's `trade_usd`."""
    return [
        FlowEstimate(
            source=f"{SOURCE}:{slug(flow.ticker or flow.name)}",
            asset=estimate.underlying,
            usd=flow.trade_usd,
            timing=_timing(estimate),
            basis=f"{flow.name}: AUM {flow.aum_usd:,.0f} USD ({flow.aum_source}) × "
            f"{flow.leverage:+g}·({flow.leverage:+g} − 1) × move {estimate.move:+.4%} "
            f"({estimate.move_basis})",
            confidence=_confidence(estimate),
        )
        for flow in estimate.funds
    ]


def aggregate_estimate(estimate: LeveragedEstimate) -> FlowEstimate:
    """Every fund on the underlying together: the figure `letf` prints."""
    return FlowEstimate(
        source=SOURCE,
        asset=estimate.underlying,
        usd=estimate.trade_usd,
        timing=_timing(estimate),
        basis=f"{estimate.basis}; move {estimate.move:+.4%} ({estimate.move_basis}); "
        f"data {estimate.data_source or 'none'}",
        confidence=_confidence(estimate),
    )
