"""Local aiohttp servers that speak Slack's and Discord's protocols, for adapter tests.

The real SDK clients are pointed at them through the base-URL settings; they record every request
and can be scripted to fail (429 with Retry-After, 403, bad tokens)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None):
    """JSON with a content type of exactly `application/json`: discord.py's `json_or_text`
    parses nothing else (aiohttp's `json_response` appends `; charset=utf-8`)."""
    return web.Response(
        body=json.dumps(payload).encode(),
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


async def wait_until(predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll `predicate` until it returns something truthy; fail the test after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.02)


class Failure:
    """A scripted answer replacing the normal one; `times=None` repeats forever."""

    def __init__(
        self,
        status: int,
        body: Any,
        headers: dict[str, str] | None = None,
        times: int | None = 1,
        match: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.times = times
        self.match = match

    def take(self, params: dict[str, Any]) -> bool:
        if self.match is not None and not self.match(params):
            return False
        if self.times is None:
            return True
        if self.times <= 0:
            return False
        self.times -= 1
        return True


async def start_site(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"
