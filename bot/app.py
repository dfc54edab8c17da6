"""`flows-bot run`: one asyncio process with the scheduler, the dispatcher and the chat adapters."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import logging
import signal
import sys
from collections.abc import Callable

from bot.adapters.base import ChatAdapter
from bot.commands.service import CommandService
from bot.dispatcher import Dispatcher
from bot.monitors.positioning import run_positioning_tick
from bot.monitors.tick import TickResult, run_letf_tick, run_tick
from bot.settings import Settings
from flows.funds import FundRegistry, load_registry
from flows.marketdata import MarketData, open_source

log = logging.getLogger(__name__)

LAST_TICK = ("_scheduler", "monitors")
SUBSCRIBE_CHECK_DELAY = 1.0
"""Seconds to wait after a watch before checking, so a burst of watches shares one check."""


def freeze_startup_heap() -> None:
    """Take everything alive after start-up (modules, pandas, SQLAlchemy, adapters: some 150k
    objects) out of the cyclic garbage collector's sight. Otherwise each full collection rescans
    them all, a 40-90 ms pause that lands inside monitor ticks (see bench/bench_bot.py). Cycles
    are collected first, so nothing collectable is frozen."""
    gc.collect()
    gc.freeze()


def default_worker_id() -> str:
    """Host name and process id: unique among the processes sharing a database."""
    import os
    import socket

    return f"{socket.gethostname()}-{os.getpid()}"


def market_factory(settings: Settings, store=None) -> Callable[[], MarketData]:
    """A fresh MarketData per tick or command; live bars go through the bar cache."""

    def make() -> MarketData:
        source = open_source(settings.data_source, crypto_exchange=settings.crypto_exchange)
        if store is not None and source.name == "live":
            from bot.barcache import CachedBarSource

            source = CachedBarSource(source, store)
        return MarketData(source)

    return make


def build_adapters(
    settings: Settings, on_quit: Callable[[], None], interactive: bool, store=None
) -> list[ChatAdapter]:
    """Every platform that has its tokens; the console when none has. `store` keeps Slack's
    OAuth installations (SLACK_CLIENT_ID mode)."""
    adapters: list[ChatAdapter] = []
    if settings.slack_configured:
        from bot.adapters.slack import SlackAdapter

        engine = store.engine if store is not None else None
        adapters.append(SlackAdapter.from_settings(settings, engine=engine))
    if settings.discord_token:
        from bot.adapters.discord import DiscordAdapter

        adapters.append(DiscordAdapter.from_settings(settings))
    if not adapters:
        from bot.adapters.console import ConsoleAdapter

        adapters.append(ConsoleAdapter(sys.stdin if interactive else None, on_quit=on_quit))
    return adapters


class BotApp:
    def __init__(
        self,
        settings: Settings,
        store,
        registry: FundRegistry,
        adapters: list[ChatAdapter],
        make_market: Callable[[], MarketData] | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.settings = settings
        self.store = store
        self.registry = registry
        self.adapters = adapters
        self.make_market = make_market or market_factory(settings, store)
        self.clock = clock
        self.worker_id = settings.worker_id or default_worker_id()
        self.dispatcher = Dispatcher(
            store,
            {a.platform: a for a in adapters},
            clock=clock,
            on_fatal=self._storage_fatal,
            worker_id=self.worker_id,
            lease_seconds=settings.outbox_lease_seconds,
        )
        self.leader = store.leader_lock()
        self.is_leader = False
        self._takeover_tick: asyncio.Task | None = None
        self._warm_task: asyncio.Task | None = None
        self._warmed: tuple | None = None
        """(last completed quarter end, assets) the track-record lines were last warmed for."""
        self.commands = CommandService(
            store, registry, settings, self.make_market, clock=clock, on_subscribed=self._subscribed
        )
        self._tick_lock = asyncio.Lock()
        self.fatal: Exception | None = None
        self._pending_check: asyncio.Task | None = None
        self.stop_event = asyncio.Event()

    def _storage_fatal(self, error: Exception) -> None:
        """A corrupt or read-only database: stop cleanly; `run_bot` reports it in one line."""
        if self.fatal is None:
            self.fatal = error
        self.stop_event.set()

    async def _subscribed(self) -> None:
        """A new subscription gets its first check now rather than at the next post time
        (in the background: the command's reply must not wait for it)."""
        if self._pending_check is None or self._pending_check.done():
            self._pending_check = asyncio.create_task(self._check_after_subscribe())

    async def _check_after_subscribe(self) -> None:
        await asyncio.sleep(SUBSCRIBE_CHECK_DELAY)
        try:
            await self.tick()
        except Exception:
            log.exception("check after a new subscription failed; the daily check will retry")

    async def live_registry(self, market: MarketData) -> FundRegistry:
        """The registry with live AUM for its listed leveraged ETFs when the data is live
        (cached in the store, refreshed at most daily); the registry as loaded otherwise."""
        from bot.reference import ReferenceData

        reference = ReferenceData.for_store(self.store, market.source, self.clock)
        return await reference.registry_with_live_aum(self.registry)

    async def tick(self, as_of: dt.date | None = None) -> TickResult:
        async with self._tick_lock:
            market = self.make_market()
            try:
                registry = await self.live_registry(market)
                result = await run_tick(self.store, market, registry, self.settings, as_of)
                await run_positioning_tick(self.store, market, self.settings, result.as_of, result)
            finally:
                await market.close()
            await self.store.set_state(
                *LAST_TICK, {"date": result.as_of.isoformat(), "at": self.clock().isoformat()}
            )
        log.info(
            "tick %s: %d asset(s), %d new alert(s), %d deliveries%s",
            result.as_of,
            result.assets,
            result.new_alerts,
            result.deliveries,
            f", {len(result.errors)} skipped" if result.errors else "",
        )
        self.dispatcher.wake()
        return result

    async def _warm_record_lines(self, as_of: dt.date) -> None:
        """After a tick, in the background: the track-record line of every asset watched for
        countdowns, so the tick that posts a countdown does not compute it (it changes only
        when a quarter completes; see bot/monitors/track_line.py)."""
        from bot.monitors.track_line import warm_record_lines
        from flows import calendar
        from flows.errors import FlowsError
        from flows.status import resolve_asset

        try:
            watched = await self.store.active_subscriptions_by_asset(
                await self.store.watched_assets(), kind="quarter_end"
            )
            # The lines change with the last completed quarter and the assets watched: with
            # TICK_INTERVAL_SECONDS a tick every few minutes would redo the same work.
            warmed = (
                calendar.period_end_before(as_of, "quarterly"),
                frozenset(symbol for symbol, subscriptions in watched.items() if subscriptions),
            )
            if warmed == self._warmed:
                return
            market = self.make_market()
            try:
                registry = await self.live_registry(market)
                assets = []
                for symbol, subscriptions in sorted(watched.items()):
                    if subscriptions:
                        with contextlib.suppress(FlowsError):
                            assets.append(resolve_asset(symbol, registry))
                config = self.settings.analytics_config(with_garch=False)
                await warm_record_lines(
                    assets, as_of, market, registry, self.settings.track_since, config
                )
                self._warmed = warmed
            finally:
                await market.close()
        except Exception:
            log.exception("warming the track-record lines failed; the ticks compute them")

    def _post_time(self, day: dt.date) -> dt.datetime:
        hour, minute = (int(part) for part in self.settings.post_time_utc.split(":"))
        return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=dt.UTC)

    async def missed_tick_due(self) -> bool:
        """True when today's post time has passed and no tick ran today (the bot was down)."""
        now = self.clock()
        if now < self._post_time(now.date()):
            return False
        state = await self.store.get_state(*LAST_TICK)
        return not state or state.get("date", "") < now.date().isoformat()

    async def start_adapters(self) -> None:
        for adapter in self.adapters:
            await adapter.start(self.commands.handle)

    async def stop_adapters(self) -> None:
        for adapter in self.adapters:
            with contextlib.suppress(Exception):
                await adapter.stop()

    async def run_once(self) -> TickResult:
        """`--once`: every monitor now, deliver what fires, return."""
        await self.start_adapters()
        try:
            result = await self.tick()
            await self.dispatcher.drain()
            if self.dispatcher.fatal is not None:
                raise self.dispatcher.fatal
            return result
        finally:
            await self.dispatcher.stop()
            await self.stop_adapters()

    async def run_forever(self) -> None:
        from apscheduler.schedulers.asyncio import AsyncIOScheduler
        from apscheduler.triggers.cron import CronTrigger

        hour, minute = self.settings.post_time_utc.split(":")
        scheduler = AsyncIOScheduler(timezone=dt.UTC)
        # A tick missed while the loop was busy or the machine slept still runs, once.
        scheduler.add_job(
            self._scheduled_tick,
            CronTrigger(hour=int(hour), minute=int(minute), timezone=dt.UTC),
            id="monitors",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=6 * 3600,
        )
        fill_hour, fill_minute = self.settings.track_fill_time_utc.split(":")
        scheduler.add_job(
            self._scheduled_track_fill,
            CronTrigger(hour=int(fill_hour), minute=int(fill_minute), timezone=dt.UTC),
            id="track_outcomes",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=12 * 3600,
        )
        if self.settings.tick_interval_seconds:
            from apscheduler.triggers.interval import IntervalTrigger

            scheduler.add_job(
                self._scheduled_tick,
                IntervalTrigger(seconds=self.settings.tick_interval_seconds, timezone=dt.UTC),
                id="monitors-interval",
                coalesce=True,
                max_instances=1,
            )
        await self.start_adapters()
        dispatcher_task = asyncio.create_task(self.dispatcher.run(), name="dispatcher")
        scheduler.start()
        self._schedule_letf(scheduler)
        leader_task = asyncio.create_task(self._lead(), name="leader")
        try:
            await self.stop_event.wait()
        finally:
            if self._pending_check is not None:
                self._pending_check.cancel()
            leader_task.cancel()
            if self._takeover_tick is not None:
                self._takeover_tick.cancel()
            if self._warm_task is not None:
                self._warm_task.cancel()
            await asyncio.gather(leader_task, return_exceptions=True)
            scheduler.shutdown(wait=False)
            await self.dispatcher.stop()
            dispatcher_task.cancel()
            await asyncio.gather(dispatcher_task, return_exceptions=True)
            await self.leader.release()
            await self.stop_adapters()

    def leader_retry_seconds(self) -> float:
        """How often a standby tries to take over: at least twice per monitor interval."""
        interval = self.settings.tick_interval_seconds
        retry = self.settings.leader_retry_seconds
        return min(retry, interval / 2) if interval else retry

    async def _tick_when_due_after_takeover(self) -> None:
        """A new leader runs the interval tick when the old leader's next one was due (at
        once if overdue) rather than a whole interval after taking over."""
        interval = self.settings.tick_interval_seconds
        if not interval:
            return
        state = await self.store.get_state(*LAST_TICK) or {}
        try:
            last = dt.datetime.fromisoformat(state["at"])
        except (KeyError, TypeError, ValueError):
            last = None
        delay = 0.0 if last is None else (last - self.clock()).total_seconds() + interval
        await asyncio.sleep(max(0.0, delay))
        await self._scheduled_tick()

    async def _lead(self) -> None:
        """Leader election (storage/leader.py): only the leader runs the scheduled monitors.
        Every process answers commands and delivers; a standby retries the lock so that it
        takes over within one interval of the leader's death, and the new leader first runs a
        check the old one missed."""
        while True:
            try:
                if self.is_leader and not await self.leader.still_held():
                    self.is_leader = False
                    log.warning("worker %s lost the leadership; standing by", self.worker_id)
                if not self.is_leader and await self.leader.try_acquire():
                    self.is_leader = True
                    if self.leader.shared:
                        log.info("worker %s is the leader: it runs the monitors", self.worker_id)
                        self._takeover_tick = asyncio.create_task(
                            self._tick_when_due_after_takeover()
                        )
                    if await self.missed_tick_due():
                        log.info(
                            "today's %s UTC check has not run; running it now",
                            self.settings.post_time_utc,
                        )
                        await self._scheduled_tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("leader election: database unreachable; retrying")
            await asyncio.sleep(self.leader_retry_seconds())

    async def _scheduled_tick(self) -> None:
        if not self.is_leader:
            return  # a standby: the leader runs the monitors
        from storage.errors import StorageError

        try:
            result = await self.tick()
            if self._warm_task is None or self._warm_task.done():
                self._warm_task = asyncio.create_task(self._warm_record_lines(result.as_of))
        except StorageError as exc:
            if not exc.transient:
                log.error("monitor tick: %s; stopping", exc)
                self._storage_fatal(exc)
            else:
                log.warning("monitor tick: %s; the next scheduled tick will try again", exc)
        except Exception:
            log.exception("monitor tick failed; the next scheduled tick will try again")

    async def fill_track_record(self, today: dt.date | None = None) -> int:
        """Fill in the outcome of live records whose window has ended (see track_live)."""
        from bot.monitors.track_live import fill_live_outcomes

        market = self.make_market()
        try:
            now = self.clock()
            filled = await fill_live_outcomes(self.store, market, today or now.date(), now)
        finally:
            await market.close()
        log.info("live track record: %d outcome(s) filled", filled)
        return filled

    async def _scheduled_track_fill(self) -> None:
        try:
            await self.fill_track_record()
        except Exception:
            log.exception("filling the live track record failed; tomorrow's run will retry")

    async def letf_tick(self, session: dt.date) -> TickResult:
        async with self._tick_lock:
            market = self.make_market()
            try:
                # Live AUM goes in through the registry: the monitor sizes every fund from it.
                registry = await self.live_registry(market)
                result = await run_letf_tick(self.store, market, registry, self.settings, session)
            finally:
                await market.close()
        log.info("leveraged-ETF check %s: %d new alert(s)", session, result.new_alerts)
        self.dispatcher.wake()
        return result

    def next_letf_run(self, after: dt.datetime) -> tuple[dt.date, dt.datetime]:
        """The next session's close minus LETF_MINUTES_BEFORE_CLOSE, strictly after `after`."""
        from flows import calendar
        from flows.event_rules import minutes_before_close_utc

        day = after.date()
        session = day if calendar.is_session(day) else calendar.next_session(day)
        while True:
            at = minutes_before_close_utc(session, self.settings.letf_minutes_before_close)
            if at > after:
                return session, at
            session = calendar.next_session(session)

    def _schedule_letf(self, scheduler) -> None:
        from apscheduler.triggers.date import DateTrigger

        session, at = self.next_letf_run(self.clock())

        async def run() -> None:
            try:
                if self.is_leader:
                    await self.letf_tick(session)
            except Exception:
                log.exception("leveraged-ETF check failed")
            finally:
                self._schedule_letf(scheduler)

        # A run missed by more than 20 minutes is skipped: the close it was for has passed.
        scheduler.add_job(
            run, DateTrigger(at), id="letf", replace_existing=True, misfire_grace_time=20 * 60
        )


async def run_bot(settings: Settings, *, once: bool = False, interactive: bool = True) -> int:
    from storage.store import Store

    registry = load_registry(settings.funds_file)
    store = await Store.open(settings.database_url)
    stop_holder: list[asyncio.Event] = []

    def request_stop() -> None:
        if stop_holder:
            stop_holder[0].set()

    try:
        adapters = build_adapters(settings, request_stop, interactive and not once, store=store)
        app = BotApp(settings, store, registry, adapters)
        stop_holder.append(app.stop_event)
        if once:
            result = await app.run_once()
            print(
                f"checked {result.assets} asset(s) on {result.as_of}: "
                f"{result.new_alerts} new alert(s), "
                f"{app.dispatcher.sent} message(s) sent"
                + (f"; skipped: {'; '.join(result.errors.values())}" if result.errors else "")
            )
            return 0
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, request_stop)
        freeze_startup_heap()
        print(
            f"flows-bot running: {', '.join(a.platform for a in adapters)}; checks daily at "
            f"{settings.post_time_utc} UTC; data: {settings.data_source}; database: {store.url}; "
            f"worker: {app.worker_id}"
        )
        await app.run_forever()
        if app.fatal is not None:
            raise app.fatal
        print("flows-bot stopped; pending deliveries are kept for the next start.")
        return 0
    finally:
        await store.close()
