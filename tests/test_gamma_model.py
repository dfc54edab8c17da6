"""The dealer-gamma model on hand-built chains: the GEX formula and convention, the zero-gamma
search, expiry exclusion, walls, per-expiry shares, hedge flows and FlowEstimates."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from flows.errors import InputError, MarketDataError
from flows.models.gamma import (
    bs_gamma,
    compute_gamma,
    gamma_estimates,
    prepare,
    total_gex_curve,
    zero_gamma,
)
from flows.options import OptionChain

AS_OF = dt.date(2025, 3, 3)


def chain(rows, asset="SPY", as_of=AS_OF) -> OptionChain:
    frame = pd.DataFrame(
        rows, columns=["expiry", "strike", "type", "open_interest", "implied_vol", "multiplier"]
    )
    return OptionChain.from_frame(
        frame, asset=asset, as_of=as_of, source="test", description="hand-built chain"
    )


def days(n: int) -> str:
    return (AS_OF + dt.timedelta(days=n)).isoformat()


def hand_gex(sign, spot, strike, vol, years, rate, oi, multiplier):
    """Black–Scholes gamma written out term by term, then the convention."""
    d1 = (math.log(spot / strike) + (rate + vol * vol / 2) * years) / (vol * math.sqrt(years))
    density = math.exp(-d1 * d1 / 2) / math.sqrt(2 * math.pi)
    gamma = density / (spot * vol * math.sqrt(years))
    return sign * gamma * oi * multiplier * spot * spot * 0.01


def test_gex_of_a_two_strike_chain_matches_the_hand_computation():
    two = chain(
        [
            (days(73), 100.0, "call", 1000, 0.20, 100),
            (days(73), 90.0, "put", 2000, 0.25, 100),
        ]
    )
    result = compute_gamma(two, spot=100.0, rate=0.04)
    call = hand_gex(+1, 100.0, 100.0, 0.20, 0.2, 0.04, 1000, 100)
    put = hand_gex(-1, 100.0, 90.0, 0.25, 0.2, 0.04, 2000, 100)
    # By hand for the call: d1 = 0.012 / 0.0894427 = 0.134164, φ(d1) = 0.395366,
    # Γ = 0.395366 / 8.94427 = 0.0442034, GEX = Γ · 1000 · 100 · 100² · 0.01 = 442,034.
    assert call == pytest.approx(442_034, rel=1e-4)
    assert result.gex_usd_per_pct == pytest.approx(call + put, rel=1e-12)
    assert result.regime == ("long_gamma" if call + put > 0 else "short_gamma")
    assert result.call_wall == 100.0 and result.put_wall == 90.0
    assert result.hedge_usd == {
        "-2%": pytest.approx(2 * (call + put)),
        "-1%": pytest.approx(call + put),
        "+1%": pytest.approx(-(call + put)),
        "+2%": pytest.approx(-2 * (call + put)),
    }
    assert result.contracts == 2


def test_long_gamma_sells_rallies_and_short_gamma_buys_them():
    calls_only = compute_gamma(chain([(days(30), 100.0, "call", 500, 0.2, 100)]), spot=100.0)
    puts_only = compute_gamma(chain([(days(30), 100.0, "put", 500, 0.2, 100)]), spot=100.0)
    assert calls_only.regime == "long_gamma" and calls_only.hedge_usd["+1%"] < 0
    assert puts_only.regime == "short_gamma" and puts_only.hedge_usd["+1%"] > 0
    assert calls_only.gex_usd_per_pct == pytest.approx(-puts_only.gex_usd_per_pct)


def test_zero_gamma_is_found_at_a_known_crossing():
    # A call at 110 and a put at 90 with the same OI, vol and T, and r = 0: their gammas are
    # equal where ln(x/110) + ln(x/90) + σ²T = 0, i.e. x* = √(110·90)·exp(−σ²T/2).
    vol, years = 0.2, 0.25
    sym = chain(
        [
            (days(91), 110.0, "call", 1000, vol, 100),
            (days(91), 90.0, "put", 1000, vol, 100),
        ]
    )
    years = 91 / 365
    expected = math.sqrt(110 * 90) * math.exp(-vol * vol * years / 2)
    result = compute_gamma(sym, spot=100.0, rate=0.0)
    assert result.zero_gamma == pytest.approx(expected, abs=1e-4 * 100)
    assert result.zero_gamma_distance_pct == pytest.approx((expected / 100 - 1) * 100, abs=0.01)
    # Total GEX changes sign across it: above x* the call dominates (long gamma).
    prepared = prepare(sym, 0.0)
    below, above = total_gex_curve(prepared, np.array([expected * 0.99, expected * 1.01]))
    assert below < 0 < above


def test_the_crossing_nearest_to_spot_is_reported():
    # Puts at 80 and 120, a big call at 100: GEX is negative near 80 and 120, positive around
    # 100, so it crosses twice; spot 104 is nearer the upper crossing.
    rows = [
        (days(30), 80.0, "put", 3000, 0.2, 100),
        (days(30), 100.0, "call", 3000, 0.2, 100),
        (days(30), 120.0, "put", 3000, 0.2, 100),
    ]
    prepared = prepare(chain(rows), 0.04)
    near_high = zero_gamma(prepared, 104.0)
    near_low = zero_gamma(prepared, 96.0)
    assert 100 < near_high < 120 and 80 < near_low < 100
    for root, spot in ((near_high, 104.0), (near_low, 96.0)):
        # Found to 0.01 % of spot: the sign differs on either side of that band.
        step = 1e-4 * spot
        low, high = total_gex_curve(prepared, np.array([root - step, root + step]))
        assert low * high < 0


def test_no_sign_change_gives_no_zero_gamma():
    result = compute_gamma(chain([(days(30), 100.0, "call", 500, 0.2, 100)]), spot=100.0)
    assert result.zero_gamma is None and result.zero_gamma_distance_pct is None
    assert result.to_json_dict()["zero_gamma"] is None


def test_expiries_on_or_before_as_of_are_excluded():
    base = [(days(30), 100.0, "call", 500, 0.2, 100), (days(30), 95.0, "put", 700, 0.22, 100)]
    expired = [
        (days(0), 100.0, "put", 10**7, 0.2, 100),
        (days(-5), 100.0, "put", 10**7, 0.2, 100),
    ]
    plain = compute_gamma(chain(base), spot=100.0)
    with_expired = compute_gamma(chain(base + expired), spot=100.0)
    assert with_expired.gex_usd_per_pct == plain.gex_usd_per_pct
    assert with_expired.contracts == 2
    assert "2 expired on or before as-of" in with_expired.basis
    assert [e.expiry for e in with_expired.by_expiry] == [AS_OF + dt.timedelta(days=30)]
    with pytest.raises(MarketDataError, match="expires on or before"):
        compute_gamma(chain(expired), spot=100.0)


def test_per_expiry_gex_and_shares():
    rows = [
        (days(7), 100.0, "call", 1000, 0.2, 100),
        (days(7), 100.0, "put", 250, 0.2, 100),
        (days(60), 100.0, "put", 1000, 0.2, 100),
    ]
    result = compute_gamma(chain(rows), spot=100.0)
    first, second = result.by_expiry
    assert first.gex_usd_per_pct > 0 > second.gex_usd_per_pct
    assert first.gex_usd_per_pct + second.gex_usd_per_pct == pytest.approx(result.gex_usd_per_pct)
    gross = abs(first.gex_usd_per_pct) + abs(second.gex_usd_per_pct)
    assert first.share == pytest.approx(abs(first.gex_usd_per_pct) / gross)
    assert first.share + second.share == pytest.approx(1.0)


def test_walls_sum_over_expiries():
    rows = [
        (days(7), 105.0, "call", 600, 0.2, 100),
        (days(30), 105.0, "call", 600, 0.2, 100),
        (days(7), 102.0, "call", 900, 0.2, 100),
        (days(7), 95.0, "put", 500, 0.2, 100),
        (days(30), 97.0, "put", 900, 0.2, 100),
    ]
    result = compute_gamma(chain(rows), spot=100.0)
    strikes = list(result.strikes)
    calls = dict(zip(strikes, result.call_gex_by_strike, strict=True))
    puts = dict(zip(strikes, result.put_gex_by_strike, strict=True))
    assert result.call_wall == max(calls, key=calls.get)
    assert result.put_wall == min(puts, key=puts.get)


def test_the_vectorised_curve_equals_per_contract_black_scholes():
    rng = np.random.default_rng(7)
    n = 300
    rows = [
        (
            days(int(rng.integers(1, 400))),
            float(rng.uniform(60, 140)),
            "call" if rng.random() < 0.5 else "put",
            float(rng.integers(0, 5000)),
            float(rng.uniform(0.1, 0.6)),
            100,
        )
        for _ in range(n)
    ]
    prepared = prepare(chain(rows), 0.03)
    for x in (70.0, 100.0, 133.0):
        gammas = bs_gamma(x, prepared.strike, prepared.years, prepared.vol, 0.03)
        expected = float((prepared.exposure * gammas).sum() * x * x * 0.01)
        assert total_gex_curve(prepared, np.array([x]))[0] == pytest.approx(expected, rel=1e-10)


def test_json_contract_fields():
    result = compute_gamma(chain([(days(30), 100.0, "call", 500, 0.2, 100)]), spot=100.0)
    payload = result.to_json_dict()
    assert list(payload) == [
        "asset", "as_of", "spot", "rate", "gex_usd_per_pct", "regime", "zero_gamma",
        "zero_gamma_distance_pct", "call_wall", "put_wall", "by_expiry", "hedge_usd",
        "contracts", "source", "basis",
    ]  # fmt: skip
    assert list(payload["by_expiry"][0]) == ["expiry", "gex_usd_per_pct", "share"]
    assert list(payload["hedge_usd"]) == ["-2%", "-1%", "+1%", "+2%"]
    assert "dealers long calls, short puts" in payload["basis"]


def test_flow_estimates_are_the_hedge_for_a_move():
    result = compute_gamma(chain([(days(30), 100.0, "put", 500, 0.2, 100)]), spot=100.0)
    down, up = gamma_estimates(result)
    assert down.source == "gamma:-1%" and up.source == "gamma:+1%"
    assert up.usd == pytest.approx(-result.gex_usd_per_pct) and up.usd > 0
    assert down.usd == pytest.approx(result.gex_usd_per_pct)
    assert up.confidence == "scenario" and up.timing.start == AS_OF
    assert "GEX" in up.basis


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([(days(30), 100.0, "call", 0, 0.2, 100)], "no open interest"),
        ([(days(30), 100.0, "call", 10, -0.2, 100)], "implied vol is negative"),
        ([(days(30), 100.0, "straddle", 10, 0.2, 100)], "not call or put"),
        ([(days(30), -5.0, "call", 10, 0.2, 100)], "strike must be positive"),
        ([(days(30), 100.0, "call", float("nan"), 0.2, 100)], "not a number"),
    ],
)
def test_untrustworthy_chains_are_rejected(rows, message):
    with pytest.raises(MarketDataError, match=message):
        chain(rows)


def test_bad_spot_or_rate():
    ok = chain([(days(30), 100.0, "call", 500, 0.2, 100)])
    with pytest.raises(InputError, match="--spot"):
        compute_gamma(ok, spot=-1.0)
    with pytest.raises(InputError, match="--rate"):
        compute_gamma(ok, spot=100.0, rate=4.0)
