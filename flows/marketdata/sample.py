"""SAMPLE DATA: a deterministic synthetic market so everything runs with no network.

Daily returns come from a fixed seed with realistic volatility, correlation (equity, rates and
crypto factors), fat tails and volatility clustering. Shocks are drawn per calendar day over a
fixed span, so the bar for a given date never changes from one run or one day to the next; the
series simply end at today (UTC).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from flows import calendar
from flows.errors import MarketDataError

SAMPLE_SEED = 20240401
SAMPLE_FIRST_DAY = dt.date(2016, 1, 1)
SAMPLE_SPAN_LAST_DAY = dt.date(2035, 12, 31)
SAMPLE_LABEL = "SAMPLE DATA (synthetic, seed 20240401)"
# Each path is tilted so that it passes through a plausible level on this day; the level is
# part of the synthetic design, not a quote.
SAMPLE_ANCHOR_DAY = dt.date(2025, 1, 2)


@dataclass(frozen=True, slots=True)
class _Spec:
    annual_vol: float
    annual_drift: float
    start_price: float
    anchor_price: float
    adv_usd: float
    equity_beta: float = 0.0
    rates_beta: float = 0.0
    crypto_beta: float = 0.0
    crypto: bool = False


_SPECS: dict[str, _Spec] = {
    "BTC": _Spec(
        0.60, 0.45, 430.0, 95000.0, 3.0e10, equity_beta=0.25, crypto_beta=0.85, crypto=True
    ),
    "ETH": _Spec(0.80, 0.45, 0.95, 3400.0, 1.5e10, equity_beta=0.25, crypto_beta=0.80, crypto=True),
    "SOL": _Spec(1.00, 0.40, 1.0, 200.0, 3.0e9, equity_beta=0.20, crypto_beta=0.70, crypto=True),
    "SPY": _Spec(0.17, 0.10, 201.0, 590.0, 3.0e10, equity_beta=0.98),
    "QQQ": _Spec(0.22, 0.14, 110.0, 515.0, 1.8e10, equity_beta=0.92),
    "IWM": _Spec(0.23, 0.07, 114.0, 222.0, 5.0e9, equity_beta=0.85),
    "SOXX": _Spec(0.32, 0.18, 85.0, 225.0, 1.0e9, equity_beta=0.80),
    "AGG": _Spec(0.045, 0.025, 108.0, 97.0, 8.0e8, equity_beta=0.05, rates_beta=0.95),
    "TLT": _Spec(0.15, 0.02, 121.0, 87.0, 2.0e9, equity_beta=-0.20, rates_beta=0.95),
    "IEF": _Spec(0.07, 0.02, 106.0, 93.0, 7.0e8, equity_beta=-0.10, rates_beta=0.97),
    "GLD": _Spec(0.15, 0.07, 102.0, 245.0, 1.5e9, equity_beta=0.05),
}
_LEVERAGED: dict[str, tuple[str, float]] = {
    "TQQQ": ("QQQ", 3.0),
    "SQQQ": ("QQQ", -3.0),
    "UPRO": ("SPY", 3.0),
    "SPXU": ("SPY", -3.0),
}
SAMPLE_SYMBOLS = frozenset(_SPECS) | frozenset(_LEVERAGED) | {"GSPC", "VIX"}


def _student_t(rng: np.random.Generator, size: tuple[int, ...], dof: float = 5.0) -> np.ndarray:
    """Unit-variance fat-tailed shocks."""
    return rng.standard_t(dof, size=size) / np.sqrt(dof / (dof - 2.0))


def _log_vol_path(
    rng: np.random.Generator, days: int, persistence: float, shock: float
) -> np.ndarray:
    """Volatility multiplier with clustering: exp of an AR(1), normalised to mean 1."""
    innovations = rng.normal(0.0, shock, size=days)
    log_vol = np.empty(days)
    level = 0.0
    for day in range(days):
        level = persistence * level + innovations[day]
        log_vol[day] = level
    stationary_var = shock**2 / (1.0 - persistence**2)
    return np.exp(log_vol - stationary_var / 2.0)


@lru_cache(maxsize=1)
def _universe() -> dict[str, pd.DataFrame]:
    """Every sample series over the whole fixed span (before truncation at today)."""
    rng = np.random.default_rng(SAMPLE_SEED)
    all_days = pd.date_range(SAMPLE_FIRST_DAY, SAMPLE_SPAN_LAST_DAY, freq="D")
    n_days = len(all_days)
    factors = {name: _student_t(rng, (n_days,)) for name in ("equity", "rates", "crypto")}
    macro_vol = _log_vol_path(rng, n_days, 0.985, 0.06)
    crypto_vol = _log_vol_path(rng, n_days, 0.98, 0.07) * macro_vol**0.25
    idiosyncratic = _student_t(rng, (n_days, len(_SPECS)))
    price_noise = rng.normal(size=(n_days, len(_SPECS), 4))

    _, calendar_last = calendar.calendar_range()
    sessions = pd.DatetimeIndex(calendar.sessions_between(SAMPLE_FIRST_DAY, calendar_last))
    session_mask = all_days.isin(sessions)

    frames: dict[str, pd.DataFrame] = {}
    for column, (symbol, spec) in enumerate(_SPECS.items()):
        loadings = spec.equity_beta**2 + spec.rates_beta**2 + spec.crypto_beta**2
        shocks = (
            spec.equity_beta * factors["equity"]
            + spec.rates_beta * factors["rates"]
            + spec.crypto_beta * factors["crypto"]
            + np.sqrt(max(0.0, 1.0 - loadings)) * idiosyncratic[:, column]
        )
        periods = 365 if spec.crypto else 252
        vol = spec.annual_vol / np.sqrt(periods) * (crypto_vol if spec.crypto else macro_vol)
        log_returns = spec.annual_drift / periods - vol**2 / 2.0 + vol * shocks
        mask = slice(None) if spec.crypto else session_mask
        days, noise = all_days[mask], price_noise[mask, column, :]
        log_returns, day_vol = log_returns[mask], vol[mask]
        path = np.cumsum(log_returns) - log_returns[0]
        anchor = int(np.searchsorted(days, pd.Timestamp(SAMPLE_ANCHOR_DAY)))
        tilt = (np.log(spec.anchor_price / spec.start_price) - path[anchor]) / anchor
        path += tilt * np.minimum(np.arange(len(path)), anchor)
        close = spec.start_price * np.exp(path)
        open_ = np.concatenate(([close[0]], close[:-1])) * np.exp(0.2 * day_vol * noise[:, 0])
        high = np.maximum(open_, close) * np.exp(np.abs(noise[:, 1]) * day_vol * 0.5)
        low = np.minimum(open_, close) * np.exp(-np.abs(noise[:, 2]) * day_vol * 0.5)
        # Turnover rises with volatility, as it does in real markets.
        relative_vol = day_vol / (spec.annual_vol / np.sqrt(periods))
        dollar_volume = spec.adv_usd * relative_vol * np.exp(0.25 * noise[:, 3] - 0.03125)
        frames[symbol] = _frame(days, open_, high, low, close, dollar_volume / close)

    for symbol, (underlying, leverage) in _LEVERAGED.items():
        base = frames[underlying]
        daily = base["close"].pct_change().fillna(0.0).to_numpy()
        fund_returns = np.maximum(leverage * daily - 0.0095 / 252, -0.95)
        close = 5.0 * np.cumprod(1.0 + fund_returns)
        frames[symbol] = _frame(
            base.index, close, close * 1.002, close * 0.998, close, base["volume"].to_numpy() * 0.4
        )

    spy = frames["SPY"]
    gspc = spy[["open", "high", "low", "close"]] * 10.0
    frames["GSPC"] = _frame(spy.index, *(gspc[c].to_numpy() for c in gspc), spy["volume"] * 40.0)
    realized = np.log(spy["close"]).diff().rolling(20).std().bfill().to_numpy() * np.sqrt(252)
    vix_close = 100.0 * realized * 1.15 + 2.0
    frames["VIX"] = _frame(
        spy.index, vix_close, vix_close * 1.05, vix_close * 0.95, vix_close, np.zeros(len(spy))
    )
    return frames


def _frame(index, open_, high, low, close, volume) -> pd.DataFrame:
    frame = pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume},
        index=pd.DatetimeIndex(index, name="date"),
    )
    frame["high"] = frame[["open", "high", "close"]].max(axis=1)
    frame["low"] = frame[["open", "low", "close"]].min(axis=1)
    return frame


def sample_bars(symbol: str, end: dt.date | None = None) -> pd.DataFrame:
    """The full sample history of `symbol` up to `end` (default today, UTC)."""
    frames = _universe()
    if symbol not in frames:
        raise MarketDataError(
            symbol, "sample", f"no sample series (sample symbols: {', '.join(sorted(frames))})"
        )
    last = end or dt.datetime.now(dt.UTC).date()
    return frames[symbol].loc[: pd.Timestamp(last)]


class SampleSource:
    name = "sample"
    is_sample = True
    label = SAMPLE_LABEL

    def __init__(self, today: dt.date | None = None) -> None:
        self.today = today

    async def fetch(self, symbol: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        frame = sample_bars(symbol, self.today)
        return frame.loc[pd.Timestamp(start) : pd.Timestamp(end)]

    async def close(self) -> None:
        return None
