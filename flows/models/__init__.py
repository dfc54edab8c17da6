"""Flow models: each computes its own typed result and also yields `FlowEstimate`s.

- `rebalance`: fixed-weight fund rebalancing (computation in `flows.rebalance`);
- `vol_target`: volatility-targeting programs (computation in `flows.volatility`);
- `leveraged`: leveraged and inverse ETFs' close rebalance.

A new model is a new module here (or a small package); `flows.status` composes them and no model
imports `flows.status`.
"""

from flows.models.estimate import Confidence, FlowEstimate, FlowTiming, TimingKind, total_usd

__all__ = ["Confidence", "FlowEstimate", "FlowTiming", "TimingKind", "total_usd"]
