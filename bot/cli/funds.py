"""`flows-bot funds [--asset A]`: every program in the registry with its rule, AUM and sources."""

from __future__ import annotations

import argparse

from bot.cli.common import add_json_option, add_source_options, print_json, run_with_live_aum


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "funds",
        help="the programs behind every rebalancing figure: weights, rule, AUM, sources",
        description="List the registry's programs: name, kind, sleeves, rebalancing rule, AUM "
        "with its date and source (live when the data source is live), since, and sources.",
    )
    parser.add_argument("--asset", help="only programs holding this asset (BTC, SPY, ...)")
    add_source_options(parser)
    add_json_option(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from bot.cli.common import load_inputs
    from bot.reference import live_reference_source
    from bot.render.funds_text import render_funds_text
    from flows.funds import programs_listing
    from flows.status import resolve_asset

    settings, registry, market = load_inputs(args)
    asset = resolve_asset(args.asset, registry).symbol if args.asset else None
    programs = registry.programs_holding(asset) if asset else registry.all_programs()

    async def listing(live_registry):
        return programs_listing(live_registry, asset)

    result = run_with_live_aum("funds", settings, market, registry, (), listing, programs)
    if args.json:
        print_json(result)
    else:
        live = live_reference_source(market.source) is not None
        print(render_funds_text(result, live=live))
    return 0
