"""Volatility-targeting programs as `FlowEstimate`s.

The computation stays in `flows.volatility` (`assess_volatility` → `VolatilityReport`, whose
`vol_target` list holds each program's exposure = min(cap, target / realized vol) today and the
session before, and the trade AUM × (exposure_t − exposure_t−1)). This module turns it into the
shared shape: one estimate per program (`vol_target:<program>`) and one for all of them
(`vol_target`), traded at the as-of session's close. A program whose realized vol is unknown
(too little history) is unknown, never zero.
"""

from __future__ import annotations

import datetime as dt

from flows.models._common import aum_confidence, slug
from flows.models.estimate import FlowEstimate, FlowTiming
from flows.results import VolatilityReport, VolTargetFlow

SOURCE = "vol_target"
UNKNOWN_REASON = "realized volatility unknown for today or the session before (too few bars)"


def program_estimate(
    asset: str, as_of: dt.date, program: VolTargetFlow, window: int, data_source: str
) -> FlowEstimate:
    exposures = (
        f"exposure {program.previous_exposure:.3f} → {program.exposure:.3f}"
        if program.exposure is not None and program.previous_exposure is not None
        else "exposure unknown"
    )
    return FlowEstimate(
        source=f"{SOURCE}:{slug(program.name)}",
        asset=asset,
        usd=program.trade_usd,
        timing=FlowTiming(kind="at_close", start=as_of),
        basis=f"{program.name}: target vol {program.target_vol:.0%}, cap "
        f"{program.max_exposure:g}x, {exposures} ({window}-day realized vol), AUM "
        f"{program.aum_usd:,.0f} USD ({program.aum_source}); prices {data_source} to {as_of}",
        confidence=aum_confidence([program.aum_source]),
        unknown_reason=None if program.trade_usd is not None else UNKNOWN_REASON,
    )


def program_estimates(
    asset: str, as_of: dt.date, report: VolatilityReport, data_source: str
) -> list[FlowEstimate]:
    return [
        program_estimate(asset, as_of, program, report.window, data_source)
        for program in report.vol_target
    ]


def aggregate_estimate(
    asset: str, as_of: dt.date, report: VolatilityReport, data_source: str
) -> FlowEstimate | None:
    """All programs on `asset` (the figure `status` prints as the vol-target flow): unknown when
    any program's is; None when no program targets `asset`."""
    if not report.vol_target:
        return None
    total = report.vol_target_trade_usd
    return FlowEstimate(
        source=SOURCE,
        asset=asset,
        usd=total,
        timing=FlowTiming(kind="at_close", start=as_of),
        basis=f"{len(report.vol_target)} vol-target program(s) on {asset}: exposure = "
        f"min(cap, target / {report.window}-day realized vol), trade = AUM × change in "
        f"exposure; prices {data_source} to {as_of}",
        confidence=aum_confidence(program.aum_source for program in report.vol_target),
        unknown_reason=None if total is not None else UNKNOWN_REASON,
    )
