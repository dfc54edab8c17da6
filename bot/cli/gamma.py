"""`flows-bot gamma ASSET`: dealer gamma (GEX), the zero-gamma level, walls and hedge flows."""

from __future__ import annotations

import argparse

from bot.cli.common import add_json_option, finite_float, parse_date


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "gamma",
        help="dealer gamma: GEX, zero-gamma level, call/put walls, hedge flow",
        description="Dealer gamma exposure from the option chain, assuming dealers are long "
        "calls and short puts: GEX = sign·Γ·OI·multiplier·S²·0.01 (USD per 1% move), the "
        "zero-gamma (flip) level, the call and put walls, GEX per expiry and the hedge flow "
        "−GEX × move% for ±1% and ±2%. Chains: Yahoo Finance (equities), Deribit (BTC, ETH), "
        "a directory of SYMBOL_options.csv files, or SAMPLE DATA.",
    )
    parser.add_argument("asset", help="SPY, QQQ, IWM, BTC, ETH ...")
    parser.add_argument(
        "--as-of", type=parse_date, metavar="DATE", help="YYYY-MM-DD (default: the latest chain)"
    )
    parser.add_argument(
        "--source",
        metavar="live|sample|PATH",
        help="option chains and closes: live (Yahoo Finance, Deribit), sample (synthetic) or a "
        "directory with SYMBOL_options.csv and SYMBOL.csv (default: DATA_SOURCE setting)",
    )
    parser.add_argument(
        "--spot", type=finite_float, metavar="X", help="spot price (default: the close on the day)"
    )
    parser.add_argument(
        "--rate", type=finite_float, default=None, metavar="R", help="risk-free rate (default 0.04)"
    )
    parser.add_argument(
        "--chart", metavar="PATH", help="where to write the chart PNG (default: CHART_DIR)"
    )
    parser.add_argument("--no-chart", action="store_true", help="do not draw the chart")
    add_json_option(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from pathlib import Path

    from bot.cli.common import print_json, quiet_provider_logs, run_with_market
    from bot.render.gamma import gamma_chart, render_gamma_text
    from bot.settings import get_settings
    from flows.assets import get_asset
    from flows.gamma import build_gamma
    from flows.marketdata import MarketData, open_source
    from flows.models.gamma import DEFAULT_RATE, validate_rate, validate_spot
    from flows.options import chain_source_for

    rate = DEFAULT_RATE if args.rate is None else args.rate
    validate_rate(rate)
    if args.spot is not None:
        validate_spot(args.spot)
    asset = get_asset(args.asset)  # an unknown asset fails before anything is opened
    settings = get_settings()
    market = MarketData(
        open_source(args.source or settings.data_source, crypto_exchange=settings.crypto_exchange)
    )
    chains = chain_source_for(market.source)
    if chains.name == "live":
        quiet_provider_logs()  # the error, if any, is the one line bot.cli prints

    async def work():
        store = None
        source = chains
        if chains.name == "live":
            from bot.chaincache import CachedChainSource
            from storage.store import Store

            store = await Store.open(settings.database_url)
            source = CachedChainSource(chains, store)
        try:
            return await build_gamma(asset.symbol, market, source, args.as_of, args.spot, rate)
        finally:
            await chains.close()
            if store is not None:
                await store.close()

    result = run_with_market(market, work)
    chart = None
    if not args.no_chart:
        path = (
            Path(args.chart)
            if args.chart
            else (settings.chart_dir / f"gamma-{result.asset}-{result.as_of}.png")
        )
        chart = gamma_chart(result, path)
    if args.json:
        print_json(result.to_json_dict())
    else:
        print(render_gamma_text(result, chart))
    return 0
