"""Positioning chart: price with open interest (top), daily ETF flows (bottom).

Blocking (matplotlib, Agg, imported on first use): call through `asyncio.to_thread`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from flows.models.positioning import PositioningReport

INFLOW, OUTFLOW = "#2ca02c", "#d62728"
CLASS_COLOURS = {
    "short_covering": "#2ca02c",
    "new_longs": "#1f77b4",
    "new_shorts": "#d62728",
    "long_liquidation": "#ff7f0e",
}


def positioning_chart(report: PositioningReport, path: Path) -> Path:
    from bot.render.charts import _figure, _save, _stamp

    plt = _figure()
    days = pd.DatetimeIndex([pd.Timestamp(d.date) for d in report.days])
    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(8, 5.2), dpi=110, sharex=True, gridspec_kw={"height_ratios": [3, 2]}
    )
    closes = [d.close for d in report.days]
    top.plot(days, closes, color="#222", linewidth=1.8, marker=".", label=f"{report.asset} close")
    for day, item in zip(days, report.days, strict=True):
        colour = CLASS_COLOURS.get(item.classification)
        if colour:
            top.axvspan(
                day - pd.Timedelta(hours=12),
                day + pd.Timedelta(hours=12),
                color=colour,
                alpha=0.15,
                linewidth=0,
            )
    top.set_ylabel("price (USD)")
    top.grid(alpha=0.3)
    oi = [d.open_interest_usd for d in report.days]
    if any(v is not None for v in oi):
        twin = top.twinx()
        twin.plot(
            days,
            [None if v is None else v / 1e9 for v in oi],
            color="#9467bd",
            linewidth=1.4,
            linestyle="--",
            label="open interest ($bn)",
        )
        twin.set_ylabel("open interest ($bn)")
        handles = top.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
        top.legend(handles=handles, loc="upper left", fontsize=7)
    else:
        top.legend(loc="upper left", fontsize=7)
    # Unknown days get no bar: a zero-height bar would read as "no flow".
    known = [
        (day, d.etf_flow_usd / 1e6)
        for day, d in zip(days, report.days, strict=True)
        if d.etf_flow_usd is not None
    ]
    bottom.bar(
        [day for day, _ in known],
        [value for _, value in known],
        color=[INFLOW if value >= 0 else OUTFLOW for _, value in known],
        width=0.7,
    )
    from matplotlib.patches import Patch

    handles = [
        Patch(color=INFLOW, label="ETF inflows ($m)"),
        Patch(color=OUTFLOW, label="ETF outflows ($m)"),
    ]
    if len(known) < len(report.days):
        unknown = "no bar: ETF flow unknown that day" if known else "ETF flows unknown: no bars"
        handles.append(Patch(color="none", label=unknown))
    forced = [d.forced_flow_usd for d in report.days]
    if any(v for v in forced):
        label = "forced flow ($m)" if report.derivatives else "hedge unwind ($m)"
        (points,) = bottom.plot(
            days,
            [None if v is None else v / 1e6 for v in forced],
            "o",
            color="#444",
            markersize=4,
            label=label,
        )
        handles.append(points)
    bottom.axhline(0, color="#444", linewidth=0.8)
    bottom.set_ylabel("$m")
    # In one row above the panel, where it cannot cover a bar.
    bottom.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        ncol=len(handles),
        fontsize=7,
        frameon=False,
        borderaxespad=0.2,
    )
    bottom.grid(alpha=0.3)
    shading = ", ".join(
        k.replace("_", " ") + f" ({v})"
        for k, v in (
            ("short_covering", "green"),
            ("new_longs", "blue"),
            ("new_shorts", "red"),
            ("long_liquidation", "orange"),
        )
    )
    title = f"{report.asset} positioning to {report.as_of} — shading: {shading}"
    if report.data_lag is not None:
        title = f"{report.data_lag.line}\n{title}"
    top.set_title(title, fontsize=8)
    _stamp(figure, report.sample)
    return _save(plt, figure, path)
