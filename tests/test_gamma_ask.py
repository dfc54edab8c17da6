"""`ask` answers dealer-positioning questions from the gamma model, with its numbers, and still
says what it cannot answer."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from flows.funds import load_registry
from flows.marketdata import MarketData
from flows.marketdata.sample import SampleSource
from flows.models.gamma import compute_gamma
from flows.options import OptionChain
from flows.options.sample import SampleChainSource
from flows.questions import answer_from_frames, answer_question, parse_question

TODAY = dt.date(2026, 11, 20)


@pytest.mark.parametrize(
    "question",
    [
        "is there a gamma squeeze coming in SPY?",
        "where is the BTC gamma flip?",
        "are dealers short gamma in QQQ?",
        "what is the GEX of ETH",
        "where is the SPY call wall",
    ],
)
def test_dealer_positioning_questions_name_the_gamma_source(question):
    parsed = parse_question(question)
    assert parsed.sources == ("gamma",) and parsed.assets
    assert not parsed.unsupported_sources


def test_charm_and_vanna_are_still_not_modelled():
    parsed = parse_question("will vanna and charm flows lift SPY into opex?")
    assert parsed.unsupported_sources == ("options-expiry hedging (opex, charm, vanna)",)


async def test_squeeze_question_is_answered_with_the_model_numbers():
    market = MarketData(SampleSource(today=TODAY))
    answer = await answer_question(
        "is there a gamma squeeze coming in SPY?", market, load_registry(None), today=TODAY
    )
    [item] = answer.breakdown
    [channel] = item.channels
    assert channel.source == "gamma" and channel.projected and channel.trade_usd is None
    chain = await SampleChainSource(TODAY).chain("SPY", answer.as_of)
    bars = await market.bars("SPY", answer.as_of - dt.timedelta(days=10), answer.as_of)
    expected = compute_gamma(chain, float(bars["close"].iloc[-1]))
    flip = f"{expected.zero_gamma:,.2f}"
    assert f"zero gamma (the flip) at {flip}" in channel.note
    assert f"{abs(expected.zero_gamma_distance_pct):.2f}%" in channel.note
    assert f"call wall {expected.call_wall:,.2f}" in channel.note
    assert [w.move for w in channel.what_if] == [-0.02, -0.01, 0.01, 0.02]
    for what_if in channel.what_if:
        assert what_if.trade_usd == pytest.approx(-expected.gex_usd_per_pct * what_if.move * 100)
    assert "dealers long calls, short puts" in channel.note
    assert answer.sample and "flip" in answer.answer.text
    assert answer.answer.reason == "not_yet_determined"


async def test_an_asset_without_options_gets_the_reason():
    market = MarketData(SampleSource(today=TODAY))
    answer = await answer_question(
        "what is the dealer gamma in AGG?", market, load_registry(None), today=TODAY
    )
    assert answer.answer.verdict == "unknown"
    assert "no option chain for AGG" in answer.answer.text


def test_pure_engine_with_a_hand_built_chain():
    as_of = dt.date(2025, 3, 4)
    days = pd.bdate_range("2024-01-01", as_of)
    frame = pd.DataFrame(
        {c: 100.0 for c in ("open", "high", "low", "close", "adj_close")} | {"volume": 1e6},
        index=pd.DatetimeIndex(days, name="date"),
    )
    chain = OptionChain.from_frame(
        pd.DataFrame(
            {
                "expiry": ["2025-03-21", "2025-03-21"],
                "strike": [110.0, 90.0],
                "type": ["call", "put"],
                "open_interest": [1000, 3000],
                "implied_vol": [0.2, 0.2],
                "multiplier": [100, 100],
            }
        ),
        asset="IWM",
        as_of=as_of,
        source="test",
        description="hand-built chain",
    )
    answer = answer_from_frames(
        "is IWM dealer gamma long or short?",
        as_of,
        {"IWM": frame},
        load_registry(None),
        "test data",
        False,
        option_chains={"IWM": chain},
    )
    note = answer.breakdown[0].channels[0].note
    result = compute_gamma(chain, 100.0)
    assert result.regime == "short_gamma" and "dealers are short gamma" in note
    assert "spot 100.00 (2025-03-04)" in note
    missing = answer_from_frames(
        "is IWM dealer gamma long or short?",
        as_of,
        {"IWM": frame},
        load_registry(None),
        "test data",
        False,
        option_chains={"IWM": "IWM from test: no option chain for IWM"},
    )
    assert "no option chain for IWM" in missing.answer.text
