"""The `why` ledger as text, as a chat message and as a waterfall chart."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bot.messages import Message, MessageField
from bot.render.numbers import usd
from bot.render.status_text import SAMPLE_BANNER
from bot.render.table import text_table
from flows import freshness
from flows.models.ledger import Ledger, LedgerRow

SOURCE_LABELS = {
    "rebalance": "rebalancing (funds)",
    "rebalance:pension": "pension / balanced 60/40",
    "rebalance:scenario": "rebalancing (adviser scenarios)",
    "vol_target": "vol-target funds",
    "leveraged": "leveraged / inverse ETFs",
    "gamma": "dealer gamma hedging",
    "positioning": "short covering / liquidation",
    "etf_flows": "ETF creations / redemptions",
}
SHORT_LABELS = {
    "rebalance": "rebalancing\n(funds)",
    "rebalance:pension": "pension\n60/40",
    "rebalance:scenario": "adviser\nscenarios",
    "vol_target": "vol-target\nfunds",
    "leveraged": "leveraged\nETFs",
    "gamma": "dealer\ngamma",
    "positioning": "short covering /\nliquidation",
}
VERDICT_WORDS = {
    "mechanical": "mostly mechanical",
    "conviction": "real-money conviction",
    "mixed": "mixed: neither side clearly leads",
    "unknown": "verdict unknown",
}


def label(source: str) -> str:
    return SOURCE_LABELS.get(source, source)


def _amount(row: LedgerRow) -> str:
    return "unknown" if row.usd is None else usd(row.usd, signed=True)


def verdict_sentence(ledger: Ledger) -> str:
    """One sentence: the move, the verdict, the largest mechanical rows against real money."""
    move = "move unknown" if ledger.move_pct is None else f"{ledger.move_pct:+.1f} %"
    known = sorted((row for row in ledger.rows if row.usd), key=lambda row: -abs(row.usd or 0.0))[
        :2
    ]
    drivers = " and ".join(f"{label(row.source)} {usd(row.usd, signed=True)}" for row in known)
    real = (
        "real money unknown"
        if ledger.real_money_usd is None
        else f"{usd(ledger.real_money_usd, signed=True)} of ETF flows"
    )
    detail = f": {drivers} against {real}" if drivers else f": no mechanical flow known; {real}"
    return f"{ledger.asset} {move} — {VERDICT_WORDS[ledger.verdict]}{detail}."


def net_label(as_of: dt.date) -> str:
    """The net line's label: "today" only when the figures are today's (the line names its
    date either way; on data that ends days ago "today" would be wrong)."""
    return "Net mechanical today" if as_of == freshness.today_utc() else "Net mechanical"


def net_row(as_of: dt.date, ledger: Ledger | None, reason: str | None) -> tuple[str, str]:
    """`status`'s net-mechanical label and text, the CLI's and chat's alike."""
    return net_label(as_of), net_line(ledger) if ledger is not None else f"unknown ({reason})"


def net_line(ledger: Ledger) -> str:
    """The one line `status` shows: today's net mechanical flow, the verdict, what is unknown."""
    net = ledger.net_mechanical_usd
    figure = "unknown" if net is None else usd(net, signed=True)
    unknown = ", ".join(label(source) for source in ledger.coverage["unknown"])
    missing = f"; not known: {unknown}" if unknown else ""
    return (
        f"{figure} on {ledger.as_of} (verdict {ledger.verdict}{missing}) — "
        f"flows-bot why {ledger.asset}"
    )


def _rows_table(ledger: Ledger) -> list[str]:
    rows = [["source", "flow", "timing", "confidence"]]
    for row in [*ledger.rows, *ledger.real_money_rows]:
        rows.append([label(row.source), _amount(row), row.timing, row.confidence])
    return text_table(rows, right_aligned={1}, indent="  ")


def render_why_text(ledger: Ledger, chart: Path | None = None) -> str:
    lines = [ledger.data_lag.line] if ledger.data_lag else []
    if ledger.sample:
        lines += [SAMPLE_BANNER, ""]
    lines.append(f"{ledger.asset} — why did it move? as of {ledger.as_of:%a %Y-%m-%d}")
    lines.append(verdict_sentence(ledger))
    lines.append("")
    lines += _rows_table(ledger)
    lines.append("")
    net = ledger.net_mechanical_usd
    lines.append(f"Net mechanical  {'unknown' if net is None else usd(net, signed=True)}")
    real = ledger.real_money_usd
    lines.append(f"Real money      {'unknown' if real is None else usd(real, signed=True)}")
    share = ledger.mechanical_share
    lines.append(f"Mechanical share {'unknown' if share is None else f'{share:.0%}'}")
    lines.append(f"Verdict         {ledger.verdict} — {ledger.verdict_reason}")
    if ledger.coverage["unknown"]:
        lines.append(
            "Not known       " + ", ".join(label(source) for source in ledger.coverage["unknown"])
        )
    lines.append("")
    lines.append(f"Move: {ledger.move_basis}; data: {ledger.data_source}")
    for row in [*ledger.rows, *ledger.real_money_rows]:
        lines.append(f"  {label(row.source)}: {row.unknown_reason or row.basis}")
    lines.append(
        "Rule: mechanical when the mechanical share is above 2/3 and points the way of the move; "
        "conviction when real money is larger and moves with price; unknown with fewer than 2 "
        "mechanical sources known or no real-money figure (docs/why.md)."
    )
    if chart is not None:
        lines.append(f"chart: {chart}")
    if ledger.sample:
        lines += ["", SAMPLE_BANNER]
    return "\n".join(lines)


def why_message(ledger: Ledger, chart: Path | None = None) -> Message:
    net = ledger.net_mechanical_usd
    fields = [
        MessageField(label="Net mechanical", value="unknown" if net is None else usd(net, True)),
        MessageField(
            label="Real money (ETF flows)",
            value="unknown" if ledger.real_money_usd is None else usd(ledger.real_money_usd, True),
        ),
        MessageField(label="Verdict", value=ledger.verdict),
    ]
    return Message(
        title=f"{ledger.asset} — mechanical or conviction? {ledger.as_of:%a %b %d, %Y}",
        summary=verdict_sentence(ledger),
        notice=ledger.data_lag.line if ledger.data_lag else None,
        fields=fields,
        body="\n".join(_rows_table(ledger)),
        footer=f"Move: {ledger.move_basis}; data: {ledger.data_source}. {ledger.verdict_reason}.",
        chart_path=chart,
        tone="neutral",
        sample=ledger.sample,
    )


def why_chart(ledger: Ledger, path: Path) -> Path:
    """A waterfall: each known mechanical row steps the running total, then the net, then real
    money beside it; unknown rows are listed under the axis, never drawn as zero."""
    from bot.render.charts import _figure, _stamp

    plt = _figure()
    known = [row for row in ledger.rows if row.usd is not None]
    unknown = [row for row in [*ledger.rows, *ledger.real_money_rows] if row.usd is None]
    largest = max(
        [abs(row.usd or 0.0) for row in [*ledger.rows, *ledger.real_money_rows]]
        + [abs(ledger.net_mechanical_usd or 0.0), 1.0]
    )
    scale, unit = (1e9, "$bn") if largest >= 1e9 else (1e6, "$m")
    figure, axis = plt.subplots(figsize=(10, 5.2), dpi=110)
    running = 0.0
    names: list[str] = []
    extents = [0.0]
    for index, row in enumerate(known):
        value = (row.usd or 0.0) / scale
        colour = "#2e7d32" if value >= 0 else "#c62828"
        axis.bar(index, value, bottom=running, color=colour, width=0.6)
        axis.annotate(
            f"{usd(row.usd, signed=True)}",
            (index, running + value),
            textcoords="offset points",
            xytext=(0, 4 if value >= 0 else -12),
            ha="center",
            fontsize=8,
        )
        if index:
            axis.plot([index - 1.3, index - 0.3], [running, running], color="#888", lw=0.8)
        extents += [running, running + value]
        running += value
        names.append(SHORT_LABELS.get(row.source, row.source))
    net_at = len(known)
    if ledger.net_mechanical_usd is not None:
        axis.bar(net_at, ledger.net_mechanical_usd / scale, color="#37474f", width=0.6)
        extents.append(ledger.net_mechanical_usd / scale)
        names.append("net\nmechanical")
    real_at = len(names)
    if ledger.real_money_usd is not None:
        axis.bar(real_at, ledger.real_money_usd / scale, color="#1565c0", width=0.6, hatch="//")
        extents.append(ledger.real_money_usd / scale)
        names.append("real money\n(ETF flows)")
    for position, amount in ((net_at, ledger.net_mechanical_usd), (real_at, ledger.real_money_usd)):
        if amount is not None:
            axis.annotate(
                usd(amount, signed=True),
                (position, amount / scale),
                textcoords="offset points",
                xytext=(0, 4 if amount >= 0 else -12),
                ha="center",
                fontsize=8,
                fontweight="bold",
            )
    low, high = min(extents), max(extents)
    pad = 0.18 * ((high - low) or 1.0)
    axis.set_ylim(low - pad, high + pad)
    axis.set_xticks(range(len(names)), names, fontsize=8)
    axis.axhline(0, color="#444", lw=0.8)
    axis.set_ylabel(f"flow in {ledger.asset} ({unit}; + buy, − sell)")
    move = "unknown" if ledger.move_pct is None else f"{ledger.move_pct:+.2f}%"
    axis.set_title(
        f"{ledger.asset} {ledger.as_of}: move {move} — verdict {ledger.verdict}"
        + (f" (mechanical share {ledger.mechanical_share:.0%})" if ledger.mechanical_share else ""),
        fontsize=10,
    )
    axis.grid(axis="y", alpha=0.3)
    if unknown:
        figure.text(
            0.01,
            0.06,
            "not known: " + ", ".join(label(row.source) for row in unknown),
            fontsize=7.5,
            color="#b71c1c",
        )
    figure.text(0.01, 0.01, f"data: {ledger.data_source}", fontsize=7, color="#555")
    _stamp(figure, ledger.sample)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout(rect=(0, 0.08 if unknown else 0.04, 1, 1))
    figure.savefig(path)
    plt.close(figure)
    return path
