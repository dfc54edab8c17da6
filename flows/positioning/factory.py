"""Choose the positioning source matching a bar source."""

from __future__ import annotations

from typing import Any

from flows.positioning.data import PositioningSource


def positioning_source_for(market: Any, *, exchange: str = "binanceusdm") -> PositioningSource:
    """The positioning source matching a MarketData's bar source: the one attached to it as
    `market.positioning` (the bot attaches a cached live one), else sample for sample bars, the
    same directory for CSV bars, live for live bars."""
    attached = getattr(market, "positioning", None)
    if attached is not None:
        return attached
    source = market.source
    if source.is_sample:
        from flows.positioning.sample import SamplePositioningSource

        return SamplePositioningSource(getattr(source, "today", None))
    directory = getattr(source, "directory", None)
    if directory is not None:
        from flows.positioning.csvdir import CsvPositioningSource

        return CsvPositioningSource(directory)
    from flows.positioning.live import LivePositioningSource

    return LivePositioningSource(exchange)
