"""Alert charts (matplotlib, Agg backend). Blocking: call through `asyncio.to_thread`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from flows import calendar
from flows.funds import RebalancingFund
from flows.rebalance import base_date_for, drifted_weights
from flows.results import StatusReport
from flows.volatility import RegimeBands, realized_vol_series

BAND_COLOURS = ("#d9f0d3", "#fff7bc", "#fdd49e", "#fcbba1", "#f4a582")
PROGRAM_COLOURS = (
    "#4c72b0",
    "#dd8452",
    "#55a868",
    "#c44e52",
    "#8172b3",
    "#937860",
    "#da8bc3",
    "#8c8c8c",
    "#ccb974",
    "#64b5cd",
)


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def fund_trade_paths(
    asset: str,
    funds: Sequence[RebalancingFund],
    closes: dict[str, pd.Series],
    days: pd.DatetimeIndex,
    aum_usd: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Each fund's trade in `asset` "if it rebalanced that day", for every day in `days`: the
    drift since its own last rebalance (`base_date_for`: its calendar and `since`) times its AUM
    (`aum_usd` by fund name where given — the figure the status used — else the registry's).
    Columns: fund names."""
    aum_usd = aum_usd or {}
    symbols = sorted({s for fund in funds for s in fund.weights})
    prices = pd.concat({s: closes[s] for s in symbols}, axis=1, sort=True).sort_index().ffill()
    bases_by_fund = {
        fund.name: pd.DatetimeIndex([base_date_for(fund, d.date()) for d in days]) for fund in funds
    }
    bases_needed = set().union(*(set(bases) for bases in bases_by_fund.values()))
    everything = prices.index.union(days).union(pd.DatetimeIndex(sorted(bases_needed)))
    prices = prices.reindex(everything).ffill()
    paths = {}
    for fund in funds:
        names = list(fund.weights)
        targets = np.array([fund.weights[s] for s in names])
        bases = bases_by_fund[fund.name]
        growth = prices.loc[days, names].to_numpy() / prices.loc[bases, names].to_numpy()
        drifted = drifted_weights(targets, growth)
        position = names.index(asset)
        aum = aum_usd.get(fund.name, fund.aum_usd or 0.0)
        paths[fund.name] = (targets[position] - drifted[:, position]) * aum
    return pd.DataFrame(paths, index=days)


def headline_programs(
    report: StatusReport, funds: Sequence[RebalancingFund]
) -> tuple[list[RebalancingFund], dict[str, float]]:
    """The programs the headline counts (sized and trading this period) and the AUM the status
    used for each, so the chart's total on the as-of day is the headline figure."""
    rows = {row.name: row for row in report.rebalance.funds if row.trades_this_period}
    programs = [fund for fund in funds if fund.name in rows and report.asset in fund.weights]
    return programs, {fund.name: rows[fund.name].aum_usd for fund in programs}


def headline_chart(
    report: StatusReport,
    funds: Sequence[RebalancingFund],
    closes: dict[str, pd.Series],
    path: Path,
) -> Path:
    """The number in the headline: the total rebalancing trade in the asset over the quarter,
    stacked by program, with the rebalancing window shaded and today's estimate and the
    what-ifs marked; below it, the weight of the asset in the largest multi-asset program."""
    plt = _figure()
    from matplotlib.ticker import FuncFormatter

    asset, as_of, quarter = report.asset, report.as_of, report.quarter_end
    start = calendar.period_end_before(as_of, "quarterly")
    days = pd.date_range(start + dt.timedelta(days=1), as_of, freq="D")
    holders, aum_used = headline_programs(report, funds)
    paths = (
        fund_trade_paths(asset, holders, closes, days, aum_used)
        if len(days) and holders
        else pd.DataFrame()
    )
    order = sorted(paths.columns, key=lambda name: -abs(paths[name].iloc[-1])) if len(paths) else []
    panel_fund = weight_panel_fund(holders)
    two_panels = panel_fund is not None
    figure, axes = plt.subplots(
        2 if two_panels else 1,
        1,
        figsize=(9, 7.2 if two_panels else 4.4),
        dpi=110,
        gridspec_kw={"height_ratios": [2.2, 1]} if two_panels else None,
        squeeze=False,
    )
    axis = axes[0][0]
    scale, unit = _usd_scale(float(paths.abs().sum(axis=1).max()) if len(paths) else 1.0)
    positive = np.zeros(len(days))
    negative = np.zeros(len(days))
    shown = order[:8]
    other = [name for name in order if name not in shown]
    series = [(name, paths[name].to_numpy()) for name in shown]
    if other:
        series.append((f"{len(other)} other program(s)", paths[other].sum(axis=1).to_numpy()))
    scenarios = {fund.name for fund in holders if fund.scenario}
    for index, (name, values) in enumerate(series):
        colour = PROGRAM_COLOURS[index % len(PROGRAM_COLOURS)]
        label = _short(name, 45) + " [scenario]" if name in scenarios else _short(name)
        up = np.clip(values, 0, None)
        down = np.clip(values, None, 0)
        axis.fill_between(
            days,
            positive / scale,
            (positive + up) / scale,
            color=colour,
            alpha=0.8,
            linewidth=0,
            label=label,
            step="post",
        )
        axis.fill_between(
            days,
            negative / scale,
            (negative + down) / scale,
            color=colour,
            alpha=0.8,
            linewidth=0,
            step="post",
        )
        positive += up
        negative += down
    total = report.rebalance.trade_usd
    if len(paths):
        axis.plot(
            days,
            paths.sum(axis=1).to_numpy() / scale,
            color="black",
            linewidth=1.4,
            label="total (net of programs)",
            drawstyle="steps-post",
        )
    window_end = pd.Timestamp(quarter.last_session) + pd.Timedelta(days=1)
    axis.axvspan(
        pd.Timestamp(quarter.window_start),
        window_end,
        color="#f2c94c",
        alpha=0.25,
        label=f"rebalancing window {quarter.window_start:%b %d}–{quarter.last_session:%b %d}",
    )
    axis.axhline(0, color="#444", linewidth=0.8)
    axis.scatter([pd.Timestamp(as_of)], [total / scale], color="black", zorder=5, s=36)
    axis.annotate(
        f"now: {_trade_label(total)}",
        (pd.Timestamp(as_of), total / scale),
        textcoords="offset points",
        xytext=(-8, 12 if total >= 0 else -18),
        ha="right",
        fontsize=9,
        fontweight="bold",
        bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "alpha": 0.85, "lw": 0},
    )
    for index, what_if in enumerate(report.rebalance.what_if):
        y = what_if.trade_usd / scale
        axis.scatter(
            [window_end],
            [y],
            marker="_",
            s=220,
            color="#7a4fa0",
            zorder=5,
            label=None if index else "what-if at the window",
        )
        axis.annotate(
            f"{asset} {what_if.move:+.0%}: {_trade_label(what_if.trade_usd)}",
            (window_end, y),
            textcoords="offset points",
            xytext=(10, -3),  # clear of the marker (s=220: about 7.4 points either side)
            fontsize=7.5,
            color="#7a4fa0",
        )
    axis.set_xlim(pd.Timestamp(start), window_end + pd.Timedelta(days=22))
    axis.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:+,.0f}" if v else "0"))
    axis.set_ylabel(f"trade in {asset} ({unit}; + buy, − sell)")
    axis.set_title(
        f"{asset}: estimated rebalancing trade if funds rebalanced that day, {quarter.quarter}\n"
        f"now {_trade_label(total)} ({report.rebalance.direction}); what-ifs: {asset} moves "
        f"from the {as_of} close before the window",
        fontsize=10,
    )
    # Headroom for the legend, so it covers neither the stacked trade nor a what-if label.
    low, high = axis.get_ylim()
    rows = -(-len(axis.get_legend_handles_labels()[1]) // 2)
    axis.set_ylim(low, high + (high - low) * (0.08 + 0.07 * rows))
    axis.legend(loc="upper left", fontsize=7, ncol=2, framealpha=0.85)
    axis.grid(alpha=0.3)
    if two_panels:
        _weight_panel(axes[1][0], asset, panel_fund, closes, as_of)
        axes[1][0].set_xlim(axis.get_xlim())
    figure.text(
        0.01,
        0.005,
        f"data: {report.data_source}; funds: {report.funds_source}",
        fontsize=7,
        color="#555",
    )
    _stamp(figure, report.sample)
    return _save(plt, figure, path)


def weight_panel_fund(funds: Sequence[RebalancingFund]) -> RebalancingFund | None:
    """The program whose weight drift the lower panel draws: the largest multi-asset one, a
    real fund before any scenario program (an assumption); None when no program holds more
    than one asset."""
    weighted = [fund for fund in funds if len(fund.weights) > 1]
    real = [fund for fund in weighted if not fund.scenario]
    return max(real or weighted, key=lambda fund: fund.aum_usd or 0.0, default=None)


def _weight_panel(axis, asset: str, fund: RebalancingFund, closes, as_of: dt.date) -> None:
    base = base_date_for(fund, as_of)
    symbols = list(fund.weights)
    days = pd.date_range(base, as_of, freq="D")
    prices = pd.concat({s: closes[s] for s in symbols}, axis=1, sort=True).ffill()
    prices = prices.reindex(prices.index.union(days)).ffill().loc[days]
    growth = prices.to_numpy() / prices.iloc[0].to_numpy()
    targets = np.array([fund.weights[s] for s in symbols])
    weights = drifted_weights(targets, growth)[:, symbols.index(asset)] * 100
    axis.plot(days, weights, color="#1f77b4", linewidth=1.8, label=f"{asset} weight")
    axis.axhline(fund.weights[asset] * 100, color="#444", linestyle="--", label="target")
    axis.fill_between(days, weights, fund.weights[asset] * 100, alpha=0.15, color="#1f77b4")
    axis.set_ylabel("weight (%)")
    axis.set_title(
        f"one program: {asset} weight in {fund.name}{' [scenario]' if fund.scenario else ''} "
        f"since {base} (target "
        f"{fund.weights[asset]:.1%})",
        fontsize=9,
    )
    axis.legend(loc="best", fontsize=7)
    axis.grid(alpha=0.3)


def _usd_scale(largest: float) -> tuple[float, str]:
    if largest >= 1e9:
        return 1e9, "$bn"
    if largest >= 1e6:
        return 1e6, "$m"
    return 1e3, "$k"


def _trade_label(amount: float) -> str:
    from bot.render.numbers import trade

    return trade(amount)


def _short(name: str, limit: int = 56) -> str:
    """Legend labels: whole words up to `limit` characters, the rest dropped at a word end."""
    if len(name) <= limit:
        return name
    cut = name[:limit].rsplit(" ", 1)[0]
    return cut + " …"


def vol_chart(
    asset: str,
    closes: pd.Series,
    periods: int,
    bands: RegimeBands,
    as_of: dt.date,
    path: Path,
    sample: bool,
) -> Path:
    """Realized vol over the last year against the regime bands."""
    plt = _figure()
    vols = realized_vol_series(closes.loc[: pd.Timestamp(as_of)], periods).dropna().tail(365) * 100
    figure, axis = plt.subplots(figsize=(8, 3.6), dpi=110)
    edges = [
        0.0,
        *[b * 100 for b in bands.boundaries],
        max(float(vols.max()) * 1.1, bands.boundaries[-1] * 130),
    ]
    for index, name in enumerate(bands.names):
        axis.axhspan(
            edges[index], edges[index + 1], color=BAND_COLOURS[index % len(BAND_COLOURS)], alpha=0.6
        )
        axis.text(
            vols.index[0],
            (edges[index] + edges[index + 1]) / 2,
            f" {name}",
            va="center",
            fontsize=8,
        )
    axis.plot(vols.index, vols.to_numpy(), color="#222", linewidth=1.6, label="20-day realized vol")
    axis.set_ylim(0, edges[-1])
    axis.set_ylabel("annualised vol (%)")
    axis.set_title(f"{asset} realized volatility and regime bands, to {as_of}")
    axis.grid(alpha=0.3)
    _stamp(figure, sample)
    return _save(plt, figure, path)


def _stamp(figure, sample: bool) -> None:
    if sample:
        figure.text(
            0.5,
            0.5,
            "SAMPLE DATA",
            fontsize=40,
            color="red",
            alpha=0.18,
            ha="center",
            va="center",
            rotation=20,
        )


def _save(plt, figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.autofmt_xdate()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path
