"""How accurate past rebalancing calls were: the track record (`flows.track`) over the quarter-end
windows since `DEFAULT_SINCE` that the fetched data supports, as of the question's as-of."""

from __future__ import annotations

import dataclasses

from flows.assets import asset_or_equity
from flows.funds import FundRegistry
from flows.questions.channels.base import ChannelInput, not_sized, register_channel
from flows.questions.results import ChannelFlow
from flows.status import symbols_for
from flows.track import (
    DEFAULT_SINCE,
    benchmark_for,
    estimable_windows,
    track_from_frames,
    tracked_registry,
    windows_between,
)


class TrackRecordChannel:
    name = "track_record"
    label = "rebalancing track record"

    def covers(self, symbol: str, registry: FundRegistry) -> bool:
        return bool(registry.holding(symbol))

    def symbols(self, symbol: str, registry: FundRegistry) -> set[str]:
        return symbols_for(asset_or_equity(symbol), registry) | {benchmark_for(symbol)}

    def estimate(self, inputs: ChannelInput) -> ChannelFlow:
        asset, as_of = inputs.asset, inputs.as_of
        registry = tracked_registry(inputs.registry, asset.symbol, monthly=False)
        windows = estimable_windows(windows_between(DEFAULT_SINCE, as_of), inputs.frames)
        if not windows:
            return not_sized(self, f"the data does not reach back to a call since {DEFAULT_SINCE}")
        # The aggregate does not depend on the GARCH forecast; skip its fit per window.
        config = dataclasses.replace(inputs.config, with_garch=False)
        record = track_from_frames(
            asset, windows, inputs.frames, registry, "", False, config, known_through=as_of
        )
        summary = record.summary
        first = record.windows[0].window_end if record.windows else windows[0].end
        means = []
        if summary.mean_excess_sell is not None:
            means.append(f"after sell calls {summary.mean_excess_sell * 100:+.2f}%")
        if summary.mean_excess_buy is not None:
            means.append(f"after buy calls {summary.mean_excess_buy * 100:+.2f}%")
        mean_text = f" Mean excess return {' and '.join(means)}." if means else ""
        note = (
            f"rebalancing calls over {len(record.windows)} quarter-end window(s) from "
            f"{first:%Y-%m} to {record.windows[-1].window_end:%Y-%m} (call = the status the "
            f"session before each window; outcome = return to the window's last close minus "
            f"{record.benchmark}'s). {summary.note}{mean_text} "
            f"`flows-bot track {asset.symbol}` lists every window."
        )
        return not_sized(self, note, track_record=summary)


register_channel(TrackRecordChannel())
