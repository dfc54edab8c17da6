"""`flows-bot positioning` as text: one row per day, the trailing ETF flows, the basis."""

from __future__ import annotations

from bot.render.numbers import usd
from bot.render.table import text_table
from flows.models.positioning import CLASSIFICATION_LABELS as LABELS
from flows.models.positioning import PositioningReport


def _pct(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:+.{digits}f}%"


def _funding(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:+.4f}%"


def summary_line(report: PositioningReport) -> str:
    day = report.latest
    parts = [f"{report.asset} {day.date}: {LABELS[day.classification]}"]
    if day.price_change_pct is not None:
        parts.append(f"price {_pct(day.price_change_pct)}")
    if day.oi_change_usd is not None:
        parts.append(f"OI {usd(day.oi_change_usd, signed=True)}")
    if day.forced_flow_usd:
        parts.append(f"forced flow {usd(day.forced_flow_usd, signed=True)}")
    if report.etf_flow_5d_usd is not None:
        parts.append(f"ETF flows 5 sessions {usd(report.etf_flow_5d_usd, signed=True)}")
    return ", ".join(parts)


def render_positioning_text(report: PositioningReport) -> str:
    sample = "  — SAMPLE DATA" if report.sample else ""
    lines = [report.data_lag.line] if report.data_lag else []
    lines += [
        f"{report.asset} positioning and real money, {len(report.days)} days to "
        f"{report.as_of}{sample}",
        "",
    ]
    forced_header = "forced flow" if report.derivatives else "hedge unwind"
    rows = [
        [
            "date",
            "price",
            "OI change",
            "funding/8h",
            "L/S",
            "classification",
            forced_header,
            "ETF flows",
            "real money",
        ]
    ]
    for day in report.days:
        share = day.client_participation
        rows.append(
            [
                str(day.date),
                _pct(day.price_change_pct),
                usd(day.oi_change_usd, signed=True) if day.oi_change_usd is not None else "—",
                _funding(day.funding_rate),
                "—" if day.long_short_ratio is None else f"{day.long_short_ratio:.2f}",
                LABELS[day.classification] + (" ✓funding" if day.funding_confirms else ""),
                usd(day.forced_flow_usd, signed=True) if day.forced_flow_usd is not None else "—",
                usd(day.etf_flow_usd, signed=True) if day.etf_flow_usd is not None else "—",
                "—" if share is None else f"{share:.0%}",
            ]
        )
    lines += text_table(rows, right_aligned={1, 2, 3, 4, 6, 7, 8})
    lines.append("")
    if report.etf_flow_5d_by_fund:
        funds = ", ".join(
            f"{fund} {usd(value, signed=True)}"
            for fund, value in report.etf_flow_5d_by_fund.items()
        )
        lines.append(
            f"ETF flows, last 5 sessions: {usd(report.etf_flow_5d_usd, signed=True)} ({funds})"
        )
        methods = sorted(set(report.fund_methods.values()) - {""})
        if methods:
            lines.append(f"Flows: {'; '.join(methods)} [{report.flows_confidence}]")
    if not report.derivatives:
        lines.append(
            "No perpetual futures for this asset: classification unknown; 'hedge unwind' = "
            "inverse-ETF outflows × |leverage| (+ = buying). It sees listed inverse ETFs only — "
            "not futures, options, swaps or single-stock shorts."
        )
    lines.append("real money = ETF buying / (ETF buying + forced/hedge buying) that day.")
    for note in report.notes:
        lines.append(f"Note: {note}")
    lines.append(f"Basis: {report.basis}")
    return "\n".join(lines)
