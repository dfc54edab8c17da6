"""Monitor decisions (pure) and the replay over history."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from bot.cli import main
from bot.monitors.evaluate import (
    DriftThreshold,
    evaluate_drift,
    evaluate_quarter_end,
    evaluate_vol_regime,
)
from bot.monitors.replay import replay
from flows import calendar
from flows.funds import load_registry
from flows.marketdata import MarketData
from flows.marketdata.sample import SampleSource
from flows.results import (
    QuarterEndInfo,
    RebalanceEstimate,
    StatusReport,
    VolatilityReport,
)

STEPS = [9, 4, 1, 0]


def report(
    sessions_left: int = 20,
    trade_usd: float = 0.0,
    pct_adv: float | None = 0.0,
    regime: str = "normal",
    quarter: str = "2024Q1",
    as_of: dt.date = dt.date(2024, 3, 1),
) -> StatusReport:
    direction = "buy" if trade_usd > 0 else "sell" if trade_usd < 0 else "neutral"
    return StatusReport(
        asset="BTC",
        asset_name="Bitcoin",
        as_of=as_of,
        data_source="test",
        sample=False,
        funds_source="test",
        quarter_end=QuarterEndInfo(
            quarter=quarter,
            last_session=dt.date(2024, 3, 28),
            window_start=dt.date(2024, 3, 22),
            sessions_left=sessions_left,
            in_window=sessions_left <= 4,
        ),
        rebalance=RebalanceEstimate(
            funds=[],
            trade_usd=trade_usd,
            direction=direction,
            pct_adv=pct_adv,
            adv_usd=1e10,
            aum_total_usd=1e10,
            what_if=[],
        ),
        volatility=VolatilityReport(
            window=20,
            periods_per_year=365,
            realized=0.5,
            previous_realized=0.5,
            ewma=0.5,
            garch_5d=None,
            regime=regime,
            previous_regime=regime,
            changed=False,
            garch_regime=None,
            bands={},
            vol_target=[],
            vol_target_trade_usd=0.0,
        ),
    )


def test_countdown_fires_once_per_step_and_catches_up_once() -> None:
    state = None
    fired = []
    for left in (12, 10, 9, 9, 8, 4, 3, 1, 0):
        events, state = evaluate_quarter_end(report(sessions_left=left), state, STEPS)
        fired += [(left, event.key) for event in events]
    assert fired == [
        (9, "quarter_end:BTC:2024Q1:9"),
        (4, "quarter_end:BTC:2024Q1:4"),
        (1, "quarter_end:BTC:2024Q1:1"),
        (0, "quarter_end:BTC:2024Q1:0"),
    ]
    # Down while 9 and 4 were due: one post at start-up (the nearest step), then nothing more.
    events, state = evaluate_quarter_end(
        report(sessions_left=3), {"quarter": "2024Q1", "fired": []}, STEPS
    )
    assert [e.key for e in events] == ["quarter_end:BTC:2024Q1:4"]
    assert evaluate_quarter_end(report(sessions_left=2), state, STEPS)[0] == []
    # A new quarter starts afresh.
    events, _ = evaluate_quarter_end(report(sessions_left=9, quarter="2024Q2"), state, STEPS)
    assert [e.key for e in events] == ["quarter_end:BTC:2024Q2:9"]


def test_drift_alerts_only_when_a_higher_step_than_any_fired_this_period_is_crossed() -> None:
    threshold = [DriftThreshold(usd=100e6)]
    state = None
    seen = []
    trades = (-50e6, -120e6, -130e6, -150e6, -210e6, -260e6, -195e6, -95e6, -85e6, 40e6)
    for trade in trades:
        events, state = evaluate_drift(report(trade_usd=trade), state, threshold)
        seen += [(trade, event.detail["change"]) for event in events]
    # Falling back is not news, nor is the same step reached again with a smaller figure.
    assert seen == [(-120e6, "crossed"), (-210e6, "grew past 2x")]
    for trade in (-120e6, -230e6, 150e6, 250e6):
        assert evaluate_drift(report(trade_usd=trade), state, threshold)[0] == []
        state = evaluate_drift(report(trade_usd=trade), state, threshold)[1]
    # Only a higher step (4x) fires again, whichever side it is on.
    events, state = evaluate_drift(report(trade_usd=450e6), state, threshold)
    assert [e.detail["change"] for e in events] == ["grew past 4x"]
    assert events[0].direction == "buy"
    assert events[0].key == "drift:BTC:2024Q1:usd:1e+08:3"
    # A new period starts afresh.
    events, _ = evaluate_drift(report(trade_usd=-120e6, quarter="2024Q2"), state, threshold)
    assert [e.detail["change"] for e in events] == ["crossed"]


def test_no_drift_or_countdown_alert_on_a_saturday_and_crypto_vol_alerts_any_day() -> None:
    from bot.monitors.evaluate import evaluate_monitors

    saturday = dt.date(2024, 6, 1)
    thresholds = [DriftThreshold(usd=100e6)]
    for asset in ("SPY", "BTC"):
        weekend = report(trade_usd=-5e8, sessions_left=4, regime="stressed", as_of=saturday)
        weekend = weekend.model_copy(update={"asset": asset})
        states = {"vol_regime": {"regime": "normal"}}
        events, new_states = evaluate_monitors(weekend, states, STEPS, thresholds)
        kinds = [event.kind for event in events]
        assert "drift" not in kinds and "quarter_end" not in kinds
        # The market of the asset decides volatility alerts: crypto trades on Saturdays.
        assert kinds == (["vol_regime"] if asset == "BTC" else [])
        # Monday, a session: the drift and countdown fire then.
        monday = weekend.model_copy(update={"as_of": dt.date(2024, 6, 3)})
        events, _ = evaluate_monitors(monday, new_states, STEPS, thresholds)
        assert {"drift", "quarter_end"} <= {event.kind for event in events}


def test_drift_threshold_in_pct_of_adv_and_unknown_volume() -> None:
    threshold = [DriftThreshold(pct_adv=2.0)]
    events, state = evaluate_drift(report(trade_usd=-3e8, pct_adv=3.0), None, threshold)
    assert [e.key for e in events] == ["drift:BTC:2024Q1:adv:2:1"]
    events, _ = evaluate_drift(report(trade_usd=-3e8, pct_adv=None), state, threshold)
    assert events == []


def test_vol_regime_alerts_on_change_only() -> None:
    events, state = evaluate_vol_regime(report(regime="normal"), None)
    assert events == [] and state == {"regime": "normal"}
    assert evaluate_vol_regime(report(regime="normal"), state)[0] == []
    events, state = evaluate_vol_regime(report(regime="elevated"), state)
    assert [e.detail for e in events] == [{"previous_regime": "normal", "regime": "elevated"}]


def _quarter_countdown_sessions(year: int, quarter: int) -> dict[int, dt.date]:
    last = calendar.last_session_of_quarter(year, quarter)
    sessions = calendar.sessions_between(last - dt.timedelta(days=30), last)
    return {step: sessions[-1 - step] for step in STEPS}


@pytest.mark.parametrize(("year", "quarter"), [(2024, 1), (2025, 2)])
async def test_replay_posts_the_countdown_on_the_right_sessions(year: int, quarter: int) -> None:
    market = MarketData(SampleSource(today=dt.date(2026, 11, 20)))
    start = dt.date(year, quarter * 3 - 2, 1)
    end = calendar.last_session_of_quarter(year, quarter)
    events = await replay(
        ["BTC", "SPY"], start, end, market, load_registry(), STEPS, [DriftThreshold(pct_adv=1.0)]
    )
    expected = _quarter_countdown_sessions(year, quarter)
    for asset in ("BTC", "SPY"):
        countdown = {
            int(e.key.rsplit(":", 1)[1]): e.as_of
            for e in events
            if e.kind == "quarter_end" and e.asset == asset
        }
        assert countdown == expected
    assert [e.as_of for e in events] == sorted(e.as_of for e in events)
    assert len({e.key for e in events}) == len(events)


def test_replay_known_dates_q1_2024() -> None:
    # Q1 2024 ended Thu 2024-03-28 (Good Friday closed): 9 / 4 / 1 / 0 sessions left on these days.
    assert _quarter_countdown_sessions(2024, 1) == {
        9: dt.date(2024, 3, 15),
        4: dt.date(2024, 3, 22),
        1: dt.date(2024, 3, 27),
        0: dt.date(2024, 3, 28),
    }


def test_replay_cli_json_lines(capsys) -> None:
    code = main(
        [
            "replay",
            "--from",
            "2024-03-01",
            "--to",
            "2024-03-31",
            "--watch",
            "BTC",
            "--source",
            "sample",
            "--json",
        ]
    )
    assert code == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    countdown = [row for row in rows if row["kind"] == "quarter_end"]
    assert [row["date"] for row in countdown] == [
        "2024-03-15",
        "2024-03-22",
        "2024-03-27",
        "2024-03-28",
    ]
    for row in rows:
        assert set(row) >= {"date", "kind", "asset", "key", "trade_usd", "direction", "text"}
        assert row["sample"] is True


@pytest.mark.parametrize(
    "argv",
    [
        [
            "replay",
            "--from",
            "2024-03-31",
            "--to",
            "2024-03-01",
            "--watch",
            "BTC",
            "--source",
            "sample",
        ],
        [
            "replay",
            "--from",
            "2024-03-01",
            "--to",
            "2024-03-31",
            "--watch",
            "DOGE",
            "--source",
            "sample",
        ],
        ["replay", "--from", "2024-03-01", "--to", "2024-3-x", "--watch", "BTC"],
        [
            "replay",
            "--from",
            "2024-03-01",
            "--to",
            "2024-03-31",
            "--watch",
            "BTC",
            "--threshold",
            "lots",
        ],
    ],
)
def test_replay_bad_input(argv, capsys) -> None:
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    assert code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
