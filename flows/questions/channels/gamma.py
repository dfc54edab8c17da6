"""Dealer gamma for questions ("is there a gamma squeeze coming in SPY?", "where is the BTC
gamma flip?"): the `flows.models.gamma` figures on the asset's option chain, in words.

Dealers' hedging is a reaction to moves, so the trade itself is never sized (it is `projected`
and depends on the move); the note carries the numbers — total GEX, regime, the zero-gamma level
and its distance from spot, the walls, the largest near expiry — and the what-ifs give the hedge
flow −GEX × move for ±1 % and ±2 %. The chain is fetched by the async engine beforehand
(`fetch_option_chains`) and handed in through `ChannelInput.option_chains`; an asset without a
chain gets the reason instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd

from flows.errors import FlowsError, InputError
from flows.funds import FundRegistry
from flows.models.gamma import CONVENTION, HEDGE_MOVES, GammaResult, compute_gamma
from flows.options.chain import ChainSource, OptionChain
from flows.questions.channels.base import ChannelInput, not_sized, register_channel, what_ifs
from flows.questions.results import ChannelFlow
from flows.questions.wording import usd

WHAT_IF_MOVES = tuple(move / 100.0 for move in HEDGE_MOVES)
"""The model's hedge moves as fractions: a first-order hedge is only meaningful for small moves."""


async def fetch_option_chains(
    assets: Iterable[str], chains: ChainSource, as_of: dt.date | None
) -> dict[str, OptionChain | str]:
    """Each asset's chain, or the one-line reason it has none."""
    found: dict[str, OptionChain | str] = {}
    for asset in assets:
        try:
            found[asset] = await chains.chain(asset, None if chains.name == "live" else as_of)
        except FlowsError as exc:
            found[asset] = str(exc)
    return found


def _price(value: float) -> str:
    return f"{value:,.2f}" if value < 10_000 else f"{value:,.0f}"


def describe(result: GammaResult) -> str:
    """The dealer-positioning figures in one paragraph (no trailing period)."""
    regime = (
        "long gamma (they sell rallies and buy dips, damping moves)"
        if result.regime == "long_gamma"
        else "short gamma (they buy rallies and sell dips, amplifying moves)"
    )
    parts = [
        f"dealers are {regime}: total GEX {'+' if result.gex_usd_per_pct >= 0 else '−'}"
        f"{usd(result.gex_usd_per_pct)} per 1% move at spot {_price(result.spot)} "
        f"({result.as_of})"
    ]
    if result.zero_gamma is None:
        parts.append("no zero-gamma (flip) level between 0.5× and 1.5× spot")
    else:
        distance = result.zero_gamma_distance_pct or 0.0
        side = "below" if distance < 0 else "above"
        parts.append(
            f"zero gamma (the flip) at {_price(result.zero_gamma)}, {abs(distance):.2f}% {side} "
            "spot"
        )
        if result.regime == "short_gamma" and distance > 0:
            parts.append(
                "spot is below the flip, where dealer hedging chases the move: a rally toward "
                f"{_price(result.zero_gamma)} would be bought into (squeeze risk)"
            )
        elif result.regime == "long_gamma" and distance < 0:
            parts.append(
                f"a drop through {_price(result.zero_gamma)} would turn dealers short gamma"
            )
    walls = []
    if result.call_wall is not None:
        walls.append(f"call wall {_price(result.call_wall)}")
    if result.put_wall is not None:
        walls.append(f"put wall {_price(result.put_wall)}")
    if walls:
        parts.append(" and ".join(walls))
    if result.by_expiry:
        nearest = result.by_expiry[0]
        parts.append(f"the {nearest.expiry} expiry holds {nearest.share:.0%} of dealer gamma")
    return "; ".join(parts)


class GammaChannel:
    name = "gamma"
    label = "dealer gamma hedging"

    def covers(self, symbol: str, registry: FundRegistry) -> bool:
        # Any asset may have a chain (a CSV directory can add one); a missing chain is reported
        # with its reason rather than declined up front.
        return True

    def symbols(self, symbol: str, registry: FundRegistry) -> set[str]:
        return {symbol}

    def estimate(self, inputs: ChannelInput) -> ChannelFlow:
        asset = inputs.asset.symbol
        chain = inputs.option_chains.get(asset)
        if chain is None:
            return not_sized(self, f"no option chain was fetched for {asset}")
        if isinstance(chain, str):
            return not_sized(self, f"not answerable: {chain}")
        frame = inputs.frames.get(asset)
        closes = None if frame is None else frame["close"].loc[: pd.Timestamp(chain.as_of)]
        if closes is None or closes.empty:
            raise InputError(f"no {asset} close on or before {chain.as_of}")
        spot = float(closes.iloc[-1])
        try:
            result = compute_gamma(chain, spot, spot_basis=f"close {closes.index[-1].date()}")
        except FlowsError as exc:
            return not_sized(self, f"not answerable: {exc}")
        trades = [result.hedge_for(move) for move in HEDGE_MOVES]
        hedges = ", ".join(
            f"{move:+.0f}% → {_side(trade)}"
            for move, trade in zip(HEDGE_MOVES, trades, strict=True)
        )
        return not_sized(
            self,
            f"{describe(result)}. Their hedge is −GEX × move: {hedges} "
            f"({CONVENTION}; chain: {chain.description})",
            projected=True,
            what_if=what_ifs(WHAT_IF_MOVES, trades, inputs.neutral_band_usd),
        )


def _side(amount: float) -> str:
    return f"{'buy' if amount > 0 else 'sell'} {usd(amount)}"


register_channel(GammaChannel())
