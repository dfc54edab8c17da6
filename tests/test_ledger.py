"""The net mechanical-flow ledger: sums, unknowns kept unknown, the verdict at its boundaries."""

import datetime as dt

import pytest

from flows.models import FlowEstimate, FlowTiming
from flows.models.ledger import build_ledger, mechanical_share, verdict_for

DAY = dt.date(2026, 12, 3)


def _row(source: str, usd: float | None, asset: str = "BTC") -> FlowEstimate:
    return FlowEstimate(
        source=source,
        asset=asset,
        usd=usd,
        timing=FlowTiming(kind="at_close", start=DAY),
        basis=f"{source} basis",
        confidence="estimated" if source != "etf_flows" else "measured",
        unknown_reason=None if usd is not None else f"no data for {source}",
    )


def _ledger(move: float | None, *rows: FlowEstimate):
    return build_ledger("BTC", DAY, move, list(rows), data_source="test", sample=False)


def test_real_money_is_kept_out_of_the_mechanical_total() -> None:
    ledger = _ledger(
        4.1, _row("positioning", 310e6), _row("leveraged", 85e6), _row("etf_flows", 40e6)
    )
    assert ledger.net_mechanical_usd == pytest.approx(395e6)
    assert ledger.real_money_usd == pytest.approx(40e6)
    assert [r.source for r in ledger.rows] == ["positioning", "leveraged"]
    assert [r.source for r in ledger.real_money_rows] == ["etf_flows"]
    assert ledger.mechanical_share == pytest.approx(395 / 435)
    assert ledger.verdict == "mechanical"


def test_unknown_rows_stay_unknown_and_are_named_in_coverage() -> None:
    ledger = _ledger(
        -2.0,
        _row("rebalance", -50e6),
        _row("gamma", None),
        _row("vol_target", -20e6),
        _row("etf_flows", None),
    )
    gamma = next(r for r in ledger.rows if r.source == "gamma")
    assert gamma.usd is None and gamma.unknown_reason == "no data for gamma"
    assert ledger.net_mechanical_usd == pytest.approx(-70e6)  # the unknown is not a zero
    assert ledger.coverage == {
        "known": ["rebalance", "vol_target"],
        "unknown": ["gamma", "etf_flows"],
    }
    assert ledger.real_money_usd is None
    assert ledger.mechanical_share is None
    assert ledger.verdict == "unknown"


def test_nothing_known_is_unknown_not_zero() -> None:
    ledger = _ledger(1.0, _row("gamma", None), _row("leveraged", None))
    assert ledger.net_mechanical_usd is None
    assert ledger.verdict == "unknown"


@pytest.mark.parametrize(
    ("move", "mechanical", "real", "known", "expected"),
    [
        # share exactly 2/3 is not "above 2/3"
        (1.0, 200.0, 100.0, 3, "mixed"),
        (1.0, 200.1, 100.0, 3, "mechanical"),
        # mechanical large but against the move
        (1.0, -300.0, 10.0, 3, "mixed"),
        # real money leads with the move
        (-1.0, -10.0, -50.0, 3, "conviction"),
        # real money with the move but smaller than mechanical, share under 2/3
        (1.0, 60.0, 40.0, 3, "mixed"),
        # coverage too thin
        (1.0, 500.0, 1.0, 1, "unknown"),
        # no move
        (0.0, 500.0, 1.0, 3, "unknown"),
        (None, 500.0, 1.0, 3, "unknown"),
        # real money unknown
        (1.0, 500.0, None, 3, "unknown"),
    ],
)
def test_verdict_rule_at_its_boundaries(move, mechanical, real, known, expected) -> None:
    verdict, reason = verdict_for(move, mechanical, real, known)
    assert verdict == expected
    assert reason


def test_share_needs_both_sides() -> None:
    assert mechanical_share(None, 5.0) is None
    assert mechanical_share(5.0, None) is None
    assert mechanical_share(0.0, 0.0) is None
    assert mechanical_share(-30.0, 10.0) == pytest.approx(0.75)


def test_estimates_for_another_asset_are_refused() -> None:
    with pytest.raises(ValueError, match="ETH"):
        _ledger(1.0, _row("gamma", 1.0, asset="ETH"))


def test_json_contract_fields() -> None:
    ledger = _ledger(1.0, _row("leveraged", 5e6), _row("gamma", -1e6), _row("etf_flows", 2e6))
    data = ledger.to_json_dict()
    for field in (
        "asset",
        "as_of",
        "move_pct",
        "rows",
        "net_mechanical_usd",
        "real_money_usd",
        "mechanical_share",
        "verdict",
        "coverage",
    ):
        assert field in data
    assert set(data["rows"][0]) >= {"source", "usd", "timing", "basis", "confidence"}
