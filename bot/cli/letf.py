"""`flows-bot letf UNDERLYING`: leveraged and inverse ETFs' rebalance into the close."""

from __future__ import annotations

import argparse

from bot.cli.common import (
    add_json_option,
    add_source_options,
    finite_float,
    parse_date,
    print_result,
    run_with_live_aum,
)


def parse_move(text: str) -> float:
    """A fraction (-0.05) or a percentage with its sign (-5%); the range is checked later so the
    message can suggest the fraction a user probably meant."""
    raw = text.strip()
    percent = raw.endswith("%")
    hint = "; give the move as a fraction, e.g. -0.05 for −5%"
    value = finite_float(raw[:-1] if percent else raw, hint, shown=text)
    return value / 100.0 if percent else value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "letf",
        help="leveraged/inverse ETF rebalance trade in one underlying",
        description="Estimated end-of-day rebalance of the leveraged and inverse ETFs on one "
        "underlying: A · L · (L − 1) · r per fund, always in the direction of the move. "
        "With --move, for that hypothetical move; otherwise for the actual close-to-close "
        "move on --as-of (default: the latest bar).",
    )
    parser.add_argument("underlying", help="QQQ, SPY, SOXX, IWM, BTC, ETH ...")
    parser.add_argument(
        "--as-of", type=parse_date, metavar="DATE", help="YYYY-MM-DD (default: latest bar)"
    )
    parser.add_argument(
        "--move",
        type=parse_move,
        metavar="R",
        help="hypothetical move of the underlying as a fraction between -0.9 and 0.9 "
        "(-0.05 = −5%%; --move=-5%% also works)",
    )
    add_source_options(parser)
    add_json_option(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from bot.cli.common import load_inputs
    from bot.render.letf_text import render_letf_text
    from flows.models.leveraged import build_letf, funds_on, validate_move
    from flows.status import source_label

    if args.move is not None:
        validate_move(args.move)
    settings, registry, market = load_inputs(args)
    # Fail on an uncovered underlying before any data is fetched.
    funds = funds_on(args.underlying, registry)

    estimate = run_with_live_aum(
        "letf",
        settings,
        market,
        registry,
        funds,
        lambda live_registry: build_letf(
            args.underlying, market, live_registry, args.as_of, args.move, source_label(market)
        ),
    )
    print_result(args, estimate, render_letf_text)
    return 0
