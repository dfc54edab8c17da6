"""Handlers for every `/flows` sub-command, shared by all adapters."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from bot.commands.context import CommandContext
from bot.commands.parse import ALERT_KINDS, CommandError, ParsedCommand, parse_command
from bot.messages import Message, MessageField, error_message
from bot.render.drawing import chart_file, draw_chart
from bot.render.numbers import usd
from bot.settings import Settings
from flows.errors import FlowsError
from flows.funds import FundRegistry
from flows.marketdata import MarketData

log = logging.getLogger(__name__)

MarketFactory = Callable[[], MarketData]

HELP_TEXT = (
    f"/flows watch ASSET [{' '.join(ALERT_KINDS)}] [threshold=250m|threshold=2%] [dm]\n"
    "    subscribe this channel (or, with dm, just you) to alerts for ASSET\n"
    "/flows unwatch ASSET|all [dm]     stop alerts\n"
    "/flows list                       what this channel (and you) watch\n"
    "/flows status ASSET               estimated rebalancing and vol-target flows now\n"
    "/flows calendar [DAYS]            upcoming flow events (default 30 days)\n"
    "/flows ask QUESTION               e.g. Will BTC see selling pressure at quarter end?\n"
    "/flows positioning ASSET          short covering / liquidations, ETF flows (chart)\n"
    "/flows gamma ASSET                dealer gamma: GEX, zero-gamma level, walls (SPY QQQ BTC …)\n"
    "/flows funds [ASSET]              the programs behind the figures: rule, AUM, sources\n"
    "/flows track ASSET [live|monthly] how past rebalancing calls turned out (hit rate, chart)\n"
    "/flows why ASSET                  today's mechanical flows vs real money: the verdict\n"
    "/flows mute 2h | unmute           pause this channel's alerts (up to 30 days)\n"
    "Assets: BTC ETH SOL SPY QQQ IWM AGG TLT IEF GLD …  Kinds default to quarter_end drift vol."
)


class CommandService:
    """Parses `/flows` text and runs it. Every reply is a neutral Message; bad input changes
    nothing and gets a short reply."""

    def __init__(
        self,
        store,
        registry: FundRegistry,
        settings: Settings,
        market_factory: MarketFactory,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        on_subscribed: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.settings = settings
        self.market_factory = market_factory
        self.clock = clock
        self.on_subscribed = on_subscribed

    async def handle(self, ctx: CommandContext, text: str) -> Message:
        try:
            command = parse_command(text)
            return await self._dispatch(ctx, command)
        except CommandError as exc:
            return error_message(str(exc))
        except FlowsError as exc:
            return error_message(f"Could not compute that: {exc}")
        except Exception:
            log.exception("command %r from %s:%s failed", text[:100], ctx.platform, ctx.channel)
            return error_message("Something went wrong on our side; the error has been logged.")

    async def _dispatch(self, ctx: CommandContext, command: ParsedCommand) -> Message:
        handler = getattr(self, f"_cmd_{command.name}")
        return await handler(ctx, command)

    def _target(self, ctx: CommandContext, dm: bool) -> dict:
        if dm or ctx.is_dm:
            return {
                "platform": ctx.platform,
                "workspace": ctx.workspace,
                "channel": ctx.channel,
                "user": ctx.user,
            }
        return {
            "platform": ctx.platform,
            "workspace": ctx.workspace,
            "channel": ctx.channel,
            "user": None,
        }

    def _require_manage(self, ctx: CommandContext, dm: bool) -> None:
        if not (dm or ctx.is_dm) and not ctx.can_manage_channel:
            raise CommandError(
                "Changing this channel's alerts needs the Manage Channels permission; "
                "add `dm` to get alerts privately instead."
            )

    async def _cmd_help(self, ctx: CommandContext, command: ParsedCommand) -> Message:
        return Message(
            title="flows-bot commands",
            summary="Mechanical flow alerts and estimates.",
            body=HELP_TEXT,
            ephemeral=True,
        )

    async def _cmd_watch(self, ctx: CommandContext, command: ParsedCommand) -> Message:
        self._require_manage(ctx, command.dm)
        threshold = command.threshold
        subscription, created = await self.store.add_subscription(
            **self._target(ctx, command.dm),
            asset=command.asset,
            kinds=command.kinds,
            threshold_usd=threshold.usd if threshold else None,
            threshold_pct_adv=threshold.pct_adv if threshold else None,
            created_by=ctx.user_name or ctx.user,
            created_by_id=ctx.user,
            now=self.clock(),
        )
        where = "you (DM)" if command.dm or ctx.is_dm else "this channel"
        # A watch run here proves the bot can reach this channel again: alerts stopped when the
        # platform refused it (or the workspace's token) resume.
        await self.store.resume_channel(**self._target(ctx, command.dm))
        if not created:
            return Message(
                title=f"Already watching {command.asset}",
                summary=f"{where.capitalize()} already watches {command.asset} "
                f"({', '.join(subscription.alert_kinds)}). "
                f"`/flows unwatch {command.asset}` first to change it.",
                ephemeral=True,
            )
        if self.on_subscribed:
            await self.on_subscribed()
        return Message(
            title=f"Watching {command.asset}",
            summary=f"{where.capitalize()} will get {', '.join(command.kinds)} alerts "
            f"for {command.asset}.",
            fields=self._watch_fields(command),
        )

    def _watch_fields(self, command: ParsedCommand) -> list[MessageField]:
        """Only what this subscription subscribed to: no drift threshold for a letf-only watch,
        no countdown date without quarter_end."""
        kinds = set(command.kinds)
        fields: list[MessageField] = []
        if "drift" in kinds:
            threshold = command.threshold
            fields.append(
                MessageField(
                    label="Drift threshold",
                    value=threshold.describe()
                    if threshold
                    else self._default_threshold(command.asset),
                )
            )
        if "quarter_end" in kinds:
            fields.append(
                MessageField(
                    label="Countdown steps",
                    value=", ".join(str(s) for s in self.settings.countdown_steps)
                    + " sessions left",
                )
            )
            fields.append(MessageField(label="Next countdown alert", value=self._next_countdown()))
        if "letf" in kinds:
            fields.append(
                MessageField(
                    label="Leveraged-ETF alert",
                    value=f"{self.settings.letf_minutes_before_close} min before the US close "
                    f"when the estimate exceeds {usd(self.settings.letf_threshold_usd)}",
                )
            )
        if "vol" in kinds:
            fields.append(MessageField(label="Volatility alert", value="when the regime changes"))
        fields.append(
            MessageField(label="Checks run daily at", value=f"{self.settings.post_time_utc} UTC")
        )
        return fields

    def _next_countdown(self) -> str:
        """When the next quarter-end countdown step falls, so a new subscriber knows when to
        expect the first post."""
        from flows import calendar

        today = self.clock().date()
        quarter = calendar.quarter_end_status(today)
        sessions = calendar.sessions_between(today + dt.timedelta(days=1), quarter.last_session)
        left = quarter.sessions_left
        if left in self.settings.countdown_steps:
            return f"today ({left} sessions left to {quarter.quarter} end)"
        for step in sorted(self.settings.countdown_steps, reverse=True):
            if step < left:
                day = sessions[-1 - step]
                return f"{day:%a %b %d} ({step} sessions left to {quarter.quarter} end)"
        return f"next quarter ({left} sessions left to {quarter.quarter} end)"

    def _default_threshold(self, asset: str) -> str:
        from bot.monitors.thresholds import default_drift_usd

        if self.settings.drift_threshold_usd:
            return f"{usd(self.settings.drift_threshold_usd)} (default)"
        if self.settings.drift_threshold_pct_adv:
            return f"{self.settings.drift_threshold_pct_adv:g}% of liquidity (default)"
        return f"{usd(default_drift_usd(asset))}, then each doubling (default)"

    async def _cmd_unwatch(self, ctx: CommandContext, command: ParsedCommand) -> Message:
        self._require_manage(ctx, command.dm)
        removed = await self.store.remove_subscriptions(
            **self._target(ctx, command.dm), asset=None if command.all_assets else command.asset
        )
        what = "everything" if command.all_assets else command.asset
        if not removed:
            return Message(
                title="Nothing to remove", summary=f"Not watching {what} here.", ephemeral=True
            )
        return Message(
            title=f"Stopped watching {what}", summary=f"Removed {removed} subscription(s)."
        )

    async def _cmd_list(self, ctx: CommandContext, command: ParsedCommand) -> Message:
        channel = await self.store.list_subscriptions(**self._target(ctx, False))
        mine = [] if ctx.is_dm else await self.store.list_subscriptions(**self._target(ctx, True))
        muted = await self.store.muted_until(
            platform=ctx.platform, workspace=ctx.workspace, channel=ctx.channel, now=self.clock()
        )
        lines = []
        for label, rows in (("this channel", channel), ("you (DM)", mine)):
            for row in rows:
                threshold = (
                    usd(row.threshold_usd)
                    if row.threshold_usd
                    else f"{row.threshold_pct_adv:g}% ADV"
                    if row.threshold_pct_adv
                    else "default"
                )
                state = "" if row.status == "active" else f"  [BROKEN: {row.broken_reason}]"
                lines.append(
                    f"{row.asset:<5} {', '.join(row.alert_kinds):<28} "
                    f"threshold {threshold:<10} {label}{state}"
                )
        summary = f"{len(lines)} subscription(s)" + (
            f"; muted until {muted:%Y-%m-%d %H:%M} UTC" if muted else ""
        )
        return Message(
            title="Subscriptions",
            summary=summary,
            body="\n".join(lines) or "none — try `/flows watch BTC`",
            ephemeral=True,
        )

    async def _cmd_mute(self, ctx: CommandContext, command: ParsedCommand) -> Message:
        self._require_manage(ctx, False)
        until = self.clock() + command.duration
        await self.store.mute_channel(
            platform=ctx.platform,
            workspace=ctx.workspace,
            channel=ctx.channel,
            until=until,
            now=self.clock(),
        )
        return Message(
            title="Muted",
            summary=f"No alerts in this channel until {until:%Y-%m-%d %H:%M} UTC "
            "(`/flows unmute` to resume).",
        )

    async def _cmd_unmute(self, ctx: CommandContext, command: ParsedCommand) -> Message:
        self._require_manage(ctx, False)
        await self.store.unmute_channel(
            platform=ctx.platform, workspace=ctx.workspace, channel=ctx.channel, now=self.clock()
        )
        return Message(title="Unmuted", summary="Alerts in this channel resume.")

    async def _cmd_status(self, ctx: CommandContext, command: ParsedCommand) -> Message:
        from bot.flow_sources import status_ledger
        from bot.render.charts import headline_chart
        from bot.render.messages import status_message
        from bot.render.why import net_row
        from flows.status import build_status

        market = self.market_factory()
        try:
            registry = await self._live_registry(market)
            report = await build_status(
                command.asset,
                market,
                registry,
                None,
                self.settings.analytics_config(),
            )
            chart = await self._status_chart(report, market, headline_chart)
            ledger, reason = await status_ledger(
                report, market, registry, self.settings, self.store
            )
        finally:
            await market.close()
        message = status_message(report, chart)
        label, line = net_row(report.as_of, ledger, reason)
        net = MessageField(label=label, value=line, inline=False)
        return message.model_copy(update={"fields": [*message.fields, net]})

    def _reference(self, market: MarketData):
        """Earnings dates and live fund AUM, through the store's cache (live data only)."""
        from bot.reference import ReferenceData

        return ReferenceData.for_store(self.store, market.source, self.clock)

    async def _live_registry(self, market: MarketData) -> FundRegistry:
        return await self._reference(market).registry_with_live_aum(self.registry)

    async def _status_chart(self, report, market: MarketData, draw) -> Path | None:
        """The headline's chart: the total trade over the quarter, stacked by program."""
        funds = self.registry.holding(report.asset)
        if report.rebalance.trade_usd is None or not funds:
            return None  # nothing sized: no headline to chart
        # The quarter so far plus a year before it (annual programs' first base date).
        start = report.as_of - dt.timedelta(days=460)
        symbols = set().union(*(fund.weights for fund in funds))
        frames = await market.bars_many(symbols, start, report.as_of)
        closes = {symbol: frame["adj_close"] for symbol, frame in frames.items()}
        path = chart_file(self.settings.chart_dir, "status", report)
        return await draw_chart(draw, report, funds, closes, path, what=f"status {report.asset}")

    async def _cmd_funds(self, ctx: CommandContext, command: ParsedCommand) -> Message:
        from bot.render.funds_text import render_funds_chat
        from flows.funds import programs_listing

        market = self.market_factory()
        try:
            registry = await self._live_registry(market)
            live = self._reference(market).live
        finally:
            await market.close()
        listing = programs_listing(registry, command.asset)
        title, _, body = render_funds_chat(listing, live=live).partition("\n")
        return Message(title=title, summary=f"{len(listing['programs'])} program(s)", body=body)

    async def _cmd_calendar(self, ctx: CommandContext, command: ParsedCommand) -> Message:
        from bot.render.calendar_text import render_calendar_text
        from flows.buybacks import blackout_for
        from flows.event_sizing import load_period_end_sizing
        from flows.flow_calendar import flow_calendar
        from flows.status import source_label

        start = self.clock().date()
        market = self.market_factory()
        try:
            known = await self._reference(market).known_reports()
            # The bot has market data: size the month- and quarter-end trades as the CLI does
            # (a data failure gives unknown trades with the reason, not a failed command).
            sizing = await load_period_end_sizing(
                start,
                market,
                self.registry,
                source_label(market),
                self.settings.neutral_band_pct_adv,
            )
        finally:
            await market.close()
        end = start + dt.timedelta(days=(command.days or 30) - 1)
        events = flow_calendar(start, end, sizing=sizing, known_reports=known)
        blackout = blackout_for(start, known)
        text = render_calendar_text(
            events,
            start,
            command.days or 30,
            blackout=blackout,
            sized=True,
            sample=market.is_sample,
        )
        if market.is_sample:
            text = text.split("\n", 2)[2]  # the SAMPLE banner: the message carries sample=True
        title, _, body = text.partition("\n")
        return Message(
            title=title,
            summary=f"{len(events)} event(s)",
            body=body,
            sample=market.is_sample,
        )

    async def _cmd_positioning(self, ctx: CommandContext, command: ParsedCommand) -> Message:
        from bot.positioning_cache import positioning_config, positioning_for_market
        from bot.render.messages import positioning_message
        from bot.render.positioning_chart import positioning_chart
        from flows.models.positioning import build_positioning
        from flows.positioning import require_covered

        try:
            require_covered(command.asset)
        except FlowsError as exc:
            return error_message(str(exc))
        market = self.market_factory()
        positioning = positioning_for_market(market, self.settings, self.store)
        try:
            report = await build_positioning(
                command.asset, market, positioning, config=positioning_config(self.settings)
            )
        finally:
            await positioning.close()
            await market.close()
        chart = await self._draw(positioning_chart, report, "positioning")
        return positioning_message(report, chart)

    async def _draw(self, draw, result, name: str) -> Path | None:
        """`draw(result, path)` into CHART_DIR/NAME-ASSET-DATE.png (see `draw_chart`)."""
        path = chart_file(self.settings.chart_dir, name, result)
        return await draw_chart(draw, result, path, what=f"{name} {result.asset}")

    async def _cmd_gamma(self, ctx: CommandContext, command: ParsedCommand) -> Message:
        from bot.chaincache import cached_chains
        from bot.render.gamma import gamma_chart, gamma_message
        from flows.gamma import build_gamma

        market = self.market_factory()
        chains = cached_chains(market.source, self.store)
        try:
            result = await build_gamma(command.asset, market, chains)
        finally:
            await chains.close()
            await market.close()
        chart = await self._draw(gamma_chart, result, "gamma")
        return gamma_message(result, chart)

    async def _cmd_why(self, ctx: CommandContext, command: ParsedCommand) -> Message:
        from bot.flow_sources import flow_sources, ledger_for
        from bot.render.why import why_chart, why_message

        market = self.market_factory()
        try:
            registry = await self._live_registry(market)
            async with flow_sources(market, self.settings, self.store) as sources:
                ledger = await ledger_for(command.asset, market, registry, self.settings, sources)
        finally:
            await market.close()
        chart = await self._draw(why_chart, ledger, "why")
        return why_message(ledger, chart)

    async def _cmd_track(self, ctx: CommandContext, command: ParsedCommand) -> Message:
        from bot.commands.track import track_reply

        return await track_reply(self, command)

    async def _cmd_ask(self, ctx: CommandContext, command: ParsedCommand) -> Message:
        try:
            from bot.render.answer import answer_message
            from flows.questions import answer_question
        except ImportError:
            return error_message("Questions are not available in this build yet.")
        from bot.chaincache import cached_chains
        from bot.positioning_cache import positioning_for_market
        from bot.reference import leveraged_funds_asked, programs_asked

        market = self.market_factory()
        # Positioning questions read derivatives and ETF flows: live ones through the day cache.
        market.positioning = positioning_for_market(market, self.settings, self.store)
        chains = cached_chains(market.source, self.store)
        try:
            # As the CLI's `ask`: live AUM for the funds and programs asked about, the settings'
            # analytics (neutral band, liquidity exchanges).
            registry = self.registry
            funds = leveraged_funds_asked(command.text, registry)
            programs = programs_asked(command.text, registry)
            if funds or programs:
                registry = await self._reference(market).registry_with_live_aum(
                    registry, funds, programs
                )
            config = self.settings.analytics_config()
            answer = await answer_question(
                command.text, market, registry, config=config, chains=chains
            )
        finally:
            await market.positioning.close()
            await chains.close()
            await market.close()
        return answer_message(answer)
