"""Bar sources without the network: the CSV directory, the sample set, checks and fetch-once."""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from flows import calendar
from flows.errors import InputError, MarketDataError
from flows.funds import parse_registry
from flows.marketdata import MarketData, open_source, validate_bars
from flows.marketdata.csvdir import CsvDirectorySource
from flows.marketdata.sample import SAMPLE_SYMBOLS, SampleSource, sample_bars
from flows.status import AnalyticsConfig, build_status

D = dt.date
CRYPTO = {"BTC", "ETH", "SOL"}


def _days(symbol: str, start: dt.date, end: dt.date) -> list[dt.date]:
    if symbol in CRYPTO:
        return [d.date() for d in pd.date_range(start, end, freq="D")]
    return calendar.sessions_between(start, end)


def write_csv(
    directory: Path,
    symbol: str,
    start: dt.date,
    end: dt.date,
    close=None,
    adj_close=None,
    volume: float = 1000.0,
    skip: tuple[dt.date, ...] = (),
) -> list[dt.date]:
    """SYMBOL.csv with one row per session (per day for crypto); `close(day)` gives the price."""
    days = [d for d in _days(symbol, start, end) if d not in skip]
    header = "date,open,high,low,close,volume" + (",adj_close" if adj_close else "")
    lines = [header]
    for number, day in enumerate(days):
        price = close(day) if close else 100.0 + number
        row = f"{day},{price},{price * 1.01},{price * 0.99},{price},{volume}"
        if adj_close:
            row += f",{adj_close(day)}"
        lines.append(row)
    (directory / f"{symbol}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return days


def _fetch(source, symbol, start=None, end=None) -> pd.DataFrame:
    start, end = start or D(2024, 1, 1), end or D(2024, 4, 30)
    return asyncio.run(MarketData(source).bars(symbol, start, end))


# --- CSV directory ---------------------------------------------------------------------------


def test_csv_reads_bars_and_keeps_adj_close(tmp_path):
    write_csv(tmp_path, "SPY", D(2024, 1, 2), D(2024, 3, 28), adj_close=lambda d: 50.0)
    frame = _fetch(CsvDirectorySource(tmp_path), "SPY")
    assert list(frame.columns) == ["open", "high", "low", "close", "volume", "adj_close"]
    assert frame.index.name == "date"
    assert frame.index[0] == pd.Timestamp("2024-01-02")
    assert frame.index[-1] == pd.Timestamp("2024-03-28")
    assert (frame["adj_close"] == 50.0).all()
    assert frame["close"].iloc[0] == 100.0


def test_csv_without_adj_close_uses_close(tmp_path):
    write_csv(tmp_path, "SPY", D(2024, 1, 2), D(2024, 3, 28))
    frame = _fetch(CsvDirectorySource(tmp_path), "SPY")
    assert (frame["adj_close"] == frame["close"]).all()


def test_csv_range_is_inclusive_and_trimmed(tmp_path):
    write_csv(tmp_path, "BTC", D(2024, 1, 1), D(2024, 3, 31))
    frame = _fetch(CsvDirectorySource(tmp_path), "BTC", D(2024, 2, 1), D(2024, 2, 29))
    assert len(frame) == 29
    assert frame.index[0] == pd.Timestamp("2024-02-01")
    assert frame.index[-1] == pd.Timestamp("2024-02-29")


def test_csv_newest_first_or_unordered_rows_are_sorted(tmp_path):
    write_csv(tmp_path, "SPY", D(2023, 1, 3), D(2024, 3, 28))
    ascending = _fetch(CsvDirectorySource(tmp_path), "SPY")
    path = tmp_path / "SPY.csv"
    header, *rows = path.read_text().splitlines()
    path.write_text("\n".join([header, *reversed(rows)]) + "\n")
    pd.testing.assert_frame_equal(_fetch(CsvDirectorySource(tmp_path), "SPY"), ascending)
    shuffled = [rows[i] for i in np.random.default_rng(0).permutation(len(rows))]
    path.write_text("\n".join([header, *shuffled]) + "\n")
    pd.testing.assert_frame_equal(_fetch(CsvDirectorySource(tmp_path), "SPY"), ascending)
    # A bad line is still reported by its line in the file.
    shuffled[4] = "not-a-date,1,1,1,1,1"
    path.write_text("\n".join([header, *shuffled]) + "\n")
    with pytest.raises(MarketDataError, match=r"SPY\.csv line 6: date"):
        _fetch(CsvDirectorySource(tmp_path), "SPY")


def test_status_uses_adj_close_for_returns(tmp_path):
    """A SPY dividend shows in adj_close only: drift must come from adj_close, not close."""
    base, as_of = D(2023, 12, 29), D(2024, 3, 25)
    start = D(2023, 10, 2)
    # Raw close falls 20 % on a dividend-like drop; the total-return series is +5 %.
    write_csv(
        tmp_path,
        "SPY",
        start,
        as_of,
        close=lambda d: 400.0 if d < D(2024, 2, 1) else 320.0 * (1.05 if d == as_of else 1.0),
        adj_close=lambda d: 100.0 * (1.05 if d == as_of else 1.0),
    )
    write_csv(tmp_path, "AGG", start, as_of, close=lambda d: 98.0 * (1.01 if d == as_of else 1))
    write_csv(tmp_path, "BTC", start, as_of, close=lambda d: 40000.0 * (1.5 if d == as_of else 1))
    registry = parse_registry(
        """
[[fund]]
name = "Model"
aum_usd = 5e9
rebalance = "quarterly"
aum_source = "test"
weights = { SPY = 0.60, AGG = 0.38, BTC = 0.02 }
""",
        "inline",
    )
    market = MarketData(CsvDirectorySource(tmp_path))
    config = AnalyticsConfig(with_garch=False)
    report = asyncio.run(build_status("BTC", market, registry, as_of, config))
    (fund,) = report.rebalance.funds
    assert fund.base_date == base
    assert fund.current_weight == pytest.approx(0.03 / 1.0438)
    assert fund.trade_usd == pytest.approx((0.02 - 0.03 / 1.0438) * 5e9)


def test_csv_missing_file_names_symbol_and_lists_files(tmp_path):
    write_csv(tmp_path, "SPY", D(2024, 1, 2), D(2024, 3, 28))
    write_csv(tmp_path, "AGG", D(2024, 1, 2), D(2024, 3, 28))
    source = CsvDirectorySource(tmp_path)
    with pytest.raises(MarketDataError) as info:
        _fetch(source, "BTC")
    message = str(info.value)
    assert message.startswith(f"BTC from csv:{tmp_path}")
    assert "no file BTC.csv" in message
    assert "AGG, SPY" in message
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MarketDataError, match=r"no \.csv files here"):
        _fetch(CsvDirectorySource(empty), "BTC")


def _corrupt(tmp_path: Path, symbol: str, line_number: int, new_line: str) -> None:
    path = tmp_path / f"{symbol}.csv"
    lines = path.read_text().splitlines()
    lines[line_number - 1] = new_line
    path.write_text("\n".join(lines) + "\n")


def test_csv_malformed_date_gives_the_line(tmp_path):
    write_csv(tmp_path, "SPY", D(2024, 1, 2), D(2024, 3, 28))
    _corrupt(tmp_path, "SPY", 4, "2024/01/05,1,1,1,1,1")
    with pytest.raises(MarketDataError, match=r"SPY\.csv line 4: date is not YYYY-MM-DD"):
        _fetch(CsvDirectorySource(tmp_path), "SPY")


def test_csv_non_numeric_value_gives_the_line(tmp_path):
    write_csv(tmp_path, "SPY", D(2024, 1, 2), D(2024, 3, 28))
    _corrupt(tmp_path, "SPY", 7, "2024-01-10,1,1,1,n/a,1")
    with pytest.raises(MarketDataError, match=r"SPY\.csv line 7: a value is not a number"):
        _fetch(CsvDirectorySource(tmp_path), "SPY")


def test_csv_missing_column(tmp_path):
    (tmp_path / "SPY.csv").write_text("date,open,high,low,close\n2024-01-02,1,1,1,1\n")
    with pytest.raises(MarketDataError) as info:
        _fetch(CsvDirectorySource(tmp_path), "SPY")
    assert "lacks column(s) volume" in str(info.value)
    assert "date,open,high,low,close,volume" in str(info.value)


def test_csv_empty_and_unreadable(tmp_path):
    (tmp_path / "SPY.csv").write_text("")
    with pytest.raises(MarketDataError, match=r"SPY\.csv is empty"):
        _fetch(CsvDirectorySource(tmp_path), "SPY")
    (tmp_path / "AGG.csv").write_bytes(b"\xff\xfe\x00garbage\x00\x81")
    with pytest.raises(MarketDataError, match=r"AGG\.csv is unreadable"):
        _fetch(CsvDirectorySource(tmp_path), "AGG")
    (tmp_path / "QQQ.csv").write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(MarketDataError, match=r"QQQ\.csv is unreadable"):
        _fetch(CsvDirectorySource(tmp_path), "QQQ")


def test_equity_gap_is_checked_against_nyse_sessions(tmp_path):
    # Good Friday (a holiday) and weekends are not gaps...
    write_csv(tmp_path, "SPY", D(2024, 3, 1), D(2024, 4, 5))
    assert len(_fetch(CsvDirectorySource(tmp_path), "SPY")) == 25
    # ...a missing session is.
    write_csv(tmp_path, "SPY", D(2024, 3, 1), D(2024, 4, 5), skip=(D(2024, 3, 27), D(2024, 4, 2)))
    with pytest.raises(MarketDataError) as info:
        _fetch(CsvDirectorySource(tmp_path), "SPY")
    assert "SPY from csv:" in str(info.value)
    assert "gap in the data: no bar for 2024-03-27 and 1 more" in str(info.value)


def test_crypto_gap_is_checked_against_calendar_days(tmp_path):
    write_csv(tmp_path, "BTC", D(2024, 3, 1), D(2024, 4, 5))
    assert len(_fetch(CsvDirectorySource(tmp_path), "BTC")) == 36
    # A crypto file laid out on NYSE sessions misses weekends and Good Friday.
    days = calendar.sessions_between(D(2024, 3, 1), D(2024, 4, 5))
    lines = ["date,open,high,low,close,volume"] + [f"{d},1,1,1,1,1" for d in days]
    (tmp_path / "BTC.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(MarketDataError, match=r"BTC .*gap in the data: no bar for 2024-03-02"):
        _fetch(CsvDirectorySource(tmp_path), "BTC")


def test_open_source_factory(tmp_path):
    assert isinstance(open_source("sample"), SampleSource)
    source = open_source(str(tmp_path))
    assert isinstance(source, CsvDirectorySource) and source.name == f"csv:{tmp_path}"
    with pytest.raises(InputError, match="neither 'live', 'sample' nor a directory"):
        open_source(str(tmp_path / "nowhere"))


# --- the checks every frame passes ------------------------------------------------------------


def _frame(days, **overrides) -> pd.DataFrame:
    n = len(days)
    data = {c: np.full(n, 10.0) for c in ("open", "high", "low", "close", "volume")}
    data.update(overrides)
    return pd.DataFrame(data, index=pd.DatetimeIndex(days))


def test_validate_bars_rejects_partial_or_bad_frames():
    days = pd.date_range("2024-01-01", "2024-01-10", freq="D")
    start, end = D(2024, 1, 1), D(2024, 1, 10)
    checks = [
        (pd.DataFrame(), "no bars between 2024-01-01 and 2024-01-10"),
        (_frame(days).drop(columns="volume"), "missing column"),
        (_frame(days, close=np.r_[10.0, np.nan, np.full(8, 10.0)]), "missing value"),
        (
            _frame(days, close=np.r_[10.0, 0.0, np.full(8, 10.0)]),
            "non-positive price on 2024-01-02",
        ),
        (_frame(days.append(days[-1:])), "duplicate bar for 2024-01-10"),
        (_frame(days[days != "2024-01-05"]), "gap in the data: no bar for 2024-01-05"),
    ]
    for frame, fragment in checks:
        with pytest.raises(MarketDataError, match=fragment) as info:
            validate_bars(frame, "BTC", "test", start, end)
        assert str(info.value).startswith("BTC from test: ")
    # Outside the requested range: nothing left is an error too.
    with pytest.raises(MarketDataError, match="no bars between"):
        validate_bars(_frame(days), "BTC", "test", D(2023, 1, 1), D(2023, 2, 1))


def test_validate_bars_normalises_utc_timestamps():
    index = pd.date_range("2024-01-01", periods=5, freq="D", tz="UTC")
    frame = validate_bars(_frame(index), "BTC", "test", D(2024, 1, 1), D(2024, 1, 5))
    assert frame.index.tz is None
    assert frame.index[0] == pd.Timestamp("2024-01-01")
    assert (frame["adj_close"] == frame["close"]).all()


def test_validate_bars_gives_the_same_frame_whatever_shape_it_arrives_in():
    """A frame already in contract shape takes the fast path; shuffled columns, integer
    volumes, an unsorted index, another time unit or a time of day go the long way. All give
    the same result, and the caller's frame is never modified."""
    days = pd.date_range("2024-01-01", "2024-01-10", freq="D")
    rng = np.random.default_rng(3)
    close = 100 + rng.random(len(days))
    raw = pd.DataFrame(
        {
            "open": close,
            "high": close + 1,
            "low": close - 1,
            "close": close,
            "volume": np.arange(len(days)) + 1,
            "adj_close": close * 0.9,
        },
        index=days,
    )
    start, end = D(2024, 1, 3), D(2024, 1, 8)
    expected = validate_bars(raw, "BTC", "test", start, end)
    assert list(expected.columns) == ["open", "high", "low", "close", "volume", "adj_close"]
    assert (expected.dtypes == np.float64).all() and expected.index.name == "date"
    assert expected.index[0] == pd.Timestamp("2024-01-03") and len(expected) == 6
    conforming = validate_bars(raw, "BTC", "test", D(2024, 1, 1), D(2024, 1, 10))
    variants = {
        "conforming": conforming,
        "columns shuffled": raw[["volume", "adj_close", "close", "low", "high", "open"]],
        "unsorted": raw.iloc[::-1],
        "microseconds": raw.set_axis(raw.index.as_unit("us"), axis=0),
        "time of day": raw.set_axis(raw.index + pd.Timedelta(hours=6), axis=0),
    }
    for name, frame in variants.items():
        before = frame.copy(deep=True)
        result = validate_bars(frame, "BTC", "test", start, end)
        pd.testing.assert_frame_equal(result, expected, obj=name)
        pd.testing.assert_frame_equal(frame, before, obj=f"{name} (input)")


# --- fetch each symbol once ----------------------------------------------------------------------


class CountingSource:
    """Wraps a source and counts fetches per symbol."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.is_sample = inner.is_sample
        self.calls: dict[str, int] = {}
        self.closed = 0

    async def fetch(self, symbol, start, end):
        self.calls[symbol] = self.calls.get(symbol, 0) + 1
        await asyncio.sleep(0)  # let concurrent callers pile up
        return await self.inner.fetch(symbol, start, end)

    async def close(self):
        self.closed += 1


TWO_FUNDS_SHARING = """
[[fund]]
name = "A"
aum_usd = 5e9
rebalance = "quarterly"
aum_source = "test"
weights = { SPY = 0.60, AGG = 0.38, BTC = 0.02 }

[[fund]]
name = "B"
aum_usd = 3e9
rebalance = "monthly"
aum_source = "test"
weights = { SPY = 0.58, AGG = 0.40, BTC = 0.015, ETH = 0.005 }

[[fund]]
name = "C"
aum_usd = 3e9
rebalance = "quarterly"
aum_source = "test"
weights = { BTC = 0.8, ETH = 0.2 }
"""


def test_market_data_fetches_each_symbol_once_however_many_funds_use_it():
    counting = CountingSource(SampleSource(today=D(2025, 6, 30)))
    market = MarketData(counting)
    registry = parse_registry(TWO_FUNDS_SHARING, "inline")
    config = AnalyticsConfig(with_garch=False)

    async def run():
        btc = await build_status("BTC", market, registry, D(2025, 6, 27), config)
        eth = await build_status("ETH", market, registry, D(2025, 6, 27), config)
        return btc, eth

    btc, eth = asyncio.run(run())
    assert len(btc.rebalance.funds) == 3 and len(eth.rebalance.funds) == 2
    assert counting.calls == {"AGG": 1, "BTC": 1, "ETH": 1, "SPY": 1}
    assert market.fetch_count == 4


def test_concurrent_requests_share_one_fetch_and_one_error(tmp_path):
    write_csv(tmp_path, "SPY", D(2024, 1, 2), D(2024, 3, 28))
    counting = CountingSource(CsvDirectorySource(tmp_path))
    market = MarketData(counting)

    async def run():
        ok = await asyncio.gather(
            *(market.bars("SPY", D(2024, 1, 1), D(2024, 3, 31)) for _ in range(5))
        )
        failures = await asyncio.gather(
            *(market.bars("BTC", D(2024, 1, 1), D(2024, 3, 31)) for _ in range(3)),
            return_exceptions=True,
        )
        await market.close()
        return ok, failures

    ok, failures = asyncio.run(run())
    assert all(frame is ok[0] for frame in ok)
    assert all(isinstance(exc, MarketDataError) and exc.symbol == "BTC" for exc in failures)
    assert counting.calls == {"SPY": 1, "BTC": 1}
    assert counting.closed == 1


# --- the sample source ------------------------------------------------------------------------


def test_sample_is_deterministic_and_independent_of_today():
    async def fetch(source, symbol="BTC"):
        return await source.fetch(symbol, D(2024, 1, 1), D(2025, 6, 1))

    first = asyncio.run(fetch(SampleSource()))
    again = asyncio.run(fetch(SampleSource()))
    pd.testing.assert_frame_equal(first, again)
    for today in (D(2025, 6, 1), D(2025, 12, 31), None):
        pd.testing.assert_frame_equal(first, asyncio.run(fetch(SampleSource(today=today))))
    # A later `today` only appends bars; an earlier one truncates.
    short = asyncio.run(
        SampleSource(today=D(2024, 6, 30)).fetch("SPY", D(2024, 1, 1), D(2025, 6, 1))
    )
    assert short.index[-1] == pd.Timestamp("2024-06-28")


def test_sample_regenerates_identically():
    from flows.marketdata import sample

    before = sample_bars("ETH", D(2025, 1, 1)).copy()
    sample._universe.cache_clear()
    pd.testing.assert_frame_equal(before, sample_bars("ETH", D(2025, 1, 1)))


def test_sample_covers_several_years_up_to_today():
    today = dt.datetime.now(dt.UTC).date()
    for symbol in ("BTC", "SPY", "AGG"):
        frame = sample_bars(symbol)
        assert frame.index[0] <= pd.Timestamp("2016-01-05")
        assert (today - frame.index[-1].date()).days <= 4
    assert SampleSource.is_sample is True


def test_sample_series_pass_the_bar_checks():
    end = dt.datetime.now(dt.UTC).date()
    for symbol in sorted(SAMPLE_SYMBOLS):
        frame = sample_bars(symbol, end)
        checked = validate_bars(frame, symbol, "sample", D(2016, 1, 1), end)
        assert len(checked) == len(frame)
        assert (checked["low"] <= checked[["open", "close"]].min(axis=1)).all()
        assert (checked["high"] >= checked[["open", "close"]].max(axis=1)).all()


@pytest.mark.parametrize(
    ("symbol", "low", "high"),
    [
        ("BTC", 0.40, 1.00),
        ("ETH", 0.50, 1.30),
        ("SPY", 0.10, 0.28),
        ("QQQ", 0.14, 0.35),
        ("AGG", 0.02, 0.08),
        ("TLT", 0.08, 0.25),
    ],
)
def test_sample_volatility_is_realistic(symbol, low, high):
    closes = sample_bars(symbol, D(2025, 12, 31))["close"]
    returns = np.log(closes).diff().dropna()
    periods = 365 if symbol in CRYPTO else 252
    yearly = returns.groupby(returns.index.year).std() * math.sqrt(periods)
    assert low <= float(returns.std() * math.sqrt(periods)) <= high
    assert (yearly > low * 0.6).all() and (yearly < high * 1.4).all()


def test_sample_correlations_have_the_right_signs():
    end = D(2025, 12, 31)
    returns = pd.DataFrame(
        {
            s: np.log(sample_bars(s, end)["close"]).diff()
            for s in ("SPY", "QQQ", "AGG", "BTC", "ETH")
        }
    ).dropna()
    corr = returns.corr()
    assert corr.loc["SPY", "QQQ"] > 0.7
    assert corr.loc["BTC", "ETH"] > 0.5
    assert abs(corr.loc["SPY", "AGG"]) < 0.3
    assert 0.0 < corr.loc["SPY", "BTC"] < 0.6


def test_sample_unknown_symbol():
    with pytest.raises(MarketDataError, match="no sample series"):
        asyncio.run(SampleSource().fetch("DOGE", D(2024, 1, 1), D(2024, 2, 1)))
