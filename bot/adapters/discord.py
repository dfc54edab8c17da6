"""Discord: the `/flows` application-command group and alert delivery, through discord.py.

- Every REST call (sign-in, command sync, interaction responses, follow-ups, channel messages)
  goes to `DISCORD_API_URL`: discord.py builds URLs from the class attribute
  `discord.http.Route.BASE`, which `start()` sets. It is process-wide, so one process talks to one
  Discord API. The gateway address comes from `GET {DISCORD_API_URL}/gateway/bot`, as Discord's
  docs advise, instead of discord.py's built-in default.
- Each sub-command turns its typed options back into the neutral text (`watch BTC drift
  threshold=250m dm`) and calls the shared command layer, so parsing and validation live in one
  place. Channel subscriptions need Manage Channels, checked here from the interaction's resolved
  permissions (server admins can override `default_member_permissions`, so that is not relied on).
- Nothing the bot sends can ping: `allowed_mentions` is none on the client and on every send.
- Alerts carry a nonce derived from the delivery's idempotency key with `enforce_nonce`, so a
  retried send within Discord's nonce window returns the message already posted. The nonce is a
  hash of the stored key, so a restart re-sends with the very same nonce.
- Rate limits: discord.py waits out short 429s itself, per route bucket and for the global limit,
  which only it can see. Waits longer than `max_ratelimit_timeout` (30 s, discord.py's minimum)
  surface as `RateLimited` and become `DeliveryError(retry_after=…)`, so the dispatcher pauses
  that channel instead of a worker sleeping.
- discord.py reconnects the gateway by itself; if the gateway ever stops for good, commands are
  not received until a restart but alerts still post over REST. A failed post only fails its
  delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from typing import Any

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket

from bot.adapters import discord_render
from bot.adapters.base import (
    AdapterConfigError,
    ChatAdapter,
    CommandHandler,
    DeliveryError,
    Destination,
    Pacing,
)
from bot.commands.context import CommandContext
from bot.commands.parse import ALERT_KINDS, SLOW_COMMANDS
from bot.messages import Message, error_message
from bot.settings import Settings
from flows.assets import ASSETS, find_asset

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://discord.com/api/v10"
NONCE_LENGTH = 25
MAX_CHOICES = 25
RATE_LIMIT_WAIT_CAP = 30.0
_CONNECTION_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError)


def use_api_url(api_url: str) -> None:
    """Point discord.py's REST client (and interaction webhooks) at `api_url`, process-wide."""
    discord.http.Route.BASE = api_url.rstrip("/")


def nonce_for(idempotency_key: str) -> str:
    """A stable nonce within Discord's 25-character limit."""
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:NONCE_LENGTH]


def parse_shard_ids(text: str | None, shard_count: int | None) -> list[int] | None:
    """DISCORD_SHARD_IDS (`0,1`) as a list, checked against DISCORD_SHARD_COUNT."""
    if not text or not text.strip():
        return None
    if not shard_count:
        raise AdapterConfigError(
            "DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT (the total number of shards)"
        )
    try:
        ids = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise AdapterConfigError(
            f"DISCORD_SHARD_IDS must be comma-separated shard numbers, got {text!r}"
        ) from None
    if not ids or ids[0] < 0 or ids[-1] >= shard_count:
        raise AdapterConfigError(
            f"DISCORD_SHARD_IDS must be between 0 and {shard_count - 1} "
            f"(DISCORD_SHARD_COUNT={shard_count}), got {text!r}"
        )
    return ids


def interaction_context(interaction: discord.Interaction) -> CommandContext:
    is_dm = interaction.guild_id is None
    permissions = interaction.permissions
    return CommandContext(
        platform="discord",
        workspace=str(interaction.guild_id or ""),
        channel=str(interaction.channel_id or ""),
        user=str(interaction.user.id),
        user_name=interaction.user.name,
        is_dm=is_dm,
        can_manage_channel=is_dm or permissions.manage_channels or permissions.administrator,
    )


def delivery_error(error: Exception) -> DeliveryError:
    """How the dispatcher should treat a failed send."""
    if isinstance(error, discord.RateLimited):
        return DeliveryError(
            f"discord: rate limited for {error.retry_after:.1f}s", retry_after=error.retry_after
        )
    if isinstance(error, discord.Forbidden | discord.NotFound):
        # 50001 Missing Access, 50013 Missing Permissions, 10003 Unknown Channel, 50007 cannot
        # DM the user…: the destination refuses us, so the whole channel (or DM) stops at once;
        # Discord bans an IP that keeps making invalid requests.
        code = f" (code {error.code})" if getattr(error, "code", 0) else ""
        return DeliveryError(
            f"discord: {error.status} {error.text or ''}{code}".strip(), scope="channel"
        )
    if isinstance(error, discord.HTTPException) and error.status == 401:
        return DeliveryError("discord: 401 the token was refused", scope="platform")
    if isinstance(error, discord.HTTPException):
        if error.status == 429:
            return DeliveryError("discord: rate limited", retry_after=_retry_after(error))
        return DeliveryError(f"discord: {error.status} {error.text or ''}".strip())
    return DeliveryError(f"discord: {type(error).__name__}: {error}")


def _retry_after(error: discord.HTTPException) -> float:
    """A 429 discord.py did not handle itself (no `Via` header: a proxy or Cloudflare)."""
    header = error.response.headers.get("Retry-After") if error.response is not None else None
    try:
        return max(1.0, float(header)) if header else 5.0
    except ValueError:
        return 5.0


def asset_choices(current: str) -> list[app_commands.Choice[str]]:
    needle = current.strip().lower()
    choices = []
    for symbol, asset in ASSETS.items():
        names = (symbol.lower(), asset.name.lower(), *asset.aliases)
        if not needle or any(name.startswith(needle) for name in names) or needle in names[1]:
            choices.append(app_commands.Choice(name=f"{symbol} — {asset.name}"[:100], value=symbol))
    return choices[:MAX_CHOICES]


def kind_choices(current: str) -> list[app_commands.Choice[str]]:
    """Complete the last word of a space-separated list of alert kinds."""
    words = current.replace(",", " ").split()
    partial = "" if not words or current.endswith((" ", ",")) else words.pop().lower()
    chosen = [word for word in words if word in ALERT_KINDS]
    options = [kind for kind in ALERT_KINDS if kind not in chosen and kind.startswith(partial)]
    values = [" ".join([*chosen, kind]) for kind in options]
    return [app_commands.Choice(name=value[:100], value=value[:100]) for value in values]


class DiscordAdapter(ChatAdapter):
    platform = "discord"
    # Per channel: discord.py follows each route bucket's X-RateLimit-Remaining / Reset-After;
    # the 5 per 5 s here only backs it up. Overall: Discord's global 50 requests/s, kept at
    # 48/s for interaction replies and look-ups (the global limit sends no Remaining header).
    pacing = Pacing(per_channel_messages=5, per_channel_seconds=5.0, global_per_second=48)

    def __init__(
        self,
        token: str,
        *,
        api_url: str = DEFAULT_API_URL,
        guild_id: int | None = None,
        connect_timeout: float = 30.0,
        shard_count: int | None = None,
        shard_ids: list[int] | None = None,
        auto_shard: bool = False,
    ) -> None:
        self.token = token
        self.api_url = api_url.rstrip("/")
        self.guild_id = guild_id
        self.connect_timeout = connect_timeout
        # The bot never joins voice; without this discord.py warns about missing voice libraries.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        options: dict[str, Any] = {
            "intents": discord.Intents.default(),
            "allowed_mentions": discord_render.NO_MENTIONS,
            "max_ratelimit_timeout": RATE_LIMIT_WAIT_CAP,
        }
        self.client: discord.Client
        if shard_count or auto_shard:
            # Sharded: these shards (all of them when no ids are given) in this process; the
            # shard count is Discord's recommendation (GET /gateway/bot) when not given.
            self.client = discord.AutoShardedClient(
                shard_count=shard_count, shard_ids=shard_ids, **options
            )
        else:
            self.client = discord.Client(**options)
        self.tree = app_commands.CommandTree(self.client)
        self.tree.on_error = self._on_tree_error  # type: ignore[method-assign]
        self.tree.add_command(self._build_group())
        self._handle: CommandHandler | None = None
        self._gateway_task: asyncio.Task | None = None
        self._dm_channels: dict[str, int] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> DiscordAdapter:
        if not settings.discord_token:
            raise AdapterConfigError(
                "DISCORD_TOKEN is not set; copy the bot token from the Discord developer portal"
            )
        shard_ids = parse_shard_ids(settings.discord_shard_ids, settings.discord_shard_count)
        return cls(
            settings.discord_token,
            api_url=settings.discord_api_url,
            guild_id=settings.discord_guild_id,
            shard_count=settings.discord_shard_count,
            shard_ids=shard_ids,
            auto_shard=settings.discord_auto_shard,
        )

    # ------------------------------------------------------------------ lifecycle

    async def start(self, handle_command: CommandHandler) -> None:
        self._handle = handle_command
        use_api_url(self.api_url)
        try:
            await self.client.login(self.token)
        except discord.LoginFailure:
            await self.client.close()
            raise AdapterConfigError("DISCORD_TOKEN was rejected by Discord (401)") from None
        except (discord.HTTPException, *_CONNECTION_ERRORS) as exc:
            await self.client.close()
            raise AdapterConfigError(
                f"could not sign in to Discord at DISCORD_API_URL={self.api_url}: {exc}"
            ) from None
        await self._sync_commands()
        await self._use_gateway_from_api()
        connected = asyncio.ensure_future(
            self.client.wait_for("connect", timeout=self.connect_timeout)
        )
        self._gateway_task = asyncio.create_task(self._run_gateway(), name="discord-gateway")
        await asyncio.wait({connected, self._gateway_task}, return_when=asyncio.FIRST_COMPLETED)
        if connected.done() and not connected.exception():
            log.info("discord: connected as %s", self.client.user)
        else:
            connected.cancel()
            log.warning("discord: gateway not connected yet; alerts still post over REST")

    async def _sync_commands(self) -> None:
        try:
            if self.guild_id:
                guild = discord.Object(id=self.guild_id)
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
            else:
                synced = await self.tree.sync()
        except discord.Forbidden:
            await self.client.close()
            raise AdapterConfigError(
                f"Discord refused to register /flows in DISCORD_GUILD_ID={self.guild_id}: invite "
                "the bot there with the applications.commands scope"
            ) from None
        except (discord.HTTPException, *_CONNECTION_ERRORS) as exc:
            # Commands synced on an earlier start keep working; alerts do not need them.
            log.error("discord: could not sync /flows commands: %s", exc)
            return
        where = f"guild {self.guild_id}" if self.guild_id else "globally (may take a while)"
        log.info("discord: synced %d command(s) %s", len(synced), where)

    async def _use_gateway_from_api(self) -> None:
        try:
            _shards, url, _limits = await self.client.http.get_bot_gateway()
        except (discord.GatewayNotFound, discord.HTTPException, *_CONNECTION_ERRORS) as exc:
            log.warning("discord: GET /gateway/bot failed (%s); using the default gateway", exc)
            return
        # discord.py reads this class attribute on every (re)connect; process-wide like Route.BASE.
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)

    async def _run_gateway(self) -> None:
        try:
            await self.client.connect(reconnect=True)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception(
                "discord: the gateway connection ended for good; /flows is not received until "
                "a restart, alerts still post over REST"
            )

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.client.close()
        if self._gateway_task is not None:
            task, self._gateway_task = self._gateway_task, None
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    # ------------------------------------------------------------------ commands

    def _build_group(self) -> app_commands.Group:
        group = app_commands.Group(
            name="flows", description="Mechanical market-flow alerts and estimates"
        )

        async def complete_asset(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            return asset_choices(current)

        async def complete_unwatch(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            everything = app_commands.Choice(name="all — every asset", value="all")
            matches = "all".startswith(current.strip().lower())
            return ([everything] if matches else []) + asset_choices(current)[: MAX_CHOICES - 1]

        async def complete_kinds(
            interaction: discord.Interaction, current: str
        ) -> list[app_commands.Choice[str]]:
            return kind_choices(current)

        @group.command(name="watch", description="Alert this channel (or just you, with dm)")
        @app_commands.describe(
            asset="BTC, ETH, SPY, AGG …",
            kinds="alert kinds, space-separated (default: quarter_end drift vol)",
            threshold="drift threshold, e.g. 250m or 2%",
            dm="send the alerts to you privately instead of this channel",
        )
        @app_commands.autocomplete(asset=complete_asset, kinds=complete_kinds)
        async def watch(
            interaction: discord.Interaction,
            asset: str,
            kinds: str | None = None,
            threshold: str | None = None,
            dm: bool = False,
        ) -> None:
            words = ["watch", _asset_word(asset), *(kinds or "").replace(",", " ").split()]
            if threshold:
                words.append("threshold=" + "".join(threshold.split()))
            if dm:
                words.append("dm")
            await self._run(interaction, " ".join(words))

        @group.command(name="unwatch", description="Stop alerts for an asset, or all")
        @app_commands.describe(asset="the asset, or all", dm="your personal (DM) alerts")
        @app_commands.autocomplete(asset=complete_unwatch)
        async def unwatch(interaction: discord.Interaction, asset: str, dm: bool = False) -> None:
            await self._run(interaction, f"unwatch {_asset_word(asset)}" + (" dm" if dm else ""))

        @group.command(name="list", description="What this channel (and you) watch")
        async def list_(interaction: discord.Interaction) -> None:
            await self._run(interaction, "list")

        @group.command(name="status", description="Estimated rebalancing and vol-target flows now")
        @app_commands.describe(asset="BTC, ETH, SPY, AGG …")
        @app_commands.autocomplete(asset=complete_asset)
        async def status(interaction: discord.Interaction, asset: str) -> None:
            await self._run(interaction, f"status {_asset_word(asset)}")

        @group.command(name="calendar", description="Upcoming flow events")
        @app_commands.describe(days="how many days ahead (1-366, default 30)")
        async def calendar(
            interaction: discord.Interaction, days: app_commands.Range[int, 1, 366] = 30
        ) -> None:
            await self._run(interaction, f"calendar {days}")

        @group.command(name="mute", description="Pause this channel's alerts")
        @app_commands.describe(duration="e.g. 30m, 2h, 1d (up to 30 days)")
        async def mute(interaction: discord.Interaction, duration: str) -> None:
            await self._run(interaction, "mute " + "".join(duration.split()))

        @group.command(name="unmute", description="Resume this channel's alerts")
        async def unmute(interaction: discord.Interaction) -> None:
            await self._run(interaction, "unmute")

        @group.command(name="help", description="How to use flows-bot")
        async def help_(interaction: discord.Interaction) -> None:
            await self._run(interaction, "help")

        @group.command(name="ask", description="Ask about mechanical flows in plain English")
        @app_commands.describe(question="e.g. Will BTC see selling pressure at quarter end?")
        async def ask(interaction: discord.Interaction, question: str) -> None:
            await self._run(interaction, f"ask {question}")

        @group.command(
            name="positioning", description="Short covering, liquidations and ETF flows (chart)"
        )
        @app_commands.describe(asset="BTC, ETH, SOL, SPY, QQQ, IWM")
        @app_commands.autocomplete(asset=complete_asset)
        async def positioning(interaction: discord.Interaction, asset: str) -> None:
            await self._run(interaction, f"positioning {_asset_word(asset)}")

        @group.command(name="gamma", description="Dealer gamma: GEX, zero-gamma level, walls")
        @app_commands.describe(asset="SPY, QQQ, IWM, BTC, ETH")
        @app_commands.autocomplete(asset=complete_asset)
        async def gamma(interaction: discord.Interaction, asset: str) -> None:
            await self._run(interaction, f"gamma {_asset_word(asset)}")

        @group.command(name="track", description="How past rebalancing calls turned out")
        @app_commands.describe(
            asset="BTC, ETH, SPY, AGG …",
            record="history (default), live (the alerts sent) or monthly windows",
        )
        @app_commands.autocomplete(asset=complete_asset)
        @app_commands.choices(
            record=[
                app_commands.Choice(name=name, value=name)
                for name in ("history", "live", "monthly")
            ]
        )
        async def track(
            interaction: discord.Interaction, asset: str, record: str = "history"
        ) -> None:
            option = "" if record == "history" else f" {record}"
            await self._run(interaction, f"track {_asset_word(asset)}{option}")

        @group.command(name="why", description="Today's mechanical flows vs real money: verdict")
        @app_commands.describe(asset="BTC, ETH, SPY, QQQ …")
        @app_commands.autocomplete(asset=complete_asset)
        async def why(interaction: discord.Interaction, asset: str) -> None:
            await self._run(interaction, f"why {_asset_word(asset)}")

        @group.command(name="funds", description="The programs behind the figures: rule, AUM")
        @app_commands.describe(asset="only the programs holding this asset (default: all)")
        @app_commands.autocomplete(asset=complete_asset)
        async def funds(interaction: discord.Interaction, asset: str | None = None) -> None:
            await self._run(interaction, "funds" + (f" {_asset_word(asset)}" if asset else ""))

        return group

    async def _run(self, interaction: discord.Interaction, text: str) -> None:
        deferred = text.split(" ", 1)[0] in SLOW_COMMANDS
        if deferred:
            await interaction.response.defer(thinking=True)
        reply = await self.run_command(interaction_context(interaction), text)
        try:
            await self._respond(interaction, reply, deferred)
        except discord.HTTPException as exc:
            log.error("discord: could not answer /flows %s: %s", text.split(" ", 1)[0], exc)

    async def run_command(self, ctx: CommandContext, text: str) -> Message:
        if self._handle is None:
            return error_message("The bot is still starting; try again in a moment.")
        try:
            return await self._handle(ctx, text)
        except Exception:
            log.exception("discord: /flows %r failed", text[:100])
            return error_message("Something went wrong on our side; the error has been logged.")

    async def _respond(
        self, interaction: discord.Interaction, reply: Message, deferred: bool
    ) -> None:
        kwargs: dict[str, Any] = {
            "embed": discord_render.embed(reply),
            "allowed_mentions": discord_render.NO_MENTIONS,
        }
        chart = discord_render.chart_file(reply)
        if chart is not None:
            kwargs["file"] = chart
        if not deferred:
            await interaction.response.send_message(ephemeral=reply.ephemeral, **kwargs)
        elif reply.ephemeral:
            # The deferral is a public "thinking…" message; an error or private answer replaces
            # it with one only the asker sees.
            with contextlib.suppress(discord.HTTPException):
                await interaction.delete_original_response()
            await interaction.followup.send(ephemeral=True, **kwargs)
        else:
            await interaction.followup.send(**kwargs)

    async def _on_tree_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        log.error("discord: /flows failed: %s", error, exc_info=error)
        reply = error_message("That command could not be run; the error has been logged.")
        with contextlib.suppress(discord.HTTPException):
            await self._respond(interaction, reply, interaction.response.is_done())

    # ------------------------------------------------------------------ delivery

    async def send(self, destination: Destination, message: Message, idempotency_key: str) -> str:
        if self.client.http.token is None:
            raise DeliveryError("discord: not signed in yet")
        kwargs: dict[str, Any] = {
            "embed": discord_render.embed(message),
            "allowed_mentions": discord_render.NO_MENTIONS,
            "nonce": nonce_for(idempotency_key),
        }
        chart = discord_render.chart_file(message)
        if chart is not None:
            kwargs["file"] = chart
        try:
            channel = await self._channel_for(destination)
            sent = await channel.send(**kwargs)
        except (discord.DiscordException, *_CONNECTION_ERRORS) as exc:
            raise delivery_error(exc) from exc
        finally:
            if chart is not None:
                chart.close()
        return str(sent.id)

    async def _channel_for(self, destination: Destination) -> discord.PartialMessageable:
        # A partial messageable posts over REST by id: no gateway cache needed.
        if not destination.user:
            return self.client.get_partial_messageable(int(destination.channel))
        channel_id = self._dm_channels.get(destination.user)
        if channel_id is None:
            data = await self.client.http.start_private_message(int(destination.user))
            channel_id = int(data["id"])
            self._dm_channels[destination.user] = channel_id
        return self.client.get_partial_messageable(channel_id, type=discord.ChannelType.private)


def _asset_word(asset: str) -> str:
    """The canonical symbol for a picked or typed asset, so names with spaces stay one word."""
    found = find_asset(asset)
    return found.symbol if found else "".join(asset.split()) or "?"
