"""Positioning data: perpetual-futures open interest, funding and long/short ratios, and daily ETF
creations/redemptions, from live sources, a CSV directory or SAMPLE DATA.

The model that reads them is `flows.models.positioning`.
"""

from flows.positioning.data import (
    DERIVS_COLUMNS,
    ETF_FLOW_COLUMNS,
    EtfFund,
    PositioningSource,
    covered_assets,
    etf_funds,
    funds_for,
    require_covered,
)
from flows.positioning.factory import positioning_source_for

__all__ = [
    "DERIVS_COLUMNS",
    "ETF_FLOW_COLUMNS",
    "EtfFund",
    "PositioningSource",
    "covered_assets",
    "etf_funds",
    "funds_for",
    "positioning_source_for",
    "require_covered",
]
