"""Chat replies that say only what is true (issue #13, point 6)."""

from __future__ import annotations

import re

from storage.store import Store
from tests.botkit import RecordingAdapter, RecordingPlatform, sample_app, sample_settings


async def _app(tmp_path):
    settings = sample_settings(tmp_path)
    store = await Store.open(settings.database_url)
    adapter = RecordingAdapter(RecordingPlatform())
    app = sample_app(settings, store, [adapter])
    await app.start_adapters()
    return app, adapter, store


async def test_status_of_an_asset_no_program_holds_is_unknown_not_zero(tmp_path) -> None:
    _, adapter, store = await _app(tmp_path)
    try:
        reply = await adapter.command("status SOL")
        text = reply.to_text()
        assert "$0" not in text and "NEUTRAL" not in text
        fields = {field.label: field.value for field in reply.fields}
        assert fields["Est. rebalancing trade"] == "unknown"
        assert "unknown (not modelled), not zero" in reply.summary
        assert "AUM" not in reply.footer
    finally:
        await store.close()


async def test_watch_reply_describes_only_what_was_subscribed(tmp_path) -> None:
    _, adapter, store = await _app(tmp_path)
    try:
        reply = await adapter.command("watch QQQ letf vol")
        labels = {field.label for field in reply.fields}
        assert "Drift threshold" not in labels
        assert "Next countdown alert" not in labels and "Countdown steps" not in labels
        assert {"Leveraged-ETF alert", "Volatility alert"} <= labels
        default = await adapter.command("watch SPY")
        values = {field.label: field.value for field in default.fields}
        assert values["Drift threshold"].startswith("$10.0bn")
        assert "Next countdown alert" in values
    finally:
        await store.close()


async def test_chat_calendar_sizes_period_ends_from_the_bots_market_data(tmp_path) -> None:

    settings = sample_settings(tmp_path)
    store = await Store.open(settings.database_url)
    adapter = RecordingAdapter(RecordingPlatform())
    # Sample data that reaches today: older data is too old to size (the freshness rule).
    app = sample_app(settings, store, [adapter], today=None)
    await app.start_adapters()
    try:
        reply = await adapter.command("calendar 40")
        assert reply.sample
        body = reply.body or ""
        # A month or quarter end within 40 days is always there, sized rather than "not sized"
        # (on the session after a month end the drift is nil: NEUTRAL $0).
        assert re.search(r"(month|quarter)_end .* est\. (BUY|SELL|NEUTRAL)", body), body
        assert "not sized" not in body
    finally:
        await store.close()


async def test_console_shows_no_literal_backticks() -> None:
    import io

    from bot.adapters.console import ConsoleAdapter
    from bot.messages import Message

    output = io.StringIO()
    console = ConsoleAdapter(output=output)
    console.print("Type `/flows watch BTC` to start")
    console.print(Message(title="Already watching", summary="`/flows unwatch BTC` first").to_text())
    assert "`" not in output.getvalue()
    assert "/flows watch BTC" in output.getvalue()


def test_status_json_of_an_asset_no_program_holds_has_nulls_not_zeros(capsys) -> None:
    import json

    from bot.cli import main

    assert main(["status", "SOL", "--source", "sample", "--json"]) == 0
    rebalance = json.loads(capsys.readouterr().out)["rebalance"]
    assert rebalance["funds"] == []
    for key in ("trade_usd", "direction", "pct_adv", "aum_total_usd"):
        assert rebalance[key] is None, key


async def test_the_console_takes_every_sub_command_without_the_slash_prefix() -> None:
    """Bare words are commands when they are sub-commands (`funds BTC` as well as `status BTC`);
    anything else gets the hint."""
    import io

    from bot.adapters.console import ConsoleAdapter
    from bot.commands.parse import SUBCOMMANDS
    from bot.messages import Message

    seen: list[str] = []

    async def handle(ctx, text: str) -> Message:
        seen.append(text)
        return Message(title="ok", summary="")

    output = io.StringIO()
    console = ConsoleAdapter(output=output)
    await console.start(handle)
    for word in SUBCOMMANDS:
        assert await console.execute(f"{word} BTC") is not None
    assert await console.execute("hello there") is None
    assert seen == [f"{word} BTC" for word in SUBCOMMANDS]
    assert "Commands start with /flows" in output.getvalue()


async def test_chat_ask_uses_the_settings_neutral_band_as_the_cli_does(tmp_path) -> None:
    """`/flows ask` passed no analytics settings, so NEUTRAL_BAND_PCT_ADV was ignored in chat."""
    question = "Will SPY see selling pressure at quarter end from rebalancing?"
    verdicts = {}
    for band in (0.1, 1000.0):
        store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / f'band-{band}.db'}")
        adapter = RecordingAdapter(RecordingPlatform())
        settings = sample_settings(tmp_path, neutral_band_pct_adv=band)
        app = sample_app(settings, store, [adapter])
        await app.start_adapters()
        try:
            verdicts[band] = (await adapter.command(f"ask {question}")).to_text()
        finally:
            await store.close()
    assert "SELL" in verdicts[0.1] or "BUY" in verdicts[0.1]
    assert "NEUTRAL" in verdicts[1000.0].upper()
