"""What every chat adapter provides, and the errors the dispatcher understands."""

from __future__ import annotations

import abc
import datetime as dt
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
    """The overall rate, already with headroom below the platform's own limit (other calls —
    command replies, look-ups — share it)."""
    per_workspace: bool = False
    """True when the overall rate applies per workspace (Slack) rather than per bot (Discord)."""


class AdapterConfigError(FlowsError):
    """A chat platform is missing a variable or rejected a token: one line naming the variable;
    `flows-bot` prints it and exits with code 2 rather than running half-configured."""


class DeliveryError(Exception):
    """A send that did not go through. The dispatcher decides from the fields what happens next.

    - `retry_after` set: rate limited; try again after that many seconds.
    - `permanent`: retrying will not help. `scope` says how far the refusal reaches:
      "message" (only this message is refused), "channel" (the channel or DM is gone or forbids
      us: every subscription there stops at once), "workspace" (the token is refused for the
      whole workspace) or "platform" (the token is refused everywhere).
    - otherwise transient: retried with backoff up to a cap, after asking the platform whether
      the failed attempt went through anyway (a timeout can hide a post that succeeded).
    """

    SCOPES = ("message", "channel", "workspace", "platform")

    def __init__(
        self,
        reason: str,
        *,
        retry_after: float | None = None,
        permanent: bool = False,
        scope: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.permanent = permanent or scope is not None
        self.scope = scope or ("channel" if permanent else "message")
        if self.scope not in self.SCOPES:
            raise ValueError(f"unknown DeliveryError scope {self.scope!r}")


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

    async def find_sent_many(
        self, destination: Destination, idempotency_keys: list[str], since: dt.datetime
    ) -> dict[str, str]:
        """{key: message id} for those of `idempotency_keys` already posted to `destination`
        since `since` (when the first of their attempts began). Adapters that can read a
        channel's history back do it in one pass; the default asks `find_sent` per key."""
        found: dict[str, str] = {}
        for key in idempotency_keys:
            message_id = await self.find_sent(destination, key)
            if message_id:
                found[key] = message_id
        return found

    @abc.abstractmethod
    async def stop(self) -> None:
        """Disconnect; safe to call twice."""
