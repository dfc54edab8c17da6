"""Track-record chart: the call before each window against what followed. Blocking (matplotlib,
Agg): call through `asyncio.to_thread` from async code."""

from __future__ import annotations

from pathlib import Path

from bot.render.charts import _figure, _save, _stamp, _usd_scale
from flows.track import TrackRecord

SELL, BUY, NEUTRAL = "#c0392b", "#1e8449", "#999999"


def track_chart(record: TrackRecord, path: Path) -> Path:
    """Two panels sharing the windows: the estimated trade (bars by direction) above, the
    outcome's excess return below with each call marked hit (✓) or miss (✗)."""
    plt = _figure()
    windows = record.windows
    labels = [
        f"{w.window_end:%Y-%m} (alert {w.estimate_as_of:%m-%d})"
        if record.live
        else f"{w.window_end:%Y-%m}"
        for w in windows
    ]
    xs = list(range(len(windows)))
    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(max(7.5, 0.45 * len(windows) + 3), 6), dpi=110, sharex=True
    )
    colours = [{"sell": SELL, "buy": BUY}.get(w.direction or "", NEUTRAL) for w in windows]
    scale, unit = _usd_scale(max((abs(w.estimated_trade_usd or 0.0) for w in windows), default=0))
    trades = [(w.estimated_trade_usd or 0.0) / scale for w in windows]
    top.bar(xs, trades, color=colours)
    for colour, name in ((SELL, "sell call"), (BUY, "buy call"), (NEUTRAL, "neutral")):
        top.bar([0], [0], color=colour, label=name)
    top.legend(loc="best", fontsize=8)
    top.axhline(0, color="#444", linewidth=0.8)
    top.set_ylabel(f"estimated trade ({unit})")
    summary = record.summary
    rate = (
        f"{summary.hits}/{summary.n} right"
        + (
            f", 95 % CI {summary.hit_rate_ci95[0]:.0%}–{summary.hit_rate_ci95[1]:.0%}"
            if summary.hit_rate_ci95
            else ""
        )
        if summary.n
        else "no scored calls"
    )
    what = "live alerts" if record.live else f"{record.schedule} windows"
    top.set_title(f"{record.asset} rebalancing calls, {what}: {rate}", fontsize=10)
    top.grid(alpha=0.3, axis="y")

    excess = [(w.outcome_excess * 100) if w.outcome_excess is not None else 0.0 for w in windows]
    bottom.bar(xs, excess, color="#5d6d7e", alpha=0.55)
    bottom.axhline(0, color="#444", linewidth=0.8)
    for x, window, value in zip(xs, windows, excess, strict=True):
        if window.hit is None:
            mark = "pending" if window.direction in ("buy", "sell") else ""
            if mark:
                bottom.annotate(mark, (x, 0), ha="center", va="bottom", fontsize=7, color="#666")
            continue
        bottom.scatter(
            [x],
            [value],
            marker="o" if window.hit else "X",
            s=70,
            color=BUY if window.hit else SELL,
            zorder=3,
        )
    bottom.scatter([], [], marker="o", color=BUY, label="hit")
    bottom.scatter([], [], marker="X", color=SELL, label="miss")
    bottom.legend(loc="best", fontsize=8)
    bench = f" vs {record.benchmark}" if record.benchmark else ""
    bottom.set_ylabel(f"excess return{bench} (%)")
    bottom.set_xticks(xs, labels, rotation=60, fontsize=8)
    bottom.grid(alpha=0.3, axis="y")
    bottom.set_xlabel(
        "window (month of its last session) and the alert's date"
        if record.live
        else "window (month of its last session); call = close before the window"
    )
    _stamp(figure, record.sample)
    return _save(plt, figure, path)
