"""A local stand-in for Discord: the REST routes flows-bot uses and a minimal gateway.

REST answers are JSON with a content type of exactly `application/json` (what discord.py parses).
Messages posted with `enforce_nonce` and a nonce already used in that channel return the existing
message, as Discord does. The gateway says HELLO, answers heartbeats, sends READY after IDENTIFY
and delivers INTERACTION_CREATE events on request, so interactions reach the real command tree
through the real client.

With `enforce_limits`, message creation is held to Discord's limits: a bucket per channel of
`channel_limit` messages per `channel_window` seconds (announced on every answer through
`X-RateLimit-Limit` / `-Remaining` / `-Reset` / `-Reset-After` / `-Bucket`) and a global
`global_per_second`; a request over either gets a 429 (counted in `limited`). `inject_429`
answers that fraction of sends with a 429 regardless (`injected`; without `Via`, as a proxy or
Cloudflare would, so discord.py hands it on instead of retrying itself)."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.standins import Failure, json_response, start_site, wait_until

APP_ID = 900000000000000001
BOT_ID = 900000000000000002
OWNER_ID = 900000000000000003
MANAGE_CHANNELS = 1 << 4
SEND_MESSAGES = 1 << 11
TIMESTAMP = "2026-09-24T13:30:00.000000+00:00"


@dataclass
class Request:
    method: str
    path: str
    route: str
    payload: dict[str, Any]
    files: dict[str, tuple[str, bytes]]
    at: float = field(default_factory=time.monotonic)
    status: int = 200


def _user(user_id: int, name: str, bot: bool = False) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": name,
        "global_name": None,
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "flags": 0,
        "public_flags": 0,
    }


class DiscordStandIn:
    def __init__(self, token: str = "discord-test-token") -> None:
        self.token = token
        self.requests: list[Request] = []
        self.failures: dict[str, list[Failure]] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        """Messages per channel id, as Discord stored them."""
        self.callbacks: list[dict[str, Any]] = []
        """Interaction callbacks (initial responses), with `interaction_id` added."""
        self.followups: list[dict[str, Any]] = []
        self.synced: dict[str, list[dict[str, Any]]] = {}
        """Last command list PUT per scope: 'global' or the guild id."""
        self.identified = asyncio.Event()
        self.identifies: list[dict[str, Any]] = []
        """IDENTIFY payloads received (one per shard connected)."""
        self.resumes = 0
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._gateways: list[web.WebSocketResponse] = []
        self._seq = itertools.count(1)
        self._ids = itertools.count(1)
        self._nonces: dict[tuple[str, str], dict[str, Any]] = {}
        self.enforce_limits = False
        self.channel_limit = 5
        self.channel_window = 5.0
        self.global_per_second = 50
        self.inject_429 = 0.0
        self.limited = 0
        self.injected = 0
        self._buckets: dict[str, list[float]] = {}
        self._global: deque[float] = deque()
        self._random = random.Random(19)

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v10"

    async def start(self) -> DiscordStandIn:
        app = web.Application()
        api = "/api/v10"
        routes = [
            ("GET", "/users/@me", self._me),
            ("GET", "/oauth2/applications/@me", self._application),
            ("PUT", "/applications/{app}/commands", self._sync),
            ("PUT", "/applications/{app}/guilds/{guild}/commands", self._sync),
            ("GET", "/gateway/bot", self._gateway_bot),
            ("POST", "/interactions/{id}/{token}/callback", self._callback),
            ("POST", "/webhooks/{app}/{token}", self._followup),
            ("PATCH", "/webhooks/{app}/{token}/messages/{message}", self._edit_original),
            ("DELETE", "/webhooks/{app}/{token}/messages/{message}", self._delete_original),
            ("POST", "/channels/{channel}/messages", self._create_message),
            ("POST", "/users/@me/channels", self._open_dm),
            ("GET", "/users/{user}", self._get_user),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, api + path, self._wrap(method, path, handler))
        app.router.add_get("/gateway", self._gateway)
        self._runner, self.url = await start_site(app)
        return self

    async def close(self) -> None:
        for socket in self._gateways:
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------------ scripting

    def fail(
        self,
        route: str,
        status: int,
        body: dict[str, Any],
        *,
        headers: dict[str, str] | None = None,
        times: int | None = 1,
        channel: str | None = None,
    ) -> None:
        """Answer `route` (e.g. 'POST /channels/{channel}/messages') with an error instead."""
        match = (lambda info: info.get("channel") == channel) if channel else None
        self.failures.setdefault(route, []).append(Failure(status, body, headers, times, match))

    def to_route(self, route: str) -> list[Request]:
        return [r for r in self.requests if r.route == route]

    def channel_posts(self, channel: str | None = None) -> list[Request]:
        return [
            r
            for r in self.to_route("POST /channels/{channel}/messages")
            if channel is None or r.path.split("/")[-2] == channel
        ]

    # ------------------------------------------------------------------ HTTP plumbing

    def _wrap(self, method: str, path: str, handler: Any) -> Any:
        route = f"{method} {path}"

        async def handle(request: web.Request) -> web.StreamResponse:
            payload, files = await self._body(request)
            record = Request(method, request.path, route, payload, files)
            self.requests.append(record)
            public = path.startswith(("/interactions", "/webhooks"))
            if not public and request.headers.get("Authorization") != f"Bot {self.token}":
                record.status = 401
                return json_response({"message": "401: Unauthorized", "code": 0}, 401)
            for failure in self.failures.get(route, []):
                if failure.take(dict(request.match_info)):
                    record.status = failure.status
                    return json_response(failure.body, failure.status, failure.headers)
            return await handler(request, record)

        return handle

    async def _body(self, request: web.Request) -> tuple[dict[str, Any], dict[str, Any]]:
        if not request.can_read_body:
            return {}, {}
        if request.content_type == "application/json":
            return await request.json(), {}
        if request.content_type.startswith("multipart/"):
            payload: dict[str, Any] = {}
            files: dict[str, tuple[str, bytes]] = {}
            reader = await request.multipart()
            async for part in reader:
                data = await part.read()  # type: ignore[union-attr]
                if part.name == "payload_json":
                    payload = json.loads(data)
                else:
                    files[part.name or ""] = (part.filename or "", bytes(data))
            return payload, files
        return {}, {}

    def _new_id(self) -> str:
        return str(1_000_000_000_000_000_000 + next(self._ids))

    def _message(
        self, channel_id: str, payload: dict[str, Any], files: dict[str, tuple[str, bytes]]
    ) -> dict[str, Any]:
        attachments = [
            {
                "id": self._new_id(),
                "filename": name,
                "size": len(data),
                "url": f"{self.url}/attachments/{name}",
                "proxy_url": f"{self.url}/attachments/{name}",
            }
            for name, data in files.values()
        ]
        return {
            "id": self._new_id(),
            "channel_id": channel_id,
            "type": 0,
            "content": payload.get("content") or "",
            "author": _user(BOT_ID, "flows-bot", bot=True),
            "timestamp": TIMESTAMP,
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": attachments,
            "embeds": payload.get("embeds") or [],
            "pinned": False,
            "flags": payload.get("flags", 0),
            "nonce": payload.get("nonce"),
            "allowed_mentions": payload.get("allowed_mentions"),
        }

    # ------------------------------------------------------------------ REST routes

    async def _me(self, request: web.Request, record: Request) -> web.Response:
        return json_response({**_user(BOT_ID, "flows-bot", bot=True), "verified": True})

    async def _application(self, request: web.Request, record: Request) -> web.Response:
        return json_response(
            {
                "id": str(APP_ID),
                "name": "flows-bot",
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": _user(OWNER_ID, "owner"),
                "verify_key": "0" * 64,
                "flags": 0,
                "summary": "",
            }
        )

    async def _sync(self, request: web.Request, record: Request) -> web.Response:
        scope = request.match_info.get("guild", "global")
        commands = [
            {
                **command,
                "id": self._new_id(),
                "application_id": str(APP_ID),
                "version": "1",
                "default_member_permissions": command.get("default_member_permissions"),
                **({"guild_id": scope} if scope != "global" else {}),
            }
            for command in record.payload  # type: ignore[union-attr]
        ]
        self.synced[scope] = commands
        return json_response(commands)

    async def _gateway_bot(self, request: web.Request, record: Request) -> web.Response:
        return json_response(
            {
                "url": self.url.replace("http://", "ws://") + "/gateway",
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 0,
                    "max_concurrency": 1,
                },
            }
        )

    async def _callback(self, request: web.Request, record: Request) -> web.Response:
        interaction_id = request.match_info["id"]
        payload = {**record.payload, "interaction_id": interaction_id, "files": record.files}
        self.callbacks.append(payload)
        kind = record.payload.get("type")
        data = record.payload.get("data") or {}
        ephemeral = bool((data.get("flags") or 0) & 64)
        answer: dict[str, Any] = {
            "interaction": {
                "id": interaction_id,
                "type": 2,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": ephemeral,
            }
        }
        if kind in (4, 5):
            message = self._message("0", data, record.files)
            answer["interaction"]["response_message_id"] = message["id"]
            answer["resource"] = {"type": kind, "message": message}
        return json_response(answer)

    async def _followup(self, request: web.Request, record: Request) -> web.Response:
        self.followups.append({**record.payload, "files": record.files})
        return json_response(self._message("0", record.payload, record.files))

    async def _edit_original(self, request: web.Request, record: Request) -> web.Response:
        return json_response(self._message("0", record.payload, record.files))

    async def _delete_original(self, request: web.Request, record: Request) -> web.Response:
        return web.Response(status=204)

    def _limit(self, channel: str, record: Request) -> tuple[web.Response | None, dict[str, str]]:
        """(a 429 answer or None, the rate-limit headers for the answer)."""
        now = time.monotonic()
        if self.inject_429 and self._random.random() < self.inject_429:
            self.injected += 1
            record.status = 429
            body = {"message": "You are being rate limited.", "retry_after": 0.2, "global": False}
            return json_response(body, 429, {"Retry-After": "1"}), {}
        if not self.enforce_limits:
            return None, {}
        bucket = self._buckets.get(channel)
        if bucket is None or now - bucket[0] >= self.channel_window:
            bucket = self._buckets[channel] = [now, 0]
        reset_after = max(0.0, bucket[0] + self.channel_window - now)
        headers = {
            "X-RateLimit-Limit": str(self.channel_limit),
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
            "X-RateLimit-Bucket": "channel-messages",
        }
        while self._global and now - self._global[0] >= 1.0:
            self._global.popleft()
        over_global = len(self._global) >= self.global_per_second
        if bucket[1] >= self.channel_limit or over_global:
            self.limited += 1
            record.status = 429
            retry_after = 1.0 - (now - self._global[0]) if over_global else reset_after
            body = {"message": "You are being rate limited.", "retry_after": retry_after}
            body["global"] = over_global
            headers.update(
                {
                    "X-RateLimit-Remaining": "0",
                    "Retry-After": f"{retry_after:.3f}",
                    "Via": "1.1 google",
                    **({"X-RateLimit-Global": "true"} if over_global else {}),
                }
            )
            return json_response(body, 429, headers), headers
        bucket[1] += 1
        self._global.append(now)
        headers["X-RateLimit-Remaining"] = str(self.channel_limit - int(bucket[1]))
        return None, headers

    async def _create_message(self, request: web.Request, record: Request) -> web.Response:
        channel = request.match_info["channel"]
        limited, headers = self._limit(channel, record)
        if limited is not None:
            return limited
        nonce = record.payload.get("nonce")
        if nonce and record.payload.get("enforce_nonce"):
            existing = self._nonces.get((channel, str(nonce)))
            if existing is not None:
                return json_response(existing, headers=headers)
        message = self._message(channel, record.payload, record.files)
        self.messages.setdefault(channel, []).append(message)
        if nonce:
            self._nonces[(channel, str(nonce))] = message
        return json_response(message, headers=headers)

    def delivered_nonces(self, channel: str | None = None) -> list[str]:
        """The nonce of every message stored, in posting order."""
        channels = [channel] if channel else list(self.messages)
        return [m["nonce"] for c in channels for m in self.messages.get(c, []) if m.get("nonce")]

    async def _open_dm(self, request: web.Request, record: Request) -> web.Response:
        recipient = str(record.payload["recipient_id"])
        return json_response(
            {
                "id": "7" + recipient[-17:],
                "type": 1,
                "last_message_id": None,
                "recipients": [_user(int(recipient), f"user{recipient[-4:]}")],
            }
        )

    async def _get_user(self, request: web.Request, record: Request) -> web.Response:
        user = request.match_info["user"]
        return json_response(_user(int(user), f"user{user[-4:]}"))

    # ------------------------------------------------------------------ gateway

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        self._gateways.append(socket)
        await socket.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 45000}}))
        async for message in socket:
            if message.type != WSMsgType.TEXT:
                continue
            frame = json.loads(message.data)
            if frame["op"] == 1:
                await socket.send_str(json.dumps({"op": 11}))
            elif frame["op"] == 2:
                self.identifies.append(frame["d"])
                await socket.send_str(json.dumps(self._ready()))
                self.identified.set()
            elif frame["op"] == 6:
                self.resumes += 1
                await socket.send_str(
                    json.dumps({"op": 0, "t": "RESUMED", "s": next(self._seq), "d": {}})
                )
        return socket

    async def drop_gateway(self, code: int = 4000) -> None:
        """Close the gateway connection as Discord does when it wants a client to resume."""
        await self._gateways[-1].close(code=code)

    def _ready(self) -> dict[str, Any]:
        return {
            "op": 0,
            "t": "READY",
            "s": next(self._seq),
            "d": {
                "v": 10,
                "user": _user(BOT_ID, "flows-bot", bot=True),
                "guilds": [],
                "session_id": "standin-session",
                "resume_gateway_url": self.url.replace("http://", "ws://") + "/gateway",
                "application": {"id": str(APP_ID), "flags": 0},
            },
        }

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        await asyncio.wait_for(self.identified.wait(), timeout=5)
        frame = {"op": 0, "t": event, "s": next(self._seq), "d": data}
        await self._gateways[-1].send_str(json.dumps(frame))

    async def slash_command(
        self,
        subcommand: str,
        options: dict[str, Any] | None = None,
        *,
        guild_id: str | None = "800000000000000001",
        channel_id: str = "800000000000000010",
        user_id: str = "800000000000000100",
        permissions: int = MANAGE_CHANNELS | SEND_MESSAGES,
        timeout: float = 5.0,
    ) -> dict[str, Any]:
        """Deliver `/flows subcommand …` through the gateway; return the first response to it
        (the callback: a reply, or a deferral whose follow-up lands in `followups`)."""
        payload = self.interaction_payload(
            2,
            subcommand,
            options,
            guild_id=guild_id,
            channel_id=channel_id,
            user_id=user_id,
            permissions=permissions,
        )
        await self.dispatch("INTERACTION_CREATE", payload)
        return await self._callback_for(payload["id"], timeout)

    async def autocomplete(
        self, subcommand: str, options: dict[str, Any], focused: str, timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        payload = self.interaction_payload(4, subcommand, options, focused=focused)
        await self.dispatch("INTERACTION_CREATE", payload)
        callback = await self._callback_for(payload["id"], timeout)
        return callback["data"]["choices"]

    async def _callback_for(self, interaction_id: str, timeout: float) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            return next((c for c in self.callbacks if c["interaction_id"] == interaction_id), None)

        return await wait_until(found, timeout=timeout)

    def interaction_payload(
        self,
        kind: int,
        subcommand: str,
        options: dict[str, Any] | None = None,
        *,
        focused: str | None = None,
        guild_id: str | None = "800000000000000001",
        channel_id: str = "800000000000000010",
        user_id: str = "800000000000000100",
        permissions: int = MANAGE_CHANNELS | SEND_MESSAGES,
    ) -> dict[str, Any]:
        types = {str: 3, int: 4, bool: 5}
        sub_options = [
            {
                "name": name,
                "type": types[type(value)],
                "value": value,
                **({"focused": True} if name == focused else {}),
            }
            for name, value in (options or {}).items()
        ]
        user = _user(int(user_id), "trader")
        payload: dict[str, Any] = {
            "id": self._new_id(),
            "application_id": str(APP_ID),
            "type": kind,
            "token": f"interaction-token-{next(self._ids)}",
            "version": 1,
            "channel_id": channel_id,
            "data": {
                "id": "900000000000000100",
                "name": "flows",
                "type": 1,
                "options": [{"name": subcommand, "type": 1, "options": sub_options}],
            },
            "app_permissions": str(SEND_MESSAGES),
            "locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": 26_214_400,
        }
        if guild_id:
            payload.update(
                guild_id=guild_id,
                guild_locale="en-US",
                context=0,
                authorizing_integration_owners={"0": guild_id},
                channel={
                    "id": channel_id,
                    "type": 0,
                    "guild_id": guild_id,
                    "name": "trading",
                    "position": 0,
                    "permission_overwrites": [],
                    "nsfw": False,
                    "parent_id": None,
                },
                member={
                    "user": user,
                    "roles": [],
                    "joined_at": TIMESTAMP,
                    "deaf": False,
                    "mute": False,
                    "flags": 0,
                    "permissions": str(permissions),
                },
            )
        else:
            payload.update(
                context=1,
                authorizing_integration_owners={"0": "0"},
                channel={"id": channel_id, "type": 1, "recipients": [user]},
                user=user,
            )
        return payload
