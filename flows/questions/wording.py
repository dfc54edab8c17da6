"""The plain-language text of an answer (the `answer.text` field), and what the engine says when
it cannot answer. Every number here is read from the typed answer; nothing is computed anew."""

from __future__ import annotations

from collections.abc import Iterable

from flows.funds import FundRegistry
from flows.money import usd
from flows.questions.results import (
    Answer,
    AssetAnswer,
    ChannelFlow,
    Drift,
    Reason,
    RebalanceFundFlow,
    WhatIf,
)

EXAMPLE_QUESTIONS = (
    "Will Bitcoin see selling pressure in the last week of June from rebalancing?",
    "Will net flows from multi-asset funds into Ethereum be positive or negative for Q4?",
    "Will 60/40 rebalancing raise crypto volatility on the last trading day of the quarter?",
)
CAPABILITY = (
    "I estimate mechanical flows: fixed-weight fund rebalancing (60/40, pensions, multi-asset "
    "and model portfolios), volatility targeting and leveraged-ETF rebalancing, over NYSE "
    "windows such as 'Q4', 'the last week of June', 'month-end' or 'the last trading day of "
    "the quarter'; and dealer gamma (GEX, the zero-gamma flip level, call and put walls) from "
    "option chains of SPY, QQQ, IWM, BTC and ETH."
)
SOURCE_LABELS = {
    "rebalancing": "rebalancing",
    "vol_target": "vol-targeting",
    "leveraged": "leveraged-ETF",
    "positioning": "short-covering / liquidation",
    "etf_flows": "ETF creation/redemption",
    "gamma": "dealer-gamma",
    "net_flow": "net mechanical-flow",
    "track_record": "rebalancing track-record",
}


def side(amount: float) -> str:
    if amount == 0:
        return "no trade"
    return f"{'BUY' if amount > 0 else 'SELL'} {usd(amount)}"


def _pct(value: float, digits: int = 1) -> str:
    shown = round(value * 100, digits) + 0.0  # adding 0.0 turns -0.0 into 0.0
    return f"{shown:+.{digits}f}%".replace("-", "−")


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def covered_assets(registry: FundRegistry) -> str:
    return ", ".join(sorted(registry.all_symbols()))


def decline_text(reason: Reason, detail: str | None, registry: FundRegistry) -> str:
    """Why the engine cannot answer, what it can answer, and an example to try."""
    known = covered_assets(registry)
    lead = {
        "out_of_scope": "That is not a question about mechanical flows.",
        "advice": "I do not give investment advice or price calls.",
        "unknown_asset": "I could not tell which asset you mean"
        + (f" ({detail} is not one I know)." if detail else "."),
        "unsupported_source": (
            f"{detail} {'are' if ' and ' in detail else 'is'} not modelled yet, so I cannot "
            "say how much of a move it explains."
        )
        if detail
        else "",
        "source_unavailable": f"{detail} flows are not available to questions yet."
        if detail
        else "",
        "no_funds": f"{detail}." if detail else "",
        "window_unreadable": f"I could not place the window: {detail}.",
        "window_outside_data": f"The window is outside the market data: {detail}.",
        "data_unavailable": f"The market data cannot support an answer: {detail}.",
    }.get(reason, detail or "")
    tail = f"{CAPABILITY} Assets with funds in the registry: {known}."
    return f"{lead} {tail} For example: “{EXAMPLE_QUESTIONS[0]}”".strip()


def window_phrase(answer: Answer) -> str:
    """'in the last week of June 2024 (Mon 2024-06-24 to Fri 2024-06-28)', 'on …' for a day."""
    window = answer.parsed.window
    if window.start is None or window.end is None:
        return "in the window"
    if window.start == window.end:
        return f"on {window.label} ({window.start:%a %Y-%m-%d})"
    preposition = "at" if (window.label or "").startswith("the end") else "in"
    dates = f"{window.start:%a %Y-%m-%d} to {window.end:%a %Y-%m-%d}"
    return f"{preposition} {window.label} ({dates})"


def _subject(answer: Answer) -> str:
    return _join([item.asset for item in answer.breakdown])


def _sized_labels(answer: Answer) -> str:
    labels: list[str] = []
    for item in answer.breakdown:
        for channel in item.channels:
            if channel.trade_usd is not None and channel.label not in labels:
                labels.append(channel.label)
    return _join(labels) or "the requested flows"


def _adv_phrase(pct_adv: float | None) -> str:
    return (
        "average daily volume unknown"
        if pct_adv is None
        else f"{pct_adv:.2f}% of average daily volume"
    )


def _headline(answer: Answer) -> str:
    summary = answer.answer
    trade = summary.trade_usd or 0.0
    where = window_phrase(answer)
    adv = _share_phrase(answer.breakdown[0]) if answer.breakdown else _adv_phrase(None)
    source = _sized_labels(answer)
    subject = _subject(answer)
    if summary.verdict in ("sell_pressure", "buy_pressure"):
        word = "selling" if summary.verdict == "sell_pressure" else "buying"
        return (
            f"{word.capitalize()} pressure: net {word} of about {usd(trade)} of {subject} "
            f"{where}, {adv}, from {source}."
        )
    idle = _idle_notes(answer.breakdown)
    if trade == 0 and idle:
        return f"No material pressure on {subject} {where}: {idle[0]}."
    band = answer.basis.neutral_band_pct_adv if answer.basis else None
    inside = f", inside the neutral band of {band:g}% of ADV" if band is not None else ""
    return (
        f"No material pressure: {source} nets to {side(trade)} of {subject} {where}, {adv}{inside}."
    )


def _idle_notes(items: Iterable[AssetAnswer]) -> list[str]:
    return [
        channel.note
        for item in items
        for channel in item.channels
        if channel.note and channel.trade_usd == 0 and not channel.funds
    ]


def _drift_sentence(drifts: list[Drift], assets: list[str]) -> str:
    parts = []
    for drift in drifts:
        ordered = [s for s in assets if s in drift.returns]
        ordered += sorted(s for s in drift.returns if s not in ordered)
        moves = ", ".join(f"{s} {_pct(drift.returns[s])}" for s in ordered[:4])
        parts.append(f"{drift.schedule} funds, {drift.base_date} to {drift.measured_on}: {moves}")
    return "Drift since the last rebalance (" + "; ".join(parts) + ")." if parts else ""


def _scenario(what_if: WhatIf) -> str:
    if what_if.direction == "neutral" and what_if.trade_usd != 0:
        return f"neutral ({side(what_if.trade_usd)})"
    return side(what_if.trade_usd)


def what_if_move_phrase(answer: Answer) -> str:
    """What the price what-if assumes: the move happens once, from the as-of close, before the
    funds' first rebalance in the window (later rebalances see no new drift)."""
    subject = _subject(answer)
    verb = "move" if " and " in subject else "moves"
    return f"{subject} {verb} from the {answer.as_of} close before the first rebalance"


def _what_if_sentence(what_if: list[WhatIf], answer: Answer) -> str:
    if not what_if:
        return ""
    cells = " / ".join(f"{_pct(w.move, 0)}: {_scenario(w)}" for w in what_if)
    return f"If {what_if_move_phrase(answer)} (other holdings flat): {cells}."


def _channel_notes(answer: Answer) -> list[str]:
    notes = []
    for item in answer.breakdown:
        for channel in item.channels:
            if channel.trade_usd is None and channel.note:
                detail = f"{channel.note}{_vol_what_if(channel)}"
                notes.append(f"{item.asset} {channel.label}: {detail}.")
            if channel.detail:
                notes.append(channel.detail)
    return notes


def _vol_what_if(channel: ChannelFlow) -> str:
    if channel.what_if_on != "realized_vol" or not channel.what_if:
        return ""
    cells = ", ".join(f"vol {_pct(w.move, 0)}: {side(w.trade_usd)}" for w in channel.what_if)
    return f"; what-if by the window's end: {cells}"


def _volatility_sentences(answer: Answer) -> list[str]:
    # The share of liquidity is in the volatility lead, per asset; here the history.
    sentences = []
    for item in answer.breakdown:
        history = item.volatility_history
        if history is None:
            sentences.append(
                f"{item.asset}: not enough history to compare past period-end sessions."
            )
            continue
        which = (
            "the last trading day"
            if history.final_sessions == 1
            else f"the final {history.final_sessions} sessions"
        )
        ratio = "" if history.ratio is None else f" ({history.ratio:.2f}×)"
        sentences.append(
            f"History: on {which} of past {history.period}s, {item.asset} moved "
            f"{history.window_mean_abs_return:.2%} a day on average (absolute) against "
            f"{history.other_mean_abs_return:.2%} on other NYSE sessions{ratio}, over "
            f"{history.periods} {history.period}s ({history.first_period}–{history.last_period})."
        )
    return sentences


def _timing_sentence(answer: Answer) -> str:
    dates: dict[str, set[str]] = {}
    for item in answer.breakdown:
        for channel in item.channels:
            for fund in channel.funds:
                if isinstance(fund, RebalanceFundFlow):
                    dates.setdefault(fund.rebalance, set()).add(
                        f"{fund.rebalance_date:%a %Y-%m-%d}"
                    )
    if not dates:
        return ""
    parts = [f"{schedule} funds on {_join(sorted(days))}" for schedule, days in dates.items()]
    return "Rebalance dates in the window: " + "; ".join(sorted(parts)) + "."


def _basis_sentence(answer: Answer) -> str:
    basis = answer.basis
    if basis is None:
        return ""
    provenance = f"funds: {basis.funds_source}; data: {basis.data_source}; as of {basis.as_of}"
    if not basis.funds_counted:
        return f"Basis: {provenance}."
    aum = f"AUM {usd(basis.aum_usd)}" + (
        " (illustrative registry assumptions)" if basis.aum_illustrative else ""
    )
    return f"Basis: {basis.funds_counted} fund(s), {aum}; {provenance}."


def window_closed(answer: Answer) -> bool:
    end = answer.parsed.window.end
    return end is not None and answer.as_of is not None and end <= answer.as_of


def pending_text(answer: Answer) -> str:
    """A window whose flow depends on what happens after as-of: why, and the what-ifs."""
    sentences = [f"Cannot tell yet for {_subject(answer)} {window_phrase(answer)}."]
    sentences.extend(_channel_notes(answer))
    sentences.append(_what_if_sentence(answer.what_if, answer))
    sentences.append(_basis_sentence(answer))
    return " ".join(sentence for sentence in sentences if sentence)


def _share_phrase(item: AssetAnswer) -> str:
    """'0.42% of the yardstick (BTC spot volume on ...)' or why the share is unknown."""
    if item.pct_adv is None:
        return f"share of liquidity unknown ({item.adv_basis or 'no yardstick'})"
    return f"{item.pct_adv:.2f}% of {item.adv_basis or 'average daily volume'}"


def _per_asset_headline(answer: Answer) -> str:
    """Several assets: each on its own, never netted against another."""
    parts = [
        f"{item.asset} {side(item.trade_usd)} ({_share_phrase(item)})"
        if item.trade_usd is not None
        else f"{item.asset} unknown"
        for item in answer.breakdown
    ]
    return (
        f"Each asset on its own (never netted against another) {window_phrase(answer)}, from "
        f"{_sized_labels(answer)}: " + "; ".join(parts) + "."
    )


def _volatility_lead(answer: Answer) -> list[str]:
    """A volatility question: the volatility model per asset, not a direction."""
    sentences = []
    where = window_phrase(answer)
    for item in answer.breakdown:
        vol = item.volatility
        if vol is None:
            sentences.append(f"{item.asset}: volatility unknown (not enough history).")
            continue

        def share(value: float | None) -> str:
            return "unknown" if value is None else f"{value:.0%}"

        forecast = (
            f"GARCH 5-day forecast {share(vol.garch_5d)} ({vol.garch_regime} regime)"
            if vol.garch_5d is not None
            else "no GARCH forecast"
        )
        rebalancing = [c for c in item.channels if c.source == "rebalancing"]
        trade = rebalancing[0].trade_usd if rebalancing else None
        flow = (
            f"the rebalancing trade {where}, {side(trade)}, is {_share_phrase(item)}"
            if trade is not None
            else "the rebalancing trade in the window cannot be sized"
        )
        if vol.vol_target:
            trade_vt = vol.vol_target_trade_usd
            target = (
                "vol-target funds: trade unknown"
                if trade_vt is None
                else "vol-target funds: no trade (exposure unchanged)"
                if trade_vt == 0
                else f"vol-target funds {side(trade_vt)} as their exposure follows realized vol"
            )
        else:
            target = f"no vol-target fund in the registry trades {item.asset}"
        sentences.append(
            f"{item.asset}: volatility regime {vol.regime or 'unknown'} ({vol.window}-day "
            f"realized {share(vol.realized)}, EWMA {share(vol.ewma)}); {forecast}; {flow}; "
            f"{target}."
        )
    return sentences


def counted_sentence(answer: Answer) -> str:
    """Which programs were counted, when the question's words narrowed them."""
    parsed = answer.parsed
    basis = answer.basis
    if not parsed.fund_kinds or basis is None:
        return ""
    from flows.fund_kinds import kinds_label

    words = ", ".join(f"“{word}”" for word in parsed.kind_words)
    names = "; ".join(basis.fund_names) or "none"
    return (
        f"Counted only {kinds_label(parsed.fund_kinds)} ({words}): "
        f"{basis.funds_counted} program(s): {names}."
    )


def answer_text(answer: Answer) -> str:
    """The answer in a few plain sentences: verdict and number, dates, how, what would change it."""
    summary = answer.answer
    if answer.parsed.asks == "accuracy":
        return accuracy_text(answer)
    if summary.verdict == "unknown":
        return pending_text(answer)
    sentences: list[str] = []
    if answer.parsed.asks == "timing":
        sentences.append(_timing_sentence(answer))
    if answer.parsed.asks == "volatility":
        sentences.extend(_volatility_lead(answer))
    elif len(answer.breakdown) > 1:
        sentences.append(_per_asset_headline(answer))
    else:
        sentences.append(_headline(answer))
    sentences.append(counted_sentence(answer))
    if summary.projected:
        sentences.append(
            # Not "the window has not closed yet": on data that ends long ago the window may be
            # long past; what the projection knows is the data's last close.
            f"Projection with prices held where they closed on {answer.as_of}, the last close "
            "in the data."
        )
    elif window_closed(answer):
        end = answer.parsed.window.end
        sentences.append(f"The window has closed: computed from closes up to {end}.")
    drifts = answer.basis.drift if answer.basis else []
    sentences.append(_drift_sentence(drifts, [item.asset for item in answer.breakdown]))
    if answer.parsed.asks == "volatility":
        sentences.extend(_volatility_sentences(answer))
    sentences.append(_what_if_sentence(answer.what_if, answer))
    sentences.extend(_channel_notes(answer))
    if summary.partial:
        sentences.append("The total leaves out what could not be sized (see the breakdown).")
    sentences.append(_basis_sentence(answer))
    return " ".join(sentence for sentence in sentences if sentence)


def accuracy_text(answer: Answer) -> str:
    """How past rebalancing calls turned out, per asset (the track-record channel's notes)."""
    notes = [
        f"{item.asset}: {channel.note}"
        for item in answer.breakdown
        for channel in item.channels
        if channel.note
    ]
    return " ".join([*notes, _basis_sentence(answer)]).strip()
