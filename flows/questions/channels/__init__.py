"""Flow channels the question engine can ask: rebalancing, vol targeting, leveraged ETFs and
dealer gamma built in; other models join with `register_channel`."""

from flows.questions.channels import gamma, leveraged, rebalancing, vol_target
from flows.questions.channels import net_flow as net_flow
from flows.questions.channels import positioning as positioning_channels
from flows.questions.channels import track_record as track_record
from flows.questions.channels.base import (
    Channel,
    ChannelInput,
    OutsideDataError,
    channel_names,
    get_channel,
    register_channel,
)

__all__ = [
    "Channel",
    "ChannelInput",
    "OutsideDataError",
    "channel_names",
    "gamma",
    "get_channel",
    "leveraged",
    "positioning_channels",
    "rebalancing",
    "register_channel",
    "vol_target",
]
