"""The Slack adapter against a local Slack stand-in, with the real slack-bolt / slack_sdk clients
pointed at it through SLACK_API_URL and the real command layer on a SQLite file."""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import AsyncIterator
from importlib import resources

import aiohttp
import pytest
from slack_sdk.signature import SignatureVerifier

from bot.adapters.base import AdapterConfigError, DeliveryError, Destination
from bot.adapters.slack import SlackAdapter
from bot.adapters.slack_render import escape
from bot.commands.service import CommandService
from bot.messages import Message, MessageField
from storage.store import Store
from tests.standins import wait_until
from tests.standins.pipeline import INJECTIONS, PNG, chart, command_service, make_settings
from tests.standins.slack_server import SlackStandIn

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
RAW_PINGS = ("<!", "<@", "<#", "@everyone", "@here", "@channel")


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    standin = await SlackStandIn().start()
    yield standin
    await standin.close()


@pytest.fixture
async def service(tmp_path) -> AsyncIterator[tuple[Store, CommandService]]:
    store, commands = await command_service(make_settings(tmp_path))
    yield store, commands
    await store.close()


@pytest.fixture
async def socket_adapter(slack, service) -> AsyncIterator[SlackAdapter]:
    adapter = SlackAdapter("xoxb-test", app_token="xapp-test", api_url=slack.api_url)
    await adapter.start(service[1].handle)
    yield adapter
    await adapter.stop()


@pytest.fixture
async def sender(slack) -> AsyncIterator[SlackAdapter]:
    """An adapter only delivering: `send` needs no Socket Mode connection."""
    adapter = SlackAdapter("xoxb-test", app_token="xapp-test", api_url=slack.api_url)
    yield adapter
    await adapter.stop()


def no_raw_pings(payload: object) -> bool:
    text = json.dumps(payload, ensure_ascii=False)
    return not any(marker in text for marker in RAW_PINGS)


# ---------------------------------------------------------------------------- Socket Mode


async def test_watch_over_socket_mode_acks_then_answers_and_subscribes(
    slack, service, socket_adapter
):
    store, _ = service
    started = time.monotonic()
    ack = await slack.slash_command("watch BTC drift threshold=250m")

    assert time.monotonic() - started < 3.0
    assert set(ack) == {"envelope_id"}, "a plain ack: the answer follows via response_url"
    await wait_until(lambda: slack.responses)
    reply = slack.responses[0]
    assert reply["response_type"] == "in_channel"
    assert reply["blocks"][0]["type"] == "header"
    assert "Watching BTC" in reply["blocks"][0]["text"]["text"]
    assert "Watching BTC" in reply["text"]
    [subscription] = await store.list_subscriptions(
        platform="slack", workspace="T0TEAM", channel="C0FLOWS"
    )
    assert (subscription.asset, subscription.alert_kinds) == ("BTC", ("drift",))
    assert subscription.threshold_usd == 250e6
    # apps.connections.open went through SLACK_API_URL with the app token, like every call.
    [connect] = slack.calls_to("apps.connections.open")
    assert connect.token == "xapp-test"


async def test_data_commands_are_acknowledged_with_a_note_and_answered_later(slack, socket_adapter):
    ack = await slack.slash_command("calendar 7")

    assert ack["payload"] == {"text": "Working on it…", "response_type": "ephemeral"}
    await wait_until(lambda: slack.responses)
    blocks = slack.responses[0]["blocks"]
    assert any(b["type"] == "section" and b["text"]["text"].startswith("```") for b in blocks)


async def test_errors_and_help_are_ephemeral_and_escaped(slack, socket_adapter):
    await slack.slash_command("watch <!channel>")
    await slack.slash_command("help")
    await wait_until(lambda: len(slack.responses) == 2)

    mention_error, help_reply = slack.responses
    assert mention_error["response_type"] == "ephemeral"
    assert "Mentions" in mention_error["text"]
    assert no_raw_pings(mention_error)
    assert help_reply["response_type"] == "ephemeral"
    assert "/flows watch ASSET" in help_reply["text"]


async def test_a_direct_message_command_subscribes_the_user(slack, service, socket_adapter):
    store, _ = service
    await slack.slash_command("watch ETH", channel_id="D0DM", channel_name="directmessage")
    await wait_until(lambda: slack.responses)

    [subscription] = await store.list_subscriptions(
        platform="slack", workspace="T0TEAM", channel="D0DM", user="U0TRADER"
    )
    assert subscription.asset == "ETH"


async def test_socket_mode_reconnects_after_the_connection_drops(slack, socket_adapter):
    await slack.drop_socket()
    await wait_until(lambda: len(slack.calls_to("apps.connections.open")) == 2)
    await wait_until(lambda: slack.open_sockets == 1)

    ack = await slack.slash_command("help")
    assert ack["envelope_id"]
    await wait_until(lambda: slack.responses)


# ---------------------------------------------------------------------------- delivery


async def test_alert_is_block_kit_with_fallback_text_and_the_chart_uploaded(
    slack, sender, tmp_path
):
    message = Message(
        title="BTC · quarter-end countdown",
        summary="4 sessions to 2026Q3 end: est. sell $1.2bn",
        fields=[
            MessageField(label="Est. trade", value="sell $1.2bn"),
            MessageField(label="Why", value="BTC outperformed", inline=False),
        ],
        body="fund   trade\nIBIT   -1.2bn",
        footer="Basis: 3 fund(s)",
        chart_path=chart(tmp_path),
        tone="sell",
        sample=True,
    )
    message_id = await sender.send(Destination("slack", "T0TEAM", "C0ALERTS"), message, "flows-1-1")

    [posted] = slack.posted()
    assert message_id.startswith("C0ALERTS:")
    assert posted["channel"] == "C0ALERTS"
    header, summary, fields, why, body, context = posted["blocks"]
    assert header["text"]["text"] == "🔴 [SAMPLE] BTC · quarter-end countdown"
    assert summary["text"]["text"].startswith("4 sessions")
    assert fields["fields"] == [{"type": "mrkdwn", "text": "*Est. trade*\nsell $1.2bn"}]
    assert why["text"]["text"] == "*Why*\nBTC outperformed"
    assert body["text"]["text"] == "```fund   trade\nIBIT   -1.2bn```"
    assert "SAMPLE DATA" in context["elements"][0]["text"]
    assert posted["text"].startswith("[SAMPLE DATA]\nBTC · quarter-end countdown")
    assert "chart:" not in posted["text"]
    assert posted["metadata"]["event_payload"] == {"key": "flows-1-1"}
    [complete] = slack.calls_to("files.completeUploadExternal")
    assert complete.params["channel_id"] == "C0ALERTS"
    assert list(slack.uploads.values()) == [PNG]


async def test_dm_destination_opens_the_conversation_once(slack, sender):
    destination = Destination("slack", "T0TEAM", "C0FLOWS", user="U0TRADER")
    for key in ("flows-1-1", "flows-2-1"):
        await sender.send(destination, Message(title="t", summary="s"), key)

    [opened] = slack.calls_to("conversations.open")
    assert opened.params["users"] == "U0TRADER"
    assert [p["channel"] for p in slack.posted()] == ["DU0TRADER", "DU0TRADER"]


@pytest.mark.parametrize(
    ("error", "status", "headers", "retry_after", "permanent"),
    [
        ("ratelimited", 429, {"Retry-After": "7"}, 7.0, False),
        ("channel_not_found", 200, None, None, True),
        ("not_in_channel", 200, None, None, True),
        ("is_archived", 200, None, None, True),
        ("token_revoked", 200, None, None, True),
        ("internal_error", 200, None, None, False),
    ],
)
async def test_failed_posts_map_to_what_the_dispatcher_needs(
    slack, sender, error, status, headers, retry_after, permanent
):
    slack.fail("chat.postMessage", error, status=status, headers=headers)
    with pytest.raises(DeliveryError) as raised:
        await sender.send(
            Destination("slack", "T0TEAM", "C0X"), Message(title="t", summary="s"), "flows-9-9"
        )

    assert raised.value.retry_after == retry_after
    assert raised.value.permanent is permanent
    # A 429 is handed to the dispatcher, not slept on inside slack_sdk.
    assert len(slack.calls_to("chat.postMessage")) == 1


async def test_a_failed_chart_upload_does_not_fail_the_delivered_alert(slack, sender, tmp_path):
    slack.fail("files.getUploadURLExternal", "not_in_channel")
    message = Message(title="t", summary="s", chart_path=chart(tmp_path))
    message_id = await sender.send(Destination("slack", "T0TEAM", "C0X"), message, "flows-3-1")

    assert message_id.startswith("C0X:")
    assert len(slack.posted()) == 1


@pytest.mark.parametrize("injection", INJECTIONS)
async def test_mention_injection_never_reaches_slack_unescaped(slack, sender, injection):
    text = f"hi {injection} there & co"
    message = Message(
        title=text,
        summary=text,
        fields=[MessageField(label=text, value=text), MessageField(label="x", value=text)],
        body=text,
        footer=text,
    )
    await sender.send(Destination("slack", "T0TEAM", "C0X"), message, "flows-5-5")

    [posted] = slack.posted()
    assert no_raw_pings(posted)
    assert "&amp; co" in posted["text"]


def test_escape_neutralises_every_ping_form():
    assert escape("<!channel> <!here|here> <@U1> <#C1> <!subteam^S1>") == (
        "&lt;!channel&gt; &lt;!here|here&gt; &lt;@U1&gt; &lt;#C1&gt; &lt;!subteam^S1&gt;"
    )
    assert escape("@everyone @HERE @channel me@here.com") == (
        "@\u2060everyone @\u2060HERE @\u2060channel me@\u2060here.com"
    )
    assert escape("a & b") == "a &amp; b"


# ---------------------------------------------------------------------------- HTTP mode


@pytest.fixture
async def http_adapter(slack, service) -> AsyncIterator[SlackAdapter]:
    adapter = SlackAdapter(
        "xoxb-test",
        signing_secret=SECRET,
        api_url=slack.api_url,
        http_port=0,
        http_host="127.0.0.1",
    )
    await adapter.start(service[1].handle)
    yield adapter
    await adapter.stop()


def signed(body: str, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature or "",
        "Content-Type": "application/x-www-form-urlencoded",
    }


async def post_command(adapter: SlackAdapter, body: str, headers: dict[str, str]) -> int:
    url = f"http://127.0.0.1:{adapter.bound_port}/slack/events"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body.encode(), headers=headers) as response,
    ):
        return response.status


async def test_http_mode_verifies_signatures_and_rejects_stale_tampered_and_replayed(
    slack, service, http_adapter
):
    store, _ = service
    body = urllib.parse.urlencode(slack.command_payload("watch BTC"))
    headers = signed(body)

    assert await post_command(http_adapter, body, headers) == 200
    await wait_until(lambda: slack.responses)
    assert "Watching BTC" in slack.responses[0]["text"]

    tampered = body.replace("watch+BTC", "watch+ETH")
    assert await post_command(http_adapter, tampered, headers) == 401
    other_secret = signed(body, secret="not-the-secret")
    assert await post_command(http_adapter, body, other_secret) == 401
    stale_body = urllib.parse.urlencode(slack.command_payload("watch SOL"))
    stale = signed(stale_body, timestamp=int(time.time()) - 301)
    assert await post_command(http_adapter, stale_body, stale) == 401
    # Within Slack's 5-minute window a captured request would verify; the adapter remembers
    # signatures it accepted and refuses the same one twice.
    assert await post_command(http_adapter, body, headers) == 401

    subscriptions = await store.list_subscriptions(
        platform="slack", workspace="T0TEAM", channel="C0FLOWS"
    )
    assert [s.asset for s in subscriptions] == ["BTC"]
    assert len(slack.responses) == 1


# ---------------------------------------------------------------------------- configuration


async def test_a_rejected_bot_token_is_one_clear_error(slack):
    adapter = SlackAdapter("xoxb-wrong", app_token="xapp-test", api_url=slack.api_url)
    with pytest.raises(AdapterConfigError, match=r"^SLACK_BOT_TOKEN was rejected by Slack"):
        await adapter.start(lambda ctx, text: None)  # type: ignore[arg-type,return-value]
    await adapter.stop()


async def test_a_rejected_app_token_is_one_clear_error(slack):
    adapter = SlackAdapter("xoxb-test", app_token="xapp-wrong", api_url=slack.api_url)
    with pytest.raises(AdapterConfigError, match=r"^SLACK_APP_TOKEN was rejected by Slack"):
        await adapter.start(lambda ctx, text: None)  # type: ignore[arg-type,return-value]
    await adapter.stop()


@pytest.mark.parametrize(
    ("values", "variable"),
    [
        ({"slack_bot_token": "xoxb-1"}, "SLACK_APP_TOKEN"),
        ({"slack_app_token": "xapp-1"}, "SLACK_BOT_TOKEN"),
        ({"slack_signing_secret": "s"}, "SLACK_BOT_TOKEN"),
        ({"slack_bot_token": "xoxb-1", "slack_app_token": "xoxb-2"}, "SLACK_APP_TOKEN"),
    ],
)
def test_missing_or_inconsistent_variables_are_named(tmp_path, values, variable):
    with pytest.raises(AdapterConfigError) as raised:
        SlackAdapter.from_settings(make_settings(tmp_path, **values))
    assert variable in str(raised.value)
    assert "\n" not in str(raised.value)


def test_socket_mode_wins_when_both_app_token_and_signing_secret_are_set(tmp_path):
    settings = make_settings(
        tmp_path,
        slack_bot_token="xoxb-1",
        slack_app_token="xapp-1",
        slack_signing_secret="s",
        slack_api_url="https://slack-gov.com/api/",
    )
    adapter = SlackAdapter.from_settings(settings)
    assert adapter.socket_mode
    assert adapter.client.base_url == "https://slack-gov.com/api/"


def test_the_app_manifest_ships_with_the_command_scopes_and_socket_mode():
    manifest = resources.files("bot.adapters").joinpath("slack_manifest.yaml").read_text("utf-8")

    assert "- command: /flows" in manifest
    assert "usage_hint:" in manifest
    scopes = ("commands", "chat:write", "chat:write.public", "files:write", "im:write")
    history = ("channels:history", "groups:history", "im:history")
    for scope in scopes + history:
        assert f"      - {scope}\n" in manifest
    # The OAuth install (many workspaces) asks for the same scopes as the manifest.
    from bot.adapters.slack_oauth import BOT_SCOPES

    assert sorted(BOT_SCOPES) == sorted(scopes + history)
    assert "socket_mode_enabled: true" in manifest
