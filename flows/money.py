"""Money amounts in words every answer and message shares: $1.2bn, $350m, $12k."""

from __future__ import annotations

_UNITS = ((1.0, ""), (1e3, "k"), (1e6, "m"), (1e9, "bn"), (1e12, "tn"))


def _digits(value: float) -> int:
    """Three significant figures: 1.23, 12.3, 123."""
    return 0 if value >= 100 else 1 if value >= 10 else 2


def usd(amount: float | None, signed: bool = False) -> str:
    """$1.2bn, $350m, $12k; `signed` adds + or −. None is 'unknown'.

    Rounding decides the unit: 999.6e6 is "$1.00bn", never "$1000m"; 99.96e6 is "$100m"."""
    if amount is None:
        return "unknown"
    sign = ("+" if amount > 0 else "−" if amount < 0 else "") if signed else ""
    magnitude = abs(amount)
    index = max(i for i, (scale, _) in enumerate(_UNITS) if magnitude >= scale or i == 0)
    while True:
        scale, suffix = _UNITS[index]
        if not suffix:
            text = f"{magnitude:,.0f}"
            if float(text.replace(",", "")) < 1000:
                return f"{sign}${text}"
        else:
            value = magnitude / scale
            digits = _digits(value)
            rounded = round(value, digits)
            digits = _digits(rounded)  # 99.96 rounds to 100.0: three figures are "100"
            text = f"{value:.{digits}f}"
            if float(text) < 1000 or index + 1 == len(_UNITS):
                return f"{sign}${text}{suffix}"
        index += 1
