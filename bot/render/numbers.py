"""Number formatting shared by every renderer."""

from __future__ import annotations

from flows.money import usd

__all__ = ["trade", "usd"]


def trade(amount: float | None, direction: str | None = None) -> str:
    """'SELL $21.9m' / 'BUY $1.2bn' / 'neutral ($0.4m)'."""
    if amount is None:
        return "unknown"
    if direction == "neutral":
        return f"NEUTRAL ({usd(amount, signed=True)})"
    if amount == 0:
        return "no trade"
    side = "BUY" if amount > 0 else "SELL"
    return f"{side} {usd(amount)}"


def pct(fraction: float | None, digits: int = 1, signed: bool = False) -> str:
    """A fraction as a percentage: 0.0231 -> '2.3%'."""
    if fraction is None:
        return "unknown"
    return f"{fraction * 100:{'+' if signed else ''}.{digits}f}%"


def pct_points(percent: float | None, digits: int = 2) -> str:
    """A value already in percent: 0.37 -> '0.37%'."""
    return "unknown" if percent is None else f"{percent:.{digits}f}%"
