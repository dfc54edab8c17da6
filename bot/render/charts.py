"""Alert charts (matplotlib, Agg backend). Blocking: call through `asyncio.to_thread`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from flows import calendar
from flows.funds import RebalancingFund
from flows.rebalance import drifted_weights
from flows.volatility import RegimeBands, realized_vol_series

BAND_COLOURS = ("#d9f0d3", "#fff7bc", "#fdd49e", "#fcbba1", "#f4a582")


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def weight_path_chart(
    asset: str,
    fund: RebalancingFund,
    closes: dict[str, pd.Series],
    as_of: dt.date,
    path: Path,
    sample: bool,
) -> Path:
    """The asset's weight in `fund` every day since the fund's base date, against its target."""
    plt = _figure()
    base = calendar.period_end_before(as_of, fund.rebalance)
    symbols = list(fund.weights)
    days = pd.date_range(base, as_of, freq="D")
    prices = pd.concat({s: closes[s] for s in symbols}, axis=1, sort=True).ffill()
    prices = prices.reindex(prices.index.union(days)).ffill().loc[days]
    growth = prices.to_numpy() / prices.iloc[0].to_numpy()
    targets = np.array([fund.weights[s] for s in symbols])
    weights = drifted_weights(targets, growth)[:, symbols.index(asset)] * 100
    figure, axis = plt.subplots(figsize=(8, 3.6), dpi=110)
    axis.plot(days, weights, color="#1f77b4", linewidth=2, label=f"{asset} weight")
    axis.axhline(fund.weights[asset] * 100, color="#444", linestyle="--", label="target")
    axis.fill_between(days, weights, fund.weights[asset] * 100, alpha=0.15, color="#1f77b4")
    axis.set_ylabel("weight in fund (%)")
    axis.set_title(
        f"{asset} weight since the last rebalance ({base}), target {fund.weights[asset]:.1%}\n"
        f"{fund.name}",
        fontsize=10,
    )
    axis.legend(loc="best", fontsize=8)
    axis.grid(alpha=0.3)
    _stamp(figure, sample)
    return _save(plt, figure, path)


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
