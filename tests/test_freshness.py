"""The one freshness rule (flows.freshness) and where every command applies it: status, letf,
ask, the monitor tick and replay, in the CLI and in chat.

A CSV directory built from the sample series, cut where each test needs it, stands in for a data
directory that stops early (the real one ends 2025-09-26 for SPY)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from bot.cli import main
from flows import freshness
from flows.errors import InputError
from flows.freshness import (
    ALLOWANCE_DAYS,
    DataLag,
    StaleDataError,
    check_fresh,
    data_lag,
    default_as_of,
    is_stale,
    stale_line,
)
from flows.funds import load_registry, parse_registry
from flows.marketdata import MarketData
from flows.marketdata.csvdir import CsvDirectorySource
from flows.marketdata.sample import SampleSource, sample_bars
from flows.models.leveraged import build_letf
from flows.questions import answer_question
from flows.status import build_status

D = dt.date
DATA_END = D(2025, 9, 26)  # a Friday, as in ../shared/data/market
TODAY = D(2026, 12, 4)  # the "today": 434 days later
CRYPTO_RUNS_ON = {"BTC": D(2026, 8, 20), "ETH": D(2026, 8, 20)}
"""As in ../shared/data/market: crypto runs on to 2026, the funds' other sleeves stop in 2025."""
SYMBOLS = ("SPY", "AGG", "BTC", "ETH", "QQQ", "TLT", "IEF", "TQQQ", "UPRO", "SQQQ", "SPXU")


def write_market(directory: Path, ends: dict[str, D], default_end: D = DATA_END) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for symbol in SYMBOLS:
        frame = sample_bars(symbol, ends.get(symbol, default_end))
        frame = frame.loc[pd.Timestamp(ends.get(symbol, default_end) - dt.timedelta(days=1500)) :]
        frame.reset_index().assign(date=lambda f: f["date"].dt.strftime("%Y-%m-%d")).to_csv(
            directory / f"{symbol}.csv", index=False
        )
    return directory


@pytest.fixture
def today(monkeypatch):
    monkeypatch.setattr(freshness, "today_utc", lambda: TODAY)
    return TODAY


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


# --- the rule ------------------------------------------------------------------------------------


def test_a_past_as_of_must_be_covered_to_its_last_session():
    # Equities: the last NYSE session on or before as-of (Sat 2024-03-23 → Fri 2024-03-22).
    assert not is_stale("SPY", D(2024, 3, 22), D(2024, 3, 23), TODAY)
    assert is_stale("SPY", D(2024, 3, 21), D(2024, 3, 22), TODAY)
    # Good Friday 2024-03-29 is no session: Thursday covers it.
    assert not is_stale("SPY", D(2024, 3, 28), D(2024, 3, 29), TODAY)
    # Crypto: the UTC day itself.
    assert not is_stale("BTC", D(2024, 3, 23), D(2024, 3, 23), TODAY)
    assert is_stale("BTC", D(2024, 3, 22), D(2024, 3, 23), TODAY)


def test_a_recent_as_of_may_lag_by_the_allowance():
    assert ALLOWANCE_DAYS == 5
    today = D(2024, 6, 4)  # Tuesday
    assert not is_stale("SPY", D(2024, 5, 30), today, today)  # five days behind
    assert is_stale("SPY", D(2024, 5, 29), today, today)  # six
    assert not is_stale("BTC", today - dt.timedelta(days=5), today - dt.timedelta(days=1), today)
    # Two days before today is no longer recent: the past rule applies.
    assert is_stale("SPY", D(2024, 5, 30), D(2024, 6, 2) + dt.timedelta(days=1), D(2024, 6, 5))


def test_stale_says_so_in_one_line_naming_the_symbol_and_its_last_bar():
    with pytest.raises(StaleDataError) as caught:
        check_fresh({"BTC": D(2024, 3, 25), "SPY": D(2024, 3, 20)}, D(2024, 3, 25), TODAY, "csv")
    message = str(caught.value)
    assert message == "SPY data from csv ends 2024-03-20, before as-of 2024-03-25"
    assert "\n" not in message and "--as-of" not in message  # front ends add their own hint
    assert isinstance(caught.value, InputError) and caught.value.last_bar == D(2024, 3, 20)
    assert stale_line("ETH", D(2024, 1, 2), D(2024, 1, 3)) == (
        "ETH data ends 2024-01-02, before as-of 2024-01-03"
    )


def test_the_default_as_of_is_the_latest_day_every_series_covers():
    # BTC runs on, SPY stops on a Friday: the answer is as of the Sunday SPY still covers.
    lasts = {"BTC": D(2026, 8, 20), "SPY": DATA_END, "AGG": DATA_END}
    assert default_as_of(lasts, "BTC", TODAY) == D(2025, 9, 28)
    assert default_as_of(lasts, "SPY", TODAY) == DATA_END
    # Near today the allowance applies: nothing moves.
    fresh = {"BTC": D(2026, 12, 3), "SPY": D(2026, 12, 2)}
    assert default_as_of(fresh, "BTC", TODAY) == D(2026, 12, 3)


def test_the_lag_line():
    lag = data_lag(DATA_END, TODAY)
    assert isinstance(lag, DataLag)
    assert lag.line == "data ends Fri 2025-09-26 — 434 days ago"
    assert lag.days_behind == 434
    assert data_lag(TODAY - dt.timedelta(days=ALLOWANCE_DAYS), TODAY) is None
    limited = data_lag(D(2025, 9, 28), TODAY, {"BTC": D(2026, 8, 20), "SPY": DATA_END})
    assert limited.line == "data ends Sun 2025-09-28 (SPY ends Fri 2025-09-26) — 432 days ago"
    assert lag.model_dump(mode="json")["line"] == lag.line  # the JSON carries the line too


# --- status --------------------------------------------------------------------------------------


def test_status_on_old_data_starts_with_the_lag_line(tmp_path, today, capsys):
    market = write_market(tmp_path / "m", CRYPTO_RUNS_ON)
    code, out, err = run(["status", "SPY", "--source", str(market)], capsys)
    assert code == 0, err
    assert out.splitlines()[0] == "data ends Fri 2025-09-26 — 434 days ago"
    assert "as of Fri 2025-09-26" in out
    code, out, err = run(["status", "SPY", "--source", str(market), "--json"], capsys)
    payload = json.loads(out)
    assert payload["as_of"] == "2025-09-26"
    assert payload["data_lag"]["days_behind"] == 434
    assert payload["data_lag"]["line"] == "data ends Fri 2025-09-26 — 434 days ago"
    # The leveraged section is `letf --json`'s object, lag included.
    assert payload["leveraged"]["data_lag"] == payload["data_lag"]
    # Not "today" for figures of 2025.
    code, out, _ = run(["status", "SPY", "--source", str(market)], capsys)
    assert "Net mechanical today" not in out and "Net mechanical  " in out


def test_status_btc_answers_as_of_the_day_every_series_covers(tmp_path, today, capsys):
    """The issue's case: BTC runs to 2026, SPY and AGG stop in 2025. Chat cannot pass --as-of,
    so the default must be an answer, not an error."""
    market = write_market(tmp_path / "m", CRYPTO_RUNS_ON)
    code, out, err = run(["status", "BTC", "--source", str(market)], capsys)
    assert code == 0, err
    first = out.splitlines()[0]
    assert first == "data ends Sun 2025-09-28 (AGG ends Fri 2025-09-26) — 432 days ago"


def test_status_with_a_past_as_of_the_data_does_not_reach(tmp_path, today, capsys):
    market = write_market(tmp_path / "m", CRYPTO_RUNS_ON)
    argv = ["status", "BTC", "--as-of", "2026-01-05", "--source", str(market)]
    code, out, err = run(argv, capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert "AGG data from" in err and "ends 2025-09-26" in err and "--as-of 2025-09-26" in err


def test_status_with_an_as_of_given_has_no_lag_line(tmp_path, today, capsys):
    market = write_market(tmp_path / "m", {})
    argv = ["status", "SPY", "--as-of", "2025-09-26", "--source", str(market)]
    code, out, err = run(argv, capsys)
    assert code == 0, err
    assert "days ago" not in out


async def test_chat_status_never_says_pass_as_of(tmp_path, today):
    from bot.render.messages import status_message

    market = MarketData(CsvDirectorySource(write_market(tmp_path / "m", CRYPTO_RUNS_ON)))
    report = await build_status("BTC", market, load_registry())
    message = status_message(report)
    assert message.notice == "data ends Sun 2025-09-28 (AGG ends Fri 2025-09-26) — 432 days ago"
    text = message.to_text()
    assert text.splitlines()[0] == message.notice
    assert "--as-of" not in text and "as of Sun Sep 28, 2025" in text


# --- leveraged ETFs ------------------------------------------------------------------------------

LETF_REGISTRY = parse_registry(
    """
[[leveraged]]
name = "Bull 3x"
ticker = "BULL"
underlying = "QQQ"
leverage = 3
aum_usd = 1.0e9
aum_source = "test: 3x fund"
""",
    "test funds",
)


async def test_letf_defaults_to_the_latest_bar_and_says_how_old_it_is(tmp_path, today):
    market = MarketData(CsvDirectorySource(write_market(tmp_path / "m", {})))
    estimate = await build_letf("QQQ", market, LETF_REGISTRY)
    assert estimate.as_of == DATA_END
    assert estimate.data_lag is not None and estimate.data_lag.days_behind == 434


async def test_letf_with_an_as_of_after_the_data_is_stale(tmp_path, today):
    market = MarketData(CsvDirectorySource(write_market(tmp_path / "m", {})))
    with pytest.raises(StaleDataError, match=r"QQQ data from .* ends 2025-09-26"):
        await build_letf("QQQ", market, LETF_REGISTRY, as_of=D(2025, 10, 3))


async def test_letf_build_defaults_to_the_latest_bar(monkeypatch):
    # Moved from test_leveraged: the sample market pretends today is its END.
    end = D(2025, 12, 31)
    monkeypatch.setattr(freshness, "today_utc", lambda: end)
    market = MarketData(SampleSource(today=end))
    estimate = await build_letf("QQQ", market, LETF_REGISTRY, move=-0.05)
    assert estimate.as_of == end and estimate.move == -0.05
    assert estimate.move_basis == "hypothetical move"
    assert estimate.trade_usd == pytest.approx(-0.05 * 6 * 1e9)
    assert estimate.data_lag is None


def test_cli_letf_states_the_lag(tmp_path, today, capsys):
    market = write_market(tmp_path / "m", {})
    code, out, err = run(["letf", "QQQ", "--source", str(market)], capsys)
    assert code == 0, err
    assert out.splitlines()[0] == "data ends Fri 2025-09-26 — 434 days ago"
    assert "as of Fri 2025-09-26" in out


# --- questions -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question",
    [
        "Will BTC see selling pressure today?",
        "Will pensions sell SPY this week?",
        "Is rebalancing buying SPY now?",
    ],
)
async def test_ask_about_today_on_old_data_cannot_answer_for_that_day(tmp_path, question):
    market = MarketData(CsvDirectorySource(write_market(tmp_path / "m", {})))
    answer = await answer_question(question, market, load_registry(), today=TODAY)
    assert answer.answer.verdict == "unknown" and answer.answer.reason == "data_unavailable"
    assert "cannot answer for Fri 2026-12-04" in answer.answer.text
    assert "data ends Fri 2025-09-26 — 434 days ago" in answer.answer.text
    assert answer.data_lag is not None


async def test_ask_without_today_words_answers_as_of_the_data_and_says_how_old(tmp_path):
    market = MarketData(CsvDirectorySource(write_market(tmp_path / "m", {})))
    question = "Will rebalancing sell SPY at the end of Q3 2025?"
    answer = await answer_question(question, market, load_registry(), today=TODAY)
    assert answer.as_of == DATA_END
    assert answer.data_lag is not None and answer.data_lag.days_behind == 434
    from bot.render.answer import answer_message, render_answer_text

    assert render_answer_text(answer).splitlines()[0] == answer.data_lag.line
    assert answer_message(answer).notice == answer.data_lag.line


async def test_ask_on_fresh_data_has_no_lag_line():
    end = D(2025, 12, 31)
    market = MarketData(SampleSource(today=end))
    answer = await answer_question(
        "Will BTC see selling pressure today?", market, load_registry(), today=end
    )
    assert answer.data_lag is None
    assert answer.answer.reason != "data_unavailable"


# --- tick and replay -----------------------------------------------------------------------------


def test_replay_to_a_day_the_data_does_not_reach_is_refused(tmp_path, today, capsys):
    """Before: up to five days short passed, and the days after the last bar used its close."""
    market = write_market(tmp_path / "m", {"SPY": D(2025, 9, 23)})
    argv = ["replay", "--from", "2025-09-01", "--to", "2025-09-26", "--watch", "SPY"]
    code, out, err = run([*argv, "--source", str(market)], capsys)
    assert code == 2 and out == ""
    assert "SPY data from" in err and "ends 2025-09-23" in err and "--to 2025-09-23" in err
    argv = ["replay", "--from", "2025-09-01", "--to", "2025-09-23", "--watch", "SPY"]
    code, out, err = run([*argv, "--source", str(market)], capsys)
    assert code == 0, err


async def test_tick_skips_a_stale_symbol_with_the_stale_line(tmp_path, today):
    from bot.monitors.tick import run_tick
    from bot.settings import Settings
    from storage.store import Store

    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    try:
        now = dt.datetime(2025, 9, 30, 21, tzinfo=dt.UTC)
        await store.add_subscription(
            platform="console", workspace="w", channel="c", user=None, asset="SPY",
            kinds=["drift"], threshold_usd=None, threshold_pct_adv=None, created_by="t", now=now,
        )  # fmt: skip
        market = MarketData(
            CsvDirectorySource(write_market(tmp_path / "m", {"SPY": D(2025, 9, 23)}))
        )
        result = await run_tick(
            store, market, load_registry(), Settings(), as_of=D(2025, 9, 26), charts=False
        )
        source = f"csv:{tmp_path / 'm'}"
        expected = f"SPY data from {source} ends 2025-09-23, before as-of 2025-09-26"
        assert result.errors["SPY"] == expected
        assert result.assets == 0
    finally:
        await store.close()


async def test_calendar_sizing_on_old_data_is_unknown_not_a_stale_figure(tmp_path, today):
    """Before: "if the period ended on 2025-09-26 … NEUTRAL ($0)" for a period ending in 2026."""
    from flows.event_sizing import load_period_end_sizing

    market = MarketData(CsvDirectorySource(write_market(tmp_path / "m", {})))
    sizing = await load_period_end_sizing(TODAY, market, load_registry(), "csv")
    assert {item.kind for item in sizing} == {"month_end", "quarter_end"}
    for item in sizing:
        assert item.trade_usd is None
        assert "data ends Fri 2025-09-26 — 434 days ago" in item.basis


def test_the_lag_line_comes_first_on_every_platform():
    from bot.adapters.discord_render import embed
    from bot.adapters.slack_render import blocks, fallback_text
    from bot.messages import Message

    line = "data ends Fri 2025-09-26 — 434 days ago"
    message = Message(title="SPY flows — as of Fri Sep 26, 2025", summary="…", notice=line)
    assert message.to_text().splitlines()[0] == line
    first = blocks(message)[0]
    assert first["type"] == "section" and line in first["text"]["text"]
    assert blocks(message)[1]["type"] == "header"
    assert fallback_text(message).startswith(line)
    assert embed(message).description.startswith(f"**{line}**")
    assert Message.from_storage(message.to_storage()).notice == line  # survives the outbox
