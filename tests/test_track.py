"""Track record: windows, the no-look-ahead rule, the hit rule, the Wilson interval, the live
record and the `flows-bot track` contract, on constructed CSV data."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.cli import main
from flows import calendar
from flows.errors import InputError
from flows.funds import load_registry, parse_registry
from flows.marketdata import MarketData
from flows.marketdata.csvdir import CsvDirectorySource
from flows.status import AnalyticsConfig, build_status
from flows.track import (
    TrackWindow,
    build_track,
    is_hit,
    period_return,
    record_line,
    summarize,
    wilson_interval,
    windows_between,
)

D = dt.date
FIRST_DAY = D(2022, 6, 1)
LAST_DAY = D(2024, 12, 31)
CONFIG = AnalyticsConfig(with_garch=False)
TRACK_FROM = D(2023, 1, 1)
TRACK_TO = D(2024, 12, 31)

FUNDS_TOML = """\
[[fund]]
name = "Model 60/38/2"
aum_usd = 5.0e9
rebalance = "quarterly"
aum_source = "illustrative"
weights = { SPY = 0.60, AGG = 0.38, BTC = 0.02 }

[[fund]]
name = "Monthly 60/39/1"
aum_usd = 1.0e9
rebalance = "monthly"
aum_source = "illustrative"
weights = { SPY = 0.60, AGG = 0.39, BTC = 0.01 }
"""


def _walk(days: list[dt.date], seed: int, vol: float, start: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return start * np.exp(np.cumsum(rng.normal(0.0, vol, len(days))))


def write_market(directory: Path, overrides: dict[str, dict[dt.date, float]] | None = None) -> Path:
    """BTC every calendar day, SPY and AGG on NYSE sessions: seeded random walks."""
    directory.mkdir(parents=True, exist_ok=True)
    all_days = list(pd.date_range(FIRST_DAY, LAST_DAY, freq="D").date)
    sessions = calendar.sessions_between(FIRST_DAY, LAST_DAY)
    series = {
        "BTC": (all_days, _walk(all_days, 1, 0.03, 30_000.0), 20_000.0),
        "SPY": (sessions, _walk(sessions, 2, 0.01, 400.0), 8e7),
        "AGG": (sessions, _walk(sessions, 3, 0.003, 100.0), 7e6),
    }
    for symbol, (days, closes, volume) in series.items():
        closes = closes.copy()
        for day, price in (overrides or {}).get(symbol, {}).items():
            closes[days.index(day)] = price
        frame = pd.DataFrame(
            {
                "date": [d.isoformat() for d in days],
                "open": closes,
                "high": closes * 1.01,
                "low": closes * 0.99,
                "close": closes,
                "volume": volume,
            }
        )
        frame.to_csv(directory / f"{symbol}.csv", index=False)
    return directory


def close_of(directory: Path, symbol: str, day: dt.date) -> float:
    frame = pd.read_csv(directory / f"{symbol}.csv", index_col="date")
    return float(frame.loc[day.isoformat(), "close"])


@pytest.fixture
def market_dir(tmp_path) -> Path:
    return write_market(tmp_path / "market")


@pytest.fixture
def funds_file(tmp_path) -> Path:
    path = tmp_path / "funds.toml"
    path.write_text(FUNDS_TOML, encoding="utf-8")
    return path


async def _track(directory: Path, registry, start=TRACK_FROM, end=TRACK_TO, **kw):
    market = MarketData(CsvDirectorySource(directory))
    try:
        return await build_track("BTC", market, registry, start, end, config=CONFIG, **kw)
    finally:
        await market.close()


# ------------------------------------------------------------------------------ windows


def test_quarter_windows_are_the_final_five_sessions_called_the_session_before():
    windows = windows_between(D(2024, 1, 1), D(2024, 12, 31))
    assert [(w.start, w.end, w.estimate_as_of) for w in windows] == [
        (D(2024, 3, 22), D(2024, 3, 28), D(2024, 3, 21)),  # Good Friday 2024-03-29 closed
        (D(2024, 6, 24), D(2024, 6, 28), D(2024, 6, 21)),
        (D(2024, 9, 24), D(2024, 9, 30), D(2024, 9, 23)),
        (D(2024, 12, 24), D(2024, 12, 31), D(2024, 12, 23)),  # Christmas closed
    ]
    for window in windows:
        assert len(calendar.sessions_between(window.start, window.end)) == 5
    monthly = windows_between(D(2024, 1, 1), D(2024, 12, 31), monthly=True)
    assert len(monthly) == 12 and monthly[1].end == D(2024, 2, 29)


# ------------------------------------------------------------------------------ hit rule


@pytest.mark.parametrize(
    ("direction", "excess", "expected"),
    [
        ("sell", -0.001, True),
        ("sell", 0.001, False),
        ("buy", 0.001, True),
        ("buy", -0.001, False),
        # Exactly zero excess is no evidence for either call: a miss, never a hit.
        ("sell", 0.0, False),
        ("buy", 0.0, False),
        ("neutral", -0.05, None),
        ("sell", None, None),
        (None, 0.02, None),
    ],
)
def test_hit_rule(direction, excess, expected):
    assert is_hit(direction, excess) is expected


def test_zero_excess_counts_as_a_scored_miss_in_the_summary():
    window = TrackWindow(
        window_start=D(2024, 3, 22),
        window_end=D(2024, 3, 28),
        estimate_as_of=D(2024, 3, 21),
        estimated_trade_usd=-1e8,
        direction="sell",
        outcome_return=0.01,
        outcome_excess=0.0,
        hit=is_hit("sell", 0.0),
    )
    summary = summarize([window])
    assert (summary.n, summary.hits, summary.hit_rate) == (1, 0, 0.0)


# ------------------------------------------------------------------------------ Wilson


def test_wilson_interval_against_known_values():
    # The example: 9 of 14 right -> 95 % CI 39-84 %.
    low, high = wilson_interval(9, 14)
    assert (round(low * 100), round(high * 100)) == (39, 84)
    # Closed form (Wilson 1927) with z = 1.959964: centre +- half-width.
    z, n, p = 1.959963984540054, 14, 9 / 14
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert low == pytest.approx(centre - half, abs=1e-12)
    assert high == pytest.approx(centre + half, abs=1e-12)
    # 0 of 10: the textbook upper bound 0.2775.
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.27753), abs=1e-5)
    assert wilson_interval(0, 0) is None


def test_summary_says_first_when_n_is_too_small():
    windows = [
        TrackWindow(
            window_start=D(2024, 3, 22),
            window_end=D(2024, 3, 28),
            estimate_as_of=D(2024, 3, 21),
            estimated_trade_usd=-1e8,
            direction="sell",
            outcome_return=-0.02,
            outcome_excess=excess,
            hit=is_hit("sell", excess),
        )
        for excess in (-0.02, 0.01, -0.03)
    ]
    summary = summarize(windows, "SPY")
    assert summary.note.startswith("Too few calls to mean anything: 3 is below 12.")
    assert (summary.n, summary.hits) == (3, 2)
    assert summary.mean_excess_sell == pytest.approx(-0.04 / 3)
    assert summary.mean_excess_buy is None
    many = summarize(windows * 4, "SPY")
    assert many.n == 12 and not many.note.startswith("Too few")
    assert "coin toss" in many.note


# ------------------------------------------------------------------------------ no look-ahead


async def test_the_estimate_is_what_status_reports_on_the_call_date(market_dir, funds_file):
    registry = load_registry(funds_file)
    record = await _track(market_dir, registry)
    assert len(record.windows) == 8
    market = MarketData(CsvDirectorySource(market_dir))
    try:
        for window in record.windows:
            status = await build_status("BTC", market, registry, window.estimate_as_of, CONFIG)
            assert window.estimated_trade_usd == status.rebalance.trade_usd
            assert window.direction == status.rebalance.direction
    finally:
        await market.close()


async def test_a_later_price_never_enters_the_estimate(tmp_path, funds_file):
    registry = load_registry(funds_file)
    original = write_market(tmp_path / "a")
    window = windows_between(D(2024, 4, 1), D(2024, 6, 30))[0]
    after = window.estimate_as_of + dt.timedelta(days=1)
    # Every BTC and SPY price after the call date changed (doubled / halved).
    changed_days = {
        "BTC": {d: close_of(original, "BTC", d) * 2 for d in pd.date_range(after, LAST_DAY).date},
        "SPY": {
            d: close_of(original, "SPY", d) / 2 for d in calendar.sessions_between(after, LAST_DAY)
        },
    }
    changed = write_market(tmp_path / "b", changed_days)
    before = await _track(original, registry, D(2024, 4, 1), D(2024, 6, 30))
    later = await _track(changed, registry, D(2024, 4, 1), D(2024, 6, 30))
    (a,), (b,) = before.windows, later.windows
    assert (a.estimated_trade_usd, a.direction) == (b.estimated_trade_usd, b.direction)
    assert a.estimated_trade_usd != 0
    # ... while the outcome, measured after the call, sees the change.
    assert a.outcome_return != pytest.approx(b.outcome_return)
    expected = (
        close_of(original, "BTC", window.end) / close_of(original, "BTC", window.estimate_as_of) - 1
    )
    assert a.outcome_return == pytest.approx(expected)
    spy = (
        close_of(original, "SPY", window.end) / close_of(original, "SPY", window.estimate_as_of) - 1
    )
    assert a.outcome_excess == pytest.approx(expected - spy)
    assert a.hit is is_hit(a.direction, a.outcome_excess)


LATE_PROGRAM = """
[[program]]
id = "late"
name = "Late programme"
kind = "etf"
sleeves = { SPY = 0.5, BTC = 0.5 }
rule = { calendar = "quarterly" }
aum = { usd = 5.0e10, as_of = 2024-01-02, source = "constructed for the test" }
since = 2024-05-01
sources = [{ url = "https://example.org/late", title = "Late programme", date = "2024-01-02" }]
"""


def _registry_with_a_late_programme():
    """The test registry plus a big programme whose sleeve starts 2024-05-01 (`since`)."""
    return parse_registry(FUNDS_TOML + LATE_PROGRAM, "test")


async def test_a_program_that_starts_after_a_window_does_not_count(market_dir):
    """The registry's `since` (a program's start) through the status path: a window whose call
    comes before it is called without the program; later windows count it."""
    registry = _registry_with_a_late_programme()
    without = parse_registry(FUNDS_TOML, "test")
    with_late = await _track(market_dir, registry, D(2024, 1, 1), D(2024, 12, 31))
    reference = await _track(market_dir, without, D(2024, 1, 1), D(2024, 12, 31))
    by_end = {w.window_end: w for w in reference.windows}
    assert len(with_late.windows) == 4
    for window in with_late.windows:
        if window.estimate_as_of < D(2024, 5, 1):
            assert window.estimated_trade_usd == by_end[window.window_end].estimated_trade_usd
        else:
            assert window.estimated_trade_usd != by_end[window.window_end].estimated_trade_usd


def test_period_return_waits_for_the_data_and_keeps_the_last_close_on_weekends():
    closes = pd.Series(
        [100.0, 110.0],
        index=pd.DatetimeIndex([pd.Timestamp("2024-03-22"), pd.Timestamp("2024-03-25")]),
    )
    # Saturday's call against an equity benchmark uses Friday's close.
    assert period_return(closes, D(2024, 3, 23), D(2024, 3, 25)) == pytest.approx(0.1)
    assert period_return(closes, D(2024, 3, 22), D(2024, 3, 26)) is None  # not in the data yet
    assert period_return(closes, D(2024, 3, 25), D(2024, 3, 25)) is None


async def test_monthly_tracks_only_the_monthly_programmes(market_dir, funds_file):
    registry = load_registry(funds_file)
    record = await _track(market_dir, registry, D(2024, 1, 1), D(2024, 6, 30), monthly=True)
    assert record.schedule == "monthly" and len(record.windows) == 6
    assert record.programs == ["Monthly 60/39/1"]


async def test_bad_ranges_and_uncovered_assets(market_dir, funds_file):
    registry = load_registry(funds_file)
    with pytest.raises(InputError, match="no quarter-end window ends between"):
        await _track(market_dir, registry, D(2024, 4, 2), D(2024, 5, 15))
    market = MarketData(CsvDirectorySource(market_dir))
    try:
        with pytest.raises(InputError, match="no program in the fund registry"):
            await build_track("ETH", market, registry, D(2023, 1, 1), D(2024, 1, 1))
    finally:
        await market.close()


def test_record_line_wording():
    windows = [
        TrackWindow(
            window_start=D(2024, 3, 22),
            window_end=D(2024, 3, 28),
            estimate_as_of=D(2024, 3, 21),
            estimated_trade_usd=-1e8,
            direction="sell",
            outcome_return=-0.02,
            outcome_excess=-0.02 if i < 9 else 0.01,
            hit=i < 9,
        )
        for i in range(14)
    ]
    from flows.track import TrackRecord

    record = TrackRecord(asset="BTC", windows=windows, summary=summarize(windows))
    assert record_line(record, D(2021, 1, 1)) == (
        "record for BTC since 2021: 9 of 14 sell/buy calls right, 95 % CI 39–84 %"
    )


# ------------------------------------------------------------------------------ CLI


def test_cli_json_contract(market_dir, funds_file, capsys):
    code = main(
        [
            "track",
            "BTC",
            "--from",
            "2023-01-01",
            "--to",
            "2024-12-31",
            "--source",
            str(market_dir),
            "--funds",
            str(funds_file),
            "--json",
        ]
    )
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert {"asset", "windows", "summary"} <= set(payload)
    assert payload["asset"] == "BTC"
    assert len(payload["windows"]) == 8
    for window in payload["windows"]:
        assert set(window) == {
            "window_start",
            "window_end",
            "estimate_as_of",
            "estimated_trade_usd",
            "direction",
            "outcome_return",
            "outcome_excess",
            "hit",
        }
    assert set(payload["summary"]) == {
        "n",
        "hits",
        "hit_rate",
        "hit_rate_ci95",
        "mean_excess_sell",
        "mean_excess_buy",
        "note",
    }
    summary = payload["summary"]
    scored = [w for w in payload["windows"] if w["hit"] is not None]
    assert summary["n"] == len(scored)
    assert summary["hits"] == sum(w["hit"] for w in scored)
    assert payload["data_source"].startswith("csv:") and payload["sample"] is False


def test_cli_text_table_summary_and_chart(market_dir, funds_file, tmp_path, capsys):
    chart = tmp_path / "chart.png"
    code = main(
        [
            "track",
            "BTC",
            "--from",
            "2023-01-01",
            "--to",
            "2024-12-31",
            "--source",
            str(market_dir),
            "--funds",
            str(funds_file),
            "--chart",
            str(chart),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "BTC track record — quarterly rebalancing windows" in out
    assert "Too few calls to mean anything" in out  # 8 windows at most
    assert f"chart: {chart}" in out
    assert chart.stat().st_size > 10_000


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--from", "2024-04-02", "--to", "2024-05-15"], "no quarter-end window ends between"),
        (["--from", "2024-06-01", "--to", "2024-01-01"], "is before --from"),
        (["--monthly", "--live"], "--monthly applies to the history record"),
        (
            ["--from", "2021-01-01", "--to", "2022-12-31"],
            "cannot call the window ending 2021-03-31",
        ),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(argv, message, market_dir, funds_file, capsys):
    code = main(["track", "BTC", "--source", str(market_dir), "--funds", str(funds_file), *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1


def test_cli_unknown_asset_is_exit_2(market_dir, capsys):
    assert main(["track", "DOGE", "--source", str(market_dir)]) == 2
    err = capsys.readouterr().err
    assert "unknown asset 'DOGE'" in err and len(err.strip().splitlines()) == 1


def test_cli_asset_no_program_holds_is_exit_2(market_dir, capsys):
    # QQQ: only leveraged ETFs track it in the built-in registry; no rebalancing programme.
    code = main(["track", "QQQ", "--source", str(market_dir)])
    err = capsys.readouterr().err
    assert code == 2 and "no program in the fund registry" in err
    assert len(err.strip().splitlines()) == 1
