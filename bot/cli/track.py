"""`flows-bot track ASSET`: every rebalancing call held against what happened afterwards."""

from __future__ import annotations

import argparse

from bot.cli.common import add_json_option, add_source_options, parse_date


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "track",
        help="track record: each window's rebalancing call against the outcome",
        description="For every quarter-end (or, with --monthly, month-end) rebalancing window "
        "in the range: what `status --as-of` said the session before the window opened, the "
        "asset's return to the window's last close and its excess over the benchmark (SPY; "
        "AGG for SPY), whether the call was right, and the hit rate with a Wilson 95% "
        "interval. --live gives the calls the bot actually sent instead.",
    )
    parser.add_argument("asset", help="ticker or name: BTC, ETH, SPY, AGG, bitcoin ...")
    parser.add_argument(
        "--from",
        dest="start",
        type=parse_date,
        metavar="DATE",
        help="first window's last session on or after DATE (default: TRACK_SINCE, 2021-01-01)",
    )
    parser.add_argument(
        "--to",
        dest="end",
        type=parse_date,
        metavar="DATE",
        help="last window's last session on or before DATE (default: today)",
    )
    parser.add_argument(
        "--monthly",
        action="store_true",
        help="month-end windows and the monthly-rebalancing programs only",
    )
    parser.add_argument(
        "--live",
        action="store_true",
        help="the live record: alerts the bot sent, with their outcomes (DATABASE_URL)",
    )
    parser.add_argument(
        "--chart",
        metavar="PATH",
        help="where to write the chart PNG (default: CHART_DIR/track-ASSET-....png)",
    )
    add_source_options(parser)
    add_json_option(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bot.cli.common import load_inputs, print_json, run_with_market
    from bot.render.track_text import render_track_text
    from flows.errors import InputError
    from flows.status import resolve_asset
    from flows.track import build_track, tracked_registry

    if args.start and args.end and args.end < args.start:
        raise InputError(f"--to {args.end} is before --from {args.start}")
    settings, registry, market = load_inputs(args)
    asset = resolve_asset(args.asset, registry)
    if args.live:
        if args.monthly:
            raise InputError("--monthly applies to the history record, not to --live")
        tracked_registry(registry, asset.symbol, monthly=False)
        record = run_with_market(
            market, lambda: _live(settings.database_url, asset.symbol, args.start, args.end)
        )
    else:
        config = settings.analytics_config(with_garch=False)
        start = args.start or settings.track_since
        record = run_with_market(
            market,
            lambda: build_track(
                asset.symbol,
                market,
                registry,
                start,
                args.end,
                monthly=args.monthly,
                config=config,
            ),
        )
    if args.json:
        print_json(record.to_json_dict())
        return 0
    chart = None
    if record.windows:
        from bot.render.track_chart import track_chart

        first, last = record.windows[0].window_end, record.windows[-1].window_end
        kind = "live" if record.live else record.schedule
        default = settings.chart_dir / f"track-{asset.symbol}-{kind}-{first}-{last}.png"
        chart = track_chart(record, Path(args.chart) if args.chart else default)
    print(render_track_text(record, str(chart) if chart else None))
    return 0


async def _live(database_url: str, asset: str, start, end):
    from bot.monitors.track_live import live_track_record
    from storage.store import Store

    store = await Store.open(database_url)
    try:
        return await live_track_record(store, asset, start, end)
    finally:
        await store.close()
