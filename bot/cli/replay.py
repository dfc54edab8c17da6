"""`flows-bot replay`: every alert the monitors would have fired over a past period."""

from __future__ import annotations

import argparse

from bot.cli.common import add_json_option, add_source_options, parse_date, run_with_market


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "replay",
        help="run the monitors over history and print every alert that would have fired",
        description="Run the monitors day by day over history with a fresh state and print "
        "every alert that would have fired, in order.",
    )
    parser.add_argument("--from", dest="start", type=parse_date, required=True, metavar="DATE")
    parser.add_argument("--to", dest="end", type=parse_date, required=True, metavar="DATE")
    parser.add_argument(
        "--watch", action="append", required=True, metavar="ASSET", help="repeatable"
    )
    parser.add_argument(
        "--threshold",
        metavar="USD|PCT%",
        help="drift threshold, e.g. 250m (USD) or 2%% (of the liquidity yardstick); default: "
        "the settings, else per asset from the data (SPY 10bn, BTC 100m, ETH 50m)",
    )
    add_source_options(parser)
    add_json_option(parser)
    parser.set_defaults(handler=handle, date_option="--to")


def handle(args: argparse.Namespace) -> int:
    import json

    from bot.cli.common import load_inputs
    from bot.commands.parse import CommandError, parse_threshold
    from bot.monitors.evaluate import DriftThreshold
    from bot.monitors.replay import replay
    from bot.monitors.tick import default_threshold
    from bot.render.numbers import trade
    from flows.errors import InputError

    settings, registry, market = load_inputs(args)
    if args.threshold:
        try:
            parsed = parse_threshold(args.threshold)
        except CommandError as exc:
            raise InputError(f"--threshold: {exc}") from None
        thresholds = {
            a: [DriftThreshold(usd=parsed.usd, pct_adv=parsed.pct_adv)] for a in args.watch
        }
    else:
        thresholds = {asset: [default_threshold(settings, asset)] for asset in args.watch}
    config = settings.analytics_config(with_garch=False)

    events = run_with_market(
        market,
        lambda: replay(
            args.watch,
            args.start,
            args.end,
            market,
            registry,
            settings.countdown_steps,
            thresholds,
            config,
        ),
    )
    for event in events:
        if args.json:
            row = {
                "date": event.as_of.isoformat(),
                "kind": event.kind,
                "asset": event.asset,
                "key": event.key,
                "trade_usd": event.trade_usd,
                "direction": event.direction,
                "text": event.text,
                "sample": event.report.sample,
            }
            print(json.dumps(row, ensure_ascii=False))
        else:
            sized = trade(event.trade_usd, event.direction)
            print(f"{event.as_of}  {event.kind:<11} {event.key:<40} {sized:<22} {event.text}")
    if not args.json:
        sample = " — SAMPLE DATA" if market.is_sample else ""
        print(f"{len(events)} alert(s) from {args.start} to {args.end}{sample}")
    return 0
