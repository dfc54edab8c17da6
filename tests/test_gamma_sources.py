"""Option-chain sources: CSV directory, SAMPLE DATA, Yahoo Finance (recorded yfinance frames),
Deribit through ccxt against a local stand-in, and the per-day database cache."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from aiohttp import web

from bot.chaincache import CachedChainSource
from flows.errors import MarketDataError
from flows.options.csvdir import CsvChainSource
from flows.options.live import LiveChainSource
from flows.options.sample import SampleChainSource
from storage.store import Store
from tests.standins import json_response, start_site

HEADER = "as_of,expiry,strike,type,open_interest,implied_vol"


# --- CSV directory -------------------------------------------------------------------------------


def write_chain(directory, asset: str, lines: list[str], header: str = HEADER) -> None:
    (directory / f"{asset}_options.csv").write_text("\n".join([header, *lines]) + "\n")


async def test_csv_chain_uses_the_rows_of_the_requested_day(tmp_path):
    write_chain(
        tmp_path,
        "SPY",
        [
            "2025-03-03,2025-03-21,580,call,1200,0.18",
            "2025-03-03,2025-03-21,560,put,1500,0.22",
            "2025-03-04,2025-03-21,580,call,1300,0.17",
            "2025-03-04,2025-03-21,560,put,1600,0.21",
            "2025-03-04,2025-04-17,600,call,900,0.16",
        ],
    )
    source = CsvChainSource(tmp_path)
    first = await source.chain("SPY", dt.date(2025, 3, 3))
    assert len(first) == 2 and first.as_of == dt.date(2025, 3, 3)
    assert list(first.open_interest) == [1200, 1500]
    assert list(first.multiplier) == [100.0, 100.0]  # equity default
    latest = await source.chain("spy", None)
    assert latest.as_of == dt.date(2025, 3, 4) and len(latest) == 3
    assert list(latest.is_call) == [True, False, True]
    with pytest.raises(MarketDataError, match="no rows for 2025-03-05"):
        await source.chain("SPY", dt.date(2025, 3, 5))


async def test_csv_multiplier_column_and_crypto_default(tmp_path):
    write_chain(
        tmp_path,
        "BTC",
        ["2025-03-03,2025-03-28,90000,call,120,0.55", "2025-03-03,2025-03-28,80000,put,80,0.6"],
    )
    write_chain(
        tmp_path,
        "QQQ",
        ["2025-03-03,2025-03-21,500,call,10,0.2,10"],
        header=HEADER + ",multiplier",
    )
    btc = await CsvChainSource(tmp_path).chain("BTC", None)
    assert list(btc.multiplier) == [1.0, 1.0]
    qqq = await CsvChainSource(tmp_path).chain("QQQ", None)
    assert list(qqq.multiplier) == [10.0]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["2025-03-03,2025-03-21,580,call,1200,0.18", "2025-03-03,2025-03-21,oops,put,1,0.2"],
         "SPY_options.csv line 3: strike is not a number"),
        (["2025-03-03,2025-03-21,580,call,1200,-0.18"], "line 2: implied_vol -0.18 is negative"),
        (["2025-03-03,21/03/2025,580,call,1200,0.18"], "line 2: expiry is not YYYY-MM-DD"),
        (["2025-03-03,2025-03-21,580,c@ll,1200,0.18"], "line 2: type 'c@ll' is not call or put"),
        (["2025-03-03,2025-03-21,580,call,,0.18"], "line 2: open_interest is not a number"),
        (["2025-03-03,2025-03-21,580,call,0,0.18"], "no open interest"),
    ],
)  # fmt: skip
async def test_csv_bad_rows_are_one_line_errors(tmp_path, lines, message):
    write_chain(tmp_path, "SPY", lines)
    with pytest.raises(MarketDataError, match=message) as caught:
        await CsvChainSource(tmp_path).chain("SPY", dt.date(2025, 3, 3))
    assert "\n" not in str(caught.value)


async def test_csv_missing_file_or_header(tmp_path):
    with pytest.raises(MarketDataError, match=r"no option chain for AGG: no file AGG_options.csv"):
        await CsvChainSource(tmp_path).chain("AGG", None)
    write_chain(
        tmp_path, "SPY", ["2025-03-03,2025-03-21,580,call"], header="as_of,expiry,strike,type"
    )
    with pytest.raises(MarketDataError, match=r"lacks column.*open_interest, implied_vol"):
        await CsvChainSource(tmp_path).chain("SPY", None)


# --- SAMPLE DATA ---------------------------------------------------------------------------------


async def test_sample_chain_is_deterministic_and_labelled():
    day = dt.date(2025, 6, 2)
    one = await SampleChainSource().chain("SPY", day)
    two = await SampleChainSource().chain("SPY", day)
    assert one.is_sample and "SAMPLE DATA" in one.description
    assert np.array_equal(one.open_interest, two.open_interest)
    assert np.array_equal(one.implied_vol, two.implied_vol)
    other = await SampleChainSource().chain("SPY", dt.date(2025, 6, 3))
    assert not np.array_equal(one.open_interest[:50], other.open_interest[:50])
    assert (one.expiry > np.datetime64(day)).all()
    btc = await SampleChainSource().chain("BTC", day)
    assert set(btc.multiplier) == {1.0}


async def test_sample_has_no_chain_for_assets_without_options():
    with pytest.raises(MarketDataError, match="no option chain for AGG"):
        await SampleChainSource().chain("AGG", None)


# --- Yahoo Finance (recorded yfinance frames) ----------------------------------------------------

NOW = dt.datetime(2025, 3, 4, 21, 0, tzinfo=dt.UTC)  # Tuesday, after the New York close


def yahoo_frame(strikes, oi, iv, last_trade="2025-03-04 20:59:00+00:00"):
    """The columns yfinance's `option_chain(expiry).calls/.puts` frames carry."""
    n = len(strikes)
    return pd.DataFrame(
        {
            "contractSymbol": [f"SPY250321C{int(k * 1000):08d}" for k in strikes],
            "lastTradeDate": pd.to_datetime([last_trade] * n),
            "strike": strikes,
            "lastPrice": [1.0] * n,
            "bid": [0.9] * n,
            "ask": [1.1] * n,
            "change": [0.0] * n,
            "percentChange": [0.0] * n,
            "volume": [10.0] * n,
            "openInterest": oi,
            "impliedVolatility": iv,
            "inTheMoney": [False] * n,
            "contractSize": ["REGULAR"] * n,
            "currency": ["USD"] * n,
        }
    )


def yahoo_source(chains: dict[str, tuple[pd.DataFrame, pd.DataFrame]], expiries=None, **kw):
    calls = []

    def yf_expiries(ticker):
        calls.append(("options", ticker))
        return tuple(chains) if expiries is None else expiries

    def yf_chain(ticker, expiry):
        calls.append(("option_chain", ticker, expiry))
        return chains[expiry]

    source = LiveChainSource(yf_expiries=yf_expiries, yf_chain=yf_chain, clock=lambda: NOW, **kw)
    return source, calls


async def test_yahoo_chain_from_recorded_frames():
    chains = {
        "2025-03-21": (
            yahoo_frame([580.0, 590.0], [1200, 800], [0.18, 0.17]),
            yahoo_frame([560.0, 570.0], [1500, 900], [0.22, 0.2]),
        ),
        "2025-04-17": (yahoo_frame([600.0], [400], [0.16]), yahoo_frame([550.0], [700], [0.24])),
    }
    source, calls = yahoo_source(chains)
    chain = await source.chain("SPY", None)
    assert chain.as_of == dt.date(2025, 3, 4) and chain.source == "live:yahoo"
    assert len(chain) == 6 and set(chain.multiplier) == {100.0}
    assert list(chain.open_interest) == [1200, 800, 1500, 900, 400, 700]
    assert ("options", "SPY") in calls and ("option_chain", "SPY", "2025-04-17") in calls
    assert "Yahoo Finance SPY options, 2 expiries" in chain.description


async def test_yahoo_missing_vols_and_open_interest_are_left_out_and_counted():
    chains = {
        "2025-03-21": (
            yahoo_frame([580.0, 590.0, 600.0], [1200, 800, np.nan], [0.18, np.nan, 0.2]),
            yahoo_frame([560.0, 570.0], [1500, 900], [1e-5, 0.2]),
        )
    }
    source, _ = yahoo_source(chains)
    chain = await source.chain("SPY", None)
    assert list(chain.strike) == [580.0, 570.0]
    assert chain.dropped == {"no open interest": 1, "no implied vol": 2}


async def test_yahoo_no_expiries_means_no_chain():
    source, _ = yahoo_source({}, expiries=())
    with pytest.raises(MarketDataError, match="no option chain for AGG: Yahoo Finance lists no"):
        await source.chain("AGG", None)


async def test_yahoo_empty_frames_are_an_error():
    empty = pd.DataFrame()
    chains = {"2025-03-21": (yahoo_frame([580.0], [10], [0.2]), yahoo_frame([560.0], [10], [0.2]))}
    chains["2025-03-28"] = (empty, empty)
    source, _ = yahoo_source(chains)
    with pytest.raises(MarketDataError, match="empty SPY option chain for 2025-03-28"):
        await source.chain("SPY", None)


async def test_yahoo_stale_chain_is_an_error():
    old = "2025-02-20 20:00:00+00:00"
    chains = {
        "2025-03-21": (
            yahoo_frame([580.0], [10], [0.2], old),
            yahoo_frame([560.0], [10], [0.2], old),
        )
    }
    source, _ = yahoo_source(chains)
    with pytest.raises(MarketDataError, match=r"stale option chain.*2025-02-20"):
        await source.chain("SPY", None)


async def test_yahoo_all_open_interest_zero_is_an_error():
    chains = {"2025-03-21": (yahoo_frame([580.0], [0], [0.2]), yahoo_frame([560.0], [0], [0.2]))}
    source, _ = yahoo_source(chains)
    with pytest.raises(MarketDataError, match="the option chain has no open interest"):
        await source.chain("SPY", None)


async def test_live_chains_are_today_only():
    source, _ = yahoo_source({})
    with pytest.raises(MarketDataError, match="today's"):
        await source.chain("SPY", dt.date(2025, 2, 3))


# --- Deribit through ccxt, against a local stand-in ----------------------------------------------


def deribit_row(name, oi, mark_iv, stamp_ms):
    return {
        "instrument_name": name,
        "base_currency": "BTC",
        "quote_currency": "BTC",
        "underlying_price": 86000.0,
        "open_interest": oi,
        "mark_iv": mark_iv,
        "mark_price": 0.01,
        "volume": 1.0,
        "creation_timestamp": stamp_ms,
    }


@pytest.fixture
async def deribit():
    state = {"rows": [], "requests": [], "fail": 0}

    async def handler(request: web.Request) -> web.Response:
        state["requests"].append((request.path, dict(request.query)))
        if state["fail"]:
            state["fail"] -= 1
            return web.Response(status=429, text="too many requests")
        return json_response({"jsonrpc": "2.0", "result": state["rows"], "usIn": 0, "usOut": 0})

    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", handler)
    runner, url = await start_site(app)
    state["url"] = url
    yield state
    await runner.cleanup()


def deribit_source(url: str, now: dt.datetime, retry_delays=(0.0,)) -> LiveChainSource:
    return LiveChainSource(
        deribit_url_override=url,
        exchange_config={"enableRateLimit": False},
        retry_delays=retry_delays,
        clock=lambda: now,
    )


async def test_deribit_chain_through_ccxt(deribit):
    now = dt.datetime(2025, 3, 4, 12, 0, tzinfo=dt.UTC)
    stamp = int(now.timestamp() * 1000) - 60_000
    deribit["rows"] = [
        deribit_row("BTC-28MAR25-90000-C", 1200.5, 55.2, stamp),
        deribit_row("BTC-28MAR25-80000-P", 900.0, 61.0, stamp),
        deribit_row("BTC-7MAR25-86000-C", 300.0, 48.0, stamp),
        deribit_row("BTC-28MAR25-100000-C", 50.0, None, stamp),  # no mark IV: left out
        deribit_row("BTC-4MAR25-86000-P", 100.0, 50.0, stamp),  # expires today: excluded
        deribit_row("BTC-PERPETUAL", 1e6, None, stamp),  # not an option
    ]
    source = deribit_source(deribit["url"], now)
    try:
        chain = await source.chain("BTC", None)
    finally:
        await source.close()
    path, query = deribit["requests"][0]
    assert path.endswith("get_book_summary_by_currency")
    assert query == {"currency": "BTC", "kind": "option"}
    assert chain.source == "live:deribit" and chain.as_of == dt.date(2025, 3, 4)
    assert sorted(chain.strike) == [80000.0, 86000.0, 90000.0]
    assert set(chain.multiplier) == {1.0}
    assert sorted(np.round(chain.implied_vol, 3)) == [0.48, 0.552, 0.61]
    assert chain.dropped == {"no implied vol": 1}


async def test_deribit_empty_and_stale_chains(deribit):
    now = dt.datetime(2025, 3, 4, 12, 0, tzinfo=dt.UTC)
    source = deribit_source(deribit["url"], now)
    try:
        with pytest.raises(MarketDataError, match="Deribit listed no BTC options"):
            await source.chain("BTC", None)
        day_old = int((now - dt.timedelta(days=1)).timestamp() * 1000)
        deribit["rows"] = [deribit_row("BTC-28MAR25-90000-C", 10.0, 50.0, day_old)]
        with pytest.raises(MarketDataError, match="stale option chain"):
            await source.chain("BTC", None)
        with pytest.raises(MarketDataError, match="BTC, ETH only"):
            await source.chain("SOL", None)
    finally:
        await source.close()


async def test_deribit_rate_limit_is_retried_then_reported(deribit):
    now = dt.datetime(2025, 3, 4, 12, 0, tzinfo=dt.UTC)
    stamp = int(now.timestamp() * 1000)
    deribit["rows"] = [deribit_row("BTC-28MAR25-90000-C", 10.0, 50.0, stamp)]
    deribit["fail"] = 1
    source = deribit_source(deribit["url"], now)
    try:
        assert len(await source.chain("BTC", None)) == 1
        assert len(deribit["requests"]) == 2
        deribit["fail"] = 5
        with pytest.raises(MarketDataError, match=r"rate limit at Deribit \(2 attempts\)"):
            await source.chain("BTC", None)
    finally:
        await source.close()


# --- the per-day database cache ------------------------------------------------------------------


@pytest.fixture
async def store(tmp_path):
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'cache.db'}")
    yield store
    await store.close()


async def test_live_chain_is_stored_once_per_day(store):
    chains = {"2025-03-21": (yahoo_frame([580.0], [10], [0.2]), yahoo_frame([560.0], [20], [0.3]))}
    live, calls = yahoo_source(chains)
    cached = CachedChainSource(live, store)
    first = await cached.chain("SPY", None)
    fetches = len(calls)
    second = await cached.chain("SPY", None)
    assert len(calls) == fetches  # the second read came from the database
    assert np.array_equal(first.open_interest, second.open_interest)
    assert np.array_equal(first.expiry, second.expiry)
    assert second.source == "live:yahoo" and "stored" in second.description
    # A past day that was stored stays answerable, although live serves only today.
    assert (await cached.chain("SPY", dt.date(2025, 3, 4))).as_of == dt.date(2025, 3, 4)
    assert await store.option_chain_days("live", "SPY") == [dt.date(2025, 3, 4)]


async def test_a_failed_fetch_stores_nothing(store):
    chains = {"2025-03-21": (yahoo_frame([580.0], [10], [-0.2]), yahoo_frame([560.0], [20], [0.3]))}
    live, _ = yahoo_source(chains)
    with pytest.raises(MarketDataError, match="implied vol is negative"):
        await CachedChainSource(live, store).chain("SPY", None)
    empty, _ = yahoo_source({}, expiries=())
    with pytest.raises(MarketDataError, match="no option chain for AGG"):
        await CachedChainSource(empty, store).chain("AGG", None)
    assert await store.option_chain_days("live", "SPY") == []
    assert await store.option_chain_days("live", "AGG") == []
