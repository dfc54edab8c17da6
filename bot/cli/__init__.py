"""`flows-bot` command line. Sub-commands live one per module and register themselves here.

Start-up stays fast: this module and the sub-command modules import only argparse at load time;
pandas, ccxt, yfinance and the bot's machinery load inside the handlers.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

COMMAND_MODULES = (
    "bot.cli.status",
    "bot.cli.calendar",
    "bot.cli.ask",
    "bot.cli.letf",
    "bot.cli.replay",
    "bot.cli.run",
    "bot.cli.positioning",
    "bot.cli.gamma",
    "bot.cli.funds",
    "bot.cli.track",
    "bot.cli.why",
    "bot.cli.doctor",
)

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but bad input is one line on stderr and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="flows-bot",
        description="Estimate mechanical market flows (rebalancing, vol targeting, leveraged "
        "ETFs) and alert traders in Slack, Discord or the console.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    subparsers.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def _prime_calendar() -> None:
    """The NYSE session table from the file cache (about 0.4 s saved per command). A problem
    here (settings that do not load) is left for the command itself to report."""
    from bot.calendar_cache import prime_calendar
    from bot.settings import get_settings

    try:
        cache_dir = get_settings().cache_dir
    except Exception:  # the command reports bad settings in its own words
        return
    prime_calendar(cache_dir)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from flows.errors import FlowsError

    _prime_calendar()

    try:
        return int(args.handler(args) or 0)
    except FlowsError as exc:
        message = str(exc)
        last_bar = getattr(exc, "last_bar", None)  # a StaleDataError: say which date would do
        if last_bar is not None:
            message += f"; pass {getattr(args, 'date_option', '--as-of')} {last_bar} or earlier"
        print(f"flows-bot {args.command}: error: {message}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # `flows-bot calendar --json | head`: the reader left; stop quietly, as Unix tools do.
        # Python would report the pipe again while flushing stdout at exit, so point it away.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:
        # A database fault (storage.errors.StorageError): one line, like bad input. Looked up
        # rather than imported, so commands that never touch the database do not load it.
        storage_errors = sys.modules.get("storage.errors")
        if storage_errors is None or not isinstance(exc, storage_errors.StorageError):
            raise
        print(f"flows-bot {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
