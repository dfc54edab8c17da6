"""Plain-text leveraged-ETF rebalance estimate for the CLI and the console."""

from __future__ import annotations

from bot.render.numbers import pct, pct_points, trade, usd
from bot.render.status_text import SAMPLE_BANNER
from bot.render.table import text_table
from flows.results import LeveragedEstimate


def _leverage(value: float) -> str:
    return f"{value:+g}x"


def render_letf_text(estimate: LeveragedEstimate) -> str:
    lines: list[str] = [estimate.data_lag.line] if estimate.data_lag else []
    if estimate.sample:
        lines += [SAMPLE_BANNER, ""]
    as_of = f" — as of {estimate.as_of:%a %Y-%m-%d}" if estimate.as_of else ""
    lines.append(f"{estimate.underlying} leveraged/inverse ETF rebalance{as_of}")
    lines.append(f"Data: {estimate.data_source or 'none'}   Funds: {estimate.funds_source}")
    lines.append("")
    adv = (
        f"{pct_points(estimate.pct_adv)} of 20-session ADV {usd(estimate.adv_usd)}"
        if estimate.adv_usd
        else "% of ADV unknown"
    )
    lines.append(
        f"Move {pct(estimate.move, 2, signed=True)} ({estimate.move_basis}) → "
        f"{trade(estimate.trade_usd, estimate.direction)} into the close ({adv})"
    )
    lines.append(f"  {usd(estimate.trade_per_1pct_usd)} per 1% move of {estimate.underlying}")
    lines.append("")
    rows = [["fund", "ticker", "lev", "L(L−1)", "AUM", "trade", "AUM source"]]
    for fund in estimate.funds:
        rows.append(
            [
                fund.name,
                fund.ticker or "—",
                _leverage(fund.leverage),
                f"{fund.multiplier:g}",
                usd(fund.aum_usd),
                trade(fund.trade_usd),
                fund.aum_source,
            ]
        )
    lines += text_table(rows, right_aligned={2, 3, 4})
    lines.append(f"  basis: {estimate.basis}; total AUM {usd(estimate.aum_total_usd)}")
    if estimate.sample:
        lines += ["", SAMPLE_BANNER]
    return "\n".join(lines)
