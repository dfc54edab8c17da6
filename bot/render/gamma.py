"""Dealer gamma rendered: plain text for the CLI, a neutral chat message, and the chart
(matplotlib, Agg backend; blocking — call the chart through `asyncio.to_thread`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bot.messages import Message, MessageField
from bot.render.numbers import trade, usd
from bot.render.status_text import SAMPLE_BANNER
from bot.render.table import text_table
from flows.models.gamma import CONVENTION, GammaResult

REGIME_WORDS = {
    "long_gamma": "dealers LONG gamma: they sell rallies and buy dips (moves damped)",
    "short_gamma": "dealers SHORT gamma: they buy rallies and sell dips (moves amplified)",
}
STRIKE_RANGE = (0.8, 1.2)
"""The chart shows strikes within this fraction of spot (crypto: wider, see below)."""


def price(value: float | None) -> str:
    if value is None:
        return "none in 0.5×–1.5× spot"
    return f"{value:,.2f}" if value < 10_000 else f"{value:,.0f}"


def zero_gamma_text(result: GammaResult) -> str:
    if result.zero_gamma is None:
        return "none: total GEX keeps its sign from 0.5× to 1.5× spot"
    distance = result.zero_gamma_distance_pct or 0.0
    side = "below" if distance < 0 else "above"
    return f"{price(result.zero_gamma)} ({abs(distance):.2f}% {side} spot)"


def hedge_line(result: GammaResult) -> str:
    return "   ".join(f"{move}: {trade(amount)}" for move, amount in result.hedge_usd.items())


def render_gamma_text(result: GammaResult, chart: Path | None = None) -> str:
    lines: list[str] = []
    if result.sample:
        lines += [SAMPLE_BANNER, ""]
    lines.append(f"{result.asset} dealer gamma — as of {result.as_of:%a %Y-%m-%d}")
    lines.append(f"Spot {price(result.spot)} ({result.spot_basis})   r = {result.rate:g}")
    lines.append("")
    lines.append(
        f"Total GEX   {usd(result.gex_usd_per_pct, signed=True)} per 1% move "
        f"(gross {usd(result.gross_gex_usd_per_pct)})"
    )
    lines.append(f"Regime      {result.regime} — {REGIME_WORDS[result.regime]}")
    lines.append(f"Zero gamma  {zero_gamma_text(result)}")
    lines.append(f"Call wall   {price(result.call_wall)}    Put wall   {price(result.put_wall)}")
    lines.append(f"Hedge flow  {hedge_line(result)}")
    lines.append("")
    rows = [["expiry", "GEX per 1%", "share"]]
    for item in result.by_expiry:
        rows.append(
            [item.expiry.isoformat(), usd(item.gex_usd_per_pct, signed=True), f"{item.share:.1%}"]
        )
    lines += text_table(rows, right_aligned={1, 2})
    lines.append(f"  share = |GEX of the expiry| / Σ|GEX per expiry|; {result.contracts} contracts")
    lines.append("")
    lines.append(f"Convention: {CONVENTION}; hedge = −GEX × move%.")
    lines.append(f"Basis: {result.basis}")
    if chart is not None:
        lines.append(f"chart: {chart}")
    if result.sample:
        lines += ["", SAMPLE_BANNER]
    return "\n".join(lines)


def gamma_message(result: GammaResult, chart: Path | None = None) -> Message:
    next_expiry = result.by_expiry[0] if result.by_expiry else None
    fields = [
        MessageField(label="Total GEX", value=f"{usd(result.gex_usd_per_pct, signed=True)} per 1%"),
        MessageField(label="Regime", value=result.regime),
        MessageField(label="Zero gamma", value=zero_gamma_text(result)),
        MessageField(
            label="Call / put wall", value=f"{price(result.call_wall)} / {price(result.put_wall)}"
        ),
        MessageField(label="Hedge flow", value=hedge_line(result), inline=False),
    ]
    if next_expiry is not None:
        fields.append(
            MessageField(
                label="Next expiry",
                value=f"{next_expiry.expiry} holds {next_expiry.share:.0%} of dealer gamma",
            )
        )
    rows = [["expiry", "GEX per 1%", "share"]] + [
        [e.expiry.isoformat(), usd(e.gex_usd_per_pct, signed=True), f"{e.share:.0%}"]
        for e in result.by_expiry
    ]
    return Message(
        title=f"{result.asset} dealer gamma — as of {result.as_of:%a %b %d, %Y}",
        summary=f"Spot {price(result.spot)}: {REGIME_WORDS[result.regime]}.",
        fields=fields,
        body="\n".join(text_table(rows, right_aligned={1, 2}, indent="")),
        footer=f"Basis: {result.basis}",
        chart_path=chart,
        tone="neutral",
        sample=result.sample,
    )


def gamma_chart(result: GammaResult, path: Path) -> Path:
    """GEX by strike (calls up, puts down) with spot, zero gamma and the walls marked."""
    from matplotlib.ticker import FuncFormatter

    from bot.render.charts import _figure, _stamp

    plt = _figure()

    low, high = (0.6, 1.4) if result.asset in ("BTC", "ETH", "SOL") else STRIKE_RANGE
    strikes = result.strikes
    keep = (strikes >= result.spot * low) & (strikes <= result.spot * high)
    if not keep.any():
        keep = np.ones(len(strikes), dtype=bool)
    strikes = strikes[keep]
    calls = result.call_gex_by_strike[keep] / 1e6
    puts = result.put_gex_by_strike[keep] / 1e6
    width = float(np.min(np.diff(strikes))) * 0.8 if len(strikes) > 1 else result.spot * 0.01

    figure, axis = plt.subplots(figsize=(9, 4.4), dpi=110)
    axis.bar(strikes, calls, width=width, color="#2a9d8f", label="call GEX (dealers long)")
    axis.bar(strikes, puts, width=width, color="#e76f51", label="put GEX (dealers short)")
    axis.plot(strikes, calls + puts, color="#264653", linewidth=1.2, label="net GEX by strike")
    axis.axhline(0, color="#444", linewidth=0.8)
    marks = [
        (result.spot, "#000000", "-", f"spot {price(result.spot)}"),
        (result.zero_gamma, "#7b2cbf", "--", f"zero gamma {price(result.zero_gamma)}"),
        (result.call_wall, "#2a9d8f", ":", f"call wall {price(result.call_wall)}"),
        (result.put_wall, "#e76f51", ":", f"put wall {price(result.put_wall)}"),
    ]
    for level, colour, style, label in marks:
        if level is not None and strikes[0] <= level <= strikes[-1]:
            axis.axvline(level, color=colour, linestyle=style, linewidth=1.6, label=label)
    axis.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    axis.set_ylabel("GEX, $m per 1% move")
    axis.set_xlabel(f"strike ({result.asset})")
    axis.set_title(
        f"{result.asset} dealer gamma by strike, {result.as_of} — total "
        f"{usd(result.gex_usd_per_pct, signed=True)} per 1% ({result.regime})",
        fontsize=10,
    )
    axis.legend(loc="upper left", fontsize=7.5, framealpha=0.9)
    axis.grid(alpha=0.3)
    figure.text(
        0.01,
        0.01,
        f"Convention: dealers long calls, short puts; Black–Scholes gamma; source {result.source}",
        fontsize=7,
        color="#555",
    )
    _stamp(figure, result.sample)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout(rect=(0, 0.03, 1, 1))
    figure.savefig(path)
    plt.close(figure)
    return path
