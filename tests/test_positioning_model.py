"""The positioning model on constructed series: every classification, the dead bands, funding
weight, forced-flow signs, ETF flows per fund and in total, client participation."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from flows.errors import InputError
from flows.models.positioning import (
    PositioningConfig,
    classify,
    client_participation,
    forced_flow,
    funding_confirms,
    positioning_from_frames,
)
from flows.positioning import require_covered


@pytest.mark.parametrize(
    ("price", "oi", "expected"),
    [
        (2.0, -3.0, "short_covering"),
        (2.0, 3.0, "new_longs"),
        (-2.0, 3.0, "new_shorts"),
        (-2.0, -3.0, "long_liquidation"),
        (0.5, -3.0, "mixed"),  # price exactly on its band
        (-0.49, 3.0, "mixed"),
        (2.0, 1.0, "mixed"),  # OI exactly on its band
        (2.0, -0.2, "mixed"),
        (0.51, -1.01, "short_covering"),  # just outside both bands
        (None, 3.0, "unknown"),
        (2.0, None, "unknown"),
    ],
)
def test_classification_and_dead_bands(price, oi, expected):
    assert classify(price, oi) == expected


def test_dead_bands_are_configurable():
    wide = PositioningConfig(price_band_pct=3.0, oi_band_pct=5.0)
    assert classify(2.0, -3.0, wide) == "mixed"
    assert classify(3.5, -6.0, wide) == "short_covering"
    assert classify(0.2, -0.3, PositioningConfig(price_band_pct=0.1, oi_band_pct=0.2)) == (
        "short_covering"
    )


def test_funding_weight():
    assert funding_confirms("short_covering", -0.0003, -0.0001) is True
    assert funding_confirms("short_covering", 0.0001, 0.0002) is False  # not from negative
    assert funding_confirms("new_longs", 0.0001, 0.0002) is True
    assert funding_confirms("new_longs", 0.0002, 0.0001) is False
    assert funding_confirms("new_shorts", -0.0001, -0.0002) is True
    assert funding_confirms("long_liquidation", 0.0002, 0.0001) is True
    assert funding_confirms("mixed", -0.0003, -0.0001) is None
    assert funding_confirms("short_covering", None, -0.0001) is None


def test_forced_flow_signs():
    assert forced_flow("short_covering", -2e8) == 2e8  # the buy-back, a buy
    assert forced_flow("long_liquidation", -2e8) == -2e8  # forced selling
    assert forced_flow("new_longs", 3e8) == 0.0
    assert forced_flow("mixed", 1e6) is None
    assert forced_flow("unknown", None) is None


def test_client_participation():
    assert client_participation(3e8, [1e8]) == pytest.approx(0.75)
    assert client_participation(-3e8, [1e8]) == 0.0  # ETF selling: no real-money buying
    assert client_participation(None, [1e8]) is None  # flows missing
    assert client_participation(3e8, [None]) is None  # mechanical unknown
    assert client_participation(-1e8, [-2e8]) is None  # nobody bought


def _bars(closes: list[float], start: dt.date) -> pd.DataFrame:
    index = pd.DatetimeIndex(pd.date_range(start, periods=len(closes), freq="D"), name="date")
    frame = pd.DataFrame({"close": closes}, index=index)
    for column in ("open", "high", "low", "adj_close"):
        frame[column] = frame["close"]
    frame["volume"] = 1.0
    return frame


def _build(closes, oi, funding, flows, ratio=None, days=None):
    start = dt.date(2024, 12, 2)  # a Monday: each day below is an NYSE session
    bars = _bars(closes, start)
    derivs = pd.DataFrame(
        {
            "open_interest_usd": oi,
            "funding_rate": funding,
            "long_short_ratio": ratio or [float("nan")] * len(oi),
        },
        index=bars.index,
    )
    return positioning_from_frames(
        "BTC",
        bars,
        derivs,
        flows,
        None,
        bars.index[-1].date(),
        days or len(closes) - 1,
        source_label="constructed",
        sample=False,
        fund_methods={},
        flows_confidence="measured",
    )


def _flows(rows):
    return pd.DataFrame(
        [(pd.Timestamp(d), f, "BTC", v) for d, f, v in rows],
        columns=["date", "fund", "asset", "flow_usd"],
    )


def test_each_classification_on_a_constructed_series():
    # Day 1: +2% with OI −3% (covering); day 2: +2%, OI +3% (new longs); day 3: −2%, OI +3%
    # (new shorts); day 4: −2%, OI −3% (liquidation); day 5: +0.3% (inside the band).
    closes = [100.0, 102.0, 104.04, 101.9592, 99.920016, 100.2198]
    oi = [10e9, 9.7e9, 9.991e9, 10.29073e9, 9.9820081e9, 9.0e9]
    funding = [-0.0003, -0.0001, 0.0002, -0.0001, -0.0002, 0.0001]
    report = _build(closes, oi, funding, _flows([]))
    labels = [day.classification for day in report.days]
    assert labels == ["short_covering", "new_longs", "new_shorts", "long_liquidation", "mixed"]
    covering, longs, shorts, liquidation, mixed = report.days
    assert covering.oi_change_usd == pytest.approx(-3e8)
    assert covering.forced_flow_usd == pytest.approx(3e8)  # buy-back of the OI drop
    assert covering.funding_confirms is True and covering.weight == pytest.approx(0.75)
    assert longs.forced_flow_usd == 0.0 and longs.funding_confirms is True
    assert shorts.funding_confirms is True  # funding fell while negative
    assert liquidation.forced_flow_usd == pytest.approx(-(10.29073e9 - 9.9820081e9))
    assert liquidation.funding_confirms is False and liquidation.weight == pytest.approx(0.5)
    assert mixed.forced_flow_usd is None and mixed.weight is None
    # The −9.8 % OI on the mixed day does not matter: the price is inside its band.
    assert mixed.oi_change_pct == pytest.approx(-9.8375, abs=1e-3)
    assert report.days[0].price_change_pct == pytest.approx(2.0)
    assert report.days[0].long_short_ratio is None  # an exchange without the ratio


def test_etf_flows_per_fund_total_trailing_and_a_missing_fund():
    closes = [100.0, 102.0, 104.04, 101.9592, 99.920016, 100.2198, 103.0]
    oi = [10e9, 9.7e9, 9.991e9, 10.29073e9, 9.9820081e9, 9.0e9, 8.8e9]
    funding = [0.0] * 7
    days = pd.date_range("2024-12-02", periods=7, freq="D")
    rows = []
    for i, day in enumerate(days[1:6], start=1):
        rows.append((day, "IBIT", 100e6 * i))
        if i != 3:  # FBTC missing on the third day
            rows.append((day, "FBTC", -10e6))
    report = _build(closes, oi, funding, _flows(rows), days=6)
    by_date = {day.date: day for day in report.days}
    third = by_date[days[3].date()]
    assert third.etf_flow_usd == pytest.approx(300e6)
    assert third.etf_flows_by_fund["FBTC"] is None  # unknown, not zero
    assert third.etf_flows_by_fund["IBIT"] == pytest.approx(300e6)
    assert by_date[days[1].date()].etf_flow_usd == pytest.approx(90e6)
    # No flows published for the last day: unknown, and so is the participation.
    last = report.days[-1]
    assert last.etf_flow_usd is None and last.client_participation is None
    # Trailing five sessions with flows: days 1..5.
    assert report.etf_flow_5d_by_fund["IBIT"] == pytest.approx(1500e6)
    assert report.etf_flow_5d_by_fund["FBTC"] == pytest.approx(-40e6)
    assert report.etf_flow_5d_by_fund["BITB"] is None
    assert report.etf_flow_5d_usd == pytest.approx(1460e6)
    # Day 1 is short covering (+$300m forced buying) with $90m ETF buying.
    first = by_date[days[1].date()]
    assert first.client_participation == pytest.approx(90e6 / (90e6 + 3e8))
    estimates = report.estimates()
    etf = [e for e in estimates if e.source == "etf_flows"]
    assert etf[0].confidence == "measured" and etf[0].usd == pytest.approx(90e6)
    assert etf[-1].usd is None and etf[-1].unknown_reason
    forced = [e for e in estimates if e.source == "positioning"]
    assert forced[0].usd == pytest.approx(3e8) and forced[0].timing.kind == "continuous"


def test_equity_hedge_unwinding_from_inverse_etf_outflows_and_vix():
    sessions = pd.DatetimeIndex(["2024-12-02", "2024-12-03", "2024-12-04"], name="date")
    bars = _bars([600.0, 606.0, 600.0], dt.date(2024, 12, 2)).set_axis(sessions)
    vix = pd.Series([15.0, 13.5, 16.0], index=sessions)
    flows = pd.DataFrame(
        [
            (sessions[1], "SH", "SPY", -50e6),  # −1x: $50m of short exposure off
            (sessions[1], "SPXU", "SPY", -20e6),  # −3x: $60m off
            (sessions[1], "SPY", "SPY", 400e6),
            (sessions[2], "SH", "SPY", 30e6),
        ],
        columns=["date", "fund", "asset", "flow_usd"],
    )
    report = positioning_from_frames(
        "SPY", bars, None, flows, vix, sessions[-1].date(), 2,
        source_label="constructed", sample=False, fund_methods={}, flows_confidence="measured",
    )  # fmt: skip
    up, down = report.days
    assert up.classification == "unknown" and up.oi_change_usd is None
    assert up.hedge_unwind_usd == pytest.approx(110e6)
    assert up.forced_flow_usd == pytest.approx(110e6)
    assert up.vix_change_pct == pytest.approx(-10.0)
    assert up.client_participation == pytest.approx(400e6 / 510e6)
    assert down.hedge_unwind_usd == pytest.approx(-30e6)  # new hedges: selling
    assert report.derivatives is False and "hedge-unwinding proxy" in report.basis


def test_an_asset_without_derivatives_or_etf_flows_is_refused():
    with pytest.raises(InputError, match="AGG has no derivatives market"):
        require_covered("AGG")
    require_covered("BTC")
    require_covered("SPY")
