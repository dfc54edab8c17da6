"""Delivery you can trust (issue 19), against the Slack and Discord stand-ins with the real
clients, the real dispatcher and a SQLite store: channel-level breakage per platform error code,
a refused token stopping its workspace, order kept through 429s, in-flight sends looked up before
they are sent again, and a locked database surviving the record of a send."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import sqlite3
from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.adapters.base import DeliveryError, Destination
from bot.adapters.discord import DiscordAdapter, nonce_for
from bot.adapters.slack import SlackAdapter
from bot.commands.context import CommandContext
from bot.dispatcher import Dispatcher
from bot.messages import Message
from bot.ratelimit import ResponsePacer
from storage import database
from storage.store import Store
from tests.delivery_seed import seed_fan_out
from tests.standins.discord_server import DiscordStandIn
from tests.standins.pipeline import command_service, make_settings
from tests.standins.slack_server import SlackStandIn

TEAM = "T0TEAM"
GUILD = "800000000000000001"
SUBSCRIBER = "U0SUBSCRIBER"


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    standin = await SlackStandIn().start()
    yield standin
    await standin.close()


@pytest.fixture
async def slack_adapter(slack) -> AsyncIterator[SlackAdapter]:
    adapter = SlackAdapter("xoxb-test", app_token="xapp-test", api_url=slack.api_url)
    yield adapter
    await adapter.stop()


@pytest.fixture
async def discord_standin() -> AsyncIterator[DiscordStandIn]:
    standin = await DiscordStandIn().start()
    yield standin
    await standin.close()


@pytest.fixture
async def discord_adapter(discord_standin, tmp_path) -> AsyncIterator[DiscordAdapter]:
    adapter = DiscordAdapter(discord_standin.token, api_url=discord_standin.api_url)

    async def no_commands(ctx, text):  # delivery only
        raise AssertionError("no command expected")

    await adapter.start(no_commands)
    yield adapter
    await adapter.stop()


@pytest.fixture
async def store(tmp_path) -> AsyncIterator[Store]:
    opened = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'delivery.db'}")
    yield opened
    await opened.close()


def in_order(expected: dict[str, list[str]], received: dict[str, list[str]]) -> list[str]:
    """Channels whose received keys differ from the expected sequence."""
    return [channel for channel, keys in expected.items() if received.get(channel, []) != keys]


# ------------------------------------------------------------------ channel-level breakage


@pytest.mark.parametrize(
    "error", ["channel_not_found", "not_in_channel", "is_archived", "account_inactive"]
)
async def test_a_slack_channel_error_stops_every_send_to_that_channel_after_the_first(
    slack, slack_adapter, store, error
):
    expected = await seed_fan_out(
        store,
        platform="slack",
        workspace=TEAM,
        channels=["C0BROKEN", "C0FINE"],
        alerts=2,
        assets_per_channel=2,
        subscriber=SUBSCRIBER,
    )
    slack.fail("chat.postMessage", error, times=None, channel="C0BROKEN")
    dispatcher = Dispatcher(store, {"slack": slack_adapter})
    await dispatcher.drain(max_wait=5)

    attempts = [c for c in slack.calls_to("chat.postMessage") if c.params["channel"] == "C0BROKEN"]
    assert len(attempts) == 1, "nine more failing sends is how a bot gets banned"
    assert slack.delivered_keys("C0FINE") == expected["C0FINE"]
    broken = await store.list_subscriptions(platform="slack", workspace=TEAM, channel="C0BROKEN")
    assert len(broken) == 2 and all(
        s.status == "broken" and error in s.broken_reason for s in broken
    )
    counts = await store.delivery_counts()
    assert counts == {"pending": 0, "sent": 4, "failed": 4}
    # Whoever subscribed is told by DM.
    [_dm] = [c for c in slack.calls_to("conversations.open") if c.params.get("users") == SUBSCRIBER]
    notices = slack.history["D" + SUBSCRIBER]
    assert len(notices) == 1 and "/flows watch" in notices[0]["text"]

    # `/flows watch` there again resumes the channel: every subscription there.
    await store.resume_channel(platform="slack", workspace=TEAM, channel="C0BROKEN")
    resumed = await store.list_subscriptions(platform="slack", workspace=TEAM, channel="C0BROKEN")
    assert all(s.status == "active" for s in resumed)


async def test_watch_in_a_broken_channel_resumes_it_and_list_shows_the_state(tmp_path):
    store, service = await command_service(make_settings(tmp_path))
    try:
        where = CommandContext("slack", TEAM, "C0BROKEN", "U1", user_name="trader")
        assert (await service.handle(where, "watch BTC")).title == "Watching BTC"
        assert (await service.handle(where, "watch ETH")).title == "Watching ETH"
        await store.break_destination(
            platform="slack",
            workspace=TEAM,
            channel="C0BROKEN",
            user=None,
            reason="slack: is_archived",
        )
        listing = await service.handle(where, "list")
        assert listing.to_text().count("BROKEN") == 2 and "is_archived" in listing.to_text()
        await service.handle(where, "watch SPY")
        listing = await service.handle(where, "list")
        assert "BROKEN" not in listing.to_text()
    finally:
        await store.close()


@pytest.mark.parametrize("error", ["invalid_auth", "token_revoked"])
async def test_a_refused_slack_token_stops_the_whole_workspace(slack, slack_adapter, store, error):
    await seed_fan_out(
        store, platform="slack", workspace=TEAM, channels=["C1", "C2", "C3"], alerts=3
    )
    slack.fail("chat.postMessage", error, times=None)
    dispatcher = Dispatcher(store, {"slack": slack_adapter})
    await dispatcher.drain(max_wait=5)

    # One send per channel at most: those already in flight when the first refusal came back
    # (the channels send concurrently); nothing is sent after it.
    attempts = slack.calls_to("chat.postMessage")
    first_refusal = attempts[0].at
    assert len({c.params["channel"] for c in attempts}) == len(attempts) <= 3
    assert all(c.at - first_refusal < 0.2 for c in attempts)
    assert await store.delivery_counts() == {"pending": 0, "sent": 0, "failed": 9}
    for channel in ("C1", "C2", "C3"):
        [subscription] = await store.list_subscriptions(
            platform="slack", workspace=TEAM, channel=channel
        )
        assert subscription.status == "broken" and error in subscription.broken_reason


@pytest.mark.parametrize(
    ("status", "code"), [(403, 50001), (403, 50013), (404, 10003)], ids=["50001", "50013", "10003"]
)
async def test_a_discord_channel_error_stops_every_send_to_that_channel_after_the_first(
    discord_standin, discord_adapter, store, status, code
):
    broken, fine = "700000000000000001", "700000000000000002"
    expected = await seed_fan_out(
        store,
        platform="discord",
        workspace=GUILD,
        channels=[broken, fine],
        alerts=2,
        assets_per_channel=2,
    )
    discord_standin.fail(
        "POST /channels/{channel}/messages",
        status,
        {"message": "Missing Access", "code": code},
        times=None,
        channel=broken,
    )
    dispatcher = Dispatcher(store, {"discord": discord_adapter})
    await dispatcher.drain(max_wait=5)

    assert len(discord_standin.channel_posts(broken)) == 1
    assert len(discord_standin.messages[fine]) == len(expected[fine]) == 4
    subscriptions = await store.list_subscriptions(
        platform="discord", workspace=GUILD, channel=broken
    )
    assert all(s.status == "broken" and str(code) in s.broken_reason for s in subscriptions)
    assert await store.delivery_counts() == {"pending": 0, "sent": 4, "failed": 4}


async def test_a_refused_discord_token_stops_every_discord_destination(
    discord_standin, discord_adapter, store
):
    channels = [str(700000000000000200 + index) for index in range(3)]
    await seed_fan_out(store, platform="discord", workspace=GUILD, channels=channels, alerts=2)
    discord_standin.fail(
        "POST /channels/{channel}/messages",
        401,
        {"message": "401: Unauthorized", "code": 0},
        times=None,
    )
    await Dispatcher(store, {"discord": discord_adapter}).drain(max_wait=5)

    posts = discord_standin.channel_posts()
    assert len({p.path for p in posts}) == len(posts) <= 3  # at most those already in flight
    assert await store.delivery_counts() == {"pending": 0, "sent": 0, "failed": 6}
    for channel in channels:
        [subscription] = await store.list_subscriptions(
            platform="discord", workspace=GUILD, channel=channel
        )
        assert subscription.status == "broken" and "401" in subscription.broken_reason


# ------------------------------------------------------------------ order through 429s


async def test_every_slack_channel_receives_its_alerts_in_order_through_429s(
    slack, slack_adapter, store
):
    channels = [f"C{index}" for index in range(6)]
    expected = await seed_fan_out(
        store, platform="slack", workspace=TEAM, channels=channels, alerts=4
    )
    slack.enforce_limits = True
    slack.inject_429 = 0.25
    dispatcher = Dispatcher(store, {"slack": slack_adapter})
    await dispatcher.drain(max_wait=60)

    assert slack.injected > 0
    received = {channel: slack.delivered_keys(channel) for channel in channels}
    assert in_order(expected, received) == []
    assert slack.limited == 0, "no 429 of our own making"
    assert await store.delivery_counts() == {"pending": 0, "sent": 24, "failed": 0}


async def test_every_discord_channel_receives_its_alerts_in_order_through_429s(
    discord_standin, discord_adapter, store
):
    channels = [str(700000000000000100 + index) for index in range(6)]
    expected = await seed_fan_out(
        store, platform="discord", workspace=GUILD, channels=channels, alerts=5
    )
    discord_standin.enforce_limits = True
    discord_standin.inject_429 = 0.2
    dispatcher = Dispatcher(store, {"discord": discord_adapter})
    await dispatcher.drain(max_wait=60)

    assert discord_standin.injected > 0
    nonce_of = {key: nonce_for(key) for keys in expected.values() for key in keys}
    received = {channel: discord_standin.delivered_nonces(channel) for channel in channels}
    wanted = {channel: [nonce_of[key] for key in keys] for channel, keys in expected.items()}
    assert in_order(wanted, received) == []
    assert discord_standin.limited == 0
    assert await store.delivery_counts() == {"pending": 0, "sent": 30, "failed": 0}


# ------------------------------------------------------------------ in-flight reconciliation


async def _mark_in_flight(store: Store, count: int) -> list:
    due = await store.due_deliveries(dt.datetime.now(dt.UTC), limit=count)
    await store.begin_attempts([delivery.id for delivery, _ in due])
    return [delivery for delivery, _ in due]


async def test_a_slack_send_in_flight_at_a_crash_is_found_in_history_and_not_resent(
    slack, slack_adapter, store
):
    expected = await seed_fan_out(
        store, platform="slack", workspace=TEAM, channels=["C1"], alerts=3
    )
    [first] = await _mark_in_flight(store, 1)
    # The crashed process's post: Slack took it, the database never heard back.
    await slack_adapter.send(
        Destination("slack", TEAM, first.channel),
        Message(title="t", summary="s"),
        expected["C1"][0],
    )
    dispatcher = Dispatcher(store, {"slack": slack_adapter})
    await dispatcher.drain(max_wait=10)

    assert slack.delivered_keys("C1") == expected["C1"]
    history = slack.calls_to("conversations.history")
    assert history and history[0].params["include_all_metadata"] in ("1", "true", True)
    assert await store.delivery_counts() == {"pending": 0, "sent": 3, "failed": 0}


async def test_without_the_history_scope_slack_falls_back_and_says_so_once(
    slack, slack_adapter, store, caplog
):
    await seed_fan_out(store, platform="slack", workspace=TEAM, channels=["C1", "C2"], alerts=1)
    await _mark_in_flight(store, 2)
    slack.history_scope = False
    dispatcher = Dispatcher(store, {"slack": slack_adapter})
    with caplog.at_level(logging.WARNING, logger="bot.adapters.slack"):
        await dispatcher.drain(max_wait=10)

    warnings = [r for r in caplog.records if "duplicates are possible" in r.getMessage()]
    assert len(warnings) == 1 and "channels:history" in warnings[0].getMessage()
    assert await store.delivery_counts() == {"pending": 0, "sent": 2, "failed": 0}


# ------------------------------------------------------------------ a locked database


async def test_recording_a_send_survives_a_locked_database_without_resending(
    slack, slack_adapter, store, tmp_path, monkeypatch, caplog
):
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_MS", 100)
    path = tmp_path / "locked.db"
    locked_store = await Store.open(f"sqlite+aiosqlite:///{path}")
    try:
        channels = ["C1", "C2", "C3"]
        expected = await seed_fan_out(
            locked_store, platform="slack", workspace=TEAM, channels=channels, alerts=4
        )
        dispatcher = Dispatcher(locked_store, {"slack": slack_adapter})
        holder = sqlite3.connect(path, timeout=0.1)

        async def hold_the_lock_mid_fan_out() -> None:
            while len(slack.posted()) < 3:
                await asyncio.sleep(0.01)
            # The dispatcher may be mid-write itself: try again (without blocking the event loop
            # its commit needs) until the lock is ours.
            for _ in range(100):
                try:
                    holder.execute("BEGIN IMMEDIATE")
                    break
                except sqlite3.OperationalError:
                    await asyncio.sleep(0.01)
            else:
                raise AssertionError("the test never got the write lock")
            await asyncio.sleep(1.5)
            holder.rollback()

        locker = asyncio.create_task(hold_the_lock_mid_fan_out())
        with caplog.at_level(logging.WARNING, logger="bot.dispatcher"):
            await dispatcher.drain(max_wait=30)
        await locker
        holder.close()

        # The lock was met while sends were being recorded, and waited out.
        assert any("is locked" in r.getMessage() for r in caplog.records)
        assert len(slack.posted()) == 12, "no send repeated"

        received = {channel: slack.delivered_keys(channel) for channel in channels}
        assert in_order(expected, received) == []
        assert await locked_store.delivery_counts() == {"pending": 0, "sent": 12, "failed": 0}
    finally:
        await locked_store.close()


# ------------------------------------------------------------------ the stand-ins have teeth


async def test_the_stand_ins_answer_429_to_sends_over_the_limits(
    slack, slack_adapter, discord_standin, discord_adapter
):
    """The 0-429 assertions above mean something only if going too fast is punished."""
    slack.enforce_limits = True
    message = Message(title="t", summary="s")
    await slack_adapter.send(Destination("slack", TEAM, "C1"), message, "flows-1-1")
    with pytest.raises(DeliveryError) as raised:
        await slack_adapter.send(Destination("slack", TEAM, "C1"), message, "flows-2-1")
    assert raised.value.retry_after == 1 and slack.limited == 1

    discord_standin.enforce_limits = True
    discord_standin.channel_limit = 2
    discord_standin.channel_window = 1.0
    channel = "700000000000000999"
    for index in range(3):  # discord.py waits out the announced bucket: no 429
        await discord_adapter.send(Destination("discord", GUILD, channel), message, f"k{index}")
    assert discord_standin.limited == 0 and len(discord_standin.messages[channel]) == 3
    # Sent around discord.py's bucket (a second process, say), the third is refused.
    discord_standin._buckets.clear()
    async with aiohttp.ClientSession() as session:
        statuses = []
        for _ in range(3):
            async with session.post(
                f"{discord_standin.api_url}/channels/{channel}/messages",
                json={"content": "x"},
                headers={"Authorization": f"Bot {discord_standin.token}"},
            ) as response:
                statuses.append(response.status)
    assert statuses == [200, 200, 429] and discord_standin.limited == 1


# ------------------------------------------------------------------ pacing


async def test_the_pacer_counts_a_request_until_its_response_and_stamps_it_then():
    now = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = ResponsePacer(2, 1.0, clock=lambda: now[0], sleep=sleep)
    await pacer.acquire()
    await pacer.acquire()
    now[0] = 0.4  # both responses arrive late
    pacer.release()
    pacer.release()
    await pacer.acquire()  # the window runs from the responses (0.4), not the sends (0.0)
    assert now[0] == pytest.approx(1.4) and slept
    pacer.release()
    pacer.pause(2.0)
    before = now[0]
    await pacer.acquire()
    assert now[0] - before >= 2.0
