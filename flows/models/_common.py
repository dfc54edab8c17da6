"""Small helpers the model modules share."""

from __future__ import annotations

from collections.abc import Iterable

from flows.funds import slug  # the stable sub-part of a `source` slug: `rebalance:fbal`
from flows.models.estimate import Confidence

__all__ = ["aum_confidence", "slug"]


def aum_confidence(aum_sources: Iterable[str]) -> Confidence:
    """`scenario` when every AUM figure is illustrative (an assumption, not a filing), else
    `estimated` (a model on real inputs)."""
    sources = list(aum_sources)
    if sources and all(source.lower().startswith("illustrative") for source in sources):
        return "scenario"
    return "estimated"
