"""The storage package against real databases: each test that takes `database_url` (or `store`)
runs on a fresh SQLite file and on a fresh database of a throw-away PostgreSQL server (see
tests/conftest.py)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pandas as pd
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import IntegrityError

from flows.marketdata.base import BAR_COLUMNS as FLOW_BAR_COLUMNS
from storage import (
    BAR_COLUMNS,
    DEFAULT_DATABASE_URL,
    Alert,
    NewAlert,
    Store,
    current_revision,
    database_url_from_env,
    head_revision,
    normalize_database_url,
    upgrade_database,
)
from storage.database import create_engine
from storage.migrate import alembic_config
from storage.models import metadata

NOW = dt.datetime(2026, 3, 31, 14, 0, tzinfo=dt.UTC)


# ---------------------------------------------------------------------- fixtures


@pytest.fixture
async def store(database_url) -> AsyncIterator[Store]:
    store = await Store.open(database_url)
    try:
        yield store
    finally:
        await store.close()


async def run_sql(url: str, *statements: str, params: dict | None = None) -> list:
    """Raw SQL on a connection of its own (the store's own pragmas apply on SQLite)."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            result = None
            for statement in statements:
                result = await connection.execute(sa.text(statement), params or {})
            return list(result.all()) if result is not None and result.returns_rows else []
    finally:
        await engine.dispose()


async def table_names(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda c: sa.inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def add(store: Store, channel: str = "C1", asset: str = "BTC", **kwargs):
    kwargs.setdefault("platform", "slack")
    kwargs.setdefault("workspace", "T1")
    kwargs.setdefault("kinds", ("quarter_end", "drift", "vol"))
    subscription, _ = await store.add_subscription(channel=channel, asset=asset, **kwargs)
    return subscription


def new_alert(key: str = "quarter_end:BTC:2026Q1:4", ids=(), **kwargs) -> NewAlert:
    kind, asset = key.split(":")[:2]
    return NewAlert(
        dedupe_key=key,
        kind=kind,
        asset=asset,
        as_of=kwargs.pop("as_of", dt.date(2026, 3, 31)),
        title=kwargs.pop("title", f"{asset}: quarter-end rebalancing"),
        content=kwargs.pop("content", {"blocks": [{"text": "Sell ~$1.2bn"}]}),
        subscription_ids=tuple(ids),
        **kwargs,
    )


# ---------------------------------------------------------------------- URLs


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@host:5432/db", "postgresql+asyncpg://u:p@host:5432/db"),
        ("postgresql://u:p@host/db", "postgresql+asyncpg://u:p@host/db"),
        ("postgresql+psycopg2://u@host/db", "postgresql+asyncpg://u@host/db"),
        ("postgresql+asyncpg://u@host/db", "postgresql+asyncpg://u@host/db"),
        ("postgresql+psycopg://u@host/db", "postgresql+psycopg://u@host/db"),
        ("postgres://u@host/db?sslmode=require", "postgresql+asyncpg://u@host/db?ssl=require"),
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite:////abs/path/x.db", "sqlite+aiosqlite:////abs/path/x.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite://", "sqlite+aiosqlite://"),
        ("  sqlite:///x.db\n", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_normalize_database_url(given, expected):
    assert normalize_database_url(given) == expected


def test_password_with_special_characters_survives_normalisation():
    url = "postgres://user:p%40ss%2Fw0rd@db.example.com:5432/flows"
    assert normalize_database_url(url) == (
        "postgresql+asyncpg://user:p%40ss%2Fw0rd@db.example.com:5432/flows"
    )


def test_database_url_from_env():
    assert database_url_from_env({}) == DEFAULT_DATABASE_URL == "sqlite+aiosqlite:///flows-bot.db"
    assert database_url_from_env({"DATABASE_URL": "postgres://u@h/d"}) == (
        "postgresql+asyncpg://u@h/d"
    )
    with pytest.raises(ValueError):
        normalize_database_url("   ")


# ---------------------------------------------------------------------- migrations


async def test_migrations_build_the_schema_from_empty(database_url):
    assert await current_revision(database_url) is None
    assert await upgrade_database(database_url) == head_revision()
    assert await current_revision(database_url) == head_revision()
    assert {
        "subscriptions",
        "channel_settings",
        "monitor_state",
        "alerts",
        "deliveries",
        "bar_cache",
        "alembic_version",
    } <= await table_names(database_url)


async def test_migrated_schema_matches_the_models(database_url):
    """Alembic autogenerate finds nothing to do: migrations and models never drift apart."""
    await upgrade_database(database_url)
    engine = create_engine(database_url)

    def diff(models: sa.MetaData):
        def compare(connection):
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(context, models)

        return compare

    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(diff(metadata)) == []

            # And the comparison is not vacuous: a model change would be reported.
            changed = sa.MetaData(naming_convention=metadata.naming_convention)
            for table in metadata.sorted_tables:
                table.to_metadata(changed)
            changed.tables["alerts"].append_column(sa.Column("extra", sa.Integer))
            differences = await connection.run_sync(diff(changed))
            assert [d[0] for d in differences] == ["add_column"]
    finally:
        await engine.dispose()


async def test_upgrade_is_idempotent_and_keeps_rows(database_url):
    store = await Store.open(database_url)
    try:
        subscription = await add(store)
        await store.record_alert(**_alert_fields(), subscription_ids=[subscription.id], now=NOW)
    finally:
        await store.close()
    assert await upgrade_database(database_url) == head_revision()
    assert await upgrade_database(database_url) == head_revision()
    store = await Store.open(database_url)
    try:
        assert [s.id for s in await store.active_subscriptions_for("BTC")] == [subscription.id]
        assert await store.pending_count() == 1
    finally:
        await store.close()


OLDER_REVISIONS = ["0001", "0002", "0003", "0004", "0005", "0007", "0008", "0009", "0010", "0011"]


@pytest.mark.parametrize("revision", OLDER_REVISIONS)
async def test_upgrade_from_an_older_revision_keeps_rows(database_url, revision):
    """A database left at an older revision, with rows in every table, reaches head intact."""
    assert await upgrade_database(database_url, revision) == revision
    created = NOW.replace(tzinfo=None) if database_url.startswith("sqlite") else NOW
    await run_sql(
        database_url,
        'INSERT INTO subscriptions (platform, workspace, channel, "user", asset, kinds, '
        "created_by, created_at, status) "
        "VALUES ('discord', 'G1', 'C9', '', 'ETH', 'vol', 'U1', :created, 'active')",
        "INSERT INTO alerts (dedupe_key, kind, asset, as_of, created_at, title, summary, content) "
        "VALUES ('vol:ETH:2026-03-31:high', 'vol', 'ETH', '2026-03-31', :created, 'ETH vol', '', "
        '\'{"text": "vol up"}\')',
        'INSERT INTO deliveries (alert_id, subscription_id, platform, workspace, channel, "user", '
        "status, attempts, next_attempt_at, created_at) "
        "SELECT a.id, s.id, 'discord', 'G1', 'C9', '', 'pending', 2, :created, :created "
        "FROM alerts a, subscriptions s",
        "INSERT INTO monitor_state (kind, asset, state, updated_at) "
        "VALUES ('vol', 'ETH', '{\"regime\": \"high\"}', :created)",
        "INSERT INTO bar_cache (source, symbol, date, open, high, low, close, volume, adj_close, "
        "fetched_at) VALUES ('sample', 'ETH', '2026-03-31', 1, 2, 0.5, 1.5, 10, 1.5, :created)",
        params={"created": created},
    )

    store = await Store.open(database_url)  # migrates to head
    try:
        assert await current_revision(database_url) == head_revision()
        (subscription,) = await store.active_subscriptions_for("ETH")
        assert (subscription.platform, subscription.channel, subscription.alert_kinds) == (
            "discord",
            "C9",
            ("vol",),
        )
        assert (await store.get_subscription(subscription.id)).created_at == NOW
        ((delivery, alert),) = await store.due_deliveries(NOW)
        assert (alert.content_data, delivery.attempts, delivery.next_attempt_at) == (
            {"text": "vol up"},
            2,
            NOW,
        )
        assert delivery.attempt_started_at is None
        assert await store.get_state("vol", "ETH") == {"regime": "high"}
        bars = await store.load_bars("sample", "ETH", dt.date(2026, 3, 31), dt.date(2026, 3, 31))
        assert bars["close"].tolist() == [1.5]
        # What the newer revisions added works on the upgraded database.
        await store.mute_channel(
            platform="discord", workspace="G1", channel="C9", until=NOW + dt.timedelta(hours=1)
        )
        assert await store.is_muted(platform="discord", workspace="G1", channel="C9", now=NOW)
        assert await store.begin_attempt(delivery.id, now=NOW)
        assert [d.id for d, _ in await store.in_flight_deliveries()] == [delivery.id]
    finally:
        await store.close()


async def test_migrations_downgrade_to_empty_and_back(database_url):
    await upgrade_database(database_url)
    engine = create_engine(database_url, for_migrations=True)

    def downgrade(connection):
        config = alembic_config()
        config.attributes["connection"] = connection
        command.downgrade(config, "base")

    try:
        async with engine.begin() as connection:
            await connection.run_sync(downgrade)
    finally:
        await engine.dispose()
    assert await table_names(database_url) <= {"alembic_version"}
    assert await upgrade_database(database_url) == head_revision()


async def test_migration_scripts_are_packaged_next_to_the_code():
    config = alembic_config()
    location = config.get_main_option("script_location")
    assert location is not None and location.endswith("migrations")
    script = ScriptDirectory.from_config(config)
    chain = [r.revision for r in reversed(list(script.walk_revisions()))]
    assert chain == [*OLDER_REVISIONS, head_revision()]  # one linear history, numbered in order
    assert chain == sorted(chain)


# ---------------------------------------------------------------------- connections


async def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite pragmas")
    store = await Store.open(database_url)
    try:
        async with store.engine.connect() as connection:
            pragmas = {
                name: (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            }
    finally:
        await store.close()
    assert pragmas["journal_mode"] == "wal"
    assert pragmas["foreign_keys"] == 1
    assert pragmas["busy_timeout"] >= 1000


async def test_foreign_keys_are_enforced(store, database_url):
    # Deliveries carry no foreign keys (migration 0012); the live record's alert still does.
    with pytest.raises(IntegrityError):
        await run_sql(
            database_url,
            "INSERT INTO live_records (dedupe_key, alert_id, alert_kind, asset, estimate_as_of, "
            "window_start, window_end, estimated_trade_usd, direction, data_source, recorded_at) "
            "VALUES ('k', 4242, 'drift', 'BTC', '2026-03-31', '2026-03-31', '2026-03-31', 1.0, "
            "'buy', 'sample', :now)",
            params={"now": NOW.replace(tzinfo=None)},
        )


async def test_in_memory_sqlite_store_works():
    async with await Store.open("sqlite://") as store:
        await add(store)
        assert await store.watched_assets() == {"BTC"}


async def test_timestamps_come_back_aware_utc_and_naive_ones_are_refused(store):
    subscription, _ = await store.add_subscription(
        platform="console",
        channel="console",
        asset="SPY",
        kinds="drift",
        now=dt.datetime(2026, 3, 31, 16, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
    )
    stored = await store.get_subscription(subscription.id)
    assert stored.created_at == dt.datetime(2026, 3, 31, 14, 0, tzinfo=dt.UTC)
    assert stored.created_at.tzinfo == dt.UTC
    with pytest.raises(Exception, match="naive datetime"):
        await store.add_subscription(
            platform="console",
            channel="console",
            asset="QQQ",
            kinds="drift",
            now=dt.datetime(2026, 3, 31, 14, 0),
        )


# ---------------------------------------------------------------------- subscriptions


async def test_watching_twice_creates_one_subscription_and_changes_nothing(store):
    first, created = await store.add_subscription(
        platform="slack",
        workspace="T1",
        channel="C1",
        asset="BTC",
        kinds=["quarter_end", "drift"],
        threshold_usd=5e8,
        created_by="U1",
        now=NOW,
    )
    assert created
    assert first.alert_kinds == ("quarter_end", "drift")
    assert first.kinds == "quarter_end,drift"
    again, created = await store.add_subscription(
        platform="slack",
        workspace="T1",
        channel="C1",
        asset="BTC",
        kinds=["vol"],
        threshold_usd=1.0,
        created_by="U2",
        now=NOW + dt.timedelta(days=1),
    )
    assert not created
    assert again.id == first.id
    assert (again.kinds, again.threshold_usd, again.created_by, again.created_at) == (
        "quarter_end,drift",
        5e8,
        "U1",
        NOW,
    )
    assert len(await store.list_subscriptions(platform="slack", workspace="T1", channel="C1")) == 1


async def test_subscriptions_are_per_channel_user_and_asset(store):
    await add(store, "C1", "BTC")
    await add(store, "C1", "ETH")
    await add(store, "C2", "BTC")
    await add(store, "D1", "BTC", user="U1")
    await add(store, "C1", "BTC", workspace="T2")
    await add(store, "C1", "BTC", platform="discord")
    listed = await store.list_subscriptions(platform="slack", workspace="T1", channel="C1")
    assert [s.asset for s in listed] == ["BTC", "ETH"]
    dm = await store.list_subscriptions(platform="slack", workspace="T1", channel="D1", user="U1")
    assert [(s.asset, s.user) for s in dm] == [("BTC", "U1")]
    assert await store.watched_assets() == {"BTC", "ETH"}
    assert len(await store.active_subscriptions_for("BTC")) == 5


async def test_subscription_input_is_validated(store):
    with pytest.raises(ValueError, match="platform"):
        await add(store, platform="telegram")
    with pytest.raises(ValueError, match="kind"):
        await add(store, kinds=[])
    with pytest.raises(ValueError, match="threshold"):
        await add(store, threshold_usd=-1)
    with pytest.raises(ValueError, match="channel"):
        await add(store, channel=" ")


async def test_update_subscription(store):
    subscription = await add(store, threshold_usd=1e9)
    updated = await store.update_subscription(
        subscription.id, kinds="vol,letf", threshold_pct_adv=5.0
    )
    assert updated.alert_kinds == ("vol", "letf")
    assert (updated.threshold_usd, updated.threshold_pct_adv) == (1e9, 5.0)
    cleared = await store.update_subscription(subscription.id, threshold_usd=None)
    assert cleared.threshold_usd is None
    assert await store.update_subscription(999, kinds="vol") is None


async def test_remove_subscriptions_one_asset_or_all(store):
    await add(store, "C1", "BTC")
    await add(store, "C1", "ETH")
    await add(store, "C1", "SPY")
    await add(store, "D1", "BTC", user="U1")
    target = {"platform": "slack", "workspace": "T1", "channel": "C1"}
    assert await store.remove_subscriptions(**target, asset="BTC") == 1
    assert await store.remove_subscriptions(**target, asset="BTC") == 0
    assert await store.remove_subscriptions(**target) == 2
    assert await store.list_subscriptions(**target) == []
    assert await store.watched_assets() == {"BTC"}  # the DM subscription is untouched


async def test_active_subscriptions_by_asset_filters_status_kind_and_mutes(store):
    btc = await add(store, "C1", "BTC", kinds="quarter_end")
    vol = await add(store, "C2", "BTC", kinds="vol")
    muted = await add(store, "C3", "BTC", kinds="quarter_end,vol")
    broken = await add(store, "C4", "BTC", kinds="quarter_end")
    eth = await add(store, "C1", "ETH", kinds="quarter_end")
    await store.mark_subscription_broken(broken.id, "channel_not_found")
    await store.mute_channel(
        platform="slack", workspace="T1", channel="C3", until=NOW + dt.timedelta(hours=2)
    )

    found = await store.active_subscriptions_by_asset(
        ["BTC", "ETH", "SOL"], kind="quarter_end", now=NOW
    )
    assert {asset: [s.id for s in subs] for asset, subs in found.items()} == {
        "BTC": [btc.id],
        "ETH": [eth.id],
        "SOL": [],
    }
    with_muted = await store.active_subscriptions_for(
        "BTC", kind="quarter_end", include_muted=True, now=NOW
    )
    assert [s.id for s in with_muted] == [btc.id, muted.id]
    after_mute = await store.active_subscriptions_for(
        "BTC", kind="quarter_end", now=NOW + dt.timedelta(hours=3)
    )
    assert [s.id for s in after_mute] == [btc.id, muted.id]

    # Grouped by kind (what a monitor tick reads): the same rules.
    by_kind = await store.active_subscriptions_by_kind(["BTC", "ETH", "SOL"], now=NOW)
    assert {
        asset: {kind: [s.id for s in subs] for kind, subs in kinds.items()}
        for asset, kinds in by_kind.items()
    } == {
        "BTC": {"quarter_end": [btc.id], "vol": [vol.id]},
        "ETH": {"quarter_end": [eth.id]},
        "SOL": {},
    }
    later = await store.active_subscriptions_by_kind(["BTC"], now=NOW + dt.timedelta(hours=3))
    assert [s.id for s in later["BTC"]["vol"]] == [vol.id, muted.id]


async def test_active_subscriptions_held_in_memory_follow_every_write(store, database_url):
    """The snapshot a monitor reads is refreshed by writes from this store and from another
    process (a second Store on the same database), and by nothing else."""
    other = await Store.open(database_url)
    try:

        async def seen() -> dict[str, list[tuple[int, tuple[str, ...]]]]:
            found = await store.active_subscriptions_by_asset(["BTC", "ETH"], now=NOW)
            return {a: [(s.id, s.alert_kinds) for s in subs] for a, subs in found.items()}

        first = await add(store, "C1", "BTC", kinds="vol")
        assert await seen() == {"BTC": [(first.id, ("vol",))], "ETH": []}
        second = await add(other, "C2", "ETH", kinds="drift")
        assert await seen() == {"BTC": [(first.id, ("vol",))], "ETH": [(second.id, ("drift",))]}
        assert await store.watched_assets() == {"BTC", "ETH"}
        await other.update_subscription(first.id, kinds="quarter_end")
        assert (await seen())["BTC"] == [(first.id, ("quarter_end",))]
        await other.mark_subscription_broken(first.id, "channel_not_found")
        assert (await seen())["BTC"] == []
        await other.add_subscription(
            platform="slack", workspace="T1", channel="C1", asset="BTC", kinds="vol"
        )  # watching again revives it
        assert (await seen())["BTC"] == [(first.id, ("quarter_end",))]
        await other.mark_channel_broken(platform="slack", workspace="T1", channel="C2", reason="x")
        assert (await seen())["ETH"] == []
        await other.remove_subscriptions(platform="slack", workspace="T1", channel="C1")
        assert await seen() == {"BTC": [], "ETH": []}
        assert await store.watched_assets() == set()
        # Mutes are read fresh each time, and expire by the clock alone.
        await add(other, "C3", "ETH")
        await other.mute_channel(
            platform="slack", workspace="T1", channel="C3", until=NOW + dt.timedelta(hours=1)
        )
        assert (await seen())["ETH"] == []
        later = await store.active_subscriptions_for("ETH", now=NOW + dt.timedelta(hours=2))
        assert [s.channel for s in later] == ["C3"]
    finally:
        await other.close()


async def test_active_subscription_lists_are_copies(store):
    await add(store, "C1", "BTC")
    found = await store.active_subscriptions_for("BTC", now=NOW)
    found.clear()
    assert len(await store.active_subscriptions_for("BTC", now=NOW)) == 1


async def test_mute_and_unmute_a_channel(store):
    channel = {"platform": "discord", "workspace": "G1", "channel": "C1"}
    assert not await store.is_muted(**channel, now=NOW)
    await store.mute_channel(**channel, until=NOW + dt.timedelta(hours=4), now=NOW)
    assert await store.is_muted(**channel, now=NOW)
    assert await store.muted_until(**channel, now=NOW) == NOW + dt.timedelta(hours=4)
    assert not await store.is_muted(**channel, now=NOW + dt.timedelta(hours=4))
    assert not await store.is_muted(platform="discord", workspace="G1", channel="C2", now=NOW)
    await store.unmute_channel(**channel)
    assert not await store.is_muted(**channel, now=NOW)


async def test_rewatching_a_broken_subscription_reactivates_it(store):
    subscription = await add(store)
    await store.mark_subscription_broken(subscription.id, "not_in_channel")
    assert (await store.get_subscription(subscription.id)).status == "broken"
    assert await store.watched_assets() == set()
    again, created = await store.add_subscription(
        platform="slack", workspace="T1", channel="C1", asset="BTC", kinds="vol"
    )
    assert not created
    assert (again.id, again.status, again.broken_reason) == (subscription.id, "active", None)


# ---------------------------------------------------------------------- monitor state


async def test_monitor_state_round_trip_and_bulk(store):
    assert await store.get_state("quarter_end", "BTC") is None
    await store.set_state("quarter_end", "BTC", {"step": 3, "period": "2026Q1"}, now=NOW)
    assert await store.get_state("quarter_end", "BTC") == {"step": 3, "period": "2026Q1"}
    await store.set_state("quarter_end", "BTC", {"step": 4, "as_of": dt.date(2026, 3, 31)})
    assert await store.get_state("quarter_end", "BTC") == {"step": 4, "as_of": "2026-03-31"}
    assert await store.get_state("drift", "BTC") is None

    assets = [f"A{i}" for i in range(60)]
    await store.set_states("vol", {asset: {"regime": i % 3} for i, asset in enumerate(assets)})
    states = await store.get_states("vol", [*assets, "missing"])
    assert len(states) == 60
    assert states["A4"] == {"regime": 1}
    await store.set_states("vol", {"A4": {"regime": 2}})
    assert (await store.get_states("vol", ["A4", "A5"])) == {
        "A4": {"regime": 2},
        "A5": {"regime": 2},
    }


# ---------------------------------------------------------------------- the outbox


def _alert_fields(key: str = "quarter_end:BTC:2026Q1:4") -> dict:
    alert = new_alert(key)
    return {
        "dedupe_key": alert.dedupe_key,
        "kind": alert.kind,
        "asset": alert.asset,
        "as_of": alert.as_of,
        "title": alert.title,
        "content": alert.content,
        "summary": "Pension funds sell equities into quarter-end",
        "trade_usd": -1.2e9,
        "direction": "sell",
    }


async def test_record_alert_writes_alert_and_one_delivery_per_subscription(store):
    subs = [await add(store, f"C{i}") for i in range(3)]
    dm = await add(store, "D1", user="U7", platform="discord", workspace="")
    ids = [s.id for s in subs] + [dm.id, subs[0].id]  # a repeated id counts once
    alert, created = await store.record_alert(**_alert_fields(), subscription_ids=ids, now=NOW)
    assert created
    assert isinstance(alert, Alert)
    assert alert.content_data == {"blocks": [{"text": "Sell ~$1.2bn"}]}
    assert (alert.trade_usd, alert.direction, alert.created_at) == (-1.2e9, "sell", NOW)
    deliveries = await store.deliveries_for(alert.id)
    assert [d.subscription_id for d in deliveries] == [s.id for s in subs] + [dm.id]
    assert {d.status for d in deliveries} == {"pending"}
    assert {d.next_attempt_at for d in deliveries} == {NOW}
    assert (deliveries[-1].platform, deliveries[-1].channel, deliveries[-1].user) == (
        "discord",
        "D1",
        "U7",
    )
    assert await store.pending_count() == 4


async def test_record_alert_is_idempotent_by_dedupe_key(store):
    first = await add(store, "C1")
    second = await add(store, "C2")
    alert, created = await store.record_alert(
        **_alert_fields(), subscription_ids=[first.id], now=NOW
    )
    assert created
    again, created = await store.record_alert(
        **{**_alert_fields(), "title": "changed"},
        subscription_ids=[first.id, second.id],
        now=NOW + dt.timedelta(minutes=5),
    )
    assert not created
    assert (again.id, again.title, again.created_at) == (alert.id, alert.title, NOW)
    assert [d.subscription_id for d in await store.deliveries_for(alert.id)] == [first.id]
    assert await store.pending_count() == 1


async def _fail_delivery_inserts_for(url: str, subscription_id: int) -> None:
    """A trigger that makes the database refuse one delivery row."""
    if url.startswith("sqlite"):
        await run_sql(
            url,
            "CREATE TRIGGER refuse_delivery BEFORE INSERT ON deliveries "
            f"WHEN NEW.subscription_id = {subscription_id} "
            "BEGIN SELECT RAISE(ABORT, 'delivery refused'); END",
        )
    else:
        await run_sql(
            url,
            "CREATE FUNCTION refuse_delivery() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'delivery refused'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse_delivery BEFORE INSERT ON deliveries FOR EACH ROW "
            f"WHEN (NEW.subscription_id = {subscription_id}) EXECUTE FUNCTION refuse_delivery()",
        )


async def test_record_alert_is_atomic(store, database_url):
    """If a delivery cannot be written, the alert (and its monitor state) are not either."""
    good = await add(store, "C1")
    bad = await add(store, "C2")
    await _fail_delivery_inserts_for(database_url, bad.id)
    with pytest.raises(sa.exc.DBAPIError, match="delivery refused"):
        await store.record_alerts(
            [new_alert(ids=[good.id, bad.id]), new_alert("drift:ETH:2026-03-31:1", [good.id])],
            monitor_states={("quarter_end", "BTC"): {"step": 4}},
            now=NOW,
        )
    assert await store.get_alert("quarter_end:BTC:2026Q1:4") is None
    assert await store.get_alert("drift:ETH:2026-03-31:1") is None
    assert await store.pending_count() == 0
    assert await store.get_state("quarter_end", "BTC") is None
    # Once the database accepts the delivery, the same call goes through.
    await run_sql(
        database_url,
        "DROP TRIGGER refuse_delivery"
        + ("" if database_url.startswith("sqlite") else " ON deliveries"),
    )
    (alert, created), _ = await store.record_alerts(
        [new_alert(ids=[good.id, bad.id]), new_alert("drift:ETH:2026-03-31:1", [good.id])],
        now=NOW,
    )
    assert created and len(await store.deliveries_for(alert.id)) == 2


async def test_record_alert_skips_subscriptions_removed_or_broken_meanwhile(store):
    kept = await add(store, "C1")
    removed = await add(store, "C2")
    broken = await add(store, "C3")
    await store.remove_subscriptions(platform="slack", workspace="T1", channel="C2")
    await store.mark_subscription_broken(broken.id, "is_archived")
    alert, created = await store.record_alert(
        **_alert_fields(), subscription_ids=[kept.id, removed.id, broken.id, 987654], now=NOW
    )
    assert created
    assert [d.subscription_id for d in await store.deliveries_for(alert.id)] == [kept.id]


async def test_record_alerts_in_bulk_with_monitor_state(store):
    subs = [await add(store, f"C{i}", "BTC") for i in range(5)]
    eth = await add(store, "C1", "ETH")
    existing, _ = await store.record_alert(
        **_alert_fields("vol:BTC:2026-03-30:high"), subscription_ids=[subs[0].id], now=NOW
    )
    results = await store.record_alerts(
        [
            new_alert("quarter_end:BTC:2026Q1:4", [s.id for s in subs]),
            new_alert("vol:BTC:2026-03-30:high", [s.id for s in subs]),
            new_alert("drift:ETH:2026-03-31:2", [eth.id]),
            new_alert("quarter_end:BTC:2026Q1:4", [eth.id]),  # repeated in the batch
        ],
        monitor_states={("quarter_end", "BTC"): {"step": 4}, ("drift", "ETH"): {"band": 2}},
        now=NOW,
    )
    assert [created for _, created in results] == [True, False, True, False]
    assert results[1][0].id == existing.id
    assert results[3][0].id == results[0][0].id
    assert len(await store.deliveries_for(results[0][0].id)) == 5
    assert len(await store.deliveries_for(existing.id)) == 1
    assert await store.pending_count() == 5 + 1 + 1
    assert await store.get_state("quarter_end", "BTC") == {"step": 4}
    assert await store.get_state("drift", "ETH") == {"band": 2}


async def test_content_must_be_json(store):
    with pytest.raises(ValueError):
        await store.record_alert(**{**_alert_fields(), "content": "not json"}, subscription_ids=[])
    alert, _ = await store.record_alert(
        **{**_alert_fields(), "content": '{"text": "hi"}'}, subscription_ids=[]
    )
    assert alert.content_data == {"text": "hi"}


async def test_due_deliveries_order_limit_and_backoff(store):
    subs = [await add(store, f"C{i}") for i in range(3)]
    ids = [s.id for s in subs]
    early, _ = await store.record_alert(
        **_alert_fields("vol:BTC:d1:high"), subscription_ids=ids, now=NOW
    )
    late, _ = await store.record_alert(
        **_alert_fields("vol:BTC:d2:high"),
        subscription_ids=ids[:1],
        now=NOW + dt.timedelta(minutes=1),
    )
    assert await store.due_deliveries(NOW - dt.timedelta(seconds=1)) == []
    due = await store.due_deliveries(NOW + dt.timedelta(minutes=1))
    assert [(d.alert_id, d.subscription_id) for d, _ in due] == [
        (early.id, ids[0]),
        (early.id, ids[1]),
        (early.id, ids[2]),
        (late.id, ids[0]),
    ]
    assert all(alert.id == delivery.alert_id for delivery, alert in due)
    assert due[-1][1].dedupe_key == "vol:BTC:d2:high"
    assert len(await store.due_deliveries(NOW + dt.timedelta(minutes=1), limit=2)) == 2

    first = due[0][0]
    retry_at = NOW + dt.timedelta(seconds=30)
    assert await store.mark_retry(first.id, "ratelimited (Retry-After 30)", retry_at)
    order = [d.id for d, _ in await store.due_deliveries(NOW + dt.timedelta(minutes=1))]
    assert order == [due[1][0].id, due[2][0].id, first.id, due[3][0].id]
    assert first.id not in [d.id for d, _ in await store.due_deliveries(NOW)]
    (retried,) = [d for d in await store.deliveries_for(early.id) if d.id == first.id]
    assert (retried.attempts, retried.status, retried.next_attempt_at) == (1, "pending", retry_at)
    assert retried.last_error == "ratelimited (Retry-After 30)"


async def test_mark_sent_and_failed_settle_a_delivery_once(store):
    subs = [await add(store, f"C{i}") for i in range(3)]
    alert, _ = await store.record_alert(
        **_alert_fields(), subscription_ids=[s.id for s in subs], now=NOW
    )
    one, two, three = await store.deliveries_for(alert.id)
    sent_at = NOW + dt.timedelta(seconds=2)
    assert await store.mark_sent(one.id, "1700000000.000100", now=sent_at)
    assert not await store.mark_sent(one.id, "again")
    assert await store.mark_failed(two.id, "channel_not_found")
    assert not await store.mark_retry(two.id, "late", NOW)
    assert await store.pending_count() == 1
    assert await store.delivery_counts() == {"pending": 1, "sent": 1, "failed": 1}
    one, two, three = await store.deliveries_for(alert.id)
    assert (one.status, one.platform_message_id, one.sent_at, one.attempts) == (
        "sent",
        "1700000000.000100",
        sent_at,
        1,
    )
    assert (two.status, two.last_error, two.attempts) == ("failed", "channel_not_found", 1)
    assert [d.id for d, _ in await store.due_deliveries(NOW)] == [three.id]


async def test_attempts_in_flight_are_remembered_until_settled(store):
    """begin_attempt marks a send in progress; after a crash those deliveries are listed (and
    still due, to be resent unless the platform has them); any outcome clears the mark."""
    subs = [await add(store, f"C{i}") for i in range(4)]
    alert, _ = await store.record_alert(
        **_alert_fields(), subscription_ids=[s.id for s in subs], now=NOW
    )
    deliveries = await store.deliveries_for(alert.id)
    assert await store.in_flight_deliveries() == []
    for delivery in deliveries:
        assert await store.begin_attempt(delivery.id, now=NOW)
    in_flight = await store.in_flight_deliveries()
    assert [d.id for d, _ in in_flight] == [d.id for d in deliveries]
    assert in_flight[0][0].attempt_started_at == NOW
    assert in_flight[0][1].dedupe_key == alert.dedupe_key
    assert len(await store.due_deliveries(NOW)) == 4  # a crash must not strand them

    one, two, three, four = deliveries
    await store.mark_sent(one.id, "m1")
    await store.mark_retry(two.id, "timeout", NOW + dt.timedelta(seconds=4))
    await store.mark_failed(three.id, "channel_not_found")
    assert [d.id for d, _ in await store.in_flight_deliveries()] == [four.id]
    settled = {d.id: d for d in await store.deliveries_for(alert.id)}
    assert [settled[d.id].attempts for d in deliveries] == [1, 1, 1, 0]
    assert settled[two.id].attempt_started_at is None
    assert not await store.begin_attempt(one.id)  # already sent


async def test_broken_subscription_fails_its_pending_deliveries(store):
    target = await add(store, "C1")
    other = await add(store, "C2")
    sent_alert, _ = await store.record_alert(
        **_alert_fields("vol:BTC:d1:high"), subscription_ids=[target.id], now=NOW
    )
    (sent,) = await store.deliveries_for(sent_alert.id)
    await store.mark_sent(sent.id, "m1")
    alert, _ = await store.record_alert(
        **_alert_fields(), subscription_ids=[target.id, other.id], now=NOW
    )
    assert await store.mark_subscription_broken(target.id, "missing_access") == 1
    by_sub = {d.subscription_id: d for d in await store.deliveries_for(alert.id)}
    assert by_sub[target.id].status == "failed"
    assert "missing_access" in by_sub[target.id].last_error
    assert by_sub[other.id].status == "pending"
    assert (await store.deliveries_for(sent_alert.id))[0].status == "sent"
    broken = await store.get_subscription(target.id)
    assert (broken.status, broken.broken_reason) == ("broken", "missing_access")
    assert [d.subscription_id for d, _ in await store.due_deliveries(NOW)] == [other.id]


async def test_broken_channel_breaks_all_its_subscriptions(store):
    a = await add(store, "C1", "BTC")
    b = await add(store, "C1", "ETH")
    elsewhere = await add(store, "C2", "BTC")
    await store.record_alert(
        **_alert_fields(), subscription_ids=[a.id, b.id, elsewhere.id], now=NOW
    )
    assert (
        await store.mark_channel_broken(
            platform="slack", workspace="T1", channel="C1", reason="403 Missing Access"
        )
        == 2
    )
    assert [d.subscription_id for d, _ in await store.due_deliveries(NOW)] == [elsewhere.id]
    assert [s.id for s in await store.active_subscriptions_for("BTC")] == [elsewhere.id]


async def test_removing_a_subscription_keeps_delivery_history(store):
    subscription = await add(store, "C1")
    alert, _ = await store.record_alert(
        **_alert_fields(), subscription_ids=[subscription.id], now=NOW
    )
    await store.remove_subscriptions(platform="slack", workspace="T1", channel="C1")
    (delivery,) = await store.deliveries_for(alert.id)
    assert (delivery.subscription_id, delivery.status, delivery.channel) == (None, "failed", "C1")
    assert delivery.last_error == "subscription removed"
    assert await store.pending_count() == 0


async def test_defer_channel_pushes_its_pending_deliveries(store):
    c1 = await add(store, "C1")
    c2 = await add(store, "C2")
    await store.record_alert(**_alert_fields(), subscription_ids=[c1.id, c2.id], now=NOW)
    until = NOW + dt.timedelta(seconds=20)
    assert (
        await store.defer_channel(platform="slack", workspace="T1", channel="C1", until=until) == 1
    )
    assert [d.subscription_id for d, _ in await store.due_deliveries(NOW)] == [c2.id]
    assert [d.subscription_id for d, _ in await store.due_deliveries(until)] == [c2.id, c1.id]


# ---------------------------------------------------------------------- bar cache


def _bars(start: str, periods: int, scale: float = 1.0) -> pd.DataFrame:
    index = pd.DatetimeIndex(pd.bdate_range(start, periods=periods), name="date")
    close = pd.Series(range(100, 100 + periods), index=index, dtype="float64") * scale
    return pd.DataFrame(
        {
            "open": close - 0.5,
            "high": close + 1.0,
            "low": close - 1.0,
            "close": close,
            "volume": 1e6,
            "adj_close": close * 0.99,
        },
        index=index,
    )


def test_bar_columns_match_the_market_data_contract():
    assert (*FLOW_BAR_COLUMNS, "adj_close") == BAR_COLUMNS


async def test_bar_cache_round_trip_and_upsert(store):
    frame = _bars("2026-01-05", 10)
    assert await store.save_bars("csv:/data", "SPY", frame, now=NOW) == 10
    loaded = await store.load_bars("csv:/data", "SPY", dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    pd.testing.assert_frame_equal(loaded, frame, check_index_type=False, check_freq=False)
    assert loaded.index.name == "date"
    assert isinstance(loaded.index, pd.DatetimeIndex) and loaded.index.tz is None
    assert list(loaded.dtypes) == ["float64"] * 6

    window = await store.load_bars("csv:/data", "SPY", dt.date(2026, 1, 7), dt.date(2026, 1, 9))
    assert [d.date() for d in window.index] == [dt.date(2026, 1, d) for d in (7, 8, 9)]

    # Upsert: overlapping dates are replaced, new ones added; other sources are separate.
    newer = _bars("2026-01-12", 10, scale=2.0).drop(columns="adj_close")
    later = NOW + dt.timedelta(days=1)
    assert await store.save_bars("csv:/data", "SPY", newer, now=later) == 10
    loaded = await store.load_bars("csv:/data", "SPY", dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    assert len(loaded) == 15
    assert loaded.loc["2026-01-12", "close"] == 200.0
    assert loaded.loc["2026-01-12", "adj_close"] == 200.0  # defaults to close
    assert loaded.loc["2026-01-09", "close"] == 104.0
    assert (
        await store.load_bars("sample", "SPY", dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    ).empty

    coverage = await store.bar_coverage("csv:/data", "SPY")
    assert (coverage.first, coverage.last, coverage.count) == (
        dt.date(2026, 1, 5),
        dt.date(2026, 1, 23),
        15,
    )
    assert coverage.fetched_at == later
    assert await store.bar_coverage("csv:/data", "QQQ") is None


async def test_bar_cache_empty_frame_and_bad_input(store):
    empty = await store.load_bars("live", "BTC", dt.date(2026, 1, 1), dt.date(2026, 1, 31))
    assert empty.empty and list(empty.columns) == list(BAR_COLUMNS)
    assert empty.index.name == "date"
    assert await store.save_bars("live", "BTC", _bars("2026-01-05", 0)) == 0
    broken = _bars("2026-01-05", 3)
    broken.iloc[1, 3] = float("nan")
    with pytest.raises(ValueError, match="missing"):
        await store.save_bars("live", "BTC", broken)
    with pytest.raises(ValueError, match="lack"):
        await store.save_bars("live", "BTC", _bars("2026-01-05", 3).drop(columns="volume"))


async def test_bar_cache_accepts_a_tz_aware_index(store):
    frame = _bars("2026-01-05", 3)
    frame.index = frame.index.tz_localize("UTC")
    await store.save_bars("ccxt:binance", "BTC", frame)
    loaded = await store.load_bars("ccxt:binance", "BTC", dt.date(2026, 1, 5), dt.date(2026, 1, 7))
    assert [d.date() for d in loaded.index] == [dt.date(2026, 1, d) for d in (5, 6, 7)]


# ---------------------------------------------------------------------- concurrency


async def test_concurrent_writers_share_one_store(store):
    """The scheduler, the dispatcher and the adapters write at once: no 'database is locked'."""
    subs = [await add(store, f"C{i}") for i in range(20)]
    ids = [s.id for s in subs]

    async def monitor(n: int) -> None:
        await store.record_alerts(
            [new_alert(f"vol:BTC:d{n}:high", ids)],
            monitor_states={("vol", "BTC"): {"n": n}},
            now=NOW,
        )

    async def command(n: int) -> None:
        await store.add_subscription(
            platform="discord", workspace="G1", channel=f"X{n}", asset="ETH", kinds="vol"
        )

    await asyncio.gather(*(monitor(n) for n in range(10)), *(command(n) for n in range(10)))
    due = await store.due_deliveries(NOW, limit=1000)
    await asyncio.gather(*(store.mark_sent(d.id, f"m{d.id}", now=NOW) for d, _ in due[:50]))
    assert await store.delivery_counts() == {"pending": 150, "sent": 50, "failed": 0}
    assert len(await store.active_subscriptions_for("ETH")) == 10
