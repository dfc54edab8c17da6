"""The outbox end to end: alerts written before sending, exactly-once across a crash, 429 honoured,
403 marks the subscription broken, transient errors retried with backoff."""

from __future__ import annotations

import asyncio
import datetime as dt

from bot.adapters.base import DeliveryError, Pacing
from bot.dispatcher import Dispatcher
from storage.store import Store
from tests.botkit import RecordingAdapter, RecordingPlatform, sample_app, sample_settings

# Four sessions before the 2026Q3 end (Wed 2026-09-30): the countdown's window-opens step fires.
WINDOW_OPENS = dt.date(2026, 9, 24)
CHANNELS = [f"C{index}" for index in range(6)]


async def _subscribe(adapter: RecordingAdapter, channels=CHANNELS, asset: str = "BTC") -> None:
    for channel in channels:
        reply = await adapter.command(f"watch {asset} quarter_end", channel=channel)
        assert reply.title == f"Watching {asset}", reply.summary


async def test_alert_is_stored_before_it_is_sent_and_sent_once(tmp_path, database_url) -> None:
    settings = sample_settings(tmp_path, database_url=database_url)
    store = await Store.open(settings.database_url)
    platform = RecordingPlatform()
    adapter = RecordingAdapter(platform)
    app = sample_app(settings, store, [adapter])
    await app.start_adapters()
    try:
        await _subscribe(adapter)
        result = await app.tick(WINDOW_OPENS)
        assert result.new_alerts == 1 and result.deliveries == len(CHANNELS)
        assert platform.posts == []  # stored, not yet sent
        assert await store.pending_count() == len(CHANNELS)
        alert = await store.get_alert("quarter_end:BTC:2026Q3:4")
        assert alert is not None and alert.chart_path
        await app.dispatcher.drain()
        assert sorted(d.channel for d, _, _ in platform.posts) == CHANNELS
        message = platform.posts[0][1]
        assert message.title == "BTC · quarter-end countdown"
        assert "4 session(s) to the 2026Q3 quarter end" in message.summary
        assert message.sample and "SAMPLE DATA" in message.to_text()
        # The same tick again (a restart, a second scheduler fire) creates and sends nothing.
        again = await app.tick(WINDOW_OPENS)
        assert again.new_alerts == 0
        await app.dispatcher.drain()
        assert len(platform.posts) == len(CHANNELS)
        assert await store.delivery_counts() == {"pending": 0, "sent": len(CHANNELS), "failed": 0}
    finally:
        await store.close()


async def test_restart_in_the_middle_of_a_fan_out_delivers_exactly_once(
    tmp_path, database_url
) -> None:
    settings = sample_settings(tmp_path, database_url=database_url)
    platform = RecordingPlatform()

    store = await Store.open(settings.database_url)
    first = RecordingAdapter(platform, hang_after=3)
    app = sample_app(settings, store, [first])
    await app.start_adapters()
    await _subscribe(first)
    await app.tick(WINDOW_OPENS)
    drain = asyncio.create_task(app.dispatcher.drain())
    await asyncio.wait_for(first.hung.wait(), timeout=10)
    # The process dies: the third post reached the platform, its acknowledgement never did.
    drain.cancel()
    await app.dispatcher.stop()
    await asyncio.gather(drain, return_exceptions=True)
    await store.close()
    assert len(platform.posts) == 3

    store = await Store.open(settings.database_url)
    second = RecordingAdapter(platform)
    restarted = sample_app(settings, store, [second])
    try:
        assert (await restarted.tick(WINDOW_OPENS)).new_alerts == 0
        await restarted.dispatcher.drain()
        keys = [key for _, _, key in platform.posts]
        assert len(keys) == len(set(keys)) == len(CHANNELS)
        assert sorted(d.channel for d, _, _ in platform.posts) == CHANNELS
        assert await store.delivery_counts() == {"pending": 0, "sent": len(CHANNELS), "failed": 0}
    finally:
        await store.close()


async def test_rate_limited_send_is_delivered_once_after_retry_after(
    tmp_path, database_url
) -> None:
    settings = sample_settings(tmp_path, database_url=database_url)
    store = await Store.open(settings.database_url)
    platform = RecordingPlatform()
    adapter = RecordingAdapter(
        platform,
        failures=[DeliveryError("ratelimited", retry_after=0.4)],
        pacing=Pacing(1, 1.0, 50),
    )
    app = sample_app(settings, store, [adapter])
    await app.start_adapters()
    try:
        await _subscribe(adapter, channels=["C1"])
        await app.tick(WINDOW_OPENS)
        await app.dispatcher.drain()
        assert [key for key, _ in platform.attempts].count(platform.posts[0][2]) == 2
        assert len(platform.posts) == 1
        (_, first), (_, second) = platform.attempts
        assert second - first >= 0.4
        counts = await store.delivery_counts()
        assert counts == {"pending": 0, "sent": 1, "failed": 0}
    finally:
        await store.close()


async def test_forbidden_marks_subscription_broken_and_stops_sending(
    tmp_path, database_url
) -> None:
    settings = sample_settings(tmp_path, database_url=database_url)
    store = await Store.open(settings.database_url)
    platform = RecordingPlatform()
    adapter = RecordingAdapter(
        platform, failures=[DeliveryError("403 Missing Access", permanent=True)]
    )
    app = sample_app(settings, store, [adapter])
    await app.start_adapters()
    try:
        await _subscribe(adapter, channels=["C1"])
        await app.tick(WINDOW_OPENS)
        await app.dispatcher.drain()
        # The only post is the notice to whoever subscribed, by DM.
        [(notice_to, notice, _)] = platform.posts
        assert notice_to.user == "U1" and "/flows watch" in notice.summary
        platform.posts.clear()
        [subscription] = await store.list_subscriptions(
            platform="console", workspace="W1", channel="C1"
        )
        assert subscription.status == "broken" and "403" in subscription.broken_reason
        # The next alert for BTC is not queued for the broken channel at all.
        result = await app.tick(dt.date(2026, 9, 29))
        assert result.deliveries == 0
        await app.dispatcher.drain()
        assert platform.posts == [] and len(platform.attempts) == 2
    finally:
        await store.close()


async def test_transient_failures_back_off_then_succeed(tmp_path, database_url) -> None:
    settings = sample_settings(tmp_path, database_url=database_url)
    store = await Store.open(settings.database_url)
    platform = RecordingPlatform()
    adapter = RecordingAdapter(platform, failures=[DeliveryError("502"), DeliveryError("timeout")])
    app = sample_app(settings, store, [adapter])
    app.dispatcher = Dispatcher(store, {"console": adapter}, base_backoff=0.1)
    await app.start_adapters()
    try:
        await _subscribe(adapter, channels=["C1"])
        await app.tick(WINDOW_OPENS)
        await app.dispatcher.drain()
        times = [at for _, at in platform.attempts]
        assert len(times) == 3 and len(platform.posts) == 1
        assert times[1] - times[0] >= 0.1 and times[2] - times[1] >= 0.2
    finally:
        await store.close()


async def test_each_send_is_committed_before_the_next_and_channels_share_commits(
    tmp_path, database_url
) -> None:
    """Group commit: a channel's next message goes out only once its previous send is recorded
    (a crash can repeat at most the message in flight), yet channels sending at the same moment
    share one transaction."""
    settings = sample_settings(tmp_path, database_url=database_url)
    store = await Store.open(settings.database_url)
    platform = RecordingPlatform()
    adapter = RecordingAdapter(platform)
    app = sample_app(settings, store, [adapter])
    await app.start_adapters()
    commits: list[int] = []
    mark_sent_many = store.mark_sent_many

    async def counting_mark_sent_many(sent, **kwargs):
        commits.append(len(sent))
        return await mark_sent_many(sent, **kwargs)

    store.mark_sent_many = counting_mark_sent_many
    unrecorded_at_send: list[str] = []
    send = adapter.send

    async def checking_send(destination, message, idempotency_key):
        earlier = [key for d, _, key in platform.posts if d.channel == destination.channel]
        for key in earlier:
            alert_id, subscription_id = map(int, key.removeprefix("flows-").split("-"))
            rows = await store.deliveries_for(alert_id)
            status = next(r.status for r in rows if r.subscription_id == subscription_id)
            if status != "sent":
                unrecorded_at_send.append(key)
        return await send(destination, message, idempotency_key)

    adapter.send = checking_send
    try:
        await _subscribe(adapter)
        await _subscribe(adapter, asset="SPY")
        result = await app.tick(WINDOW_OPENS)
        assert result.deliveries == 2 * len(CHANNELS)
        await app.dispatcher.drain()
        assert len(platform.posts) == 2 * len(CHANNELS)
        assert unrecorded_at_send == []
        assert sum(commits) == 2 * len(CHANNELS)
        assert len(commits) < 2 * len(CHANNELS) and max(commits) > 1
        assert await store.delivery_counts() == {
            "pending": 0,
            "sent": 2 * len(CHANNELS),
            "failed": 0,
        }
    finally:
        await store.close()
