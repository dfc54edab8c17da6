"""`flows-bot why ASSET`: every mechanical flow of the day in one ledger, against real money."""

from __future__ import annotations

import argparse

from bot.cli.common import add_json_option, add_source_options, finite_float, parse_date


def _move(text: str) -> float:
    return finite_float(text, " (e.g. 0.041)")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "why",
        help="net mechanical flow of the day and the verdict: mechanical or conviction?",
        description="One row per mechanical flow (rebalancing, pension 60/40, vol-target funds, "
        "leveraged ETFs, dealer gamma hedging, short covering / liquidation) as a signed USD "
        "figure, real money (ETF creations/redemptions) apart, the net and the verdict. "
        "See docs/why.md.",
    )
    parser.add_argument("asset", help="BTC, ETH, SPY, QQQ ...")
    parser.add_argument(
        "--as-of", type=parse_date, metavar="DATE", help="YYYY-MM-DD (default: latest bar)"
    )
    parser.add_argument(
        "--move",
        type=_move,
        metavar="R",
        help="the move as a fraction (0.041 = +4.1 %%) instead of the day's close-to-close move",
    )
    add_source_options(parser)
    parser.add_argument("--chart", metavar="PATH", help="where to write the waterfall PNG")
    parser.add_argument("--no-chart", action="store_true", help="do not draw the chart")
    add_json_option(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bot.cli.common import (
        load_inputs,
        print_json,
        quiet_provider_logs,
        run_with_market,
        with_live_aum,
    )
    from bot.flow_sources import flow_sources, ledger_for
    from bot.render.why import render_why_text, why_chart
    from flows.models.leveraged import validate_move
    from flows.status import resolve_asset

    settings, registry, market = load_inputs(args)
    symbol = resolve_asset(args.asset, registry).symbol  # bad input fails before any fetch
    if args.move is not None:
        validate_move(args.move)
    live = getattr(market.source, "name", "") == "live" and not market.is_sample
    if live:
        quiet_provider_logs()

    async def work():
        store = None
        if live:
            from storage.store import Store

            store = await Store.open(settings.database_url)
        try:
            live_registry, _ = await with_live_aum(
                settings,
                market,
                registry,
                registry.leveraged_on(symbol),
                registry.programs_holding(symbol),
            )
            async with flow_sources(market, settings, store) as sources:
                return await ledger_for(
                    symbol,
                    market,
                    live_registry,
                    settings,
                    sources,
                    as_of=args.as_of,
                    move=args.move,
                )
        finally:
            if store is not None:
                await store.close()

    ledger = run_with_market(market, work)
    chart = None
    if not args.no_chart and (args.chart or not args.json):
        path = Path(args.chart) if args.chart else settings.chart_dir / _chart_name(ledger)
        chart = why_chart(ledger, path)
    if args.json:
        print_json(ledger.to_json_dict())
    else:
        print(render_why_text(ledger, chart))
    return 0


def _chart_name(ledger) -> str:
    return f"why-{ledger.asset}-{ledger.as_of}.png"
