"""Leveraged and inverse ETFs: each session they trade A · L · (L − 1) · r into the close
(`flows.models.leveraged`), so their flow over a window is that trade summed over its sessions.

Known once the window has closed; before then it depends on moves still to come, so the trade is
unknown and the what-ifs give the first-order trade for a move of the asset across the window.
"""

from __future__ import annotations

import datetime as dt

from flows.calendar import previous_session
from flows.funds import FundRegistry, LeveragedFund
from flows.models.leveraged import fund_trade_usd, rebalance_multiplier, sensitivity_usd
from flows.questions.channels.base import (
    ChannelInput,
    closes_through,
    not_sized,
    register_channel,
    require_history,
    sized,
    what_ifs,
)
from flows.questions.results import ChannelFlow, LeveragedFundFlow
from flows.questions.wording import usd
from flows.rebalance import price_on_or_before


class LeveragedChannel:
    name = "leveraged"
    label = "leveraged-ETF rebalancing"

    def covers(self, symbol: str, registry: FundRegistry) -> bool:
        return bool(registry.leveraged_on(symbol))

    def symbols(self, symbol: str, registry: FundRegistry) -> set[str]:
        return {symbol}

    def estimate(self, inputs: ChannelInput) -> ChannelFlow:
        asset, window, as_of = inputs.asset.symbol, inputs.window, inputs.as_of
        funds = inputs.registry.leveraged_on(asset)
        if not funds:
            return not_sized(self, f"no leveraged or inverse ETF in the registry is on {asset}")
        band = inputs.neutral_band_usd
        if window.end > as_of:
            sensitivity = sensitivity_usd(funds)
            moves = inputs.config.what_if_moves
            return not_sized(
                self,
                f"not sized: they trade each session's move into the close, and the window "
                f"ends {window.end}, after as-of {as_of}; per 1% move of {asset} they trade "
                f"{usd(sensitivity * 0.01)} in its direction",
                projected=True,
                funds=[self._flow(fund, None, None) for fund in funds],
                what_if=what_ifs(moves, [sensitivity * move for move in moves], band),
            )
        closes = closes_through(inputs.frames, asset)
        before = previous_session(window.start)
        require_history(closes, asset, before, "the close before the window,")
        moves = []
        previous = price_on_or_before(closes, before, asset)
        for session in window.sessions:
            close = price_on_or_before(closes, session, asset)
            moves.append(close / previous - 1.0)
            previous = close
        total_move = sum(moves)
        flows = [self._flow(fund, total_move, before) for fund in funds]
        total = float(sum(flow.trade_usd or 0.0 for flow in flows))
        return sized(self, total, band, funds=flows)

    @staticmethod
    def _flow(
        fund: LeveragedFund, summed_move: float | None, since: dt.date | None
    ) -> LeveragedFundFlow:
        return LeveragedFundFlow(
            name=fund.name,
            ticker=fund.ticker,
            leverage=fund.leverage,
            multiplier=rebalance_multiplier(fund.leverage),
            aum_usd=fund.aum_usd,
            aum_source=fund.aum_source,
            summed_move=summed_move,
            measured_from=since,
            trade_usd=None
            if summed_move is None
            else fund_trade_usd(fund.aum_usd, fund.leverage, summed_move),
        )


register_channel(LeveragedChannel())
