"""Volatility-targeting funds: exposure = min(max, target / realized vol), so their trade over a
window is AUM times the change in exposure from the close before it to its last close.

That change is known once the window has closed. Before then it depends on volatility still to
come, so the trade is unknown and the answer gives what-ifs on realized volatility instead.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from flows.calendar import previous_session
from flows.funds import FundRegistry, VolTargetFund
from flows.questions.channels.base import (
    ChannelInput,
    OutsideDataError,
    closes_through,
    not_sized,
    register_channel,
    sized,
    what_ifs,
)
from flows.questions.results import ChannelFlow, VolTargetFundFlow
from flows.volatility import exposure_for, realized_vol_series

MAX_VOL_STALENESS_DAYS = 5


def _exposure(entry: VolTargetFund, realized: float) -> float:
    # A perfectly flat series has zero realized vol: the fund sits at its cap.
    return entry.max_exposure if realized <= 0 else exposure_for(entry, realized)


def _vol_at(vols: pd.Series, day: dt.date, asset: str) -> tuple[float, dt.date]:
    known = vols.loc[: pd.Timestamp(day)]
    if known.empty or (day - known.index[-1].date()).days > MAX_VOL_STALENESS_DAYS:
        raise OutsideDataError(f"not enough {asset} history for realized volatility on {day}")
    return float(known.iloc[-1]), known.index[-1].date()


def _fund_flow(
    entry: VolTargetFund,
    before: float,
    before_day: dt.date,
    after: float | None = None,
    after_day: dt.date | None = None,
) -> VolTargetFundFlow:
    """A fund's exposure change from `before` to `after` (still to come when `after` is None)."""
    exposure_before = _exposure(entry, before)
    exposure_after = None if after is None else _exposure(entry, after)
    return VolTargetFundFlow(
        name=entry.name,
        aum_usd=entry.aum_usd,
        aum_source=entry.aum_source,
        target_vol=entry.target_vol,
        max_exposure=entry.max_exposure,
        realized_before=before,
        exposure_before=exposure_before,
        realized_after=after,
        exposure_after=exposure_after,
        measured_from=before_day,
        measured_to=after_day,
        projected=after is None,
        trade_usd=None
        if exposure_after is None
        else entry.aum_usd * (exposure_after - exposure_before),
    )


class VolTargetChannel:
    name = "vol_target"
    label = "volatility-targeting funds"

    def covers(self, symbol: str, registry: FundRegistry) -> bool:
        return bool(registry.vol_targets_on(symbol))

    def symbols(self, symbol: str, registry: FundRegistry) -> set[str]:
        return {symbol}

    def estimate(self, inputs: ChannelInput) -> ChannelFlow:
        asset, window, as_of = inputs.asset, inputs.window, inputs.as_of
        entries = inputs.registry.vol_targets_on(asset.symbol)
        if not entries:
            return not_sized(self, f"no vol-targeting fund in the registry is on {asset.symbol}")
        closes = closes_through(inputs.frames, asset.symbol)
        vols = realized_vol_series(
            closes, asset.annualization_days, inputs.config.vol_window
        ).dropna()
        if window.end <= as_of:
            return self._closed(inputs, entries, vols)
        now, measured = _vol_at(vols, as_of, asset.symbol)
        flows = [_fund_flow(entry, now, measured) for entry in entries]
        moves = inputs.config.what_if_moves
        trades = [
            sum(
                entry.aum_usd * (_exposure(entry, now * (1 + move)) - _exposure(entry, now))
                for entry in entries
            )
            for move in moves
        ]
        return not_sized(
            self,
            f"not sized: the window ends {window.end}, after as-of {as_of}, so the trade "
            f"depends on volatility still to come ({inputs.config.vol_window}-day realized vol now "
            f"{now:.1%})",
            projected=True,
            funds=flows,
            what_if=what_ifs(moves, trades, inputs.neutral_band_usd),
            what_if_on="realized_vol",
        )

    def _closed(
        self, inputs: ChannelInput, entries: tuple[VolTargetFund, ...], vols: pd.Series
    ) -> ChannelFlow:
        asset, window = inputs.asset.symbol, inputs.window
        before, before_day = _vol_at(vols, previous_session(window.start), asset)
        after, after_day = _vol_at(vols, window.end, asset)
        flows = [_fund_flow(entry, before, before_day, after, after_day) for entry in entries]
        total = float(sum(flow.trade_usd or 0.0 for flow in flows))
        return sized(self, total, inputs.neutral_band_usd, funds=flows)


register_channel(VolTargetChannel())
