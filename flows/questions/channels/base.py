"""What a flow channel is to the question engine, and the registry of channels it can ask.

A channel turns (asset, window, market data, fund registry) into the trade its funds make in the
window. New flow models plug in by registering a channel; the engine and renderers need no change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import pandas as pd

from flows.assets import Asset
from flows.errors import InputError
from flows.funds import FundRegistry
from flows.questions.results import ChannelFlow, FundFlow
from flows.questions.windows import ResolvedWindow
from flows.rebalance import direction_of
from flows.results import WhatIf
from flows.status import AnalyticsConfig


class OutsideDataError(InputError):
    """The window or a fund's base date lies outside the market data that was fetched."""


@dataclass(frozen=True, slots=True)
class ChannelInput:
    asset: Asset
    window: ResolvedWindow
    as_of: dt.date
    frames: Mapping[str, pd.DataFrame]
    """Bars up to as-of, one frame per symbol (`adj_close` is the total-return close)."""
    registry: FundRegistry
    config: AnalyticsConfig
    scenario_symbols: frozenset[str]
    """Assets a price what-if moves together: every asset the question asks about."""
    neutral_band_usd: float
    extras: Mapping[str, object] = field(default_factory=dict)
    """What a channel's `prefetch` fetched for this asset (channels reading more than bars)."""
    option_chains: Mapping[str, object] = field(default_factory=dict)
    """Option chains by asset (or the reason one is missing), for the dealer-gamma channel."""


class Channel(Protocol):
    name: str
    """The source name questions use: rebalancing, vol_target, leveraged."""
    label: str
    """How answers name it: 'fixed-weight fund rebalancing'."""

    def covers(self, symbol: str, registry: FundRegistry) -> bool:
        """Whether any fund in the registry makes this channel's flow in `symbol`."""
        ...

    def symbols(self, symbol: str, registry: FundRegistry) -> set[str]:
        """Every series an estimate for `symbol` reads."""
        ...

    def estimate(self, inputs: ChannelInput) -> ChannelFlow:
        """The channel's trade in the asset over the window; InputError when the data or the
        registry cannot support one (the engine reports that as unknown)."""
        ...


_CHANNELS: dict[str, Channel] = {}


def register_channel(channel: Channel) -> None:
    """Add (or replace) the channel answering questions about `channel.name`."""
    _CHANNELS[channel.name] = channel


def get_channel(name: str) -> Channel | None:
    return _CHANNELS.get(name)


def channel_names() -> tuple[str, ...]:
    return tuple(_CHANNELS)


def closes_through(frames: Mapping[str, pd.DataFrame], symbol: str) -> pd.Series:
    frame = frames.get(symbol)
    if frame is None or frame.empty:
        raise OutsideDataError(f"no {symbol} data")
    return frame["adj_close"]


def require_history(closes: pd.Series, symbol: str, day: dt.date, why: str) -> None:
    first = closes.index[0].date()
    if first > day:
        raise OutsideDataError(f"{symbol} data starts {first}, after {why} {day}")


def not_sized(
    channel: Channel,
    note: str,
    *,
    projected: bool = False,
    funds: Sequence[FundFlow] = (),
    **details: object,
) -> ChannelFlow:
    """A channel's answer without a trade: no fund makes the flow, or it depends on moves still
    to come (`note` says which)."""
    return ChannelFlow(
        source=channel.name,
        label=channel.label,
        trade_usd=None,
        direction=None,
        projected=projected,
        funds=list(funds),
        note=note,
        **details,
    )


def sized(
    channel: Channel,
    trade_usd: float,
    neutral_band_usd: float,
    *,
    funds: Sequence[FundFlow],
    projected: bool = False,
    **details: object,
) -> ChannelFlow:
    """A channel's answer with its trade, the direction read against the neutral band."""
    return ChannelFlow(
        source=channel.name,
        label=channel.label,
        trade_usd=trade_usd,
        direction=direction_of(trade_usd, neutral_band_usd),
        projected=projected,
        funds=list(funds),
        **details,
    )


def what_ifs(
    moves: Iterable[float], trades_usd: Iterable[float], neutral_band_usd: float
) -> list[WhatIf]:
    """What-if rows: the trade for each move, with its direction against the neutral band."""
    return [
        WhatIf(
            move=float(move),
            trade_usd=float(trade),
            direction=direction_of(float(trade), neutral_band_usd),
        )
        for move, trade in zip(moves, trades_usd, strict=True)
    ]
