"""What a trader runs without naming a date works on any day the test suite happens to run:
weekends, NYSE holidays, a quarter's last session, New Year's Day, a Monday before its first bar.
The clock is fixed with time-machine, so a weekend-only failure shows on every run instead of
only on the runs that fall on a Saturday."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.cli import main
from bot.render.messages import status_message
from flows import calendar
from flows.results import StatusReport
from tests.clock import moved_clock
from tests.test_why import rows_by_source, run_json

DAYS = {
    "saturday": dt.datetime(2026, 12, 5, 15, 0, tzinfo=dt.UTC),
    "sunday": dt.datetime(2026, 12, 6, 15, 0, tzinfo=dt.UTC),
    "monday-before-its-bar": dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC),
    "christmas": dt.datetime(2026, 12, 25, 15, 0, tzinfo=dt.UTC),
    "quarter-end-close": dt.datetime(2026, 12, 31, 21, 30, tzinfo=dt.UTC),
    "new-year": dt.datetime(2027, 1, 1, 12, 0, tzinfo=dt.UTC),
}


@pytest.fixture(params=sorted(DAYS))
def today(request) -> dt.date:
    with moved_clock(DAYS[request.param]):
        yield DAYS[request.param].date()


@pytest.mark.parametrize(
    "question",
    [
        "Is today's rally driven by mechanical flows in BTC?",
        "How much of the BTC selling is forced?",
        "Net mechanical flow for SPY this week?",
        "Is today's move in SPY driven by mechanical flows?",
    ],
)
def test_ask_routes_mechanical_flow_questions_to_the_ledger(today, question, capsys):
    answer = run_json(["ask", question], capsys)
    assert answer["parsed"]["sources"] == ["net_flow"]
    asset = answer["parsed"]["assets"][0]
    [item] = answer["breakdown"]
    [channel] = item["channels"]
    assert channel["source"] == "net_flow"
    assert f"flows-bot why {asset}" in channel["detail"]
    if asset == "BTC":
        assert answer["as_of"] == today.isoformat()  # crypto trades every day
    else:
        assert answer["as_of"] == calendar.session_on_or_before(today).isoformat()
    ledger = run_json(["why", asset, "--as-of", answer["as_of"], "--no-chart"], capsys)
    if ledger["net_mechanical_usd"] is None:
        assert channel["trade_usd"] is None
    else:
        assert channel["trade_usd"] == pytest.approx(ledger["net_mechanical_usd"], rel=1e-9)


def test_a_session_question_about_today_names_the_next_session_when_nyse_is_closed(today, capsys):
    answer = run_json(["ask", "Will BTC see rebalancing selling today?"], capsys)
    if calendar.is_session(today):
        assert answer["answer"]["reason"] != "window_unreadable"
        assert answer["parsed"]["window"]["start"] == today.isoformat()
    else:
        assert answer["answer"]["reason"] == "window_unreadable"
        text = answer["answer"]["text"]
        assert f"today ({today:%a %Y-%m-%d}) has no NYSE session" in text
        assert f"the next is {calendar.next_session(today):%a %Y-%m-%d}" in text


@pytest.mark.parametrize("asset", ["BTC", "SPY"])
def test_the_undated_commands_answer_for_the_latest_day_their_market_had(today, asset, capsys):
    last_day = today if asset == "BTC" else calendar.session_on_or_before(today)
    status = run_json(["status", asset], capsys)
    assert status["as_of"] == last_day.isoformat()
    reset_day = calendar.session_on_or_before(last_day)
    assert status["leveraged"]["as_of"] == reset_day.isoformat()
    assert main(["status", asset, "--source", "sample"]) == 0
    text = capsys.readouterr().out
    closes_on = "the close" if reset_day == last_day else f"the close of {reset_day:%a %Y-%m-%d}"
    assert f"into {closes_on} for the" in text
    report = StatusReport.model_validate(status)
    closes_on = "the close" if reset_day == last_day else f"the close of {reset_day:%a %b %d}"
    assert f"Leveraged ETFs at {closes_on}" in {f.label for f in status_message(report).fields}
    ledger = run_json(["why", asset, "--no-chart"], capsys)
    assert ledger["as_of"] == last_day.isoformat()
    letf = run_json(["letf", asset], capsys)
    # US-listed leveraged funds reset at NYSE closes, crypto ones included.
    assert letf["as_of"] == reset_day.isoformat()
    leveraged = rows_by_source(ledger)["leveraged"]
    if calendar.is_session(last_day):
        assert leveraged["usd"] is not None and leveraged["usd"] != 0.0
    else:
        assert leveraged["usd"] == 0.0
        assert f"close of {calendar.next_session(last_day)}" in leveraged["basis"]
    events = run_json(["calendar"], capsys)
    assert events and min(event["date"] for event in events) >= today.isoformat()
