"""The console adapter: the embedded default when no chat tokens are configured.

Type `/flows watch BTC` at the prompt; replies and alerts print here. Input is read on a daemon
thread so a blocked read never holds up shutdown.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable
from typing import TextIO

from bot.adapters.base import ChatAdapter, CommandHandler, Destination, Pacing
from bot.commands.context import CommandContext
from bot.commands.parse import SUBCOMMANDS
from bot.messages import Message

CONSOLE_CHANNEL = "console"
PROMPT_HINT = "Type /flows help for commands, quit to stop."


class ConsoleAdapter(ChatAdapter):
    platform = "console"
    pacing = Pacing(per_channel_messages=1000, per_channel_seconds=1.0, global_per_second=1000)

    def __init__(
        self,
        input_stream: TextIO | None = None,
        output: TextIO | None = None,
        on_quit: Callable[[], None] | None = None,
        user: str = "local",
    ) -> None:
        self.input_stream = input_stream
        self.output = output or sys.stdout
        self.on_quit = on_quit
        self.user = user
        self.sent: list[tuple[Destination, Message, str]] = []
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._task: asyncio.Task | None = None
        self._handle: CommandHandler | None = None

    def context(self) -> CommandContext:
        return CommandContext(
            platform=self.platform,
            workspace="",
            channel=CONSOLE_CHANNEL,
            user=self.user,
            user_name=self.user,
        )

    def print(self, text: str) -> None:
        # Backticks are chat markup (code spans in Slack and Discord); a terminal shows them
        # literally, so the console drops them.
        self.output.write(text.replace("`", "") + "\n")
        self.output.flush()

    async def start(self, handle_command: CommandHandler) -> None:
        self._handle = handle_command
        if self.input_stream is None:
            return
        loop = asyncio.get_running_loop()
        stream = self.input_stream

        def read_lines() -> None:
            for line in stream:
                loop.call_soon_threadsafe(self._lines.put_nowait, line)
            loop.call_soon_threadsafe(self._lines.put_nowait, None)

        threading.Thread(target=read_lines, name="console-input", daemon=True).start()
        self._task = asyncio.create_task(self._read_loop())
        self.print(PROMPT_HINT)

    async def _read_loop(self) -> None:
        while True:
            line = await self._lines.get()
            if line is None:
                self.print("(console input closed; monitors keep running — Ctrl-C to stop)")
                return
            text = line.strip()
            if not text:
                continue
            if text.lower() in {"quit", "exit"}:
                if self.on_quit:
                    self.on_quit()
                return
            reply = await self.execute(text)
            if reply is not None:
                self.print(reply.to_text())

    async def execute(self, text: str) -> Message | None:
        """Run one typed line as the console user; None for text that is not a command."""
        if self._handle is None:
            raise RuntimeError("console adapter not started")
        if text.startswith("/flows"):
            text = text[len("/flows") :]
        elif text.split(" ", 1)[0].lower() not in SUBCOMMANDS:
            self.print(f"Commands start with /flows. {PROMPT_HINT}")
            return None
        return await self._handle(self.context(), text.strip())

    async def send(self, destination: Destination, message: Message, idempotency_key: str) -> str:
        self.sent.append((destination, message, idempotency_key))
        where = f"DM {destination.user}" if destination.user else f"#{destination.channel}"
        self.print(f"\n=== ALERT → {where} ===\n{message.to_text()}\n")
        return f"console-{len(self.sent)}"

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
