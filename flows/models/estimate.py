"""`FlowEstimate`: the one shape every flow model yields.

Each model (rebalancing, vol targeting, leveraged ETFs, dealer gamma, positioning, …) keeps its own
typed result for its own command and `--json` contract, and *also* yields `FlowEstimate`s, so the
net ledger (`why`), the track record and the monitors can treat every model alike.

Sign convention: `usd` > 0 is buying of `asset`, < 0 selling. `usd is None` means unknown and
`unknown_reason` says why — an unknown is never reported as zero.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

TimingKind = Literal["at_close", "window", "intraday", "continuous"]
"""When the flow trades: into one session's close, spread over a window of sessions, during the
session as prices move, or continuously (e.g. crypto around the clock)."""

Confidence = Literal["measured", "estimated", "scenario"]
"""`measured`: a published figure (e.g. ETF creations); `estimated`: a model on real inputs;
`scenario`: rests on an assumed adoption or AUM range (guidance programs)."""


class FlowTiming(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: TimingKind
    start: dt.date
    """The day the flow trades, or the first day of its window."""
    end: dt.date | None = None
    """The last day of a window; None for a single day."""

    @model_validator(mode="after")
    def _ordered(self) -> FlowTiming:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"timing ends {self.end} before it starts {self.start}")
        return self

    def describe(self) -> str:
        if self.end is None or self.end == self.start:
            return f"{self.kind.replace('_', ' ')} {self.start.isoformat()}"
        return f"{self.kind.replace('_', ' ')} {self.start.isoformat()} → {self.end.isoformat()}"


class FlowEstimate(BaseModel):
    """One signed, dated, sourced flow estimate for one asset from one model (or one program
    within a model)."""

    model_config = ConfigDict(frozen=True)

    source: str
    """Stable slug of the model, optionally with a sub-part: `rebalance`, `rebalance:fbal`,
    `vol_target`, `leveraged`, `gamma`, `positioning`, `etf_flows`."""
    asset: str
    usd: float | None
    """Signed USD: + buys, − sells; None = unknown (see `unknown_reason`)."""
    timing: FlowTiming
    basis: str
    """What the figure rests on, in words: funds or data, data source, dates."""
    confidence: Confidence
    unknown_reason: str | None = None

    @model_validator(mode="after")
    def _unknown_has_reason(self) -> FlowEstimate:
        if self.usd is None and not self.unknown_reason:
            raise ValueError(f"{self.source}: an unknown estimate needs an unknown_reason")
        if self.usd is not None and self.usd != self.usd:  # NaN is not a number we can report
            raise ValueError(f"{self.source}: usd is NaN; report None with a reason instead")
        return self

    @property
    def known(self) -> bool:
        return self.usd is not None

    def to_json_dict(self) -> dict:
        return self.model_dump(mode="json")


def total_usd(estimates: Iterable[FlowEstimate]) -> float | None:
    """Sum of the known estimates; None when none is known (unknown is never zero)."""
    known = [e.usd for e in estimates if e.usd is not None]
    return float(sum(known)) if known else None
