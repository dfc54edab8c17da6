"""Fan-outs written straight into the outbox, for the delivery tests, the crash test's driver and
bench/bench_delivery.py: N channels × M alerts, one subscription per channel, each alert a real
neutral message."""

from __future__ import annotations

import datetime as dt

from bot.dispatcher import _idempotency_key
from bot.messages import Message
from storage.store import NewAlert, Store

DAY = dt.date(2026, 9, 24)


async def seed_fan_out(
    store: Store,
    *,
    platform: str,
    workspace: str,
    channels: list[str],
    alerts: int,
    subscriber: str = "",
    assets_per_channel: int = 1,
) -> dict[str, list[str]]:
    """Subscribe every channel and write `alerts` alerts per asset; returns {channel: the
    idempotency keys it must receive, in order}."""
    subscriptions: dict[str, list[int]] = {}
    for channel in channels:
        for index in range(assets_per_channel):
            subscription, _ = await store.add_subscription(
                platform=platform,
                workspace=workspace,
                channel=channel,
                asset=f"A{index}",
                kinds=["calendar"],
                created_by=subscriber,
                created_by_id=subscriber,
            )
            subscriptions.setdefault(f"A{index}", []).append(subscription.id)
    new = []
    for step in range(alerts):
        for asset, ids in subscriptions.items():
            message = Message(
                title=f"{asset} alert {step + 1} of {alerts}",
                summary=f"step {step + 1}: {alerts - step - 1} to go",
                sample=True,
            )
            new.append(
                NewAlert(
                    dedupe_key=f"test:{asset}:{step}",
                    kind="calendar",
                    asset=asset,
                    as_of=DAY,
                    title=message.title,
                    content=message.to_storage(),
                    subscription_ids=ids,
                )
            )
    recorded = await store.record_alerts(new)
    expected: dict[str, list[str]] = {channel: [] for channel in channels}
    for alert, _ in recorded:
        for delivery in await store.deliveries_for(alert.id):
            expected[delivery.channel].append(_idempotency_key(delivery))
    return expected
