"""Track record: every rebalancing call held against what the market did afterwards.

For each rebalancing window (the final five NYSE sessions of a quarter, or of a month with
`monthly`), the call is what `flows-bot status ASSET --as-of D` said on D = the session before
the window opened: the same `status_from_frames` the CLI status ends in, given only the bars up
to D (and the same three years of history `build_status` fetches). Nothing after D enters the
estimate, so registry rules that depend on the date (a program's start, dated AUM) apply through
the status path itself.

The outcome is measured afterwards on total-return closes (`adj_close`):
- `outcome_return` = P(window_end) / P(estimate_as_of) - 1 for the asset;
- `outcome_excess` = that minus the benchmark's return over the same two dates (SPY for crypto
  and every other asset, AGG for SPY), so the market's own drift is not credited to the flow;
- `hit`: a sell call is right when `outcome_excess` < 0, a buy call when it is > 0; exactly 0 is
  a miss (no evidence for the call); neutral calls and unknown outcomes are null.
The summary counts the windows with a buy or sell call and a known outcome, with a Wilson 95 %
score interval for the hit rate.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import Field

from flows import calendar, freshness
from flows.assets import Asset
from flows.errors import InputError
from flows.funds import FundRegistry
from flows.marketdata import MarketData
from flows.results import Direction, Result
from flows.status import (
    HISTORY_DAYS,
    AnalyticsConfig,
    resolve_asset,
    source_label,
    status_from_frames,
    symbols_for,
)

DEFAULT_SINCE = dt.date(2021, 1, 1)
"""First window of the record where no range is given (the bot's TRACK_SINCE default)."""
MIN_MEANINGFUL_CALLS = 12
"""Below this many scored calls the summary says first that the record means little."""
CONFIDENCE = 0.95
WINDOW_SESSIONS = calendar.REBALANCE_WINDOW_SESSIONS


# ---------------------------------------------------------------------------------- results


class TrackWindow(Result):
    """One window's call and what followed. These eight fields are the `--json` contract."""

    window_start: dt.date
    window_end: dt.date
    estimate_as_of: dt.date
    estimated_trade_usd: float | None
    direction: Direction | None
    outcome_return: float | None
    """None while the window has not ended in the data (or cannot be measured)."""
    outcome_excess: float | None
    hit: bool | None


class LiveTrackWindow(TrackWindow):
    """A stored live record: what an alert said at the time, with its outcome once known."""

    actual_flow_usd: float | None = None
    """The flow actually observed (ETF creations/redemptions, published holdings), when known."""
    alert_kind: str | None = None
    recorded_at: dt.datetime | None = None


class TrackSummary(Result):
    n: int
    """Windows with a buy or sell call and a known outcome."""
    hits: int
    hit_rate: float | None
    hit_rate_ci95: list[float] | None
    """Wilson score interval [low, high] at 95 %; null when n is 0."""
    mean_excess_sell: float | None
    mean_excess_buy: float | None
    note: str


class TrackRecord(Result):
    asset: str
    windows: list[TrackWindow | LiveTrackWindow]
    summary: TrackSummary
    schedule: str = "quarterly"
    """quarterly (final 5 sessions of each quarter) or monthly (of each month)."""
    benchmark: str | None = None
    data_source: str | None = None
    sample: bool = False
    funds_source: str | None = None
    live: bool = False
    programs: list[str] = Field(default_factory=list)
    """The programs (funds) holding the asset whose calls are tracked."""


# ---------------------------------------------------------------------------------- windows


@dataclass(frozen=True, slots=True)
class Window:
    start: dt.date
    end: dt.date
    estimate_as_of: dt.date


def window_ending(last: dt.date, sessions: int = WINDOW_SESSIONS) -> Window:
    """The final `sessions` sessions up to the period's last session `last`, called the session
    before they start."""
    days = calendar.sessions_between(last - dt.timedelta(days=3 * sessions + 10), last)
    start = days[-sessions]
    return Window(start=start, end=last, estimate_as_of=calendar.previous_session(start))


def windows_between(start: dt.date, end: dt.date, monthly: bool = False) -> list[Window]:
    """Windows whose last session lies in [start, end]."""
    if end < start:
        raise InputError(f"--to {end} is before --from {start}")
    schedule: calendar.Schedule = "monthly" if monthly else "quarterly"
    return [window_ending(last) for last in calendar.period_ends_between(start, end, schedule)]


def benchmark_for(symbol: str) -> str:
    """What the asset's return is measured against: AGG for SPY, SPY for everything else
    (crypto by the issue's rule; other equities and bonds against the stock market too, the
    other side of the 60/40 trade)."""
    return "AGG" if symbol == "SPY" else "SPY"


def tracked_registry(registry: FundRegistry, symbol: str, monthly: bool) -> FundRegistry:
    """The registry whose calls are tracked: all of it for quarter ends (every fund rebalances
    then), only the monthly programs for month ends. InputError when no program holds `symbol`."""
    if monthly:
        programs = getattr(registry, "programs", ())
        if programs and hasattr(registry, "with_programs"):
            # A registry that lists programs apart from its sized funds filters both at once.
            registry = registry.with_programs(
                tuple(p for p in programs if p.rebalance == "monthly")
            )
        else:
            registry = dataclasses.replace(
                registry, funds=tuple(f for f in registry.funds if f.rebalance == "monthly")
            )
    if not registry.holding(symbol):
        which = "monthly-rebalancing program" if monthly else "program"
        raise InputError(
            f"no {which} in the fund registry ({registry.source}) holds {symbol}, so there are "
            "no rebalancing calls to track"
        )
    return registry


# ---------------------------------------------------------------------------------- outcome


def _upto(frame: pd.DataFrame, first: dt.date, last: dt.date) -> pd.DataFrame:
    index = frame.index.values
    lo = int(np.searchsorted(index, np.datetime64(first, "D"), side="left"))
    hi = int(np.searchsorted(index, np.datetime64(last, "D"), side="right"))
    return frame if lo == 0 and hi == len(frame) else frame.iloc[lo:hi]


def _close_on_or_before(closes: pd.Series, day: dt.date) -> float | None:
    position = int(np.searchsorted(closes.index.values, np.datetime64(day, "D"), side="right"))
    return float(closes.iloc[position - 1]) if position > 0 else None


def period_return(closes: pd.Series, start: dt.date, end: dt.date) -> float | None:
    """close(end) / close(start) - 1, each the last close on or before its day (a benchmark
    that does not trade on a crypto weekend day keeps its Friday close); None while the data
    does not reach `end` yet, or when `end` is not after `start`."""
    if end <= start or closes.empty or closes.index[-1].date() < end:
        return None
    first, last = _close_on_or_before(closes, start), _close_on_or_before(closes, end)
    if first is None or last is None:
        return None
    return last / first - 1.0


def is_hit(direction: str | None, excess: float | None) -> bool | None:
    """Sell right when excess < 0, buy right when excess > 0; exactly 0 is a miss; neutral or
    unknown is no call (None)."""
    if direction not in ("buy", "sell") or excess is None:
        return None
    return excess < 0 if direction == "sell" else excess > 0


def outcome(
    frames: Mapping[str, pd.DataFrame],
    symbol: str,
    benchmark: str,
    estimate_as_of: dt.date,
    window_end: dt.date,
) -> tuple[float | None, float | None]:
    """(outcome_return, outcome_excess) from total-return closes; None where a bar is missing."""
    own = period_return(frames[symbol]["adj_close"], estimate_as_of, window_end)
    bench_frame = frames.get(benchmark)
    if own is None or bench_frame is None:
        return own, None
    market = period_return(bench_frame["adj_close"], estimate_as_of, window_end)
    return own, None if market is None else own - market


# ---------------------------------------------------------------------------------- summary


def wilson_interval(
    hits: int, n: int, confidence: float = CONFIDENCE
) -> tuple[float, float] | None:
    """Wilson score interval for a binomial proportion (scipy's `binomtest`)."""
    if n <= 0:
        return None
    from scipy.stats import binomtest

    interval = binomtest(hits, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(interval.low), float(interval.high)


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _pct(value: float) -> str:
    return f"{value * 100:.0f} %"


def summarize(windows: Sequence[TrackWindow], benchmark: str | None = None) -> TrackSummary:
    scored = [w for w in windows if w.hit is not None]
    n = len(scored)
    hits = sum(1 for w in scored if w.hit)
    interval = wilson_interval(hits, n)
    sells = [w.outcome_excess for w in scored if w.direction == "sell"]
    buys = [w.outcome_excess for w in scored if w.direction == "buy"]
    return TrackSummary(
        n=n,
        hits=hits,
        hit_rate=hits / n if n else None,
        hit_rate_ci95=list(interval) if interval else None,
        mean_excess_sell=_mean([x for x in sells if x is not None]),
        mean_excess_buy=_mean([x for x in buys if x is not None]),
        note=summary_note(n, hits, interval, windows, benchmark),
    )


def summary_note(
    n: int,
    hits: int,
    interval: tuple[float, float] | None,
    windows: Sequence[TrackWindow],
    benchmark: str | None,
) -> str:
    neutral = sum(1 for w in windows if w.direction == "neutral")
    pending = sum(1 for w in windows if w.direction in ("buy", "sell") and w.hit is None)
    against = f" against {benchmark}" if benchmark else ""
    tail = []
    if neutral:
        tail.append(f"{neutral} neutral window(s) are not calls")
    if pending:
        tail.append(f"{pending} call(s) still without an outcome")
    extra = f" ({'; '.join(tail)})" if tail else ""
    if n == 0:
        return (
            f"No buy or sell call with a known outcome in this range, so there is no record{extra}."
        )
    record = f"{hits} of {n} calls right ({_pct(hits / n)}, 95 % CI {_pct(interval[0])}–" + (
        f"{_pct(interval[1])}), excess return{against}"
    )
    if n < MIN_MEANINGFUL_CALLS:
        return (
            f"Too few calls to mean anything: {n} is below {MIN_MEANINGFUL_CALLS}. {record}{extra}."
        )
    low, high = interval
    if low <= 0.5 <= high:
        verdict = (
            "the interval includes 50 %, so this record cannot tell the calls from a coin toss"
        )
    elif low > 0.5:
        verdict = "the interval lies above 50 %: better than a coin toss on this sample"
    else:
        verdict = "the interval lies below 50 %: worse than a coin toss on this sample"
    return f"{record}{extra}; {verdict}."


# ---------------------------------------------------------------------------------- history


def _covers(frame: pd.DataFrame | None, symbol: str, as_of: dt.date) -> bool:
    """The data reaches `as_of` (crypto) or the last NYSE session on or before it — the check
    `status` makes for a past as-of."""
    if frame is None or frame.empty:
        return False
    return frame.index[-1].date() >= freshness.required_last_bar(symbol, as_of)


def estimable_windows(
    windows: Sequence[Window], frames: Mapping[str, pd.DataFrame], lead_days: int = 40
) -> list[Window]:
    """The windows whose call the data can support: every series starts at least `lead_days`
    (an ADV's worth of sessions) before the quarter end preceding the call, the earliest base
    date any fund measures drift from. For callers that pick the range themselves (alerts,
    questions); the CLI reports an uncovered range as an error instead."""
    firsts = [frame.index[0].date() for frame in frames.values() if len(frame)]
    if not firsts:
        return []
    first = max(firsts)
    return [
        window
        for window in windows
        if calendar.period_end_before(window.estimate_as_of, "quarterly")
        - dt.timedelta(days=lead_days)
        >= first
    ]


def call_on(
    asset: Asset,
    as_of: dt.date,
    frames: Mapping[str, pd.DataFrame],
    registry: FundRegistry,
    data_source: str,
    sample: bool,
    config: AnalyticsConfig,
) -> tuple[float, Direction]:
    """What `status ASSET --as-of as_of` reports for the aggregate, from the bars up to as_of
    only (the same window of history `build_status` fetches)."""
    first = as_of - dt.timedelta(days=HISTORY_DAYS)
    seen = {symbol: _upto(frame, first, as_of) for symbol, frame in frames.items()}
    for symbol in symbols_for(asset, registry):
        if not _covers(seen.get(symbol), symbol, as_of):
            frame = frames.get(symbol)
            if frame is None or frame.empty:
                problem = f"has no bars up to {as_of}"
            elif frame.index[0].date() > as_of:
                problem = f"starts {frame.index[0].date()}, after {as_of}"
            else:
                problem = f"ends {frame.index[-1].date()}, before {as_of}"
            raise InputError(f"{symbol} data from {data_source} {problem}")
    report = status_from_frames(asset, as_of, seen, registry, data_source, sample, config)
    return report.rebalance.trade_usd, report.rebalance.direction


def track_from_frames(
    asset: Asset,
    windows: Sequence[Window],
    frames: Mapping[str, pd.DataFrame],
    registry: FundRegistry,
    data_source: str,
    sample: bool,
    config: AnalyticsConfig,
    *,
    monthly: bool = False,
    known_through: dt.date | None = None,
) -> TrackRecord:
    """The record over `windows` (pure; frames already fetched). Windows whose call date the
    data does not reach yet are left out; `known_through` caps what counts as known (the record
    "as of" a past day: nothing after it is used)."""
    benchmark = benchmark_for(asset.symbol)
    if known_through is not None:
        frames = {
            s: _upto(f, f.index[0].date(), known_through) for s, f in frames.items() if len(f)
        }
    own = frames.get(asset.symbol)
    last_bar = own.index[-1].date() if own is not None and len(own) else None
    rows: list[TrackWindow] = []
    for window in windows:
        if last_bar is None or window.estimate_as_of > last_bar:
            continue
        try:
            trade, direction = call_on(
                asset, window.estimate_as_of, frames, registry, data_source, sample, config
            )
        except InputError as exc:
            reason = str(exc).split("; ")[0]
            raise InputError(
                f"cannot call the window ending {window.end}: {reason}; pass a later --from"
            ) from None
        ret, excess = outcome(frames, asset.symbol, benchmark, window.estimate_as_of, window.end)
        rows.append(
            TrackWindow(
                window_start=window.start,
                window_end=window.end,
                estimate_as_of=window.estimate_as_of,
                estimated_trade_usd=trade,
                direction=direction,
                outcome_return=ret,
                outcome_excess=excess,
                hit=is_hit(direction, excess),
            )
        )
    return TrackRecord(
        asset=asset.symbol,
        windows=rows,
        summary=summarize(rows, benchmark),
        schedule="monthly" if monthly else "quarterly",
        benchmark=benchmark,
        data_source=data_source,
        sample=sample,
        funds_source=registry.source,
        programs=[fund.name for fund in registry.holding(asset.symbol)],
    )


async def build_track(
    asset_text: str,
    market: MarketData,
    registry: FundRegistry,
    start: dt.date,
    end: dt.date | None = None,
    *,
    monthly: bool = False,
    config: AnalyticsConfig | None = None,
) -> TrackRecord:
    """Fetch once, then the record of every window whose last session is in [start, end]."""
    config = config or AnalyticsConfig(with_garch=False)
    asset = resolve_asset(asset_text, registry)
    today = freshness.today_utc()
    end = min(end or today, today)
    windows = windows_between(start, end, monthly)
    kind = "month-end" if monthly else "quarter-end"
    if not windows:
        raise InputError(f"no {kind} window ends between {start} and {end}; widen --from/--to")
    tracked = tracked_registry(registry, asset.symbol, monthly)
    symbols = symbols_for(asset, tracked) | {benchmark_for(asset.symbol)}
    first = windows[0].estimate_as_of - dt.timedelta(days=HISTORY_DAYS)
    frames = await market.bars_many(symbols, first, min(end, today))
    label = source_label(market)
    record = track_from_frames(
        asset, windows, frames, tracked, label, market.is_sample, config, monthly=monthly
    )
    if not record.windows:
        last = frames[asset.symbol].index[-1].date()
        raise InputError(
            f"{asset.symbol} data from {market.source.name} ends {last}, before the first "
            f"{kind} window's call date {windows[0].estimate_as_of}"
        )
    return record


def record_line(record: TrackRecord, since: dt.date) -> str:
    """One line for an alert: 'record for BTC since 2021: 9 of 14 sell/buy calls right,
    95 % CI 39–84 %'."""
    summary = record.summary
    head = f"record for {record.asset} since {since.year}"
    if summary.n == 0 or summary.hit_rate_ci95 is None:
        return f"{head}: no sell/buy call with a known outcome yet"
    low, high = summary.hit_rate_ci95
    small = " (too few calls to mean much)" if summary.n < MIN_MEANINGFUL_CALLS else ""
    return (
        f"{head}: {summary.hits} of {summary.n} sell/buy calls right, "
        f"95 % CI {low * 100:.0f}–{high * 100:.0f} %{small}"
    )
