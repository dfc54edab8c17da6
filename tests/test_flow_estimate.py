"""The shared `FlowEstimate` shape: signed, dated, sourced; unknown is None with a reason."""

import datetime as dt

import pytest
from pydantic import ValidationError

from flows.models import FlowEstimate, FlowTiming, total_usd

DAY = dt.date(2026, 12, 4)


def _estimate(usd: float | None, **extra: object) -> FlowEstimate:
    return FlowEstimate(
        source="test",
        asset="BTC",
        usd=usd,
        timing=FlowTiming(kind="at_close", start=DAY),
        basis="constructed",
        confidence="estimated",
        **extra,
    )


def test_unknown_needs_a_reason() -> None:
    with pytest.raises(ValidationError, match="unknown_reason"):
        _estimate(None)
    assert not _estimate(None, unknown_reason="no chain").known


def test_nan_is_refused() -> None:
    with pytest.raises(ValidationError, match="NaN"):
        _estimate(float("nan"))


def test_window_cannot_end_before_it_starts() -> None:
    with pytest.raises(ValidationError, match="before it starts"):
        FlowTiming(kind="window", start=DAY, end=DAY - dt.timedelta(days=1))


def test_total_skips_unknowns_and_is_none_when_nothing_is_known() -> None:
    rows = [_estimate(100.0), _estimate(-40.0), _estimate(None, unknown_reason="no data")]
    assert total_usd(rows) == 60.0
    assert total_usd([rows[2]]) is None


def test_json_view_is_signed_and_dated() -> None:
    row = _estimate(-5e6).to_json_dict()
    assert row["usd"] == -5e6
    assert row["timing"] == {"kind": "at_close", "start": "2026-12-04", "end": None}
