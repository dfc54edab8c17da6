"""Neutral chat messages for statuses and alerts, built from the typed results."""

from __future__ import annotations

from pathlib import Path

from bot.messages import Message, MessageField, Tone
from bot.monitors.evaluate import AlertEvent
from bot.render.numbers import pct, pct_points, trade, usd
from flows.results import StatusReport

KIND_TITLES = {
    "quarter_end": "quarter-end countdown",
    "drift": "rebalancing drift",
    "vol_regime": "volatility regime change",
    "letf": "leveraged-ETF rebalance",
    "calendar": "flow calendar",
}


def _tone(direction: str | None) -> Tone:
    return {"buy": "buy", "sell": "sell"}.get(direction or "", "neutral")  # type: ignore[return-value]


def basis_line(report: StatusReport) -> str:
    rebalance = report.rebalance
    illustrative = all(f.aum_source.startswith("illustrative") for f in rebalance.funds)
    aum_note = " (illustrative AUM)" if illustrative and rebalance.funds else ""
    sample = (
        " — SAMPLE DATA, not market prices"
        if report.sample and "SAMPLE" not in report.data_source
        else ""
    )
    funds = (
        f"{len(rebalance.funds)} fund(s), AUM {usd(rebalance.aum_total_usd)}{aum_note}"
        f"{_scenario_note(report)}"
        if rebalance.funds
        else f"no program in the registry holds {report.asset}, so its flow is unknown"
    )
    return f"Basis: {funds}; funds: {report.funds_source}; data: {report.data_source}{sample}"


def _scenario_note(report: StatusReport) -> str:
    scenarios = sum(fund.scenario for fund in report.rebalance.funds)
    return f" ({scenarios} scenario program(s))" if scenarios else ""


def _trade_fields(report: StatusReport) -> list[MessageField]:
    rebalance = report.rebalance
    quarter = report.quarter_end
    return [
        MessageField(
            label="Est. rebalancing trade", value=trade(rebalance.trade_usd, rebalance.direction)
        ),
        MessageField(
            label="% of 20-day ADV",
            value=pct_points(rebalance.pct_adv)
            + (f" ({rebalance.adv_basis})" if rebalance.adv_basis else ""),
        ),
        MessageField(
            label="Window",
            value=f"{quarter.window_start:%a %b %d} – {quarter.last_session:%a %b %d} "
            f"({quarter.quarter})",
        ),
        MessageField(label="Sessions left", value=str(quarter.sessions_left)),
        *_range_fields(report),
    ]


def _range_fields(report: StatusReport) -> list[MessageField]:
    """The AUM range and the real-funds-only part, and which programs do not trade now."""
    rebalance = report.rebalance
    if not rebalance.funds or len(rebalance.trade_usd_range) != 3:
        return []
    low, _, high = rebalance.trade_usd_range
    fields = [
        MessageField(label="Range (low / high AUM)", value=f"{trade(low)} … {trade(high)}"),
        MessageField(label="Real funds only", value=trade(rebalance.trade_usd_funds)),
    ]
    notes = [fund.period_note for fund in rebalance.funds if fund.period_note]
    if notes:
        fields.append(MessageField(label="Not trading this period", value="; ".join(notes)))
    return fields


def _what_if(report: StatusReport) -> str:
    return " | ".join(
        f"{pct(w.move, 0, signed=True)}: {trade(w.trade_usd, w.direction)}"
        for w in report.rebalance.what_if
    )


def status_message(report: StatusReport, chart_path: Path | None = None) -> Message:
    rebalance, vol = report.rebalance, report.volatility
    fields = _trade_fields(report)
    fields.append(
        MessageField(
            label="Volatility",
            value=f"{pct(vol.realized)} realized 20d, regime {vol.regime or 'unknown'}"
            + (f" (was {vol.previous_regime})" if vol.changed else ""),
        )
    )
    if vol.vol_target:
        fields.append(MessageField(label="Vol-target flow", value=trade(vol.vol_target_trade_usd)))
    if report.leveraged is not None:
        letf = report.leveraged
        # Crypto on a weekend: the funds' latest close is the last NYSE session's.
        close = "the close" if letf.as_of == report.as_of else f"the close of {letf.as_of:%a %b %d}"
        fields.append(
            MessageField(
                label=f"Leveraged ETFs at {close}",
                value=f"{trade(letf.trade_usd, letf.direction)} "
                f"({pct(letf.move, 2, signed=True)} move)",
            )
        )
    if rebalance.funds:
        fields.append(
            MessageField(
                label=f"What-if: {report.asset} moves from the {report.as_of} close before the "
                "next rebalance",
                value=_what_if(report),
                inline=False,
            )
        )
    summary = (
        f"Est. rebalancing {trade(rebalance.trade_usd, rebalance.direction)} of {report.asset} "
        f"if prices stay where they are; {report.quarter_end.sessions_left} session(s) to "
        f"{report.quarter_end.quarter} end."
        if rebalance.funds
        else f"No program in the registry holds {report.asset}: its rebalancing flow is "
        "unknown (not modelled), not zero."
    )
    return Message(
        title=f"{report.asset} flows — as of {report.as_of:%a %b %d, %Y}",
        summary=summary,
        fields=fields,
        footer=basis_line(report),
        chart_path=chart_path,
        tone=_tone(rebalance.direction),
        sample=report.sample,
        notice=report.data_lag.line if report.data_lag else None,
    )


def _why(event: AlertEvent) -> str:
    report = event.report
    if event.kind == "vol_regime":
        return (
            "Vol-targeting funds size exposure as target vol ÷ realized vol, so a regime change "
            "moves their exposure mechanically."
        )
    direction = report.rebalance.direction
    if direction == "sell":
        return (
            f"{report.asset} outperformed the other sleeves since the last rebalance, so "
            "fixed-weight funds hold too much of it and must sell back to target."
        )
    if direction == "buy":
        return (
            f"{report.asset} lagged the other sleeves since the last rebalance, so fixed-weight "
            "funds hold too little of it and must buy back to target."
        )
    return "Drift since the last rebalance is small relative to daily volume."


def alert_message(
    event: AlertEvent, chart_path: Path | None = None, record_line: str | None = None
) -> Message:
    report = event.report
    fields = _trade_fields(report)
    if event.kind == "vol_regime":
        vol = report.volatility
        fields = [
            MessageField(
                label="Regime",
                value=f"{event.detail['previous_regime']} → {event.detail['regime']}",
            ),
            MessageField(label="Realized vol (20d)", value=pct(vol.realized)),
            MessageField(label="EWMA vol", value=pct(vol.ewma)),
            MessageField(label="Vol-target trade", value=trade(vol.vol_target_trade_usd)),
        ]
    elif report.rebalance.funds:
        fields.append(
            MessageField(
                label=f"What-if: {report.asset} moves from the {report.as_of} close before the "
                "next rebalance",
                value=_what_if(report),
                inline=False,
            )
        )
    fields.append(MessageField(label="Why", value=_why(event), inline=False))
    if record_line:
        fields.append(MessageField(label="Track record", value=record_line, inline=False))
    return Message(
        title=f"{report.asset} · {KIND_TITLES.get(event.kind, event.kind)}",
        summary=event.text,
        fields=fields,
        footer=basis_line(report),
        chart_path=chart_path,
        tone=_tone(event.direction),
        sample=report.sample,
    )


def positioning_message(report, chart_path: Path | None = None) -> Message:
    """`/flows positioning ASSET`: the latest day's reading, the table, the basis."""
    from bot.render.positioning_text import LABELS, render_positioning_text, summary_line

    day = report.latest
    fields = [
        MessageField(label="Classification", value=LABELS[day.classification]),
        MessageField(
            label="Forced flow" if report.derivatives else "Hedge unwinding",
            value=trade(day.forced_flow_usd),
        ),
        MessageField(
            label="ETF flows (day / 5 sessions)",
            value=f"{usd(day.etf_flow_usd, signed=True)} / "
            f"{usd(report.etf_flow_5d_usd, signed=True)}",
        ),
    ]
    if day.client_participation is not None:
        share = f"{day.client_participation:.0%}"
        fields.append(MessageField(label="Real-money share of buying", value=share))
    table = render_positioning_text(report).split("\n")
    after_header = table.index("") + 1  # the title and the data-lag line are the message's own
    body = "\n".join(line for line in table[after_header:] if not line.startswith("Basis:"))
    tone = (
        "buy"
        if (day.forced_flow_usd or 0) > 0
        else "sell"
        if (day.forced_flow_usd or 0) < 0
        else "info"
    )
    return Message(
        title=f"{report.asset} positioning — {report.as_of:%a %b %d, %Y}",
        summary=summary_line(report),
        notice=report.data_lag.line if report.data_lag else None,
        fields=fields,
        body=body,
        footer=f"Basis: {report.basis}" + (" — SAMPLE DATA" if report.sample else ""),
        chart_path=chart_path,
        tone=tone,
        sample=report.sample,
    )
