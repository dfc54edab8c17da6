"""A fixed clock for tests about "today" (time-machine), that leaves no trace behind it.

The NYSE session table spans 2000 to three years from *now* and is cached for the process, so a
table built while the clock is moved would outlive the move; `moved_clock` restores it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

import time_machine

from flows import calendar


@contextmanager
def moved_clock(moment: dt.datetime) -> Iterator[None]:
    saved = calendar._preloaded
    try:
        with time_machine.travel(moment, tick=True):
            yield
    finally:
        calendar._preloaded = saved
        calendar._sessions.cache_clear()
