"""Earnings dates and live fund AUM: the report-date picker, the blackout counted from dates,
LiveSource's yfinance calls with recorded answers, the storage cache and the refresher that
ties them together (freshness, fallback to the cache, fallback to the rule of thumb)."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from bot.reference import (
    AUM_SOURCE,
    EARNINGS_SOURCE,
    PROBE_SIZE,
    ReferenceData,
    leveraged_funds_asked,
    live_reference_source,
)
from flows import calendar
from flows.buybacks import (
    RULE_BASIS,
    KnownReports,
    blackout_estimate,
    blackout_for,
    blackout_milestones,
    pick_report_dates,
    season_reports,
    season_window,
)
from flows.errors import FlowsError, MarketDataError
from flows.flow_calendar import flow_calendar
from flows.funds import load_registry, parse_registry
from flows.marketdata import live
from flows.marketdata.live import LiveSource
from flows.models.leveraged import estimate_letf, listed_ticker, with_aum
from flows.sp500 import largest_sp500_companies, parse_company_list
from storage.store import Store

D = dt.date
UTC = dt.UTC
NOW = dt.datetime(2026, 10, 20, 14, 0, tzinfo=UTC)
FIXTURES = Path(__file__).parent / "fixtures" / "live"


def earnings_frame(dates: list[dt.date]) -> pd.DataFrame:
    """What `Ticker.get_earnings_dates` returns: report times (4 PM New York) as the index."""
    index = pd.DatetimeIndex(
        [pd.Timestamp(day) + pd.Timedelta(hours=16) for day in dates], name="Earnings Date"
    ).tz_localize("America/New_York")
    return pd.DataFrame(
        {
            "EPS Estimate": [1.0] * len(dates),
            "Reported EPS": [float("nan")] * len(dates),
            "Surprise(%)": [float("nan")] * len(dates),
        },
        index=index,
    )


def known(dates: dict[str, tuple[dt.date, ...]], companies: int) -> KnownReports:
    return KnownReports(
        dates=dates,
        companies=companies,
        universe=f"the {companies} largest S&P 500 companies (test list)",
        source="Yahoo Finance earnings calendar, fetched 2026-10-19",
    )


# --- the company list ----------------------------------------------------------------------------


def test_built_in_company_list_is_a_dated_sample_of_yahoo_tickers():
    companies = largest_sp500_companies()
    assert len(companies.tickers) == 100 == len(set(companies.tickers))
    assert companies.tickers[:3] == ("NVDA", "AAPL", "MSFT")
    assert "BRK-B" in companies.tickers and "BRK.B" not in companies.tickers
    assert "GOOGL" in companies.tickers and "GOOG" not in companies.tickers  # one per company
    assert companies.source and companies.as_of
    assert "100 largest S&P 500 companies" in companies.description
    assert "not all 500" in companies.description and companies.as_of in companies.description


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('source = "s"\nas_of = "2026"\ntickers = []', "non-empty"),
        ('as_of = "2026"\ntickers = ["AAPL"]', "source"),
        ('source = "s"\ntickers = ["AAPL"]', "as_of"),
        ('source = "s"\nas_of = "2026"\ntickers = ["BRK.B"]', "not a Yahoo Finance ticker"),
        ('source = "s"\nas_of = "2026"\ntickers = ["AAPL", "AAPL"]', "listed twice"),
        ("tickers = [", "not valid TOML"),
    ],
)
def test_company_list_errors(text, problem):
    with pytest.raises(FlowsError, match=problem):
        parse_company_list(text, "test.toml")


# --- the report-date picker ----------------------------------------------------------------------


def test_season_window_runs_from_the_day_after_quarter_end_to_the_next_quarter_end():
    assert season_window(2026, 3) == (D(2026, 10, 1), D(2026, 12, 31))
    assert season_window(2026, 4) == (D(2027, 1, 1), D(2027, 3, 31))


def test_picker_takes_each_companys_report_in_the_days_season():
    history = {
        "AAA": (D(2026, 4, 22), D(2026, 7, 21), D(2026, 10, 20), D(2027, 1, 26)),
        "NVDA": (D(2026, 5, 27), D(2026, 8, 26), D(2026, 11, 18)),  # off-cycle fiscal year
        "OLD": (D(2025, 10, 21),),  # nothing this season: left out, not guessed
        "TWO": (D(2026, 10, 29), D(2026, 10, 15)),  # several in the window: the earliest
    }
    # Mid-season, after the quarter end: the Q3 season (reports Oct 1 - Dec 31).
    assert pick_report_dates(D(2026, 10, 23), history) == {
        "AAA": D(2026, 10, 20),
        "NVDA": D(2026, 11, 18),
        "TWO": D(2026, 10, 15),
    }
    # Two weeks before the next quarter end the Q4 season has begun: next reports.
    assert pick_report_dates(D(2026, 12, 20), history) == {"AAA": D(2027, 1, 26)}
    # A past day gets the report of its own season, not the latest one.
    assert pick_report_dates(D(2026, 8, 1), history) == {
        "AAA": D(2026, 7, 21),
        "NVDA": D(2026, 8, 26),
    }
    assert season_reports(history, 2026, 1) == {"AAA": D(2026, 4, 22), "NVDA": D(2026, 5, 27)}


# --- blackout from dates -------------------------------------------------------------------------


def test_blackout_from_dates_counts_companies_and_names_the_sample():
    dates = {
        "AAA": (D(2026, 7, 15), D(2026, 10, 14)),
        "BBB": (D(2026, 10, 21),),
        "CCC": (D(2026, 10, 28),),
        "DDD": (D(2026, 11, 4),),
    }
    reports = known(dates, companies=4)
    on = blackout_for(D(2026, 10, 23), reports)
    # AAA is out from Oct 16, BBB from Oct 23: two of four still in.
    assert (on.share, on.method, on.companies, on.quarter) == (0.5, "earnings_dates", 4, "2026Q3")
    assert "4 of the 4 largest S&P 500 companies (test list)" in on.basis
    assert "Yahoo Finance earnings calendar, fetched 2026-10-19" in on.basis
    assert blackout_for(D(2026, 9, 16), reports).share == 1.0  # opens 14 days before Sep 30
    assert blackout_for(D(2026, 11, 7), reports).share == 0.0
    # Without KnownReports it is the rule of thumb, as before.
    assert blackout_for(D(2026, 10, 23), None) == blackout_estimate(D(2026, 10, 23))


def test_too_few_dated_companies_fall_back_to_the_rule_of_thumb_and_say_so():
    dates = {f"C{i}": (D(2026, 10, 14),) for i in range(49)}
    thin = blackout_for(D(2026, 10, 23), known(dates, companies=100))
    assert thin.method == "rule_of_thumb" and thin.companies is None
    assert thin.share == blackout_estimate(D(2026, 10, 23)).share
    assert thin.basis.startswith(RULE_BASIS)
    assert "earnings dates for only 49 of the 100 largest" in thin.basis
    assert "fewer than the 50 needed" in thin.basis
    dates["C49"] = (D(2026, 10, 14),)
    assert blackout_for(D(2026, 10, 23), known(dates, companies=100)).method == "earnings_dates"


def test_milestones_from_dates_where_covered_and_from_the_rule_elsewhere():
    # Ten companies report on consecutive days from Oct 13: each is out two days after.
    dates = {f"C{i}": (D(2026, 10, 13) + dt.timedelta(days=i),) for i in range(10)}
    reports = known(dates, companies=10)
    milestones = blackout_milestones(D(2026, 9, 1), D(2027, 3, 1), reports)
    dated = [m for m in milestones if m.quarter == "2026Q3"]
    assert [m.stage for m in dated] == ["opens", "half_out", "mostly_over"]
    assert all(m.method == "earnings_dates" for m in dated)
    opens, half, mostly = dated
    assert (opens.date, opens.share) == (D(2026, 9, 16), 1.0)
    # Half are out once C0..C4 (Oct 13-17) are two days past: Oct 19 (a Monday session).
    assert (half.date, half.share) == (D(2026, 10, 19), 0.5)
    # Only C9 (Oct 22) is still in from Oct 23: 10 %.
    assert (mostly.date, mostly.share) == (D(2026, 10, 23), pytest.approx(0.1))
    assert all(calendar.is_session(m.date) for m in dated)
    # The Q4 season has no dates: rule of thumb, saying why.
    later = [m for m in milestones if m.quarter == "2026Q4"]
    assert later and all(m.method == "rule_of_thumb" for m in later)
    assert all("earnings dates for only 0 of" in m.basis for m in later)

    events = flow_calendar(D(2026, 9, 1), D(2027, 3, 1), ["buyback_blackout"], None, reports)
    sources = {e.name.split()[0]: e.source for e in events}
    assert sources["2026Q3"] == "estimate (earnings dates)"
    assert sources["2026Q4"] == "estimate (rule of thumb)"
    # Without dates the calendar is what it always was.
    plain = flow_calendar(D(2026, 9, 1), D(2027, 3, 1), ["buyback_blackout"])
    assert {e.source for e in plain} == {"estimate (rule of thumb)"}
    assert {e.basis for e in plain} == {RULE_BASIS}


# --- LiveSource.earnings_dates with recorded yfinance answers -----------------------------------


def test_yfinance_parses_the_recorded_calendar_page_into_the_frame_we_read(monkeypatch):
    """The fixture page through yfinance's own scraper gives the frame shape `earnings_frame`
    mimics, and LiveSource reads report days from it."""
    import yfinance as yf

    live.configure_yfinance(yf)  # as the production call does: quiet pandas deprecations

    class Response:
        text = (FIXTURES / "yahoo_earnings_calendar_aapl.html").read_text(encoding="utf-8")

    ticker = yf.Ticker("AAPL")
    monkeypatch.setattr(ticker._data, "cache_get", lambda *args, **kwargs: Response())
    frame = ticker.get_earnings_dates(limit=12)
    assert frame.index.name == "Earnings Date"
    assert str(frame.index.tz) == "America/New_York"

    source = LiveSource(yf_earnings=lambda _: frame, clock=lambda: NOW)
    dates = asyncio.run(source.earnings_dates("AAPL"))
    assert dates == [D(2025, 1, 30), D(2025, 5, 1), D(2025, 7, 31), D(2025, 10, 30), D(2026, 1, 29)]


async def test_earnings_dates_from_an_injected_frame_are_new_york_days_sorted():
    calls: list[str] = []

    def fake(ticker: str) -> pd.DataFrame:
        calls.append(ticker)
        frame = earnings_frame([D(2026, 10, 29), D(2026, 7, 30)])
        # An after-the-close report is late evening in UTC; the day must stay New York's.
        frame.index = frame.index + pd.Timedelta(hours=5)
        return frame

    source = LiveSource(yf_earnings=fake, clock=lambda: NOW)
    assert await source.earnings_dates("BRK.B") == [D(2026, 7, 30), D(2026, 10, 29)]
    assert calls == ["BRK-B"]  # Yahoo's spelling


@pytest.mark.parametrize(
    "answer",
    [
        None,  # yfinance: "No earnings dates found, symbol may be delisted"
        pd.DataFrame(),
        pd.DataFrame({"x": [1, 2]}, index=["garbage", "more garbage"]),
        pd.DataFrame({"x": [1]}, index=[0]),  # 1970: not a plausible report date
        "not a frame",
    ],
)
async def test_earnings_dates_empty_or_garbage_is_an_error(answer):
    source = LiveSource(yf_earnings=lambda _: answer, clock=lambda: NOW)
    with pytest.raises(MarketDataError, match="lists no earnings dates for ZZZZ"):
        await source.earnings_dates("ZZZZ")


async def test_earnings_dates_exception_is_one_line_and_network_errors_are_not_retried():
    calls = []

    def offline(ticker: str):
        calls.append(ticker)
        raise ConnectionError("Could not resolve host\nsecond line")

    source = LiveSource(yf_earnings=offline, retry_delays=(0.0, 0.0))
    with pytest.raises(MarketDataError) as caught:
        await source.earnings_dates("AAPL")
    assert "no network: cannot resolve" in str(caught.value)
    assert "\n" not in str(caught.value) and len(calls) == 1


async def test_earnings_dates_rate_limit_is_retried():
    from yfinance.exceptions import YFRateLimitError

    answers: list = [YFRateLimitError(), earnings_frame([D(2026, 10, 29)])]

    def limited(ticker: str):
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    source = LiveSource(yf_earnings=limited, retry_delays=(0.0,), clock=lambda: NOW)
    assert await source.earnings_dates("AAPL") == [D(2026, 10, 29)]


@pytest.mark.parametrize(
    "info", [{"totalAssets": float("nan")}, {"totalAssets": -5.0}, {"totalAssets": True}, {}]
)
async def test_fund_aum_garbage_is_none(info):
    assert await LiveSource(yf_info=lambda _: info).fund_aum("TQQQ") is None


# --- the storage cache ---------------------------------------------------------------------------


@pytest.fixture
async def store(tmp_path):
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'ref.db'}")
    yield store
    await store.close()


async def test_cache_replaces_a_tickers_dates_and_keeps_the_others(store):
    cache = store.reference
    earlier = NOW - dt.timedelta(days=3)
    await cache.save_earnings_dates(
        {"aapl": [D(2026, 10, 29), D(2026, 7, 30)], "MSFT": [D(2026, 10, 28)]}, earlier
    )
    await cache.save_earnings_dates({"AAPL": [D(2026, 10, 30)], "NONE": []}, NOW)
    cached = await cache.earnings_dates(["AAPL", "MSFT", "NONE"])
    assert set(cached) == {"AAPL", "MSFT"}  # an empty answer stores nothing
    assert cached["AAPL"].dates == (D(2026, 10, 30),)  # the moved date does not linger
    assert cached["AAPL"].fetched_at == NOW and cached["MSFT"].fetched_at == earlier
    assert await cache.earnings_dates([]) == {}
    assert set(await cache.earnings_dates()) == {"AAPL", "MSFT"}
    with pytest.raises(ValueError, match="naive"):
        await cache.save_earnings_dates({"X": [D(2026, 1, 1)]}, dt.datetime(2026, 1, 1))


async def test_cache_keeps_fund_aum_with_its_source(store):
    cache = store.reference
    await cache.save_fund_aum({"TQQQ": (2.0e10, "Yahoo Finance totalAssets, fetched X")}, NOW)
    await cache.save_fund_aum({"TQQQ": (2.1e10, "newer")}, NOW + dt.timedelta(hours=1))
    [(ticker, entry)] = (await cache.fund_aum(["tqqq"])).items()
    assert (ticker, entry.aum_usd, entry.source) == ("TQQQ", 2.1e10, "newer")
    assert entry.fetched_at == NOW + dt.timedelta(hours=1)


# --- the refresher -------------------------------------------------------------------------------


class FakeLive:
    """A live source at the reference boundary: recorded answers per ticker, calls counted."""

    name = "live"
    is_sample = False

    def __init__(self, dates=None, aum=None, fail=()) -> None:
        self.dates = dates or {}
        self.aum = aum or {}
        self.fail = set(fail)
        self.calls: list[str] = []

    async def earnings_dates(self, ticker: str) -> list[dt.date]:
        self.calls.append(ticker)
        if ticker in self.fail or ticker not in self.dates:
            raise MarketDataError(ticker, "live", "network error reaching Yahoo Finance")
        return list(self.dates[ticker])

    async def fund_aum(self, ticker: str) -> float | None:
        self.calls.append(ticker)
        return None if ticker in self.fail else self.aum.get(ticker)


SEASON = {
    f"C{i:02d}": (D(2026, 7, 20), D(2026, 10, 13) + dt.timedelta(days=i % 20)) for i in range(10)
}
COMPANIES = parse_company_list(
    'source = "test"\nas_of = "2026"\ntickers = [' + ", ".join(f'"{t}"' for t in SEASON) + "]",
    "test",
)


async def test_fresh_cache_is_used_without_fetching(store):
    source = FakeLive(SEASON)
    first = await ReferenceData(store.reference, source, clock=lambda: NOW).known_reports(COMPANIES)
    assert len(source.calls) == 10 and first is not None
    assert first.source == f"{EARNINGS_SOURCE}, fetched 2026-10-20"
    assert first.companies == 10 and "10 largest S&P 500 companies" in first.universe

    later = NOW + dt.timedelta(days=6)
    again = ReferenceData(store.reference, FakeLive(), clock=lambda: later)
    reports = await again.known_reports(COMPANIES)
    assert again.source.calls == [] and again.warnings == []
    assert dict(reports.dates) == SEASON


async def test_stale_cache_is_refetched_and_a_failure_falls_back_to_it(store):
    await ReferenceData(store.reference, FakeLive(SEASON), clock=lambda: NOW).known_reports(
        COMPANIES
    )
    week_later = NOW + dt.timedelta(days=8)
    moved = {**SEASON, "C01": (D(2026, 11, 2),)}
    source = FakeLive(moved, fail={"C02"})
    data = ReferenceData(store.reference, source, clock=lambda: week_later)
    reports = await data.known_reports(COMPANIES)
    assert sorted(source.calls) == sorted(SEASON)  # every one was stale
    assert reports.dates["C01"] == (D(2026, 11, 2),)  # refetched
    assert reports.dates["C02"] == SEASON["C02"]  # its fetch failed: the cached dates
    assert reports.source == f"{EARNINGS_SOURCE}, fetched 2026-10-20 to 2026-10-28"
    [warning] = data.warnings
    assert "no fresh earnings dates for 1 of 10 companies (C02:" in warning
    assert "cached dates used for 1" in warning
    cached = await store.reference.earnings_dates(["C01", "C02"])
    assert cached["C01"].fetched_at == week_later and cached["C02"].fetched_at == NOW


async def test_offline_without_cache_gives_the_rule_of_thumb_after_a_small_probe(store):
    source = FakeLive(fail=set(SEASON))
    data = ReferenceData(store.reference, source, clock=lambda: NOW)
    assert await data.known_reports(COMPANIES) is None
    assert len(source.calls) == PROBE_SIZE  # the rest were not tried
    assert "no fresh earnings dates for 10 of 10 companies" in data.warnings[0]
    assert "none of them cached" in data.warnings[0]
    assert (await data.blackout(D(2026, 10, 23), COMPANIES)).method == "rule_of_thumb"


async def test_partial_dates_below_the_minimum_are_labelled_rule_of_thumb(store):
    few = {ticker: SEASON[ticker] for ticker in list(SEASON)[:4]}
    data = ReferenceData(store.reference, FakeLive(few), clock=lambda: NOW)
    blackout = await data.blackout(D(2026, 10, 23), COMPANIES)
    assert blackout.method == "rule_of_thumb"
    assert "earnings dates for only 4 of the 10 largest" in blackout.basis
    assert "fewer than the 5 needed" in blackout.basis


async def test_sample_and_csv_sources_never_fetch_nor_touch_the_cache():
    from flows.marketdata.sample import SampleSource

    class Untouchable:
        def __getattr__(self, name):
            raise AssertionError(f"cache used: {name}")

    assert live_reference_source(SampleSource()) is None
    data = ReferenceData(Untouchable(), SampleSource())
    assert not data.live
    assert await data.known_reports() is None
    registry = load_registry()
    assert await data.registry_with_live_aum(registry) is registry


async def test_a_broken_cache_costs_a_warning_not_the_estimate():
    class Broken:
        async def earnings_dates(self, tickers):
            raise RuntimeError("database is locked")

    data = ReferenceData(Broken(), FakeLive(SEASON), clock=lambda: NOW)
    reports = await data.known_reports(COMPANIES)
    assert reports is not None and len(reports.dates) == 10
    assert data.warnings == [
        "earnings dates: cache unreadable (database is locked); fetching without it"
    ]


# --- live AUM ------------------------------------------------------------------------------------

REGISTRY = parse_registry(
    """
[[leveraged]]
name = "Bull 3x"
ticker = "BULL"
underlying = "QQQ"
leverage = 3
aum_usd = 1.0e9
aum_source = "registry figure, 2025"

[[leveraged]]
name = "Bear 3x"
ticker = "BEAR"
underlying = "QQQ"
leverage = -3
aum_usd = 5.0e8
aum_source = "registry figure, 2025"

[[leveraged]]
name = "TQQQ"
underlying = "QQQ"
leverage = 3
aum_usd = 2.0e10
aum_source = "issue-style entry: the name is the ticker"

[[leveraged]]
name = "Unlisted Strategy"
underlying = "QQQ"
leverage = 2
aum_usd = 1.0e8
aum_source = "registry figure, 2025"
""",
    "test registry",
)


def test_listed_ticker_and_with_aum():
    funds = {fund.name: fund for fund in REGISTRY.leveraged}
    assert listed_ticker(funds["Bull 3x"]) == "BULL"
    assert listed_ticker(funds["TQQQ"]) == "TQQQ"
    assert listed_ticker(funds["Unlisted Strategy"]) is None
    live_registry = with_aum(
        REGISTRY, {"BULL": (2.0e9, "Yahoo, fetched 2026-10-20", D(2026, 10, 20))}
    )
    bull = live_registry.leveraged[0]
    assert (bull.aum_usd, bull.aum_source, bull.aum_as_of) == (
        2.0e9,
        "Yahoo, fetched 2026-10-20",
        D(2026, 10, 20),
    )
    assert live_registry.leveraged[1:] == REGISTRY.leveraged[1:]
    assert live_registry.source == REGISTRY.source


async def test_live_aum_refreshes_daily_and_says_where_each_figure_came_from(store):
    source = FakeLive(aum={"BULL": 2.0e9, "TQQQ": 2.4e10}, fail={"BEAR"})
    data = ReferenceData(store.reference, source, clock=lambda: NOW)
    live_registry = await data.registry_with_live_aum(REGISTRY)
    assert sorted(source.calls) == ["BEAR", "BULL", "TQQQ"]  # never the unlisted fund
    assert "no fresh AUM for 1 of 3 funds (BEAR:" in data.warnings[0]

    estimate = estimate_letf("QQQ", 0.01, live_registry, None)
    by_name = {flow.name: flow for flow in estimate.funds}
    label = f"{AUM_SOURCE}, fetched 2026-10-20"
    assert (by_name["Bull 3x"].aum_usd, by_name["Bull 3x"].aum_source) == (2.0e9, label)
    assert by_name["Bull 3x"].aum_as_of == D(2026, 10, 20)
    assert by_name["Bull 3x"].trade_usd == pytest.approx(2.0e9 * 6 * 0.01)
    assert by_name["TQQQ"].aum_usd == 2.4e10
    # A failed fetch keeps the registry's figure, labelled as such.
    assert (by_name["Bear 3x"].aum_usd, by_name["Bear 3x"].aum_source) == (
        5.0e8,
        "registry figure, 2025",
    )
    assert by_name["Bear 3x"].aum_as_of is None
    assert f"AUM of 2 from {label}, 2 from test registry" in estimate.basis

    # Within the day: from the cache, no fetch (the failed one is retried).
    again = FakeLive(aum={"BEAR": 6.0e8})
    later = ReferenceData(store.reference, again, clock=lambda: NOW + dt.timedelta(hours=6))
    figures = await later.leveraged_aum(REGISTRY)
    assert again.calls == ["BEAR"]
    assert figures["BULL"] == (2.0e9, label, D(2026, 10, 20))
    assert figures["BEAR"][0] == 6.0e8

    # Two days on, Yahoo fails for BULL: the figure fetched this week is kept, with its date.
    offline = FakeLive(fail={"BULL", "BEAR", "TQQQ"})
    two_days = ReferenceData(store.reference, offline, clock=lambda: NOW + dt.timedelta(days=2))
    assert (await two_days.leveraged_aum(REGISTRY))["BULL"] == (2.0e9, label, D(2026, 10, 20))
    # Ten days on it is too old: the registry's figure again.
    ten_days = ReferenceData(store.reference, offline, clock=lambda: NOW + dt.timedelta(days=10))
    assert await ten_days.leveraged_aum(REGISTRY) == {}


def test_estimate_basis_without_live_aum_is_unchanged():
    estimate = estimate_letf("QQQ", 0.01, REGISTRY, None)
    assert "4 fund(s), AUM from test registry" in estimate.basis
    assert all(flow.aum_as_of is None for flow in estimate.funds)


def test_only_questions_about_leveraged_etfs_need_their_aum():
    registry = load_registry()
    asked = leveraged_funds_asked("How much will leveraged ETFs buy in QQQ today?", registry)
    assert {fund.ticker for fund in asked} == {"TQQQ", "SQQQ", "QLD"}
    assert leveraged_funds_asked("Will pensions sell SPY at quarter end?", registry) == []
