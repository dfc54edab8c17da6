"""Default drift-alert thresholds, chosen from the data.

The steps are USD so they work with any data source (a share of liquidity needs a yardstick
series that a CSV directory may not have). They were picked by replaying the monitors over
2020-01-01 .. 2025-06-30 on the real daily data in the shared market directory (docs/trust.md
has the table): with the step rule (an alert only when a higher step than any fired this
quarter is crossed), SPY at $10bn averages 2.5 drift alerts a quarter (at most 5, in 2020Q1),
BTC at $100m 1.3 (at most 3), ETH at $50m 1.3 (at most 4).
"""

from __future__ import annotations

from flows.assets import AssetClass, asset_class_of

DEFAULT_DRIFT_USD: dict[str, float] = {"SPY": 1.0e10, "BTC": 1.0e8, "ETH": 5.0e7}
"""Per asset: the first step of a default subscription's drift alert."""
DEFAULT_DRIFT_USD_BY_CLASS: dict[AssetClass, float] = {
    AssetClass.CRYPTO: 5.0e7,
    AssetClass.EQUITY: 1.0e10,
    AssetClass.BOND: 1.0e10,
}
FALLBACK_DRIFT_USD = 1.0e9


def default_drift_usd(symbol: str) -> float:
    """The default first drift step of `symbol` in USD."""
    symbol = symbol.upper()
    if symbol in DEFAULT_DRIFT_USD:
        return DEFAULT_DRIFT_USD[symbol]
    return DEFAULT_DRIFT_USD_BY_CLASS.get(asset_class_of(symbol), FALLBACK_DRIFT_USD)
