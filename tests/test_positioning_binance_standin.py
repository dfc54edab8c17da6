"""The real ccxt `binanceusdm` class against a local aiohttp stand-in of Binance's USDⓈ-M public
endpoints (`/fapi/v1/exchangeInfo`, `/futures/data/openInterestHist`, `/fapi/v1/fundingRate`,
`/futures/data/globalLongShortAccountRatio`), answering in Binance's shapes: requests are built
and responses parsed by ccxt itself. The stand-in keeps 30 days of statistics like Binance and
can answer 429."""

from __future__ import annotations

import datetime as dt

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from flows.errors import MarketDataError
from flows.positioning.live import LivePositioningSource

TODAY = dt.date(2025, 3, 14)
DAY_MS = 86_400_000


def ms(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1000)


def oi_value(day: dt.date) -> float:
    return 8.0e9 + 1.0e7 * (day - dt.date(2025, 1, 1)).days


class Binance:
    def __init__(self, *, too_many: int = 0) -> None:
        self.too_many = too_many
        self.requests: list[tuple[str, dict]] = []

    def _limited(self) -> web.Response | None:
        if self.too_many:
            self.too_many -= 1
            return web.json_response({"code": -1003, "msg": "Too many requests"}, status=429)
        return None

    async def exchange_info(self, request: web.Request) -> web.Response:
        self.requests.append((request.path, dict(request.query)))
        return web.json_response(
            {
                "timezone": "UTC",
                "serverTime": ms(TODAY),
                "rateLimits": [],
                "assets": [],
                "symbols": [
                    {
                        "symbol": "BTCUSDT",
                        "pair": "BTCUSDT",
                        "contractType": "PERPETUAL",
                        "deliveryDate": 4133404800000,
                        "onboardDate": 1569398400000,
                        "status": "TRADING",
                        "baseAsset": "BTC",
                        "quoteAsset": "USDT",
                        "marginAsset": "USDT",
                        "pricePrecision": 2,
                        "quantityPrecision": 3,
                        "baseAssetPrecision": 8,
                        "quotePrecision": 8,
                        "underlyingType": "COIN",
                        "filters": [],
                        "orderTypes": ["LIMIT", "MARKET"],
                        "timeInForce": ["GTC"],
                    }
                ],
            }
        )

    def _days(self, query) -> list[dt.date]:
        start = int(query.get("startTime", ms(TODAY - dt.timedelta(days=29))))
        end = int(query.get("endTime", ms(TODAY)))
        limit = int(query.get("limit", 30))
        first_kept = TODAY - dt.timedelta(days=29)  # Binance keeps the latest 30 days
        days = [first_kept + dt.timedelta(days=i) for i in range(30)]
        return [d for d in days if start <= ms(d) <= end][:limit]

    async def open_interest(self, request: web.Request) -> web.Response:
        self.requests.append((request.path, dict(request.query)))
        if (limited := self._limited()) is not None:
            return limited
        assert request.query["period"] == "1d" and request.query["symbol"] == "BTCUSDT"
        return web.json_response(
            [
                {
                    "symbol": "BTCUSDT",
                    "sumOpenInterest": f"{oi_value(d) / 80_000:.8f}",
                    "sumOpenInterestValue": f"{oi_value(d):.8f}",
                    "timestamp": ms(d),
                }
                for d in self._days(request.query)
            ]
        )

    async def funding(self, request: web.Request) -> web.Response:
        self.requests.append((request.path, dict(request.query)))
        start = int(request.query.get("startTime", 0))
        limit = int(request.query.get("limit", 100))
        rows = [
            {
                "symbol": "BTCUSDT",
                "fundingTime": ms(d) + hour * 3_600_000,
                "fundingRate": f"{rate:.8f}",
                "markPrice": "80000.0",
            }
            for d in (TODAY - dt.timedelta(days=i) for i in range(60, -1, -1))
            for hour, rate in ((0, -0.0001), (8, 0.0), (16, 0.0004))
            if ms(d) + hour * 3_600_000 >= start
        ]
        return web.json_response(rows[:limit])

    async def long_short(self, request: web.Request) -> web.Response:
        self.requests.append((request.path, dict(request.query)))
        return web.json_response(
            [
                {
                    "symbol": "BTCUSDT",
                    "longShortRatio": "1.2500",
                    "longAccount": "0.5556",
                    "shortAccount": "0.4444",
                    "timestamp": ms(d),
                }
                for d in self._days(request.query)
            ]
        )


@pytest.fixture
async def binance():
    state = Binance()
    app = web.Application()
    app.router.add_get("/fapi/v1/exchangeInfo", state.exchange_info)
    app.router.add_get("/futures/data/openInterestHist", state.open_interest)
    app.router.add_get("/fapi/v1/fundingRate", state.funding)
    app.router.add_get("/futures/data/globalLongShortAccountRatio", state.long_short)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    state.url = str(server.make_url("")).rstrip("/")
    yield state
    await server.close()


def source(binance: Binance) -> LivePositioningSource:
    return LivePositioningSource(
        "binanceusdm",
        api_url_override=binance.url,
        exchange_config={"enableRateLimit": False, "timeout_on_exit": 0},
        retry_delays=(0.0, 0.0),
        clock=lambda: dt.datetime(2025, 3, 14, 12, tzinfo=dt.UTC),
    )


async def test_ccxt_binanceusdm_history_through_the_stand_in(binance):
    live = source(binance)
    try:
        frame = await live.derivatives("BTC", dt.date(2025, 3, 1), dt.date(2025, 3, 14))
    finally:
        await live.close()
    assert frame.index[0].date() == dt.date(2025, 3, 1) and len(frame) == 14
    assert frame.loc["2025-03-14", "open_interest_usd"] == pytest.approx(oi_value(TODAY))
    assert frame["funding_rate"].tolist() == pytest.approx([0.0001] * 14)  # (−1 + 0 + 4)/3 bp
    assert (frame["long_short_ratio"] == 1.25).all()
    oi_requests = [q for path, q in binance.requests if path.endswith("openInterestHist")]
    assert oi_requests[0]["period"] == "1d" and oi_requests[0]["symbol"] == "BTCUSDT"


async def test_history_older_than_binance_keeps_is_noted(binance):
    live = source(binance)
    try:
        frame = await live.derivatives("BTC", dt.date(2025, 1, 1), dt.date(2025, 3, 14))
    finally:
        await live.close()
    assert frame.index[0].date() == TODAY - dt.timedelta(days=29)
    # Asked from the oldest day Binance keeps, not from January.
    first = next(q for path, q in binance.requests if path.endswith("openInterestHist"))
    assert int(first["startTime"]) == ms(TODAY - dt.timedelta(days=29))
    assert any("only from 2025-02-13" in note for note in live.notes)


async def test_429_is_retried_and_then_reported(binance):
    binance.too_many = 1
    live = source(binance)
    try:
        frame = await live.derivatives("BTC", dt.date(2025, 3, 10), dt.date(2025, 3, 14))
        assert len(frame) == 5
        binance.too_many = 10
        with pytest.raises(MarketDataError, match="rate limit at binanceusdm"):
            await live.derivatives("BTC", dt.date(2025, 3, 10), dt.date(2025, 3, 14))
    finally:
        await live.close()
