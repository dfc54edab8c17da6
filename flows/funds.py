"""The fund registry: who rebalances, how big they are, and where that figure comes from.

A default registry (`flows/funds.toml`) ships with the package; a user's file replaces it whole.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, get_args

from flows.calendar import Schedule
from flows.errors import FundsFileError

WEIGHT_SUM_TOLERANCE = 1e-6
BUILT_IN = "built-in registry"


@dataclass(frozen=True, slots=True)
class RebalancingFund:
    """A fixed-weight fund that trades back to its targets at each period end."""

    name: str
    aum_usd: float
    rebalance: Schedule
    aum_source: str
    weights: dict[str, float]
    kind: str | None = None
    """etf, model_portfolio, guidance, index_fund, pension or balanced_fund (flows.fund_kinds);
    None: read from the name."""


@dataclass(frozen=True, slots=True)
class VolTargetFund:
    """An aggregate of funds that size exposure to an underlying by its realized volatility."""

    name: str
    underlying: str
    aum_usd: float
    target_vol: float
    max_exposure: float
    aum_source: str


@dataclass(frozen=True, slots=True)
class LeveragedFund:
    """A daily-reset leveraged or inverse ETF (leverage -3 ... +3)."""

    name: str
    underlying: str
    leverage: float
    aum_usd: float
    aum_source: str
    ticker: str | None = None
    aum_as_of: dt.date | None = None
    """When `aum_usd` was fetched from a data provider (`flows.leveraged.with_aum`); None for
    the fund file's own figure, whose date `aum_source` gives."""


@dataclass(frozen=True, slots=True)
class FundRegistry:
    funds: tuple[RebalancingFund, ...]
    vol_targets: tuple[VolTargetFund, ...] = ()
    leveraged: tuple[LeveragedFund, ...] = ()
    source: str = BUILT_IN
    symbols: frozenset[str] = field(default=frozenset())

    def holding(self, symbol: str) -> tuple[RebalancingFund, ...]:
        return tuple(fund for fund in self.funds if symbol in fund.weights)

    def vol_targets_on(self, symbol: str) -> tuple[VolTargetFund, ...]:
        return tuple(entry for entry in self.vol_targets if entry.underlying == symbol)

    def leveraged_on(self, symbol: str) -> tuple[LeveragedFund, ...]:
        return tuple(entry for entry in self.leveraged if entry.underlying == symbol)

    def all_symbols(self) -> frozenset[str]:
        symbols = {symbol for fund in self.funds for symbol in fund.weights}
        symbols |= {entry.underlying for entry in self.vol_targets}
        symbols |= {entry.underlying for entry in self.leveraged}
        return frozenset(symbols)


_FIELDS = {
    "fund": {"name", "aum_usd", "rebalance", "aum_source", "weights", "kind"},
    "vol_target": {"name", "underlying", "aum_usd", "target_vol", "max_exposure", "aum_source"},
    "leveraged": {"name", "underlying", "leverage", "aum_usd", "aum_source", "ticker"},
}
_OPTIONAL = {"ticker", "kind"}


def load_registry(path: str | Path | None = None) -> FundRegistry:
    """Read a fund file, or the built-in registry when `path` is None."""
    if path is None:
        text = resources.files("flows").joinpath("funds.toml").read_text(encoding="utf-8")
        return parse_registry(text, BUILT_IN)
    file_path = Path(path)
    try:
        text = file_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FundsFileError(f"funds file {file_path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FundsFileError(f"funds file {file_path} cannot be read: {exc}") from None
    return parse_registry(text, str(file_path))


def parse_registry(text: str, source: str) -> FundRegistry:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FundsFileError(f"funds file {source} is not valid TOML: {exc}") from None
    unknown_tables = set(document) - set(_FIELDS)
    if unknown_tables:
        raise FundsFileError(
            f"funds file {source}: unknown section {sorted(unknown_tables)[0]!r}; "
            "expected [[fund]], [[vol_target]] or [[leveraged]]"
        )
    context = _Context(text, source)
    funds = tuple(context.fund(entry) for entry in context.entries(document, "fund"))
    vol_targets = tuple(context.vol_target(e) for e in context.entries(document, "vol_target"))
    leveraged = tuple(context.leveraged(e) for e in context.entries(document, "leveraged"))
    if not funds and not vol_targets and not leveraged:
        raise FundsFileError(f"funds file {source} defines no [[fund]] entries")
    names = [entry.name for entry in (*funds, *vol_targets, *leveraged)]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise FundsFileError(
            f"funds file {source}{context.line_of(duplicates[0])}: "
            f"fund name {duplicates[0]!r} is used twice"
        )
    registry = FundRegistry(funds, vol_targets, leveraged, source)
    return FundRegistry(funds, vol_targets, leveraged, source, registry.all_symbols())


class _Context:
    """Validation with messages that name the fund and its line in the file."""

    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source

    def line_of(self, name: str) -> str:
        pattern = re.compile(r"^\s*name\s*=\s*[\"']" + re.escape(name) + r"[\"']", re.MULTILINE)
        match = pattern.search(self.text)
        return f" line {self.text.count(chr(10), 0, match.start()) + 1}" if match else ""

    def fail(self, kind: str, entry: dict[str, Any], problem: str) -> FundsFileError:
        name = entry.get("name")
        where = f"[[{kind}]] {name!r}{self.line_of(name)}" if isinstance(name, str) else kind
        return FundsFileError(f"funds file {self.source}, {where}: {problem}")

    def entries(self, document: dict[str, Any], kind: str) -> list[dict[str, Any]]:
        entries = document.get(kind, [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise FundsFileError(f"funds file {self.source}: write each entry as [[{kind}]]")
        for entry in entries:
            missing = _FIELDS[kind] - _OPTIONAL - set(entry)
            if missing:
                raise self.fail(kind, entry, f"missing {', '.join(sorted(missing))}")
            extra = set(entry) - _FIELDS[kind]
            if extra:
                raise self.fail(kind, entry, f"unknown field {sorted(extra)[0]!r}")
            if not isinstance(entry["name"], str) or not entry["name"].strip():
                raise self.fail(kind, entry, "name must be a non-empty string")
        return entries

    def number(self, kind: str, entry: dict[str, Any], key: str, *, positive: bool) -> float:
        value = entry[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise self.fail(kind, entry, f"{key} must be a number, got {value!r}")
        if positive and value <= 0:
            raise self.fail(kind, entry, f"{key} must be greater than 0, got {value!r}")
        return float(value)

    def text_field(self, kind: str, entry: dict[str, Any], key: str) -> str:
        value = entry[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(kind, entry, f"{key} must be a non-empty string")
        return value.strip()

    def fund(self, entry: dict[str, Any]) -> RebalancingFund:
        schedule = entry["rebalance"]
        if schedule not in get_args(Schedule):
            raise self.fail(
                "fund", entry, f"rebalance must be 'quarterly' or 'monthly', got {schedule!r}"
            )
        raw_weights = entry["weights"]
        if not isinstance(raw_weights, dict) or not raw_weights:
            raise self.fail("fund", entry, "weights must be a table like { SPY = 0.6, AGG = 0.4 }")
        weights: dict[str, float] = {}
        for symbol, weight in raw_weights.items():
            if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
                raise self.fail("fund", entry, f"weight of {symbol} must be a number above 0")
            weights[symbol.strip().upper()] = float(weight)
        total = sum(weights.values())
        if abs(total - 1.0) > WEIGHT_SUM_TOLERANCE:
            raise self.fail("fund", entry, f"weights sum to {total:.6g}, they must sum to 1")
        return RebalancingFund(
            name=entry["name"].strip(),
            aum_usd=self.number("fund", entry, "aum_usd", positive=True),
            rebalance=schedule,
            aum_source=self.text_field("fund", entry, "aum_source"),
            weights=weights,
            kind=self.text_field("fund", entry, "kind") if "kind" in entry else None,
        )

    def vol_target(self, entry: dict[str, Any]) -> VolTargetFund:
        return VolTargetFund(
            name=entry["name"].strip(),
            underlying=self.text_field("vol_target", entry, "underlying").upper(),
            aum_usd=self.number("vol_target", entry, "aum_usd", positive=True),
            target_vol=self.number("vol_target", entry, "target_vol", positive=True),
            max_exposure=self.number("vol_target", entry, "max_exposure", positive=True),
            aum_source=self.text_field("vol_target", entry, "aum_source"),
        )

    def leveraged(self, entry: dict[str, Any]) -> LeveragedFund:
        leverage = self.number("leveraged", entry, "leverage", positive=False)
        if leverage == 0 or leverage == 1 or abs(leverage) > 5:
            raise self.fail(
                "leveraged", entry, f"leverage must be in -5..5 and not 0 or 1, got {leverage:g}"
            )
        ticker = entry.get("ticker")
        if ticker is not None and (not isinstance(ticker, str) or not ticker.strip()):
            raise self.fail("leveraged", entry, "ticker must be a non-empty string")
        return LeveragedFund(
            name=entry["name"].strip(),
            underlying=self.text_field("leveraged", entry, "underlying").upper(),
            leverage=leverage,
            aum_usd=self.number("leveraged", entry, "aum_usd", positive=True),
            aum_source=self.text_field("leveraged", entry, "aum_source"),
            ticker=ticker.strip().upper() if ticker else None,
        )
