"""The neutral command layer: replies, subscriptions, and bad input that changes nothing."""

from __future__ import annotations

import pytest

from bot.commands.context import CommandContext
from bot.commands.parse import CommandError, parse_command
from storage.store import Store
from tests.botkit import RecordingAdapter, RecordingPlatform, sample_app, sample_settings

BAD_INPUT = [
    "watch",
    "watch DOGE",
    "watch BTC bogus",
    "watch BTC threshold=abc",
    "watch BTC threshold=5",
    "watch BTC threshold=-3%",
    "watch BTC threshold=1m threshold=2m",
    "unwatch",
    "unwatch BTC ETH",
    "status",
    "status BTC ETH",
    "calendar 0",
    "calendar 9999",
    "calendar soon",
    "mute",
    "mute forever",
    "mute 90d",
    "list extra words",
    "help me",
    "frobnicate BTC",
    "watch BTC " + "x" * 10_000,
    "watch BTC\x00",
    "watch BTC\x1b[31m",
    "watch BTC @everyone",
    "watch BTC @here",
    "watch BTC <!channel>",
    "watch BTC <!here>",
    "watch BTC <@U12345>",
    "watch BTC <@&123456>",
    "watch BTC <#C123>",
    "ask <!channel> will btc fall",
    "ask",
    "status @everyone",
]


@pytest.mark.parametrize("text", BAD_INPUT)
def test_bad_input_is_rejected_by_the_parser(text: str) -> None:
    with pytest.raises(CommandError) as error:
        parse_command(text)
    reply = str(error.value)
    assert "\n" not in reply and len(reply) < 300
    assert "@everyone" not in reply and "<!channel>" not in reply


def test_good_input_parses() -> None:
    command = parse_command("watch bitcoin drift vol threshold=250m dm")
    assert (command.name, command.asset, command.kinds, command.dm) == (
        "watch",
        "BTC",
        ("drift", "vol"),
        True,
    )
    assert command.threshold is not None and command.threshold.usd == 250e6
    assert parse_command("watch ETH threshold=2%").threshold.pct_adv == 2.0
    assert parse_command("").name == "help"
    assert parse_command("unwatch all").all_assets
    assert parse_command("mute 2h").duration.total_seconds() == 7200
    assert parse_command("calendar 45").days == 45


async def _snapshot(store: Store) -> tuple:
    subscriptions = await store.list_subscriptions(
        platform="console", workspace="W1", channel="trading"
    )
    mine = await store.list_subscriptions(
        platform="console", workspace="W1", channel="trading", user="U1"
    )
    muted = await store.muted_until(platform="console", workspace="W1", channel="trading")
    return (
        [(s.asset, s.kinds, s.threshold_usd) for s in subscriptions],
        [(s.asset, s.kinds) for s in mine],
        muted,
        await store.delivery_counts(),
    )


async def test_bad_input_through_the_service_changes_nothing(tmp_path) -> None:
    settings = sample_settings(tmp_path)
    store = await Store.open(settings.database_url)
    adapter = RecordingAdapter(RecordingPlatform())
    app = sample_app(settings, store, [adapter])
    await app.start_adapters()
    try:
        await adapter.command("watch BTC drift")
        before = await _snapshot(store)
        for text in BAD_INPUT:
            reply = await adapter.command(text)
            assert reply.tone == "error", text
            assert reply.ephemeral
        assert await _snapshot(store) == before
    finally:
        await store.close()


async def test_watch_list_unwatch_and_permissions(tmp_path) -> None:
    settings = sample_settings(tmp_path)
    store = await Store.open(settings.database_url)
    adapter = RecordingAdapter(RecordingPlatform())
    app = sample_app(settings, store, [adapter])
    await app.start_adapters()
    try:
        reply = await adapter.command("watch BTC")
        assert reply.title == "Watching BTC"
        again = await adapter.command("watch btc")
        assert again.title == "Already watching BTC"
        await adapter.command("watch ETH drift threshold=50m dm")
        listing = await adapter.command("list")
        assert "BTC" in listing.body and "ETH" in listing.body and "$50.0m" in listing.body
        assert "2 subscription(s)" in listing.summary

        no_rights = CommandContext("console", "W1", "trading", "U2", can_manage_channel=False)
        refused = await app.commands.handle(no_rights, "watch SPY")
        assert refused.tone == "error" and "Manage Channels" in refused.summary
        allowed_dm = await app.commands.handle(no_rights, "watch SPY dm")
        assert allowed_dm.title == "Watching SPY"

        removed = await adapter.command("unwatch BTC")
        assert removed.summary == "Removed 1 subscription(s)."
        nothing = await adapter.command("unwatch BTC")
        assert nothing.title == "Nothing to remove"
        muted = await adapter.command("mute 2h")
        assert muted.title == "Muted"
        assert await store.is_muted(platform="console", workspace="W1", channel="trading")
        await adapter.command("unmute")
        assert not await store.is_muted(platform="console", workspace="W1", channel="trading")
    finally:
        await store.close()


async def test_status_reply_is_sourced_and_marked_sample(tmp_path) -> None:
    settings = sample_settings(tmp_path)
    store = await Store.open(settings.database_url)
    adapter = RecordingAdapter(RecordingPlatform())
    app = sample_app(settings, store, [adapter])
    await app.start_adapters()
    try:
        reply = await adapter.command("status BTC")
        assert reply.sample
        assert "SAMPLE DATA" in reply.to_text()
        # The built-in registry's BTC programs sized on sample data (their count follows it).
        from flows.funds import load_registry

        sized = len(load_registry().holding("BTC"))
        assert f"Basis: {sized} fund(s)" in reply.footer
        assert reply.chart_path is not None and reply.chart_path.exists()
        assert reply.chart_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        labels = {field.label for field in reply.fields}
        assert {"Est. rebalancing trade", "% of 20-day ADV", "Window", "Sessions left"} <= labels
    finally:
        await store.close()


def test_the_command_layer_knows_every_alert_kind_the_store_does():
    from bot.commands.parse import ALERT_KINDS as parsed_kinds
    from storage.models import ALERT_KINDS as stored_kinds

    assert parsed_kinds == stored_kinds
