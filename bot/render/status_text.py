"""Plain-text status for the CLI and the console."""

from __future__ import annotations

from bot.render.numbers import pct, pct_points, trade, usd
from bot.render.table import text_table
from flows.results import StatusReport

SAMPLE_BANNER = "*** SAMPLE DATA — synthetic prices, not market data ***"


def render_status_text(report: StatusReport, net: tuple[str, str] | None = None) -> str:
    """The CLI status; `net`: the net-mechanical line's label and text (see `why.net_row`),
    shown after the rebalancing block."""
    lines: list[str] = [report.data_lag.line] if report.data_lag else []
    if report.sample:
        lines += [SAMPLE_BANNER, ""]
    lines.append(f"{report.asset} ({report.asset_name}) — as of {report.as_of:%a %Y-%m-%d}")
    lines.append(f"Data: {report.data_source}   Funds: {report.funds_source}")
    lines.append("")

    quarter = report.quarter_end
    state = "IN THE REBALANCING WINDOW" if quarter.in_window else "window not open yet"
    lines.append(
        f"Quarter end  {quarter.quarter}: last session {quarter.last_session:%a %Y-%m-%d}, "
        f"window {quarter.window_start} → {quarter.last_session}; "
        f"{quarter.sessions_left} session(s) left — {state}"
    )
    lines.append("")

    rebalance = report.rebalance
    if not rebalance.funds:
        lines.append(f"Rebalancing  no fund in the registry holds {report.asset}")
    else:
        adv = (
            f"{pct_points(rebalance.pct_adv)} of the liquidity yardstick {usd(rebalance.adv_usd)}"
            if rebalance.adv_usd
            else "% of liquidity unknown"
        )
        lines.append(
            f"Rebalancing  {trade(rebalance.trade_usd, rebalance.direction)} ({adv}) — "
            "the trade programs trading this period must make to restore their target weights"
        )
        lines.append(f"  {_range_line(report)}")
        if rebalance.adv_basis:
            lines.append(f"  yardstick: {rebalance.adv_basis}")
        rows = [["program", "AUM", "rule", "base date", "target", "now", "drift", "trade"]]
        for fund in rebalance.funds:
            rows.append(
                [
                    fund.name + (" [scenario]" if fund.scenario else ""),
                    usd(fund.aum_usd),
                    fund.rebalance + ("" if fund.trades_this_period else " (not this qtr)"),
                    fund.base_date.isoformat(),
                    pct(fund.target_weight, 2),
                    pct(fund.current_weight, 2),
                    pct(fund.drift, 3, signed=True),
                    trade(fund.trade_usd),
                ]
            )
        lines += text_table(rows, right_aligned={1, 4, 5, 6})
        trading = [fund for fund in rebalance.funds if fund.trades_this_period]
        lines.append(
            f"  basis: {len(trading)} of {len(rebalance.funds)} program(s) trade this period, "
            f"AUM {usd(rebalance.aum_total_usd)} ({_aum_basis(report)})"
        )
        for fund in rebalance.funds:
            if fund.period_note:
                lines.append(f"  {fund.period_note}")
            if fund.band_trigger_move is not None:
                lines.append(
                    f"  {fund.name}: band breached at {report.asset} "
                    f"{pct(fund.band_trigger_move, 0, signed=True)} from here → "
                    f"{trade(fund.band_trigger_trade_usd)}"
                )
        for fund in rebalance.funds:
            lines.append(f"  AUM {fund.name}: {fund.aum_source}")
        scenarios = " | ".join(
            f"{pct(w.move, 0, signed=True)}: {trade(w.trade_usd, w.direction)}"
            for w in rebalance.what_if
        )
        lines.append(
            f"  what-if {report.asset} moves from the {report.as_of} close before each "
            f"program's next rebalance (others flat): {scenarios}"
        )
    reasons: dict[str, list[str]] = {}
    for program in rebalance.not_sized:
        reasons.setdefault(program.reason, []).append(program.name)
    for reason, names in reasons.items():
        lines.append(f"  not sized ({reason}): {', '.join(names)}")
    if net is not None:
        lines.append(f"{net[0]}  {net[1]}")
    lines.append("")

    vol = report.volatility
    lines.append(
        f"Volatility   realized {vol.window}d {pct(vol.realized)} "
        f"(previous {pct(vol.previous_realized)})"
        f" · EWMA {pct(vol.ewma)} · GARCH 5-day {pct(vol.garch_5d)}"
    )
    change = f"CHANGED from {vol.previous_regime}" if vol.changed else "unchanged"
    outlook = f"; GARCH outlook: {vol.garch_regime}" if vol.garch_regime else ""
    lines.append(f"  regime: {vol.regime or 'unknown'} ({change}){outlook}")
    for flow in vol.vol_target:
        exposure = "unknown" if flow.exposure is None else f"{flow.exposure:.2f}"
        previous = "unknown" if flow.previous_exposure is None else f"{flow.previous_exposure:.2f}"
        lines.append(
            f"  vol-target: {flow.name} (AUM {usd(flow.aum_usd)}, "
            f"target {pct(flow.target_vol, 0)}): "
            f"exposure {exposure} (was {previous}) → {trade(flow.trade_usd)}"
            + (
                f" (range {trade(flow.trade_usd_range[0])} … {trade(flow.trade_usd_range[2])})"
                if flow.trade_usd_range
                else ""
            )
        )
    if report.leveraged is not None:
        letf = report.leveraged
        # Crypto on a weekend: the funds' latest close is the last NYSE session's.
        close = (
            "the close" if letf.as_of == report.as_of else f"the close of {letf.as_of:%a %Y-%m-%d}"
        )
        lines += [
            "",
            f"Leveraged ETFs  {trade(letf.trade_usd, letf.direction)} into {close} for the "
            f"{pct(letf.move, 2, signed=True)} move ({letf.move_basis}); "
            f"{pct_points(letf.pct_adv)} of the yardstick; {len(letf.funds)} fund(s), "
            f"AUM {usd(letf.aum_total_usd)}",
        ]
    if report.sample:
        lines += ["", SAMPLE_BANNER]
    return "\n".join(lines)


def _range_line(report: StatusReport) -> str:
    rebalance = report.rebalance
    low, central, high = rebalance.trade_usd_range or [rebalance.trade_usd] * 3
    return (
        f"range {trade(low)} … {trade(high)} (low / high AUM); real funds only "
        f"{trade(rebalance.trade_usd_funds)}, scenarios at central adoption "
        f"{trade(central - rebalance.trade_usd_funds)}"
    )


def _aum_basis(report: StatusReport) -> str:
    sources = {fund.aum_source for fund in report.rebalance.funds}
    if all(source.startswith("illustrative") for source in sources):
        return "AUM figures are illustrative assumptions from the fund registry"
    live = sum("Yahoo Finance" in source for source in sources)
    if live:
        return f"live AUM for {live} program(s), the registry's dated figures for the rest"
    return "the registry's dated AUM figures: no live AUM fetched for this data source"
