"""SAMPLE DATA: a deterministic synthetic option chain per asset and day, so `gamma` runs offline.

Strikes sit around the sample close of the day; calls are concentrated above spot and puts below
(as in real index and crypto books), implied vols carry a put skew, and the put/call balance
drifts from day to day so that the regime and the zero-gamma level move. The chain of a given
(asset, day) is the same on every run: its generator is seeded from both.
"""

from __future__ import annotations

import datetime as dt
import zlib

import numpy as np
import pandas as pd

from flows import calendar
from flows.assets import is_crypto
from flows.errors import MarketDataError
from flows.marketdata.sample import SAMPLE_LABEL, SAMPLE_SEED, sample_bars
from flows.options.chain import OPTION_ASSETS, OptionChain, default_multiplier

_BASE_VOL = {"SPY": 0.16, "QQQ": 0.21, "IWM": 0.23, "BTC": 0.55, "ETH": 0.70}
_OPEN_INTEREST = {"SPY": 6.0e6, "QQQ": 4.0e6, "IWM": 3.0e6, "BTC": 4.0e5, "ETH": 2.5e6}
"""Total contracts across the synthetic chain (order of magnitude of the real books)."""
_CRYPTO_DAYS = (1, 2, 7, 14, 21, 28, 56, 91, 182)
"""Deribit lists dailies, weeklies, monthlies and quarterlies; these stand in for them."""


def _third_friday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(4 - first.weekday()) % 7 + 14)


def _expiries(asset: str, as_of: dt.date) -> list[tuple[dt.date, float]]:
    """(expiry, open-interest weight): weeklies, then monthlies (third Fridays, moved to the
    session before when the exchange is shut) carrying more open interest."""
    if is_crypto(asset):
        return [(as_of + dt.timedelta(days=days), 1.0) for days in _CRYPTO_DAYS]
    friday = as_of + dt.timedelta(days=(4 - as_of.weekday()) % 7 or 7)
    expiries = {friday + dt.timedelta(weeks=week): 1.0 for week in range(4)}
    year, month = as_of.year, as_of.month
    for ahead in range(7):
        monthly = _third_friday(year + (month - 1 + ahead) // 12, (month - 1 + ahead) % 12 + 1)
        if monthly > as_of:
            expiries[monthly] = 3.0 if monthly.month % 3 == 0 else 2.0
    moved: dict[dt.date, float] = {}
    for day, weight in sorted(expiries.items()):
        session = calendar.session_on_or_before(day)
        if session > as_of:
            moved[session] = max(weight, moved.get(session, 0.0))
    return sorted(moved.items())


def sample_chain_frame(asset: str, as_of: dt.date, spot: float) -> pd.DataFrame:
    """The synthetic contracts of `asset` on `as_of` around `spot` (pure; seeded per day)."""
    rng = np.random.default_rng([SAMPLE_SEED, zlib.crc32(asset.encode()), as_of.toordinal()])
    step = spot * (0.025 if is_crypto(asset) else 0.01)
    magnitude = 10 ** np.floor(np.log10(step))
    step = float(np.ceil(step / magnitude) * magnitude)
    low, high = (0.5, 1.6) if is_crypto(asset) else (0.75, 1.25)
    strikes = np.arange(np.floor(spot * low / step), np.ceil(spot * high / step) + 1) * step
    expiries = _expiries(asset, as_of)
    moneyness = strikes / spot
    put_call = rng.uniform(0.9, 1.7)  # day-to-day drift of the book's balance
    call_profile = np.exp(-(((moneyness - 1.04) / 0.07) ** 2))
    put_profile = put_call * np.exp(-(((moneyness - 0.95) / 0.08) ** 2))
    rows = []
    base_vol = _BASE_VOL[asset]
    for expiry, expiry_weight in expiries:
        years = (expiry - as_of).days / 365.0
        weight = expiry_weight * rng.uniform(0.7, 1.3)
        width = np.sqrt(max(years, 1 / 365) / 0.08)
        for is_call, profile in ((True, call_profile), (False, put_profile)):
            spread = np.exp(-(((moneyness - 1.0) / (0.12 * width)) ** 2)) * 0.5 + 0.5
            noise = rng.lognormal(0.0, 0.35, size=len(strikes))
            oi = np.round(profile * spread * weight * noise * 1000.0)
            vol = base_vol * (1.0 - 1.1 * np.log(moneyness)) * (1.0 + 0.08 * np.sqrt(years))
            rows.append(
                pd.DataFrame(
                    {
                        "expiry": expiry.isoformat(),
                        "strike": strikes,
                        "type": "call" if is_call else "put",
                        "open_interest": oi,
                        "implied_vol": np.clip(vol, 0.05, None).round(4),
                    }
                )
            )
    frame = pd.concat(rows, ignore_index=True)
    frame["open_interest"] = np.round(
        frame["open_interest"] / frame["open_interest"].sum() * _OPEN_INTEREST[asset]
    )
    frame["multiplier"] = default_multiplier(asset)
    return frame[frame["open_interest"] > 0].reset_index(drop=True)


class SampleChainSource:
    name = "sample"
    is_sample = True
    label = SAMPLE_LABEL

    def __init__(self, today: dt.date | None = None) -> None:
        self.today = today

    async def chain(self, asset: str, as_of: dt.date | None) -> OptionChain:
        asset = asset.upper()
        if asset not in OPTION_ASSETS:
            raise MarketDataError(
                asset,
                self.name,
                f"no option chain for {asset} (sample chains: {', '.join(OPTION_ASSETS)})",
            )
        bars = sample_bars(asset, as_of or self.today)
        if bars.empty:
            raise MarketDataError(asset, self.name, f"no sample bars up to {as_of}")
        day = bars.index[-1].date()
        if as_of is not None and day != as_of:
            # Options open interest is published for sessions; a holiday uses the last one.
            as_of = day
        frame = sample_chain_frame(asset, day, float(bars["close"].iloc[-1]))
        return OptionChain.from_frame(
            frame,
            asset=asset,
            as_of=day,
            source=self.name,
            description=f"synthetic chain for {day} — {SAMPLE_LABEL}",
            is_sample=True,
        )

    async def close(self) -> None:
        return None
