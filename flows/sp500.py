"""The S&P 500 companies whose earnings dates estimate the buyback blackout.

A sample, not the whole index: the largest constituents by index weight, listed in
`flows/sp500_companies.toml` with where the list comes from and its date. Every blackout estimate
built from it says that its share is over these companies.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from flows.errors import FlowsError

_TICKER = re.compile(r"^[A-Z][A-Z0-9]{0,5}(-[A-Z])?$")
"""A Yahoo Finance ticker of a US common stock: BRK-B for the class B share."""


@dataclass(frozen=True, slots=True)
class CompanyList:
    tickers: tuple[str, ...]
    source: str
    as_of: str

    @property
    def description(self) -> str:
        """How a basis names the list: what it is, its date, and that it is a sample."""
        return (
            f"the {len(self.tickers)} largest S&P 500 companies (list as of {self.as_of}; a "
            "sample of the index, not all 500)"
        )


def parse_company_list(text: str, origin: str) -> CompanyList:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FlowsError(f"company list {origin} is not valid TOML: {exc}") from None
    tickers = document.get("tickers")
    source, as_of = document.get("source"), document.get("as_of")
    if not isinstance(tickers, list) or not tickers:
        raise FlowsError(f"company list {origin} needs a non-empty `tickers` array")
    if not isinstance(source, str) or not source.strip():
        raise FlowsError(f"company list {origin} needs a `source`")
    if not isinstance(as_of, str) or not as_of.strip():
        raise FlowsError(f"company list {origin} needs an `as_of` date")
    bad = [t for t in tickers if not isinstance(t, str) or not _TICKER.match(t)]
    if bad:
        raise FlowsError(f"company list {origin}: {bad[0]!r} is not a Yahoo Finance ticker")
    duplicates = sorted({t for t in tickers if tickers.count(t) > 1})
    if duplicates:
        raise FlowsError(f"company list {origin}: {duplicates[0]} is listed twice")
    return CompanyList(tuple(tickers), source.strip(), as_of.strip())


@lru_cache(maxsize=1)
def largest_sp500_companies() -> CompanyList:
    """The built-in list (`flows/sp500_companies.toml`)."""
    text = resources.files("flows").joinpath("sp500_companies.toml").read_text(encoding="utf-8")
    return parse_company_list(text, "flows/sp500_companies.toml")
