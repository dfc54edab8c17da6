"""`flows-bot calendar`: scheduled mechanical-flow events (period ends, expiries, index reviews,
crypto expiries, buyback blackouts) on the NYSE calendar."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from bot.cli.common import (
    add_json_option,
    add_source_options,
    parse_date,
    positive_int,
    print_json,
    run_with_market,
)

if TYPE_CHECKING:
    import datetime as dt

    from flows.buybacks import KnownReports
    from flows.results import PeriodEndSizing


def parse_kinds(text: str) -> list[str]:
    """One kind or a comma-separated list, checked against the calendar's kinds."""
    from flows.errors import InputError
    from flows.flow_calendar import validate_kinds

    kinds = [part for part in text.split(",") if part.strip()]
    try:
        validate_kinds(kinds)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return [kind.strip().lower() for kind in kinds]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "calendar",
        help="upcoming scheduled flow events: period ends, expiries, index reviews, blackouts",
        description="Scheduled mechanical-flow events in date order: month and quarter ends "
        "(with the final-5-session rebalancing window), monthly opex, quad witching, S&P 500 "
        "rebalances, the Russell reconstitution, MSCI reviews, Deribit expiries and the "
        "estimated S&P 500 buyback blackout, on the NYSE calendar. With --source (or --funds), "
        "the next month- and quarter-end SPY/AGG trades are sized from market data. With live "
        "data (--source live, or DATA_SOURCE=live, the default) the blackout is counted from "
        "the largest S&P 500 companies' earnings dates, cached in the database for a week.",
    )
    parser.add_argument(
        "--from", dest="start", type=parse_date, metavar="DATE", help="YYYY-MM-DD (default: today)"
    )
    parser.add_argument(
        "--days",
        type=positive_int,
        default=100,
        metavar="N",
        help="how many calendar days to show (default 100)",
    )
    parser.add_argument(
        "--kind",
        dest="kinds",
        type=parse_kinds,
        action="extend",
        nargs="+",
        metavar="K",
        help="only these kinds (repeatable, or comma-separated): month_end, quarter_end, opex, "
        "quad_witching, sp500_rebalance, russell_reconstitution, msci_review, deribit_expiry, "
        "buyback_blackout",
    )
    add_source_options(parser)
    add_json_option(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import datetime as dt

    from bot.render.calendar_text import render_calendar_text
    from flows.buybacks import blackout_for
    from flows.flow_calendar import flow_calendar, validate_kinds

    start = args.start or dt.datetime.now(dt.UTC).date()
    end = start + dt.timedelta(days=args.days - 1)
    kinds = validate_kinds([kind for group in args.kinds or () for kind in group] or None)
    sizing: list[PeriodEndSizing] | None = None
    sample = False
    if (args.source or args.funds) and {"month_end", "quarter_end"} & set(kinds):
        sizing, sample = _sizing(args, start)
    # Built first without earnings dates: a bad range fails before anything is fetched.
    events = flow_calendar(start, end, kinds, sizing)
    known = _known_reports(args) if "buyback_blackout" in kinds else None
    if known is not None:
        events = flow_calendar(start, end, kinds, sizing, known)
    if args.json:
        print_json([event.to_json_dict() for event in events])
    else:
        blackout = blackout_for(start, known) if "buyback_blackout" in kinds else None
        text = render_calendar_text(
            events, start, args.days, blackout=blackout, sized=sizing is not None, sample=sample
        )
        print(text)
    return 0


def _sizing(args: argparse.Namespace, start: dt.date) -> tuple[list[PeriodEndSizing], bool]:
    """The next month- and quarter-end trades from market data, and whether it is SAMPLE DATA."""
    from bot.cli.common import load_inputs
    from flows.event_sizing import load_period_end_sizing
    from flows.status import source_label

    settings, registry, market = load_inputs(args)

    return run_with_market(
        market,
        lambda: load_period_end_sizing(
            start, market, registry, source_label(market), settings.neutral_band_pct_adv
        ),
    ), market.is_sample


def _known_reports(args: argparse.Namespace) -> KnownReports | None:
    """The largest S&P 500 companies' earnings dates when the data source is live (cached in the
    database, refetched weekly); None — the rule of thumb — for sample or CSV data, or when
    nothing could be had. A failure is one warning line, never the command."""
    import asyncio

    from bot.cli.common import progress, quiet_provider_logs, warn_once
    from bot.reference import open_reference
    from bot.settings import get_settings
    from flows.marketdata import open_source

    settings = get_settings()
    if (args.source or settings.data_source).strip() != "live":
        return None
    source = open_source("live", crypto_exchange=settings.crypto_exchange)
    quiet_provider_logs()

    async def main() -> tuple[KnownReports | None, list[str]]:
        try:
            async with open_reference(settings.database_url, source, on_fetch=progress) as data:
                return await data.known_reports(), data.warnings
        finally:
            await source.close()

    known, warnings = asyncio.run(main())
    if known is None and not warnings:
        warnings = ["no earnings dates available; buyback blackout from the rule of thumb"]
    warn_once("calendar", warnings)
    return known
