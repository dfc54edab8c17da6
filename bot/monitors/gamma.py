"""The dealer-gamma monitor (alert kind `gamma`): regime flips, spot crossing the zero-gamma
level, and a heads-up before a large roll-off expiry.

`evaluate_gamma` decides from one day's `GammaResult` and the stored state (pure); `gamma_alerts`
fetches the chains for the watched assets and returns events and new states for `tick.py` to
write through the outbox with every other alert.

State per asset: {"regime": "long_gamma", "side": "above", "rolloffs": ["2026-12-18"]}.
Hysteresis: the regime flips only once net GEX is beyond `REGIME_HYSTERESIS` of gross GEX on the
other side, and spot changes side only once it is `CROSS_HYSTERESIS_PCT` beyond zero gamma, so a
figure hovering at a line does not flap. The first sighting sets the state without an alert.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path

from bot.messages import Message, MessageField
from bot.monitors.evaluate import AlertEvent
from bot.render.drawing import chart_file, draw_chart
from bot.render.gamma import gamma_message, price, zero_gamma_text
from bot.render.numbers import trade, usd
from bot.settings import Settings
from flows.errors import FlowsError
from flows.models.gamma import GammaResult

REGIME_HYSTERESIS = 0.05
"""|net GEX| / gross GEX the new side must reach before the regime is called flipped."""
CROSS_HYSTERESIS_PCT = 0.25
"""How far (% of zero gamma) spot must be past the level before it counts as crossed."""


def _regime(result: GammaResult, previous: str | None) -> str:
    ratio = (
        result.gex_usd_per_pct / result.gross_gex_usd_per_pct if result.gross_gex_usd_per_pct else 0
    )
    if previous == "long_gamma" and ratio > -REGIME_HYSTERESIS:
        return previous
    if previous == "short_gamma" and ratio < REGIME_HYSTERESIS:
        return previous
    return result.regime


def _side(result: GammaResult, previous: str | None) -> str | None:
    if result.zero_gamma is None:
        return None
    distance = (result.spot / result.zero_gamma - 1.0) * 100.0
    if distance > CROSS_HYSTERESIS_PCT:
        return "above"
    if distance < -CROSS_HYSTERESIS_PCT:
        return "below"
    return previous


def evaluate_gamma(
    result: GammaResult,
    state: dict | None,
    rolloff_share: float,
    rolloff_days: int,
) -> tuple[list[tuple[str, str, str]], dict]:
    """(dedupe key, title, summary) per event, and the new state."""
    state = state or {}
    asset, as_of = result.asset, result.as_of
    events: list[tuple[str, str, str]] = []
    previous_regime = state.get("regime")
    regime = _regime(result, previous_regime)
    if previous_regime is not None and regime != previous_regime:
        events.append(
            (
                f"gamma:{asset}:regime:{as_of}:{regime}",
                f"{asset} · dealer gamma flipped to {regime.replace('_', ' ')}",
                f"{asset}: dealers went from {previous_regime.replace('_', ' ')} to "
                f"{regime.replace('_', ' ')}: total GEX {usd(result.gex_usd_per_pct, signed=True)} "
                f"per 1%; a 1% rally now means {trade(result.hedge_usd['+1%'])} of hedging.",
            )
        )
    previous_side = state.get("side")
    side = _side(result, previous_side)
    if previous_side is not None and side is not None and side != previous_side:
        events.append(
            (
                f"gamma:{asset}:zero_cross:{as_of}:{side}",
                f"{asset} · spot crossed the zero-gamma level ({side} it now)",
                f"{asset} at {price(result.spot)} moved {side} zero gamma "
                f"{zero_gamma_text(result)}.",
            )
        )
    fired = [day for day in state.get("rolloffs", []) if day > as_of.isoformat()]
    if result.by_expiry:
        nearest = result.by_expiry[0]
        days = (nearest.expiry - as_of).days
        key_day = nearest.expiry.isoformat()
        if nearest.share >= rolloff_share and days <= rolloff_days and key_day not in fired:
            fired.append(key_day)
            events.append(
                (
                    f"gamma:{asset}:rolloff:{key_day}",
                    f"{asset} · {nearest.share:.0%} of dealer gamma expires "
                    f"{nearest.expiry:%a %b %d}",
                    f"{asset}: the {nearest.expiry} expiry holds {nearest.share:.0%} of dealer "
                    f"gamma ({usd(nearest.gex_usd_per_pct, signed=True)} per 1%); its roll-off "
                    f"leaves {usd(result.gex_usd_per_pct - nearest.gex_usd_per_pct, signed=True)}"
                    " per 1%.",
                )
            )
    new_state = {"regime": regime, "side": side, "rolloffs": sorted(fired)}
    return events, new_state


def _alert(
    result: GammaResult, key: str, title: str, summary: str, chart: Path | None
) -> AlertEvent:
    base = gamma_message(result, chart)
    message = Message(
        title=title,
        summary=summary,
        fields=[*base.fields, MessageField(label="Why", value=_WHY, inline=False)],
        body=base.body,
        footer=base.footer,
        chart_path=chart,
        tone="warning",
        sample=result.sample,
    )
    return AlertEvent(
        kind="gamma",
        asset=result.asset,
        key=key,
        as_of=result.as_of,
        text=summary,
        trade_usd=result.hedge_usd["+1%"],
        direction=None,
        report=None,
        message=message,
        sample=result.sample,
    )


_WHY = (
    "Dealers hedge their option books: long gamma they sell rallies and buy dips, short gamma "
    "they chase moves. The zero-gamma level is where that switches."
)


async def gamma_alerts(
    store,
    market,
    assets: Sequence[str],
    states: Mapping[str, dict | None],
    settings: Settings,
    as_of: dt.date,
    charts: bool = True,
) -> tuple[list[AlertEvent], dict[str, dict], dict[str, str]]:
    """Events, new states (by asset) and errors (by asset) for the assets watched for gamma."""
    from bot.chaincache import cached_chains
    from bot.render.gamma import gamma_chart
    from flows.gamma import build_gamma

    chains = cached_chains(market.source, store)
    live = chains.name == "live"
    events: list[AlertEvent] = []
    new_states: dict[str, dict] = {}
    errors: dict[str, str] = {}
    try:
        for asset in assets:
            try:
                result = await build_gamma(asset, market, chains, None if live else as_of)
            except FlowsError as exc:
                errors[asset] = str(exc)
                continue
            fired, new_states[asset] = evaluate_gamma(
                result, states.get(asset), settings.gamma_rolloff_share, settings.gamma_rolloff_days
            )
            chart = None
            if fired and charts:
                path = chart_file(settings.chart_dir, "gamma", result)
                chart = await draw_chart(gamma_chart, result, path, what=f"gamma {asset}")
            events.extend(
                _alert(result, key, title, summary, chart) for key, title, summary in fired
            )
    finally:
        await chains.close()
    return events, new_states, errors
