"""Option chains as data: live (Yahoo Finance, Deribit), a CSV directory, or SAMPLE DATA.

`chain_source_for(bar_source)` picks the chain source matching a bar source: `live`, `sample` or
a directory holding `SYMBOL_options.csv` files.
"""

from __future__ import annotations

from flows.options.chain import (
    CHAIN_COLUMNS,
    OPTION_ASSETS,
    ChainSource,
    OptionChain,
    default_multiplier,
)

__all__ = [
    "CHAIN_COLUMNS",
    "OPTION_ASSETS",
    "ChainSource",
    "OptionChain",
    "chain_source_for",
    "default_multiplier",
]


def chain_source_for(bar_source) -> ChainSource:
    """The chain source matching a bar source: sample with sample, the same CSV directory,
    live with live (also through a caching wrapper, which keeps the inner source as `source`)."""
    inner = getattr(bar_source, "source", None) or bar_source
    directory = getattr(inner, "directory", None)
    if directory is not None:
        from flows.options.csvdir import CsvChainSource

        return CsvChainSource(directory)
    if inner.is_sample:
        from flows.options.sample import SampleChainSource

        return SampleChainSource(getattr(inner, "today", None))
    from flows.options.live import LiveChainSource

    return LiveChainSource()
