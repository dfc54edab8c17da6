"""The NYSE session table's file cache (bot/calendar_cache.py): same table, built once."""

from __future__ import annotations

import numpy as np
import pytest

from bot.calendar_cache import cache_file, prime_calendar
from flows import calendar


@pytest.fixture
def fresh_calendar():
    saved = calendar._preloaded
    calendar._preloaded = None
    calendar._sessions.cache_clear()
    yield
    calendar._preloaded = saved
    calendar._sessions.cache_clear()


def test_built_once_then_loaded_and_identical(tmp_path, fresh_calendar):
    built = calendar.compute_sessions()
    assert prime_calendar(tmp_path) is False  # nothing cached yet: built and stored
    path = cache_file(tmp_path)
    assert path.is_file() and list(tmp_path.iterdir()) == [path]
    calendar._preloaded = None
    calendar._sessions.cache_clear()
    assert prime_calendar(tmp_path) is True
    assert np.array_equal(calendar._sessions(), built)
    assert calendar.is_session(calendar.last_session_of_quarter(2024, 1))


def test_a_damaged_or_foreign_file_is_rebuilt(tmp_path, fresh_calendar):
    path = cache_file(tmp_path)
    path.write_bytes(b"not numpy")
    assert prime_calendar(tmp_path) is False
    assert np.array_equal(np.load(path), calendar.compute_sessions())
    np.save(path, np.array(["2024-01-02"], dtype="datetime64[D]"))  # a table too short
    assert prime_calendar(tmp_path) is False
    assert len(np.load(path)) > 6000


def test_an_unwritable_cache_only_costs_the_rebuild(tmp_path, fresh_calendar):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the directory should be")
    assert prime_calendar(blocker / "cache") is False
    assert calendar.is_session(calendar.next_session(calendar.CALENDAR_FIRST_DAY))
