"""The platform-neutral `/flows` command layer: one parser and one handler set for every adapter."""

from bot.commands.context import CommandContext
from bot.commands.parse import CommandError, ParsedCommand, parse_command

__all__ = ["CommandContext", "CommandError", "ParsedCommand", "parse_command"]
