"""Every flow model yields `FlowEstimate`s whose total is the figure its own command prints.

The commands run through the real CLI on the sample source; the estimates are rebuilt from the
printed `--json` result, per fund / program, by the model modules in flows/models/."""

from __future__ import annotations

import json

import pytest

from bot.cli import main
from flows.models import FlowEstimate, total_usd
from flows.models import leveraged as leveraged_model
from flows.models import rebalance as rebalance_model
from flows.models import vol_target as vol_target_model
from flows.results import LeveragedEstimate, StatusReport


def run_json(argv: list[str], capsys) -> dict:
    code = main([*argv, "--source", "sample", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def by_source(estimates: list[FlowEstimate]) -> dict[str, FlowEstimate]:
    return {estimate.source: estimate for estimate in estimates}


@pytest.mark.parametrize("asset", ["BTC", "SPY", "AGG"])
def test_rebalance_estimates_add_up_to_the_status_trade(asset, capsys):
    payload = run_json(["status", asset], capsys)
    report = StatusReport.model_validate(payload)
    funds = rebalance_model.fund_estimates(
        report.asset, report.as_of, report.rebalance, report.data_source, report.funds_source
    )
    trading = [fund for fund in payload["rebalance"]["funds"] if fund["trades_this_period"]]
    assert len(funds) == len(trading) > 0
    assert {estimate.source for estimate in funds} == {
        f"rebalance:{fund['id']}" for fund in trading
    }
    scenario = {f"rebalance:{fund['id']}" for fund in trading if fund["scenario"]}
    assert {e.source for e in funds if e.confidence == "scenario"} == scenario
    assert total_usd(funds) == pytest.approx(payload["rebalance"]["trade_usd"], rel=1e-12)
    aggregate = by_source(report.flow_estimates)["rebalance"]
    assert aggregate.usd == pytest.approx(payload["rebalance"]["trade_usd"], rel=1e-12)
    assert aggregate.timing.end == report.quarter_end.last_session
    assert "SAMPLE DATA" in aggregate.basis
    # The sign convention: a sell is negative.
    direction = payload["rebalance"]["direction"]
    if direction != "neutral":
        assert (aggregate.usd > 0) == (direction == "buy")


@pytest.mark.parametrize("asset", ["SPY"])
def test_vol_target_estimates_add_up_to_the_status_flow(asset, capsys):
    payload = run_json(["status", asset], capsys)
    report = StatusReport.model_validate(payload)
    programs = vol_target_model.program_estimates(
        report.asset, report.as_of, report.volatility, report.data_source
    )
    printed = payload["volatility"]["vol_target_trade_usd"]
    assert programs and printed is not None
    assert total_usd(programs) == pytest.approx(printed, rel=1e-12)
    assert by_source(report.flow_estimates)["vol_target"].usd == pytest.approx(printed, rel=1e-12)
    assert all(p.timing.kind == "at_close" and p.timing.start == report.as_of for p in programs)


def test_vol_target_unknown_is_none_with_a_reason_never_zero(capsys):
    report = StatusReport.model_validate(run_json(["status", "SPY"], capsys))
    volatility = report.volatility.model_copy(
        update={
            "vol_target": [report.volatility.vol_target[0].model_copy(update={"trade_usd": None})],
            "vol_target_trade_usd": None,
        }
    )
    aggregate = vol_target_model.aggregate_estimate("SPY", report.as_of, volatility, "sample")
    assert aggregate.usd is None and aggregate.unknown_reason
    assert total_usd([aggregate]) is None


@pytest.mark.parametrize("argv", [["letf", "QQQ"], ["letf", "SPY", "--move", "-0.05"]])
def test_leveraged_estimates_add_up_to_the_letf_trade(argv, capsys):
    payload = run_json(argv, capsys)
    estimate = LeveragedEstimate.model_validate(payload)
    funds = leveraged_model.fund_estimates(estimate)
    assert len(funds) == len(payload["funds"]) > 0
    assert total_usd(funds) == pytest.approx(payload["trade_usd"], rel=1e-12)
    (aggregate,) = payload["flow_estimates"]
    assert aggregate["source"] == "leveraged"
    assert aggregate["usd"] == pytest.approx(payload["trade_usd"], rel=1e-12)
    hypothetical = "--move" in argv
    assert aggregate["confidence"] == ("scenario" if hypothetical else "estimated")


def test_status_composes_every_model_that_covers_the_asset(capsys):
    payload = run_json(["status", "SPY"], capsys)
    sources = [estimate["source"] for estimate in payload["flow_estimates"]]
    assert sources == ["rebalance", "vol_target", "leveraged"]
    assert payload["flow_estimates"][2]["usd"] == pytest.approx(payload["leveraged"]["trade_usd"])
    # An asset no model covers has no estimates (nothing to estimate), not zeros.
    empty = run_json(["status", "SOL"], capsys)
    assert all(estimate["usd"] != 0 for estimate in empty["flow_estimates"])


def test_an_asset_no_program_trades_has_no_rebalance_estimate(capsys):
    """ETH: the default registry holds it only in a cap-weighted index fund (no drift trade)."""
    payload = run_json(["status", "ETH"], capsys)
    report = StatusReport.model_validate(payload)
    assert "rebalance" not in by_source(report.flow_estimates)
