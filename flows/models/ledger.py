"""The net mechanical-flow ledger behind `why`: every model's `FlowEstimate`s for one asset and
one day, added up honestly, and the verdict "mechanical or conviction?" for the day's move.

Rows come from the models (rebalancing, vol targeting, leveraged ETFs, dealer gamma, positioning);
real money (ETF creations/redemptions) is kept apart from the mechanical total. A source that could
not be computed is a row with `usd = None` and its reason — never a silent zero — and is named in
`coverage`.

Verdict rule (documented in docs/why.md):
- `unknown` when fewer than `MIN_KNOWN_MECHANICAL` mechanical sources are known, when the move is
  zero, or when real money is unknown (the mechanical share cannot be formed without it);
- `mechanical` when the mechanical share is above 2/3 and the net mechanical flow has the sign of
  the move;
- `conviction` when real money has the sign of the move and is larger than the net mechanical flow
  (real money leads in the move's direction);
- `mixed` otherwise.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from typing import Literal

from flows.freshness import DataLag
from flows.models.estimate import FlowEstimate, total_usd
from flows.results import Result

Verdict = Literal["mechanical", "conviction", "mixed", "unknown"]

REAL_MONEY_SOURCES = frozenset({"etf_flows"})
"""Model slugs whose estimates are real-money flows, kept out of the mechanical total."""
MECHANICAL_SHARE_THRESHOLD = 2 / 3
MIN_KNOWN_MECHANICAL = 2
"""Fewer known mechanical sources than this and the verdict is `unknown` (coverage too thin)."""


class LedgerRow(Result):
    source: str
    usd: float | None
    timing: str
    basis: str
    confidence: str
    unknown_reason: str | None = None

    @classmethod
    def from_estimate(cls, estimate: FlowEstimate) -> LedgerRow:
        return cls(
            source=estimate.source,
            usd=estimate.usd,
            timing=estimate.timing.describe(),
            basis=estimate.basis,
            confidence=estimate.confidence,
            unknown_reason=estimate.unknown_reason,
        )


class Ledger(Result):
    """`flows-bot why --json`: the contract of issue #16 (extend, never rename)."""

    asset: str
    as_of: dt.date
    move_pct: float | None
    """The day's move of the asset in percent (+4.1 = +4.1 %); None when unknown."""
    rows: list[LedgerRow]
    """Mechanical rows, in the order the models were asked."""
    net_mechanical_usd: float | None
    real_money_usd: float | None
    real_money_rows: list[LedgerRow]
    mechanical_share: float | None
    verdict: Verdict
    verdict_reason: str
    coverage: dict[str, list[str]]
    """`known` and `unknown` source slugs (mechanical and real money alike)."""
    data_source: str
    sample: bool
    move_basis: str = ""
    """Where `move_pct` comes from: the close-to-close move of the day, or `--move`."""
    data_lag: DataLag | None = None
    """Set when no as-of was named and the data ends more than the allowance before today."""


def _sign(value: float) -> int:
    return (value > 0) - (value < 0)


def mechanical_share(net_mechanical: float | None, real_money: float | None) -> float | None:
    """|net mechanical| / (|net mechanical| + |real money|); None unless both are known."""
    if net_mechanical is None or real_money is None:
        return None
    denominator = abs(net_mechanical) + abs(real_money)
    if denominator == 0:
        return None
    return abs(net_mechanical) / denominator


def verdict_for(
    move_pct: float | None,
    net_mechanical: float | None,
    real_money: float | None,
    known_mechanical: int,
) -> tuple[Verdict, str]:
    """The documented rule (module docstring) with the reason in words."""
    if known_mechanical < MIN_KNOWN_MECHANICAL:
        return "unknown", (
            f"only {known_mechanical} mechanical source(s) known; the verdict needs "
            f"{MIN_KNOWN_MECHANICAL}"
        )
    if move_pct is None or move_pct == 0 or math.isnan(move_pct):
        return "unknown", "the day's move is unknown or zero"
    if real_money is None:
        return "unknown", "real-money (ETF) flows are unknown, so the mechanical share is too"
    share = mechanical_share(net_mechanical, real_money)
    move_sign = _sign(move_pct)
    net = net_mechanical or 0.0
    if share is not None and share > MECHANICAL_SHARE_THRESHOLD and _sign(net) == move_sign:
        return "mechanical", (
            f"mechanical flow is {share:.0%} of the total and points the way the asset moved"
        )
    if _sign(real_money) == move_sign and abs(real_money) > abs(net):
        return "conviction", "real money is larger than the mechanical flow and moved with price"
    return "mixed", "neither mechanical flow nor real money clearly leads the move"


def build_ledger(
    asset: str,
    as_of: dt.date,
    move_pct: float | None,
    estimates: Sequence[FlowEstimate],
    *,
    data_source: str,
    sample: bool,
) -> Ledger:
    """Add up `estimates` (all for `asset`) into the ledger and its verdict."""
    wrong = sorted({e.asset for e in estimates if e.asset != asset})
    if wrong:
        raise ValueError(f"ledger for {asset} was given estimates for {', '.join(wrong)}")
    mechanical = [e for e in estimates if _slug(e) not in REAL_MONEY_SOURCES]
    real = [e for e in estimates if _slug(e) in REAL_MONEY_SOURCES]
    net_mechanical = total_usd(mechanical)
    real_money = total_usd(real)
    known_mechanical = len({_slug(e) for e in mechanical if e.known})
    verdict, reason = verdict_for(move_pct, net_mechanical, real_money, known_mechanical)
    return Ledger(
        asset=asset,
        as_of=as_of,
        move_pct=move_pct,
        rows=[LedgerRow.from_estimate(e) for e in mechanical],
        net_mechanical_usd=net_mechanical,
        real_money_usd=real_money,
        real_money_rows=[LedgerRow.from_estimate(e) for e in real],
        mechanical_share=mechanical_share(net_mechanical, real_money),
        verdict=verdict,
        verdict_reason=reason,
        coverage=_coverage(estimates),
        data_source=data_source,
        sample=sample,
    )


def _slug(estimate: FlowEstimate) -> str:
    """The model part of a source slug: `rebalance:fbal` → `rebalance`."""
    return estimate.source.split(":", 1)[0]


def _coverage(estimates: Iterable[FlowEstimate]) -> dict[str, list[str]]:
    known: list[str] = []
    unknown: list[str] = []
    for estimate in estimates:
        bucket = known if estimate.known else unknown
        if estimate.source not in bucket:
            bucket.append(estimate.source)
    return {"known": known, "unknown": unknown}
