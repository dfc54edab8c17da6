"""Slack installed in many workspaces through the OAuth flow (slack-bolt's AsyncOAuthFlow, the
installations in our database), against the local Slack stand-in: two workspaces that both
watch BTC in a channel with the same id each receive only their own alerts, posted with their
own bot token."""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.parse
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlparse

import aiohttp
import pytest
from slack_sdk.signature import SignatureVerifier

from bot.adapters.base import AdapterConfigError, Destination
from bot.adapters.slack import SlackAdapter
from bot.dispatcher import Dispatcher, _idempotency_key
from storage import NewAlert
from tests.standins import wait_until
from tests.standins.pipeline import command_service, make_settings
from tests.standins.slack_server import SlackStandIn

# slack-sdk's oauth.v2.access call uses aiohttp's BasicAuth, which aiohttp deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    standin = await SlackStandIn().start()
    yield standin
    await standin.close()


def oauth_settings(tmp_path, slack: SlackStandIn, database_url: str):
    return make_settings(
        tmp_path,
        database_url=database_url,
        slack_client_id="111.222",
        slack_client_secret="client-secret",
        slack_signing_secret="signing-secret",
        slack_api_url=slack.api_url,
        slack_authorize_url=f"{slack.url}/oauth/v2/authorize",
        slack_http_port=0,
    )


async def slash(adapter: SlackAdapter, slack: SlackStandIn, team: str, text: str) -> int:
    """A signed `/flows` slash command from workspace `team`, channel C1."""
    body = urllib.parse.urlencode(slack.command_payload(text, channel_id="C1", team_id=team))
    stamp = str(int(time.time()))
    signature = SignatureVerifier("signing-secret").generate_signature(timestamp=stamp, body=body)
    headers = {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature or "",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    url = f"http://127.0.0.1:{adapter.bound_port}/slack/events"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body.encode(), headers=headers) as response,
    ):
        return response.status


async def install(adapter: SlackAdapter, slack: SlackStandIn, team: str) -> None:
    """What a workspace admin's browser does: open the install link, come back with a code."""
    base = f"http://127.0.0.1:{adapter.bound_port}"
    slack.oauth_codes[f"code-{team}"] = team
    async with aiohttp.ClientSession() as browser:
        async with browser.get(f"{base}/slack/install", allow_redirects=False) as response:
            assert response.status == 302, await response.text()
            authorize = urlparse(response.headers["Location"])
            assert authorize.path == "/oauth/v2/authorize"
            state = parse_qs(authorize.query)["state"][0]
            assert parse_qs(authorize.query)["client_id"] == ["111.222"]
            # The state cookie is Secure (Slack apps are served over https); a browser sends
            # it back, this plain-http client is told to.
            cookie = response.cookies["slack-app-oauth-state"]
        async with browser.get(
            f"{base}/slack/oauth_redirect",
            params={"code": f"code-{team}", "state": state},
            headers={"Cookie": f"{cookie.key}={cookie.value}"},
        ) as response:
            assert response.status == 200, await response.text()


async def test_two_workspaces_installed_by_oauth_get_only_their_own_alerts(
    tmp_path, slack, database_url
) -> None:
    settings = oauth_settings(tmp_path, slack, database_url)
    store, commands = await command_service(settings)
    adapter = SlackAdapter.from_settings(settings, engine=store.engine)
    await adapter.start(commands.handle)
    try:
        await install(adapter, slack, "T1")
        await install(adapter, slack, "T2")
        token = {team: tok for tok, team in slack.installed.items()}
        assert set(token) == {"T1", "T2"}

        # Both workspaces watch BTC in a channel with the same id, by slash command: each
        # request is authorised with its own workspace's installation.
        subscriptions = {}
        for team in ("T1", "T2"):
            assert await slash(adapter, slack, team, "watch BTC drift") == 200
        await wait_until(lambda: len(slack.responses) == 2)
        assert all("Watching BTC" in r["text"] for r in slack.responses)
        for team in ("T1", "T2"):
            [only] = await store.list_subscriptions(platform="slack", workspace=team, channel="C1")
            subscriptions[team] = only.id
        assert subscriptions["T1"] != subscriptions["T2"]

        def alert(key: str, teams: list[str]) -> NewAlert:
            return NewAlert(
                dedupe_key=key,
                kind="drift",
                asset="BTC",
                as_of=dt.date(2026, 12, 4),
                title=key,
                content={"title": key, "summary": "SAMPLE DATA"},
                subscription_ids=[subscriptions[team] for team in teams],
            )

        await store.record_alerts([alert("drift:BTC:both", ["T1", "T2"])])
        await store.record_alerts([alert("drift:BTC:t1-only", ["T1"])])
        dispatcher = Dispatcher(store, {"slack": adapter})
        await dispatcher.drain(max_wait=10)
        # T2 unwatches: its channel C1 gets nothing more; T1's C1 is untouched.
        assert await slash(adapter, slack, "T2", "unwatch BTC") == 200
        await wait_until(lambda: len(slack.responses) == 3)
        assert await store.list_subscriptions(platform="slack", workspace="T2", channel="C1") == []
        await store.record_alerts([alert("drift:BTC:after-unwatch", ["T1", "T2"])])

        await dispatcher.drain(max_wait=10)
        posts = [c for c in slack.calls_to("chat.postMessage") if c.ok]
        received: dict[str, list[str]] = {"T1": [], "T2": []}
        for call in posts:
            assert call.params["channel"] == "C1"
            text = json.dumps(call.params.get("blocks")) + str(call.params.get("text"))
            keys = [k for k in ("both", "t1-only", "after-unwatch") if f"drift:BTC:{k}" in text]
            received[slack.installed[call.token]] += keys
        assert received == {"T1": ["both", "t1-only", "after-unwatch"], "T2": ["both"]}

        # The look-up before a re-send (after a crash) reads the channel's history with the
        # workspace's own token too; without one Slack refuses it and the alert would repeat.
        stored = await store.get_alert("drift:BTC:t1-only")
        [delivery] = await store.deliveries_for(stored.id)
        key = _idempotency_key(delivery)
        since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        found = await adapter.find_sent_many(Destination("slack", "T1", "C1", None), [key], since)
        assert list(found) == [key]
        [history] = slack.calls_to("conversations.history")
        assert history.ok and slack.installed[history.token] == "T1"
    finally:
        await adapter.stop()
        await store.close()


async def test_an_alert_for_a_workspace_without_an_installation_fails_for_good(
    tmp_path, slack, database_url
) -> None:
    settings = oauth_settings(tmp_path, slack, database_url)
    store, commands = await command_service(settings)
    adapter = SlackAdapter.from_settings(settings, engine=store.engine)
    await adapter.start(commands.handle)
    try:
        subscription, _ = await store.add_subscription(
            platform="slack", workspace="T9", channel="C1", asset="BTC", kinds="drift"
        )
        await store.record_alert(
            dedupe_key="drift:BTC:x",
            kind="drift",
            asset="BTC",
            as_of=dt.date(2026, 12, 4),
            title="x",
            content={"title": "x", "summary": "y"},
            subscription_ids=[subscription.id],
        )
        await Dispatcher(store, {"slack": adapter}).drain(max_wait=5)
        assert await store.delivery_counts() == {"pending": 0, "sent": 0, "failed": 1}
        assert slack.calls_to("chat.postMessage") == []
    finally:
        await adapter.stop()
        await store.close()


def test_oauth_settings_are_checked(tmp_path) -> None:
    with pytest.raises(AdapterConfigError, match="SLACK_CLIENT_SECRET"):
        SlackAdapter.from_settings(make_settings(tmp_path, slack_client_id="1.2"), engine=object())
    with pytest.raises(AdapterConfigError, match="SLACK_SIGNING_SECRET"):
        SlackAdapter.from_settings(
            make_settings(tmp_path, slack_client_id="1.2", slack_client_secret="s"),
            engine=object(),
        )


def test_a_client_secret_alone_is_a_one_line_error_not_silence(tmp_path, capsys, monkeypatch):
    """SLACK_CLIENT_SECRET without SLACK_CLIENT_ID used to leave Slack off without a word."""
    from bot.cli import main
    from bot.settings import get_settings

    monkeypatch.setenv("SLACK_CLIENT_SECRET", "secret")
    monkeypatch.setenv("DATA_SOURCE", "sample")
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    monkeypatch.setenv("CHART_DIR", str(tmp_path / "charts"))
    for name in ("SLACK_CLIENT_ID", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    try:
        code = main(["run", "--once"])
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert code == 2
    assert (
        err.strip()
        == "flows-bot run: error: Slack OAuth needs SLACK_CLIENT_ID too (Basic Information page)"
    )
