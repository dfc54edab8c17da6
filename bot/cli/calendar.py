"""`flows-bot calendar`: upcoming quarter ends with their rebalancing windows, and month ends."""

from __future__ import annotations

import argparse

from bot.cli.common import add_json_option, parse_date, positive_int, print_json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "calendar",
        help="upcoming month and quarter ends and rebalancing windows",
        description="Upcoming quarter ends (with their final-5-session rebalancing windows) "
        "and month ends, on the NYSE calendar.",
    )
    parser.add_argument("--from", dest="start", type=parse_date, metavar="DATE", help="YYYY-MM-DD (default: today)")
    parser.add_argument("--days", type=positive_int, default=100, metavar="N", help="how many calendar days to show (default 100)")
    add_json_option(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import datetime as dt

    from bot.render.calendar_text import render_calendar_text
    from flows.flow_calendar import flow_calendar

    start = args.start or dt.datetime.now(dt.UTC).date()
    events = flow_calendar(start, start + dt.timedelta(days=args.days - 1))
    if args.json:
        print_json([event.to_json_dict() for event in events])
    else:
        print(render_calendar_text(events, start, args.days))
    return 0
