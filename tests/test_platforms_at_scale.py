"""Platforms at scale: Discord shards split across processes, Slack paced per workspace."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import deque
from collections.abc import AsyncIterator

import pytest

from bot.adapters.base import AdapterConfigError, Destination, Pacing
from bot.adapters.discord import DiscordAdapter, parse_shard_ids
from bot.dispatcher import Dispatcher
from bot.ratelimit import ResponsePacer
from storage import NewAlert, Store
from tests.botkit import RecordingAdapter, RecordingPlatform
from tests.standins import wait_until
from tests.standins.discord_server import DiscordStandIn
from tests.standins.pipeline import command_service, make_settings


@pytest.fixture
async def discord_standin() -> AsyncIterator[DiscordStandIn]:
    standin = await DiscordStandIn().start()
    yield standin
    await standin.close()


async def test_a_process_runs_the_discord_shards_it_is_given(discord_standin, tmp_path) -> None:
    settings = make_settings(
        tmp_path,
        discord_token=discord_standin.token,
        discord_api_url=discord_standin.api_url,
        discord_shard_count=4,
        discord_shard_ids="1,3",
    )
    store, commands = await command_service(settings)
    adapter = DiscordAdapter.from_settings(settings)
    try:
        await adapter.start(commands.handle)
        await wait_until(lambda: len(discord_standin.identifies) >= 2, timeout=10)
        assert sorted(tuple(i["shard"]) for i in discord_standin.identifies) == [(1, 4), (3, 4)]
    finally:
        await adapter.stop()
        await store.close()


async def test_unsharded_by_default_and_auto_sharding_asks_discord(discord_standin, tmp_path):
    store, commands = await command_service(make_settings(tmp_path))
    plain = DiscordAdapter(discord_standin.token, api_url=discord_standin.api_url)
    auto = DiscordAdapter(discord_standin.token, api_url=discord_standin.api_url, auto_shard=True)
    assert type(plain.client).__name__ == "Client"
    try:
        await auto.start(commands.handle)
        await wait_until(lambda: discord_standin.identifies, timeout=10)
        # The stand-in's GET /gateway/bot recommends one shard.
        assert [tuple(i["shard"]) for i in discord_standin.identifies] == [(0, 1)]
    finally:
        await auto.stop()
        await store.close()


@pytest.mark.parametrize(
    ("ids", "count", "message"),
    [
        ("0,1", None, "needs DISCORD_SHARD_COUNT"),
        ("0,x", 2, "comma-separated"),
        ("2", 2, "between 0 and 1"),
    ],
)
def test_bad_shard_settings_are_one_line(ids, count, message) -> None:
    with pytest.raises(AdapterConfigError, match=message):
        parse_shard_ids(ids, count)


async def test_slack_style_pacing_is_per_workspace(tmp_path) -> None:
    """A per-workspace limit of 5/s: two workspaces post 10 messages in the first second, where
    one platform-wide limit would allow 5."""
    store = await Store.open(f"sqlite:///{tmp_path / 'pace.db'}")
    platform = RecordingPlatform()
    adapter = RecordingAdapter(platform, pacing=Pacing(100, 1.0, 5, per_workspace=True))
    try:
        ids = []
        for workspace in ("W1", "W2"):
            for index in range(10):
                subscription, _ = await store.add_subscription(
                    platform="console",
                    workspace=workspace,
                    channel=f"C{index}",
                    asset="BTC",
                    kinds="drift",
                )
                ids.append(subscription.id)
        await store.record_alerts(
            [
                NewAlert(
                    dedupe_key="drift:BTC:pace",
                    kind="drift",
                    asset="BTC",
                    as_of=dt.date(2026, 12, 4),
                    title="BTC drift",
                    content={"title": "BTC drift", "summary": "x"},
                    subscription_ids=ids,
                )
            ]
        )
        dispatcher = Dispatcher(store, {"console": adapter})
        started = asyncio.get_running_loop().time()
        await dispatcher.drain(max_wait=10)
        first_second = [at for _, at in platform.attempts if at - started < 0.9]
        assert len(platform.posts) == 20
        assert len(first_second) == 10
        per_workspace = {d.workspace for d, _, _ in platform.posts}
        assert per_workspace == {"W1", "W2"}
    finally:
        await store.close()


async def test_processes_sharing_a_database_pace_shares_of_the_platform_rates(
    tmp_path,
) -> None:
    """Each process paces the share of a workspace's (Slack) or bot token's (Discord) rate that
    its backlog is of everyone's; the per-channel limit is untouched (one process at a time
    drains a channel)."""
    store = await Store.open(f"sqlite:///{tmp_path / 'share.db'}")
    slack_like = RecordingAdapter(
        RecordingPlatform(), pacing=Pacing(1, 1.0, 20, per_workspace=True)
    )
    try:
        dispatcher = Dispatcher(store, {"console": slack_like}, worker_id="me")
        w1 = Destination("console", "W1", "C1", None)
        channel, workspace = dispatcher._pacers(w1)
        assert workspace.limit / workspace.window == pytest.approx(20)
        dispatcher._queues[w1] = deque(range(10))  # ten deliveries wait in my W1 queue
        dispatcher.share_rates({("other", "console", "W1"): 30, ("me", "console", "W1"): 10})
        assert workspace.limit / workspace.window == pytest.approx(20 * 10 / 40)
        assert (channel.limit, channel.window) == (1, 1.0)
        # Another workspace's backlog elsewhere leaves W2 its whole rate.
        w2 = dispatcher._pacers(Destination("console", "W2", "C1", None))[1]
        assert w2.limit / w2.window == pytest.approx(20)
        # Alone again: the whole rate.
        dispatcher.share_rates({("me", "console", "W1"): 10})
        assert workspace.limit / workspace.window == pytest.approx(20)
    finally:
        await store.close()


async def test_a_bot_wide_limit_is_shared_over_every_workspace(tmp_path) -> None:
    store = await Store.open(f"sqlite:///{tmp_path / 'share.db'}")
    discord_like = RecordingAdapter(RecordingPlatform(), pacing=Pacing(5, 5.0, 48))
    try:
        dispatcher = Dispatcher(store, {"console": discord_like}, worker_id="me")
        key = Destination("console", "G1", "C1", None)
        bot_wide = dispatcher._pacers(key)[1]
        dispatcher._queues[key] = deque(range(16))
        dispatcher.share_rates({("b", "console", "G2"): 16, ("c", "console", "G3"): 16})
        assert bot_wide.limit / bot_wide.window == pytest.approx(16)
    finally:
        await store.close()


def test_a_pacer_rate_keeps_fractions_of_a_request() -> None:
    pacer = ResponsePacer.per_second(6.5)
    assert (pacer.limit, pacer.window) == (6, pytest.approx(6 / 6.5))
    pacer.set_rate(0.5)
    assert (pacer.limit, pacer.window) == (1, pytest.approx(2.0))
