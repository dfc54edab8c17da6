"""`/flows track ASSET [live|monthly]`: the track record as a chat message with its chart."""

from __future__ import annotations

from pathlib import Path

from bot.commands.parse import ParsedCommand
from bot.messages import Message, MessageField
from bot.render.drawing import draw_chart
from bot.render.numbers import pct
from bot.render.table import text_table
from bot.render.track_text import window_rows
from flows.track import TrackRecord

MAX_ROWS = 12
"""Chat shows the latest windows; the CLI has them all."""


async def track_reply(service, command: ParsedCommand) -> Message:
    from bot.monitors.track_live import live_track_record
    from flows.track import build_track, tracked_registry

    settings = service.settings
    asset = command.asset
    option = command.kinds[0] if command.kinds else ""
    if option == "live":
        tracked_registry(service.registry, asset, monthly=False)
        record = await live_track_record(service.store, asset)
    else:
        market = service.market_factory()
        try:
            record = await build_track(
                asset,
                market,
                service.registry,
                settings.track_since,
                service.clock().date(),
                monthly=option == "monthly",
                config=settings.analytics_config(with_garch=False),
            )
        finally:
            await market.close()
    chart = await _chart(record, settings.chart_dir) if record.windows else None
    return track_message(record, chart)


async def _chart(record: TrackRecord, chart_dir: Path) -> Path | None:
    from bot.render.track_chart import track_chart

    kind = "live" if record.live else record.schedule
    last = record.windows[-1].window_end
    path = chart_dir / f"track-{record.asset}-{kind}-{last}.png"
    return await draw_chart(track_chart, record, path, what=f"track {record.asset}")


def track_message(record: TrackRecord, chart: Path | None) -> Message:
    summary = record.summary
    shown = record.model_copy(update={"windows": record.windows[-MAX_ROWS:]})
    rows = window_rows(shown, with_actual=record.live)
    body = "\n".join(text_table(rows, right_aligned={2, 3, 4}, indent=""))
    if len(record.windows) > MAX_ROWS:
        body = f"latest {MAX_ROWS} of {len(record.windows)} windows\n{body}"
    interval = summary.hit_rate_ci95
    fields = [
        MessageField(label="Calls scored", value=f"{summary.n} ({summary.hits} right)"),
        MessageField(
            label="Hit rate (95 % CI)",
            value=f"{pct(summary.hit_rate, 0)} ({pct(interval[0], 0)}–{pct(interval[1], 0)})"
            if interval
            else "unknown",
        ),
        MessageField(
            label="Mean excess after sells / buys",
            value=f"{pct(summary.mean_excess_sell, 2, signed=True)} / "
            f"{pct(summary.mean_excess_buy, 2, signed=True)}",
        ),
    ]
    what = "live alerts" if record.live else f"{record.schedule} rebalancing windows"
    footer = (
        f"Call = status the session before each window; outcome vs {record.benchmark}; "
        f"funds: {record.funds_source or 'as alerted'}; data: {record.data_source or '—'}"
    )
    return Message(
        title=f"{record.asset} track record — {what}",
        summary=summary.note,
        fields=fields,
        body=body if record.windows else "no records yet",
        footer=footer,
        chart_path=chart,
        tone="info",
        sample=record.sample,
    )
