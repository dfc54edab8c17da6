"""`flows-bot positioning ASSET`: short covering, liquidations, hedge unwinding and ETF flows."""

from __future__ import annotations

import argparse

from bot.cli.common import add_json_option, parse_date, positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "positioning",
        help="who is behind the move: short covering, new longs/shorts, ETF flows",
        description="Daily classification of the move from price and perpetual open interest "
        "(short covering, new longs, new shorts, long liquidation, mixed), the forced flow it "
        "implies, funding and long/short ratio, hedge unwinding (equities) and ETF creations/"
        "redemptions. See docs/positioning.md.",
    )
    parser.add_argument("asset", help="BTC, ETH, SOL, SPY, QQQ, IWM")
    parser.add_argument(
        "--as-of", type=parse_date, metavar="DATE", help="YYYY-MM-DD (default: latest bar)"
    )
    parser.add_argument(
        "--days", type=positive_int, default=10, metavar="N", help="days shown (default 10)"
    )
    parser.add_argument(
        "--source",
        metavar="live|sample|PATH",
        help="live (exchanges via ccxt, Yahoo), sample (synthetic) or a directory with "
        "SYMBOL.csv bars, SYMBOL_derivs.csv and etf_flows.csv (default: DATA_SOURCE)",
    )
    parser.add_argument("--chart", metavar="FILE", help="write the chart PNG here")
    add_json_option(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import asyncio
    import sys
    from pathlib import Path

    from bot.cli.common import print_json, quiet_provider_logs
    from bot.positioning_cache import positioning_config, positioning_for_market
    from bot.render.positioning_text import render_positioning_text
    from bot.settings import get_settings
    from flows.assets import get_asset
    from flows.marketdata import MarketData, open_source
    from flows.models.positioning import MAX_DAYS, build_positioning
    from flows.positioning import require_covered

    # Bad input fails here, before any data is fetched or anything is stored.
    asset = get_asset(args.asset).symbol
    require_covered(asset)
    if args.days > MAX_DAYS:
        from flows.errors import InputError

        raise InputError(f"--days must be at most {MAX_DAYS}")
    settings = get_settings()
    market = MarketData(
        open_source(args.source or settings.data_source, crypto_exchange=settings.crypto_exchange)
    )
    quiet_provider_logs()

    async def run():
        store = None
        try:
            if not market.is_sample and getattr(market.source, "name", "") == "live":
                from storage.store import Store

                store = await Store.open(settings.database_url)
            positioning = positioning_for_market(market, settings, store)
            try:
                return await build_positioning(
                    asset, market, positioning, args.as_of, args.days, positioning_config(settings)
                )
            finally:
                await positioning.close()
        finally:
            await market.close()
            if store is not None:
                await store.close()

    report = asyncio.run(run())
    chart_path = Path(args.chart) if args.chart else None
    if chart_path is None and not args.json:
        chart_path = settings.chart_dir / f"positioning-{asset}-{report.as_of}.png"
    if chart_path is not None:
        from bot.render.positioning_chart import positioning_chart

        try:
            positioning_chart(report, chart_path)
        except Exception as exc:  # a chart must never cost the numbers
            print(f"flows-bot positioning: warning: chart failed: {exc}", file=sys.stderr)
            chart_path = None
    if args.json:
        print_json(report.to_json_dict())
    else:
        print(render_positioning_text(report))
        if chart_path is not None:
            print(f"Chart: {chart_path}")
    return 0
