"""An answer to `/flows ask` as a neutral chat message, and as plain text for `flows-bot ask`."""

from __future__ import annotations

import textwrap

from bot.messages import Message, MessageField, Tone
from bot.render.numbers import pct, pct_points, trade, usd
from bot.render.status_text import SAMPLE_BANNER
from flows.questions.results import Answer, AssetAnswer, RebalanceFundFlow, VolTargetFundFlow
from flows.questions.wording import CAPABILITY, what_if_move_phrase, window_phrase
from flows.results import WhatIf

VERDICT_LABELS = {
    "sell_pressure": "SELLING PRESSURE",
    "buy_pressure": "BUYING PRESSURE",
    "neutral": "NO MATERIAL PRESSURE",
    "unknown": "CANNOT TELL",
    "mixed": "EACH ASSET ITS OWN WAY",
}
_TONES: dict[str, Tone] = {"sell_pressure": "sell", "buy_pressure": "buy", "neutral": "neutral"}
MAX_FUND_ROWS = 12
WRAP = 100


def _direction(verdict: str) -> str | None:
    return {"sell_pressure": "sell", "buy_pressure": "buy", "neutral": "neutral"}.get(verdict)


def _declined(answer: Answer) -> bool:
    """Nothing was estimated: the question was out of reach, not merely undecided."""
    return answer.answer.reason not in (None, "not_yet_determined")


def _subject(answer: Answer) -> str:
    assets = answer.parsed.assets
    if len(assets) <= 1:
        return "".join(assets) or "flows"
    return ", ".join(assets[:-1]) + " and " + assets[-1]


def window_line(answer: Answer) -> str:
    window = answer.parsed.window
    if window.start is None or window.end is None:
        return "not resolved"
    dates = (
        f"{window.start:%a %Y-%m-%d}"
        if window.start == window.end
        else f"{window.start:%a %Y-%m-%d} → {window.end:%a %Y-%m-%d}"
    )
    assumed = " — no window named, using the next quarter end" if window.assumed else ""
    return f"{window.label} ({dates}, {window.sessions} session(s)){assumed}"


_REASONS = {
    "out_of_scope": "not a question about mechanical flows",
    "advice": "no investment advice or price calls",
    "unknown_asset": "unknown asset",
    "unsupported_source": "that flow source is not modelled",
    "source_unavailable": "that flow source is not available yet",
    "no_funds": "no fund in the registry makes that flow",
    "window_unreadable": "the window cannot be placed",
    "window_outside_data": "the window is outside the market data",
    "data_unavailable": "market data problem",
    "not_yet_determined": "depends on moves after as-of",
}


def _volatility_headline(answer: Answer) -> str:
    """'VOLATILITY — BTC: normal, GARCH 5-day 48% · ETH: elevated, GARCH 5-day 70%'."""
    parts = []
    for item in answer.breakdown:
        vol = item.volatility
        if vol is None:
            parts.append(f"{item.asset}: unknown")
            continue
        forecast = f", GARCH 5-day {pct(vol.garch_5d, 0)}" if vol.garch_5d is not None else ""
        parts.append(
            f"{item.asset}: {vol.regime or 'unknown'} regime, realized {pct(vol.realized, 0)}"
            f"{forecast}"
        )
    return "VOLATILITY — " + " · ".join(parts)


def _per_asset_headline(answer: Answer) -> str:
    """'BTC SELL $80m (0.9% of liquidity) · ETH BUY $10m (…)': never netted."""
    label = VERDICT_LABELS[answer.answer.verdict]
    return f"{label} — " + " · ".join(
        f"{item.asset} {_asset_value(item)}" for item in answer.breakdown
    )


def headline(answer: Answer) -> str:
    """'SELLING PRESSURE — SELL $120m of BTC (0.47% of ADV)'."""
    summary = answer.answer
    label = VERDICT_LABELS[summary.verdict]
    if answer.parsed.asks == "volatility" and any(i.volatility for i in answer.breakdown):
        return _volatility_headline(answer)
    if len(answer.breakdown) > 1 and summary.reason is None:
        return _per_asset_headline(answer)
    if summary.trade_usd is None:
        reason = _REASONS.get(summary.reason or "", "")
        return f"{label} — {reason}" if reason else label
    amount = trade(summary.trade_usd, _direction(summary.verdict))
    adv = (
        f"{pct_points(summary.pct_adv)} of liquidity {usd(summary.adv_usd)}"
        if summary.adv_usd
        else "share of liquidity unknown"
    )
    return f"{label} — {amount} of {_subject(answer)} ({adv})"


def what_if_line(what_if: list[WhatIf]) -> str:
    return " | ".join(
        f"{pct(w.move, 0, signed=True)}: {trade(w.trade_usd, w.direction)}" for w in what_if
    )


def basis_line(answer: Answer) -> str:
    basis = answer.basis
    if basis is None:
        source = answer.data_source or "no market data read"
        return f"Basis: nothing estimated; data: {source}"
    funds = (
        f"{basis.funds_counted} fund(s), AUM {usd(basis.aum_usd)}"
        + (" (illustrative AUM)" if basis.aum_illustrative else "")
        if basis.funds_counted
        else "no fund trades in the window"
    )
    sample = (
        " — SAMPLE DATA, not market prices"
        if basis.sample and "SAMPLE" not in basis.data_source
        else ""
    )
    return (
        f"Basis: {funds}; funds: {basis.funds_source}; data: {basis.data_source}{sample}; "
        f"as of {basis.as_of}"
    )


def _drift_lines(answer: Answer) -> list[str]:
    if answer.basis is None:
        return []
    lines = []
    for drift in answer.basis.drift:
        ordered = [s for s in answer.parsed.assets if s in drift.returns]
        ordered += sorted(s for s in drift.returns if s not in ordered)
        moves = ", ".join(f"{s} {pct(drift.returns[s], 1, signed=True)}" for s in ordered)
        lines.append(f"{drift.schedule} funds {drift.base_date} → {drift.measured_on}: {moves}")
    return lines


def _history_lines(answer: Answer) -> list[str]:
    lines = []
    for item in answer.breakdown:
        history = item.volatility_history
        if history is None:
            if answer.parsed.asks == "volatility":
                lines.append(f"{item.asset}: not enough history for a comparison")
            continue
        which = (
            "last session"
            if history.final_sessions == 1
            else f"final {history.final_sessions} sessions"
        )
        ratio = "" if history.ratio is None else f" ({history.ratio:.2f}×)"
        lines.append(
            f"{item.asset}: {which} of {history.period}s {pct(history.window_mean_abs_return, 2)} "
            f"mean absolute daily move vs {pct(history.other_mean_abs_return, 2)} on other "
            f"sessions{ratio}; {history.periods} {history.period}s, "
            f"{history.first_period}–{history.last_period}"
        )
    return lines


def _note_lines(answer: Answer) -> list[str]:
    return [
        f"{item.asset} {channel.label}: {channel.note}"
        for item in answer.breakdown
        for channel in item.channels
        if channel.note
    ]


def _asset_value(item: AssetAnswer) -> str:
    if item.trade_usd is None:
        return "unknown"
    share = f"{pct_points(item.pct_adv)} of liquidity" if item.pct_adv is not None else "% unknown"
    return f"{trade(item.trade_usd, _direction(item.verdict))} · {share}"


def answer_message(answer: Answer) -> Message:
    """Headline verdict, the numbers, the window, the drift behind them, what would change it."""
    summary = answer.answer
    if answer.parsed.asks == "accuracy" and not _declined(answer):
        return _accuracy_message(answer)
    if _declined(answer):
        lead, _, rest = summary.text.partition(CAPABILITY)
        return Message(
            title="flows-bot · cannot answer that",
            summary=lead.strip() or summary.text,
            fields=[
                MessageField(
                    label="I can answer",
                    value=CAPABILITY + rest.split(" For example:")[0],
                    inline=False,
                ),
                MessageField(
                    label="Try", value="\n".join(f"• {q}" for q in answer.examples), inline=False
                ),
            ],
            tone="info",
            sample=answer.sample,
            ephemeral=True,
            notice=answer.data_lag.line if answer.data_lag else None,
        )
    volatility = answer.parsed.asks == "volatility" and any(i.volatility for i in answer.breakdown)
    verdict = "volatility" if volatility else VERDICT_LABELS[summary.verdict].lower()
    fields = [MessageField(label="Verdict", value=verdict.capitalize())]
    if len(answer.breakdown) <= 1:
        fields += [
            MessageField(
                label="Est. trade", value=trade(summary.trade_usd, _direction(summary.verdict))
            ),
            MessageField(label="% of ADV", value=pct_points(summary.pct_adv)),
        ]
    fields.append(MessageField(label="Window", value=window_line(answer), inline=False))
    if len(answer.breakdown) > 1:
        fields += [MessageField(label=i.asset, value=_asset_value(i)) for i in answer.breakdown]
    drift = _drift_lines(answer)
    if drift:
        fields.append(
            MessageField(label="Drift since base date", value="\n".join(drift), inline=False)
        )
    if answer.what_if:
        fields.append(
            MessageField(
                label=f"What-if: {what_if_move_phrase(answer)}",
                value=what_if_line(answer.what_if),
                inline=False,
            )
        )
    history = _history_lines(answer)
    if history:
        fields.append(
            MessageField(
                label="Past period ends vs other sessions", value="\n".join(history), inline=False
            )
        )
    notes = _note_lines(answer)
    if notes:
        fields.append(MessageField(label="Notes", value="\n".join(notes), inline=False))
    title = f"{_subject(answer)} · {answer.parsed.window.label or 'flows'}"
    return Message(
        title=f"{title} — {verdict}",
        summary=_summary(answer),
        fields=fields,
        body=fund_table(answer, compact=True) or None,
        footer=basis_line(answer),
        tone=_TONES.get(summary.verdict, "info"),
        sample=answer.sample,
        notice=answer.data_lag.line if answer.data_lag else None,
    )


def _summary(answer: Answer) -> str:
    summary = answer.answer
    if answer.parsed.asks == "volatility" and any(i.volatility for i in answer.breakdown):
        return _volatility_headline(answer).removeprefix("VOLATILITY — ")
    if len(answer.breakdown) > 1 and summary.reason is None:
        return _per_asset_headline(answer)
    if summary.trade_usd is None:
        return (
            f"Cannot tell yet: the flow in this window depends on prices or volatility after "
            f"{answer.as_of}. The what-ifs show what a move would do."
        )
    amount = trade(summary.trade_usd, _direction(summary.verdict))
    projected = (
        f"; projected with prices held where they closed on {answer.as_of}"
        if summary.projected
        else ""
    )
    return (
        f"Estimated net flow: {amount} of {_subject(answer)} {window_phrase(answer)}, "
        f"{pct_points(summary.pct_adv)} of its liquidity yardstick{projected}."
    )


def _table(rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ).rstrip()
        for row in rows
    ]


def fund_table(answer: Answer, compact: bool = False) -> str:
    """Per-fund trades in the window: who trades, on which date, from which drift. `compact`
    fits a chat code block: short names, the drift in points instead of both weights."""
    several = len(answer.breakdown) > 1
    if compact:
        header = ["fund", "date", "drift", "trade"]
    else:
        header = ["fund", "rebalances", "drift from", "to", "target", "now", "trade"]
    rows = [(["asset"] if several or not compact else []) + header]
    vol_rows = [["asset", "fund", "AUM", "target vol", "exposure", "→", "trade"]]
    for item in answer.breakdown:
        for channel in item.channels:
            for fund in channel.funds:
                if isinstance(fund, RebalanceFundFlow):
                    if fund.projected and answer.as_of and fund.base_date > answer.as_of:
                        # Drift that starts after as-of: a row of zeros says nothing.
                        continue
                    row = _rebalance_row(fund, compact)
                    rows.append(([item.asset] if several or not compact else []) + row)
                elif isinstance(fund, VolTargetFundFlow):
                    vol_rows.append(_vol_row(item.asset, fund))
    lines: list[str] = []
    if len(rows) > 1:
        shown = rows[: MAX_FUND_ROWS + 1]
        width = len(shown[0])
        lines += _table(shown, right=set(range(width - (2 if compact else 3), width)))
        if len(rows) > len(shown):
            lines.append(f"… and {len(rows) - len(shown)} more (see --json)")
    if len(vol_rows) > 1:
        if lines:
            lines.append("")
        lines += _table(vol_rows, right={2, 3, 4, 5, 6})
    return "\n".join(lines)


def _rebalance_row(fund: RebalanceFundFlow, compact: bool) -> list[str]:
    if compact:
        # Whole names: a cut name ("Target-allocation models wi…") loses what the fund is.
        return [
            fund.name,
            f"{fund.rebalance_date:%m-%d}",
            _points(fund.drift),
            trade(fund.trade_usd),
        ]
    measured = f"{fund.measured_on}{' (proj.)' if fund.projected else ''}"
    return [
        fund.name,
        f"{fund.rebalance} {fund.rebalance_date:%m-%d}",
        fund.base_date.isoformat(),
        measured,
        pct(fund.target_weight, 2),
        pct(fund.current_weight, 2),
        trade(fund.trade_usd),
    ]


def _points(drift: float) -> str:
    return f"{drift * 100:+.2f}pp"


def _vol_row(asset: str, fund: VolTargetFundFlow) -> list[str]:
    def exposure(value: float | None) -> str:
        return "?" if value is None else f"{value:.2f}"

    return [
        asset,
        fund.name,
        usd(fund.aum_usd),
        pct(fund.target_vol, 0),
        exposure(fund.exposure_before),
        exposure(fund.exposure_after),
        trade(fund.trade_usd),
    ]


def render_answer_text(answer: Answer) -> str:
    """The CLI's human output: verdict first, then the paragraph, the tables and the basis."""
    lines: list[str] = [answer.data_lag.line] if answer.data_lag else []
    if answer.sample:
        lines += [SAMPLE_BANNER, ""]
    lines.append(f"Q: {answer.question.strip()}")
    if answer.parsed.asks == "accuracy" and not _declined(answer):
        lines.append(
            f"   assets {', '.join(answer.parsed.assets)} · asks accuracy · as of {answer.as_of}"
        )
        lines += ["", *_record_headlines(answer), ""]
        lines += textwrap.wrap(answer.answer.text, WRAP, break_on_hyphens=False)
        return "\n".join(lines + (["", SAMPLE_BANNER] if answer.sample else []))
    if not _declined(answer):
        parsed = answer.parsed
        source_note = " (none named: rebalancing)" if parsed.sources_assumed else ""
        lines.append(
            f"   assets {', '.join(parsed.assets)} · sources {', '.join(parsed.sources)}"
            f"{source_note} · asks {parsed.asks} · as of {answer.as_of}"
        )
        lines.append(f"   window {window_line(answer)}")
    lines += ["", headline(answer), ""]
    lines += textwrap.wrap(answer.answer.text, WRAP, break_on_hyphens=False)
    if answer.examples:
        lines += ["", "Questions I can answer, for example:"]
        lines += [f"  - {question}" for question in answer.examples]
    table = fund_table(answer)
    if table:
        lines += ["", "Trades in the window:"]
        lines += [f"  {line}" if line else "" for line in table.splitlines()]
    if answer.what_if:
        lines += ["", f"What-if, {what_if_move_phrase(answer)} (others flat):"]
        lines.append(f"  {what_if_line(answer.what_if)}")
    notes = _note_lines(answer)
    if notes and table:
        lines += ["", "Notes:"] + [f"  - {note}" for note in notes]
    history = _history_lines(answer)
    if history:
        lines += ["", "Past period ends vs other NYSE sessions:"]
        lines += [f"  {line}" for line in history]
    if answer.basis is not None:
        lines += ["", basis_line(answer)]
        lines += [f"  - {assumption}" for assumption in answer.basis.assumptions]
    if answer.sample:
        lines += ["", SAMPLE_BANNER]
    return "\n".join(lines)


def _record_headlines(answer: Answer) -> list[str]:
    """'TRACK RECORD — BTC: 8 of 17 calls right (47%, 95 % CI 26%–69%)' per asset."""
    lines = []
    for item in answer.breakdown:
        for channel in item.channels:
            record = channel.track_record
            if record is None:
                continue
            interval = record.hit_rate_ci95
            rate = (
                f" ({pct(record.hit_rate, 0)}, 95 % CI {pct(interval[0], 0)}–{pct(interval[1], 0)})"
                if interval
                else ""
            )
            lines.append(
                f"TRACK RECORD — {item.asset}: {record.hits} of {record.n} calls right{rate}"
            )
    return lines or ["TRACK RECORD — no scored calls"]


def _accuracy_message(answer: Answer) -> Message:
    """An accuracy question: the record of past rebalancing calls, not a flow verdict."""
    basis = answer.basis
    footer = (
        f"Basis: funds: {basis.funds_source}; data: {basis.data_source}; as of {basis.as_of}"
        if basis
        else None
    )
    notes = [
        f"{item.asset}: {channel.note}"
        for item in answer.breakdown
        for channel in item.channels
        if channel.note
    ]
    return Message(
        title=f"{_subject(answer)} · track record of rebalancing calls",
        summary="\n".join(_record_headlines(answer)),
        body="\n".join(notes) or answer.answer.text,
        footer=footer,
        tone="info",
        sample=answer.sample,
    )
