"""The shapes of positioning data, the ETF registry, and the interface every source implements.

Derivatives frame (one asset): a DatetimeIndex named `date` (UTC calendar days), columns
`open_interest_usd`, `funding_rate` (per 8 h, as published; the mean of the day's fundings),
`long_short_ratio` (accounts long / accounts short) — the last two NaN where unknown.

ETF-flow frame (one asset): rows `date, fund, asset, flow_usd` (NYSE sessions; USD net creations,
+ = inflow). A fund absent on a session is *unknown* that day, never zero.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Literal, Protocol, runtime_checkable

import pandas as pd

from flows.assets import is_crypto
from flows.errors import FundsFileError, InputError

DERIVS_COLUMNS = ("open_interest_usd", "funding_rate", "long_short_ratio")
ETF_FLOW_COLUMNS = ("date", "fund", "asset", "flow_usd")
DERIVATIVES_ASSETS = ("BTC", "ETH", "SOL")
"""Assets with a USDⓈ-margined perpetual on Binance, OKX and Bybit that flows-bot maps."""

FundKind = Literal["spot", "index", "inverse"]


@dataclass(frozen=True, slots=True)
class EtfFund:
    ticker: str
    name: str
    asset: str
    kind: FundKind
    leverage: float = 1.0


@lru_cache(maxsize=1)
def etf_funds() -> tuple[EtfFund, ...]:
    """The built-in ETF registry (`flows/etf_funds.toml`)."""
    text = resources.files("flows").joinpath("etf_funds.toml").read_text(encoding="utf-8")
    try:
        rows = tomllib.loads(text)["fund"]
        return tuple(
            EtfFund(
                ticker=row["ticker"].upper(),
                name=row["name"],
                asset=row["asset"].upper(),
                kind=row["kind"],
                leverage=float(row.get("leverage", 1.0)),
            )
            for row in rows
        )
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise FundsFileError(f"flows/etf_funds.toml is malformed: {exc}") from None


def funds_for(asset: str, kinds: tuple[FundKind, ...] = ("spot", "index")) -> list[EtfFund]:
    return [f for f in etf_funds() if f.asset == asset.upper() and f.kind in kinds]


def covered_assets() -> tuple[str, ...]:
    """Every asset the positioning model can read something for."""
    return tuple(sorted(set(DERIVATIVES_ASSETS) | {f.asset for f in etf_funds()}))


def require_covered(asset: str) -> None:
    """InputError for an asset with neither a derivatives market nor ETF flows here (AGG)."""
    if asset.upper() not in covered_assets():
        raise InputError(
            f"{asset.upper()} has no derivatives market (perpetual futures) and no ETF-flow or "
            f"hedging-ETF coverage in flows-bot, so there is no positioning to read; "
            f"positioning covers {', '.join(covered_assets())}"
        )


def empty_derivs() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype="float64") for c in DERIVS_COLUMNS},
        index=pd.DatetimeIndex([], name="date"),
    )


def empty_flows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "date": pd.Series(dtype="datetime64[ns]"),
            "fund": pd.Series(dtype="object"),
            "asset": pd.Series(dtype="object"),
            "flow_usd": pd.Series(dtype="float64"),
        }
    )


@runtime_checkable
class PositioningSource(Protocol):
    name: str
    description: str
    is_sample: bool
    flows_confidence: Literal["measured", "estimated"]
    """`measured` when the ETF flows are published figures; `estimated` when derived."""

    async def derivatives(self, asset: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        """Daily derivatives frame (see module doc); MarketDataError when none can be had."""
        ...

    async def etf_flows(self, asset: str, start: dt.date, end: dt.date) -> pd.DataFrame:
        """ETF-flow rows for the funds of `asset` (spot/index and inverse) in the range."""
        ...

    def flows_method(self, fund: str) -> str:
        """How this source gets `fund`'s flows, in words (shown per fund in the basis)."""
        ...

    async def close(self) -> None: ...


def has_derivatives(asset: str) -> bool:
    return asset.upper() in DERIVATIVES_ASSETS and is_crypto(asset)
