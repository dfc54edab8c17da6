"""`flows-bot calendar` and `flows-bot letf` on live data, offline: the real LiveSource with its
yfinance calls replaced by recorded answers, and a real SQLite cache in a temporary directory.
The blackout is counted from earnings dates (and cached), live AUM replaces the registry's,
and a failed fetch is one warning line with the rule of thumb or registry figure instead."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from bot.cli import main
from flows.buybacks import blackout_estimate
from flows.marketdata import live
from flows.sp500 import largest_sp500_companies

TODAY = dt.datetime.now(dt.UTC).date()
YEAR = TODAY.year - 1
"""Last year's third-quarter season: always in the past, always plausible to LiveSource."""
START = dt.date(YEAR, 10, 20)
TICKERS = largest_sp500_companies().tickers


def report_day(position: int) -> dt.date:
    """Four companies a day from Oct 10: on Oct 20 those reporting by Oct 18 are out again."""
    return dt.date(YEAR, 10, 10) + dt.timedelta(days=position // 4)


def earnings_frame(days: list[dt.date]) -> pd.DataFrame:
    index = pd.DatetimeIndex(
        [pd.Timestamp(day) + pd.Timedelta(hours=16) for day in days], name="Earnings Date"
    ).tz_localize("America/New_York")
    return pd.DataFrame({"EPS Estimate": [1.0] * len(days)}, index=index)


class RecordedYahoo:
    """Stands in for `Ticker.get_earnings_dates`: last year's Q2 and Q3 reports per company."""

    def __init__(self, offline: bool = False) -> None:
        self.offline = offline
        self.calls: list[str] = []

    def __call__(self, ticker: str) -> pd.DataFrame:
        self.calls.append(ticker)
        if self.offline:
            raise ConnectionError("Could not resolve host: finance.yahoo.com")
        position = TICKERS.index(ticker)
        return earnings_frame([dt.date(YEAR, 7, 25), report_day(position)])


@pytest.fixture(autouse=True)
def live_settings(monkeypatch, tmp_path):
    from bot.settings import get_settings

    for name in ("DATA_SOURCE", "FUNDS_FILE", "NEUTRAL_BAND_PCT_ADV", "CRYPTO_EXCHANGE"):
        monkeypatch.delenv(name, raising=False)  # DATA_SOURCE defaults to live
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cache.db'}")
    monkeypatch.chdir(tmp_path)

    def no_network(*args, **kwargs):
        raise AssertionError("a test reached the real yfinance")

    for name in ("_yahoo_history", "_yahoo_info", "_yahoo_earnings_dates", "_yahoo_last_price"):
        monkeypatch.setattr(live, name, no_network)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_calendar_counts_the_blackout_from_cached_earnings_dates(monkeypatch, capsys):
    yahoo = RecordedYahoo()
    monkeypatch.setattr(live, "_yahoo_earnings_dates", yahoo)
    code, out, err = run(capsys, "calendar", "--from", START.isoformat(), "--days", "30")
    assert code == 0, err
    assert err == ""
    assert sorted(yahoo.calls) == sorted(TICKERS)
    # 36 companies (reports Oct 10-18) are out on Oct 20; 64 of 100 still in.
    assert (
        f"Buyback blackout on {START}: est. 64% of 100 large S&P 500 companies "
        f"({YEAR}Q3 earnings season, earnings dates)"
    ) in out
    assert blackout_estimate(START).share != pytest.approx(0.64)  # not the rule of thumb
    assert "estimate from the earnings dates of 100 of the 100 largest S&P 500 companies" in out
    assert "not all 500" in out and f"Yahoo Finance earnings calendar, fetched {TODAY}" in out

    # A second run within the week reads the cache: nothing is fetched.
    yahoo.calls.clear()
    code, out_again, err = run(capsys, "calendar", "--from", START.isoformat(), "--days", "30")
    assert code == 0 and err == "" and yahoo.calls == []
    assert "est. 64% of 100 large S&P 500 companies" in out_again


def test_calendar_json_dates_the_blackout_milestones_from_earnings_dates(monkeypatch, capsys):
    monkeypatch.setattr(live, "_yahoo_earnings_dates", RecordedYahoo())
    start = dt.date(YEAR, 9, 1)
    code, out, err = run(
        capsys,
        "calendar",
        "--from",
        start.isoformat(),
        "--days",
        "90",
        "--kind",
        "buyback_blackout",
        "--source",
        "live",
        "--json",
    )
    assert code == 0, err
    events = json.loads(out)
    season = [e for e in events if e["name"].startswith(f"{YEAR}Q3")]
    assert [e["source"] for e in season] == ["estimate (earnings dates)"] * 3
    half = next(e for e in season if "half" in e["name"])
    # Half (50 of 100) are out once the companies reporting by Oct 22 are two days past it.
    assert half["date"] >= f"{YEAR}-10-24" and half["blackout_share"] <= 0.5
    assert "100 largest S&P 500 companies" in half["basis"]
    for event in events:
        assert {"date", "kind", "name", "trade_usd", "direction", "basis"} <= set(event)


def test_calendar_offline_is_one_warning_and_the_rule_of_thumb(monkeypatch, capsys):
    yahoo = RecordedYahoo(offline=True)
    monkeypatch.setattr(live, "_yahoo_earnings_dates", yahoo)
    code, out, err = run(capsys, "calendar", "--from", START.isoformat(), "--days", "30")
    assert code == 0
    assert len(yahoo.calls) < 10  # a failed probe stops the refresh
    assert err.count("\n") == 1 and err.startswith("flows-bot calendar: warning: ")
    assert "no fresh earnings dates for 100 of 100 companies" in err and "Traceback" not in err
    rule = blackout_estimate(START)
    assert f"est. {rule.share:.0%} of S&P 500 companies" in out and "rule of thumb" in out


def test_calendar_with_an_unusable_database_still_works(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(live, "_yahoo_earnings_dates", RecordedYahoo())
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{blocker / 'cache.db'}")
    from bot.settings import get_settings

    get_settings.cache_clear()
    code, out, err = run(capsys, "calendar", "--from", START.isoformat(), "--days", "10")
    assert code == 0
    assert err.count("\n") == 1 and "reference cache unavailable" in err
    assert "est. 64% of 100 large S&P 500 companies" in out  # fetched without the cache


def test_calendar_on_sample_data_fetches_nothing(monkeypatch, capsys, tmp_path):
    code, out, err = run(
        capsys, "calendar", "--from", START.isoformat(), "--days", "10", "--source", "sample"
    )
    assert code == 0 and err == ""
    assert f"Buyback blackout on {START}: est. " in out and "rule of thumb)" in out
    assert not (tmp_path / "cache.db").exists()  # no database opened either


def test_letf_json_carries_live_aum_with_its_source(monkeypatch, capsys):
    answers = {"TQQQ": {"totalAssets": 3.0e10}, "QLD": {"totalAssets": 9.0e9}}

    def info(ticker: str) -> dict:
        if ticker == "SQQQ":
            raise ConnectionError("offline")
        return answers[ticker]

    def history(*args):
        raise ValueError("no bars in this test")

    monkeypatch.setattr(live, "_yahoo_info", info)
    monkeypatch.setattr(live, "_yahoo_history", history)
    code, out, err = run(capsys, "letf", "QQQ", "--move", "-0.05", "--source", "live", "--json")
    assert code == 0, err
    payload = json.loads(out)
    for key in ("underlying", "as_of", "move", "funds", "trade_usd", "direction", "pct_adv"):
        assert key in payload
    funds = {fund["ticker"]: fund for fund in payload["funds"]}
    label = f"Yahoo Finance totalAssets, fetched {TODAY}"
    assert (funds["TQQQ"]["aum_usd"], funds["TQQQ"]["aum_source"]) == (3.0e10, label)
    assert funds["TQQQ"]["aum_as_of"] == TODAY.isoformat()
    assert funds["TQQQ"]["trade_usd"] == pytest.approx(3.0e10 * 6 * -0.05)
    assert funds["QLD"]["aum_usd"] == 9.0e9
    # SQQQ's fetch failed: the registry's figure and source.
    assert funds["SQQQ"]["aum_usd"] == 2.5e9 and funds["SQQQ"]["aum_as_of"] is None
    assert "2025" in funds["SQQQ"]["aum_source"]
    assert payload["trade_usd"] == pytest.approx(-0.05 * (3.0e10 * 6 + 2.5e9 * 12 + 9.0e9 * 2))
    assert f"AUM of 2 from {label}, 1 from built-in registry" in payload["basis"]
    assert payload["pct_adv"] is None  # no bars: the % of ADV is unknown, the trade is not
    assert err.count("\n") == 1 and "no fresh AUM for 1 of 3 funds (" in err

    # Within the day the cached figures are used; only the failed fund is asked again.
    asked: list[str] = []

    def counting(ticker: str) -> dict:
        asked.append(ticker)
        return {"totalAssets": 2.6e9}

    monkeypatch.setattr(live, "_yahoo_info", counting)
    code, out, err = run(capsys, "letf", "QQQ", "--move", "0.01", "--source", "live", "--json")
    assert code == 0 and err == "" and asked == ["SQQQ"]
    funds = {fund["ticker"]: fund for fund in json.loads(out)["funds"]}
    assert funds["TQQQ"]["aum_usd"] == 3.0e10 and funds["SQQQ"]["aum_usd"] == 2.6e9


def test_letf_text_shows_each_funds_aum_source(monkeypatch, capsys):
    monkeypatch.setattr(live, "_yahoo_info", lambda ticker: {"totalAssets": 1.0e10})
    monkeypatch.setattr(live, "_yahoo_history", lambda *args: (_ for _ in ()).throw(ValueError()))
    code, out, err = run(capsys, "letf", "SPY", "--move", "0.02", "--source", "live")
    assert code == 0, err
    assert out.count(f"Yahoo Finance totalAssets, fetched {TODAY}") >= 5  # one per SPY fund
