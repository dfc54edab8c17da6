"""Reading questions: assets, windows (resolved to NYSE sessions), flow sources and the ask.

Window expectations are NYSE facts checked by hand: Q2 2024 ends Fri 2024-06-28 (so its last
week is Jun 24-28); Q4 2026 ends Thu 2026-12-31; Good Friday 2024 is Mar 29, Juneteenth a holiday.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.errors import InputError
from flows.questions import parse_question, resolve_window
from flows.questions.windows import DEFAULT_WINDOW

D = dt.date
AS_OF = D(2024, 6, 20)

ISSUE_QUESTIONS = (
    "Will Bitcoin's price experience selling pressure in the last week of June due to "
    "institutional rebalancing?",
    "Will net flows from multi-asset ETFs into Ethereum be positive or negative for Q4?",
    "Will rebalancing from 60/40 style funds cause crypto market volatility to increase on the "
    "last trading day of the quarter?",
)


def window_of(question: str, as_of: dt.date = AS_OF) -> tuple[dt.date, dt.date, int]:
    parsed = parse_question(question)
    window = resolve_window(parsed.window or DEFAULT_WINDOW, as_of, parsed.past_tense)
    return window.start, window.end, len(window.sessions)


# --- the issue's three questions and their paraphrases -------------------------------------------


@pytest.mark.parametrize(
    "question",
    [
        ISSUE_QUESTIONS[0],
        "Selling pressure on BTC from rebalancing in the last week of June?",
        "In the last week of June, will institutional rebalancing cause a bitcoin sell-off?",
        "Will rebalancing outflows hit BTC during the last week of June 2024?",
        "will bitcoin see SELLING PRESSURE from pension rebalancing in the final week of june",
        "Last week of June: do 60/40 funds dump Bitcoin?",
    ],
)
def test_bitcoin_last_week_of_june(question):
    parsed = parse_question(question)
    assert parsed.assets == ("BTC",)
    assert parsed.sources == ("rebalancing",)
    assert parsed.asks == "direction"
    assert parsed.about_flows and not parsed.advice
    # June's last session is Fri 2024-06-28: the five sessions ending there.
    assert window_of(question) == (D(2024, 6, 24), D(2024, 6, 28), 5)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        (ISSUE_QUESTIONS[1], (D(2024, 10, 1), D(2024, 12, 31), 64)),
        ("Net ETH flows from multi-asset funds in Q4 2026: positive or negative?", None),
        ("For the fourth quarter, are multi asset ETF flows into ether positive?", None),
        ("Will multi-asset funds buy or sell ETH in 4Q24?", None),
    ],
)
def test_ethereum_q4(question, expected):
    parsed = parse_question(question)
    assert parsed.assets == ("ETH",)
    assert parsed.sources == ("rebalancing",)
    assert parsed.asks == "direction"
    start, end, sessions = window_of(question)
    if "2026" in question:
        assert (start, end) == (D(2026, 10, 1), D(2026, 12, 31))
    else:
        # No year: the next Q4 on or after as-of, i.e. Q4 2024 seen from June 2024.
        assert (start, end, sessions) == (expected or (D(2024, 10, 1), D(2024, 12, 31), 64))


@pytest.mark.parametrize(
    "question",
    [
        ISSUE_QUESTIONS[2],
        "On the last trading day of the quarter, will 60-40 rebalancing make crypto more volatile?",
        "Does sixty-forty rebalancing raise BTC and ETH volatility on the quarter's last trading "
        "day of the quarter?",
        "Crypto vol on the last trading day of Q2 2024 from 60/40 rebalancing: higher?",
    ],
)
def test_crypto_volatility_last_trading_day(question):
    parsed = parse_question(question)
    assert parsed.assets == ("BTC", "ETH")
    assert parsed.sources == ("rebalancing",)
    assert parsed.asks == "volatility"
    assert window_of(question) == (D(2024, 6, 28), D(2024, 6, 28), 1)


# --- assets ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "assets"),
    [
        ("Will pensions sell stocks and buy bonds at quarter end?", ("SPY", "AGG")),
        ("Rebalancing flows in $SPY and the S&P 500 next week?", ("SPY",)),
        ("Will rebalancing hit IBIT holders (xbt) at month-end?", ("BTC",)),
        ("Are cryptocurrencies facing rebalancing outflows?", ("BTC", "ETH")),
        ("Nasdaq-100 leveraged ETF flows today?", ("QQQ",)),
        ("Will rebalancing sell Ether or Solana?", ("ETH", "SOL")),
    ],
)
def test_assets_by_name_and_ticker(question, assets):
    assert parse_question(question).assets == assets


def test_a_fund_file_symbol_counts_as_an_asset():
    parsed = parse_question("Will rebalancing sell VTI at quarter end?", frozenset({"VTI"}))
    assert parsed.assets == ("VTI",)


def test_unknown_tickers_are_reported():
    parsed = parse_question("Will DOGE see selling pressure at quarter end?")
    assert parsed.assets == ()
    assert parsed.unknown_tickers == ("DOGE",)


# --- windows -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "as_of", "expected"),
    [
        ("in Q4", D(2026, 11, 21), (D(2026, 10, 1), D(2026, 12, 31), 64)),
        ("in Q2", D(2026, 11, 21), (D(2027, 4, 1), D(2027, 6, 30), 63)),
        ("in Q4 2023", AS_OF, (D(2023, 10, 2), D(2023, 12, 29), 63)),
        ("in 2026 Q1", AS_OF, (D(2026, 1, 2), D(2026, 3, 31), 61)),
        ("at the end of the quarter", AS_OF, (D(2024, 6, 24), D(2024, 6, 28), 5)),
        ("at quarter-end", D(2024, 3, 1), (D(2024, 3, 22), D(2024, 3, 28), 5)),
        ("at the end of Q3", AS_OF, (D(2024, 9, 24), D(2024, 9, 30), 5)),
        ("on the last trading day of the quarter", D(2024, 3, 1), (D(2024, 3, 28),) * 2 + (1,)),
        ("on the last trading day of Q4 2026", AS_OF, (D(2026, 12, 31),) * 2 + (1,)),
        ("at month-end", D(2024, 5, 10), (D(2024, 5, 24), D(2024, 5, 31), 5)),
        ("at the end of the month", D(2024, 5, 10), (D(2024, 5, 24), D(2024, 5, 31), 5)),
        ("next week", AS_OF, (D(2024, 6, 24), D(2024, 6, 28), 5)),
        ("this week", AS_OF, (D(2024, 6, 17), D(2024, 6, 21), 4)),
        ("on 2024-06-28", AS_OF, (D(2024, 6, 28),) * 2 + (1,)),
        ("from 2024-06-24 to 2024-06-28", AS_OF, (D(2024, 6, 24), D(2024, 6, 28), 5)),
        ("between June 24 and June 28", AS_OF, (D(2024, 6, 24), D(2024, 6, 28), 5)),
        ("on March 28, 2024", AS_OF, (D(2024, 3, 28),) * 2 + (1,)),
        ("in the last week of June", D(2024, 7, 5), (D(2025, 6, 24), D(2025, 6, 30), 5)),
        ("in the last week of June 2024", D(2024, 7, 5), (D(2024, 6, 24), D(2024, 6, 28), 5)),
        ("over the last 3 days of the month", AS_OF, (D(2024, 6, 26), D(2024, 6, 28), 3)),
        ("in May", AS_OF, (D(2025, 5, 1), D(2025, 5, 30), 21)),
        ("next quarter", AS_OF, (D(2024, 7, 1), D(2024, 9, 30), 64)),
        ("at year-end", AS_OF, (D(2024, 12, 24), D(2024, 12, 31), 5)),
    ],
)
def test_windows_resolve_to_nyse_sessions(words, as_of, expected):
    assert window_of(f"Will rebalancing sell BTC {words}?", as_of) == expected


def test_past_tense_means_the_latest_window_already_begun():
    question = "Did rebalancing sell BTC in the last week of June?"
    assert parse_question(question).past_tense
    assert window_of(question, D(2024, 7, 5)) == (D(2024, 6, 24), D(2024, 6, 28), 5)


def test_no_window_means_the_next_quarter_end_window():
    parsed = parse_question("Will rebalancing sell BTC?")
    assert parsed.window is None
    assert window_of("Will rebalancing sell BTC?") == (D(2024, 6, 24), D(2024, 6, 28), 5)


def test_a_generic_quarter_borrows_the_quarter_named_elsewhere():
    question = "Will rebalancing sell BTC at the end of the quarter in Q3?"
    assert window_of(question) == (D(2024, 9, 24), D(2024, 9, 30), 5)


def test_may_the_verb_is_not_a_month():
    assert parse_question("Rebalancing may sell BTC").window is None
    assert parse_question("Rebalancing of BTC in May").window is not None


@pytest.mark.parametrize("words", ["on 2024-02-30", "on 1999-01-04", "on 2024-06-29"])
def test_impossible_windows_raise_input_error(words):
    # Feb 30 is no date, 1999 is before the calendar, 2024-06-29 is a Saturday.
    with pytest.raises(InputError):
        window_of(f"Will rebalancing sell BTC {words}?")


# --- sources and asks -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "sources", "asks"),
    [
        ("Will vol-target funds sell SPY next week?", ("vol_target",), "direction"),
        ("How much will volatility control funds buy SPY?", ("vol_target",), "size"),
        ("Will leveraged ETFs buy QQQ into the close today?", ("leveraged",), "direction"),
        ("When do pension funds rebalance SPY?", ("rebalancing",), "timing"),
        ("How big is the BTC rebalancing trade at month end?", ("rebalancing",), "size"),
        ("Will rebalancing push the BTC price down at quarter end?", ("rebalancing",), "price"),
        ("Will BTC see outflows at quarter end?", (), "direction"),
    ],
)
def test_sources_and_asks(question, sources, asks):
    parsed = parse_question(question)
    assert parsed.sources == sources
    assert parsed.asks == asks
    assert parsed.about_flows


@pytest.mark.parametrize(
    ("question", "about_flows", "advice", "unsupported"),
    [
        ("What's the weather in London?", False, False, ()),
        ("Will bitcoin go up?", False, False, ()),
        ("Should I buy BTC before quarter end?", True, True, ()),
        ("Will CTAs sell SPY next week?", True, False, ("CTA / trend-following",)),
        ("", False, False, ()),
    ],
)
def test_questions_outside_mechanical_flows_are_flagged(question, about_flows, advice, unsupported):
    parsed = parse_question(question)
    assert parsed.about_flows is about_flows
    assert parsed.advice is advice
    assert parsed.unsupported_sources == unsupported


# --- fuzz --------------------------------------------------------------------------------------

FRAGMENTS = [
    "will", "bitcoin", "BTC", "ETH", "crypto", "SPY", "sell", "buy", "pressure", "rebalancing",
    "60/40", "vol-target", "leveraged", "volatility", "Q4", "Q2 2031", "q9", "'26", "2024-02-30",
    "1999-01-01", "June", "may", "the last week of", "end of the quarter", "month-end", "next",
    "week", "today", "last trading day of", "june 31", "13/45/2024", "0q", "DOGE", "?", "$",
    "—", "’", "\x00", "🚀", "last 99 days of", "the quarter's", "between", "and",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=300),
        st.lists(st.sampled_from(FRAGMENTS), max_size=14).map(" ".join),
    ),
    st.dates(min_value=D(2001, 1, 1), max_value=D(2028, 12, 1)),
)
def test_parsing_never_raises_and_resolution_only_raises_input_error(text, as_of):
    parsed = parse_question(text)
    assert parsed.asks in ("direction", "size", "volatility", "price", "timing")
    if parsed.window is not None:
        try:
            window = resolve_window(parsed.window, as_of, parsed.past_tense)
        except InputError:
            return
        assert window.start <= window.end
        assert window.sessions and window.sessions[0] == window.start
        assert window.sessions[-1] == window.end


def test_parsing_is_deterministic_and_tolerates_non_strings():
    assert parse_question(ISSUE_QUESTIONS[0]) == parse_question(ISSUE_QUESTIONS[0])
    assert parse_question(None).assets == ()  # type: ignore[arg-type]
    assert parse_question("x" * 100_000).assets == ()
