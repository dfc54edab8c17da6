"""The question engine: a trader's question in, a sourced answer out.

`answer_question` fetches what the question needs once and hands it to `answer_from_frames`, the
pure part (no I/O; replays and tests call it with frames they built). Neither raises for a bad
question, a window outside the data or a data problem: each of those comes back as an answer
whose verdict is `unknown`, saying why and what the engine can answer instead.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping

import pandas as pd

from flows import freshness
from flows.assets import AssetClass, asset_or_equity
from flows.errors import FlowsError, InputError, MarketDataError
from flows.fund_kinds import kinds_label, narrow
from flows.funds import FundRegistry
from flows.liquidity import yardstick
from flows.marketdata import MarketData
from flows.marketdata.liquidity import fetch_liquidity
from flows.questions.channels import ChannelInput, get_channel
from flows.questions.history import period_end_volatility
from flows.questions.parse import ParsedQuestion, one_day, parse_question
from flows.questions.results import (
    Answer,
    AnswerSummary,
    AssetAnswer,
    Basis,
    ChannelFlow,
    Drift,
    ParsedInfo,
    Reason,
    Verdict,
    WindowInfo,
)
from flows.questions.windows import DEFAULT_WINDOW, ResolvedWindow, resolve_window
from flows.questions.wording import EXAMPLE_QUESTIONS, SOURCE_LABELS, answer_text, decline_text
from flows.rebalance import direction_of
from flows.results import Direction, WhatIf
from flows.status import AnalyticsConfig, source_label
from flows.volatility import DEFAULT_BANDS, assess_volatility

DEFAULT_SOURCES = ("rebalancing",)
"""No source named: the month- and quarter-end rebalancing flow the product is built around."""
HISTORY_DAYS = 3 * 365
"""Enough before the window for a quarterly base date, the ADV and realized vol."""
VOLATILITY_HISTORY_DAYS = 10 * 365
"""A volatility question compares past quarter ends: fetch as many as a decade holds."""
NEUTRAL_BAND_USD = 1e6
"""Neutral band when volume is unknown (no volume data)."""
PRESENT_WORDS = re.compile(
    r"\b(?:today|tonight|tomorrow|now|currently|this\s+week|next\s+week)\b", re.IGNORECASE
)
"""Words that tie a question to the calendar's today: unanswerable from data that ends earlier."""

_VERDICTS: dict[Direction, Verdict] = {
    "sell": "sell_pressure",
    "buy": "buy_pressure",
    "neutral": "neutral",
}


class _Declined(Exception):
    def __init__(self, reason: Reason, detail: str | None = None) -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.detail = detail


def _sources(parsed: ParsedQuestion) -> tuple[tuple[str, ...], bool]:
    if parsed.asks == "accuracy":
        return ("track_record",), False
    return (parsed.sources, False) if parsed.sources else (DEFAULT_SOURCES, True)


def _screen(parsed: ParsedQuestion, registry: FundRegistry) -> None:
    """Raise _Declined for what the words alone rule out, before any data is fetched."""
    sources, _ = _sources(parsed)
    if not parsed.normalized or not parsed.about_flows:
        raise _Declined("out_of_scope")
    if parsed.advice and not parsed.sources:
        raise _Declined("advice")
    if parsed.unsupported_sources and not parsed.sources:
        # Named before the asset check: "is this rally short covering?" needs no asset to say
        # that short covering is not modelled yet.
        raise _Declined("unsupported_source", " and ".join(parsed.unsupported_sources))
    if not parsed.assets:
        detail = ", ".join(parsed.unknown_tickers) or None
        raise _Declined("unknown_asset", detail)
    channels = [channel for name in sources if (channel := get_channel(name)) is not None]
    if not channels:
        names = " and ".join(SOURCE_LABELS.get(name, name) for name in sources)
        raise _Declined("source_unavailable", names[:1].upper() + names[1:])
    if not any(channel.covers(s, registry) for s in parsed.assets for channel in channels):
        labels = " or ".join(SOURCE_LABELS.get(channel.name, channel.name) for channel in channels)
        which = (
            f"No {kinds_label(parsed.fund_kinds)} (named by “{', '.join(parsed.kind_words)}”)"
            if parsed.fund_kinds
            else "No fund"
        )
        raise _Declined(
            "no_funds",
            f"{which} in the fund registry ({registry.source}) makes {labels} flows in "
            f"{', '.join(parsed.assets)}, so there is no mechanical flow to estimate",
        )


def needed_symbols(parsed: ParsedQuestion, registry: FundRegistry) -> set[str]:
    sources, _ = _sources(parsed)
    symbols: set[str] = set(parsed.assets)
    for name in sources:
        channel = get_channel(name)
        if channel is None:
            continue
        for asset in parsed.assets:
            if channel.covers(asset, registry):
                symbols |= channel.symbols(asset, registry)
    return symbols


def _parsed_info(parsed: ParsedQuestion, window: ResolvedWindow | None) -> ParsedInfo:
    sources, assumed = _sources(parsed)
    spec = parsed.window
    info = WindowInfo(
        words=spec.words if spec else "",
        assumed=spec is None,
    )
    if window is not None:
        info = info.model_copy(
            update={
                "start": window.start,
                "end": window.end,
                "label": window.label,
                "kind": window.kind,
                "sessions": len(window.sessions),
            }
        )
    return ParsedInfo(
        assets=list(parsed.assets),
        window=info,
        sources=list(sources),
        asks=parsed.asks,
        sources_assumed=assumed,
        unrecognized=list(parsed.unknown_tickers),
        fund_kinds=sorted(parsed.fund_kinds),
        kind_words=list(parsed.kind_words),
        not_modelled=list(parsed.unsupported_sources),
    )


def _unknown(
    parsed: ParsedQuestion,
    reason: Reason,
    detail: str | None,
    registry: FundRegistry,
    *,
    as_of: dt.date | None,
    window: ResolvedWindow | None,
    data_source: str | None,
    sample: bool,
) -> Answer:
    return Answer(
        question=parsed.text,
        as_of=as_of,
        parsed=_parsed_info(parsed, window),
        answer=AnswerSummary(
            verdict="unknown",
            trade_usd=None,
            pct_adv=None,
            text=decline_text(reason, detail, registry),
            reason=reason,
        ),
        data_source=data_source,
        sample=sample,
        examples=list(EXAMPLE_QUESTIONS),
    )


async def answer_question(
    question: str,
    market: MarketData,
    registry: FundRegistry,
    as_of: dt.date | None = None,
    config: AnalyticsConfig | None = None,
    *,
    today: dt.date | None = None,
    chains=None,
) -> Answer:
    """Answer `question` from `market` data as of `as_of` (default: the latest date every
    series the answer needs covers). `chains`: where option chains come from for dealer-gamma
    questions (default: the source matching `market`'s)."""
    parsed = parse_question(question, registry.symbols)
    registry = narrow(registry, parsed.fund_kinds)
    data_source, sample = source_label(market), market.is_sample

    def unknown(reason: Reason, detail: str | None, window: ResolvedWindow | None = None) -> Answer:
        return _unknown(
            parsed,
            reason,
            detail,
            registry,
            as_of=as_of,
            window=window,
            data_source=data_source,
            sample=sample,
        )

    try:
        _screen(parsed, registry)
    except _Declined as declined:
        return unknown(declined.reason, declined.detail)
    today = today or freshness.today_utc()
    if problem := freshness.future_as_of(as_of, today):
        return unknown("data_unavailable", problem)
    end = as_of or today
    long_history = parsed.asks in ("volatility", "accuracy")
    lookback = dt.timedelta(days=VOLATILITY_HISTORY_DAYS if long_history else HISTORY_DAYS)
    while True:
        try:
            window = resolve_window(
                parsed.window or DEFAULT_WINDOW, end, parsed.past_tense, any_day=one_day(parsed)
            )
        except InputError as exc:
            return unknown("window_unreadable", str(exc))
        start = min(window.start, end) - lookback
        try:
            frames = await market.bars_many(needed_symbols(parsed, registry), start, end)
            break
        except MarketDataError as exc:
            if as_of is not None or end != today:
                return unknown("data_unavailable", str(exc), window)
            # No as-of named and a series stops before the lookback: answer as of its end (the
            # data-lag line says how old that is), the window placed from there.
            try:
                stopped = await market.recent_bars(exc.symbol, end, lookback.days, older=True)
            except FlowsError:
                return unknown("data_unavailable", str(exc), window)
            end = stopped.index[-1].date()
        except FlowsError as exc:
            return unknown("data_unavailable", str(exc), window)
    # The bars' own ends decide the as-of; the liquidity series (which may be empty) do not.
    last_bars = {symbol: frame.index[-1].date() for symbol, frame in frames.items()}
    exchanges = (config or AnalyticsConfig()).spot_exchanges
    for symbol in parsed.assets:
        frames |= await fetch_liquidity(market, asset_or_equity(symbol), start, end, exchanges)
    if as_of is not None:
        return await _answer_with_extras(
            parsed, as_of, frames, registry, market, window, data_source, sample, config, chains
        )
    as_of = min(last_bars.values())
    lag = freshness.data_lag(as_of, today, last_bars)
    if lag is not None and PRESENT_WORDS.search(parsed.text):
        # "today", "this week", "now" mean the calendar's today, which the data does not reach.
        return unknown(
            "data_unavailable",
            f"I cannot answer for {today:%a %Y-%m-%d} (today, UTC): {lag.line}",
            window,
        ).model_copy(update={"data_lag": lag})
    result = await _answer_with_extras(
        parsed, as_of, frames, registry, market, window, data_source, sample, config, chains
    )
    return result.model_copy(update={"data_lag": lag}) if lag else result


async def _answer_with_extras(
    parsed: ParsedQuestion,
    as_of: dt.date,
    frames: Mapping[str, pd.DataFrame],
    registry: FundRegistry,
    market: MarketData,
    window: ResolvedWindow,
    data_source: str,
    sample: bool,
    config: AnalyticsConfig | None,
    chains: object | None,
) -> Answer:
    """Fetch what channels read beyond bars (positioning data, option chains), then answer."""
    extras = await _prefetch(parsed, registry, market, window, as_of, chains)
    option_chains = None
    if "gamma" in _sources(parsed)[0]:
        from flows.options import chain_source_for
        from flows.questions.channels.gamma import fetch_option_chains

        source = chains or chain_source_for(market.source)
        try:
            option_chains = await fetch_option_chains(parsed.assets, source, as_of)
        finally:
            if chains is None:
                await source.close()
    return answer_from_frames(
        parsed,
        as_of,
        frames,
        registry,
        data_source,
        sample,
        config,
        extras=extras,
        option_chains=option_chains,
    )


async def _prefetch(
    parsed: ParsedQuestion,
    registry: FundRegistry,
    market: MarketData,
    window: ResolvedWindow,
    as_of: dt.date,
    chains: object | None = None,
) -> dict[tuple[str, str], object]:
    """Data beyond bars, for channels that read more (positioning, the ledger): (channel, asset)
    -> data or the FlowsError that kept it from being fetched. Channels sharing a prefetch (the
    positioning and ETF-flow channels) fetch once per asset."""
    extras: dict[tuple[str, str], object] = {}
    fetched: dict[tuple[object, str], object] = {}
    for name in _sources(parsed)[0]:
        channel = get_channel(name)
        prefetch = getattr(channel, "prefetch", None)
        if channel is None or prefetch is None:
            continue
        options: dict[str, object] = {}
        if getattr(channel, "prefetch_builds_ledger", False):
            options = {"registry": registry, "chains": chains}
        for symbol in parsed.assets:
            if not channel.covers(symbol, registry):
                continue
            key = (prefetch, symbol)
            if key not in fetched:
                try:
                    fetched[key] = await prefetch(symbol, market, window, as_of, parsed, **options)
                except FlowsError as exc:
                    fetched[key] = exc
            extras[(name, symbol)] = fetched[key]
    return extras


def _check_frames(
    symbols: set[str], frames: Mapping[str, pd.DataFrame], as_of: dt.date, data_source: str
) -> None:
    for symbol in sorted(symbols):
        frame = frames.get(symbol)
        if frame is None or frame.empty:
            raise _Declined("data_unavailable", f"no {symbol} data up to {as_of} in {data_source}")
        last = frame.index[-1].date()
        if freshness.is_stale(symbol, last, as_of, freshness.today_utc()):
            raise _Declined(
                "data_unavailable",
                f"{freshness.stale_line(symbol, last, as_of, data_source)}; "
                f"ask as of {last} or earlier",
            )


def _channel_flow(name: str, inputs: ChannelInput) -> tuple[ChannelFlow, bool]:
    """The channel's estimate, and whether it failed for lack of data."""
    channel = get_channel(name)
    label = SOURCE_LABELS.get(name, name)
    if channel is None:
        return _unsized(name, label, f"{label} flows are not available to questions yet"), False
    try:
        return channel.estimate(inputs), False
    except InputError as exc:
        # Channels raise InputError only for dates their data or the calendar do not reach.
        return _unsized(name, channel.label, str(exc)), True


def _unsized(name: str, label: str, note: str) -> ChannelFlow:
    return ChannelFlow(
        source=name,
        label=label,
        trade_usd=None,
        direction=None,
        projected=False,
        funds=[],
        note=note,
    )


def _combine_what_if(items: list[list[WhatIf]], constant: float, band: float) -> list[WhatIf]:
    """Scenario totals: the what-ifs of the projected parts plus the fixed parts' trades."""
    if not items:
        return []
    moves = [w.move for w in items[0]]
    if any([w.move for w in item] != moves for item in items):
        return []
    totals = [constant + sum(item[i].trade_usd for item in items) for i in range(len(moves))]
    return [
        WhatIf(move=move, trade_usd=total, direction=direction_of(total, band))
        for move, total in zip(moves, totals, strict=True)
    ]


def _asset_answer(
    symbol: str,
    parsed: ParsedQuestion,
    sources: tuple[str, ...],
    window: ResolvedWindow,
    as_of: dt.date,
    frames: Mapping[str, pd.DataFrame],
    registry: FundRegistry,
    config: AnalyticsConfig,
    extras: Mapping[tuple[str, str], object] | None = None,
    option_chains: Mapping[str, object] | None = None,
) -> tuple[AssetAnswer, bool]:
    asset = asset_or_equity(symbol)
    adv_day = min(as_of, window.end)
    liquidity = yardstick(asset, adv_day, frames[symbol], frames, config.adv_sessions)
    adv = liquidity.adv_usd
    band = adv * config.neutral_band_pct_adv / 100.0 if adv else NEUTRAL_BAND_USD
    inputs = ChannelInput(
        asset=asset,
        window=window,
        as_of=as_of,
        frames=frames,
        registry=registry,
        config=config,
        scenario_symbols=frozenset(parsed.assets),
        neutral_band_usd=band,
        extras={name: data for (name, asset), data in (extras or {}).items() if asset == symbol},
        option_chains=option_chains or {},
    )
    channels: list[ChannelFlow] = []
    outside = False
    for name in sources:
        flow, failed = _channel_flow(name, inputs)
        channels.append(flow)
        outside |= failed
    sized = [channel for channel in channels if channel.trade_usd is not None]
    trade = float(sum(channel.trade_usd or 0.0 for channel in sized)) if sized else None
    # Unsized channels still carry price what-ifs (the drift a move would create); sized ones
    # without a what-if (a closed window) add their fixed trade to every scenario.
    priced = [c.what_if for c in channels if c.what_if_on == "price" and c.what_if]
    fixed = sum(c.trade_usd or 0.0 for c in sized if not (c.what_if_on == "price" and c.what_if))
    history = None
    volatility = None
    if parsed.asks == "volatility":
        volatility = assess_volatility(
            frames[symbol]["adj_close"],
            asset.annualization_days,
            config.bands.get(asset.asset_class, DEFAULT_BANDS[AssetClass.EQUITY]),
            registry.vol_targets_on(symbol),
            window=config.vol_window,
            with_garch=config.with_garch,
        )
        history = period_end_volatility(
            frames[symbol]["adj_close"],
            as_of,
            symbol,
            window.history_unit,
            window.history_sessions,
        )
    return (
        AssetAnswer(
            asset=symbol,
            asset_name=asset.name,
            verdict="unknown" if trade is None else _VERDICTS[direction_of(trade, band)],
            trade_usd=trade,
            pct_adv=None if trade is None or not adv else 100.0 * abs(trade) / adv,
            adv_usd=adv,
            adv_as_of=adv_day if adv else None,
            adv_basis=liquidity.basis,
            channels=channels,
            what_if=_combine_what_if(priced, fixed, band),
            volatility_history=history,
            volatility=volatility,
            note=None if sized else "; ".join(c.note for c in channels if c.note) or None,
        ),
        outside,
    )


def _several_verdict(sized: list[AssetAnswer]) -> Verdict:
    """One verdict for several assets only when they all point the same way."""
    verdicts = {item.verdict for item in sized}
    return verdicts.pop() if len(verdicts) == 1 else "mixed"


def _unsized_reason(channels: list[ChannelFlow], outside: bool) -> Reason:
    if outside:
        return "window_outside_data"
    if any(channel.projected for channel in channels):
        return "not_yet_determined"
    if all(get_channel(channel.source) is None for channel in channels):
        return "source_unavailable"
    return "no_funds"


def _merged_drift(breakdown: list[AssetAnswer]) -> list[Drift]:
    """One line per fund group (schedule, base date, measured on), holdings merged."""
    merged: dict[tuple[str, dt.date, dt.date], dict[str, float]] = {}
    schedules: dict[tuple[str, dt.date, dt.date], Drift] = {}
    for item in breakdown:
        for channel in item.channels:
            for drift in channel.drift:
                key = (drift.schedule, drift.base_date, drift.measured_on)
                merged.setdefault(key, {}).update(drift.returns)
                schedules.setdefault(key, drift)
    return [
        schedules[key].model_copy(update={"returns": merged[key]})
        for key in sorted(merged, key=lambda k: (k[1], k[0]))
    ]


def _basis(
    breakdown: list[AssetAnswer],
    as_of: dt.date,
    registry: FundRegistry,
    data_source: str,
    sample: bool,
    config: AnalyticsConfig,
) -> Basis:
    funds: dict[str, tuple[float, str]] = {}
    projected = False
    vol_target = False
    for item in breakdown:
        for channel in item.channels:
            projected |= channel.projected and channel.trade_usd is not None
            vol_target |= channel.source == "vol_target" and bool(channel.funds)
            for fund in channel.funds:
                funds[fund.name] = (fund.aum_usd, fund.aum_source)
    assumptions = [
        "funds trade fully back to target weights at the close of each month- or quarter-end "
        "NYSE session they rebalance on",
        f"weights and AUM from the {registry.source}",
        f"neutral when the net trade is within {config.neutral_band_pct_adv:g}% of the "
        f"{config.adv_sessions}-session average daily dollar volume",
    ]
    if projected:
        assumptions.insert(0, f"prices stay where they closed on {as_of} until the window")
    if vol_target:
        assumptions.append(
            f"vol-target exposure = min(cap, target / {config.vol_window}-day realized vol)"
        )
    return Basis(
        as_of=as_of,
        data_source=data_source,
        sample=sample,
        funds_source=registry.source,
        funds_counted=len(funds),
        fund_names=sorted(funds),
        aum_usd=float(sum(aum for aum, _ in funds.values())),
        aum_illustrative=bool(funds)
        and all(source.startswith("illustrative") for _, source in funds.values()),
        drift=_merged_drift(breakdown),
        adv_sessions=config.adv_sessions,
        neutral_band_pct_adv=config.neutral_band_pct_adv,
        assumptions=assumptions,
    )


def answer_from_frames(
    question: str | ParsedQuestion,
    as_of: dt.date,
    frames: Mapping[str, pd.DataFrame],
    registry: FundRegistry,
    data_source: str,
    sample: bool,
    config: AnalyticsConfig | None = None,
    *,
    extras: Mapping[tuple[str, str], object] | None = None,
    option_chains: Mapping[str, object] | None = None,
) -> Answer:
    """The pure engine: frames already fetched (validated bars, `adj_close` included);
    `extras`: what channels' `prefetch` fetched, by (channel, asset); `option_chains` by asset
    for dealer-gamma questions."""
    config = config or AnalyticsConfig()
    parsed = (
        question
        if isinstance(question, ParsedQuestion)
        else parse_question(question, registry.symbols)
    )
    registry = narrow(registry, parsed.fund_kinds)
    window: ResolvedWindow | None = None
    try:
        _screen(parsed, registry)
        try:
            window = resolve_window(
                parsed.window or DEFAULT_WINDOW, as_of, parsed.past_tense, any_day=one_day(parsed)
            )
        except InputError as exc:
            raise _Declined("window_unreadable", str(exc)) from None
        upto = {symbol: frame.loc[: pd.Timestamp(as_of)] for symbol, frame in frames.items()}
        _check_frames(needed_symbols(parsed, registry), upto, as_of, data_source)
        try:
            return _answer(
                parsed,
                window,
                as_of,
                upto,
                registry,
                data_source,
                sample,
                config,
                extras or {},
                option_chains,
            )
        except FlowsError as exc:
            raise _Declined("data_unavailable", str(exc)) from None
    except _Declined as declined:
        return _unknown(
            parsed,
            declined.reason,
            declined.detail,
            registry,
            as_of=as_of,
            window=window,
            data_source=data_source,
            sample=sample,
        )


def _answer(
    parsed: ParsedQuestion,
    window: ResolvedWindow,
    as_of: dt.date,
    frames: Mapping[str, pd.DataFrame],
    registry: FundRegistry,
    data_source: str,
    sample: bool,
    config: AnalyticsConfig,
    extras: Mapping[tuple[str, str], object],
    option_chains: Mapping[str, object] | None = None,
) -> Answer:
    sources, _ = _sources(parsed)
    breakdown: list[AssetAnswer] = []
    outside = False
    for symbol in parsed.assets:
        item, failed = _asset_answer(
            symbol, parsed, sources, window, as_of, frames, registry, config, extras, option_chains
        )
        breakdown.append(item)
        outside |= failed
    sized = [item for item in breakdown if item.trade_usd is not None]
    total = float(sum(item.trade_usd or 0.0 for item in sized)) if sized else None
    advs = [item.adv_usd for item in sized or breakdown]
    adv = float(sum(a for a in advs if a)) if all(advs) else None
    band = adv * config.neutral_band_pct_adv / 100.0 if adv else NEUTRAL_BAND_USD * len(advs)
    several = len(breakdown) > 1
    channels = [channel for item in breakdown for channel in item.channels]
    partial = bool(sized) and any(channel.trade_usd is None for channel in channels)
    what_if: list[WhatIf] = []
    if all(item.what_if for item in breakdown) and not several:
        what_if = _combine_what_if([item.what_if for item in breakdown], 0.0, band)
    reason: Reason | None = None
    if total is None:
        reason = _unsized_reason(channels, outside)
    if parsed.asks == "accuracy" and not outside:
        reason = None  # a record is an answer without a trade
    answer = Answer(
        question=parsed.text,
        as_of=as_of,
        parsed=_parsed_info(parsed, window),
        answer=AnswerSummary(
            verdict=_several_verdict(sized)
            if several and total is not None
            else "unknown"
            if total is None
            else _VERDICTS[direction_of(total, band)],
            # Several assets are never netted against each other: each is in the breakdown.
            trade_usd=None if several else total,
            pct_adv=None if several or total is None or not adv else 100.0 * abs(total) / adv,
            text="",
            reason=reason,
            adv_usd=None if several else adv,
            projected=any(c.projected and c.trade_usd is not None for c in channels),
            partial=partial,
        ),
        breakdown=breakdown,
        what_if=what_if,
        basis=_basis(breakdown, as_of, registry, data_source, sample, config),
        data_source=data_source,
        sample=sample,
        examples=[] if reason in (None, "not_yet_determined") else list(EXAMPLE_QUESTIONS),
    )
    if reason is None or reason == "not_yet_determined":
        text = answer_text(answer)
    else:
        notes = "; ".join(f"{item.asset}: {item.note}" for item in breakdown if item.note)
        text = decline_text(reason, notes or None, registry)
    summary = answer.answer.model_copy(update={"text": text})
    return answer.model_copy(update={"answer": summary})
