"""LiveSource without the internet.

Crypto: the real ccxt kraken class talks to a local aiohttp stand-in that answers kraken's public
REST endpoints (`/0/public/Assets`, `/0/public/AssetPairs`, `/0/public/OHLC`) in kraken's shapes,
so the bars go through ccxt's own request building and parsing. Yahoo: recorded yfinance frames
fed through the `yf_history` boundary.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from flows.errors import MarketDataError
from flows.marketdata import live
from flows.marketdata.base import MarketData, validate_bars
from flows.marketdata.live import (
    LiveSource,
    _normalize_yahoo,
    _rebase_url,
    configure_yfinance,
    crypto_market,
    yahoo_ticker,
)

FIXTURES = Path(__file__).parent / "fixtures" / "live"
UTC = dt.UTC
DAY = dt.timedelta(days=1)

# ----- the kraken stand-in ----------------------------------------------------------------

TODAY = dt.date(2025, 3, 14)
NOW = dt.datetime(2025, 3, 14, 15, 0, tzinfo=UTC)
KRAKEN_CAP = 720  # kraken's OHLC serves its latest 720 candles, whatever `since` asks for
PAIR_OF = {"BTC": "XXBTZUSD", "ETH": "XETHZUSD", "SOL": "SOLUSD"}
BASE_PRICE = {"XXBTZUSD": 40_000.0, "XETHZUSD": 2_500.0, "SOLUSD": 150.0}
SERIES_START = dt.date(2021, 1, 1)
SOL_LISTED = TODAY - 100 * DAY


def _ts(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def expected_bar(pair: str, day: dt.date) -> dict[str, float]:
    """The candle the stand-in serves for `pair` on `day` (as numbers)."""
    i = (day - SERIES_START).days
    close = BASE_PRICE[pair] + 1.5 * i + (i % 7)
    open_ = close - 3.0
    return {
        "open": open_,
        "high": close + 12.5,
        "low": open_ - 10.0,
        "close": close,
        "volume": 100.0 + (i % 17) * 0.125,
    }


def kraken_row(pair: str, day: dt.date) -> list:
    bar = expected_bar(pair, day)
    vwap = (bar["high"] + bar["low"]) / 2
    return [
        _ts(day),
        f"{bar['open']:.1f}",
        f"{bar['high']:.1f}",
        f"{bar['low']:.1f}",
        f"{bar['close']:.1f}",
        f"{vwap:.1f}",
        f"{bar['volume']:.8f}",
        1000 + (day - SERIES_START).days,
    ]


class KrakenStandIn:
    """Kraken's public REST API, as far as `load_markets` and daily `fetch_ohlcv` use it."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.failures: dict[str, list[int]] = {}  # endpoint -> HTTP statuses to answer first
        self.kraken_errors: dict[str, str] = {}  # endpoint -> kraken `error` to answer with
        self.last_day: dict[str, dt.date] = {}  # pair -> last candle (default: today, forming)
        self.url = ""

    def hits(self, endpoint: str) -> int:
        return sum(1 for path, _ in self.requests if path == endpoint)

    def candles(self, pair: str) -> list[list]:
        first = SOL_LISTED if pair == "SOLUSD" else SERIES_START
        last = self.last_day.get(pair, TODAY)
        days = (last - first).days + 1
        return [kraken_row(pair, first + n * DAY) for n in range(days)]

    async def handle(self, request: web.Request) -> web.Response:
        endpoint = request.match_info["endpoint"]
        self.requests.append((endpoint, dict(request.query)))
        queued = self.failures.get(endpoint)
        if queued:
            status = queued.pop(0)
            return web.Response(status=status, text=f"{status} stand-in failure")
        if endpoint in self.kraken_errors:
            return web.json_response({"error": [self.kraken_errors[endpoint]]})
        if endpoint == "Assets":
            return web.json_response(json.loads((FIXTURES / "kraken_assets.json").read_text()))
        if endpoint == "AssetPairs":
            body = (FIXTURES / "kraken_asset_pairs.json").read_text()
            return web.json_response(json.loads(body))
        if endpoint == "OHLC":
            pair = request.query["pair"]
            if pair not in BASE_PRICE:
                return web.json_response({"error": ["EQuery:Unknown asset pair"]})
            assert request.query["interval"] == "1440"
            since = int(request.query.get("since", "0"))
            rows = [row for row in self.candles(pair)[-KRAKEN_CAP:] if row[0] > since]
            last = rows[-2][0] if len(rows) > 1 else 0
            return web.json_response({"error": [], "result": {pair: rows, "last": last}})
        return web.json_response({"error": ["EGeneral:Unknown method"]}, status=404)


@pytest.fixture
async def kraken():
    stand_in = KrakenStandIn()
    app = web.Application()
    app.router.add_get("/0/public/{endpoint}", stand_in.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    stand_in.url = str(server.make_url("")).rstrip("/")
    yield stand_in
    await server.close()


def kraken_source(stand_in: KrakenStandIn, **kwargs) -> LiveSource:
    options = {
        "api_url_override": stand_in.url,
        "exchange_config": {"enableRateLimit": False, "timeout_on_exit": 0},
        "retry_delays": (0.0, 0.0, 0.0),
        "clock": lambda: NOW,
        **kwargs,
    }
    return LiveSource("kraken", **options)


@pytest.fixture
async def source(kraken):
    live_source = kraken_source(kraken)
    yield live_source
    await live_source.close()


def expected_frame(symbol: str, start: dt.date, end: dt.date) -> pd.DataFrame:
    pair = PAIR_OF[symbol]
    days = pd.date_range(start, end, freq="D", name="date")
    frame = pd.DataFrame([expected_bar(pair, d.date()) for d in days], index=days)
    frame["adj_close"] = frame["close"]
    return frame


# ----- crypto through ccxt --------------------------------------------------------------------


async def test_kraken_bars_parse_through_ccxt(source, kraken):
    start, end = dt.date(2024, 12, 1), dt.date(2025, 1, 10)
    frame = await source.fetch("BTC", start, end)

    pd.testing.assert_frame_equal(
        frame[["open", "high", "low", "close", "volume", "adj_close"]],
        expected_frame("BTC", start, end),
        check_freq=False,
        check_index_type=False,
    )
    assert frame.index.tz is None
    assert frame.index[0] == pd.Timestamp(start) and frame.index[-1] == pd.Timestamp(end)
    # ccxt asked for the right pair, daily interval, and one interval before `start`.
    ohlc = [query for path, query in kraken.requests if path == "OHLC"]
    assert ohlc[0]["pair"] == "XXBTZUSD"
    assert ohlc[0]["interval"] == "1440"
    assert int(ohlc[0]["since"]) == _ts(start) - 86_400
    assert kraken.hits("Assets") == 1 and kraken.hits("AssetPairs") == 1


async def test_frame_passes_the_bar_contract(source):
    market = MarketData(source)
    start, end = dt.date(2024, 6, 1), dt.date(2025, 3, 1)
    frame = await market.bars("ETH", start, end)
    assert len(frame) == (end - start).days + 1
    assert list(frame.columns) == ["open", "high", "low", "close", "volume", "adj_close"]


async def test_todays_forming_candle_is_never_returned(source):
    frame = await source.fetch("BTC", TODAY - 10 * DAY, TODAY + 5 * DAY)
    assert frame.index[-1].date() == TODAY - DAY


async def test_nothing_complete_yet_is_an_error(source):
    with pytest.raises(MarketDataError, match="still forming"):
        await source.fetch("BTC", TODAY, TODAY)


async def test_pages_forward_until_end_is_covered(kraken):
    source = kraken_source(kraken, page_limit=7)
    try:
        start, end = dt.date(2024, 11, 3), dt.date(2024, 12, 12)
        frame = await source.fetch("BTC", start, end)
    finally:
        await source.close()
    pd.testing.assert_frame_equal(
        frame, expected_frame("BTC", start, end), check_freq=False, check_index_type=False
    )
    sinces = [int(query["since"]) for path, query in kraken.requests if path == "OHLC"]
    assert len(sinces) == 6  # 40 days, 7 per page
    assert sinces == sorted(sinces) and len(set(sinces)) == len(sinces)


async def test_beyond_krakens_720_candles_is_a_clear_error(source):
    start = TODAY - 1000 * DAY
    with pytest.raises(MarketDataError) as caught:
        await source.fetch("BTC", start, TODAY - DAY)
    message = str(caught.value)
    assert message.startswith("BTC from live:")
    assert "kraken serves only its latest 720 daily candles" in message
    assert str(start) in message and "bitstamp" in message


async def test_cap_detected_even_with_small_pages(kraken):
    source = kraken_source(kraken, page_limit=30)
    try:
        with pytest.raises(MarketDataError, match="latest 720"):
            await source.fetch("ETH", TODAY - 3 * 365 * DAY, TODAY - DAY)
    finally:
        await source.close()


async def test_unknown_cap_detected_from_a_full_page_ending_today(source, monkeypatch):
    monkeypatch.delitem(live.HISTORY_CAPS, "kraken")
    with pytest.raises(MarketDataError, match="returned only its latest 720 daily candles"):
        await source.fetch("BTC", TODAY - 1000 * DAY, TODAY - DAY)


async def test_a_later_listing_is_accepted(source):
    frame = await source.fetch("SOL", TODAY - 200 * DAY, TODAY - DAY)
    assert frame.index[0].date() == SOL_LISTED
    validated = validate_bars(frame, "SOL", "live", TODAY - 200 * DAY, TODAY - DAY)
    assert len(validated) == 100


async def test_stale_series_is_an_error(source, kraken):
    kraken.last_day["XETHZUSD"] = TODAY - 10 * DAY
    with pytest.raises(MarketDataError, match=r"ETH/USD on kraken stops at 2025-03-04"):
        await source.fetch("ETH", TODAY - 60 * DAY, TODAY)


async def test_unknown_market_names_symbol_source_and_exchange(kraken):
    source = kraken_source(kraken, crypto_markets={"SOL": "SOL/EUR"})
    try:
        with pytest.raises(MarketDataError) as caught:
            await source.fetch("SOL", TODAY - 30 * DAY, TODAY)
    finally:
        await source.close()
    error = caught.value
    assert (error.symbol, error.source) == ("SOL", "live")
    assert str(error).startswith("SOL from live: kraken has no market SOL/EUR")
    assert "\n" not in str(error)
    assert kraken.hits("OHLC") == 0


async def test_rate_limit_is_retried(source, kraken):
    kraken.failures["OHLC"] = [429, 429]
    frame = await source.fetch("BTC", TODAY - 30 * DAY, TODAY - DAY)
    assert len(frame) == 30
    assert kraken.hits("OHLC") == 3


async def test_load_markets_failure_is_retried(source, kraken):
    kraken.failures["Assets"] = [503]
    frame = await source.fetch("BTC", TODAY - 5 * DAY, TODAY - DAY)
    assert len(frame) == 5
    assert kraken.hits("Assets") == 2


async def test_persistent_server_errors_give_up_with_one_clear_line(kraken):
    source = kraken_source(kraken, retry_delays=(0.0, 0.0))
    kraken.failures["OHLC"] = [500] * 10
    try:
        with pytest.raises(MarketDataError) as caught:
            await source.fetch("BTC", TODAY - 30 * DAY, TODAY - DAY)
    finally:
        await source.close()
    message = str(caught.value)
    assert message.startswith("BTC from live: network error or rate limit at kraken (3 attempts)")
    assert "try again later" in message and "\n" not in message
    assert kraken.hits("OHLC") == 3


async def test_kraken_error_payload_is_an_exchange_error(source, kraken):
    kraken.kraken_errors["OHLC"] = "EGeneral:Invalid arguments"
    with pytest.raises(MarketDataError, match=r"^BTC from live: kraken error: .*Invalid arguments"):
        await source.fetch("BTC", TODAY - 30 * DAY, TODAY - DAY)
    assert kraken.hits("OHLC") == 1  # not retried


async def test_kraken_busy_payload_is_retried(source, kraken):
    kraken.kraken_errors["OHLC"] = "EService:Unavailable"
    with pytest.raises(MarketDataError, match="network error or rate limit"):
        await source.fetch("BTC", TODAY - 30 * DAY, TODAY - DAY)
    assert kraken.hits("OHLC") == 4


async def test_no_network_is_a_clear_error():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    source = LiveSource(
        api_url_override=f"http://127.0.0.1:{port}",
        exchange_config={"enableRateLimit": False, "timeout_on_exit": 0},
        retry_delays=(0.0,),
        clock=lambda: NOW,
    )
    try:
        with pytest.raises(MarketDataError, match="network error or rate limit at kraken"):
            await source.fetch("BTC", TODAY - 30 * DAY, TODAY - DAY)
    finally:
        await source.close()


async def test_one_exchange_instance_shared_by_concurrent_fetches(source, kraken):
    market = MarketData(source)
    frames = await market.bars_many(["BTC", "ETH"], TODAY - 30 * DAY, TODAY - DAY)
    assert set(frames) == {"BTC", "ETH"}
    assert kraken.hits("Assets") == 1 and kraken.hits("AssetPairs") == 1
    exchange = source._exchange
    await source.fetch("SOL", TODAY - 30 * DAY, TODAY - DAY)
    assert source._exchange is exchange


async def test_close_closes_the_exchange(kraken):
    source = kraken_source(kraken)
    await source.fetch("BTC", TODAY - 5 * DAY, TODAY - DAY)
    exchange = source._exchange
    session = exchange.session
    assert session is not None and not session.closed

    await source.close()
    assert session.closed and exchange.session is None
    assert source._exchange is None
    await source.close()  # twice is fine

    # A later fetch opens a fresh instance; closing again releases it.
    await source.fetch("BTC", TODAY - 5 * DAY, TODAY - DAY)
    assert source._exchange is not exchange
    await source.close()


BITSTAMP_PAIRS = {"btcusd": "XXBTZUSD", "ethusd": "XETHZUSD"}  # reuse the kraken price paths


class BitstampStandIn:
    """Bitstamp's public API (`/api/v2/markets/`, `/api/v2/ohlc/{pair}/`): full history, paged."""

    def __init__(self) -> None:
        self.ohlc_queries: list[dict[str, str]] = []
        self.url = ""

    async def markets(self, request: web.Request) -> web.Response:
        return web.json_response(json.loads((FIXTURES / "bitstamp_markets.json").read_text()))

    async def ohlc(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.ohlc_queries.append(query)
        pair = BITSTAMP_PAIRS[request.match_info["pair"]]
        assert query["step"] == "86400"
        start, end, limit = int(query["start"]), int(query["end"]), int(query["limit"])
        rows = []
        for n in range((TODAY - SERIES_START).days + 1):
            day = SERIES_START + n * DAY
            if start <= _ts(day) <= end and len(rows) < limit:
                bar = expected_bar(pair, day)
                rows.append({"timestamp": str(_ts(day))} | {k: str(v) for k, v in bar.items()})
        return web.json_response({"data": {"pair": "BTC/USD", "ohlc": rows}})


@pytest.fixture
async def bitstamp():
    stand_in = BitstampStandIn()
    app = web.Application()
    app.router.add_get("/api/v2/markets/", stand_in.markets)
    app.router.add_get("/api/v2/ohlc/{pair}/", stand_in.ohlc)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    stand_in.url = str(server.make_url("")).rstrip("/")
    yield stand_in
    await server.close()


async def test_another_exchange_serves_three_years(bitstamp):
    """The exchange is a constructor argument; bitstamp pages forward through full history."""
    source = LiveSource(
        "bitstamp",
        api_url_override=bitstamp.url,
        exchange_config={"enableRateLimit": False, "timeout_on_exit": 0},
        clock=lambda: NOW,
    )
    start, end = TODAY - 3 * 365 * DAY, TODAY
    try:
        frame = await MarketData(source).bars("BTC", start, end)
    finally:
        await source.close()
    pd.testing.assert_frame_equal(
        frame,
        expected_frame("BTC", start, TODAY - DAY),
        check_freq=False,
        check_index_type=False,
    )
    assert len(bitstamp.ohlc_queries) == 2  # 1095 days at bitstamp's 1000 a page
    assert int(bitstamp.ohlc_queries[0]["start"]) == _ts(start)
    assert source.description.startswith("live: bitstamp via ccxt")


async def test_unknown_exchange_id():
    source = LiveSource("nosuchexchange")
    with pytest.raises(MarketDataError, match="ccxt has no exchange 'nosuchexchange'"):
        await source.fetch("BTC", TODAY - 5 * DAY, TODAY - DAY)
    await source.close()


def test_attributes_and_description():
    source = LiveSource()
    assert source.name == "live" and source.is_sample is False
    assert source.crypto_exchange == "kraken"
    assert source.description == (
        "live: kraken via ccxt (crypto), Yahoo Finance via yfinance (other)"
    )
    assert "bitstamp via ccxt" in LiveSource("bitstamp").description


def test_crypto_market_mapping():
    assert crypto_market("kraken", "BTC") == "BTC/USD"
    assert crypto_market("kraken", "eth") == "ETH/USD"
    assert crypto_market("binance", "BTC") == "BTC/USDT"
    assert crypto_market("someexchange", "SOL") == "SOL/USD"
    assert crypto_market("kraken", "BTC", {"BTC": "BTC/USDC"}) == "BTC/USDC"


def test_yahoo_ticker_mapping():
    assert yahoo_ticker("GSPC") == "^GSPC"
    assert yahoo_ticker("VIX") == "^VIX"
    assert yahoo_ticker("SPY") == "SPY"
    assert yahoo_ticker("BRK.B") == "BRK-B"
    assert yahoo_ticker("SPY", {"SPY": "SPY.L"}) == "SPY.L"


def test_url_override_keeps_paths():
    assert _rebase_url("https://api.kraken.com", "http://127.0.0.1:81") == "http://127.0.0.1:81"
    assert (
        _rebase_url("https://api.binance.com/api/v3", "http://127.0.0.1:81")
        == "http://127.0.0.1:81/api/v3"
    )


def test_importing_the_module_does_not_import_ccxt_or_yfinance():
    code = (
        "import sys, flows.marketdata.factory, flows.marketdata.live; "
        "loaded = [m for m in ('ccxt', 'yfinance') if m in sys.modules]; "
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ----- everything else through yfinance -------------------------------------------------------

AFTER_CLOSE = dt.datetime(2025, 1, 6, 21, 30, tzinfo=UTC)  # Monday 16:30 New York


def recorded_spy() -> pd.DataFrame:
    """SPY, December 2024, as `Ticker("SPY").history(..., auto_adjust=False)` returns it."""
    frame = pd.read_csv(FIXTURES / "yfinance_spy_2024-12.csv", index_col="Date")
    frame.index = pd.to_datetime(frame.index, utc=True).tz_convert("America/New_York")
    frame.index.name = "Date"
    return frame


class FakeYahoo:
    """Stands in for yfinance at the `yf_history` boundary: serves a recorded frame."""

    def __init__(self, frame: pd.DataFrame | None = None, errors: list | None = None) -> None:
        self.frame = recorded_spy() if frame is None else frame
        self.errors = list(errors or [])
        self.calls: list[tuple[str, dt.date, dt.date]] = []

    def __call__(self, ticker: str, start: dt.date, end_exclusive: dt.date) -> pd.DataFrame:
        self.calls.append((ticker, start, end_exclusive))
        if self.errors:
            raise self.errors.pop(0)
        local_days = self.frame.index.tz_localize(None)
        keep = (local_days >= pd.Timestamp(start)) & (local_days < pd.Timestamp(end_exclusive))
        return self.frame.loc[keep]


def yahoo_source(fake: FakeYahoo, now: dt.datetime = AFTER_CLOSE, **kwargs) -> LiveSource:
    return LiveSource(yf_history=fake, clock=lambda: now, retry_delays=(0.0, 0.0), **kwargs)


async def test_recorded_yahoo_frame_is_normalised():
    fake = FakeYahoo()
    source = yahoo_source(fake)
    start, end = dt.date(2024, 12, 2), dt.date(2024, 12, 31)
    frame = await source.fetch("SPY", start, end)

    assert fake.calls == [("SPY", start, end + DAY)]  # yfinance's end is exclusive
    assert list(frame.columns) == ["open", "high", "low", "close", "volume", "adj_close"]
    assert frame.index.tz is None and frame.index.name == "date"
    assert len(frame) == 21 and pd.Timestamp("2024-12-25") not in frame.index
    first = frame.loc["2024-12-02"]
    assert (first["open"], first["close"], first["adj_close"]) == (602.97, 603.63, 596.379578)
    assert first["volume"] == 31_746_000
    assert frame.index[-1] == pd.Timestamp("2024-12-31")
    validate_bars(frame, "SPY", "live", start, end)


async def test_index_symbols_use_yahoo_tickers():
    fake = FakeYahoo()
    source = yahoo_source(fake)
    await source.fetch("GSPC", dt.date(2024, 12, 2), dt.date(2024, 12, 31))
    await source.fetch("VIX", dt.date(2024, 12, 2), dt.date(2024, 12, 31))
    assert [ticker for ticker, _, _ in fake.calls] == ["^GSPC", "^VIX"]


async def test_missing_adj_close_falls_back_to_close():
    fake = FakeYahoo(recorded_spy().drop(columns=["Adj Close"]))
    frame = await yahoo_source(fake).fetch("VIX", dt.date(2024, 12, 2), dt.date(2024, 12, 31))
    assert (frame["adj_close"] == frame["close"]).all()


async def test_empty_yahoo_frame_is_an_error():
    fake = FakeYahoo(recorded_spy().iloc[0:0])
    with pytest.raises(MarketDataError) as caught:
        await yahoo_source(fake).fetch("QQQ", dt.date(2024, 12, 2), dt.date(2024, 12, 31))
    error = caught.value
    assert (error.symbol, error.source) == ("QQQ", "live")
    assert "Yahoo Finance QQQ returned no bars" in str(error)


async def test_yahoo_frame_stopping_short_is_an_error():
    fake = FakeYahoo(recorded_spy().loc[:"2024-12-20"])
    with pytest.raises(
        MarketDataError, match=r"SPY stops at 2024-12-20, 14 days before 2025-01-03"
    ):
        await yahoo_source(fake).fetch("SPY", dt.date(2024, 12, 2), dt.date(2025, 1, 3))


async def test_yahoo_holiday_week_is_not_stale():
    fake = FakeYahoo()
    frame = await yahoo_source(fake).fetch("SPY", dt.date(2024, 12, 2), dt.date(2025, 1, 1))
    assert frame.index[-1] == pd.Timestamp("2024-12-31")


async def test_todays_forming_session_bar_is_dropped_before_the_close():
    during = dt.datetime(2024, 12, 31, 20, 0, tzinfo=UTC)  # 15:00 New York
    after = dt.datetime(2024, 12, 31, 21, 5, tzinfo=UTC)  # 16:05 New York
    start, end = dt.date(2024, 12, 2), dt.date(2024, 12, 31)
    frame = await yahoo_source(FakeYahoo(), now=during).fetch("SPY", start, end)
    assert frame.index[-1] == pd.Timestamp("2024-12-30")
    frame = await yahoo_source(FakeYahoo(), now=after).fetch("SPY", start, end)
    assert frame.index[-1] == pd.Timestamp("2024-12-31")


async def test_yahoo_rate_limit_is_retried_then_reported():
    from yfinance.exceptions import YFRateLimitError

    fake = FakeYahoo(errors=[YFRateLimitError(), YFRateLimitError()])
    frame = await yahoo_source(fake).fetch("SPY", dt.date(2024, 12, 2), dt.date(2024, 12, 31))
    assert len(frame) == 21 and len(fake.calls) == 3

    fake = FakeYahoo(errors=[YFRateLimitError()] * 5)
    with pytest.raises(MarketDataError) as caught:
        await yahoo_source(fake).fetch("SPY", dt.date(2024, 12, 2), dt.date(2024, 12, 31))
    assert str(caught.value) == (
        "SPY from live: Yahoo Finance rate limit for SPY (3 attempts), try again later"
    )


async def test_yahoo_network_error_is_retried_then_reported():
    fake = FakeYahoo(errors=[ConnectionError("Connection reset by peer")] * 3)
    with pytest.raises(MarketDataError, match="network error reaching Yahoo Finance for SPY"):
        await yahoo_source(fake).fetch("SPY", dt.date(2024, 12, 2), dt.date(2024, 12, 31))
    assert len(fake.calls) == 3


async def test_yahoo_name_resolution_failure_is_not_retried_nor_blamed_on_yahoo():
    fake = FakeYahoo(errors=[ConnectionError("Failed to resolve query2.finance.yahoo.com")] * 3)
    with pytest.raises(MarketDataError, match="no network: cannot resolve") as caught:
        await yahoo_source(fake).fetch("SPY", dt.date(2024, 12, 2), dt.date(2024, 12, 31))
    assert "--source sample" in str(caught.value) and "Yahoo Finance" not in str(caught.value)
    assert len(fake.calls) == 1


async def test_yahoo_missing_ticker_is_not_retried():
    from yfinance.exceptions import YFPricesMissingError

    fake = FakeYahoo(errors=[YFPricesMissingError("NOPE", "(1d 2024-12-02 -> 2025-01-01)")])
    with pytest.raises(
        MarketDataError, match=r"^NOPE from live: Yahoo Finance has no data for NOPE"
    ):
        await yahoo_source(fake).fetch("NOPE", dt.date(2024, 12, 2), dt.date(2024, 12, 31))
    assert len(fake.calls) == 1


async def test_yahoo_unexpected_error_is_one_line():
    fake = FakeYahoo(errors=[ValueError("first line\nsecond line")])
    with pytest.raises(MarketDataError) as caught:
        await yahoo_source(fake).fetch("SPY", dt.date(2024, 12, 2), dt.date(2024, 12, 31))
    assert str(caught.value) == "SPY from live: Yahoo Finance request for SPY failed: first line"


def test_download_shaped_frame_is_normalised():
    recorded = recorded_spy()
    recorded.columns = pd.MultiIndex.from_product([recorded.columns, ["SPY"]])
    frame = _normalize_yahoo(recorded)
    assert list(frame.columns) == ["open", "high", "low", "close", "volume", "adj_close"]
    assert frame.index[0] == pd.Timestamp("2024-12-02")


async def test_fund_aum():
    def info(ticker: str) -> dict:
        return {"TQQQ": {"totalAssets": 23_500_000_000}, "ODD": {"totalAssets": "n/a"}}.get(
            ticker, {}
        )

    def broken(ticker: str) -> dict:
        raise ConnectionError("offline")

    source = LiveSource(yf_info=info)
    assert await source.fund_aum("TQQQ") == 23_500_000_000.0
    assert await source.fund_aum("ODD") is None
    assert await source.fund_aum("UPRO") is None
    assert await LiveSource(yf_info=broken).fund_aum("TQQQ") is None


def test_yfinance_is_told_to_raise():
    import yfinance as yf

    configure_yfinance(yf)
    assert yf.config.debug.hide_exceptions is False
    configure_yfinance(object())  # a yfinance without `config` is left alone
