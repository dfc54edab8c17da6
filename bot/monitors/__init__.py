"""Scheduled monitors: quarter-end countdown, drift threshold, volatility regime.

`evaluate.py` decides what fires from a status and the previous state (pure, shared by the live
tick and `flows-bot replay`); `tick.py` fetches, evaluates and writes the outbox; `schedule.py`
runs ticks on APScheduler.
"""
