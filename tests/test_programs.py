"""Registry programs: each program's own rule (calendars, bands), AUM ranges, `since`, dated AUM
history, live AUM in USD (CAD converted), the `funds` command and bad program entries."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.cli import main
from bot.reference import ReferenceData
from flows.errors import FundsFileError
from flows.funds import RebalancingFund, load_registry, parse_registry
from flows.marketdata.live import LiveSource
from flows.program_model import AumPoint, Band, Rule
from flows.rebalance import (
    band_trade,
    band_trigger,
    base_date_for,
    drifted_weights,
    estimate_rebalance,
    trades_this_period,
)
from storage.store import Store

D = dt.date
FIXTURES = Path(__file__).parent / "fixtures" / "live"
NOW = dt.datetime(2026, 11, 20, 15, 0, tzinfo=dt.UTC)


def _program(**overrides) -> RebalancingFund:
    fields = {
        "name": "P",
        "aum_usd": 1.0e9,
        "rebalance": "quarterly",
        "aum_source": "test figure (as of 2026-06-30)",
        "weights": {"SPY": 0.59, "AGG": 0.39, "BTC": 0.02},
        "id": "p",
        "kind": "etf",
        "aum_as_of": D(2026, 6, 30),
    }
    fields.update(overrides)
    if "rule" not in overrides:
        fields["rule"] = Rule(fields["rebalance"])
    return RebalancingFund(**fields)


def _closes(points: dict[str, dict[dt.date, float]]) -> dict[str, pd.Series]:
    return {
        symbol: pd.Series(list(p.values()), index=pd.DatetimeIndex(list(p.keys()))).sort_index()
        for symbol, p in points.items()
    }


# BTC +60 % since 2025-12-31 and since the 2026-09-30 quarter end; SPY, AGG flat.
CLOSES = _closes(
    {
        "SPY": {D(2025, 6, 1): 100.0, D(2026, 11, 20): 100.0},
        "AGG": {D(2025, 6, 1): 100.0, D(2026, 11, 20): 100.0},
        "BTC": {D(2025, 6, 1): 100.0, D(2026, 9, 30): 100.0, D(2026, 11, 20): 160.0},
    }
)
AS_OF = D(2026, 11, 20)


# --- calendars -------------------------------------------------------------------------------


def test_an_annual_program_makes_no_calendar_trade_outside_its_month():
    june = _program(rebalance="annual", rule=Rule("annual", 6), tickers=("FBAL.TO",))
    trading, note = trades_this_period(june, AS_OF)
    assert not trading
    assert note == "FBAL: annual rebalance in June; no calendar trade this quarter"
    assert base_date_for(june, AS_OF) == D(2026, 6, 30)
    december = _program(rebalance="annual", rule=Rule("annual", 12))
    assert trades_this_period(december, AS_OF) == (True, None)
    assert base_date_for(december, AS_OF) == D(2025, 12, 31)
    assert trades_this_period(_program(), AS_OF) == (True, None)
    unknown = _program(rebalance="annual", rule=Rule("annual", None))
    assert not trades_this_period(unknown, AS_OF)[0]
    assert "undisclosed month" in trades_this_period(unknown, AS_OF)[1]


def test_only_programs_trading_this_period_count_in_the_total():
    quarterly = _program(id="q", name="Q")
    annual = _program(id="a", name="A", rebalance="annual", rule=Rule("annual", 6))
    estimate = estimate_rebalance("BTC", AS_OF, [quarterly, annual], CLOSES, adv_usd=None)
    rows = {row.id: row for row in estimate.funds}
    assert rows["q"].trades_this_period and not rows["a"].trades_this_period
    assert rows["a"].trade_usd < 0, "the annual program's drift is still shown"
    assert estimate.trade_usd == pytest.approx(rows["q"].trade_usd)
    assert estimate.aum_total_usd == pytest.approx(1.0e9)
    # Quarterly: BTC from 2 % to 3.2/101.2 of the fund; selling back to 2 % of $1bn.
    assert rows["q"].trade_usd == pytest.approx((0.02 - 0.032 / 1.012) * 1.0e9)


# --- bands -----------------------------------------------------------------------------------


def test_band_trigger_matches_the_closed_form_and_breaching_it_hits_the_limit():
    targets = np.array([0.59, 0.39, 0.02])
    growth = np.array([1.0, 1.0, 1.3])
    current = drifted_weights(targets, growth)
    program = _program(rule=Rule("annual", None, (Band(asset="BTC", max_multiple=2.0),)))
    move, band = band_trigger(program, ["SPY", "AGG", "BTC"], targets, current, "BTC")
    w, limit = current[2], 2.0 * 0.02
    assert 1 + move == pytest.approx(limit * (1 - w) / (w * (1 - limit)))
    shocked = drifted_weights(targets, growth * np.array([1.0, 1.0, 1.0 + move]))
    assert shocked[2] == pytest.approx(limit)
    # The forced trade: BTC back to 2 % of the fund's value after the move.
    value = 1.0e9 * (1 + w * move)
    trade = band_trade(1.0e9, ["SPY", "AGG", "BTC"], targets, current, "BTC", move, band)
    assert trade == pytest.approx((0.02 - limit) * value)


def test_group_band_on_a_move_of_an_outside_asset():
    targets = np.array([0.59, 0.39, 0.02])
    current = targets.copy()
    program = _program(rule=Rule("annual", None, (Band(group="equity", max_drift_pts=5),)))
    move, _ = band_trigger(program, ["SPY", "AGG", "BTC"], targets, current, "AGG")
    shocked = drifted_weights(targets, np.array([1.0, 1.0 + move, 1.0]))
    assert abs(shocked[0] - 0.59) == pytest.approx(0.05)


def test_band_trigger_is_null_beyond_90_percent_and_zero_when_breached():
    targets = np.array([0.59, 0.39, 0.02])
    far = _program(rule=Rule("annual", None, (Band(asset="BTC", max_multiple=10.0),)))
    assert band_trigger(far, ["SPY", "AGG", "BTC"], targets, targets, "BTC") is None
    near = _program(rule=Rule("annual", None, (Band(asset="BTC", max_weight=0.025),)))
    breached = drifted_weights(targets, np.array([1.0, 1.0, 1.6]))
    assert band_trigger(near, ["SPY", "AGG", "BTC"], targets, breached, "BTC")[0] == 0.0
    # A breached band makes the program trade this period, whatever its calendar.
    program = _program(rebalance="annual", rule=Rule("annual", 6, near.rule.bands))
    row = estimate_rebalance("BTC", AS_OF, [program], CLOSES, adv_usd=None).funds[0]
    assert row.band_trigger_move == 0.0 and row.trades_this_period


# --- ranges, scenarios, since, history ---------------------------------------------------------


def test_range_programs_give_low_central_high_and_scenarios_stay_apart():
    real = _program(id="real", name="Real")
    scenario = _program(
        id="guide",
        name="Guide",
        kind="guidance",
        scenario=True,
        aum_usd=4.0e10,
        aum_low_usd=1.0e10,
        aum_high_usd=1.0e11,
    )
    estimate = estimate_rebalance("BTC", AS_OF, [real, scenario], CLOSES, adv_usd=None)
    rows = {row.id: row for row in estimate.funds}
    assert rows["real"].trade_usd_range == [rows["real"].trade_usd] * 3
    low, central, high = rows["guide"].trade_usd_range
    assert (low / central, high / central) == pytest.approx((0.25, 2.5))
    assert estimate.trade_usd_funds == pytest.approx(rows["real"].trade_usd)
    assert estimate.trade_usd == pytest.approx(rows["real"].trade_usd + central)
    assert estimate.trade_usd_range[0] == pytest.approx(rows["real"].trade_usd + low)
    assert estimate.trade_usd_range[2] == pytest.approx(rows["real"].trade_usd + high)


def test_since_excludes_a_program_before_its_sleeve_and_bases_drift_on_its_start():
    late = _program(id="late", since=D(2026, 12, 1))
    estimate = estimate_rebalance("BTC", AS_OF, [late], CLOSES, adv_usd=None)
    assert estimate.funds == [] and estimate.trade_usd == 0.0
    assert [p.id for p in estimate.not_sized] == ["late"]
    assert "started 2026-12-01" in estimate.not_sized[0].reason
    fresh = _program(id="fresh", since=D(2026, 10, 15))
    assert base_date_for(fresh, AS_OF) == D(2026, 10, 15)


def test_a_past_date_uses_the_aum_point_of_its_time_and_says_when_none_is_that_old():
    program = _program(
        aum_usd=3.0e9,
        aum_as_of=D(2026, 6, 30),
        aum_history=(
            AumPoint(D(2025, 3, 31), 1.0e9, "Q1 2025 report"),
            AumPoint(D(2025, 12, 31), 2.0e9, "annual report 2025"),
        ),
    )
    assert program.aum_on(D(2026, 1, 15)) == (2.0e9, "annual report 2025 (figure of 2025-12-31)")
    assert program.aum_on(AS_OF)[0] == 3.0e9
    usd, basis = program.aum_on(D(2024, 1, 2))
    assert usd == 1.0e9 and "only later figures exist" in basis


# --- live AUM ----------------------------------------------------------------------------------


def _recorded_info(broken: set[str] = frozenset()):
    responses = json.loads((FIXTURES / "yahoo_info_programs.json").read_text())
    calls: list[str] = []

    def info(ticker: str) -> dict:
        calls.append(ticker)
        if ticker in broken:
            raise ConnectionError("network unreachable")
        return responses[ticker]

    return info, calls


LIVE_FILE = """\
[[program]]
id = "fbal"
name = "Fidelity All-in-One Balanced ETF"
kind = "etf"
tickers = ["FBAL.TO"]
currency = "CAD"
sleeves = { SPY = 0.59, AGG = 0.39, BTC = 0.02 }
rule = { calendar = "annual", calendar_month = "unknown" }
aum = { from = "ticker", fallback_usd = 5.0e8, as_of = 2025-12-31, source = "issuer fact sheet" }
sources = [{ url = "https://example.org/fbal", title = "FBAL facts", date = "2025-12-31" }]
"""


@pytest.fixture
async def store(tmp_path):
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'ref.db'}")
    yield store
    await store.close()


async def test_live_aum_is_converted_from_cad_and_cached_for_a_day(store):
    registry = parse_registry(LIVE_FILE, "test")
    info, calls = _recorded_info()
    data = ReferenceData(store.reference, LiveSource(yf_info=info), clock=lambda: NOW)
    live = await data.registry_with_live_aum(registry)
    (fbal,) = live.funds
    assert fbal.aum_usd == pytest.approx(1.0e9 * 0.72)
    assert fbal.aum_live and fbal.aum_as_of == NOW.date()
    assert "CAD 1,000,000,000 at CADUSD=X 0.7200" in fbal.aum_source
    assert sorted(calls) == ["CADUSD=X", "FBAL.TO"], "the listed ticker keeps its suffix"
    # Within a day the cached figure is used without a fetch.
    again = ReferenceData(
        store.reference,
        LiveSource(yf_info=_recorded_info()[0]),
        clock=lambda: NOW + dt.timedelta(hours=5),
    )
    assert (await again.registry_with_live_aum(registry)).funds[0].aum_usd == fbal.aum_usd


async def test_failed_fetch_falls_back_to_the_registry_figure_and_says_so(store):
    registry = parse_registry(LIVE_FILE, "test")
    info, _ = _recorded_info(broken={"FBAL.TO"})
    data = ReferenceData(store.reference, LiveSource(yf_info=info), clock=lambda: NOW)
    (fbal,) = (await data.registry_with_live_aum(registry)).funds
    assert fbal.aum_usd == 5.0e8 and not fbal.aum_live
    assert fbal.aum_source.startswith("registry fallback (live fetch failed)")
    assert "as of 2025-12-31" in fbal.aum_source
    assert data.warnings and "FBAL.TO" in data.warnings[0]


async def test_a_stale_cache_is_refetched_and_used_when_the_refetch_fails(store):
    registry = parse_registry(LIVE_FILE, "test")
    first = ReferenceData(
        store.reference, LiveSource(yf_info=_recorded_info()[0]), clock=lambda: NOW
    )
    await first.registry_with_live_aum(registry)
    # Two days later the figure is stale: a refetch is tried; it fails, so the cached figure
    # (dated in its source) still beats the registry's.
    info, calls = _recorded_info(broken={"FBAL.TO"})
    later = NOW + dt.timedelta(days=2)
    data = ReferenceData(store.reference, LiveSource(yf_info=info), clock=lambda: later)
    (fbal,) = (await data.registry_with_live_aum(registry)).funds
    assert "FBAL.TO" in calls
    assert fbal.aum_usd == pytest.approx(7.2e8) and fbal.aum_as_of == NOW.date()
    assert f"fetched {NOW.date()}" in fbal.aum_source


async def test_offline_sources_never_fetch_and_keep_the_registry_figures():
    from flows.marketdata.sample import SampleSource

    registry = load_registry()
    data = ReferenceData(None, SampleSource(), clock=lambda: NOW)
    assert await data.registry_with_live_aum(registry) is registry


# --- file formats and bad input ------------------------------------------------------------------


def test_old_fund_entries_load_as_custom_programs():
    registry = parse_registry(
        textwrap.dedent(
            """\
            [[fund]]
            name = "My 60/40"
            aum_usd = 2.0e9
            rebalance = "monthly"
            aum_source = "my estimate"
            weights = { SPY = 0.6, AGG = 0.4 }
            """
        ),
        "mine.toml",
    )
    (fund,) = registry.funds
    assert (fund.id, fund.kind, fund.rebalance) == ("my-60-40", "custom", "monthly")
    assert fund.effective_rule == Rule("monthly") and fund.aum_range() == (2.0e9,) * 3
    assert registry.programs == registry.funds


GOOD_PROGRAM = """\
[[program]]
id = "good"
name = "Good Fund"
kind = "etf"
sleeves = { SPY = 0.59, AGG = 0.39, BTC = 0.02 }
rule = { calendar = "quarterly", bands = [{ asset = "BTC", max_multiple = 2.0 }] }
aum = { usd = 1.0e9, as_of = 2026-01-01, source = "fact sheet" }
sources = [{ url = "https://example.org", title = "Facts", date = "2026-01-01" }]
"""


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'sources = [{ url = "https://example.org", title = "Facts", date = "2026-01-01" }]\n',
            "",
            "missing sources",
        ),
        (", as_of = 2026-01-01", "", "missing aum.as_of"),
        ("AGG = 0.39", "AGG = 0.29", "sleeves sum to 0.9"),
        ('calendar = "quarterly"', 'calendar = "weekly"', "rule.calendar must be one of"),
        ("max_multiple = 2.0", "max_multiple = 0.5", "not above the target weight"),
    ],
)
def test_bad_program_entries_are_one_line_naming_program_and_field(old, new, expected):
    with pytest.raises(FundsFileError) as info:
        parse_registry(GOOD_PROGRAM.replace(old, new), "bad.toml")
    message = str(info.value)
    assert "\n" not in message and "'Good Fund'" in message and expected in message


def test_cli_bad_program_file_exits_2_with_one_line(tmp_path, capsys):
    path = tmp_path / "funds.toml"
    path.write_text(GOOD_PROGRAM.replace("AGG = 0.39", "AGG = 0.49"), encoding="utf-8")
    code = main(["funds", "--funds", str(path), "--source", "sample"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "sleeves sum to 1.1" in err


def test_funds_json_lists_the_named_programs_with_sources(capsys):
    assert main(["funds", "--json", "--source", "sample"]) == 0
    listing = json.loads(capsys.readouterr().out)
    programs = {p["id"]: p for p in listing["programs"]}
    assert {"fidelity-fbal", "fidelity-fcns", "blackrock-target-allocation-alts"} <= set(programs)
    assert sum(p["kind"] == "guidance" for p in programs.values()) >= 2
    for program in programs.values():
        assert program["sources"], program["id"]
        assert {"aum_usd", "aum_as_of", "aum_source", "rule", "sleeves", "since"} <= set(program)
    blackrock = programs["blackrock-target-allocation-alts"]
    assert blackrock["aum"]["low_usd"] < blackrock["aum_usd"] < blackrock["aum"]["high_usd"]
    assert programs["fidelity-fbal"]["aum_usd"] is None, "offline: no live figure, no guess"
    assert main(["funds", "--asset", "ETH", "--json", "--source", "sample"]) == 0
    eth = json.loads(capsys.readouterr().out)
    assert eth["asset"] == "ETH" and all("ETH" in p["sleeves"] for p in eth["programs"])


def test_status_json_carries_the_program_fields(capsys):
    assert main(["status", "SPY", "--json", "--source", "sample"]) == 0
    rebalance = json.loads(capsys.readouterr().out)["rebalance"]
    fields = {
        "id",
        "kind",
        "scenario",
        "rule",
        "trades_this_period",
        "band_trigger_move",
        "band_trigger_trade_usd",
        "trade_usd_range",
    }
    for row in rebalance["funds"]:
        assert fields <= set(row), row["name"]
        assert len(row["trade_usd_range"]) == 3
    trading = [row for row in rebalance["funds"] if row["trades_this_period"]]
    assert rebalance["trade_usd"] == pytest.approx(sum(row["trade_usd"] for row in trading))
    real = [row for row in trading if not row["scenario"]]
    assert rebalance["trade_usd_funds"] == pytest.approx(sum(row["trade_usd"] for row in real))
    assert len(rebalance["trade_usd_range"]) == 3
    assert any(p["kind"] == "etf" for p in rebalance["not_sized"]), "Fidelity: AUM offline unknown"


# --- chat ----------------------------------------------------------------------------------------


def test_funds_command_parses_an_optional_asset():
    from bot.commands.parse import CommandError, parse_command

    assert parse_command("funds").asset is None
    assert parse_command("funds bitcoin").asset == "BTC"
    with pytest.raises(CommandError, match="Usage: `/flows funds"):
        parse_command("funds BTC ETH")


async def test_flows_funds_lists_the_programs_with_their_documents(tmp_path):
    from tests.botkit import RecordingAdapter, RecordingPlatform, sample_app, sample_settings

    settings = sample_settings(tmp_path)
    store = await Store.open(settings.database_url)
    adapter = RecordingAdapter(RecordingPlatform())
    app = sample_app(settings, store, [adapter])
    await app.start_adapters()
    try:
        reply = await adapter.command("funds BTC")
        text = reply.to_text()
        assert "Fidelity All-in-One Balanced ETF (FBAL.TO)" in text
        assert "[scenario]" in text and "https://www.fidelity.ca/" in text
        assert "offline data: nothing fetched live" in text
        assert "@everyone" not in text
    finally:
        await store.close()


def test_funds_on_live_data_converts_cad_and_falls_back_per_program(monkeypatch, tmp_path, capsys):
    """The CLI end to end with the real LiveSource, its yfinance `info` call answered from the
    recorded stand-ins (FBAL.TO in CAD, ZZZ in USD, CADUSD=X); other tickers fail."""
    from bot.settings import get_settings
    from flows.marketdata import live

    for name in ("DATA_SOURCE", "FUNDS_FILE", "NEUTRAL_BAND_PCT_ADV", "CRYPTO_EXCHANGE"):
        monkeypatch.delenv(name, raising=False)  # live data by default
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cache.db'}")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    info, _ = _recorded_info()

    def recorded(ticker: str) -> dict:
        if ticker not in {"FBAL.TO", "ZZZ", "CADUSD=X"}:
            raise ConnectionError(f"no recorded answer for {ticker}")
        return info(ticker)

    monkeypatch.setattr(live, "_yahoo_info", recorded)
    try:
        assert main(["funds", "--asset", "BTC", "--json"]) == 0
    finally:
        get_settings.cache_clear()
    out, err = capsys.readouterr()
    programs = {p["id"]: p for p in json.loads(out)["programs"]}
    today = dt.datetime.now(dt.UTC).date().isoformat()
    fbal = programs["fidelity-fbal"]
    assert fbal["aum_usd"] == pytest.approx(7.2e8) and fbal["aum_as_of"] == today
    assert "CAD" in fbal["aum_source"] and "CADUSD=X" in fbal["aum_source"]
    assert programs["cyber-hornet-zzz"]["aum_usd"] == 5.0e6
    nciq = programs["hashdex-nciq"]
    assert nciq["aum_usd"] == 1.2554e8 and nciq["aum_source"].startswith("registry fallback")
    assert programs["fidelity-fcns"]["aum_usd"] is None, "no fallback figure: still unknown"
    assert len(err.strip().splitlines()) == 1 and "warning" in err


def test_vol_target_range_scales_its_trade_and_is_validated():
    from flows.volatility import vol_target_flows

    entry = """\
[[vol_target]]
name = "Vol control"
underlying = "SPY"
aum_usd = 1.0e11
aum_range_usd = [5.0e10, 4.0e11]
target_vol = 0.10
max_exposure = 1.5
aum_source = "estimates"
"""
    (fund,) = parse_registry(entry, "v.toml").vol_targets
    assert fund.aum_range_usd == (5.0e10, 4.0e11)
    (flow,) = vol_target_flows([fund], realized=0.20, previous_realized=0.16)
    low, central, high = flow.trade_usd_range
    assert central == flow.trade_usd and (low / central, high / central) == (0.5, 4.0)
    with pytest.raises(FundsFileError, match="aum_range_usd must be"):
        parse_registry(entry.replace("5.0e10, 4.0e11", "2.0e11, 4.0e11"), "v.toml")


def test_ask_says_an_annual_program_makes_no_trade_this_quarter(tmp_path, capsys):
    annual = GOOD_PROGRAM.replace('id = "good"', 'id = "annual"').replace(
        'name = "Good Fund"', 'name = "Annual Fund"'
    )
    annual = annual.replace('calendar = "quarterly"', 'calendar = "annual", calendar_month = 6')
    annual = annual.replace("[[program]]", '[[program]]\ntickers = ["FBAL.TO"]', 1)
    path = tmp_path / "funds.toml"
    path.write_text(GOOD_PROGRAM + "\n" + annual, encoding="utf-8")
    question = "Will BTC see selling pressure at quarter end from rebalancing?"
    argv = ["ask", question, "--funds", str(path), "--source", "sample", "--as-of", "2026-11-20"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "FBAL: annual rebalance in June; no calendar trade this quarter" in out
    assert "Good Fund" in out.split("Trades in the window:")[1]
    assert "Annual Fund" not in out.split("Trades in the window:")[1].split("Notes:")[0]


def test_the_aggregate_path_counts_a_program_from_its_since_at_its_dated_size():
    from dataclasses import replace

    from flows.rebalance import aggregate_trade_path

    program = _program(
        weights={"SPY": 0.6, "AGG": 0.4},
        since=D(2026, 8, 3),
        aum_usd=3.0e9,
        aum_as_of=D(2026, 10, 1),
        aum_history=(AumPoint(D(2026, 7, 1), 1.0e9, "older report"),),
    )
    days = pd.DatetimeIndex(pd.bdate_range("2026-06-01", "2026-11-20"))
    spy = pd.Series(np.linspace(100.0, 130.0, len(days)), index=days)
    closes = pd.DataFrame({"SPY": spy, "AGG": 100.0}, index=days)
    series = {"SPY": spy, "AGG": closes["AGG"]}
    path = aggregate_trade_path([program], closes, days)["SPY"]
    assert (path[days < pd.Timestamp("2026-08-03")] == 0).all(), "before its sleeve: nothing"

    def fixed(day: str, aum: float) -> float:
        plain = replace(program, since=None, aum_history=(), aum_usd=aum, aum_as_of=None)
        return estimate_rebalance("SPY", D.fromisoformat(day), [plain], series, None).trade_usd

    # September: the July figure ($1bn); November: the October one ($3bn).
    assert path[pd.Timestamp("2026-09-15")] == pytest.approx(fixed("2026-09-15", 1.0e9))
    assert path[pd.Timestamp("2026-11-18")] == pytest.approx(fixed("2026-11-18", 3.0e9))
