"""Slack: `/flows` through slack-bolt (Socket Mode, or HTTP with signed requests) and alerts.

Every Web API call goes through one `AsyncWebClient` whose `base_url` is `SLACK_API_URL`; the
Socket Mode client asks that same client for its websocket URL (`apps.connections.open`), so a
GovSlack or proxy URL covers everything. `respond()` posts to the `response_url` Slack put in the
command payload, which is Slack's own address for that command.

Reliability choices:
- `/flows` is acknowledged at once (Slack allows 3 s) and answered afterwards through
  `response_url`, falling back to `chat.postMessage` / `chat.postEphemeral`.
- Deliveries raise `DeliveryError`; a 429 is *not* slept on inside slack_sdk (no rate-limit retry
  handler) but handed to the dispatcher with its Retry-After, which pauses just that channel and
  persists the retry time. Connection errors and 5xx get slack_sdk's own short retries.
- Slack has no idempotency key for `chat.postMessage`, so every alert carries its delivery's key
  in the message `metadata` (event type `flows_delivery`), and `find_sent_many` reads the
  channel's history (`conversations.history` with `include_all_metadata`, from the attempt's
  start) for it before a delivery that was in flight at a crash is sent again. That needs the
  `channels:history` / `groups:history` / `im:history` scopes (see slack_manifest.yaml); without
  them the look-up finds nothing, a warning says once that duplicates are possible, and the
  delivery is re-sent as before.
- Errors are classified by reach (`DeliveryError.scope`): a channel that is gone, archived or
  closed to the bot stops that channel; a refused token stops the workspace.
- The Socket Mode client reconnects by itself; a failed post only fails that delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.adapters import slack_render
from bot.adapters.base import (
    AdapterConfigError,
    ChatAdapter,
    CommandHandler,
    DeliveryError,
    Destination,
    Pacing,
)
from bot.commands.context import CommandContext
from bot.commands.parse import SLOW_COMMANDS
from bot.messages import Message, error_message
from bot.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://slack.com/api/"
COMMAND = "/flows"
EVENTS_PATH = "/slack/events"

REPLAY_WINDOW_SECONDS = 300.0
"""A signed request verifies for 5 minutes (bolt rejects older timestamps), so a captured one could
be replayed within that window; remembering accepted signatures for as long closes the gap."""

AUTH_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "account_inactive", "token_revoked", "token_expired"}
)
WORKSPACE_ERRORS = AUTH_ERRORS - {"account_inactive"}
"""The token is refused: nothing can be posted anywhere in the workspace."""
CHANNEL_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "account_inactive",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_non_threadable_channel",
        "team_access_not_granted",
        "ekm_access_denied",
        "user_not_found",
        "user_disabled",
        "cannot_dm_bot",
    }
)
"""The channel (or DM) refuses the bot: every subscription there stops at once (a fresh
`/flows watch` there reactivates them once the cause is fixed)."""
HISTORY_SCOPE_ERRORS = frozenset({"missing_scope", "not_allowed_token_type"})
HISTORY_PAGE = 200
HISTORY_MAX_PAGES = 10
METADATA_EVENT = "flows_delivery"

_CONNECTION_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, OSError, SlackClientError)


def _web_client(token: str | None, api_url: str) -> AsyncWebClient:
    return AsyncWebClient(
        token=token,
        base_url=api_url,
        timeout=30,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def _bolt_logger() -> logging.Logger:
    # Bolt reads SLACK_BOT_TOKEN from the environment by itself and warns that it goes unused
    # next to the client we pass; it is the same token, so the warning is only noise.
    logger = logging.getLogger(f"{__name__}.bolt")
    if not logger.filters:
        logger.addFilter(lambda record: "`token` will be unused" not in record.getMessage())
    return logger


def _header(error: SlackApiError, name: str) -> str | None:
    headers = error.response.headers or {}
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value[0] if isinstance(value, list) else str(value)
    return None


def _error_code(error: SlackApiError) -> str:
    data = error.response.data if isinstance(error.response.data, dict) else {}
    return str(data.get("error") or f"HTTP {error.response.status_code}")


def delivery_error(error: SlackApiError) -> DeliveryError:
    """How the dispatcher should treat a failed Web API call."""
    code = _error_code(error)
    status = error.response.status_code
    if status == 429 or code == "ratelimited":
        try:
            retry_after = float(_header(error, "Retry-After") or 30)
        except ValueError:
            retry_after = 30.0
        return DeliveryError(
            f"slack: rate limited (Retry-After {retry_after:g}s)", retry_after=retry_after
        )
    if code in WORKSPACE_ERRORS or status == 401:
        return DeliveryError(f"slack: {code}", scope="workspace")
    if code in CHANNEL_ERRORS or status in (403, 404, 410):
        return DeliveryError(f"slack: {code}", scope="channel")
    return DeliveryError(f"slack: {code}")


def command_context(body: dict[str, Any]) -> CommandContext:
    """Who ran `/flows`, and where, from a slash-command payload.

    Slack puts no per-channel permission in the payload, so everyone who can run the command may
    change the channel's subscriptions; workspace admins restrict who can use the app or the
    command in Slack's own settings."""
    channel = str(body.get("channel_id") or "")
    return CommandContext(
        platform="slack",
        workspace=str(body.get("team_id") or ""),
        channel=channel,
        user=str(body.get("user_id") or ""),
        user_name=str(body.get("user_name") or ""),
        is_dm=body.get("channel_name") == "directmessage" or channel.startswith("D"),
        can_manage_channel=True,
    )


class SlackAdapter(ChatAdapter):
    platform = "slack"
    # chat.postMessage: 1 per second per channel; the workspace-wide rate is kept at 19/s,
    # 5 % below the 20/s assumed for a workspace, for command replies and look-ups.
    pacing = Pacing(
        per_channel_messages=1, per_channel_seconds=1.0, global_per_second=19, per_workspace=True
    )

    def __init__(
        self,
        bot_token: str | None,
        *,
        app_token: str | None = None,
        signing_secret: str | None = None,
        api_url: str = DEFAULT_API_URL,
        http_port: int = 3000,
        http_host: str = "0.0.0.0",
        connect_timeout: float = 30.0,
        oauth: AsyncOAuthSettings | None = None,
    ) -> None:
        if oauth is not None and not signing_secret:
            raise AdapterConfigError(
                "Slack OAuth (SLACK_CLIENT_ID) needs SLACK_SIGNING_SECRET: the install pages and "
                "slash commands are served over HTTP on SLACK_HTTP_PORT"
            )
        if not app_token and not signing_secret:
            raise AdapterConfigError(
                "Slack needs SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP mode) "
                "next to SLACK_BOT_TOKEN"
            )
        self.api_url = api_url
        self.app_token = app_token
        self.socket_mode = bool(app_token)
        self.http_port = http_port
        self.http_host = http_host
        self.connect_timeout = connect_timeout
        self.oauth = oauth
        if oauth is not None:
            # One deployment, many workspaces: each request and each alert uses the token of
            # the workspace it concerns, from the installation store (bot/adapters/slack_oauth).
            self.socket_mode = False
        self.client = _web_client(None if oauth is not None else bot_token, api_url)
        self.app = AsyncApp(
            name="flows-bot",
            logger=_bolt_logger(),
            client=self.client,
            signing_secret=signing_secret or "",
            oauth_settings=oauth,
            # Socket Mode requests are authenticated by the app token's websocket instead.
            request_verification_enabled=not self.socket_mode,
        )
        self._tokens: dict[str, str] = {}
        self.app.command(COMMAND)(self._on_command)
        if not self.socket_mode:
            self.app.middleware(self._reject_replays)
        self.bound_port: int | None = None
        self.bot_user_id: str | None = None
        self._handle: CommandHandler | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._connect_task: asyncio.Task | None = None
        self._runner: web.AppRunner | None = None
        self._seen_signatures: dict[str, float] = {}
        self._dm_channels: dict[str, str] = {}
        self._history_unavailable_logged = False

    @classmethod
    def from_settings(cls, settings: Settings, engine: Any = None) -> SlackAdapter:
        if settings.slack_client_id or settings.slack_client_secret:
            return cls._oauth_from_settings(settings, engine)
        if not settings.slack_bot_token:
            present = [
                name
                for name, value in (
                    ("SLACK_APP_TOKEN", settings.slack_app_token),
                    ("SLACK_SIGNING_SECRET", settings.slack_signing_secret),
                )
                if value
            ]
            raise AdapterConfigError(
                f"SLACK_BOT_TOKEN is not set ({' and '.join(present) or 'Slack'} is); "
                "set the bot token (xoxb-…) from the Slack app's OAuth & Permissions page"
            )
        if settings.slack_app_token and not settings.slack_app_token.startswith("xapp-"):
            raise AdapterConfigError(
                "SLACK_APP_TOKEN must be an app-level token starting with xapp- "
                "(Basic Information → App-Level Tokens, scope connections:write)"
            )
        return cls(
            settings.slack_bot_token,
            app_token=settings.slack_app_token,
            signing_secret=settings.slack_signing_secret,
            api_url=settings.slack_api_url,
            http_port=settings.slack_http_port,
        )

    @classmethod
    def _oauth_from_settings(cls, settings: Settings, engine: Any) -> SlackAdapter:
        if not (settings.slack_client_id and settings.slack_client_secret):
            missing = "SLACK_CLIENT_SECRET" if settings.slack_client_id else "SLACK_CLIENT_ID"
            raise AdapterConfigError(f"Slack OAuth needs {missing} too (Basic Information page)")
        if engine is None:
            raise AdapterConfigError("Slack OAuth keeps installations in the database: no store")
        from bot.adapters.slack_oauth import oauth_settings

        return cls(
            None,
            signing_secret=settings.slack_signing_secret,
            api_url=settings.slack_api_url,
            http_port=settings.slack_http_port,
            oauth=oauth_settings(settings, engine),
        )

    # ------------------------------------------------------------------ lifecycle

    async def start(self, handle_command: CommandHandler) -> None:
        self._handle = handle_command
        if self.oauth is not None:
            await self._start_http()  # no single token to check: each workspace brings its own
            return
        await self._check_bot_token()
        if self.socket_mode:
            await self._start_socket_mode()
        else:
            await self._start_http()

    async def _check_bot_token(self) -> None:
        try:
            response = await self.client.auth_test()
        except SlackApiError as exc:
            code = _error_code(exc)
            if code in AUTH_ERRORS:
                raise AdapterConfigError(
                    f"SLACK_BOT_TOKEN was rejected by Slack ({code})"
                ) from None
            raise AdapterConfigError(
                f"Slack auth.test failed ({code}) at SLACK_API_URL={self.api_url}"
            ) from None
        except _CONNECTION_ERRORS as exc:
            raise AdapterConfigError(
                f"could not reach Slack at SLACK_API_URL={self.api_url}: {exc}"
            ) from None
        self.bot_user_id = response.get("user_id")
        log.info("slack: signed in as %s in %s", response.get("user"), response.get("team"))

    async def _start_socket_mode(self) -> None:
        assert self.app_token
        # Fetch the websocket URL here rather than inside connect(): the library retries a
        # rejected app token forever, and a bad token should stop start-up with a clear line.
        try:
            opened = await self.client.apps_connections_open(app_token=self.app_token)
        except SlackApiError as exc:
            raise AdapterConfigError(
                f"SLACK_APP_TOKEN was rejected by Slack ({_error_code(exc)}); it must be an "
                "app-level token (xapp-…) with connections:write, and Socket Mode must be enabled"
            ) from None
        except _CONNECTION_ERRORS as exc:
            raise AdapterConfigError(
                f"could not reach Slack at SLACK_API_URL={self.api_url}: {exc}"
            ) from None
        handler = AsyncSocketModeHandler(self.app, self.app_token)
        handler.client.wss_uri = str(opened["url"])
        self._socket = handler
        self._connect_task = asyncio.create_task(handler.connect_async(), name="slack-socket")
        done, _ = await asyncio.wait({self._connect_task}, timeout=self.connect_timeout)
        if not done:
            log.warning("slack: Socket Mode is still connecting; /flows works once it is up")
        else:
            log.info("slack: Socket Mode connected")

    async def _start_http(self) -> None:
        web_app = self.app.web_app(path=EVENTS_PATH, port=self.http_port)
        self._runner = web.AppRunner(web_app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.http_host, self.http_port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            raise AdapterConfigError(
                f"cannot listen on SLACK_HTTP_PORT={self.http_port} for Slack requests: {exc}"
            ) from None
        self.bound_port = int(self._runner.addresses[0][1])
        log.info("slack: HTTP mode, listening on port %s at %s", self.bound_port, EVENTS_PATH)

    async def stop(self) -> None:
        if self._socket is not None:
            socket, self._socket = self._socket, None
            with contextlib.suppress(Exception):
                await socket.close_async()
        if self._connect_task is not None:
            self._connect_task.cancel()
            await asyncio.gather(self._connect_task, return_exceptions=True)
            self._connect_task = None
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    # ------------------------------------------------------------------ commands

    async def _reject_replays(
        self, req: AsyncBoltRequest, next: Callable[[], Awaitable[BoltResponse]]
    ) -> BoltResponse:
        # Runs after bolt's signature check, so only genuinely signed requests are remembered.
        signature = (req.headers.get("x-slack-signature") or [""])[0]
        now = time.monotonic()
        for seen, at in list(self._seen_signatures.items()):
            if now - at > REPLAY_WINDOW_SECONDS:
                del self._seen_signatures[seen]
        if signature and signature in self._seen_signatures:
            log.warning("slack: rejected a replayed request")
            return BoltResponse(status=401, body={"error": "replayed request"})
        if signature:
            self._seen_signatures[signature] = now
        return await next()

    async def _on_command(self, ack: Any, body: dict[str, Any], respond: Any) -> None:
        text = str(body.get("text") or "").strip()
        if text.split(" ", 1)[0].lower() in SLOW_COMMANDS:
            await ack(text="Working on it…", response_type="ephemeral")
        else:
            await ack()
        ctx = command_context(body)
        reply = await self.run_command(ctx, text)
        await self._reply(body, respond, ctx, reply)

    async def run_command(self, ctx: CommandContext, text: str) -> Message:
        if self._handle is None:
            return error_message("The bot is still starting; try again in a moment.")
        try:
            return await self._handle(ctx, text)
        except Exception:
            log.exception("slack: /flows %r failed", text[:100])
            return error_message("Something went wrong on our side; the error has been logged.")

    async def _reply(
        self, body: dict[str, Any], respond: Any, ctx: CommandContext, reply: Message
    ) -> None:
        payload = slack_render.reply_payload(reply)
        answered = False
        if body.get("response_url"):
            try:
                response = await respond(**payload)
                answered = response.status_code == 200
            except _CONNECTION_ERRORS as exc:
                log.warning("slack: response_url failed (%s); posting instead", exc)
        token = await self._token_for(ctx.workspace)  # None with a single bot token
        if not answered:
            await self._post_reply(ctx, reply, payload, token)
        if reply.chart_path and not reply.ephemeral:
            await self._upload_chart(ctx.channel, reply, token)

    async def _post_reply(
        self, ctx: CommandContext, reply: Message, payload: dict, token: str | None
    ) -> None:
        try:
            if reply.ephemeral:
                await self.client.chat_postEphemeral(
                    token=token,
                    channel=ctx.channel,
                    user=ctx.user,
                    text=payload["text"],
                    blocks=payload["blocks"],
                )
            else:
                await self.client.chat_postMessage(
                    token=token, channel=ctx.channel, text=payload["text"], blocks=payload["blocks"]
                )
        except SlackApiError as exc:
            log.error("slack: could not answer /flows in %s: %s", ctx.channel, _error_code(exc))
        except _CONNECTION_ERRORS as exc:
            log.error("slack: could not answer /flows in %s: %s", ctx.channel, exc)

    # ------------------------------------------------------------------ delivery

    async def _token_for(self, workspace: str) -> str | None:
        """The bot token of the workspace (OAuth mode); None in single-token mode."""
        if self.oauth is None:
            return None
        token = self._tokens.get(workspace)
        if token is None:
            store = self.oauth.installation_store
            bot = await store.async_find_bot(enterprise_id=None, team_id=workspace or None)
            if bot is None or not bot.bot_token:
                raise DeliveryError(
                    f"slack: the app is not installed in workspace {workspace}", permanent=True
                )
            token = self._tokens[workspace] = bot.bot_token
        return token

    async def send(self, destination: Destination, message: Message, idempotency_key: str) -> str:
        try:
            token = await self._token_for(destination.workspace)
            channel = await self._channel_for(destination, token)
            response = await self.client.chat_postMessage(
                token=token,
                channel=channel,
                text=slack_render.fallback_text(message),
                blocks=slack_render.blocks(message),
                unfurl_links=False,
                unfurl_media=False,
                metadata={
                    "event_type": METADATA_EVENT,
                    "event_payload": {"key": idempotency_key},
                },
            )
        except SlackApiError as exc:
            if _error_code(exc) in AUTH_ERRORS:
                self._tokens.pop(destination.workspace, None)  # reinstalled: look it up again
            raise delivery_error(exc) from exc
        except _CONNECTION_ERRORS as exc:
            raise DeliveryError(f"slack: {type(exc).__name__}: {exc}") from exc
        posted_in = str(response.get("channel") or channel)
        if message.chart_path:
            await self._upload_chart(posted_in, message, token)
        return f"{posted_in}:{response['ts']}"

    async def find_sent_many(
        self, destination: Destination, idempotency_keys: list[str], since: dt.datetime
    ) -> dict[str, str]:
        """Read the channel's history since `since` for messages whose metadata carries these
        keys; {key: "channel:ts"} of those found."""
        wanted = set(idempotency_keys)
        found: dict[str, str] = {}
        token = await self._token_for(destination.workspace)
        channel = await self._channel_for(destination, token)
        cursor: str | None = None
        for _ in range(HISTORY_MAX_PAGES):
            try:
                page = await self.client.conversations_history(
                    token=token,
                    channel=channel,
                    oldest=f"{since.timestamp():.6f}",
                    limit=HISTORY_PAGE,
                    include_all_metadata=True,
                    **({"cursor": cursor} if cursor else {}),
                )
            except SlackApiError as exc:
                code = _error_code(exc)
                if code in HISTORY_SCOPE_ERRORS or code in CHANNEL_ERRORS:
                    self._history_unavailable(code)
                    return found
                raise
            for message in page.get("messages") or []:
                metadata = message.get("metadata") or {}
                if metadata.get("event_type") != METADATA_EVENT:
                    continue
                key = (metadata.get("event_payload") or {}).get("key")
                if key in wanted:
                    found[key] = f"{channel}:{message.get('ts')}"
            cursor = ((page.get("response_metadata") or {}).get("next_cursor")) or None
            if len(found) == len(wanted) or not page.get("has_more") or not cursor:
                break
        return found

    def _history_unavailable(self, code: str) -> None:
        if not self._history_unavailable_logged:
            self._history_unavailable_logged = True
            log.warning(
                "slack: cannot read channel history (%s) to check whether an alert in flight at "
                "a restart was already posted; it is sent again, so duplicates are possible. "
                "Add the channels:history, groups:history and im:history scopes and reinstall "
                "the app (see docs/delivery.md)",
                code,
            )

    async def _channel_for(self, destination: Destination, token: str | None = None) -> str:
        if not destination.user:
            return destination.channel
        user_key = f"{destination.workspace}:{destination.user}"
        cached = self._dm_channels.get(user_key)
        if cached:
            return cached
        response = await self.client.conversations_open(token=token, users=destination.user)
        channel = str(response["channel"]["id"])
        self._dm_channels[user_key] = channel
        return channel

    async def _upload_chart(self, channel: str, message: Message, token: str | None = None) -> None:
        """Upload the chart into the channel right after its message.

        Best effort: the alert itself is already posted, and failing the delivery here would make
        the dispatcher post the alert a second time."""
        path = Path(message.chart_path) if message.chart_path else None
        if path is None or not path.is_file():
            log.warning("slack: chart %s is missing; alert posted without it", path)
            return
        try:
            await self.client.files_upload_v2(
                token=token,
                channel=channel,
                file=str(path),
                filename=path.name,
                title=slack_render.escape(message.title),
                alt_txt=f"Chart: {message.title}",
            )
        except SlackApiError as exc:
            log.warning("slack: chart upload to %s failed: %s", channel, _error_code(exc))
        except _CONNECTION_ERRORS as exc:
            log.warning("slack: chart upload to %s failed: %s", channel, exc)
