"""Positioning and real money: who is behind a move.

Daily, per asset:
- **classification** of the move from the close-to-close price change and the change in
  perpetual-futures open interest (OI), each against a dead band (default 0.5 % price, 1 % OI):
  price up & OI down = `short_covering`; up & up = `new_longs`; down & up = `new_shorts`;
  down & down = `long_liquidation`; either change inside its band = `mixed`; no OI = `unknown`.
- **funding weight**: funding confirms short covering when it rises from negative toward zero,
  new longs when it rises while positive, new shorts when it falls while negative, long
  liquidation when it falls while positive; a confirmed day's `weight` gains `funding_weight`.
- **forced flow** (USD): the size of the OI change, signed as the trade it forces — short
  covering buys back the OI drop (+), long liquidation sells it (−). New longs/shorts force
  nothing (0: positions were opened, not closed); mixed and unknown days are unknown (None).
- **hedge unwinding** (equities): inverse/hedging ETFs' outflows × |leverage| are short exposure
  coming off, i.e. buying of the index (+); reported with the VIX change (a falling VIX on an up
  day supports the reading). The proxy sees only listed inverse ETFs — not futures, options,
  swaps or single-stock shorts — and derives their flows from share counts.
- **real money**: the day's and trailing-5-session ETF flows per fund and in total;
  `client_participation` = real-money buying / (real-money + mechanical buying) that day, where
  mechanical buying is this model's forced buy plus hedge unwinding; unknown when either is.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from flows import calendar, freshness
from flows.assets import is_crypto
from flows.errors import FlowsError, InputError, MarketDataError
from flows.freshness import DataLag
from flows.marketdata import MarketData
from flows.models.estimate import Confidence, FlowEstimate, FlowTiming
from flows.positioning.data import (
    PositioningSource,
    etf_funds,
    has_derivatives,
    require_covered,
)
from flows.results import Result

Classification = Literal[
    "short_covering", "new_longs", "new_shorts", "long_liquidation", "mixed", "unknown"
]
CLASSIFICATION_LABELS: dict[str, str] = {
    "short_covering": "short covering",
    "new_longs": "new longs",
    "new_shorts": "new shorts",
    "long_liquidation": "long liquidation",
    "mixed": "mixed",
    "unknown": "unknown",
}
"""Each classification in words, in display order."""

DEFAULT_DAYS = 10
MAX_DAYS = 365
TRAILING_SESSIONS = 5


@dataclass(frozen=True, slots=True)
class PositioningConfig:
    price_band_pct: float = 0.5
    """|price change| at or below this (%) is inside the dead band: `mixed`."""
    oi_band_pct: float = 1.0
    """|OI change| at or below this (%) is inside the dead band: `mixed`."""
    funding_weight: float = 0.25
    """Added to a classified day's weight (base 0.5) when funding confirms it."""


def classify(
    price_change_pct: float | None,
    oi_change_pct: float | None,
    config: PositioningConfig = PositioningConfig(),
) -> Classification:
    if price_change_pct is None or oi_change_pct is None:
        return "unknown"
    if abs(price_change_pct) <= config.price_band_pct or abs(oi_change_pct) <= config.oi_band_pct:
        return "mixed"
    if price_change_pct > 0:
        return "short_covering" if oi_change_pct < 0 else "new_longs"
    return "new_shorts" if oi_change_pct > 0 else "long_liquidation"


def funding_confirms(
    classification: Classification, previous: float | None, current: float | None
) -> bool | None:
    """Whether funding moved the way the classification expects; None when unknown."""
    if previous is None or current is None or classification in ("mixed", "unknown"):
        return None
    if classification == "short_covering":
        return previous < 0 and current > previous
    if classification == "new_longs":
        return current > 0 and current > previous
    if classification == "new_shorts":
        return current < 0 and current < previous
    return previous > 0 and current < previous  # long_liquidation


def forced_flow(classification: Classification, oi_change_usd: float | None) -> float | None:
    if oi_change_usd is None or classification in ("mixed", "unknown"):
        return None
    if classification == "short_covering":
        return abs(oi_change_usd)
    if classification == "long_liquidation":
        return -abs(oi_change_usd)
    return 0.0


def client_participation(
    etf_flow_usd: float | None, mechanical_usd: Iterator[float | None] | list[float | None]
) -> float | None:
    """Real-money share of the day's buying; None when a part is unknown or nobody bought."""
    parts = list(mechanical_usd)
    if etf_flow_usd is None or any(part is None for part in parts):
        return None
    real = max(etf_flow_usd, 0.0)
    mechanical = sum(max(part or 0.0, 0.0) for part in parts)
    total = real + mechanical
    return None if total <= 0 else real / total


class PositioningDay(Result):
    date: dt.date
    price_change_pct: float | None
    oi_change_usd: float | None
    funding_rate: float | None
    long_short_ratio: float | None
    classification: Classification
    forced_flow_usd: float | None
    etf_flow_usd: float | None
    etf_flows_by_fund: dict[str, float | None]
    # Extensions beyond the contract:
    close: float | None = None
    open_interest_usd: float | None = None
    oi_change_pct: float | None = None
    funding_confirms: bool | None = None
    weight: float | None = None
    etf_flow_5d_usd: float | None = None
    hedge_unwind_usd: float | None = None
    vix_change_pct: float | None = None
    client_participation: float | None = None


class PositioningReport(Result):
    asset: str
    as_of: dt.date
    days: list[PositioningDay]
    source: str
    basis: str
    sample: bool
    derivatives: bool
    """True when the asset has a perpetual-futures series here (crypto)."""
    etf_flow_5d_by_fund: dict[str, float | None]
    etf_flow_5d_usd: float | None
    fund_methods: dict[str, str]
    flows_confidence: Confidence
    notes: list[str]
    price_band_pct: float
    oi_band_pct: float
    data_lag: DataLag | None = None
    """Set when no as-of was named and the data ends more than the allowance before today."""

    def to_json_dict(self) -> dict:
        return self.model_dump(mode="json")

    @property
    def latest(self) -> PositioningDay:
        return self.days[-1]

    def estimates(self) -> list[FlowEstimate]:
        """`positioning` (forced flow / hedge unwinding) and `etf_flows` estimates per day."""
        kind = "continuous" if is_crypto(self.asset) else "at_close"
        out: list[FlowEstimate] = []
        for day in self.days:
            timing = FlowTiming(kind=kind, start=day.date)
            forced = day.forced_flow_usd
            reason = None
            if forced is None:
                reason = (
                    "price or OI change inside the dead band (mixed)"
                    if day.classification == "mixed"
                    else "no open-interest or hedging-ETF data for the day"
                )
            out.append(
                FlowEstimate(
                    source="positioning",
                    asset=self.asset,
                    usd=forced,
                    timing=timing,
                    basis=f"{day.classification}; {self.basis}",
                    confidence="estimated",
                    unknown_reason=reason,
                )
            )
            out.append(
                FlowEstimate(
                    source="etf_flows",
                    asset=self.asset,
                    usd=day.etf_flow_usd,
                    timing=FlowTiming(kind="at_close", start=day.date),
                    basis=f"ETF net creations ({', '.join(sorted(day.etf_flows_by_fund))}); "
                    f"{self.source}",
                    confidence=self.flows_confidence,
                    unknown_reason=None
                    if day.etf_flow_usd is not None
                    else _no_etf_flow_reason(day.date),
                )
            )
        return out


def _no_etf_flow_reason(day: dt.date) -> str:
    if not calendar.is_session(day):
        # Real money still trades crypto on the day; the ETF proxy for it is closed.
        return f"no NYSE session on {day}: US-listed ETFs neither create nor redeem"
    return "no ETF flow published or derivable for the day"


def _num(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return number if math.isfinite(number) else None


def _pct(now: float | None, before: float | None) -> float | None:
    if now is None or before is None or before == 0:
        return None
    return 100.0 * (now / before - 1.0)


def positioning_from_frames(
    asset: str,
    bars: pd.DataFrame,
    derivs: pd.DataFrame | None,
    flows: pd.DataFrame,
    vix: pd.Series | None,
    as_of: dt.date,
    days: int,
    *,
    source_label: str,
    sample: bool,
    fund_methods: Mapping[str, str],
    flows_confidence: Confidence,
    notes: list[str] | None = None,
    config: PositioningConfig = PositioningConfig(),
) -> PositioningReport:
    """The pure model: frames already fetched (bars validated; derivs per module doc)."""
    asset = asset.upper()
    closes = bars["close"].loc[: pd.Timestamp(as_of)]
    if len(closes) < 2:
        raise InputError(f"{asset}: need at least two closes up to {as_of}")
    all_days = closes.index
    shown = all_days[-days:]
    funds = [f for f in etf_funds() if f.asset == asset]
    real_tickers = [f.ticker for f in funds if f.kind in ("spot", "index")]
    inverse = {f.ticker: f.leverage for f in funds if f.kind == "inverse"}
    by_day_fund: dict[tuple[pd.Timestamp, str], float] = {}
    if not flows.empty:
        for row in flows.itertuples(index=False):
            by_day_fund[(pd.Timestamp(row.date), str(row.fund))] = float(row.flow_usd)
    flow_days = sorted({d for d, _ in by_day_fund})
    sessions_with_flows = set(flow_days)

    def real_money(day: pd.Timestamp) -> tuple[float | None, dict[str, float | None]]:
        if day not in sessions_with_flows:
            return None, {}
        per_fund = {t: by_day_fund.get((day, t)) for t in real_tickers}
        known = [v for v in per_fund.values() if v is not None]
        return (float(sum(known)) if known else None), per_fund

    def hedge(day: pd.Timestamp) -> float | None:
        known = [(t, by_day_fund[(day, t)]) for t in inverse if (day, t) in by_day_fund]
        if not known:
            return None
        return float(sum(-flow * abs(inverse[t]) for t, flow in known))

    rows: list[PositioningDay] = []
    for day in shown:
        position = all_days.get_loc(day)
        previous = all_days[position - 1] if position > 0 else None
        price_pct = _pct(
            _num(closes[day]), _num(closes[previous]) if previous is not None else None
        )
        oi_now = oi_before = funding = funding_before = ratio = None
        if derivs is not None and day in derivs.index:
            oi_now = _num(derivs.at[day, "open_interest_usd"])
            funding = _num(derivs.at[day, "funding_rate"])
            ratio = _num(derivs.at[day, "long_short_ratio"])
            if previous is not None and previous in derivs.index:
                oi_before = _num(derivs.at[previous, "open_interest_usd"])
                funding_before = _num(derivs.at[previous, "funding_rate"])
        oi_change = oi_now - oi_before if oi_now is not None and oi_before is not None else None
        oi_pct = _pct(oi_now, oi_before)
        label = classify(price_pct, oi_pct, config)
        confirms = funding_confirms(label, funding_before, funding)
        weight = None
        if label not in ("mixed", "unknown"):
            weight = 0.5 + (config.funding_weight if confirms else 0.0)
        forced = forced_flow(label, oi_change)
        etf_total, per_fund = real_money(day)
        hedge_usd = None if has_derivatives(asset) else hedge(day)
        if not has_derivatives(asset):
            forced = hedge_usd  # equities: the forced-flow column is the hedge-unwinding proxy
        vix_pct = None
        if vix is not None and day in vix.index and previous is not None and previous in vix.index:
            vix_pct = _pct(_num(vix[day]), _num(vix[previous]))
        trailing = [d for d in flow_days if d <= day][-TRAILING_SESSIONS:]
        trailing_known = [v for d in trailing if (v := real_money(d)[0]) is not None]
        # A mixed day's OI change is inside its dead band: no forced flow worth counting.
        mechanical_part = 0.0 if label == "mixed" and forced is None else forced
        mechanical = [mechanical_part if has_derivatives(asset) else hedge_usd]
        rows.append(
            PositioningDay(
                date=day.date(),
                price_change_pct=price_pct,
                oi_change_usd=oi_change,
                funding_rate=funding,
                long_short_ratio=ratio,
                classification=label,
                forced_flow_usd=forced,
                etf_flow_usd=etf_total,
                etf_flows_by_fund=per_fund,
                close=_num(closes[day]),
                open_interest_usd=oi_now,
                oi_change_pct=oi_pct,
                funding_confirms=confirms,
                weight=weight,
                etf_flow_5d_usd=float(sum(trailing_known)) if trailing_known else None,
                hedge_unwind_usd=hedge_usd,
                vix_change_pct=vix_pct,
                client_participation=client_participation(etf_total, mechanical),
            )
        )
    last_flow_days = [d for d in flow_days if d <= shown[-1]][-TRAILING_SESSIONS:]
    by_fund_5d: dict[str, float | None] = {}
    for ticker in real_tickers:
        known = [by_day_fund[(d, ticker)] for d in last_flow_days if (d, ticker) in by_day_fund]
        by_fund_5d[ticker] = float(sum(known)) if known else None
    known_totals = [v for v in by_fund_5d.values() if v is not None]
    basis_parts = [
        f"dead bands {config.price_band_pct:g}% price, {config.oi_band_pct:g}% OI",
        f"data: {source_label}",
    ]
    if has_derivatives(asset):
        basis_parts.insert(0, "OI and funding of the USDT-margined perpetual")
    else:
        basis_parts.insert(
            0,
            "no perpetual for this asset: forced flow = hedge-unwinding proxy "
            f"(outflows × |leverage| of {', '.join(sorted(inverse)) or 'no inverse ETF'})",
        )
    if real_tickers:
        derived = ", derived from share counts" if flows_confidence == "estimated" else ""
        basis_parts.append(
            f"ETF flows of {', '.join(real_tickers)} ({flows_confidence}"
            f"{'' if sample else derived})"
        )
    return PositioningReport(
        asset=asset,
        as_of=shown[-1].date(),
        days=rows,
        source=source_label,
        basis="; ".join(basis_parts),
        sample=sample,
        derivatives=has_derivatives(asset),
        etf_flow_5d_by_fund=by_fund_5d,
        etf_flow_5d_usd=float(sum(known_totals)) if known_totals else None,
        fund_methods={t: fund_methods.get(t, "") for t in [*real_tickers, *inverse]},
        flows_confidence=flows_confidence,
        notes=list(dict.fromkeys(notes or [])),
        price_band_pct=config.price_band_pct,
        oi_band_pct=config.oi_band_pct,
    )


def _lookback(asset: str, days: int) -> dt.timedelta:
    if is_crypto(asset):
        return dt.timedelta(days=days + 10)
    return dt.timedelta(days=int(days * 1.5) + 20)


def source_label_of(market: MarketData, positioning: PositioningSource) -> str:
    from flows.status import source_label

    bars = source_label(market)
    label = getattr(positioning, "description", positioning.name)
    if label == bars or positioning.is_sample:
        return bars
    return f"prices: {bars}; positioning: {label}"


async def build_positioning(
    asset: str,
    market: MarketData,
    positioning: PositioningSource,
    as_of: dt.date | None = None,
    days: int = DEFAULT_DAYS,
    config: PositioningConfig = PositioningConfig(),
    *,
    today: dt.date | None = None,
) -> PositioningReport:
    """Fetch prices, derivatives history, ETF flows (and VIX for equities) and run the model."""
    asset = asset.upper()
    require_covered(asset)
    if not 1 <= days <= MAX_DAYS:
        raise InputError(f"--days must be between 1 and {MAX_DAYS} (got {days})")
    today = today or freshness.today_utc()
    freshness.check_not_future(as_of, today)
    end = as_of or today
    lookback = _lookback(asset, days)
    try:
        report = await _fetch_and_model(
            asset, market, positioning, end - lookback, end, days, config
        )
    except MarketDataError as exc:
        if as_of is not None or exc.symbol != asset:
            raise
        # Nothing in the window to today: answer as of the last bar and say how old it is.
        last = (await market.recent_bars(asset, end, lookback.days, older=True)).index[-1].date()
        report = await _fetch_and_model(
            asset, market, positioning, last - lookback, last, days, config
        )
    lag = freshness.data_lag(report.as_of, today) if as_of is None else None
    return report.model_copy(update={"data_lag": lag}) if lag else report


async def _fetch_and_model(
    asset: str,
    market: MarketData,
    positioning: PositioningSource,
    start: dt.date,
    end: dt.date,
    days: int,
    config: PositioningConfig,
) -> PositioningReport:
    bars_task = market.bars(asset, start, end)
    derivs_task = positioning.derivatives(asset, start, end) if has_derivatives(asset) else _none()
    flows_task = positioning.etf_flows(asset, start, end)
    vix_task = _none() if is_crypto(asset) else market.bars("VIX", start, end)
    bars, derivs, flows, vix = await asyncio.gather(
        bars_task, derivs_task, flows_task, vix_task, return_exceptions=True
    )
    for result in (bars, derivs, flows):
        if isinstance(result, BaseException):
            raise result
    notes = list(getattr(positioning, "notes", []) or [])
    vix_closes = None
    if isinstance(vix, BaseException):
        notes.append(f"VIX unavailable: {vix}")
    elif vix is not None:
        vix_closes = vix["close"]
    if derivs is not None and derivs.empty:
        raise FlowsError(f"{asset}: no derivatives history between {start} and {end}")
    return positioning_from_frames(
        asset,
        bars,
        derivs,
        flows,
        vix_closes,
        bars.index[-1].date(),
        days,
        source_label=source_label_of(market, positioning),
        sample=market.is_sample or positioning.is_sample,
        fund_methods={f.ticker: positioning.flows_method(f.ticker) for f in etf_funds()},
        flows_confidence=positioning.flows_confidence,
        notes=notes,
        config=config,
    )


async def _none() -> None:
    return None
