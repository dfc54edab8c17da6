"""Flow models: each computes its own typed result and also yields `FlowEstimate`s."""

from flows.models.estimate import Confidence, FlowEstimate, FlowTiming, TimingKind, total_usd

__all__ = ["Confidence", "FlowEstimate", "FlowTiming", "TimingKind", "total_usd"]
