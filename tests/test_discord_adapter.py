"""The Discord adapter against a local Discord stand-in (REST and gateway), with the real
discord.py client pointed at it through DISCORD_API_URL and the real command layer on SQLite.
Interactions arrive as INTERACTION_CREATE events over the stand-in gateway."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import discord
import pytest

from bot.adapters.base import AdapterConfigError, DeliveryError, Destination
from bot.adapters.discord import DiscordAdapter, nonce_for
from bot.commands.service import CommandService
from bot.messages import Message, MessageField
from storage.store import Store
from tests.standins import wait_until
from tests.standins.discord_server import SEND_MESSAGES, DiscordStandIn
from tests.standins.pipeline import INJECTIONS, PNG, chart, command_service, make_settings

GUILD = "800000000000000001"
CHANNEL = "800000000000000010"
USER = "800000000000000100"
NO_PINGS = {"parse": []}
EPHEMERAL = 64


@pytest.fixture
async def discord_standin() -> AsyncIterator[DiscordStandIn]:
    standin = await DiscordStandIn().start()
    yield standin
    await standin.close()


@pytest.fixture
async def service(tmp_path) -> AsyncIterator[tuple[Store, CommandService]]:
    store, commands = await command_service(make_settings(tmp_path))
    yield store, commands
    await store.close()


@pytest.fixture
async def adapter(discord_standin, service) -> AsyncIterator[DiscordAdapter]:
    adapter = DiscordAdapter(
        discord_standin.token, api_url=discord_standin.api_url, guild_id=int(GUILD)
    )
    await adapter.start(service[1].handle)
    yield adapter
    await adapter.stop()


def embed_of(callback: dict) -> dict:
    [embed] = callback["data"]["embeds"]
    return embed


# ---------------------------------------------------------------------------- start-up


async def test_start_signs_in_and_syncs_the_flows_group_to_the_dev_guild(discord_standin, adapter):
    [group] = discord_standin.synced[GUILD]
    assert group["name"] == "flows"
    options = {option["name"]: option for option in group["options"]}
    assert list(options) == [
        "watch",
        "unwatch",
        "list",
        "status",
        "calendar",
        "mute",
        "unmute",
        "help",
        "ask",
        "positioning",
        "gamma",
        "track",
        "why",
        "funds",
    ]
    [funds_asset] = options["funds"]["options"]
    assert funds_asset["name"] == "asset" and not funds_asset.get("required")
    watch = {o["name"]: o for o in options["watch"]["options"]}
    assert watch["asset"]["required"] and watch["asset"]["autocomplete"]
    assert watch["kinds"]["autocomplete"] and not watch["kinds"].get("required")
    assert watch["dm"]["type"] == 5
    [days] = options["calendar"]["options"]
    assert (days["type"], days["min_value"], days["max_value"]) == (4, 1, 366)
    # Channel permission is checked in code: nothing hides the command from members.
    assert group.get("default_member_permissions") is None
    assert discord_standin.identified.is_set()


async def test_without_a_guild_commands_sync_globally(discord_standin, service):
    adapter = DiscordAdapter(discord_standin.token, api_url=discord_standin.api_url)
    await adapter.start(service[1].handle)
    await adapter.stop()

    assert list(discord_standin.synced) == ["global"]


async def test_a_rejected_token_is_one_clear_error(discord_standin):
    adapter = DiscordAdapter("wrong-token", api_url=discord_standin.api_url)
    with pytest.raises(AdapterConfigError, match=r"^DISCORD_TOKEN was rejected by Discord"):
        await adapter.start(lambda ctx, text: None)  # type: ignore[arg-type,return-value]
    await adapter.stop()


def test_a_missing_token_names_the_variable(tmp_path):
    with pytest.raises(AdapterConfigError, match="DISCORD_TOKEN"):
        DiscordAdapter.from_settings(make_settings(tmp_path))


async def test_a_dropped_gateway_resumes_and_commands_keep_arriving(discord_standin, adapter):
    await discord_standin.drop_gateway()
    await wait_until(lambda: discord_standin.resumes == 1)

    callback = await discord_standin.slash_command("help")
    assert embed_of(callback)["title"] == "flows-bot commands"


# ---------------------------------------------------------------------------- commands


async def test_watch_with_manage_channels_subscribes_the_channel(discord_standin, service, adapter):
    store, _ = service
    callback = await discord_standin.slash_command(
        "watch", {"asset": "bitcoin", "kinds": "drift, vol", "threshold": "250 m"}
    )

    assert callback["type"] == 4
    assert embed_of(callback)["title"] == "Watching BTC"
    assert not (callback["data"].get("flags") or 0) & EPHEMERAL
    assert callback["data"]["allowed_mentions"] == NO_PINGS
    [subscription] = await store.list_subscriptions(
        platform="discord", workspace=GUILD, channel=CHANNEL
    )
    assert subscription.alert_kinds == ("drift", "vol")
    assert subscription.threshold_usd == 250e6


async def test_watch_without_manage_channels_is_refused_but_dm_is_allowed(
    discord_standin, service, adapter
):
    store, _ = service
    refused = await discord_standin.slash_command(
        "watch", {"asset": "BTC"}, permissions=SEND_MESSAGES
    )
    allowed = await discord_standin.slash_command(
        "watch", {"asset": "BTC", "dm": True}, permissions=SEND_MESSAGES
    )

    assert refused["data"]["flags"] & EPHEMERAL
    assert "Manage Channels" in embed_of(refused)["description"]
    assert embed_of(allowed)["title"] == "Watching BTC"
    channel_rows = await store.list_subscriptions(
        platform="discord", workspace=GUILD, channel=CHANNEL
    )
    assert channel_rows == []
    [mine] = await store.list_subscriptions(
        platform="discord", workspace=GUILD, channel=CHANNEL, user=USER
    )
    assert mine.asset == "BTC"


async def test_slow_commands_are_deferred_then_answered_by_follow_up(discord_standin, adapter):
    callback = await discord_standin.slash_command("calendar", {"days": 7})

    assert callback["type"] == 5
    await wait_until(lambda: discord_standin.followups)
    [followup] = discord_standin.followups
    assert "```" in followup["embeds"][0]["description"]
    assert followup["allowed_mentions"] == NO_PINGS


async def test_a_private_answer_to_a_deferred_command_replaces_the_public_thinking(
    discord_standin, adapter
):
    await discord_standin.slash_command("ask", {"question": "?"})
    await wait_until(lambda: discord_standin.followups)

    [followup] = discord_standin.followups
    assert followup["flags"] & EPHEMERAL
    assert discord_standin.to_route("DELETE /webhooks/{app}/{token}/messages/{message}")


async def test_autocomplete_offers_assets_and_alert_kinds(discord_standin, adapter):
    assets = await discord_standin.autocomplete("watch", {"asset": "bt"}, focused="asset")
    kinds = await discord_standin.autocomplete(
        "watch", {"asset": "BTC", "kinds": "drift v"}, focused="kinds"
    )
    unwatch = await discord_standin.autocomplete("unwatch", {"asset": ""}, focused="asset")

    assert assets[0] == {"name": "BTC — Bitcoin", "value": "BTC"}
    assert kinds == [{"name": "drift vol", "value": "drift vol"}]
    assert unwatch[0]["value"] == "all"


@pytest.mark.parametrize("injection", INJECTIONS)
async def test_mention_injection_in_commands_never_pings(discord_standin, adapter, injection):
    callback = await discord_standin.slash_command("watch", {"asset": "BTC", "kinds": injection})
    asked = await discord_standin.slash_command("ask", {"question": f"will {injection} buy?"})
    await wait_until(lambda: discord_standin.followups)

    assert callback["data"]["allowed_mentions"] == NO_PINGS
    assert asked["type"] == 5
    assert all(f["allowed_mentions"] == NO_PINGS for f in discord_standin.followups)


# ---------------------------------------------------------------------------- delivery


async def test_alert_is_an_embed_with_the_chart_attached_and_a_nonce(
    discord_standin, adapter, tmp_path
):
    message = Message(
        title="BTC · quarter-end countdown",
        summary="4 sessions to 2026Q3 end",
        fields=[MessageField(label="Est. trade", value="sell $1.2bn")],
        body="fund   trade",
        footer="Basis: 3 fund(s)",
        chart_path=chart(tmp_path),
        tone="sell",
        sample=True,
    )
    message_id = await adapter.send(Destination("discord", GUILD, "42"), message, "flows-1-1")

    [post] = discord_standin.channel_posts("42")
    assert message_id == discord_standin.messages["42"][0]["id"]
    [embed] = post.payload["embeds"]
    assert embed["title"] == "[SAMPLE] BTC · quarter-end countdown"
    assert embed["color"] == 0xE74C3C
    assert embed["fields"] == [{"name": "Est. trade", "value": "sell $1.2bn", "inline": True}]
    assert (
        embed["footer"]["text"]
        == "Basis: 3 fund(s) · SAMPLE DATA — synthetic prices, not market data"
    )
    assert embed["image"]["url"] == "attachment://chart.png"
    assert post.files["files[0]"] == ("chart.png", PNG)
    assert post.payload["nonce"] == nonce_for("flows-1-1")
    assert len(post.payload["nonce"]) <= 25
    assert post.payload["enforce_nonce"] is True
    assert post.payload["allowed_mentions"] == NO_PINGS


async def test_a_retried_send_returns_the_message_already_posted(discord_standin, adapter):
    destination = Destination("discord", GUILD, "42")
    first = await adapter.send(destination, Message(title="t", summary="s"), "flows-7-1")
    again = await adapter.send(destination, Message(title="t", summary="s"), "flows-7-1")

    assert first == again
    assert len(discord_standin.messages["42"]) == 1


async def test_dm_destination_opens_a_dm_channel(discord_standin, adapter):
    destination = Destination("discord", GUILD, CHANNEL, user=USER)
    await adapter.send(destination, Message(title="t", summary="s"), "flows-1-1")
    await adapter.send(destination, Message(title="t", summary="s"), "flows-2-1")

    [opened] = discord_standin.to_route("POST /users/@me/channels")
    assert opened.payload == {"recipient_id": int(USER)}
    [dm_channel] = discord_standin.messages
    assert len(discord_standin.messages[dm_channel]) == 2


@pytest.mark.parametrize(
    ("status", "body", "headers", "retry_after", "permanent"),
    [
        (403, {"message": "Missing Access", "code": 50001}, None, None, True),
        (404, {"message": "Unknown Channel", "code": 10003}, None, None, True),
        (503, {"message": "upstream"}, None, None, False),
        # Longer than discord.py will sleep (30 s): surfaced for the dispatcher to schedule.
        (429, {"retry_after": 60.0, "global": False}, {"Via": "1.1 google"}, 60.0, False),
        # A 429 without Discord's `Via` header (a proxy) is not retried by discord.py.
        (429, {"message": "slow down", "retry_after": 2.0}, {"Retry-After": "2"}, 2.0, False),
    ],
)
async def test_failed_sends_map_to_what_the_dispatcher_needs(
    discord_standin, adapter, status, body, headers, retry_after, permanent
):
    discord_standin.fail(
        "POST /channels/{channel}/messages", status, body, headers=headers, channel="42"
    )
    started = time.monotonic()
    with pytest.raises(DeliveryError) as raised:
        await adapter.send(
            Destination("discord", GUILD, "42"), Message(title="t", summary="s"), "flows-9-9"
        )

    assert raised.value.permanent is permanent
    assert raised.value.retry_after == retry_after
    assert time.monotonic() - started < 1.0


async def test_short_rate_limits_are_waited_out_by_discord_py_and_sent_once(
    discord_standin, adapter
):
    discord_standin.fail(
        "POST /channels/{channel}/messages",
        429,
        {"message": "You are being rate limited.", "retry_after": 0.3, "global": False},
        headers={"Via": "1.1 google", "Retry-After": "1"},
    )
    await adapter.send(
        Destination("discord", GUILD, "42"), Message(title="t", summary="s"), "flows-9-9"
    )

    first, second = discord_standin.channel_posts("42")
    assert (first.status, second.status) == (429, 200)
    assert second.at - first.at >= 0.3
    assert len(discord_standin.messages["42"]) == 1


def test_the_api_url_setting_points_discord_py_at_it(tmp_path):
    settings = make_settings(
        tmp_path, discord_token="t", discord_api_url="http://proxy.local:8080/api/v10/"
    )
    adapter = DiscordAdapter.from_settings(settings)
    assert adapter.api_url == "http://proxy.local:8080/api/v10"
    # Client-wide as well as per send: nothing discord.py sends on the bot's behalf pings.
    assert isinstance(adapter.client.allowed_mentions, discord.AllowedMentions)
    assert adapter.client.allowed_mentions.to_dict() == NO_PINGS


async def test_track_replies_with_the_record_and_its_chart(discord_standin, adapter):
    deferred = await discord_standin.slash_command("track", {"asset": "bitcoin"})
    assert deferred["type"] == 5
    await wait_until(lambda: discord_standin.followups, timeout=30)
    [followup] = discord_standin.followups
    [embed] = followup["embeds"]
    assert embed["title"] == "[SAMPLE] BTC track record — quarterly rebalancing windows"
    assert embed["image"]["url"].startswith("attachment://")
    assert next(iter(followup["files"].values()))[1][:4] == b"\x89PNG"


async def test_funds_lists_the_programs_behind_an_asset(discord_standin, adapter):
    """`/flows funds` is in the help and the Slack manifest; Discord offers it too."""
    deferred = await discord_standin.slash_command("funds", {"asset": "bitcoin"})
    assert deferred["type"] == 5  # it may fetch live AUM: acknowledged first
    await wait_until(lambda: discord_standin.followups, timeout=30)
    [followup] = discord_standin.followups
    text = json.dumps(followup)
    assert "BTC" in text and "AUM" in text
    assert followup["allowed_mentions"] == NO_PINGS
