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
        if rebalance.funds
        else f"no program in the registry holds {report.asset}, so its flow is unknown"
    )
    return f"Basis: {funds}; funds: {report.funds_source}; data: {report.data_source}{sample}"


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
    ]


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
        fields.append(
            MessageField(
                label="Leveraged ETFs at the close",
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


def alert_message(event: AlertEvent, chart_path: Path | None = None) -> Message:
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
    return Message(
        title=f"{report.asset} · {KIND_TITLES.get(event.kind, event.kind)}",
        summary=event.text,
        fields=fields,
        footer=basis_line(report),
        chart_path=chart_path,
        tone=_tone(event.direction),
        sample=report.sample,
    )
