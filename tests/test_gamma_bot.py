"""Dealer gamma in the bot: `/flows gamma ASSET` through the neutral command layer, and the
`gamma` alert kind (regime flip, zero-gamma cross, roll-off heads-up) through the outbox."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from bot.commands.parse import CommandError, parse_command
from bot.monitors.gamma import CROSS_HYSTERESIS_PCT, evaluate_gamma
from flows.models.gamma import compute_gamma
from flows.options import OptionChain
from storage.models import Alert
from storage.store import Store
from tests.botkit import RecordingAdapter, RecordingPlatform, sample_app, sample_settings

AS_OF = dt.date(2025, 3, 3)


def chain(rows) -> OptionChain:
    frame = pd.DataFrame(
        rows, columns=["expiry", "strike", "type", "open_interest", "implied_vol", "multiplier"]
    )
    return OptionChain.from_frame(
        frame, asset="SPY", as_of=AS_OF, source="test", description="hand-built chain"
    )


def days(n: int) -> str:
    return (AS_OF + dt.timedelta(days=n)).isoformat()


BOOK = chain(
    [
        (days(30), 105.0, "call", 1000, 0.2, 100),
        (days(30), 95.0, "put", 1000, 0.2, 100),
    ]
)


# --- the command ---------------------------------------------------------------------------------


def test_gamma_command_parses_and_rejects_bad_input():
    assert parse_command("gamma spy").asset == "SPY"
    assert parse_command("watch SPY gamma").kinds == ("gamma",)
    for text in ("gamma", "gamma SPY QQQ", "gamma DOGE", "gamma @everyone"):
        with pytest.raises(CommandError):
            parse_command(text)


async def test_gamma_reply_has_the_figures_the_convention_and_the_chart(tmp_path):
    settings = sample_settings(tmp_path)
    store = await Store.open(settings.database_url)
    adapter = RecordingAdapter(RecordingPlatform())
    app = sample_app(settings, store, [adapter])
    await app.start_adapters()
    try:
        reply = await adapter.command("gamma SPY")
        assert reply.tone != "error", reply.summary
        assert reply.sample and "SAMPLE DATA" in reply.to_text()
        labels = {field.label for field in reply.fields}
        assert {"Total GEX", "Regime", "Zero gamma", "Call / put wall", "Hedge flow"} <= labels
        assert "dealers long calls, short puts" in reply.footer
        assert reply.chart_path is not None
        assert reply.chart_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        no_options = await adapter.command("gamma AGG")
        assert no_options.tone == "error" and "no option chain for AGG" in no_options.summary
        assert "\n" not in no_options.summary
    finally:
        await store.close()


# --- the monitor, pure ---------------------------------------------------------------------------


def test_regime_flip_and_zero_gamma_cross_fire_once_with_hysteresis():
    low = compute_gamma(BOOK, spot=97.0)
    assert low.regime == "short_gamma" and low.zero_gamma is not None
    events, state = evaluate_gamma(low, None, rolloff_share=0.9, rolloff_days=1)
    assert events == [] and state["regime"] == "short_gamma" and state["side"] == "below"

    # Just past zero gamma, inside the hysteresis band: nothing changes.
    hover = compute_gamma(BOOK, spot=low.zero_gamma * (1 + CROSS_HYSTERESIS_PCT / 200))
    events, state = evaluate_gamma(hover, state, 0.9, 1)
    assert events == [] and state["side"] == "below" and state["regime"] == "short_gamma"

    high = compute_gamma(BOOK, spot=103.0)
    assert high.regime == "long_gamma"
    events, state = evaluate_gamma(high, state, 0.9, 1)
    keys = [key for key, _, _ in events]
    assert keys == [
        f"gamma:SPY:regime:{AS_OF}:long_gamma",
        f"gamma:SPY:zero_cross:{AS_OF}:above",
    ]
    assert "short gamma to long gamma" in events[0][2]
    again, state = evaluate_gamma(high, state, 0.9, 1)
    assert again == []
    back, _ = evaluate_gamma(low, state, 0.9, 1)
    assert [key for key, _, _ in back] == [
        f"gamma:SPY:regime:{AS_OF}:short_gamma",
        f"gamma:SPY:zero_cross:{AS_OF}:below",
    ]


def test_rolloff_heads_up_before_a_large_expiry_once():
    book = chain(
        [
            (days(1), 100.0, "call", 5000, 0.2, 100),
            (days(30), 100.0, "call", 1000, 0.2, 100),
        ]
    )
    result = compute_gamma(book, spot=100.0)
    assert result.by_expiry[0].share > 0.5
    events, state = evaluate_gamma(result, None, rolloff_share=0.5, rolloff_days=1)
    assert [key for key, _, _ in events] == [f"gamma:SPY:rolloff:{days(1)}"]
    assert state["rolloffs"] == [days(1)]
    assert evaluate_gamma(result, state, 0.5, 1)[0] == []
    # Below the share setting, or too far ahead: no heads-up.
    assert evaluate_gamma(result, None, 0.99, 1)[0] == []
    far = chain([(days(5), 100.0, "call", 5000, 0.2, 100), (days(30), 100.0, "put", 10, 0.2, 100)])
    assert evaluate_gamma(compute_gamma(far, spot=100.0), None, 0.5, 1)[0] == []


# --- the monitor through the outbox --------------------------------------------------------------


async def test_gamma_alerts_reach_only_gamma_subscribers_once(tmp_path):
    settings = sample_settings(tmp_path, gamma_rolloff_share=0.99)
    store = await Store.open(settings.database_url)
    adapter = RecordingAdapter(RecordingPlatform())
    app = sample_app(settings, store, [adapter])
    await app.start_adapters()
    try:
        await adapter.command("watch SPY gamma", channel="gamma-desk")
        await adapter.command("watch SPY drift", channel="drift-desk")
        fired = []
        day = dt.date(2026, 10, 1)
        while day <= dt.date(2026, 11, 13) and len(fired) < 2:
            if day.weekday() < 5:
                result = await app.tick(as_of=day)
                fired += [event for event in result.alerts if event.kind == "gamma"]
            day += dt.timedelta(days=1)
        assert fired, "the sample book's regime or flip level should change within six weeks"
        for event in fired:
            assert event.key.startswith("gamma:SPY:")
            assert event.message is not None and event.message.sample
        state = await store.get_state("gamma", "SPY")
        assert state["regime"] in ("long_gamma", "short_gamma")
        # The same tick again creates nothing: dedupe keys and stored state.
        repeat = await app.tick(as_of=fired[-1].as_of)
        assert not [event for event in repeat.alerts if event.kind == "gamma"]
        alerts = Alert.__table__.c
        async with store.engine.connect() as connection:
            rows = (
                await connection.execute(
                    sa.select(alerts.id, alerts.dedupe_key).where(alerts.kind == "gamma")
                )
            ).all()
        assert sorted(key for _, key in rows) == sorted(event.key for event in fired)
        await app.dispatcher.drain()
        # A post's idempotency key is flows-ALERT-SUBSCRIPTION: gamma alerts by their ids.
        gamma_prefixes = tuple(f"flows-{alert_id}-" for alert_id, _ in rows)
        gamma_channels = {
            destination.channel
            for destination, _, key in adapter.state.posts
            if key.startswith(gamma_prefixes)
        }
        assert gamma_channels == {"gamma-desk"}
    finally:
        await store.close()
