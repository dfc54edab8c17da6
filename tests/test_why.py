"""`why`: each ledger row equals what its model's own command prints for the same inputs, unknown
rows stay unknown, and bad input is one line with exit code 2."""

from __future__ import annotations

import json

import pytest

from bot.cli import main

# A day inside the Q3 2026 rebalancing window (last session Wed 2026-09-30), so every program
# trading this period is due within the 5-session horizon.
IN_WINDOW = "2026-09-28"


def run_json(argv: list[str], capsys) -> dict:
    code = main([*argv, "--source", "sample", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def rows_by_source(ledger: dict) -> dict[str, dict]:
    return {row["source"]: row for row in [*ledger["rows"], *ledger["real_money_rows"]]}


@pytest.mark.parametrize("asset", ["SPY", "BTC"])
def test_rows_equal_their_own_commands(asset, capsys, tmp_path):
    move = "0.01"
    ledger = run_json(["why", asset, "--as-of", IN_WINDOW, "--move", move, "--no-chart"], capsys)
    rows = rows_by_source(ledger)
    assert ledger["move_pct"] == pytest.approx(1.0)

    status = run_json(["status", asset, "--as-of", IN_WINDOW], capsys)
    rebalancing = [
        row for source, row in rows.items() if source.startswith("rebalance") and row["usd"]
    ]
    assert sum(row["usd"] for row in rebalancing) == pytest.approx(
        status["rebalance"]["trade_usd"], rel=1e-9
    )
    vol_target = status["volatility"]["vol_target_trade_usd"]
    if vol_target is None:
        assert rows["vol_target"]["usd"] is None
    else:
        assert rows["vol_target"]["usd"] == pytest.approx(vol_target, rel=1e-9)

    letf = run_json(["letf", asset, "--as-of", IN_WINDOW, "--move", move], capsys)
    assert rows["leveraged"]["usd"] == pytest.approx(letf["trade_usd"], rel=1e-9)

    gamma = run_json(["gamma", asset, "--as-of", IN_WINDOW, "--no-chart"], capsys)
    assert rows["gamma"]["usd"] == pytest.approx(gamma["hedge_usd"]["+1%"], rel=1e-9)

    positioning = run_json(["positioning", asset, "--as-of", IN_WINDOW, "--days", "1"], capsys)
    day = positioning["days"][-1]
    assert day["date"] == IN_WINDOW
    assert rows["positioning"]["usd"] == (
        pytest.approx(day["forced_flow_usd"]) if day["forced_flow_usd"] is not None else None
    )
    assert rows["etf_flows"]["usd"] == pytest.approx(day["etf_flow_usd"])

    known = [row["usd"] for row in ledger["rows"] if row["usd"] is not None]
    assert ledger["net_mechanical_usd"] == pytest.approx(sum(known))
    assert ledger["real_money_usd"] == pytest.approx(day["etf_flow_usd"])


def test_crypto_ledger_follows_the_nyse_sessions_its_us_listed_funds_trade_on(capsys):
    # Sat 2026-11-28: BTC trades, its leveraged ETFs and spot ETFs do not.
    saturday = rows_by_source(
        run_json(["why", "BTC", "--as-of", "2026-11-28", "--no-chart"], capsys)
    )
    assert saturday["leveraged"]["usd"] == 0.0
    assert "no NYSE session on 2026-11-28" in saturday["leveraged"]["basis"]
    assert "close of 2026-11-30" in saturday["leveraged"]["basis"]
    assert saturday["etf_flows"]["usd"] is None
    assert "no NYSE session" in saturday["etf_flows"]["unknown_reason"]
    # Mon 2026-11-30: the funds trade the move since Friday's close, the weekend's included.
    monday = run_json(["why", "BTC", "--as-of", "2026-11-30", "--no-chart"], capsys)
    assert monday["move_basis"] == "close 2026-11-29 → close 2026-11-30"
    letf = run_json(["letf", "BTC", "--as-of", "2026-11-30"], capsys)
    assert "2026-11-27 → 2026-11-30" in letf["move_basis"]
    assert rows_by_source(monday)["leveraged"]["usd"] == pytest.approx(letf["trade_usd"], rel=1e-9)


def test_json_contract(capsys):
    ledger = run_json(["why", "BTC", "--no-chart"], capsys)
    for field in (
        "asset",
        "as_of",
        "move_pct",
        "rows",
        "net_mechanical_usd",
        "real_money_usd",
        "mechanical_share",
        "verdict",
        "coverage",
    ):
        assert field in ledger
    for row in ledger["rows"]:
        assert {"source", "usd", "timing", "basis", "confidence"} <= set(row)
    assert ledger["verdict"] in ("mechanical", "conviction", "mixed", "unknown")
    assert ledger["sample"] is True


def test_outside_the_horizon_rebalancing_is_a_dated_zero_not_a_trade(capsys):
    # Early in the quarter: the next quarter end is weeks away.
    ledger = run_json(["why", "SPY", "--as-of", "2026-08-03", "--no-chart"], capsys)
    rebalancing = [row for row in ledger["rows"] if row["source"].startswith("rebalance")]
    assert rebalancing and all(row["usd"] == 0.0 for row in rebalancing)
    assert all("outside the 5-session horizon" in row["basis"] for row in rebalancing)


def test_unknown_sources_stay_unknown_and_are_named(capsys):
    ledger = run_json(["why", "AGG", "--no-chart"], capsys)
    rows = rows_by_source(ledger)
    # AGG has no option chain and no derivatives market here.
    assert rows["gamma"]["usd"] is None and rows["gamma"]["unknown_reason"]
    assert rows["positioning"]["usd"] is None
    assert {"gamma", "positioning"} <= set(ledger["coverage"]["unknown"])
    assert ledger["verdict"] == "unknown"


def test_text_and_waterfall_chart(capsys, tmp_path):
    chart = tmp_path / "why.png"
    code = main(["why", "BTC", "--source", "sample", "--chart", str(chart)])
    out, _ = capsys.readouterr()
    assert code == 0
    assert "SAMPLE DATA" in out and "Net mechanical" in out and "Verdict" in out
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["why", "NOPE"], "NOPE"),
        (["why", "BTC", "--as-of", "1990-01-02"], "1990"),
        (["why", "BTC", "--move", "abc"], "abc"),
        (["why", "BTC", "--move", "5"], "move"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, needle, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    try:
        code = main([*argv, "--source", "sample"])
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    _, err = capsys.readouterr()
    assert code == 2
    assert needle.lower() in err.lower()
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not list(tmp_path.iterdir())  # no chart, no database


async def test_why_on_data_that_stopped_weeks_ago_says_how_old_it_is(tmp_path):
    from tests.botkit import stale_chat_reply

    reply = await stale_chat_reply(tmp_path, "why bitcoin")
    assert reply.title.endswith("Fri Nov 20, 2026")
    assert reply.notice == "data ends Fri 2026-11-20 — 35 days ago"


def test_why_on_fresh_data_has_no_lag_line(capsys):
    assert run_json(["why", "BTC", "--no-chart"], capsys)["data_lag"] is None  # sample: today


async def test_chat_why_replies_with_the_ledger_and_chart(tmp_path):
    from storage.store import Store
    from tests.botkit import RecordingAdapter, RecordingPlatform, sample_app, sample_settings

    settings = sample_settings(tmp_path)
    store = await Store.open(settings.database_url)
    adapter = RecordingAdapter(RecordingPlatform())
    app = sample_app(settings, store, [adapter], today=None)
    await app.start_adapters()
    try:
        reply = await adapter.command("why bitcoin")
        assert reply.sample and reply.title.startswith("BTC")
        assert {field.label for field in reply.fields} >= {"Net mechanical", "Verdict"}
        assert reply.chart_path is not None and reply.chart_path.exists()
        bad = await adapter.command("why")
        assert "Usage" in bad.to_text()
    finally:
        await store.close()


# --- the daily net_flow digest ------------------------------------------------------------------


def _ledger(net: float | None, verdict: str):
    import datetime as dt

    from flows.models.ledger import Ledger

    return Ledger(
        asset="BTC",
        as_of=dt.date(2026, 12, 3),
        move_pct=2.0,
        rows=[],
        net_mechanical_usd=net,
        real_money_usd=None,
        real_money_rows=[],
        mechanical_share=None,
        verdict=verdict,
        verdict_reason="test",
        coverage={"known": [], "unknown": []},
        data_source="test",
        sample=False,
    )


@pytest.mark.parametrize(
    ("net", "verdict", "fires"),
    [
        (499e6, "mixed", False),
        (500e6, "mixed", True),
        (-600e6, "conviction", True),
        (1e6, "mechanical", True),
        (None, "unknown", False),
    ],
)
def test_net_flow_digest_rule(net, verdict, fires):
    from bot.monitors.net_flow import evaluate_net_flow

    fired = evaluate_net_flow(_ledger(net, verdict), 500e6)
    assert (fired is not None) == fires
    if fired:
        assert fired[0] == "net_flow:BTC:2026-12-03"


async def test_net_flow_digest_through_the_outbox_once(tmp_path):
    import datetime as dt

    import sqlalchemy as sa

    from storage.models import Alert
    from storage.store import Store
    from tests.botkit import RecordingAdapter, RecordingPlatform, sample_app, sample_settings

    # A threshold of $1 makes every day with a known net news.
    settings = sample_settings(tmp_path, net_flow_threshold_usd=1.0)
    store = await Store.open(settings.database_url)
    adapter = RecordingAdapter(RecordingPlatform())
    app = sample_app(settings, store, [adapter], today=None)
    await app.start_adapters()
    try:
        reply = await adapter.command("watch BTC net_flow", channel="flows-desk")
        assert "net" in reply.to_text().lower()
        await adapter.command("watch BTC drift", channel="drift-desk")
        day = dt.date(2026, 12, 2)
        result = await app.tick(as_of=day)
        fired = [event for event in result.alerts if event.kind == "net_flow"]
        assert [event.key for event in fired] == [f"net_flow:BTC:{day}"]
        assert fired[0].message is not None and fired[0].message.sample
        again = await app.tick(as_of=day)
        assert not [event for event in again.alerts if event.kind == "net_flow"]
        async with store.engine.connect() as connection:
            keys = (
                await connection.execute(
                    sa.select(Alert.__table__.c.dedupe_key).where(
                        Alert.__table__.c.kind == "net_flow"
                    )
                )
            ).all()
        # The check right after `watch` posts today's digest; the tick adds the asked day's once.
        stored = [key for (key,) in keys]
        assert f"net_flow:BTC:{day}" in stored and len(stored) == len(set(stored))
        await app.dispatcher.drain()
        posted = {
            dest.channel
            for dest, message, _ in adapter.state.posts
            if message.title.endswith("today") and message.title.startswith("BTC ·")
        }
        assert posted == {"flows-desk"}
    finally:
        await store.close()


def test_status_shows_the_net_line_of_the_why_ledger(capsys):
    code = main(["status", "BTC", "--source", "sample", "--as-of", IN_WINDOW])
    out, _ = capsys.readouterr()
    assert code == 0
    [line] = [line for line in out.splitlines() if line.startswith("Net mechanical")]
    # A past as-of: the line names its date, and does not call it today.
    assert not line.startswith("Net mechanical today") and f"on {IN_WINDOW}" in line
    ledger = run_json(["why", "BTC", "--as-of", IN_WINDOW, "--no-chart"], capsys)
    net = ledger["net_mechanical_usd"]
    from bot.render.numbers import usd

    assert (usd(net, signed=True) if net is not None else "unknown") in line
    assert f"verdict {ledger['verdict']}" in line and "flows-bot why BTC" in line
    # The JSON contract of status is unchanged: no ledger in it.
    assert "net_mechanical_usd" not in json.dumps(run_json(["status", "BTC"], capsys))


async def test_the_net_flow_monitor_reuses_the_status_the_tick_computed(tmp_path, monkeypatch):
    """One tick computes each watched asset's status once: the net-flow ledger takes the
    tick's report instead of building the status again (a second round of fetches)."""
    import datetime as dt

    import flows.why
    from storage.store import Store
    from tests.botkit import RecordingAdapter, RecordingPlatform, sample_app, sample_settings

    built: list[str] = []
    original = flows.why.build_status

    async def counting_build_status(asset, *args, **kwargs):
        built.append(str(asset))
        return await original(asset, *args, **kwargs)

    monkeypatch.setattr(flows.why, "build_status", counting_build_status)
    settings = sample_settings(tmp_path, net_flow_threshold_usd=1.0)
    store = await Store.open(settings.database_url)
    adapter = RecordingAdapter(RecordingPlatform())
    app = sample_app(settings, store, [adapter], today=None)
    await app.start_adapters()
    try:
        await adapter.command("watch BTC net_flow", channel="flows-desk")
        built.clear()
        result = await app.tick(as_of=dt.date(2026, 12, 2))
        assert [event.kind for event in result.alerts if event.kind == "net_flow"]
        assert built == []
    finally:
        await store.close()
