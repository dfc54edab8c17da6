"""The fund registry: who rebalances, how big they are, and where that figure comes from.

A default registry (`flows/funds.toml`) ships with the package; a user's file replaces it whole.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from flows.errors import FundsFileError
from flows.program_model import (
    CALENDARS,
    GROUPS,
    KINDS,
    AumPoint,
    Band,
    Calendar,
    Rule,
    Source,
)

WEIGHT_SUM_TOLERANCE = 1e-6
BUILT_IN = "built-in registry"


@dataclass(frozen=True, slots=True)
class RebalancingFund:
    """A program holding sleeves at target weights: a fund, a model portfolio, an adviser's
    guidance (a scenario) or a stock/bond aggregate, with the rule it trades back to target by.

    `aum_usd` is the central figure in USD (live, or the registry's dated fallback); None when
    no figure is known (the program is listed, never sized). An old-format `[[fund]]` entry is a
    program of kind `custom` with a fixed AUM and a monthly or quarterly calendar.
    """

    name: str
    aum_usd: float | None
    rebalance: Calendar
    aum_source: str
    weights: dict[str, float]
    id: str = ""
    issuer: str | None = None
    kind: str = "custom"
    tickers: tuple[str, ...] = ()
    currency: str = "USD"
    vehicles: dict[str, str] = field(default_factory=dict)
    rule: Rule | None = None
    since: dt.date | None = None
    """When the sleeve started; dates before it do not count the program."""
    sources: tuple[Source, ...] = ()
    scenario: bool = False
    notes: str = ""
    aum_as_of: dt.date | None = None
    aum_low_usd: float | None = None
    aum_high_usd: float | None = None
    aum_history: tuple[AumPoint, ...] = ()
    aum_live_ticker: str | None = None
    """The listed ticker whose total assets are fetched live (`aum.from = "ticker"`)."""
    aum_live: bool = False
    """True when `aum_usd` was fetched from the live data source for this run."""
    registry_aum: dict[str, Any] = field(default_factory=dict)
    """The `aum` table as the registry file writes it (for `funds --json`)."""
    unsized: str | None = None
    """Why the registry lists this program without sizing it (e.g. its mix is not confirmed)."""

    @property
    def drifts(self) -> bool:
        """Whether drift from fixed targets forces trades (cap-weighted index funds: no)."""
        return self.kind != "index_fund"

    @property
    def sizable(self) -> bool:
        return self.drifts and self.aum_usd is not None and self.unsized is None

    def unsized_reason(self) -> str | None:
        """Why this program gets no trade figure; None when it is sized."""
        if not self.drifts:
            return "cap-weighted index fund: it does not drift from its own target, no drift trade"
        if self.unsized:
            return self.unsized
        if self.aum_usd is None:
            return "AUM unknown: no live figure and no dated fallback in the registry"
        return None

    @property
    def effective_rule(self) -> Rule:
        return self.rule or Rule(self.rebalance)

    def aum_range(self) -> tuple[float, float, float] | None:
        """(low, central, high) USD; equal values for a fixed figure; None when unknown."""
        if self.aum_usd is None:
            return None
        low = self.aum_low_usd if self.aum_low_usd is not None else self.aum_usd
        high = self.aum_high_usd if self.aum_high_usd is not None else self.aum_usd
        return low, self.aum_usd, high

    def aum_on(self, day: dt.date) -> tuple[float | None, str]:
        """The central AUM for a past (or present) `day` and how it was chosen: the latest
        dated point on or before it; when only later figures exist, the earliest, said so."""
        points = sorted(
            [*self.aum_history]
            + (
                [AumPoint(self.aum_as_of, self.aum_usd, self.aum_source)]
                if self.aum_usd is not None and self.aum_as_of is not None
                else []
            ),
            key=lambda point: point.date,
        )
        if not points:
            return self.aum_usd, self.aum_source
        before = [point for point in points if point.date <= day]
        if before:
            chosen = before[-1]
            if chosen.date == self.aum_as_of and chosen.usd == self.aum_usd:
                return chosen.usd, chosen.source  # the current figure, dated in its source
            return chosen.usd, f"{chosen.source} (figure of {chosen.date})"
        chosen = points[0]
        return chosen.usd, (
            f"{chosen.source} (only later figures exist: the {chosen.date} figure is used "
            f"for {day})"
        )


@dataclass(frozen=True, slots=True)
class VolTargetFund:
    """An aggregate of funds that size exposure to an underlying by its realized volatility."""

    name: str
    underlying: str
    aum_usd: float
    target_vol: float
    max_exposure: float
    aum_source: str
    aum_range_usd: tuple[float, float] | None = None
    """(low, high) around `aum_usd` from the published estimates, when the file gives them."""


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
    """When `aum_usd` was fetched from a data provider (`flows.models.leveraged.with_aum`); None for
    the fund file's own figure, whose date `aum_source` gives."""


@dataclass(frozen=True, slots=True)
class FundRegistry:
    funds: tuple[RebalancingFund, ...]
    """The programs that can be sized: drifting (not index funds), with a known AUM."""
    vol_targets: tuple[VolTargetFund, ...] = ()
    leveraged: tuple[LeveragedFund, ...] = ()
    source: str = BUILT_IN
    symbols: frozenset[str] = field(default=frozenset())
    programs: tuple[RebalancingFund, ...] = ()
    """Every program, sized or not, in file order (the `funds` command lists these)."""

    def holding(self, symbol: str) -> tuple[RebalancingFund, ...]:
        return tuple(fund for fund in self.funds if symbol in fund.weights)

    def programs_holding(self, symbol: str) -> tuple[RebalancingFund, ...]:
        return tuple(p for p in self.all_programs() if symbol in p.weights)

    def all_programs(self) -> tuple[RebalancingFund, ...]:
        return self.programs or self.funds

    def with_programs(self, programs: tuple[RebalancingFund, ...]) -> FundRegistry:
        """This registry with `programs` replacing its programs (e.g. carrying live AUM)."""
        return replace(self, programs=programs, funds=tuple(p for p in programs if p.sizable))

    def vol_targets_on(self, symbol: str) -> tuple[VolTargetFund, ...]:
        return tuple(entry for entry in self.vol_targets if entry.underlying == symbol)

    def leveraged_on(self, symbol: str) -> tuple[LeveragedFund, ...]:
        return tuple(entry for entry in self.leveraged if entry.underlying == symbol)

    def all_symbols(self) -> frozenset[str]:
        symbols = {symbol for fund in self.all_programs() for symbol in fund.weights}
        symbols |= {entry.underlying for entry in self.vol_targets}
        symbols |= {entry.underlying for entry in self.leveraged}
        return frozenset(symbols)


_FIELDS = {
    "program": {
        "id",
        "name",
        "issuer",
        "kind",
        "tickers",
        "currency",
        "sleeves",
        "vehicles",
        "rule",
        "aum",
        "since",
        "sources",
        "scenario",
        "notes",
        "unsized",
    },
    "fund": {"name", "aum_usd", "rebalance", "aum_source", "weights", "kind"},
    "vol_target": {
        "name",
        "underlying",
        "aum_usd",
        "target_vol",
        "max_exposure",
        "aum_source",
        "aum_range_usd",
    },
    "leveraged": {"name", "underlying", "leverage", "aum_usd", "aum_source", "ticker"},
}
_OPTIONAL = {
    "aum_range_usd",
    "kind",
    "ticker",
    "issuer",
    "tickers",
    "currency",
    "vehicles",
    "since",
    "scenario",
    "notes",
    "unsized",
}
_AUM_FIELDS = {
    "from",
    "fallback_usd",
    "usd",
    "low_usd",
    "central_usd",
    "high_usd",
    "as_of",
    "source",
    "history",
    "note",
}
_BAND_LIMITS = ("max_multiple", "max_weight", "max_drift_pts")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")


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
            "expected [[program]], [[fund]], [[vol_target]] or [[leveraged]]"
        )
    context = _Context(text, source)
    programs = tuple(context.program(entry) for entry in context.entries(document, "program"))
    programs += tuple(context.fund(entry) for entry in context.entries(document, "fund"))
    vol_targets = tuple(context.vol_target(e) for e in context.entries(document, "vol_target"))
    leveraged = tuple(context.leveraged(e) for e in context.entries(document, "leveraged"))
    if not programs and not vol_targets and not leveraged:
        raise FundsFileError(f"funds file {source} defines no [[fund]] entries (nor [[program]])")
    names = [entry.name for entry in (*programs, *vol_targets, *leveraged)]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise FundsFileError(
            f"funds file {source}{context.line_of(duplicates[0])}: "
            f"fund name {duplicates[0]!r} is used twice"
        )
    ids = [program.id for program in programs]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise FundsFileError(f"funds file {source}: program id {repeated[0]!r} is used twice")
    funds = tuple(program for program in programs if program.sizable)
    registry = FundRegistry(funds, vol_targets, leveraged, source, programs=programs)
    return replace(registry, symbols=registry.all_symbols())


def slug(name: str, empty: str = "unnamed") -> str:
    """A name as a stable id: lower-case words joined by "-" (`empty` when it has none)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or empty


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
        if schedule not in ("monthly", "quarterly"):
            raise self.fail(
                "fund", entry, f"rebalance must be 'quarterly' or 'monthly', got {schedule!r}"
            )
        weights = self.weights("fund", entry, "weights")
        return RebalancingFund(
            name=entry["name"].strip(),
            aum_usd=self.number("fund", entry, "aum_usd", positive=True),
            rebalance=schedule,
            aum_source=self.text_field("fund", entry, "aum_source"),
            weights=weights,
            id=slug(entry["name"], empty="fund"),
            kind=self.text_field("fund", entry, "kind") if "kind" in entry else "custom",
            rule=Rule(schedule),
        )

    # ------------------------------------------------------------------ [[program]]

    def program(self, entry: dict[str, Any]) -> RebalancingFund:
        kind = "program"
        ident = entry["id"]
        if not isinstance(ident, str) or not _SLUG.match(ident):
            raise self.fail(
                kind, entry, f"id must be a lowercase slug like 'fidelity-fbal', got {ident!r}"
            )
        program_kind = entry["kind"]
        if program_kind not in KINDS:
            raise self.fail(
                kind, entry, f"kind must be one of {', '.join(KINDS)}, got {program_kind!r}"
            )
        unsized = self.optional_text(kind, entry, "unsized")
        partial = unsized is not None or program_kind == "index_fund"
        weights = self.weights(kind, entry, "sleeves", partial=partial)
        vehicles = entry.get("vehicles", {})
        if not isinstance(vehicles, dict) or not all(
            isinstance(v, str) and v.strip() for v in vehicles.values()
        ):
            raise self.fail(kind, entry, 'vehicles must be a table like { BTC = "FBTC.TO" }')
        vehicles = {k.strip().upper(): v.strip() for k, v in vehicles.items()}
        if set(vehicles) - set(weights):
            extra = sorted(set(vehicles) - set(weights))[0]
            raise self.fail(kind, entry, f"vehicles names {extra}, which is not a sleeve")
        tickers = entry.get("tickers", [])
        if not isinstance(tickers, list) or not all(
            isinstance(t, str) and t.strip() for t in tickers
        ):
            raise self.fail(kind, entry, 'tickers must be a list like ["FBAL.TO"]')
        rule = self.rule(entry, weights)
        sources = self.sources(entry)
        aum = self.aum(entry, tickers, required=not partial)
        scenario = entry.get("scenario", False)
        if not isinstance(scenario, bool):
            raise self.fail(kind, entry, "scenario must be true or false")
        return RebalancingFund(
            name=entry["name"].strip(),
            aum_usd=aum["central"],
            rebalance=rule.calendar,
            aum_source=aum["source"],
            weights=weights,
            id=ident,
            issuer=self.optional_text(kind, entry, "issuer"),
            kind=program_kind,
            tickers=tuple(t.strip().upper() for t in tickers),
            currency=(self.optional_text(kind, entry, "currency") or "USD").upper(),
            vehicles=vehicles,
            rule=rule,
            since=self.date(kind, entry, entry.get("since"), "since", required=False),
            sources=sources,
            scenario=scenario,
            notes=self.optional_text(kind, entry, "notes") or "",
            aum_as_of=aum["as_of"],
            aum_low_usd=aum["low"],
            aum_high_usd=aum["high"],
            aum_history=aum["history"],
            aum_live_ticker=aum["live_ticker"],
            registry_aum=dict(entry["aum"]),
            unsized=unsized,
        )

    def weights(
        self, kind: str, entry: dict[str, Any], key: str, *, partial: bool = False
    ) -> dict[str, float]:
        """Target weights summing to 1 (to at most 1 when `partial`: an unsized program may
        list only the sleeves its documents give)."""
        raw = entry[key]
        if not isinstance(raw, dict) or not raw:
            raise self.fail(kind, entry, f"{key} must be a table like {{ SPY = 0.6, AGG = 0.4 }}")
        weights: dict[str, float] = {}
        for symbol, weight in raw.items():
            if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
                raise self.fail(kind, entry, f"{key}: weight of {symbol} must be a number above 0")
            weights[symbol.strip().upper()] = float(weight)
        total = sum(weights.values())
        if partial and total <= 1.0 + WEIGHT_SUM_TOLERANCE:
            return weights
        if abs(total - 1.0) > WEIGHT_SUM_TOLERANCE:
            raise self.fail(kind, entry, f"{key} sum to {total:.6g}, they must sum to 1")
        return weights

    def optional_text(self, kind: str, entry: dict[str, Any], key: str) -> str | None:
        if key not in entry:
            return None
        return self.text_field(kind, entry, key)

    def date(
        self, kind: str, entry: dict[str, Any], value: Any, key: str, *, required: bool
    ) -> dt.date | None:
        if value is None:
            if required:
                raise self.fail(kind, entry, f"missing {key}")
            return None
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise self.fail(kind, entry, f"{key} must be a date YYYY-MM-DD, got {value!r}")

    def rule(self, entry: dict[str, Any], weights: dict[str, float]) -> Rule:
        kind = "program"
        raw = entry["rule"]
        if not isinstance(raw, dict):
            raise self.fail(kind, entry, 'rule must be a table like { calendar = "quarterly" }')
        extra = set(raw) - {"calendar", "calendar_month", "bands"}
        if extra:
            raise self.fail(kind, entry, f"rule: unknown field {sorted(extra)[0]!r}")
        calendar = raw.get("calendar")
        if calendar not in CALENDARS:
            raise self.fail(
                kind,
                entry,
                f"rule.calendar must be one of {', '.join(CALENDARS)}, got {calendar!r}",
            )
        month = raw.get("calendar_month")
        if calendar == "annual":
            if month == "unknown":
                month = None
            elif isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
                raise self.fail(
                    kind,
                    entry,
                    "rule.calendar_month must be 1-12 or 'unknown' for an annual rule, "
                    f"got {month!r}",
                )
        elif month is not None:
            raise self.fail(kind, entry, "rule.calendar_month is only for an annual calendar")
        bands = raw.get("bands", [])
        if not isinstance(bands, list) or not all(isinstance(b, dict) for b in bands):
            raise self.fail(kind, entry, "rule.bands must be a list of tables")
        return Rule(calendar, month, tuple(self.band(entry, band, weights) for band in bands))

    def band(self, entry: dict[str, Any], raw: dict[str, Any], weights: dict[str, float]) -> Band:
        kind = "program"
        extra = set(raw) - {"asset", "group", "restores", *_BAND_LIMITS}
        if extra:
            raise self.fail(kind, entry, f"rule.bands: unknown field {sorted(extra)[0]!r}")
        limits = [key for key in _BAND_LIMITS if key in raw]
        if len(limits) != 1:
            raise self.fail(
                kind, entry, f"rule.bands: give exactly one of {', '.join(_BAND_LIMITS)}"
            )
        limit_key = limits[0]
        value = raw[limit_key]
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise self.fail(kind, entry, f"rule.bands.{limit_key} must be a number above 0")
        asset, group = raw.get("asset"), raw.get("group")
        if (asset is None) == (group is None):
            raise self.fail(kind, entry, "rule.bands: give either asset or group")
        if asset is not None:
            asset = str(asset).strip().upper()
            if asset not in weights:
                raise self.fail(kind, entry, f"rule.bands: asset {asset} is not a sleeve")
        elif group not in GROUPS:
            raise self.fail(kind, entry, f"rule.bands: group must be one of {', '.join(GROUPS)}")
        elif limit_key != "max_drift_pts":
            raise self.fail(kind, entry, "rule.bands: a group band takes max_drift_pts")
        restores = raw.get("restores", "all")
        if restores not in ("all", "sleeve"):
            raise self.fail(
                kind, entry, f"rule.bands.restores must be all or sleeve, got {restores!r}"
            )
        band = Band(asset=asset, group=group, restores=restores, **{limit_key: float(value)})
        members = band.members(list(weights))
        if not members:
            raise self.fail(kind, entry, f"rule.bands: no sleeve is in group {group!r}")
        target = sum(weights[m] for m in members)
        _, upper = band.limits(target)
        if upper is not None and upper <= target + 1e-12:
            raise self.fail(
                kind,
                entry,
                f"rule.bands.{limit_key}: the limit {upper:.4g} is not above the target weight "
                f"{target:.4g} of {band.asset or band.group}",
            )
        return band

    def sources(self, entry: dict[str, Any]) -> tuple[Source, ...]:
        kind = "program"
        raw = entry["sources"]
        if not isinstance(raw, list) or not raw:
            raise self.fail(kind, entry, "sources must list at least one { url, title, date }")
        result = []
        for item in raw:
            if not isinstance(item, dict) or set(item) != {"url", "title", "date"}:
                raise self.fail(kind, entry, "each of sources must be { url, title, date }")
            if not all(isinstance(item[k], str | dt.date) and str(item[k]).strip() for k in item):
                raise self.fail(kind, entry, "sources: url, title and date must be non-empty")
            result.append(
                Source(str(item["url"]).strip(), str(item["title"]).strip(), str(item["date"]))
            )
        return tuple(result)

    def aum(self, entry: dict[str, Any], tickers: list[str], *, required: bool) -> dict[str, Any]:
        kind = "program"
        raw = entry["aum"]
        if not isinstance(raw, dict):
            raise self.fail(kind, entry, "aum must be a table")
        extra = set(raw) - _AUM_FIELDS
        if extra:
            raise self.fail(kind, entry, f"aum: unknown field {sorted(extra)[0]!r}")

        def figure(key: str) -> float | None:
            if key not in raw:
                return None
            value = raw[key]
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise self.fail(kind, entry, f"aum.{key} must be a number above 0")
            return float(value)

        live = raw.get("from")
        if live is not None and live != "ticker":
            raise self.fail(kind, entry, f'aum.from must be "ticker", got {live!r}')
        if live and not tickers:
            raise self.fail(kind, entry, 'aum.from = "ticker" needs tickers')
        fixed, fallback = figure("usd"), figure("fallback_usd")
        low, central, high = figure("low_usd"), figure("central_usd"), figure("high_usd")
        ranged = (low, central, high) != (None, None, None)
        if ranged and None in (low, central, high):
            raise self.fail(kind, entry, "aum: a range needs low_usd, central_usd and high_usd")
        if ranged and not low <= central <= high:  # type: ignore[operator]
            raise self.fail(kind, entry, "aum: low_usd <= central_usd <= high_usd")
        given = [v for v in (fixed, fallback, central) if v is not None]
        if len(given) > 1:
            raise self.fail(kind, entry, "aum: give one of usd, fallback_usd or a range")
        if not given and not live and required:
            raise self.fail(kind, entry, 'aum: give usd, a range, or from = "ticker"')
        value = given[0] if given else None
        as_of = self.date(kind, entry, raw.get("as_of"), "aum.as_of", required=value is not None)
        source = raw.get("source")
        if value is not None and (not isinstance(source, str) or not source.strip()):
            raise self.fail(kind, entry, "missing aum.source")
        history = raw.get("history", [])
        if not isinstance(history, list):
            raise self.fail(kind, entry, "aum.history must be a list of { date, usd, source }")
        points = []
        for item in history:
            if not isinstance(item, dict) or set(item) != {"date", "usd", "source"}:
                raise self.fail(kind, entry, "each of aum.history must be { date, usd, source }")
            usd = item["usd"]
            if isinstance(usd, bool) or not isinstance(usd, int | float) or usd <= 0:
                raise self.fail(kind, entry, "aum.history: usd must be a number above 0")
            day = self.date(kind, entry, item["date"], "aum.history.date", required=True)
            points.append(AumPoint(day, float(usd), str(item["source"])))  # type: ignore[arg-type]
        if value is None and live:
            label = f"live total assets of {tickers[0]}; no fallback figure in the registry"
        elif value is None:
            label = "unknown"
        else:
            label = f"{source.strip()} (as of {as_of})"  # type: ignore[union-attr]
        return {
            "central": value,
            "low": low,
            "high": high,
            "as_of": as_of,
            "source": label,
            "history": tuple(sorted(points, key=lambda point: point.date)),
            "live_ticker": tickers[0].strip().upper() if live else None,
        }

    def vol_target(self, entry: dict[str, Any]) -> VolTargetFund:
        aum = self.number("vol_target", entry, "aum_usd", positive=True)
        bounds = entry.get("aum_range_usd")
        if bounds is not None:
            valid = (
                isinstance(bounds, list)
                and len(bounds) == 2
                and all(isinstance(b, int | float) and not isinstance(b, bool) for b in bounds)
                and 0 < bounds[0] <= aum <= bounds[1]
            )
            if not valid:
                raise self.fail(
                    "vol_target", entry, "aum_range_usd must be [low, high] around aum_usd"
                )
            bounds = (float(bounds[0]), float(bounds[1]))
        return VolTargetFund(
            aum_range_usd=bounds,
            name=entry["name"].strip(),
            underlying=self.text_field("vol_target", entry, "underlying").upper(),
            aum_usd=aum,
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


def with_program_aum(
    registry: FundRegistry,
    figures: Mapping[str, tuple[float, str, dt.date]],
    failed: Iterable[str] = (),
) -> FundRegistry:
    """The registry with live AUM for programs whose `aum.from = "ticker"`: `figures` maps the
    ticker to (aum_usd, source, day fetched). A program whose ticker is in `failed` keeps the
    registry's dated fallback figure, its source saying it is the fallback (or stays unsized
    when the registry has none)."""
    failed = set(failed)
    programs = []
    for program in registry.all_programs():
        ticker = program.aum_live_ticker
        if ticker in figures:
            aum, source, fetched = figures[ticker]
            program = replace(
                program,
                aum_usd=aum,
                aum_source=source,
                aum_as_of=fetched,
                aum_low_usd=None,
                aum_high_usd=None,
                aum_live=True,
            )
        elif ticker in failed and program.aum_usd is not None:
            program = replace(
                program,
                aum_source=f"registry fallback (live fetch failed): {program.aum_source}",
            )
        programs.append(program)
    return registry.with_programs(tuple(programs))


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    return value


def program_record(program: RebalancingFund) -> dict[str, Any]:
    """A program as the `funds --json` contract gives it: the registry's fields (an old-format
    `[[fund]]` entry in the same shape) plus `aum_usd`, `aum_as_of`, `aum_source` — the figure
    in use (live or the registry's), its date and where it comes from."""
    registry_aum = program.registry_aum or {
        "usd": program.aum_usd,
        "source": program.aum_source,
    }
    return {
        "id": program.id,
        "name": program.name,
        "issuer": program.issuer,
        "kind": program.kind,
        "tickers": list(program.tickers),
        "currency": program.currency,
        "sleeves": dict(program.weights),
        "vehicles": dict(program.vehicles),
        "rule": program.effective_rule.to_dict(),
        "aum": _json_value(registry_aum),
        "since": _json_value(program.since),
        "sources": [source.to_dict() for source in program.sources],
        "scenario": program.scenario,
        "notes": program.notes,
        "unsized": program.unsized,
        "aum_usd": program.aum_usd,
        "aum_as_of": _json_value(program.aum_as_of),
        "aum_source": program.aum_source,
    }


def programs_listing(registry: FundRegistry, asset: str | None = None) -> dict[str, Any]:
    """Every program (holding `asset` when given) for the `funds` command."""
    programs = registry.programs_holding(asset) if asset else registry.all_programs()
    return {
        "funds_source": registry.source,
        "asset": asset,
        "programs": [program_record(program) for program in programs],
    }
