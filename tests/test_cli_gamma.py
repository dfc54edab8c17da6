"""`flows-bot gamma` through the real entry point: the JSON contract, the text with its
convention and basis, the chart, and bad input as one line on stderr, exit 2, nothing stored."""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest

from flows import calendar
from tests.clikit import assert_one_line_error, offline_settings, run  # noqa: F401 (autouse fixture)

JSON_FIELDS = [
    "asset", "as_of", "spot", "rate", "gex_usd_per_pct", "regime", "zero_gamma",
    "zero_gamma_distance_pct", "call_wall", "put_wall", "by_expiry", "hedge_usd", "contracts",
    "source", "basis",
]  # fmt: skip
HEADER = "as_of,expiry,strike,type,open_interest,implied_vol"


@pytest.fixture
def csv_dir(tmp_path):
    """SPY closes for the sessions around 2025-03-04 and a two-day SPY option chain."""
    directory = tmp_path / "data"
    directory.mkdir()
    sessions = calendar.sessions_between(dt.date(2025, 2, 20), dt.date(2025, 3, 4))
    lines = ["date,open,high,low,close,volume"]
    for number, day in enumerate(sessions):
        close = 590.0 + number
        lines.append(f"{day},{close},{close + 1},{close - 1},{close},1000000")
    (directory / "SPY.csv").write_text("\n".join(lines) + "\n")
    (directory / "AGG.csv").write_text((directory / "SPY.csv").read_text())
    chain = [
        "2025-03-03,2025-03-21,600,call,20000,0.16",
        "2025-03-03,2025-03-21,580,put,30000,0.20",
        "2025-03-04,2025-03-21,610,call,25000,0.15",
        "2025-03-04,2025-03-21,590,put,10000,0.19",
        "2025-03-04,2025-04-17,620,call,15000,0.17",
        "2025-03-04,2025-03-04,600,put,99999,0.20",
    ]
    (directory / "SPY_options.csv").write_text("\n".join([HEADER, *chain]) + "\n")
    return directory


def test_json_contract_with_sample_data(capsys, tmp_path):
    code, out, err = run(capsys, "gamma", "SPY", "--source", "sample", "--json")
    assert code == 0, err
    payload = json.loads(out)
    assert list(payload) == JSON_FIELDS
    assert payload["asset"] == "SPY" and payload["source"] == "sample"
    assert payload["rate"] == 0.04
    assert payload["regime"] == ("long_gamma" if payload["gex_usd_per_pct"] >= 0 else "short_gamma")
    assert list(payload["hedge_usd"]) == ["-2%", "-1%", "+1%", "+2%"]
    assert payload["hedge_usd"]["+1%"] == pytest.approx(-payload["gex_usd_per_pct"])
    assert sum(e["gex_usd_per_pct"] for e in payload["by_expiry"]) == pytest.approx(
        payload["gex_usd_per_pct"]
    )
    assert sum(e["share"] for e in payload["by_expiry"]) == pytest.approx(1.0)
    assert "SAMPLE DATA" in payload["basis"]
    if payload["zero_gamma"] is not None:
        expected = (payload["zero_gamma"] / payload["spot"] - 1) * 100
        assert payload["zero_gamma_distance_pct"] == pytest.approx(expected)
    assert (tmp_path / "charts" / f"gamma-SPY-{payload['as_of']}.png").stat().st_size > 10_000
    assert not (tmp_path / "flows-bot.db").exists()  # sample data needs no database


def test_text_output_states_the_convention(capsys):
    code, out, err = run(capsys, "gamma", "BTC", "--source", "sample", "--no-chart")
    assert code == 0, err
    assert out.startswith("*** SAMPLE DATA")
    for needle in ("Total GEX", "Regime", "Zero gamma", "Call wall", "Put wall", "Hedge flow"):
        assert needle in out
    assert "dealers long calls, short puts" in out and "−GEX × move%" in out
    assert "chart:" not in out


def test_csv_directory_spot_rate_and_as_of(capsys, csv_dir, tmp_path):
    chart = tmp_path / "spy.png"
    code, out, err = run(
        capsys, "gamma", "SPY", "--source", str(csv_dir), "--as-of", "2025-03-04",
        "--rate", "0.05", "--json", "--chart", str(chart),
    )  # fmt: skip
    assert code == 0, err
    payload = json.loads(out)
    sessions = calendar.sessions_between(dt.date(2025, 2, 20), dt.date(2025, 3, 4))
    assert payload["spot"] == 590.0 + len(sessions) - 1  # the close on as-of
    assert payload["as_of"] == "2025-03-04" and payload["rate"] == 0.05
    assert payload["contracts"] == 3  # the expired row is left out
    assert [e["expiry"] for e in payload["by_expiry"]] == ["2025-03-21", "2025-04-17"]
    assert payload["call_wall"] == 610.0 and payload["put_wall"] == 590.0
    assert payload["source"] == f"csv:{csv_dir}"
    assert chart.exists()
    code, out, err = run(
        capsys, "gamma", "SPY", "--source", str(csv_dir), "--as-of", "2025-03-03", "--spot",
        "600", "--json", "--no-chart",
    )  # fmt: skip
    assert code == 0, err
    payload = json.loads(out)
    assert payload["spot"] == 600.0 and payload["contracts"] == 2
    assert "given with --spot" in payload["basis"]
    # Hand check of the first day: Black–Scholes gamma of each contract, dealer convention.
    total = 0.0
    for strike, sign, oi, vol in ((600.0, 1, 20000, 0.16), (580.0, -1, 30000, 0.20)):
        years = 18 / 365
        d1 = (math.log(600 / strike) + (0.04 + vol * vol / 2) * years) / (vol * math.sqrt(years))
        gamma = math.exp(-d1 * d1 / 2) / math.sqrt(2 * math.pi) / (600 * vol * math.sqrt(years))
        total += sign * gamma * oi * 100 * 600**2 * 0.01
    assert payload["gex_usd_per_pct"] == pytest.approx(total, rel=1e-9)


def test_asset_without_options(capsys, tmp_path):
    code, out, err = run(capsys, "gamma", "AGG", "--source", "sample")
    assert_one_line_error(code, out, err, "no option chain for AGG")
    assert not (tmp_path / "flows-bot.db").exists()
    assert not (tmp_path / "charts").exists()


def test_asset_without_options_in_a_csv_directory(capsys, csv_dir):
    code, out, err = run(capsys, "gamma", "AGG", "--source", str(csv_dir))
    assert_one_line_error(code, out, err, "no option chain for AGG", "AGG_options.csv")


@pytest.mark.parametrize(
    ("rows", "needle"),
    [
        (["2025-03-04,2025-03-21,610,call,0,0.15", "2025-03-04,2025-03-21,590,put,0,0.19"],
         "no open interest"),
        (["2025-03-04,2025-03-21,610,call,100,-0.15"], "line 2: implied_vol -0.15 is negative"),
        (["2025-03-04,2025-03-21,610,call,100,0.15", "2025-03-04,2025-03-21,590,put,1e3,abc"],
         "SPY_options.csv line 3: implied_vol is not a number"),
        (["2025-03-04,2025-03-21,610,call,100"], "line 2: implied_vol is not a number"),
    ],
)  # fmt: skip
def test_bad_chains_are_one_line_errors(capsys, csv_dir, tmp_path, rows, needle):
    (csv_dir / "SPY_options.csv").write_text("\n".join([HEADER, *rows]) + "\n")
    code, out, err = run(capsys, "gamma", "SPY", "--source", str(csv_dir), "--as-of", "2025-03-04")
    assert_one_line_error(code, out, err, needle)
    assert not (tmp_path / "flows-bot.db").exists()
    assert not (tmp_path / "charts").exists()


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["gamma", "DOGE", "--source", "sample"], "unknown asset 'DOGE'"),
        (["gamma", "SPY", "--source", "sample", "--rate", "4"], "--rate 4 is outside"),
        (["gamma", "SPY", "--source", "sample", "--spot", "-3"], "--spot -3 must be a positive"),
        (["gamma", "SPY", "--source", "sample", "--spot", "abc"], "'abc' is not a number"),
        (["gamma", "SPY", "--source", "sample", "--as-of", "2999-01-01"], "in the future"),
        (["gamma", "SPY", "--source", "/no/such/dir"], "neither 'live', 'sample'"),
    ],
)
def test_bad_arguments(capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    assert_one_line_error(code, out, err, needle)
