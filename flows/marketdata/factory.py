"""Choose a bar source from `--source live|sample|PATH`."""

from __future__ import annotations

from pathlib import Path

from flows.errors import InputError
from flows.marketdata.base import BarSource


def open_source(spec: str, *, crypto_exchange: str = "bitstamp") -> BarSource:
    """`sample`, `live`, or the path of a directory of SYMBOL.csv files."""
    spec = spec.strip()
    if spec == "sample":
        from flows.marketdata.sample import SampleSource

        return SampleSource()
    if spec == "live":
        from flows.marketdata.live import LiveSource

        return LiveSource(crypto_exchange=crypto_exchange)
    path = Path(spec).expanduser()
    if not path.is_dir():
        raise InputError(
            f"--source {spec!r} is neither 'live', 'sample' nor a directory of SYMBOL.csv files"
        )
    from flows.marketdata.csvdir import CsvDirectorySource

    return CsvDirectorySource(path)
