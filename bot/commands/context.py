"""Who typed a command, and where."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CommandContext:
    platform: str
    """console | slack | discord"""
    workspace: str
    """Slack team id, Discord guild id; '' for the console and DMs."""
    channel: str
    user: str
    user_name: str = ""
    is_dm: bool = False
    can_manage_channel: bool = True
    """Whether the user may change the channel's subscriptions (Discord: Manage Channels)."""
