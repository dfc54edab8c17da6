"""`net_flow` channel: "is today's rally driven by mechanical flows?", "how much of the BTC
selling is forced?" — answered from the `why` ledger (flows/why.py): every model's flow of the
day, their net, real money beside it and the verdict."""

from __future__ import annotations

import datetime as dt

from flows.errors import FlowsError
from flows.funds import FundRegistry
from flows.models.ledger import Ledger
from flows.questions.channels.base import ChannelInput, not_sized, register_channel, sized
from flows.questions.results import ChannelFlow
from flows.questions.windows import ResolvedWindow
from flows.questions.wording import usd


class NetFlowChannel:
    name = "net_flow"
    label = "net mechanical flow"
    prefetch_builds_ledger = True
    """Its prefetch builds the `why` ledger: it is given the registry and the option chains."""

    def covers(self, symbol: str, registry: FundRegistry) -> bool:
        return True  # every asset has a ledger; its unknown rows say what is missing

    def symbols(self, symbol: str, registry: FundRegistry) -> set[str]:
        return {symbol}

    async def prefetch(
        self,
        symbol: str,
        market,
        window: ResolvedWindow,
        as_of: dt.date,
        parsed,
        *,
        registry: FundRegistry,
        chains=None,
    ) -> Ledger:
        """`chains`: the option chains the question engine was given (the bot's cached ones);
        without them the market's own source is opened and closed here."""
        from flows.options import chain_source_for
        from flows.positioning import positioning_source_for
        from flows.why import build_why

        own_chains = chain_source_for(market.source) if chains is None else None
        positioning = positioning_source_for(market)
        try:
            return await build_why(
                symbol,
                market,
                registry,
                chains=chains or own_chains,
                positioning=positioning,
                as_of=min(window.end, as_of),
            )
        finally:
            if own_chains is not None:
                await own_chains.close()
            if getattr(market, "positioning", None) is None:
                await positioning.close()

    def estimate(self, inputs: ChannelInput) -> ChannelFlow:
        ledger = inputs.extras.get(self.name)
        if isinstance(ledger, FlowsError):
            return not_sized(self, f"the ledger could not be built: {ledger}")
        if not isinstance(ledger, Ledger):
            return not_sized(self, "no ledger was built")
        rows = "; ".join(
            f"{row.source} {usd(row.usd, signed=True)}"
            for row in [*ledger.rows, *ledger.real_money_rows]
        )
        move = "unknown" if ledger.move_pct is None else f"{ledger.move_pct:+.2f}%"
        detail = (
            f"On {ledger.as_of} ({ledger.asset} {move}) the verdict is {ledger.verdict}: "
            f"{ledger.verdict_reason}. Rows: {rows}. See `flows-bot why {ledger.asset}`."
        )
        if ledger.net_mechanical_usd is None:
            return not_sized(self, "no mechanical flow could be computed", detail=detail)
        return sized(
            self, ledger.net_mechanical_usd, inputs.neutral_band_usd, funds=(), detail=detail
        )


register_channel(NetFlowChannel())
