"""`OptionChain`: one asset's option open interest and implied vols on one day, as columns.

Every chain source (live Yahoo/Deribit, CSV directory, sample) builds one through
`OptionChain.from_rows`, which rejects anything the gamma model cannot trust: a negative or
non-numeric implied vol, a negative open interest, a strike that is not positive, an unknown
option type, and a chain with no open interest at all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from flows.assets import is_crypto
from flows.errors import MarketDataError

CHAIN_COLUMNS = ("expiry", "strike", "type", "open_interest", "implied_vol", "multiplier")
EQUITY_MULTIPLIER = 100.0
"""Shares per listed equity/ETF option contract (US listed options)."""
CRYPTO_MULTIPLIER = 1.0
"""Coins per Deribit option contract."""
OPTION_ASSETS = ("SPY", "QQQ", "IWM", "BTC", "ETH")
"""Assets the built-in sources serve chains for (a CSV file can add any other)."""


def default_multiplier(asset: str) -> float:
    return CRYPTO_MULTIPLIER if is_crypto(asset) else EQUITY_MULTIPLIER


@dataclass(frozen=True, eq=False)
class OptionChain:
    """Contracts as parallel numpy arrays (one entry per strike/expiry/type)."""

    asset: str
    as_of: dt.date
    """The day the open interest and vols describe; T is measured from it."""
    source: str
    """Short id of where it came from, e.g. `sample`, `csv:/data`, `live:yahoo`, `live:deribit`."""
    description: str
    """Provenance in words: provider, instruments, quote time."""
    expiry: np.ndarray
    """datetime64[D]"""
    strike: np.ndarray
    is_call: np.ndarray
    open_interest: np.ndarray
    implied_vol: np.ndarray
    """Annualised, as a fraction (0.18 = 18 %)."""
    multiplier: np.ndarray
    is_sample: bool = False
    dropped: Mapping[str, int] = field(default_factory=dict)
    """Contracts left out while building, by reason (e.g. `no implied vol`: 12)."""

    def __len__(self) -> int:
        return len(self.strike)

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        asset: str,
        as_of: dt.date,
        source: str,
        description: str,
        is_sample: bool = False,
        dropped: Mapping[str, int] | None = None,
    ) -> OptionChain:
        """Columns `CHAIN_COLUMNS` (`multiplier` optional: the asset's default); `type` is
        `call`/`put` (or `c`/`p`). Raises MarketDataError naming the first bad row."""
        asset = asset.upper()
        if frame is None or frame.empty:
            raise MarketDataError(asset, source, f"no option contracts for {as_of}")
        missing = [c for c in CHAIN_COLUMNS[:-1] if c not in frame.columns]
        if missing:
            raise MarketDataError(
                asset, source, f"option chain lacks column(s) {', '.join(missing)}"
            )
        types = frame["type"].astype(str).str.strip().str.lower().str[:1]
        bad_type = ~types.isin(["c", "p"])
        if bad_type.any():
            value = frame["type"][bad_type].iloc[0]
            raise MarketDataError(
                asset, source, f"option type {str(value)[:10]!r} is not call or put"
            )
        expiry = pd.to_datetime(frame["expiry"], errors="coerce")
        if expiry.isna().any():
            raise MarketDataError(asset, source, "an option expiry is not a date")
        numbers = {}
        for column in ("strike", "open_interest", "implied_vol", "multiplier"):
            if column == "multiplier" and column not in frame.columns:
                numbers[column] = np.full(len(frame), default_multiplier(asset))
                continue
            numbers[column] = pd.to_numeric(frame[column], errors="coerce").to_numpy(float)
        _check(asset, source, numbers)
        return cls(
            asset=asset,
            as_of=as_of,
            source=source,
            description=description,
            expiry=expiry.to_numpy().astype("datetime64[D]"),
            strike=numbers["strike"],
            is_call=(types == "c").to_numpy(),
            open_interest=numbers["open_interest"],
            implied_vol=numbers["implied_vol"],
            multiplier=numbers["multiplier"],
            is_sample=is_sample,
            dropped=dict(dropped or {}),
        )

    def to_payload(self) -> dict[str, Any]:
        """Plain JSON-able columns (for the database cache)."""
        return {
            "expiry": [str(day) for day in self.expiry],
            "strike": self.strike.tolist(),
            "type": ["call" if c else "put" for c in self.is_call],
            "open_interest": self.open_interest.tolist(),
            "implied_vol": self.implied_vol.tolist(),
            "multiplier": self.multiplier.tolist(),
            "dropped": dict(self.dropped),
        }

    @classmethod
    def from_payload(
        cls,
        payload: Mapping[str, Any],
        *,
        asset: str,
        as_of: dt.date,
        source: str,
        description: str,
    ) -> OptionChain:
        frame = pd.DataFrame({column: payload[column] for column in CHAIN_COLUMNS})
        # Stored chains were checked when fetched; from_frame checks them again all the same.
        return cls.from_frame(
            frame,
            asset=asset,
            as_of=as_of,
            source=source,
            description=description,
            dropped=payload.get("dropped") or {},
        )


def _check(asset: str, source: str, numbers: dict[str, np.ndarray]) -> None:
    for column, values in numbers.items():
        bad = ~np.isfinite(values)
        if bad.any():
            where = f"contract {int(bad.argmax()) + 1}"
            raise MarketDataError(asset, source, f"{column} is missing or not a number in {where}")
    rules = (
        ("strike", numbers["strike"] <= 0, "strike must be positive"),
        ("open_interest", numbers["open_interest"] < 0, "open interest is negative"),
        ("implied_vol", numbers["implied_vol"] < 0, "implied vol is negative"),
        ("multiplier", numbers["multiplier"] <= 0, "multiplier must be positive"),
    )
    for column, bad, what in rules:
        if bad.any():
            index = int(bad.argmax())
            raise MarketDataError(
                asset,
                source,
                f"{what} ({column} {numbers[column][index]:g} in contract {index + 1})",
            )
    if not (numbers["open_interest"] > 0).any():
        raise MarketDataError(asset, source, "the option chain has no open interest")


@runtime_checkable
class ChainSource(Protocol):
    """Where option chains come from."""

    name: str
    is_sample: bool

    async def chain(self, asset: str, as_of: dt.date | None) -> OptionChain:
        """The chain of `asset` on `as_of` (None: the latest the source has). Raises
        MarketDataError when there is none or it cannot be trusted."""
        ...

    async def close(self) -> None: ...
