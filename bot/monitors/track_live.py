"""The live track record: store each sized rebalancing alert's call when it is recorded, and
fill in its outcome once the window has ended (a daily job). A live record is only what the bot
said at the time: rows are never created after the fact and their estimate is never changed."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from itertools import groupby

from bot.monitors.evaluate import AlertEvent
from flows.errors import FlowsError
from flows.marketdata import MarketData
from flows.track import (
    LiveTrackWindow,
    TrackRecord,
    benchmark_for,
    is_hit,
    outcome,
    summarize,
)
from storage.live_records import NewLiveRecord

log = logging.getLogger(__name__)

TRACKED_KINDS = ("quarter_end", "drift")
"""Alerts that carry a rebalancing call for a dated window. Vol-regime, leveraged-ETF and
calendar alerts have no window with a defined outcome and are not part of the live record."""
UNMEASURABLE = "called on or after the window's last session: no later close to measure"


def live_call(event: AlertEvent, data_source: str) -> NewLiveRecord | None:
    """The live record of an alert, or None when it carries no sized rebalancing call."""
    report = event.report
    if event.kind not in TRACKED_KINDS or report is None or event.trade_usd is None:
        return None
    quarter = report.quarter_end
    return NewLiveRecord(
        dedupe_key=event.key,
        alert_kind=event.kind,
        asset=event.asset,
        estimate_as_of=event.as_of,
        window_start=quarter.window_start,
        window_end=quarter.last_session,
        estimated_trade_usd=event.trade_usd,
        direction=event.direction or "neutral",
        benchmark=benchmark_for(event.asset),
        data_source=data_source,
    )


async def record_live_calls(
    store, events: Sequence[AlertEvent], recorded: Sequence[tuple], data_source: str
) -> int:
    """Store the calls of the alerts this tick created (not of ones that existed already)."""
    calls = [
        call
        for event, (_, created) in zip(events, recorded, strict=True)
        if created and (call := live_call(event, data_source)) is not None
    ]
    if not calls:
        return 0
    try:
        return await store.add_live_records(calls)
    except Exception:
        # The alerts are already recorded and will go out; a lost record is logged, not fatal.
        log.exception("live track record: %d call(s) could not be stored", len(calls))
        return 0


async def fill_live_outcomes(
    store, market: MarketData, today: dt.date, now: dt.datetime | None = None
) -> int:
    """Fill the outcome of every record whose window ended before `today` and whose closes the
    data now has; the others wait for a later run. Returns how many were filled."""
    filled = 0
    pending = await store.pending_live_records(today)
    for asset, group in groupby(pending, key=lambda record: record.asset):
        records = list(group)
        benchmark = records[0].benchmark or benchmark_for(asset)
        start = min(r.estimate_as_of for r in records) - dt.timedelta(days=10)
        try:
            frames = await market.bars_many({asset, benchmark}, start, today)
        except FlowsError as exc:
            log.warning("live track record: %s outcome not filled yet: %s", asset, exc)
            continue
        for record in records:
            if record.estimate_as_of >= record.window_end:
                done = await store.fill_live_outcome(
                    record.id,
                    outcome_return=None,
                    outcome_excess=None,
                    hit=None,
                    note=UNMEASURABLE,
                    now=now,
                )
                filled += int(done)
                continue
            ret, excess = outcome(
                frames,
                asset,
                record.benchmark or benchmark,
                record.estimate_as_of,
                record.window_end,
            )
            if ret is None or excess is None:
                continue  # the window's closes are not in the data yet
            done = await store.fill_live_outcome(
                record.id,
                outcome_return=ret,
                outcome_excess=excess,
                hit=is_hit(record.direction, excess),
                now=now,
            )
            filled += int(done)
    return filled


def _window(row) -> LiveTrackWindow:
    return LiveTrackWindow(
        window_start=row.window_start,
        window_end=row.window_end,
        estimate_as_of=row.estimate_as_of,
        estimated_trade_usd=row.estimated_trade_usd,
        direction=row.direction,
        outcome_return=row.outcome_return,
        outcome_excess=row.outcome_excess,
        hit=row.hit,
        actual_flow_usd=row.actual_flow_usd,
        alert_kind=row.alert_kind,
        recorded_at=row.recorded_at,
    )


async def live_track_record(
    store, asset: str, start: dt.date | None = None, end: dt.date | None = None
) -> TrackRecord:
    """Every stored live record of `asset`; the summary scores one call per window, the
    earliest alert's (later alerts on the same window are not independent evidence)."""
    rows = await store.live_records(asset, start=start, end=end)
    windows = [_window(row) for row in rows]
    first: dict[dt.date, LiveTrackWindow] = {}
    for window in sorted(windows, key=lambda w: (w.estimate_as_of, w.recorded_at)):
        first.setdefault(window.window_end, window)
    benchmark = rows[0].benchmark if rows else benchmark_for(asset)
    summary = summarize(list(first.values()), benchmark)
    if len(windows) > len(first):
        summary = summary.model_copy(
            update={
                "note": f"{summary.note} Scored on the first alert of each of {len(first)} "
                f"window(s); {len(windows)} alerts in all."
            }
        )
    sources = sorted({row.data_source for row in rows if row.data_source})
    return TrackRecord(
        asset=asset,
        windows=windows,
        summary=summary,
        benchmark=benchmark,
        data_source="; ".join(sources) or None,
        sample=any("SAMPLE" in source for source in sources),
        live=True,
    )
