"""Positioning and real money for the question engine: `positioning` (short covering and long
liquidations from perpetual open interest; hedge unwinding for equities) and `etf_flows` (ETF
creations/redemptions). Both read what already traded, so they fetch their data in `prefetch`
(the engine hands it back in `ChannelInput.extras`) and size the window's days that are known."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flows.errors import FlowsError
from flows.funds import FundRegistry
from flows.models.positioning import (
    CLASSIFICATION_LABELS as LABELS,
)
from flows.models.positioning import (
    MAX_DAYS,
    PositioningDay,
    PositioningReport,
)
from flows.positioning import covered_assets, funds_for, positioning_source_for
from flows.positioning.data import has_derivatives
from flows.questions.channels.base import ChannelInput, not_sized, register_channel, sized
from flows.questions.results import ChannelFlow
from flows.questions.windows import ResolvedWindow
from flows.questions.wording import usd


@dataclass(frozen=True, slots=True)
class Prefetched:
    report: PositioningReport
    assumed_asset: bool


async def _prefetch(
    symbol: str, market, window: ResolvedWindow, as_of: dt.date, parsed
) -> Prefetched:
    from flows.models.positioning import build_positioning

    end = min(window.end, as_of)
    days = max(1, min(MAX_DAYS, (end - window.start).days + 1 + 1))
    source = positioning_source_for(market)
    try:
        report = await build_positioning(symbol, market, source, end, days)
    finally:
        if getattr(market, "positioning", None) is None:
            await source.close()
    return Prefetched(report, bool(getattr(parsed, "assets_assumed", False)))


def _window_days(
    inputs: ChannelInput, name: str
) -> tuple[list[PositioningDay], Prefetched | None, str]:
    data = inputs.extras.get(name)
    if isinstance(data, FlowsError):
        return [], None, f"data unavailable: {data}"
    if not isinstance(data, Prefetched):
        return [], None, "no positioning data was fetched"
    window = inputs.window
    if window.start > inputs.as_of:
        return (
            [],
            data,
            (
                f"this reads what already traded; {window.label} has not started (as of "
                f"{inputs.as_of})"
            ),
        )
    days = [d for d in data.report.days if window.start <= d.date <= window.end]
    return days, data, ""


def _prefix(data: Prefetched, asset: str, window: ResolvedWindow, days: list[PositioningDay]):
    assumed = " (no asset named: BTC assumed)" if data.assumed_asset else ""
    span = f"{days[0].date} to {days[-1].date}" if days else window.label
    return f"{asset}{assumed}, {span}"


class PositioningChannel:
    name = "positioning"
    label = "short covering / liquidations (perpetual open interest)"

    def covers(self, symbol: str, registry: FundRegistry) -> bool:
        return symbol in covered_assets() and (
            has_derivatives(symbol) or bool(funds_for(symbol, ("inverse",)))
        )

    def symbols(self, symbol: str, registry: FundRegistry) -> set[str]:
        return {symbol}

    prefetch = staticmethod(_prefetch)

    def estimate(self, inputs: ChannelInput) -> ChannelFlow:
        days, data, problem = _window_days(inputs, self.name)
        if data is None or problem:
            return not_sized(self, problem)
        asset = inputs.asset.symbol
        known = [d for d in days if d.forced_flow_usd is not None]
        head = _prefix(data, asset, inputs.window, days)
        if not has_derivatives(asset):
            if not known:
                return not_sized(self, "no inverse-ETF flows known in the window")
            total = float(sum(d.forced_flow_usd or 0.0 for d in known))
            detail = (
                f"{head}: hedge unwinding (inverse-ETF outflows × |leverage|) nets "
                f"{usd(total, signed=True)} over {len(known)} session(s); VIX "
                + ", ".join(
                    f"{d.date:%b %d} {d.vix_change_pct:+.1f}%"
                    for d in days
                    if d.vix_change_pct is not None
                )
                + ". This proxy sees listed inverse ETFs only, not futures, options or swaps."
            )
            return sized(self, total, inputs.neutral_band_usd, funds=[], detail=detail)
        counts = {label: [d for d in days if d.classification == label] for label in LABELS}
        parts = [
            f"{len(items)} {LABELS[label]} day(s)"
            + (
                " ("
                + ", ".join(
                    f"{d.date:%b %d} {usd(d.forced_flow_usd or 0.0, signed=True)}" for d in items
                )
                + ")"
                if label in ("short_covering", "long_liquidation") and items
                else ""
            )
            for label, items in counts.items()
            if items
        ]
        latest = days[-1] if days else None
        latest_text = ""
        if latest is not None:
            funding = (
                f", funding {latest.funding_rate * 100:+.4f}%/8h"
                if latest.funding_rate is not None
                else ""
            )
            oi = usd(latest.oi_change_usd, signed=True)
            price = (
                f"{latest.price_change_pct:+.2f}%"
                if latest.price_change_pct is not None
                else "unknown"
            )
            latest_text = (
                f" Latest, {latest.date}: {LABELS[latest.classification]} (price {price}, "
                f"open interest {oi}{funding})."
            )
        covering = counts["short_covering"]
        verdict = (
            f"Yes: shorts covered on {len(covering)} of {len(days)} day(s)"
            if covering
            else f"No short-covering day in {len(days)} day(s)"
        )
        detail = (
            f"{verdict} — {head}: {'; '.join(parts) or 'no days'}."
            f"{latest_text} Dead bands {data.report.price_band_pct:g}% price, "
            f"{data.report.oi_band_pct:g}% OI."
        )
        if not known:
            return not_sized(self, "every day in the window is mixed or unknown", detail=detail)
        total = float(sum(d.forced_flow_usd or 0.0 for d in known))
        return sized(self, total, inputs.neutral_band_usd, funds=[], detail=detail)


class EtfFlowsChannel:
    name = "etf_flows"
    label = "ETF creations/redemptions (real money)"

    def covers(self, symbol: str, registry: FundRegistry) -> bool:
        return bool(funds_for(symbol))

    def symbols(self, symbol: str, registry: FundRegistry) -> set[str]:
        return {symbol}

    prefetch = staticmethod(_prefetch)

    def estimate(self, inputs: ChannelInput) -> ChannelFlow:
        days, data, problem = _window_days(inputs, self.name)
        if data is None or problem:
            return not_sized(self, problem)
        asset = inputs.asset.symbol
        report = data.report
        with_flows = [d for d in days if d.etf_flow_usd is not None]
        head = _prefix(data, asset, inputs.window, days)
        if not with_flows:
            return not_sized(self, f"no ETF flows known for {head}")
        total = float(sum(d.etf_flow_usd or 0.0 for d in with_flows))
        by_fund: dict[str, float] = {}
        missing: set[str] = set()
        for day in with_flows:
            for fund, value in day.etf_flows_by_fund.items():
                if value is None:
                    missing.add(fund)
                else:
                    by_fund[fund] = by_fund.get(fund, 0.0) + value
        funds = ", ".join(
            f"{fund} {usd(value, signed=True)}"
            for fund, value in sorted(by_fund.items(), key=lambda kv: -abs(kv[1]))
        )
        word = "inflows" if total > 0 else "outflows" if total < 0 else "no net flow"
        participation = [d for d in days if d.client_participation is not None]
        share = (
            f" Real money was {participation[-1].client_participation:.0%} of the estimated "
            f"buying on {participation[-1].date} (ETF buying against forced/hedge buying)."
            if participation
            else ""
        )
        up_days = [d for d in days if (d.price_change_pct or 0) > 0]
        rally = ""
        if up_days:
            bought = [d for d in up_days if (d.etf_flow_usd or 0) > 0]
            rally = f" ETF buying on {len(bought)} of {len(up_days)} up day(s)."
        detail = (
            f"{head}: net {word} of {usd(abs(total))} over {len(with_flows)} session(s) with "
            f"flows ({funds})"
            + (f"; unknown for {', '.join(sorted(missing))} on some days" if missing else "")
            + f".{rally}{share} Flows: {report.flows_confidence}"
            + (
                ", derived from Yahoo share counts × close"
                if report.flows_confidence == "estimated" and not report.sample
                else ""
            )
            + (" — SAMPLE DATA" if report.sample else "")
            + "."
        )
        return sized(self, total, inputs.neutral_band_usd, funds=[], detail=detail)


register_channel(PositioningChannel())
register_channel(EtfFlowsChannel())
