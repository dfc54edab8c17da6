"""`flows-bot letf` and `flows-bot calendar` through the real entry point: JSON contracts, human
output with its basis, and bad input as one line on stderr with exit code 2."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.clikit import assert_one_line_error, offline_settings, run  # noqa: F401 (autouse fixture)

AS_OF = "2025-06-02"
QQQ_PER_UNIT_MOVE = 25e9 * 6 + 2.5e9 * 12 + 8e9 * 2  # built-in TQQQ, SQQQ, QLD


# --- letf ----------------------------------------------------------------------------------------


def test_letf_json_for_a_hypothetical_move(capsys):
    code, out, err = run(
        capsys, "letf", "QQQ", "--move", "-0.05", "--as-of", AS_OF, "--source", "sample", "--json"
    )
    assert code == 0, err
    payload = json.loads(out)
    for key in ("underlying", "as_of", "move", "funds", "trade_usd", "direction", "pct_adv"):
        assert key in payload
    assert payload["underlying"] == "QQQ" and payload["as_of"] == AS_OF
    assert payload["move"] == -0.05
    assert payload["trade_usd"] == pytest.approx(-0.05 * QQQ_PER_UNIT_MOVE)
    assert payload["direction"] == "sell"
    assert payload["sample"] is True and "SAMPLE" in payload["data_source"]
    assert payload["pct_adv"] == pytest.approx(100 * abs(payload["trade_usd"]) / payload["adv_usd"])
    tickers = {fund["ticker"]: fund for fund in payload["funds"]}
    assert set(tickers) == {"TQQQ", "SQQQ", "QLD"}
    sqqq = tickers["SQQQ"]
    assert (sqqq["leverage"], sqqq["aum_usd"]) == (-3.0, 2.5e9)
    assert sqqq["trade_usd"] == pytest.approx(2.5e9 * 12 * -0.05)
    assert sqqq["aum_source"]
    assert {"name", "leverage", "aum_usd", "trade_usd", "aum_source", "ticker"} <= set(sqqq)


def test_letf_accepts_a_signed_percentage(capsys):
    code, out, _ = run(
        capsys, "letf", "QQQ", "--move=-5%", "--as-of", AS_OF, "--source", "sample", "--json"
    )
    assert code == 0 and json.loads(out)["move"] == pytest.approx(-0.05)


def test_letf_json_for_the_actual_move(capsys):
    code, out, err = run(capsys, "letf", "SPY", "--as-of", AS_OF, "--source", "sample", "--json")
    assert code == 0, err
    payload = json.loads(out)
    assert payload["as_of"] == AS_OF
    assert "2025-05-30 → 2025-06-02" in payload["move_basis"]
    per_unit = sum(f["aum_usd"] * f["multiplier"] for f in payload["funds"])
    assert payload["trade_usd"] == pytest.approx(payload["move"] * per_unit)
    assert payload["direction"] == ("buy" if payload["move"] > 0 else "sell")


def test_letf_human_output_has_table_basis_and_sample_banner(capsys):
    code, out, _ = run(
        capsys, "letf", "QQQ", "--move", "-0.05", "--as-of", AS_OF, "--source", "sample"
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("*** SAMPLE DATA") and lines[-1].startswith("*** SAMPLE DATA")
    assert "SELL $9.80bn into the close" in out
    assert "$1.96bn per 1% move of QQQ" in out
    assert any("TQQQ" in line and "SELL $7.50bn" in line for line in lines)
    assert "basis: A · L · (L − 1) · r per fund" in out


def test_letf_with_a_custom_funds_file(capsys, tmp_path: Path):
    funds = tmp_path / "funds.toml"
    funds.write_text(
        '[[leveraged]]\nname = "Test 3x"\nunderlying = "QQQ"\nleverage = 3\n'
        'aum_usd = 1.0e9\naum_source = "my estimate"\n',
        encoding="utf-8",
    )
    code, out, _ = run(
        capsys,
        "letf",
        "QQQ",
        "--move",
        "0.05",
        "--as-of",
        AS_OF,
        "--source",
        "sample",
        "--funds",
        str(funds),
        "--json",
    )
    assert code == 0
    payload = json.loads(out)
    assert payload["trade_usd"] == pytest.approx(3.0e8)
    assert payload["funds"][0]["ticker"] is None
    assert payload["funds_source"] == str(funds)


@pytest.mark.parametrize(
    ("argv", "needles"),
    [
        (["--move", "5"], ["outside -0.9..0.9", "0.05"]),
        (["--move", "-1.2"], ["outside -0.9..0.9"]),
        (["--move", "abc"], ["'abc' is not a number", "-0.05"]),
        (["--move", "nan"], ["not a finite number"]),
        (["--as-of", "2025-04-18"], ["not an NYSE session", "2025-04-17"]),
        (["--as-of", "2099-01-02"], ["in the future"]),
        (["--as-of", "yesterday"], ["not a date"]),
    ],
)
def test_letf_bad_input(capsys, argv, needles):
    code, out, err = run(capsys, "letf", "QQQ", *argv, "--source", "sample")
    assert_one_line_error(code, out, err, *needles)


def test_letf_uncovered_underlying_lists_the_covered_ones(capsys):
    code, out, err = run(capsys, "letf", "AGG", "--source", "sample")
    assert_one_line_error(code, out, err, "no leveraged or inverse ETF on AGG", "QQQ, SOXX, SPY")


# --- calendar ------------------------------------------------------------------------------------


def test_calendar_json_lists_events_with_the_contract_fields(capsys):
    code, out, _ = run(capsys, "calendar", "--from", "2026-06-01", "--days", "30", "--json")
    assert code == 0
    events = json.loads(out)
    assert [e["date"] for e in events] == sorted(e["date"] for e in events)
    for event in events:
        assert {"date", "kind", "name", "trade_usd", "direction", "basis"} <= set(event)
    kinds = {e["kind"] for e in events}
    assert {"opex", "quad_witching", "sp500_rebalance", "russell_reconstitution"} <= kinds
    assert {"month_end", "quarter_end", "deribit_expiry", "buyback_blackout"} <= kinds
    juneteenth = [e for e in events if e["date"] == "2026-06-18"]
    assert {e["kind"] for e in juneteenth} == {"opex", "quad_witching", "sp500_rebalance"}
    unsized = next(e for e in events if e["kind"] == "month_end")
    assert unsized["trade_usd"] is None and "unknown" in unsized["trade_basis"]


def test_calendar_kind_is_repeatable_and_takes_lists(capsys):
    code, out, _ = run(
        capsys,
        "calendar",
        "--from",
        "2024-03-01",
        "--days",
        "31",
        "--kind",
        "opex,msci_review",
        "--kind",
        "deribit_expiry",
        "--json",
    )
    assert code == 0
    assert [(e["date"], e["kind"]) for e in json.loads(out)] == [
        ("2024-03-15", "opex"),
        ("2024-03-29", "deribit_expiry"),
    ]
    code, out, _ = run(
        capsys, "calendar", "--from", "2024-03-01", "--days", "31", "--kind", "opex", "msci_review"
    )
    assert code == 0 and "opex" in out and "deribit_expiry" not in out


def test_calendar_unknown_kind(capsys):
    code, out, err = run(capsys, "calendar", "--kind", "bogus")
    assert_one_line_error(code, out, err, "unknown event kind 'bogus'", "buyback_blackout")


def test_calendar_sized_from_sample_data(capsys):
    code, out, err = run(
        capsys, "calendar", "--days", "60", "--kind", "month_end", "--source", "sample", "--json"
    )
    assert code == 0, err
    events = json.loads(out)
    first = events[0]
    assert isinstance(first["trade_usd"], float)
    assert first["direction"] in ("buy", "sell", "neutral")
    assert set(first["trades_usd"]) == {"SPY", "AGG"}
    assert "SAMPLE DATA" in first["trade_basis"]
    assert all(e["trade_usd"] is None for e in events[1:])


def test_calendar_human_output(capsys):
    code, out, _ = run(capsys, "calendar", "--from", "2026-06-01", "--days", "30")
    assert code == 0
    assert out.startswith("Flow calendar 2026-06-01 → 2026-06-30 (NYSE sessions)")
    assert "Buyback blackout on 2026-06-01: est. 0% of S&P 500 companies" in out
    assert "2026-06-19 is not an NYSE session → 2026-06-18" in out
    assert "Basis:" in out and "pass --source" in out
    code, out, _ = run(
        capsys, "calendar", "--days", "40", "--kind", "quarter_end", "--source", "sample"
    )
    assert out.splitlines()[0].startswith("*** SAMPLE DATA")


def test_installed_entry_point_reports_bad_input_without_a_traceback():
    script = shutil.which("flows-bot") or str(Path(sys.executable).parent / "flows-bot")
    if not Path(script).exists():
        pytest.skip("flows-bot console script not installed")
    result = subprocess.run(
        [script, "letf", "QQQ", "--move", "5"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "0.05" in result.stderr
    help_text = subprocess.run(
        [script, "--help"], capture_output=True, text=True, timeout=60
    ).stdout
    assert "letf" in help_text and "calendar" in help_text
