"""`flows-bot status ASSET`: quarter-end timing, rebalancing trade and volatility of one asset."""

from __future__ import annotations

import argparse

from bot.cli.common import (
    add_json_option,
    add_source_options,
    parse_date,
    print_result,
    run_with_live_aum,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "status",
        help="estimated rebalancing and vol-target flows for one asset",
        description="Estimated quarter-end rebalancing trade, volatility regime and "
        "vol-target flow for one asset.",
    )
    parser.add_argument("asset", help="ticker or name: BTC, ETH, SPY, AGG, bitcoin ...")
    parser.add_argument(
        "--as-of", type=parse_date, metavar="DATE", help="YYYY-MM-DD (default: latest bar)"
    )
    add_source_options(parser)
    add_json_option(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from bot.cli.common import load_inputs
    from bot.render.status_text import render_status_text
    from flows.status import build_status, resolve_asset

    settings, registry, market = load_inputs(args)
    config = settings.analytics_config()

    # The status's `leveraged` part reads each fund's AUM from the registry it is given.
    symbol = resolve_asset(args.asset, registry).symbol
    funds = registry.leveraged_on(symbol)

    async def compute(live_registry):
        report = await build_status(args.asset, market, live_registry, args.as_of, config)
        if args.json:
            return report, None  # the JSON contract is the status alone
        from bot.flow_sources import status_ledger

        return report, await status_ledger(report, market, live_registry, settings, None)

    report, net = run_with_live_aum(
        "status",
        settings,
        market,
        registry,
        funds,
        compute,
        programs=registry.programs_holding(symbol),
    )
    if args.json:
        print_result(args, report, render_status_text)
        return 0
    from bot.render.why import net_row

    print(render_status_text(report, net_row(report.as_of, *net)))
    return 0
