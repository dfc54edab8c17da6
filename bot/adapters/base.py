"""What every chat adapter provides, and the errors the dispatcher understands."""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.commands.context import CommandContext
from bot.messages import Message
from flows.errors import FlowsError

CommandHandler = Callable[[CommandContext, str], Awaitable[Message]]
"""The neutral command layer: (who/where, text after `/flows`) -> reply."""


@dataclass(frozen=True, slots=True)
class Destination:
    platform: str
    workspace: str
    channel: str
    user: str | None = None
    """Set for a personal (DM) subscription: the message goes to this user privately."""


@dataclass(frozen=True, slots=True)
class Pacing:
    """How fast one adapter may post: per channel, and overall."""

    per_channel_messages: int
    per_channel_seconds: float
    global_per_second: float
    per_workspace: bool = False
    """True when `global_per_second` applies to each workspace apart (Slack's posting limit is
    per workspace); False when it covers everything the bot sends (Discord: per bot token)."""


class AdapterConfigError(FlowsError):
    """A chat platform is missing a variable or rejected a token: one line naming the variable;
    `flows-bot` prints it and exits with code 2 rather than running half-configured."""


class DeliveryError(Exception):
    """A send that did not go through. The dispatcher decides from the fields what happens next.

    - `retry_after` set: rate limited; try again after that many seconds.
    - `permanent`: the destination is gone or forbids us (403/404, channel deleted, bot
      removed); the subscription is marked broken and nothing more is sent to it.
    - otherwise transient: retried with backoff up to a cap.
    """

    def __init__(
        self, reason: str, *, retry_after: float | None = None, permanent: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.permanent = permanent


class ChatAdapter(abc.ABC):
    platform: str
    pacing: Pacing

    @abc.abstractmethod
    async def start(self, handle_command: CommandHandler) -> None:
        """Connect and begin routing `/flows` commands to `handle_command`. Returns once
        connected; the adapter keeps running in background tasks until `stop()`."""

    @abc.abstractmethod
    async def send(self, destination: Destination, message: Message, idempotency_key: str) -> str:
        """Post `message`; return the platform's message id. Raise DeliveryError on failure.

        `idempotency_key` is stable per delivery: platforms that support it (Discord's nonce)
        use it so that a retried send is not posted twice."""

    async def find_sent(self, destination: Destination, idempotency_key: str) -> str | None:
        """The id of a message already posted with this key, if the platform can tell.

        Called for deliveries that were in flight when the process stopped."""
        return None

    @abc.abstractmethod
    async def stop(self) -> None:
        """Disconnect; safe to call twice."""
