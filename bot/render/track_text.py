"""Plain-text track record for the CLI, the console and chat bodies."""

from __future__ import annotations

from bot.render.numbers import pct, trade
from bot.render.status_text import SAMPLE_BANNER
from bot.render.table import text_table
from flows.track import LiveTrackWindow, TrackRecord, TrackSummary

HIT_MARK = {True: "hit", False: "miss", None: "—"}


def summary_lines(summary: TrackSummary) -> list[str]:
    interval = summary.hit_rate_ci95
    rate = (
        f"{pct(summary.hit_rate, 0)} (95 % CI {pct(interval[0], 0)}–{pct(interval[1], 0)})"
        if summary.hit_rate is not None and interval
        else "unknown"
    )
    return [
        f"Calls scored  n = {summary.n}, hits = {summary.hits}, hit rate {rate}",
        f"Mean excess   after sell calls {pct(summary.mean_excess_sell, 2, signed=True)}, "
        f"after buy calls {pct(summary.mean_excess_buy, 2, signed=True)}",
        summary.note,
    ]


def window_rows(record: TrackRecord, with_actual: bool = False) -> list[list[str]]:
    header = ["window", "call on", "est. trade", "return", "excess", "hit"]
    if with_actual:
        header += ["actual flow", "alert"]
    rows = [header]
    for window in record.windows:
        row = [
            f"{window.window_start} → {window.window_end}",
            window.estimate_as_of.isoformat(),
            trade(window.estimated_trade_usd, window.direction),
            pct(window.outcome_return, 1, signed=True),
            pct(window.outcome_excess, 1, signed=True),
            HIT_MARK[window.hit],
        ]
        if with_actual:
            live = window if isinstance(window, LiveTrackWindow) else None
            actual = live.actual_flow_usd if live else None
            row += [trade(actual) if actual is not None else "unknown", live.alert_kind or ""]
        rows.append(row)
    return rows


def render_track_text(record: TrackRecord, chart_path: str | None = None) -> str:
    lines: list[str] = []
    if record.sample:
        lines += [SAMPLE_BANNER, ""]
    what = "live alerts" if record.live else f"{record.schedule} rebalancing windows"
    lines.append(f"{record.asset} track record — {what}")
    lines.append(
        f"Data: {record.data_source or 'stored alerts'}   Funds: {record.funds_source or '—'}   "
        f"Excess vs: {record.benchmark or '—'}"
    )
    if record.programs:
        lines.append(f"Programs: {'; '.join(record.programs)}")
    lines.append("")
    if record.windows:
        lines += text_table(window_rows(record, record.live), right_aligned={2, 3, 4})
    else:
        lines.append("  no records")
    lines.append("")
    lines += summary_lines(record.summary)
    if chart_path:
        lines.append(f"chart: {chart_path}")
    return "\n".join(lines)
