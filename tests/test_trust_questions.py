"""Questions answered about what they ask (issue #13): fund-kind words narrow the programs
counted, flows not modelled are named, several assets are never netted."""

from __future__ import annotations

import pytest

from flows.fund_kinds import fund_kind, narrow, read_kind_words
from flows.funds import load_registry, parse_registry
from flows.questions import answer_from_frames
from flows.questions.not_modelled import NOT_MODELLED
from flows.questions.parse import parse_question
from tests.test_questions_engine import AS_OF, SOURCE, market

KINDED_TOML = """\
[[fund]]
name = "Aggregate pension plans"
kind = "pension"
aum_usd = 1.0e12
rebalance = "quarterly"
aum_source = "illustrative assumption: test"
weights = { SPY = 0.60, AGG = 0.40 }

[[fund]]
name = "Advisor sleeve program"
kind = "model_portfolio"
aum_usd = 5.0e9
rebalance = "quarterly"
aum_source = "illustrative assumption: test"
weights = { SPY = 0.59, AGG = 0.39, BTC = 0.01, ETH = 0.01 }

[[fund]]
name = "Crypto top-2"
kind = "index_fund"
aum_usd = 2.0e9
rebalance = "quarterly"
aum_source = "illustrative assumption: test"
weights = { BTC = 0.7, ETH = 0.3 }
"""
KINDED = parse_registry(KINDED_TOML, "kinded test registry")


def answer(question: str):
    return answer_from_frames(question, AS_OF, market(), KINDED, SOURCE, False)


def test_every_built_in_program_has_a_kind_and_the_crypto_index_is_no_60_40_fund():
    registry = load_registry()
    kinds = {fund.id: fund_kind(fund) for fund in registry.all_programs()}
    assert None not in kinds.values() and "custom" not in kinds.values()
    assert "pension" in kinds.values()
    index_funds = {id_ for id_, kind in kinds.items() if kind == "index_fund"}
    assert index_funds  # the crypto index funds are listed (as no-drift programs)
    sixty_forty = parse_question("Will 60/40 funds sell bitcoin?").fund_kinds
    counted = {f.id for f in narrow(registry, sixty_forty).funds}
    assert not counted & index_funds
    sized = {fund.id for fund in registry.funds}
    assert counted == {id_ for id_ in sized if kinds[id_] in sixty_forty}


@pytest.mark.parametrize(
    ("words", "kinds"),
    [
        ("pensions", {"pension"}),
        ("balanced funds", {"balanced_fund"}),
        ("model portfolios", {"model_portfolio", "guidance"}),
        ("multi-asset etfs", {"etf"}),
        ("60/40 funds", {"pension", "balanced_fund", "model_portfolio", "guidance"}),
    ],
)
def test_kind_words_name_kinds(words, kinds):
    assert parse_question(f"Will {words} buy SPY at quarter end?").fund_kinds == kinds


def test_pension_question_counts_only_pensions_and_says_so():
    result = answer("Did pensions sell stocks at the end of Q1 2024?")
    assert result.basis.fund_names == ["Aggregate pension plans"]
    assert result.parsed.fund_kinds == ["pension"]
    assert "Counted only pension funds (“pensions”): 1 program(s): Aggregate pension plans" in (
        result.answer.text
    )
    everyone = answer_from_frames(
        "Did funds sell stocks at the end of Q1 2024?", AS_OF, market(), KINDED, SOURCE, False
    )
    assert everyone.basis.funds_counted == 2  # the index fund holds no SPY


def test_a_kind_no_program_is_of_is_an_honest_unknown():
    result = answer("Will multi-asset ETFs buy SPY at quarter end?")
    assert result.answer.verdict == "unknown" and result.answer.reason == "no_funds"
    assert "No multi-asset ETFs" in result.answer.text


def test_model_portfolio_crypto_question_leaves_out_the_index_fund():
    result = answer("Will model portfolios sell bitcoin in the last week of June?")
    names = {fund.name for c in result.breakdown[0].channels for fund in c.funds}
    assert names == {"Advisor sleeve program"}


def test_questions_about_flows_not_modelled_name_them_even_without_an_asset():
    result = answer("Is today's rally driven by CTA trend following or buybacks?")
    assert result.answer.reason == "unsupported_source"
    assert "CTA / trend-following" in result.answer.text
    assert "corporate buybacks" in result.answer.text
    assert "are not modelled yet" in result.answer.text
    assert "could not tell which asset" not in result.answer.text
    assert result.parsed.not_modelled == ["CTA / trend-following", "corporate buybacks"]


def test_short_covering_and_gamma_questions_route_to_their_models():
    parsed = parse_question("Is today's rally driven by short covering or gamma hedging?")
    assert {"positioning", "gamma"} <= set(parsed.sources)
    assert parsed.unsupported_sources == ()


def test_the_not_modelled_list_routes_to_a_channel_once_one_is_registered():
    from flows.questions.channels import base

    cta = next(entry for entry in NOT_MODELLED if entry.channel == "cta")

    class Cta:
        name, label = "cta", "CTA flows"

    base._CHANNELS["cta"] = Cta()  # what a CTA model's module would register
    try:
        parsed = parse_question("Will CTAs sell SPY this week?")
        assert "cta" in parsed.sources and cta.label not in parsed.unsupported_sources
    finally:
        del base._CHANNELS["cta"]
    assert cta.label in parse_question("Will CTAs sell SPY this week?").unsupported_sources


def test_several_assets_are_each_reported_and_never_netted():
    frames = market(btc_at_as_of=150.0, eth_at_as_of=60.0)  # BTC up: sell; ETH down: buy
    result = answer_from_frames(
        "Will rebalancing sell crypto in the last week of June?",
        AS_OF,
        frames,
        KINDED,
        SOURCE,
        False,
    )
    btc, eth = result.breakdown
    assert btc.trade_usd < 0 < eth.trade_usd
    assert result.answer.verdict == "mixed"
    assert result.answer.trade_usd is None and result.answer.pct_adv is None
    assert result.what_if == []  # a joint what-if would net them too
    assert "never netted" in result.answer.text
    assert "BTC SELL" in result.answer.text and "ETH BUY" in result.answer.text


def test_kind_words_are_read_in_order():
    words = read_kind_words("do pensions or balanced funds rebalance")
    assert [w.words for w in words] == ["pensions", "balanced funds"]


async def test_on_sample_data_a_60_40_crypto_volatility_question_gets_the_volatility_model():
    import datetime as dt

    from flows.marketdata import MarketData
    from flows.marketdata.sample import SampleSource
    from flows.questions import answer_question
    from flows.status import AnalyticsConfig

    result = await answer_question(
        "Will 60/40 funds cause crypto volatility to rise on the last trading day of the quarter?",
        MarketData(SampleSource()),
        load_registry(),
        as_of=dt.date(2025, 6, 20),
        config=AnalyticsConfig(with_garch=False),
        today=dt.date(2025, 6, 21),
    )
    assert result.sample
    assert [item.asset for item in result.breakdown] == ["BTC", "ETH"]
    # The crypto index funds are not 60/40 funds.
    index_names = {f.name for f in load_registry().all_programs() if f.kind == "index_fund"}
    assert index_names and not index_names & set(result.basis.fund_names)
    assert result.answer.trade_usd is None  # BTC and ETH are not netted
    for item in result.breakdown:
        assert item.volatility is not None and item.volatility.regime
        assert "SAMPLE DATA" in item.adv_basis
        # A share of liquidity where a 60/40 program holds the asset; unknown where none does.
        assert (item.pct_adv is None) == (item.trade_usd is None)
    assert result.breakdown[0].trade_usd is not None  # BTC: the BlackRock and adviser models
    assert "BTC: volatility regime" in result.answer.text
    assert "vol-target fund" in result.answer.text
