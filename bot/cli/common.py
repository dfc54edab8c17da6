"""Options shared by several sub-commands, and the plumbing to run an async handler."""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD") from None


def finite_float(text: str, example: str = "", *, shown: str | None = None) -> float:
    """A finite number; `example` goes after "is not a number" (" (e.g. 0.041)"), and the
    error quotes `shown` (what the user typed) when `text` is only part of it."""
    quoted = repr(text if shown is None else shown)
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{quoted} is not a number{example}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{quoted} is not a finite number")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def add_source_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--source",
        metavar="live|sample|PATH",
        help="market data: live (exchanges and Yahoo), sample (synthetic, offline) or a "
        "directory of SYMBOL.csv files (default: DATA_SOURCE setting, else live)",
    )
    parser.add_argument(
        "--funds",
        metavar="FILE",
        help="fund registry TOML replacing the built-in one (default: FUNDS_FILE setting)",
    )


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def load_inputs(args: argparse.Namespace):
    """The fund registry and market data the options (or settings) select."""
    from bot.settings import get_settings
    from flows.funds import load_registry
    from flows.marketdata import MarketData, open_source

    settings = get_settings()
    registry = load_registry(args.funds or settings.funds_file)
    source = open_source(
        args.source or settings.data_source, crypto_exchange=settings.crypto_exchange
    )
    return settings, registry, MarketData(source)


def run_with_market(market, work: Callable[[], Awaitable[T]]) -> T:
    """Run `work()` on a fresh event loop and close the market's connections however it ends."""

    import asyncio

    async def main() -> T:
        try:
            return await work()
        finally:
            await market.close()

    return asyncio.run(main())


def warn_once(command: str, warnings: Sequence[str]) -> None:
    """At most one line on stderr however many reference fetches failed; the output's basis
    says what was used instead."""
    if warnings:
        more = f" (and {len(warnings) - 1} more)" if len(warnings) > 1 else ""
        print(f"flows-bot {command}: warning: {warnings[0]}{more}", file=sys.stderr)


def progress(text: str) -> None:
    """A note before a slow fetch, for a person at a terminal only (never into a pipe)."""
    if sys.stderr.isatty():
        print(text, file=sys.stderr, flush=True)


def quiet_provider_logs() -> None:
    # yfinance and the reference refresher log each problem at WARNING, which a command without
    # logging set up prints through Python's last-resort handler; `warn_once` says it once.
    import logging

    for name in ("yfinance", "bot.reference"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


async def with_live_aum(
    settings, market, registry, funds: Iterable[Any], programs: Iterable[Any] = ()
) -> tuple[Any, list[str]]:
    """`registry` with live AUM for the listed leveraged `funds` and the `programs` that take
    theirs from a ticker, when the market's source is live (cached in the database for a
    day), and any warnings; unchanged otherwise."""
    from bot.reference import live_reference_source, open_reference

    funds, programs = list(funds), [p for p in programs if p.aum_live_ticker]
    if (not funds and not programs) or live_reference_source(market.source) is None:
        return registry, []
    quiet_provider_logs()
    async with open_reference(settings.database_url, market.source) as reference:
        live = await reference.registry_with_live_aum(registry, funds, programs)
        return live, reference.warnings


def run_with_live_aum(
    command: str,
    settings,
    market,
    registry,
    funds: Iterable[Any],
    compute: Callable[[Any], Awaitable[T]],
    programs: Iterable[Any] = (),
) -> T:
    """`compute(registry)` on a fresh event loop, the registry carrying live AUM for the listed
    leveraged `funds` and ticker-sized `programs` when the data is live; a failed AUM fetch
    costs one warning line."""

    async def work() -> tuple[T, list[str]]:
        live_registry, warnings = await with_live_aum(settings, market, registry, funds, programs)
        return await compute(live_registry), warnings

    result, warnings = run_with_market(market, work)
    warn_once(command, warnings)
    return result


def print_result(args: argparse.Namespace, result: Any, render_text: Callable[[Any], str]) -> None:
    """A result as `--json` asked: its JSON contract, else the text rendering."""
    if args.json:
        print_json(result.to_json_dict())
    else:
        print(render_text(result))


def print_json(payload: Any) -> None:
    import json

    json.dump(payload, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
