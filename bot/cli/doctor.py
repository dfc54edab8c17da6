"""`flows-bot doctor`: is this set-up ready to run? One line per check, with what to do when a
check fails; nothing is changed (the database is opened read-only, the tokens are only asked who
they are). Exit code 0 when every check passes (warnings allowed), 1 when one fails."""

from __future__ import annotations

import argparse

OK, WARN, FAIL = "ok", "warn", "FAIL"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check settings, database, platform tokens and market data; say what to fix",
        description="Check the settings, the database (integrity, migrations at head, "
        "writable, not locked), each configured chat platform's token (Slack auth.test, Discord "
        "GET /users/@me) and the market-data source. One line per check; nothing is changed.",
    )
    parser.add_argument("--source", metavar="live|sample|PATH", help="market data to check")
    parser.add_argument("--database", metavar="URL", help="database URL (default: DATABASE_URL)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    import asyncio

    results = asyncio.run(run_checks(args))
    width = max(len(name) for _, name, _ in results)
    for status, name, text in results:
        print(f"{status:<4}  {name:<{width}}  {text}")
    failed = sum(1 for status, _, _ in results if status == FAIL)
    print(
        f"{len(results)} checks: {failed} failed"
        if failed
        else f"{len(results)} checks passed"
        + ("" if all(s == OK for s, _, _ in results) else " (with warnings)")
    )
    return 1 if failed else 0


async def run_checks(args: argparse.Namespace) -> list[tuple[str, str, str]]:
    from pydantic import ValidationError

    from bot.settings import Settings

    results: list[tuple[str, str, str]] = []
    try:
        settings = Settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"]).upper()
            results.append(
                (FAIL, "settings", f"{name}: {error['msg']} → fix it in .env or the environment")
            )
        return results
    overrides = {
        key: value
        for key, value in (("data_source", args.source), ("database_url", args.database))
        if value
    }
    if overrides:
        settings = settings.model_copy(update=overrides)
    results.append(_check_settings(settings))
    results.extend(await _check_database(settings.database_url))
    results.extend(await _check_platforms(settings))
    results.append(await _check_market_data(settings))
    return results


def _check_settings(settings) -> tuple[str, str, str]:
    from flows.errors import FlowsError
    from flows.funds import load_registry

    try:
        registry = load_registry(settings.funds_file)
    except FlowsError as exc:
        return FAIL, "settings", f"{exc} → fix FUNDS_FILE or unset it to use the built-in funds"
    funds = len(getattr(registry, "funds", ()) or ())
    where = settings.funds_file or "built-in registry"
    return (
        OK,
        "settings",
        f"loaded; fund registry: {where}" + (f" ({funds} funds)" if funds else ""),
    )


async def _check_database(url: str) -> list[tuple[str, str, str]]:
    from storage.health import check_database

    health = await check_database(url)
    where = health.where
    if health.problems:
        return [(FAIL, "database", f"{where}: {health.problems[0]}")]
    if not health.exists:
        if health.writable:
            return [(OK, "database", f"{where} does not exist yet; the bot creates it on start")]
        return [
            (
                FAIL,
                "database",
                f"{where} does not exist and its directory is not writable → point "
                "DATABASE_URL at a writable location",
            )
        ]
    results = []
    if health.integrity != "ok":
        results.append(
            (
                FAIL,
                "database",
                f"{where} is corrupt or not a flows-bot database ({health.integrity}) → restore "
                "it from a backup or move it away to start with an empty one",
            )
        )
        return results
    results.append((OK, "database", f"{where}: integrity ok"))
    if health.revision is None:
        results.append(
            (WARN, "migrations", "the database has no schema yet; the bot migrates it on start")
        )
    elif health.at_head:
        results.append((OK, "migrations", f"at head ({health.head})"))
    else:
        results.append(
            (
                WARN,
                "migrations",
                f"at {health.revision}, the code expects {health.head} → the bot migrates on "
                "start, or run `python -m storage.migrate upgrade`",
            )
        )
    if not health.writable:
        results.append(
            (
                FAIL,
                "writable",
                f"{where} (or its directory) cannot be written → make both writable by this "
                "user, or point DATABASE_URL at a writable location",
            )
        )
    elif health.locked:
        results.append(
            (
                WARN,
                "writable",
                f"{where} is locked by another process right now → is another flows-bot "
                "running on the same file? Stop one of them",
            )
        )
    else:
        results.append((OK, "writable", "writable, not locked"))
    if health.at_head:
        results.append(await _check_broken_channels(url))
    return results


async def _check_broken_channels(url: str) -> tuple[str, str, str]:
    """Channels the platforms refused (see docs/delivery.md): stopped until a new watch."""
    from storage.store import Store

    store = await Store.open(url, migrate=False)
    try:
        broken = await store.broken_destinations()
    finally:
        await store.close()
    if not broken:
        return OK, "channels", "no broken channels"
    shown = "; ".join(
        f"{platform} {'DM ' + user if user else channel} ({reason}, {count} subscription(s))"
        for platform, _workspace, channel, user, reason, count in broken[:5]
    )
    more = f" and {len(broken) - 5} more" if len(broken) > 5 else ""
    return (
        WARN,
        "channels",
        f"{len(broken)} broken: {shown}{more} → fix the bot's access there, then run "
        "/flows watch in that channel to resume",
    )


async def _check_platforms(settings) -> list[tuple[str, str, str]]:
    results = []
    if settings.slack_configured:
        results.append(await _check_slack(settings))
    if settings.discord_token:
        results.append(await _check_discord(settings))
    if not results:
        results.append((OK, "chat", "no Slack or Discord tokens set: `run` uses the console"))
    return results


async def _check_slack(settings) -> tuple[str, str, str]:
    import aiohttp

    if not settings.slack_bot_token and settings.slack_client_id:
        # OAuth mode: each workspace's token is stored at install; there is no one token to test.
        return (
            OK,
            "slack",
            "OAuth install flow (SLACK_CLIENT_ID): tokens come from the workspaces' installs",
        )
    if not settings.slack_bot_token:
        return FAIL, "slack", "SLACK_BOT_TOKEN is not set → copy the Bot User OAuth Token (xoxb-…)"
    url = settings.slack_api_url.rstrip("/") + "/auth.test"
    headers = {"Authorization": f"Bearer {settings.slack_bot_token}"}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session,
            session.post(url, headers=headers) as response,
        ):
            body = await response.json(content_type=None)
            scopes = {s.strip() for s in response.headers.get("X-OAuth-Scopes", "").split(",")}
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return (
            FAIL,
            "slack",
            f"cannot reach SLACK_API_URL={settings.slack_api_url} ({exc}) → check the "
            "network or the URL",
        )
    if not body.get("ok"):
        return (
            FAIL,
            "slack",
            f"SLACK_BOT_TOKEN was refused by auth.test ({body.get('error')}) → copy the Bot User "
            "OAuth Token again from the app's OAuth & Permissions page",
        )
    who = f"signed in as {body.get('user')} in {body.get('team')}"
    missing = (
        {"channels:history", "groups:history", "im:history"} - scopes if scopes - {""} else set()
    )
    if missing:
        return (
            WARN,
            "slack",
            f"{who}; missing {', '.join(sorted(missing))}: a restart cannot check whether an "
            "alert in flight was already posted, so duplicates are possible → add the scopes "
            "(bot/adapters/slack_manifest.yaml) and reinstall the app",
        )
    return OK, "slack", who


async def _check_discord(settings) -> tuple[str, str, str]:
    import aiohttp

    url = settings.discord_api_url.rstrip("/") + "/users/@me"
    headers = {"Authorization": f"Bot {settings.discord_token}"}
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session,
            session.get(url, headers=headers) as response,
        ):
            status = response.status
            body = await response.json(content_type=None) if status == 200 else {}
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return (
            FAIL,
            "discord",
            f"cannot reach DISCORD_API_URL={settings.discord_api_url} ({exc}) → check the "
            "network or the URL",
        )
    if status == 401:
        return (
            FAIL,
            "discord",
            "DISCORD_TOKEN was refused (401) → reset and copy the bot token from the Discord "
            "developer portal (Bot → Token)",
        )
    if status != 200:
        return FAIL, "discord", f"GET /users/@me answered HTTP {status} → try again later"
    return OK, "discord", f"signed in as {body.get('username')} ({body.get('id')})"


async def _check_market_data(settings) -> tuple[str, str, str]:
    import datetime as dt

    from flows.errors import FlowsError
    from flows.marketdata import MarketData, open_source

    spec = settings.data_source
    try:
        source = open_source(spec, crypto_exchange=settings.crypto_exchange)
    except FlowsError as exc:
        return FAIL, "market data", f"{exc} → set DATA_SOURCE to live, sample or a CSV directory"
    market = MarketData(source)
    today = dt.date.today()
    symbols = ("BTC", "SPY")
    problems, fetched = [], []
    try:
        for symbol in symbols:
            try:
                bars = await market.bars(symbol, today - dt.timedelta(days=20), today)
                fetched.append(f"{symbol} to {bars.index[-1].date()}" if len(bars) else symbol)
            except FlowsError as exc:
                problems.append(str(exc))
    finally:
        await market.close()
    label = "SAMPLE DATA (synthetic)" if market.is_sample else spec
    if problems:
        fix = (
            "check the network (exchanges, Yahoo Finance)"
            if spec == "live"
            else "add the missing SYMBOL.csv files or use another DATA_SOURCE"
        )
        status = FAIL if len(problems) == len(symbols) else WARN
        return status, "market data", f"{label}: {problems[0]} → {fix}"
    return OK, "market data", f"{label}: {', '.join(fetched)}"
