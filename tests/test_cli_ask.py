"""`flows-bot ask` through the real entry point, on a CSV directory built in tmp_path.

The market: SPY and AGG flat at 100 on every NYSE session; BTC (every calendar day) flat at 100
until the Q1 2024 base date 2024-03-28, then rising log-linearly to 150 on 2024-06-20. The one
fund holds 60/38/2 and rebalances quarterly, so on 2024-06-28 it must sell
(0.02 − 0.03/1.01) × $5bn of BTC if prices stay where they are.
"""

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

D = dt.date
START, BASE, AS_OF = D(2023, 6, 1), D(2024, 3, 28), D(2024, 6, 20)
EXPECTED_TRADE = (0.02 - 0.03 / 1.01) * 5.0e9
QUESTION = "Will Bitcoin see selling pressure in the last week of June from rebalancing?"

FUNDS_TOML = """\
[[fund]]
name = "Model 60/38/2"
aum_usd = 5.0e9
rebalance = "quarterly"
aum_source = "illustrative assumption: test"
weights = { SPY = 0.60, AGG = 0.38, BTC = 0.02 }
"""


def write_market(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for symbol in ("SPY", "AGG", "BTC"):
        if symbol == "BTC":
            days = [day.date() for day in pd.date_range(START, AS_OF, freq="D")]
            knots = ([START, BASE, AS_OF], [100.0, 100.0, 150.0])
        else:
            days = calendar.sessions_between(START, AS_OF)
            knots = ([START, AS_OF], [100.0, 100.0])
        logs = np.interp(
            [day.toordinal() for day in days],
            [day.toordinal() for day in knots[0]],
            [math.log(price) for price in knots[1]],
        )
        closes = np.exp(logs)
        frame = pd.DataFrame(
            {"open": closes, "high": closes, "low": closes, "close": closes, "volume": 1.0e6},
            index=pd.DatetimeIndex(days, name="date"),
        )
        frame.to_csv(directory / f"{symbol}.csv", date_format="%Y-%m-%d")
        if symbol == "BTC":
            # The documented yardstick file: here spot volume equal to close x volume.
            (directory / "liquidity").mkdir(exist_ok=True)
            spot = (frame["close"] * frame["volume"]).rename("traded_value_usd")
            spot.to_frame().to_csv(directory / "liquidity" / "BTC.csv", date_format="%Y-%m-%d")
    return directory


@pytest.fixture(autouse=True)
def clean_settings(monkeypatch, tmp_path):
    """No stray .env or environment settings: the CLI sees only its arguments."""
    from bot.settings import get_settings

    for name in ("DATA_SOURCE", "FUNDS_FILE", "NEUTRAL_BAND_PCT_ADV", "CRYPTO_EXCHANGE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def inputs(tmp_path) -> list[str]:
    funds = tmp_path / "funds.toml"
    funds.write_text(FUNDS_TOML, encoding="utf-8")
    return ["--source", str(write_market(tmp_path / "market")), "--funds", str(funds)]


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_json_answer(inputs, capsys):
    code, out, err = run(["ask", QUESTION, "--as-of", "2024-06-20", *inputs, "--json"], capsys)
    assert code == 0, err
    payload = json.loads(out)
    assert payload["question"] == QUESTION
    assert payload["parsed"] == {
        "assets": ["BTC"],
        "window": {
            "start": "2024-06-24",
            "end": "2024-06-28",
            "label": "the last week of June 2024",
            "kind": "final_sessions",
            "sessions": 5,
            "words": "the last week of june",
            "assumed": False,
        },
        "sources": ["rebalancing"],
        "asks": "direction",
        "sources_assumed": False,
        "unrecognized": [],
        "fund_kinds": [],
        "kind_words": [],
        "not_modelled": [],
    }
    summary = payload["answer"]
    assert summary["verdict"] == "sell_pressure"
    assert summary["trade_usd"] == pytest.approx(EXPECTED_TRADE)
    # ADV: mean close × volume of the last 20 daily BTC bars up to as-of.
    btc = pd.read_csv(Path(inputs[1]) / "BTC.csv").tail(20)
    adv = float((btc["close"] * btc["volume"]).mean())
    assert summary["pct_adv"] == pytest.approx(100 * abs(EXPECTED_TRADE) / adv)
    assert payload["basis"]["funds_counted"] == 1
    assert payload["basis"]["aum_usd"] == 5.0e9
    assert payload["data_source"].startswith("csv:")
    assert payload["sample"] is False
    assert [w["move"] for w in payload["what_if"]] == [-0.2, -0.1, 0.1, 0.2]


def test_human_output(inputs, capsys):
    code, out, err = run(["ask", QUESTION, "--as-of", "2024-06-20", *inputs], capsys)
    assert code == 0, err
    assert "SELLING PRESSURE — SELL $48.5m of BTC" in out
    assert "Mon 2024-06-24 → Fri 2024-06-28" in out
    assert "Model 60/38/2" in out
    assert "Basis: 1 fund(s), AUM $5.00bn (illustrative AUM)" in out
    assert "prices stay where they closed on 2024-06-20" in out
    assert "SAMPLE DATA" not in out


def test_as_of_defaults_to_the_data(inputs, capsys):
    code, out, _ = run(["ask", QUESTION, *inputs, "--json"], capsys)
    assert code == 0
    assert json.loads(out)["as_of"] == "2024-06-20"


def test_data_that_ends_years_ago_still_answers_as_of_its_end(inputs, capsys):
    """Data older than the 3-year lookback: `ask`, `status` and `why` answer as of the data's
    end with the lag line, not "no bars between …" (ask failed once the clock passed
    2027-06-20, status and why after 2027-06-21)."""
    import datetime as dt

    from tests.clock import moved_clock

    lag = "data ends Thu 2024-06-20 — 1476 days ago"
    with moved_clock(dt.datetime(2028, 7, 5, 15, tzinfo=dt.UTC)):
        code, out, err = run(["ask", QUESTION, *inputs, "--json"], capsys)
        assert code == 0, err
        payload = json.loads(out)
        assert payload["as_of"] == "2024-06-20"
        assert payload["answer"]["trade_usd"] is not None
        assert payload["data_lag"]["line"] == lag
        for command in (["status", "BTC"], ["why", "BTC", "--no-chart"]):
            code, out, err = run([*command, *inputs, "--json"], capsys)
            assert code == 0, err
            payload = json.loads(out)
            assert payload["as_of"] == "2024-06-20" and payload["data_lag"]["line"] == lag


def test_an_honest_unknown_exits_zero_with_examples(inputs, capsys):
    code, out, _ = run(["ask", "Will DOGE dump at quarter end?", *inputs, "--json"], capsys)
    assert code == 0
    payload = json.loads(out)
    assert payload["answer"]["verdict"] == "unknown"
    assert payload["answer"]["reason"] == "unknown_asset"
    assert payload["answer"]["trade_usd"] is None
    assert 2 <= len(payload["examples"]) <= 3

    code, out, _ = run(["ask", "What's the weather?", *inputs], capsys)
    assert code == 0
    assert "CANNOT TELL" in out
    assert "Questions I can answer, for example:" in out


def test_sample_data_carries_the_banner(capsys):
    code, out, err = run(["ask", QUESTION, "--source", "sample", "--as-of", "2025-06-20"], capsys)
    assert code == 0, err
    assert out.startswith("*** SAMPLE DATA")
    assert out.rstrip().endswith("***")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ask", QUESTION, "--as-of", "20-06-2024"], "is not a date"),
        (["ask", QUESTION, "--as-of", "2999-01-01"], "in the future"),
        (["ask"], "required"),
        (["ask", QUESTION, "--source", "/no/such/dir"], "neither"),
    ],
)
def test_bad_options_exit_two(argv, message, capsys):
    code, out, err = run(argv, capsys)
    assert code == 2
    assert message in err
    assert out == ""


# --- the chat message the `/flows ask` command replies with ---------------------------------------


async def _answer(question: str, directory: Path, funds: Path):
    from flows.funds import load_registry
    from flows.marketdata import MarketData
    from flows.marketdata.csvdir import CsvDirectorySource
    from flows.questions import answer_question

    market = MarketData(CsvDirectorySource(directory))
    return await answer_question(question, market, load_registry(funds), AS_OF, today=AS_OF)


async def test_answer_message_leads_with_the_verdict(inputs):
    from bot.render.answer import answer_message

    answer = await _answer(QUESTION, Path(inputs[1]), Path(inputs[3]))
    message = answer_message(answer)
    assert message.tone == "sell"
    assert message.title == "BTC · the last week of June 2024 — selling pressure"
    assert "SELL $48.5m of BTC" in message.summary
    fields = {field.label: field.value for field in message.fields}
    assert fields["Verdict"] == "Selling pressure"
    assert fields["Est. trade"] == "SELL $48.5m"
    assert "Mon 2024-06-24 → Fri 2024-06-28" in fields["Window"]
    assert "BTC +50.0%" in fields["Drift since base date"]
    label = "What-if: BTC moves from the 2024-06-20 close before the first rebalance"
    assert fields[label].count("|") == 3
    assert message.body is not None and "Model 60/38/2" in message.body
    assert max(len(line) for line in message.body.splitlines()) <= 60  # fits a chat code block
    assert message.footer is not None and "illustrative AUM" in message.footer
    assert not message.sample and not message.ephemeral


async def test_a_declined_question_is_a_short_private_reply(inputs):
    from bot.render.answer import answer_message

    answer = await _answer("Should I buy bitcoin?", Path(inputs[1]), Path(inputs[3]))
    message = answer_message(answer)
    assert message.ephemeral
    assert message.tone == "info"
    assert message.summary == "I do not give investment advice or price calls."
    fields = {field.label: field.value for field in message.fields}
    assert fields["Try"].count("•") == len(answer.examples)
    assert "rebalancing" in fields["I can answer"]
