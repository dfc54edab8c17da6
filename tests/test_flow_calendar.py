"""The flow calendar: every event kind's date rule against known dates, holiday shifts, the
crypto expiry on a US holiday, period-end sizing, buyback blackout and the monitor helpers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from flows import calendar, event_rules
from flows.buybacks import (
    BLACKOUT_START_DAYS,
    REPORT_WEEK_SHARES,
    blackout_estimate,
    blackout_milestones,
    reported_fraction,
)
from flows.errors import InputError, MarketDataError
from flows.event_sizing import load_period_end_sizing, next_period_end, size_period_ends
from flows.flow_calendar import (
    EVENT_KINDS,
    LATER_PERIOD,
    NOT_SIZED,
    events_needing_heads_up,
    flow_calendar,
    validate_kinds,
    weekly_digest,
)
from flows.funds import parse_registry
from flows.marketdata import MarketData
from flows.marketdata.sample import SampleSource
from flows.results import PeriodEndSizing

D = dt.date


def kinds_on(events, kind):
    return [event.date for event in events if event.kind == kind]


# --- expiries and index events -------------------------------------------------------------------


def test_opex_on_good_friday_moves_to_the_thursday_before():
    # Good Friday 2025 is the third Friday of April and NYSE is shut.
    assert D(2025, 4, 18).weekday() == 4 and not calendar.is_session(D(2025, 4, 18))
    events = flow_calendar(D(2025, 4, 1), D(2025, 4, 30), ["opex"])
    assert kinds_on(events, "opex") == [D(2025, 4, 17)]
    assert "2025-04-18 is not an NYSE session → 2025-04-17" in events[0].basis


def test_opex_on_an_ordinary_month_is_the_third_friday():
    events = flow_calendar(D(2025, 1, 1), D(2025, 12, 31), ["opex"])
    assert kinds_on(events, "opex") == [
        D(2025, 1, 17),
        D(2025, 2, 21),
        D(2025, 3, 21),
        D(2025, 4, 17),
        D(2025, 5, 16),
        D(2025, 6, 20),
        D(2025, 7, 18),
        D(2025, 8, 15),
        D(2025, 9, 19),
        D(2025, 10, 17),
        D(2025, 11, 21),
        D(2025, 12, 19),
    ]
    assert all("holiday" not in e.name for e in events)
    assert [e.name for e in events if "quad witching" in e.name] == [
        "March 2025 monthly options expiry (quad witching)",
        "June 2025 monthly options expiry (quad witching)",
        "September 2025 monthly options expiry (quad witching)",
        "December 2025 monthly options expiry (quad witching)",
    ]


def test_juneteenth_2026_moves_quad_witching_and_the_sp500_rebalance_to_thursday():
    assert D(2026, 6, 19) == event_rules.nth_weekday(2026, 6, event_rules.FRIDAY, 3)
    assert not calendar.is_session(D(2026, 6, 19))
    events = flow_calendar(D(2026, 6, 1), D(2026, 6, 30), ["quad_witching", "sp500_rebalance"])
    assert [(e.date, e.kind) for e in events] == [
        (D(2026, 6, 18), "quad_witching"),
        (D(2026, 6, 18), "sp500_rebalance"),
    ]
    assert all("2026-06-19 is not an NYSE session" in e.basis for e in events)
    assert events[1].timing == "after the close"


def test_quad_witching_and_sp500_rebalance_only_in_quarter_months():
    events = flow_calendar(D(2025, 1, 1), D(2025, 12, 31), ["quad_witching", "sp500_rebalance"])
    expected = [D(2025, 3, 21), D(2025, 6, 20), D(2025, 9, 19), D(2025, 12, 19)]
    assert kinds_on(events, "quad_witching") == expected
    assert kinds_on(events, "sp500_rebalance") == expected
    with pytest.raises(ValueError):
        event_rules.quad_witching(2025, 4)


def test_deribit_expiry_keeps_good_friday_2024_because_crypto_ignores_us_holidays():
    assert not calendar.is_session(D(2024, 3, 29))
    events = flow_calendar(D(2024, 3, 1), D(2024, 3, 31), ["deribit_expiry"])
    assert kinds_on(events, "deribit_expiry") == [D(2024, 3, 29)]
    event = events[0]
    assert event.timing == "08:00 UTC"
    assert "quarterly" in event.name
    assert "NYSE is closed that day" in event.basis


def test_deribit_expiry_is_the_last_friday_of_every_month():
    events = flow_calendar(D(2026, 1, 1), D(2026, 12, 31), ["deribit_expiry"])
    dates = kinds_on(events, "deribit_expiry")
    assert len(dates) == 12
    assert all(d.weekday() == 4 and (d + dt.timedelta(days=7)).month != d.month for d in dates)
    # Christmas 2026 is the last Friday of December: still the expiry.
    assert dates[-1] == D(2026, 12, 25) and not calendar.is_session(D(2026, 12, 25))
    quarterly = [e.date.month for e in events if "quarterly" in e.name]
    assert quarterly == [3, 6, 9, 12]


@pytest.mark.parametrize(
    ("year", "month", "expected"),
    [
        (2025, 2, D(2025, 2, 28)),
        (2025, 5, D(2025, 5, 30)),  # May 31 is a Saturday
        (2025, 8, D(2025, 8, 29)),
        (2025, 11, D(2025, 11, 28)),  # the early-close Friday after Thanksgiving is a session
        (2026, 8, D(2026, 8, 31)),
        (2027, 5, D(2027, 5, 28)),  # May 31 2027 is Memorial Day
    ],
)
def test_msci_review_is_the_last_nyse_session_of_feb_may_aug_nov(year, month, expected):
    dated = event_rules.msci_review(year, month)
    assert dated.date == expected
    assert dated.source == event_rules.ESTIMATE_SOURCE


def test_msci_review_only_in_its_months():
    events = flow_calendar(D(2026, 1, 1), D(2026, 12, 31), ["msci_review"])
    assert [e.date.month for e in events] == [2, 5, 8, 11]


def test_russell_reconstitution_uses_announced_dates_with_their_source_then_the_rule():
    announced = event_rules.russell_reconstitution(2024)
    assert announced.date == D(2024, 6, 28)
    assert announced.source.startswith("announced: FTSE Russell")
    assert event_rules.russell_reconstitution(2025).date == D(2025, 6, 27)
    for year, fourth_friday in ((2023, D(2023, 6, 23)), (2026, D(2026, 6, 26))):
        dated = event_rules.russell_reconstitution(year)
        assert dated.date == fourth_friday
        assert dated.source == "rule-based estimate"
        assert "rule-based estimate" in dated.basis
    events = flow_calendar(D(2024, 1, 1), D(2026, 12, 31), ["russell_reconstitution"])
    assert kinds_on(events, "russell_reconstitution") == [
        D(2024, 6, 28),
        D(2025, 6, 27),
        D(2026, 6, 26),
    ]
    assert all(e.timing == "after the close" for e in events)


def test_month_and_quarter_ends_keep_their_window():
    events = flow_calendar(D(2024, 3, 1), D(2024, 3, 31), ["month_end", "quarter_end"])
    assert [(e.date, e.kind) for e in events] == [
        (D(2024, 3, 28), "month_end"),
        (D(2024, 3, 28), "quarter_end"),
    ]
    quarter = events[1]
    assert (quarter.window_start, quarter.window_end) == (D(2024, 3, 22), D(2024, 3, 28))


# --- the calendar as a whole ---------------------------------------------------------------------


def test_a_quarter_with_june_shows_every_kind_in_date_order():
    events = flow_calendar(D(2026, 4, 1), D(2026, 6, 30))
    assert {e.kind for e in events} == set(EVENT_KINDS)
    assert [e.date for e in events] == sorted(e.date for e in events)
    assert all(D(2026, 4, 1) <= e.date <= D(2026, 6, 30) for e in events)
    for event in events:
        payload = event.to_json_dict()
        assert {"date", "kind", "name", "trade_usd", "direction", "basis"} <= set(payload)
        assert event.basis, event.kind
        assert event.sessions_left == calendar.count_sessions_after(D(2026, 4, 1), event.date)


def test_default_range_from_today_spans_at_least_the_next_quarter():
    start = D(2026, 11, 21)
    events = flow_calendar(start, start + dt.timedelta(days=99))
    kinds = {e.kind for e in events}
    # No June inside: every kind but the Russell reconstitution.
    assert kinds == set(EVENT_KINDS) - {"russell_reconstitution"}


def test_unknown_kind_is_an_input_error_naming_the_known_ones():
    with pytest.raises(InputError, match="unknown event kind 'bogus'; known kinds: month_end"):
        validate_kinds(["opex", "bogus"])
    assert validate_kinds(["msci_review", "OPEX"]) == ("opex", "msci_review")
    assert validate_kinds(None) == EVENT_KINDS
    with pytest.raises(InputError):
        flow_calendar(D(2026, 1, 1), D(2026, 2, 1), ["nope"])


def test_an_empty_or_reversed_range_has_no_events():
    assert flow_calendar(D(2026, 2, 1), D(2026, 1, 1)) == []
    assert flow_calendar(D(2026, 1, 5), D(2026, 1, 6), ["month_end"]) == []


# --- sizing of period ends -----------------------------------------------------------------------


def test_sizing_fills_only_the_matching_period_end_and_says_why_the_rest_is_unknown():
    sizing = [
        PeriodEndSizing(
            kind="month_end",
            period_end=D(2026, 1, 30),
            as_of=D(2026, 1, 15),
            trade_usd=-2.0e9,
            direction="sell",
            trades_usd={"SPY": -2.0e9, "AGG": 2.0e9},
            basis="if the period ended on 2026-01-15: test basis",
        )
    ]
    events = flow_calendar(D(2026, 1, 15), D(2026, 3, 31), ["month_end", "quarter_end"], sizing)
    january, february, march, quarter = events
    assert (january.trade_usd, january.direction) == (-2.0e9, "sell")
    assert january.trades_usd == {"SPY": -2.0e9, "AGG": 2.0e9}
    assert january.trade_basis == "if the period ended on 2026-01-15: test basis"
    assert february.trade_usd is None and march.trade_usd is None
    assert february.trade_basis == LATER_PERIOD.format(what="month end")
    # No quarter-end sizing was given at all.
    assert quarter.kind == "quarter_end" and quarter.trade_basis == NOT_SIZED


def test_unknown_sizing_keeps_the_event_with_the_reason():
    sizing = [
        PeriodEndSizing(
            kind="quarter_end",
            period_end=D(2026, 3, 31),
            as_of=None,
            trade_usd=None,
            direction=None,
            trades_usd=None,
            basis="unknown: market data unavailable (SPY from live: no network)",
        )
    ]
    [event] = flow_calendar(D(2026, 3, 1), D(2026, 3, 31), ["quarter_end"], sizing)
    assert event.trade_usd is None and event.direction is None
    assert "no network" in event.trade_basis


REGISTRY_6040 = parse_registry(
    """
[[fund]]
name = "Monthly 60/40"
aum_usd = 1.0e9
rebalance = "monthly"
aum_source = "test"
weights = { SPY = 0.6, AGG = 0.4 }

[[fund]]
name = "Quarterly 50/50"
aum_usd = 2.0e9
rebalance = "quarterly"
aum_source = "test"
weights = { SPY = 0.5, AGG = 0.5 }
""",
    "test registry",
)


def _frame(days: list[dt.date], closes: list[float]) -> pd.DataFrame:
    close = np.array(closes, dtype=float)
    return pd.DataFrame(
        {
            "open": close,
            "high": close,
            "low": close,
            "close": close,
            "volume": np.full(len(close), 1.0e7),
            "adj_close": close,
        },
        index=pd.DatetimeIndex(days, name="date"),
    )


def test_size_period_ends_matches_the_drift_formula():
    days = calendar.sessions_between(D(2025, 12, 1), D(2026, 1, 15))
    # SPY up 10 % since the December month end, AGG flat.
    spy = [100.0 if d <= D(2025, 12, 31) else 110.0 for d in days]
    frames = {"SPY": _frame(days, spy), "AGG": _frame(days, [100.0] * len(days))}
    month, quarter = size_period_ends(
        D(2026, 1, 15), D(2026, 1, 15), frames, REGISTRY_6040, "test data"
    )
    assert month.kind == "month_end" and month.period_end == D(2026, 1, 30)
    drifted = 0.6 * 1.1 / (0.6 * 1.1 + 0.4)
    assert month.trade_usd == pytest.approx((0.6 - drifted) * 1.0e9)
    assert month.trades_usd["AGG"] == pytest.approx(-month.trade_usd)
    assert month.direction == "sell"
    assert "drift since 2025-12-31" in month.basis and "test data" in month.basis
    assert quarter.period_end == D(2026, 3, 31)
    drifted_q = 0.5 * 1.1 / (0.5 * 1.1 + 0.5)
    assert quarter.trade_usd == pytest.approx((0.5 - drifted_q) * 2.0e9)


def test_size_period_ends_has_no_drift_right_after_a_rebalance():
    days = calendar.sessions_between(D(2025, 12, 1), D(2025, 12, 31))
    frames = {"SPY": _frame(days, [100.0] * len(days)), "AGG": _frame(days, [100.0] * len(days))}
    month, _ = size_period_ends(D(2026, 1, 2), D(2025, 12, 31), frames, REGISTRY_6040, "test")
    assert month.period_end == D(2026, 1, 30)
    assert month.trade_usd == 0.0 and "no drift yet" in month.basis


def test_next_period_end():
    assert next_period_end("month_end", D(2026, 11, 21)) == D(2026, 11, 30)
    assert next_period_end("month_end", D(2026, 12, 31)) == D(2026, 12, 31)
    assert next_period_end("quarter_end", D(2026, 11, 21)) == D(2026, 12, 31)
    assert next_period_end("quarter_end", D(2027, 1, 1)) == D(2027, 3, 31)


async def test_load_period_end_sizing_on_sample_data():
    market = MarketData(SampleSource(today=D(2026, 1, 20)))
    sizing = await load_period_end_sizing(D(2026, 1, 20), market, REGISTRY_6040, "sample")
    month = next(s for s in sizing if s.kind == "month_end")
    assert month.as_of == D(2026, 1, 20) and month.period_end == D(2026, 1, 30)
    assert month.trade_usd is not None and month.direction in ("buy", "sell", "neutral")
    assert set(month.trades_usd) == {"SPY", "AGG"}


class _BrokenSource:
    name = "broken"
    is_sample = False

    async def fetch(self, symbol, start, end):
        raise MarketDataError(symbol, "broken", "no network")

    async def close(self):
        return None


async def test_load_period_end_sizing_turns_a_data_failure_into_unknown():
    sizing = await load_period_end_sizing(
        D(2026, 1, 20), MarketData(_BrokenSource()), REGISTRY_6040, "broken"
    )
    assert [s.kind for s in sizing] == ["month_end", "quarter_end"]
    assert all(s.trade_usd is None and "no network" in s.basis for s in sizing)
    events = flow_calendar(D(2026, 1, 20), D(2026, 3, 31), ["month_end"], sizing)
    assert events[0].trade_usd is None and "no network" in events[0].trade_basis


# --- buyback blackout ----------------------------------------------------------------------------


def test_assumed_report_distribution_is_a_distribution():
    assert sum(REPORT_WEEK_SHARES) == pytest.approx(1.0)
    assert reported_fraction(0) == 0.0
    assert reported_fraction(7 * len(REPORT_WEEK_SHARES)) == pytest.approx(1.0)
    values = [reported_fraction(n) for n in range(0, 60)]
    assert values == sorted(values)


def test_rule_of_thumb_blackout_share_over_a_season():
    quarter_end = D(2026, 9, 30)
    opens = quarter_end - dt.timedelta(days=BLACKOUT_START_DAYS)
    assert blackout_estimate(opens - dt.timedelta(days=1)).share == 0.0
    assert blackout_estimate(opens).share == 1.0
    assert blackout_estimate(quarter_end).share == 1.0
    season = [blackout_estimate(quarter_end + dt.timedelta(days=n)) for n in range(0, 70)]
    shares = [e.share for e in season]
    assert shares == sorted(shares, reverse=True)
    assert shares[-1] == 0.0
    assert {e.quarter for e in season[:40]} == {"2026Q3"}
    assert all(e.method == "rule_of_thumb" and "estimate" in e.basis for e in season)


def test_blackout_share_from_earnings_dates_counts_companies():
    report_dates = {
        "AAA": D(2026, 10, 14),
        "BBB": D(2026, 10, 21),
        "CCC": D(2026, 10, 28),
        "DDD": D(2026, 11, 4),
    }
    on = blackout_estimate(D(2026, 10, 23), report_dates)
    # AAA is out from Oct 16, BBB from Oct 23: two of four still in.
    assert on.share == 0.5 and on.method == "earnings_dates" and on.companies == 4
    assert blackout_estimate(D(2026, 9, 10), report_dates).share == 0.0


def test_blackout_milestones_are_sessions_with_falling_shares():
    milestones = blackout_milestones(D(2026, 9, 1), D(2026, 12, 1))
    assert [m.stage for m in milestones] == ["opens", "half_out", "mostly_over"]
    assert milestones[0].date == D(2026, 9, 16) and milestones[0].share == 1.0
    assert all(calendar.is_session(m.date) for m in milestones)
    half, mostly = milestones[1], milestones[2]
    assert half.share <= 0.5 and mostly.share <= 0.1 + 1e-9
    # The day before the half-out milestone more than half were still in.
    assert blackout_estimate(calendar.previous_session(half.date)).share > 0.5
    events = flow_calendar(D(2026, 9, 1), D(2026, 12, 1), ["buyback_blackout"])
    # The rule of thumb's "everyone in" at the opening is not claimed as an estimate.
    assert [e.blackout_share for e in events] == [None, half.share, mostly.share]
    assert "100%" not in events[0].name and "opens" in events[0].name
    assert all(e.source.startswith("estimate") for e in events)


# --- helpers for the monitors --------------------------------------------------------------------


def test_heads_up_the_session_before_includes_a_crypto_expiry_on_a_us_holiday():
    # Thursday 2024-03-28: Good Friday follows, then Monday April 1.
    events = events_needing_heads_up(D(2024, 3, 28))
    assert [(e.date, e.kind) for e in events] == [(D(2024, 3, 29), "deribit_expiry")]


def test_heads_up_for_opex_on_the_session_before_and_nothing_on_a_holiday():
    events = events_needing_heads_up(D(2025, 4, 16), ["opex"])
    assert [e.date for e in events] == [D(2025, 4, 17)]
    assert events_needing_heads_up(D(2025, 4, 18)) == []
    assert events_needing_heads_up(D(2025, 4, 17), ["opex"]) == []


def test_weekly_digest_covers_seven_days():
    events = weekly_digest(D(2026, 6, 15))
    assert {e.date for e in events} <= {D(2026, 6, 15) + dt.timedelta(days=n) for n in range(7)}
    assert {"opex", "quad_witching", "sp500_rebalance", "buyback_blackout"} <= {
        e.kind for e in events
    }


def test_close_time_utc_includes_early_closes_and_daylight_saving():
    assert event_rules.close_time_utc(D(2026, 11, 27)) == dt.datetime(
        2026, 11, 27, 18, tzinfo=dt.UTC
    )
    assert event_rules.close_time_utc(D(2026, 7, 6)) == dt.datetime(2026, 7, 6, 20, tzinfo=dt.UTC)
    assert event_rules.close_time_utc(D(2026, 1, 5)) == dt.datetime(2026, 1, 5, 21, tzinfo=dt.UTC)
    assert event_rules.minutes_before_close_utc(D(2026, 11, 27), 30) == dt.datetime(
        2026, 11, 27, 17, 30, tzinfo=dt.UTC
    )
    with pytest.raises(InputError, match="not an NYSE session"):
        event_rules.close_time_utc(D(2025, 4, 18))
