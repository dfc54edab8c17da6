"""Choose a positioning source from `--source live|sample|PATH`, or from a bar source."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flows.errors import InputError
from flows.positioning.data import PositioningSource


def open_positioning_source(spec: str, *, exchange: str = "binanceusdm") -> PositioningSource:
    spec = spec.strip()
    if spec == "sample":
        from flows.positioning.sample import SamplePositioningSource

        return SamplePositioningSource()
    if spec == "live":
        from flows.positioning.live import LivePositioningSource

        return LivePositioningSource(exchange)
    path = Path(spec).expanduser()
    if not path.is_dir():
        raise InputError(
            f"--source {spec!r} is neither 'live', 'sample' nor a directory of CSV files"
        )
    from flows.positioning.csvdir import CsvPositioningSource

    return CsvPositioningSource(path)


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
