"""`flows-bot ask "QUESTION"`: a plain-language question about mechanical flows, answered with a
verdict, the estimated trade, its window and its basis."""

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
        "ask",
        help="answer a question about mechanical flows in plain language",
        description='Answer a question such as "Will Bitcoin see selling pressure in the last '
        'week of June from rebalancing?" with a verdict (sell_pressure, buy_pressure, '
        "neutral, mixed or unknown), the estimated trade and % of liquidity, the window's NYSE "
        "sessions, the basis (funds, AUM, data) and what-ifs. An answer it cannot give comes "
        "back as "
        "verdict unknown with the reason (exit code 0).",
    )
    parser.add_argument("question", help="the question, in quotes")
    parser.add_argument(
        "--as-of",
        type=parse_date,
        metavar="DATE",
        help="YYYY-MM-DD (default: the latest date all the needed data covers)",
    )
    add_source_options(parser)
    add_json_option(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:

    from bot.cli.common import load_inputs
    from bot.reference import leveraged_funds_asked, programs_asked
    from bot.render.answer import render_answer_text
    from flows import freshness
    from flows.questions import answer_question

    today = freshness.today_utc()
    freshness.check_not_future(args.as_of, today)
    settings, registry, market = load_inputs(args)
    config = settings.analytics_config()
    funds = leveraged_funds_asked(args.question, registry)

    answer = run_with_live_aum(
        "ask",
        settings,
        market,
        registry,
        funds,
        lambda live_registry: answer_question(
            args.question, market, live_registry, args.as_of, config, today=today
        ),
        programs=programs_asked(args.question, registry),
    )
    print_result(args, answer, render_answer_text)
    return 0
