"""A local stand-in for Slack: the Web API methods flows-bot uses, the file-upload URL, slash
command `response_url`s and a Socket Mode websocket.

Web API calls answer like Slack: HTTP 200 with `{"ok": false, "error": …}` for API errors, HTTP
429 with `Retry-After` for rate limits. The websocket says `hello`, delivers `slash_commands`
envelopes on request and records each ack (`{"envelope_id": …}`).

Posted messages are kept per channel with their `metadata` and a `ts` taken from the clock, and
`conversations.history` serves them back (newest first, `oldest`, cursor pages, metadata only
with `include_all_metadata`) — or `missing_scope` when `history_scope` is off. With
`enforce_limits`, `chat.postMessage` is held to Slack's 1 message per second per channel and
`workspace_per_second` per workspace (a 429 with Retry-After beyond that, counted in
`limited`); `inject_429` answers that fraction of sends with a 429 regardless (`injected`)."""

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


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    token: str | None
    at: float = field(default_factory=time.monotonic)
    status: int = 200
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class SlackStandIn:
    def __init__(self, bot_token: str = "xoxb-test", app_token: str = "xapp-test") -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.calls: list[Call] = []
        self.responses: list[dict[str, Any]] = []
        """Bodies posted to `response_url`s (bolt's `respond()`)."""
        self.uploads: dict[str, bytes] = {}
        self.acks: dict[str, dict[str, Any]] = {}
        self.failures: dict[str, list[Failure]] = {}
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._sockets: list[web.WebSocketResponse] = []
        self._socket_ready = asyncio.Event()
        self._ids = itertools.count(1)
        self.history: dict[str, list[dict[str, Any]]] = {}
        """Messages per channel, oldest first, as `conversations.history` serves them."""
        self.history_scope = True
        self.enforce_limits = False
        self.channel_interval = 1.0
        self.workspace_per_second = 20.0
        self.inject_429 = 0.0
        self.inject_retry_after = 1
        self.limited = 0
        self.injected = 0
        self._last_post: dict[str, float] = {}
        self._workspace_posts: deque[float] = deque()
        self._last_ts = 0.0
        self._random = random.Random(19)
        self.oauth_codes: dict[str, str] = {}
        """OAuth: authorization code -> the workspace (team id) whose install it completes."""
        self.installed: dict[str, str] = {}
        """Bot tokens issued by `oauth.v2.access` -> their workspace."""

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    async def start(self) -> SlackStandIn:
        app = web.Application()
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_post("/response/{command_id}", self._response)
        app.router.add_get("/socket", self._socket)
        self._runner, self.url = await start_site(app)
        return self

    async def close(self) -> None:
        for socket in self._sockets:
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------------ scripting

    def fail(
        self,
        method: str,
        error: str,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        times: int | None = 1,
        channel: str | None = None,
    ) -> None:
        match = (lambda params: params.get("channel") == channel) if channel else None
        self.failures.setdefault(method, []).append(
            Failure(status, {"ok": False, "error": error}, headers, times, match)
        )

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def posted(self) -> list[dict[str, Any]]:
        """Parameters of every `chat.postMessage` Slack accepted."""
        return [c.params for c in self.calls_to("chat.postMessage") if c.ok]

    # ------------------------------------------------------------------ Socket Mode

    @property
    def open_sockets(self) -> int:
        return sum(1 for socket in self._sockets if not socket.closed)

    async def drop_socket(self) -> None:
        """Close the Socket Mode connection, as Slack does when it rotates its servers."""
        self._socket_ready.clear()
        await self._sockets[-1].close()

    async def slash_command(
        self,
        text: str,
        *,
        channel_id: str = "C0FLOWS",
        channel_name: str = "trading",
        user_id: str = "U0TRADER",
        user_name: str = "trader",
        team_id: str = "T0TEAM",
        command: str = "/flows",
        timeout: float = 3.0,
    ) -> dict[str, Any]:
        """Deliver `/flows text` over the websocket; return the ack (within Slack's 3 s)."""
        await asyncio.wait_for(self._socket_ready.wait(), timeout=5)
        envelope_id = f"env-{next(self._ids)}"
        payload = self.command_payload(
            text,
            channel_id=channel_id,
            channel_name=channel_name,
            user_id=user_id,
            user_name=user_name,
            team_id=team_id,
            command=command,
        )
        envelope = {
            "envelope_id": envelope_id,
            "type": "slash_commands",
            "accepts_response_payload": True,
            "payload": payload,
        }
        await self._sockets[-1].send_str(json.dumps(envelope))
        return await wait_until(lambda: self.acks.get(envelope_id), timeout=timeout)

    def command_payload(
        self,
        text: str,
        *,
        channel_id: str = "C0FLOWS",
        channel_name: str = "trading",
        user_id: str = "U0TRADER",
        user_name: str = "trader",
        team_id: str = "T0TEAM",
        command: str = "/flows",
    ) -> dict[str, str]:
        command_id = next(self._ids)
        return {
            "token": "verification-token",
            "team_id": team_id,
            "team_domain": "flows",
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": user_id,
            "user_name": user_name,
            "command": command,
            "text": text,
            "api_app_id": "A0FLOWS",
            "is_enterprise_install": "false",
            "response_url": f"{self.url}/response/{command_id}",
            "trigger_id": f"trigger-{command_id}",
        }

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(autoping=True)
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_str(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "debug_info": {"host": "standin", "approximate_connection_time": 3600},
                    "connection_info": {"app_id": "A0FLOWS"},
                }
            )
        )
        self._socket_ready.set()
        async for message in socket:
            if message.type == WSMsgType.TEXT:
                ack = json.loads(message.data)
                self.acks[ack["envelope_id"]] = ack
        return socket

    # ------------------------------------------------------------------ HTTP

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            params.update(await request.json())
        elif request.can_read_body:
            params.update(dict(await request.post()))
        return params

    def _token(self, request: web.Request, params: dict[str, Any]) -> str | None:
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return header[len("Bearer ") :]
        return params.get("token")

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        token = self._token(request, params)
        call = Call(method, params, token)
        self.calls.append(call)
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if method == "oauth.v2.access":
            return self._oauth_access(call, params)
        if token != expected and token not in self.installed:
            call.error = "invalid_auth"
            return json_response({"ok": False, "error": "invalid_auth"})
        for failure in self.failures.get(method, []):
            if failure.take(params):
                call.status, call.error = failure.status, failure.body["error"]
                return json_response(failure.body, failure.status, failure.headers)
        if method == "chat.postMessage":
            limited = self._rate_limit(str(params.get("channel")))
            if limited is not None:
                call.status, call.error = 429, "ratelimited"
                return json_response(
                    {"ok": False, "error": "ratelimited"}, 429, {"Retry-After": str(limited)}
                )
        if method == "conversations.history" and not self.history_scope:
            call.error = "missing_scope"
            return json_response(
                {"ok": False, "error": "missing_scope", "needed": "channels:history"}
            )
        headers = {"X-OAuth-Scopes": ",".join(self.scopes)} if method == "auth.test" else None
        return json_response({"ok": True, **self._answer(method, params)}, headers=headers)

    @property
    def scopes(self) -> list[str]:
        """The bot token's scopes, as Slack lists them in `X-OAuth-Scopes`."""
        granted = ["commands", "chat:write", "chat:write.public", "files:write", "im:write"]
        if self.history_scope:
            granted += ["channels:history", "groups:history", "im:history"]
        return granted

    def _rate_limit(self, channel: str) -> int | None:
        """Retry-After seconds when this post is over a limit; None when it may go through."""
        now = time.monotonic()
        if self.inject_429 and self._random.random() < self.inject_429:
            self.injected += 1
            return self.inject_retry_after
        if not self.enforce_limits:
            return None
        last = self._last_post.get(channel)
        if last is not None and now - last < self.channel_interval:
            self.limited += 1
            return 1
        while self._workspace_posts and now - self._workspace_posts[0] >= 1.0:
            self._workspace_posts.popleft()
        if len(self._workspace_posts) >= self.workspace_per_second:
            self.limited += 1
            return 1
        self._last_post[channel] = now
        self._workspace_posts.append(now)
        return None

    def _new_ts(self) -> str:
        # Like Slack: epoch seconds with microseconds, unique and increasing per workspace.
        self._last_ts = max(time.time(), self._last_ts + 0.000001)
        return f"{self._last_ts:.6f}"

    def _history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel"))
        oldest = float(params.get("oldest") or 0)
        limit = int(params.get("limit") or 100)
        offset = int(params.get("cursor") or 0)
        with_metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        newest_first = [
            m for m in reversed(self.history.get(channel, [])) if float(m["ts"]) > oldest
        ]
        page = newest_first[offset : offset + limit]
        more = offset + limit < len(newest_first)
        messages = [{k: v for k, v in m.items() if k != "metadata" or with_metadata} for m in page]
        return {
            "messages": messages,
            "has_more": more,
            "response_metadata": {"next_cursor": str(offset + limit) if more else ""},
        }

    def delivered_keys(self, channel: str | None = None) -> list[str]:
        """The delivery keys in the metadata of posted messages, in posting order."""
        channels = [channel] if channel else list(self.history)
        return [
            m["metadata"]["event_payload"]["key"]
            for c in channels
            for m in self.history.get(c, [])
            if (m.get("metadata") or {}).get("event_type") == "flows_delivery"
        ]

    def _oauth_access(self, call: Call, params: dict[str, Any]) -> web.Response:
        """Exchange an install's code for a bot token of its workspace (client auth not
        checked: the code is the test's to hand out)."""
        team = self.oauth_codes.pop(str(params.get("code")), None)
        if team is None:
            call.error = "invalid_code"
            return json_response({"ok": False, "error": "invalid_code"})
        token = f"xoxb-{team}-{next(self._ids)}"
        self.installed[token] = team
        return json_response(
            {
                "ok": True,
                "app_id": "A0FLOWS",
                "authed_user": {"id": f"U{team}ADMIN"},
                "scope": "commands,chat:write",
                "token_type": "bot",
                "access_token": token,
                "bot_user_id": f"U{team}BOT",
                "team": {"id": team, "name": f"Team {team}"},
                "enterprise": None,
                "is_enterprise_install": False,
            }
        )

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        n = next(self._ids)
        if method == "auth.test":
            return {
                "url": "https://flows.slack.com/",
                "team": "Flows",
                "user": "flows-bot",
                "team_id": "T0TEAM",
                "user_id": "U0BOT",
                "bot_id": "B0BOT",
            }
        if method == "apps.connections.open":
            return {"url": self.url.replace("http://", "ws://") + "/socket"}
        if method == "chat.postMessage":
            ts = self._new_ts()
            metadata = params.get("metadata")
            if isinstance(metadata, str):
                metadata = json.loads(metadata)
            stored = {"type": "message", "ts": ts, "text": params.get("text"), "bot_id": "B0BOT"}
            if metadata:
                stored["metadata"] = metadata
            self.history.setdefault(str(params["channel"]), []).append(stored)
            return {"channel": params["channel"], "ts": ts, "message": {"text": params.get("text")}}
        if method == "conversations.history":
            return self._history(params)
        if method == "chat.postEphemeral":
            return {"message_ts": f"{1_790_000_000 + n}.000200"}
        if method == "conversations.open":
            return {"channel": {"id": "D" + str(params["users"])}}
        if method == "files.getUploadURLExternal":
            file_id = f"F{n}"
            return {"upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}
        if method == "files.completeUploadExternal":
            files = json.loads(params["files"])
            return {"files": [{"id": f["id"], "title": f.get("title")} for f in files]}
        return {}

    async def _upload(self, request: web.Request) -> web.Response:
        self.uploads[request.match_info["file_id"]] = await request.read()
        return web.Response(text=f"OK - {len(self.uploads[request.match_info['file_id']])}")

    async def _response(self, request: web.Request) -> web.Response:
        self.responses.append(await request.json())
        return web.Response(text="ok")
