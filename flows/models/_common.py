"""Small helpers the model modules share."""

from __future__ import annotations

import re
from collections.abc import Iterable

from flows.models.estimate import Confidence


def slug(name: str) -> str:
    """A fund or program name as the stable sub-part of a `source` slug: `rebalance:fbal`."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "unnamed"


def aum_confidence(aum_sources: Iterable[str]) -> Confidence:
    """`scenario` when every AUM figure is illustrative (an assumption, not a filing), else
    `estimated` (a model on real inputs)."""
    sources = list(aum_sources)
    if sources and all(source.lower().startswith("illustrative") for source in sources):
        return "scenario"
    return "estimated"
