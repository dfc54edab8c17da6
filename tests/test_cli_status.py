"""`flows-bot status` and `flows-bot calendar` through the real entry point.

The main case builds a CSV directory in which SPY returns +5 %, AGG +1 % and BTC +50 % between the
Q4 2023 close (2023-12-29) and 2024-03-25, so a 60/38/2 fund must hold exactly the issue's worked
example; every other number is recomputed by hand from the constructed prices.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.cli import main
from bot.settings import Settings
from flows import calendar

D = dt.date
AS_OF = D(2024, 3, 25)
BASE = D(2023, 12, 29)
MONTH_BASE = D(2024, 2, 29)
START = D(2023, 1, 3)
GROWTH = {"SPY": 1.05, "AGG": 1.01, "BTC": 1.50}
BTC_VOLUME = 50_000.0

FUNDS_TOML = """\
# constructed for the CLI test
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

[[fund]]
name = "Pension 60/40"
aum_usd = 1.0e12
rebalance = "quarterly"
aum_source = "illustrative"
weights = { SPY = 0.60, AGG = 0.40 }

[[vol_target]]
name = "Crypto vol target"
underlying = "BTC"
aum_usd = 2.0e9
target_vol = 0.40
max_exposure = 1.0
aum_source = "illustrative"

[[vol_target]]
name = "Equity vol control"
underlying = "SPY"
aum_usd = 1.0e11
target_vol = 0.10
max_exposure = 1.5
aum_source = "illustrative"
"""

FUNDS = {
    "Model 60/38/2": (5.0e9, "quarterly", {"SPY": 0.60, "AGG": 0.38, "BTC": 0.02}),
    "Monthly 60/39/1": (1.0e9, "monthly", {"SPY": 0.60, "AGG": 0.39, "BTC": 0.01}),
}


# --- constructed market ------------------------------------------------------------------------


def _path(days: list[dt.date], seed: int, daily_vol: float, start_price: float, growth: float):
    """A random walk whose value on AS_OF is exactly `growth` times its value on BASE."""
    rng = np.random.default_rng(seed)
    logs = np.cumsum(rng.normal(0.0, daily_vol, len(days)))
    base, end = days.index(BASE), days.index(AS_OF)
    tilt = (math.log(growth) - (logs[end] - logs[base])) / (end - base)
    logs[base + 1 :] += tilt * np.arange(1, len(days) - base)
    return start_price * np.exp(logs - logs[0])


def build_market(directory: Path) -> dict[str, pd.DataFrame]:
    """SPY, AGG (NYSE sessions) and BTC (every day) from 2023-01-03 to 2024-03-25."""
    directory.mkdir(parents=True, exist_ok=True)
    frames = {}
    sessions = calendar.sessions_between(START, AS_OF)
    every_day = [d.date() for d in pd.date_range(START, AS_OF, freq="D")]
    specs = {
        "SPY": (sessions, 1, 0.010, 380.0),
        "AGG": (sessions, 2, 0.003, 98.0),
        "BTC": (every_day, 3, 0.030, 16_700.0),
    }
    for symbol, (days, seed, vol, price) in specs.items():
        total_return = _path(days, seed, vol, price, GROWTH[symbol])
        frame = pd.DataFrame(index=pd.DatetimeIndex(days, name="date"))
        if symbol == "SPY":
            # Raw close differs from the total-return close by a dividend step in March:
            # returns must come from adj_close.
            step = np.where(frame.index < pd.Timestamp("2024-03-15"), 1.02, 1.0)
            frame["close"] = total_return * step
            frame["adj_close"] = total_return
        else:
            frame["close"] = total_return
        frame["open"] = frame["close"] * 0.999
        frame["high"] = frame["close"] * 1.01
        frame["low"] = frame["close"] * 0.99
        frame["volume"] = BTC_VOLUME if symbol == "BTC" else 5.0e7
        columns = ["open", "high", "low", "close", "volume"]
        columns += ["adj_close"] if "adj_close" in frame else []
        frame[columns].to_csv(directory / f"{symbol}.csv", date_format="%Y-%m-%d")
        frames[symbol] = frame
    return frames


@pytest.fixture(autouse=True)
def clean_settings(monkeypatch, tmp_path):
    """No stray .env or environment settings: the CLI sees only its arguments."""
    from bot.settings import get_settings

    for name in ("DATA_SOURCE", "FUNDS_FILE", "NEUTRAL_BAND_PCT_ADV", "CRYPTO_EXCHANGE"):
        monkeypatch.delenv(name, raising=False)
    # `calendar` without --source takes the DATA_SOURCE setting for the buyback blackout: the
    # default, live, would fetch earnings dates.
    monkeypatch.setenv("DATA_SOURCE", "sample")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def market_dir(tmp_path) -> Path:
    build_market(tmp_path / "market")
    return tmp_path / "market"


@pytest.fixture
def funds_file(tmp_path) -> Path:
    path = tmp_path / "funds.toml"
    path.write_text(FUNDS_TOML, encoding="utf-8")
    return path


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse usage errors and --help
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


# --- expected numbers, by hand -------------------------------------------------------------------


def _close_on_or_before(frame: pd.DataFrame, day: dt.date) -> float:
    column = "adj_close" if "adj_close" in frame else "close"
    return float(frame.loc[: pd.Timestamp(day), column].iloc[-1])


def _fund_trade(frames, aum, weights, base, btc_move=0.0) -> tuple[float, float]:
    """(current BTC weight, BTC trade) for one fund, in plain Python."""
    grown = {}
    for symbol, weight in weights.items():
        growth = _close_on_or_before(frames[symbol], AS_OF) / _close_on_or_before(
            frames[symbol], base
        )
        if symbol == "BTC":
            growth *= 1.0 + btc_move
        grown[symbol] = weight * growth
    current = grown["BTC"] / sum(grown.values())
    return current, (weights["BTC"] - current) * aum


def _realized(closes: list[float]) -> float:
    returns = [math.log(b / a) for a, b in zip(closes[-21:-1], closes[-20:], strict=True)]
    mean = sum(returns) / 20
    return math.sqrt(sum((r - mean) ** 2 for r in returns) / 19) * math.sqrt(365)


# --- the main case -------------------------------------------------------------------------------


def test_status_json_gives_the_numbers_defined_in_the_issue(market_dir, funds_file, capsys):
    frames = build_market(market_dir)  # same seeds: the same prices the fixture wrote
    # The yardstick: BTC spot volume on major exchanges, supplied as liquidity/BTC.csv.
    btc = frames["BTC"]
    spot = (btc["close"] * btc["volume"] * 3.0).rename("traded_value_usd")
    (market_dir / "liquidity").mkdir()
    spot.to_frame().to_csv(market_dir / "liquidity" / "BTC.csv", index_label="date")
    argv = ["status", "BTC", "--as-of", "2024-03-25", "--source", str(market_dir)]
    code, out, err = run([*argv, "--funds", str(funds_file), "--json"], capsys)
    assert code == 0, err
    assert err == ""
    report = json.loads(out)

    assert report["asset"] == "BTC"
    assert report["as_of"] == "2024-03-25"
    assert report["data_source"] == f"csv:{market_dir}"
    assert report["sample"] is False
    assert report["quarter_end"] == {
        "quarter": "2024Q1",
        "last_session": "2024-03-28",
        "window_start": "2024-03-22",
        "sessions_left": 3,
        "in_window": True,
    }

    rebalance = report["rebalance"]
    # Only funds holding BTC, in file order.
    assert [f["name"] for f in rebalance["funds"]] == ["Model 60/38/2", "Monthly 60/39/1"]
    model, monthly = rebalance["funds"]
    # The issue's worked example: 2 % drifts to 2.874 %, the trade is -0.874 % of AUM.
    assert model["base_date"] == "2023-12-29"
    assert model["rebalance"] == "quarterly"
    assert model["aum_usd"] == 5.0e9
    assert model["target_weight"] == 0.02
    assert model["current_weight"] == pytest.approx(0.03 / 1.0438, rel=1e-9)
    assert model["current_weight"] * 100 == pytest.approx(2.874, abs=6e-4)
    assert model["drift"] == pytest.approx(0.03 / 1.0438 - 0.02, rel=1e-9)
    assert model["trade_usd"] == pytest.approx((0.02 - 0.03 / 1.0438) * 5.0e9, rel=1e-9)
    assert model["trade_usd"] / 5.0e9 * 100 == pytest.approx(-0.874, abs=6e-4)
    assert model["aum_source"] == "illustrative"

    # The monthly fund's base is February's last session.
    assert monthly["base_date"] == "2024-02-29"
    current, trade = _fund_trade(frames, *FUNDS["Monthly 60/39/1"][::2], MONTH_BASE)
    assert monthly["current_weight"] == pytest.approx(current, rel=1e-9)
    assert monthly["trade_usd"] == pytest.approx(trade, rel=1e-9)

    total = model["trade_usd"] + monthly["trade_usd"]
    assert rebalance["trade_usd"] == pytest.approx(total, rel=1e-12)
    assert rebalance["aum_total_usd"] == 6.0e9
    adv = float(spot.loc[: pd.Timestamp(AS_OF)].tail(20).mean())
    assert rebalance["adv_usd"] == pytest.approx(adv, rel=1e-9)
    assert "liquidity/BTC.csv" in rebalance["adv_basis"]
    assert rebalance["pct_adv"] == pytest.approx(100 * abs(total) / adv, rel=1e-9)
    # Outside the default neutral band (a % of ADV): a sell.
    band_pct = Settings.model_fields["neutral_band_pct_adv"].default
    assert abs(total) > adv * band_pct / 100
    assert rebalance["direction"] == "sell"

    assert [w["move"] for w in rebalance["what_if"]] == [-0.2, -0.1, 0.1, 0.2]
    for what_if in rebalance["what_if"]:
        expected = _fund_trade(frames, 5.0e9, FUNDS["Model 60/38/2"][2], BASE, what_if["move"])[1]
        expected += _fund_trade(
            frames, 1.0e9, FUNDS["Monthly 60/39/1"][2], MONTH_BASE, what_if["move"]
        )[1]
        assert what_if["trade_usd"] == pytest.approx(expected, rel=1e-9)
    trades = [w["trade_usd"] for w in rebalance["what_if"]]
    # A rally from here means more selling, a fall less (or buying).
    assert trades[0] > trades[1] > total > trades[2] > trades[3]

    volatility = report["volatility"]
    closes = btc["close"].loc[: pd.Timestamp(AS_OF)].tolist()
    realized, previous = _realized(closes), _realized(closes[:-1])
    assert volatility["window"] == 20
    assert volatility["periods_per_year"] == 365
    assert volatility["realized"] == pytest.approx(realized, rel=1e-9)
    assert volatility["previous_realized"] == pytest.approx(previous, rel=1e-9)
    assert 0 < volatility["ewma"] < 2
    assert volatility["garch_5d"] is not None and 0 < volatility["garch_5d"] < 3
    names = ("calm", "normal", "elevated", "stressed")
    assert volatility["regime"] in names and volatility["previous_regime"] in names
    assert volatility["changed"] == (volatility["regime"] != volatility["previous_regime"])
    # Only the vol-target entry on BTC.
    (vol_target,) = volatility["vol_target"]
    assert vol_target["name"] == "Crypto vol target"
    exposure, before = min(1.0, 0.40 / realized), min(1.0, 0.40 / previous)
    assert vol_target["exposure"] == pytest.approx(exposure, rel=1e-9)
    assert vol_target["previous_exposure"] == pytest.approx(before, rel=1e-9)
    assert vol_target["trade_usd"] == pytest.approx(2.0e9 * (exposure - before), rel=1e-6)


def test_status_json_has_every_contract_field(market_dir, funds_file, capsys):
    argv = ["status", "btc", "--as-of", "2024-03-25", "--source", str(market_dir)]
    code, out, _ = run([*argv, "--funds", str(funds_file), "--json"], capsys)
    assert code == 0
    report = json.loads(out)
    assert {"asset", "as_of", "data_source", "quarter_end", "rebalance", "volatility"} <= set(
        report
    )
    assert set(report["quarter_end"]) == {
        "quarter",
        "last_session",
        "window_start",
        "sessions_left",
        "in_window",
    }
    assert {"funds", "trade_usd", "direction", "pct_adv", "what_if"} <= set(report["rebalance"])
    fund_fields = {
        "name",
        "aum_usd",
        "rebalance",
        "base_date",
        "target_weight",
        "current_weight",
        "drift",
        "trade_usd",
    }
    for fund in report["rebalance"]["funds"]:
        assert fund_fields <= set(fund)
    for what_if in report["rebalance"]["what_if"]:
        assert {"move", "trade_usd"} <= set(what_if)
    assert {
        "window",
        "realized",
        "ewma",
        "garch_5d",
        "regime",
        "previous_regime",
        "changed",
        "vol_target",
    } <= set(report["volatility"])
    for entry in report["volatility"]["vol_target"]:
        assert {"name", "exposure", "trade_usd"} <= set(entry)
    # The asset name was resolved case-insensitively.
    assert report["asset"] == "BTC"


def test_status_human_output(market_dir, funds_file, capsys):
    argv = ["status", "BTC", "--as-of", "2024-03-25", "--source", str(market_dir)]
    code, out, err = run([*argv, "--funds", str(funds_file)], capsys)
    assert code == 0, err
    assert "SAMPLE" not in out
    assert "2024Q1" in out and "2024-03-22" in out
    assert "Model 60/38/2" in out and "Pension 60/40" not in out
    assert "SELL" in out
    assert "2.87%" in out  # current weight of the 60/38/2 fund


def test_installed_console_script_gives_the_same_json(market_dir, funds_file, tmp_path, capsys):
    script = Path(sys.executable).with_name("flows-bot")
    command = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())"]
    )
    argv = ["status", "BTC", "--as-of", "2024-03-25", "--source", str(market_dir)]
    argv += ["--funds", str(funds_file), "--json"]
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATA_SOURCE", "FUNDS_FILE", "NEUTRAL_BAND_PCT_ADV", "CRYPTO_EXCHANGE"}
    }
    done = subprocess.run(
        [*command, *argv], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    code, out, _ = run(argv, capsys)
    assert code == 0
    assert json.loads(done.stdout) == json.loads(out)


def test_a_reader_that_leaves_early_ends_the_output_without_a_traceback(tmp_path):
    """`flows-bot calendar --json | head -c 20`: exit 141 (SIGPIPE's code), nothing on stderr."""
    code = "import sys; from bot.cli import main; sys.exit(main())"
    argv = ["calendar", "--source", "sample", "--json", "--days", "1000"]  # > a 64 KB pipe
    writer = subprocess.Popen(
        [sys.executable, "-c", code, *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert writer.stdout is not None and writer.stderr is not None
    assert writer.stdout.read(20).startswith(b"[")
    writer.stdout.close()
    stderr = writer.stderr.read().decode()
    assert writer.wait(timeout=120) == 141, stderr
    assert "Traceback" not in stderr and not stderr.strip()


# --- sample data ---------------------------------------------------------------------------------


def test_status_on_sample_data_says_so(capsys):
    code, out, err = run(["status", "BTC", "--source", "sample"], capsys)
    assert code == 0, err
    assert out.count("SAMPLE DATA") >= 2  # at the top and at the bottom
    assert "BTC (Bitcoin)" in out
    assert "Rebalancing" in out and "Volatility" in out


def test_status_json_on_sample_data_is_marked(capsys):
    code, out, err = run(
        ["status", "SPY", "--source", "sample", "--as-of", "2025-06-27", "--json"], capsys
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["sample"] is True
    assert "SAMPLE DATA" in report["data_source"]
    assert report["volatility"]["periods_per_year"] == 252
    assert report["rebalance"]["funds"]  # the built-in registry holds SPY
    assert any(v["name"] for v in report["volatility"]["vol_target"])


# --- bad input: one line, exit 2, no traceback ----------------------------------------------------


def _assert_usage_error(code: int, out: str, err: str, *fragments: str) -> None:
    assert code == 2, (out, err)
    assert out == ""
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err, err


def test_unknown_asset(market_dir, funds_file, capsys):
    code, out, err = run(
        ["status", "DOGE", "--source", str(market_dir), "--funds", str(funds_file)], capsys
    )
    _assert_usage_error(code, out, err, "unknown asset 'DOGE'", "BTC")


def test_malformed_date(market_dir, capsys):
    for bad in ("2024-02-30", "25/03/2024", "yesterday"):
        code, out, err = run(["status", "BTC", "--as-of", bad, "--source", str(market_dir)], capsys)
        _assert_usage_error(code, out, err, "not a date", "YYYY-MM-DD")


def test_date_before_the_data(market_dir, funds_file, capsys):
    argv = ["status", "BTC", "--as-of", "2019-06-03", "--source", str(market_dir)]
    code, out, err = run([*argv, "--funds", str(funds_file)], capsys)
    _assert_usage_error(code, out, err, "no bars between")


def test_date_after_the_data(market_dir, funds_file, capsys):
    argv = ["status", "BTC", "--as-of", "2024-05-01", "--source", str(market_dir)]
    code, out, err = run([*argv, "--funds", str(funds_file)], capsys)
    _assert_usage_error(code, out, err, "ends 2024-03-25", "--as-of")


def test_series_ending_before_as_of_is_not_used_silently(market_dir, funds_file, capsys):
    """SPY stops three sessions before as-of: P(as_of) would silently be a stale close."""
    path = market_dir / "SPY.csv"
    frame = pd.read_csv(path)
    frame[frame["date"] <= "2024-03-20"].to_csv(path, index=False)
    argv = ["status", "BTC", "--as-of", "2024-03-25", "--source", str(market_dir)]
    code, out, err = run([*argv, "--funds", str(funds_file)], capsys)
    _assert_usage_error(code, out, err, "SPY", "ends 2024-03-20")


def test_as_of_on_a_weekend_uses_the_last_session(market_dir, funds_file, capsys):
    """Equities end on Friday, crypto on the as-of day itself: complete, no error."""
    for symbol in ("SPY", "AGG", "BTC"):
        path = market_dir / f"{symbol}.csv"
        frame = pd.read_csv(path)
        frame[frame["date"] <= "2024-03-23"].to_csv(path, index=False)
    argv = ["status", "BTC", "--as-of", "2024-03-23", "--source", str(market_dir)]
    code, out, err = run([*argv, "--funds", str(funds_file), "--json"], capsys)
    assert code == 0, err
    assert json.loads(out)["quarter_end"]["sessions_left"] == 4


def test_base_date_before_the_data(tmp_path, funds_file, capsys):
    # Data from 2024-01-02 cannot give the Q4 2023 base price.
    directory = tmp_path / "short"
    build_market(directory)
    for symbol in ("SPY", "AGG", "BTC"):
        path = directory / f"{symbol}.csv"
        frame = pd.read_csv(path)
        frame[frame["date"] >= "2024-01-02"].to_csv(path, index=False)
    argv = ["status", "BTC", "--as-of", "2024-03-25", "--source", str(directory)]
    code, out, err = run([*argv, "--funds", str(funds_file)], capsys)
    _assert_usage_error(code, out, err, "base date 2023-12-29")


def test_date_in_the_future(capsys):
    future = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    code, out, err = run(["status", "BTC", "--as-of", future, "--source", "sample"], capsys)
    _assert_usage_error(code, out, err, "in the future")


def test_missing_funds_file(market_dir, tmp_path, capsys):
    missing = tmp_path / "nope.toml"
    argv = ["status", "BTC", "--source", str(market_dir), "--funds", str(missing)]
    code, out, err = run(argv, capsys)
    _assert_usage_error(code, out, err, "nope.toml", "not found")


def test_malformed_funds_file_names_the_line(market_dir, tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text(FUNDS_TOML.replace("BTC = 0.02 }", "BTC = 0.05 }"), encoding="utf-8")
    argv = ["status", "BTC", "--source", str(market_dir), "--funds", str(path)]
    code, out, err = run(argv, capsys)
    _assert_usage_error(code, out, err, "'Model 60/38/2' line 3", "sum to 1")
    path.write_text(FUNDS_TOML.replace('rebalance = "monthly"', "rebalance = monthly"))
    code, out, err = run(argv, capsys)
    _assert_usage_error(code, out, err, "not valid TOML", "line 12")


def test_unreadable_csv(market_dir, funds_file, capsys):
    (market_dir / "AGG.csv").write_bytes(b"\xff\xfe\x00\x81 not a csv")
    argv = ["status", "BTC", "--as-of", "2024-03-25", "--source", str(market_dir)]
    code, out, err = run([*argv, "--funds", str(funds_file)], capsys)
    _assert_usage_error(code, out, err, "AGG", "unreadable")


def test_csv_with_a_bad_line(market_dir, funds_file, capsys):
    path = market_dir / "BTC.csv"
    lines = path.read_text().splitlines()
    lines[10] = lines[10].replace(",", ",abc,", 1).rsplit(",", 1)[0]
    path.write_text("\n".join(lines) + "\n")
    argv = ["status", "BTC", "--as-of", "2024-03-25", "--source", str(market_dir)]
    code, out, err = run([*argv, "--funds", str(funds_file)], capsys)
    _assert_usage_error(code, out, err, "BTC", "line 11")


def test_missing_csv_file(market_dir, funds_file, capsys):
    (market_dir / "AGG.csv").unlink()
    argv = ["status", "BTC", "--as-of", "2024-03-25", "--source", str(market_dir)]
    code, out, err = run([*argv, "--funds", str(funds_file)], capsys)
    _assert_usage_error(code, out, err, "AGG", "no file AGG.csv", "BTC, SPY")


def test_source_pointing_nowhere(tmp_path, capsys):
    nowhere = tmp_path / "does-not-exist"
    code, out, err = run(["status", "BTC", "--source", str(nowhere)], capsys)
    _assert_usage_error(code, out, err, "does-not-exist", "--source")


def test_usage_errors(capsys):
    for argv in ([], ["frobnicate"], ["status"], ["calendar", "--days", "0"]):
        code, out, err = run(argv, capsys)
        _assert_usage_error(code, out, err)


# --- calendar ---------------------------------------------------------------------------------


def test_calendar_json(capsys):
    code, out, err = run(["calendar", "--from", "2024-03-01", "--days", "40", "--json"], capsys)
    assert code == 0, err
    events = json.loads(out)
    dates = [e["date"] for e in events]
    assert dates == sorted(dates)
    assert all("2024-03-01" <= d <= "2024-04-09" for d in dates)
    assert all({"date", "kind", "name"} <= set(e) for e in events)
    period_ends = [e for e in events if e["kind"] in ("month_end", "quarter_end")]
    assert [(e["date"], e["kind"]) for e in period_ends] == [
        ("2024-03-28", "month_end"),
        ("2024-03-28", "quarter_end"),
    ]
    month, quarter = period_ends
    assert quarter["window_start"] == "2024-03-22"
    assert quarter["window_end"] == "2024-03-28"
    assert quarter["sessions_left"] == 19
    assert "2024Q1" in quarter["name"]
    assert month["sessions_left"] == 19


def test_calendar_text_and_range_errors(capsys):
    code, out, err = run(["calendar", "--from", "2024-03-01", "--days", "40"], capsys)
    assert code == 0, err
    assert "2024Q1" in out and "2024-03-28" in out
    code, out, err = run(["calendar", "--from", "1990-01-01"], capsys)
    _assert_usage_error(code, out, err, "outside the NYSE calendar")


def test_help_exits_zero(capsys):
    code, out, _ = run(["--help"], capsys)
    assert code == 0
    assert "status" in out and "calendar" in out


def test_without_a_yardstick_the_share_of_liquidity_is_unknown_with_the_reason(
    market_dir, funds_file, capsys
):
    argv = ["status", "BTC", "--as-of", "2024-03-25", "--source", str(market_dir)]
    code, out, err = run([*argv, "--funds", str(funds_file), "--json"], capsys)
    assert code == 0, err
    rebalance = json.loads(out)["rebalance"]
    # Yahoo's aggregate BTC volume is not the yardstick: without spot volume, unknown.
    assert rebalance["trade_usd"] != 0
    assert rebalance["adv_usd"] is None and rebalance["pct_adv"] is None
    assert "spot volume" in rebalance["adv_basis"]
    assert "liquidity/BTC.csv" in rebalance["adv_basis"]
