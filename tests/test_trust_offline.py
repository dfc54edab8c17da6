"""Offline, the live source fails fast with one line that suggests --source sample (issue #13).

The hosts here end in `.invalid`, a name that never resolves (RFC 6761): a real resolver fails
at once, so this is the machine's own offline path, not a stub."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from flows.errors import MarketDataError
from flows.marketdata import live
from flows.marketdata.live import LiveSource, name_resolution_failure

SLOW_RETRIES = (1.0, 3.0, 9.0)  # 13 s of retries if a DNS failure were retried
UNRESOLVABLE = "flows-bot-offline-test.invalid"


async def test_yahoo_offline_fails_within_3_seconds_without_retries(monkeypatch):
    monkeypatch.setattr(live, "YAHOO_HOST", UNRESOLVABLE)
    source = LiveSource(retry_delays=SLOW_RETRIES)
    started = time.monotonic()
    with pytest.raises(MarketDataError) as error:
        await source.fetch("SPY", dt.date(2025, 1, 2), dt.date(2025, 3, 3))
    assert time.monotonic() - started < 3.0
    message = str(error.value)
    assert "no network" in message and "--source sample" in message
    assert "\n" not in message and "Yahoo" not in message  # the network, not the provider
    # Every later call fails at once with the same line.
    started = time.monotonic()
    with pytest.raises(MarketDataError, match="no network"):
        await source.fetch("AGG", dt.date(2025, 1, 2), dt.date(2025, 3, 3))
    assert time.monotonic() - started < 0.5
    assert await source.fund_aum("TQQQ") is None
    await source.close()


async def test_crypto_offline_fails_within_3_seconds_without_retries():
    source = LiveSource(
        "kraken",
        api_url_override=f"http://{UNRESOLVABLE}",
        retry_delays=SLOW_RETRIES,
        clock=lambda: dt.datetime(2025, 3, 4, 12, tzinfo=dt.UTC),
    )
    started = time.monotonic()
    with pytest.raises(MarketDataError) as error:
        await source.fetch("BTC", dt.date(2025, 1, 2), dt.date(2025, 3, 3))
    assert time.monotonic() - started < 3.0
    assert "no network: cannot resolve" in str(error.value)
    assert "--source sample" in str(error.value)
    await source.close()


def test_curl_and_aiohttp_resolution_failures_are_recognised():
    curl = OSError(
        "Failed to perform, curl: (6) Could not resolve host: query2.finance.yahoo.com. See "
        "https://curl.se/libcurl/c/libcurl-errors.html first for more details."
    )
    assert name_resolution_failure(curl) == "query2.finance.yahoo.com"
    try:
        try:
            raise OSError(-2, "Name or service not known")
        except OSError as inner:
            raise RuntimeError("exchange not available") from inner
    except RuntimeError as outer:
        assert name_resolution_failure(outer) is not None
    assert name_resolution_failure(TimeoutError("read timed out")) is None


def test_cli_offline_is_one_line_exit_2(monkeypatch, tmp_path, capsys):
    from bot.cli import main
    from bot.settings import get_settings

    monkeypatch.setattr(live, "YAHOO_HOST", UNRESOLVABLE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/offline.db")
    get_settings.cache_clear()
    try:
        started = time.monotonic()
        code = main(["status", "SPY", "--source", "live"])
        elapsed = time.monotonic() - started
    finally:
        get_settings.cache_clear()
    _, err = capsys.readouterr()
    assert code == 2
    assert elapsed < 3.0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "--source sample" in lines[0]
    assert "Cookie" not in err and "crumb" not in err
