"""Parsing and validating `/flows …` text. Pure: no I/O, nothing written.

Everything a user types passes here first; anything odd (too long, control characters, mention
syntax, unknown words) is rejected with a short reply so that nothing is changed and nothing the
bot echoes can ever ping a channel.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from flows.assets import find_asset

MAX_COMMAND_CHARS = 500
# The same tuple as storage.models.ALERT_KINDS (a test keeps them equal); not imported from there
# because parsing a command must not load the database layer.
ALERT_KINDS = (
    "quarter_end",
    "drift",
    "vol",
    "letf",
    "calendar",
    "positioning",
    "etf_flows",
    "gamma",
    "net_flow",
)
DEFAULT_KINDS = ("quarter_end", "drift", "vol")
KIND_ALIASES = {
    "quarter_end": "quarter_end",
    "quarter-end": "quarter_end",
    "quarterend": "quarter_end",
    "countdown": "quarter_end",
    "drift": "drift",
    "rebalance": "drift",
    "vol": "vol",
    "volatility": "vol",
    "vol_regime": "vol",
    "letf": "letf",
    "leveraged": "letf",
    "calendar": "calendar",
    "positioning": "positioning",
    "etf_flows": "etf_flows",
    "etf-flows": "etf_flows",
    "etf": "etf_flows",
    "gamma": "gamma",
    "dealer_gamma": "gamma",
    "gex": "gamma",
    "net_flow": "net_flow",
    "net-flow": "net_flow",
    "why": "net_flow",
}
SUBCOMMANDS = (
    "watch",
    "unwatch",
    "list",
    "status",
    "calendar",
    "mute",
    "unmute",
    "help",
    "ask",
    "positioning",
    "gamma",
    "funds",
    "track",
    "why",
)
SLOW_COMMANDS = frozenset(
    {"status", "ask", "calendar", "positioning", "gamma", "funds", "track", "why"}
)
"""Sub-commands that fetch market data or fund AUM: the chat adapters acknowledge them with a
'working' note at once (Slack and Discord want an answer within 3 s) and answer later."""
MAX_MUTE = dt.timedelta(days=30)

_MENTION = re.compile(r"@(everyone|here|channel)\b|<[!@#][^>]*>|<@&?\d+>|@&?\d{5,}", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
_USD = re.compile(r"^\$?(\d+(?:\.\d+)?)\s*(k|m|mm|bn|b|tn|t)?$", re.IGNORECASE)
_PCT = re.compile(r"^(\d+(?:\.\d+)?)\s*%\s*(adv)?$", re.IGNORECASE)
_DURATION = re.compile(r"^(\d+)\s*(m|min|h|hr|d|day|days|w)$", re.IGNORECASE)
_SCALE = {"k": 1e3, "m": 1e6, "mm": 1e6, "b": 1e9, "bn": 1e9, "t": 1e12, "tn": 1e12}
_DURATION_UNITS = {"m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400, "day": 86400}
_DURATION_UNITS |= {"days": 86400, "w": 7 * 86400}


class CommandError(Exception):
    """A short, helpful reply to bad input."""


@dataclass(frozen=True, slots=True)
class Threshold:
    """A drift alert threshold: USD, or a percentage of average daily volume."""

    usd: float | None = None
    pct_adv: float | None = None

    def describe(self) -> str:
        if self.usd is not None:
            from bot.render.numbers import usd

            return usd(self.usd)
        return f"{self.pct_adv:g}% of ADV"


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    name: str
    asset: str | None = None
    kinds: tuple[str, ...] = ()
    threshold: Threshold | None = None
    dm: bool = False
    days: int | None = None
    duration: dt.timedelta | None = None
    text: str = ""
    all_assets: bool = False


def _clean(text: str) -> str:
    if len(text) > MAX_COMMAND_CHARS:
        raise CommandError(f"That command is too long (over {MAX_COMMAND_CHARS} characters).")
    if _CONTROL.search(text):
        raise CommandError("That command contains control characters; please retype it.")
    if _MENTION.search(text):
        raise CommandError(
            "Mentions of people, roles, channels or everyone are not accepted in commands."
        )
    return " ".join(text.split())


def _asset(word: str) -> str:
    asset = find_asset(word)
    if asset is None:
        shown = word[:20]
        raise CommandError(f"Unknown asset '{shown}'. Try BTC, ETH, SPY or AGG (`/flows help`).")
    return asset.symbol


def parse_threshold(text: str) -> Threshold:
    value = text.strip()
    pct = _PCT.match(value)
    if pct:
        number = float(pct.group(1))
        if not 0 < number <= 1000:
            raise CommandError("A % of ADV threshold must be above 0 and at most 1000%.")
        return Threshold(pct_adv=number)
    usd = _USD.match(value.replace(",", ""))
    if usd:
        number = float(usd.group(1)) * _SCALE.get((usd.group(2) or "").lower(), 1.0)
        if number < 1e5:
            raise CommandError("A USD threshold must be at least $100k, e.g. threshold=250m.")
        return Threshold(usd=number)
    raise CommandError(
        f"Threshold '{value[:20]}' is not understood; use e.g. threshold=250m or threshold=5%."
    )


def parse_duration(text: str) -> dt.timedelta:
    match = _DURATION.match(text.strip())
    if not match:
        raise CommandError(f"'{text[:20]}' is not a duration; use e.g. 30m, 2h, 1d or 1w.")
    seconds = int(match.group(1)) * _DURATION_UNITS[match.group(2).lower()]
    if seconds <= 0 or seconds > MAX_MUTE.total_seconds():
        raise CommandError("Mute for between 1 minute and 30 days.")
    return dt.timedelta(seconds=seconds)


def parse_command(text: str) -> ParsedCommand:
    """Parse the text after `/flows`. Raises CommandError with the reply for bad input."""
    cleaned = _clean(text)
    words = cleaned.split(" ") if cleaned else []
    if not words:
        return ParsedCommand("help")
    name, args = words[0].lower(), words[1:]
    if name not in SUBCOMMANDS:
        raise CommandError(
            f"Unknown command '{name[:20]}'. Commands: {', '.join(SUBCOMMANDS)} (`/flows help`)."
        )
    if name == "watch":
        return _parse_watch(args)
    if name == "unwatch":
        return _parse_unwatch(args)
    if name == "status":
        if len(args) != 1:
            raise CommandError("Usage: `/flows status ASSET`, e.g. `/flows status BTC`.")
        return ParsedCommand("status", asset=_asset(args[0]))
    if name == "why":
        if len(args) != 1:
            raise CommandError("Usage: `/flows why ASSET`, e.g. `/flows why BTC`.")
        return ParsedCommand("why", asset=_asset(args[0]))
    if name == "gamma":
        if len(args) != 1:
            raise CommandError("Usage: `/flows gamma ASSET`, e.g. `/flows gamma SPY`.")
        return ParsedCommand("gamma", asset=_asset(args[0]))
    if name == "calendar":
        return _parse_calendar(args)
    if name == "positioning":
        if len(args) != 1:
            raise CommandError("Usage: `/flows positioning ASSET`, e.g. `/flows positioning BTC`.")
        return ParsedCommand("positioning", asset=_asset(args[0]))
    if name == "mute":
        if len(args) != 1:
            raise CommandError("Usage: `/flows mute DURATION`, e.g. `/flows mute 2h`.")
        return ParsedCommand("mute", duration=parse_duration(args[0]))
    if name == "ask":
        question = " ".join(args).strip()
        if not question:
            raise CommandError(
                "Usage: `/flows ask QUESTION`, e.g. `/flows ask Will BTC see selling pressure "
                "at the end of the quarter from rebalancing?`"
            )
        return ParsedCommand("ask", text=question)
    if name == "funds":
        if len(args) > 1:
            raise CommandError("Usage: `/flows funds [ASSET]`, e.g. `/flows funds BTC`.")
        return ParsedCommand("funds", asset=_asset(args[0]) if args else None)
    if name == "track":
        return _parse_track(args)
    if args:
        raise CommandError(f"`/flows {name}` takes no arguments (got '{' '.join(args)[:30]}').")
    return ParsedCommand(name)


def _parse_watch(args: list[str]) -> ParsedCommand:
    if not args:
        raise CommandError(
            f"Usage: `/flows watch ASSET [{'|'.join(ALERT_KINDS)}] [threshold=250m|5%] [dm]`"
        )
    asset = _asset(args[0])
    kinds: list[str] = []
    threshold: Threshold | None = None
    dm = False
    for word in args[1:]:
        lowered = word.lower()
        if lowered.startswith("threshold="):
            if threshold is not None:
                raise CommandError("Give one threshold only.")
            threshold = parse_threshold(word.split("=", 1)[1])
        elif lowered == "dm":
            dm = True
        elif lowered in KIND_ALIASES:
            kind = KIND_ALIASES[lowered]
            if kind not in kinds:
                kinds.append(kind)
        else:
            raise CommandError(
                f"'{word[:20]}' is not an alert kind or option. Kinds: {', '.join(ALERT_KINDS)}; "
                "options: threshold=250m, threshold=5%, dm."
            )
    return ParsedCommand(
        "watch", asset=asset, kinds=tuple(kinds) or DEFAULT_KINDS, threshold=threshold, dm=dm
    )


def _parse_unwatch(args: list[str]) -> ParsedCommand:
    dm = bool(args) and args[-1].lower() == "dm"
    rest = args[:-1] if dm else args
    if len(rest) != 1:
        raise CommandError("Usage: `/flows unwatch ASSET|all [dm]`.")
    if rest[0].lower() == "all":
        return ParsedCommand("unwatch", all_assets=True, dm=dm)
    return ParsedCommand("unwatch", asset=_asset(rest[0]), dm=dm)


def _parse_calendar(args: list[str]) -> ParsedCommand:
    if not args:
        return ParsedCommand("calendar", days=30)
    if len(args) == 1 and args[0].isdigit() and 1 <= int(args[0]) <= 366:
        return ParsedCommand("calendar", days=int(args[0]))
    raise CommandError("Usage: `/flows calendar [DAYS]` with DAYS from 1 to 366.")


def _parse_track(args: list[str]) -> ParsedCommand:
    """`/flows track ASSET [live|monthly]`: kinds carries the option word."""
    usage = "Usage: `/flows track ASSET [live|monthly]`, e.g. `/flows track BTC`."
    if not args or len(args) > 2:
        raise CommandError(usage)
    option = args[1].lower() if len(args) == 2 else ""
    if option not in ("", "live", "monthly"):
        raise CommandError(usage)
    return ParsedCommand("track", asset=_asset(args[0]), kinds=(option,) if option else ())
