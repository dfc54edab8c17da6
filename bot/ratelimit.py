"""Pacing for outgoing messages: N per window per channel, plus a workspace or bot rate."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable


class ResponsePacer:
    """At most `limit` requests in any `window` seconds, counted the safe way round: a request
    holds a slot from `acquire()` until its response, and its time is stamped when the response
    arrives (`release()`). The platform counts arrival times, and every arrival lies before its
    response, so a window measured from responses can never hold more than the platform allows —
    where stamping before sending lets slow responses bunch arrivals together and draw a 429.

    `pause(s)` blocks for s seconds (Retry-After, or a bucket's Reset-After once Remaining is 0).
    """

    def __init__(
        self,
        limit: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = asyncio.sleep,
    ) -> None:
        self.limit = max(1, limit)
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._stamps: deque[float] = deque()
        self._in_flight = 0
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    @classmethod
    def per_second(cls, rate: float) -> ResponsePacer:
        """A pacer for `rate` requests per second (see `set_rate`)."""
        pacer = cls(1, 1.0)
        pacer.set_rate(rate)
        return pacer

    def set_rate(self, rate: float) -> None:
        """At most `rate` requests per second: whole requests per window, and a fraction of a
        request per 1/n s keeps the rate exact (19/s is 19 per second, 6.5/s is 6 per 0.92 s).
        Requests in flight and stamps already taken keep counting."""
        rate = max(rate, 0.01)
        self.limit = max(1, int(rate))
        self.window = self.limit / rate

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def delay(self) -> float:
        now = self._clock()
        # The epsilon: a wait shorter than the clock's resolution would never end.
        while self._stamps and now - self._stamps[0] >= self.window - 1e-9:
            self._stamps.popleft()
        wait = max(0.0, self._paused_until - now)
        if wait < 1e-9:
            wait = 0.0
        if len(self._stamps) + self._in_flight >= self.limit:
            if self._stamps:
                wait = max(wait, self.window - (now - self._stamps[0]))
            else:  # every slot is a request still in flight: look again shortly
                wait = max(wait, min(0.01, self.window))
        return wait

    async def acquire(self) -> None:
        async with self._lock:
            while (wait := self.delay()) > 0:
                await self._sleep(wait)  # type: ignore[misc]
            self._in_flight += 1

    def release(self) -> None:
        self._in_flight = max(0, self._in_flight - 1)
        self._stamps.append(self._clock())
