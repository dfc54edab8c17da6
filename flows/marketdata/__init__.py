"""Daily bars from one of several sources behind one small async interface.

`open_source("sample" | "live" | PATH)` gives a `BarSource`; `MarketData` wraps it so that a run
fetches each symbol once however many funds and monitors use it.
"""

from flows.marketdata.base import (
    BAR_COLUMNS,
    BarSource,
    MarketData,
    validate_bars,
)
from flows.marketdata.factory import open_source

__all__ = ["BAR_COLUMNS", "BarSource", "MarketData", "open_source", "validate_bars"]
