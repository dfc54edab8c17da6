"""The assets flows-bot knows: canonical symbols, asset classes and the names people use."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from flows.errors import InputError


class AssetClass(StrEnum):
    CRYPTO = "crypto"
    EQUITY = "equity"
    BOND = "bond"
    INDEX = "index"
    COMMODITY = "commodity"


@dataclass(frozen=True, slots=True)
class Asset:
    symbol: str
    name: str
    asset_class: AssetClass
    aliases: tuple[str, ...] = ()

    @property
    def is_crypto(self) -> bool:
        return self.asset_class is AssetClass.CRYPTO

    @property
    def annualization_days(self) -> int:
        """Crypto trades every calendar day; everything else on exchange sessions."""
        return 365 if self.is_crypto else 252


ASSETS: dict[str, Asset] = {
    asset.symbol: asset
    for asset in (
        Asset("BTC", "Bitcoin", AssetClass.CRYPTO, ("bitcoin", "xbt", "ibit")),
        Asset("ETH", "Ethereum", AssetClass.CRYPTO, ("ethereum", "ether")),
        Asset("SOL", "Solana", AssetClass.CRYPTO, ("solana",)),
        Asset("SPY", "S&P 500 (SPY)", AssetClass.EQUITY, ("s&p 500", "s&p", "sp500", "stocks")),
        Asset("QQQ", "Nasdaq-100 (QQQ)", AssetClass.EQUITY, ("nasdaq", "nasdaq-100", "ndx")),
        Asset("IWM", "Russell 2000 (IWM)", AssetClass.EQUITY, ("russell 2000", "small caps")),
        Asset("SOXX", "Semiconductors (SOXX)", AssetClass.EQUITY, ("semiconductors", "semis")),
        Asset("AGG", "US aggregate bonds (AGG)", AssetClass.BOND, ("bonds", "aggregate bonds")),
        Asset("TLT", "20+ year Treasuries (TLT)", AssetClass.BOND, ("long bonds", "treasuries")),
        Asset("IEF", "7-10 year Treasuries (IEF)", AssetClass.BOND, ()),
        Asset("GLD", "Gold (GLD)", AssetClass.COMMODITY, ("gold",)),
        Asset("GSPC", "S&P 500 index", AssetClass.INDEX, ("^gspc", "spx")),
        Asset("VIX", "CBOE VIX index", AssetClass.INDEX, ("^vix", "vix index")),
        Asset("TQQQ", "ProShares UltraPro QQQ (3x)", AssetClass.EQUITY, ()),
        Asset("SQQQ", "ProShares UltraPro Short QQQ (-3x)", AssetClass.EQUITY, ()),
        Asset("UPRO", "ProShares UltraPro S&P500 (3x)", AssetClass.EQUITY, ()),
        Asset("SPXU", "ProShares UltraPro Short S&P500 (-3x)", AssetClass.EQUITY, ()),
    )
}

_BY_ALIAS: dict[str, str] = {
    alias.lower(): asset.symbol
    for asset in ASSETS.values()
    for alias in (*asset.aliases, asset.symbol)
}


def find_asset(text: str) -> Asset | None:
    """The asset for a ticker or a common name ("btc", "Bitcoin", "IBIT"), or None."""
    symbol = _BY_ALIAS.get(text.strip().lower())
    return ASSETS[symbol] if symbol else None


def get_asset(text: str, extra_symbols: frozenset[str] = frozenset()) -> Asset:
    """Like find_asset, but raises a one-line InputError naming the known assets.

    `extra_symbols` admits symbols a user's fund file holds that flows-bot has no entry for.
    """
    asset = find_asset(text)
    if asset is not None:
        return asset
    symbol = text.strip().upper()
    if symbol in extra_symbols:
        return Asset(symbol, symbol, AssetClass.EQUITY)
    known = ", ".join(sorted(ASSETS.keys() | extra_symbols))
    raise InputError(f"unknown asset {text.strip()[:20]!r}; known assets: {known}")


def asset_class_of(symbol: str) -> AssetClass:
    """Class of a symbol; unknown symbols from a user's fund file are treated as equities."""
    asset = ASSETS.get(symbol.upper())
    return asset.asset_class if asset else AssetClass.EQUITY


def is_crypto(symbol: str) -> bool:
    return asset_class_of(symbol) is AssetClass.CRYPTO


def asset_or_equity(symbol: str) -> Asset:
    """The known asset, or — for a symbol only a user's fund file knows — an equity (NYSE
    sessions)."""
    return ASSETS.get(symbol) or Asset(symbol, symbol, AssetClass.EQUITY)
