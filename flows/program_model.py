"""The parts of a registry program besides its sleeves: rebalancing rule, AUM figures, sources.

A program (`flows.funds.RebalancingFund`) is a fund, model portfolio, adviser guidance or
aggregate whose crypto or stock/bond sleeve is held at target weights. These small value types
say how it trades back to target (`Rule`, `Band`), how big it is and since when (`AumPoint`),
and which documents every weight and rule rests on (`Source`).
"""

from __future__ import annotations

import calendar as calendar_module
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

from flows.assets import AssetClass, asset_class_of

Calendar = Literal["monthly", "quarterly", "annual", "none"]
CALENDARS: tuple[str, ...] = get_args(Calendar)
Kind = Literal[
    "etf", "model_portfolio", "guidance", "index_fund", "pension", "balanced_fund", "custom"
]
KINDS: tuple[str, ...] = get_args(Kind)
"""`pension` and `balanced_fund` are the stock/bond aggregates sized from published totals;
`custom` is an old-format `[[fund]]` entry from a user's file."""
Restores = Literal["all", "sleeve"]
GROUPS = {"equity": AssetClass.EQUITY, "bond": AssetClass.BOND, "crypto": AssetClass.CRYPTO}
MONTHS = calendar_module.month_name[1:]


@dataclass(frozen=True, slots=True)
class Source:
    """A document a weight, a rule or a figure rests on."""

    url: str
    title: str
    date: str

    def to_dict(self) -> dict[str, str]:
        return {"url": self.url, "title": self.title, "date": self.date}


@dataclass(frozen=True, slots=True)
class AumPoint:
    """A dated AUM figure (USD) and where it comes from."""

    date: dt.date
    usd: float
    source: str


@dataclass(frozen=True, slots=True)
class Band:
    """A drift limit whose breach forces a trade outside the calendar.

    Exactly one limit is set: `max_multiple` (the sleeve's weight may reach this multiple of
    its target), `max_weight` (an absolute weight) — both on one `asset` — or `max_drift_pts`
    (percentage points either side of the target) on an asset or a `group` of sleeves.
    """

    asset: str | None = None
    group: str | None = None
    max_multiple: float | None = None
    max_weight: float | None = None
    max_drift_pts: float | None = None
    restores: Restores = "all"

    def members(self, sleeves: Sequence[str]) -> list[str]:
        if self.asset is not None:
            return [self.asset] if self.asset in sleeves else []
        wanted = GROUPS[self.group or ""]
        return [s for s in sleeves if asset_class_of(s) is wanted]

    def limits(self, target: float) -> tuple[float | None, float | None]:
        """(lower, upper) weight limits of the band's members together, given their target."""
        if self.max_multiple is not None:
            return None, self.max_multiple * target
        if self.max_weight is not None:
            return None, self.max_weight
        points = (self.max_drift_pts or 0.0) / 100.0
        return max(target - points, 0.0) or None, min(target + points, 1.0)

    def describe(self) -> str:
        who = self.asset or f"{self.group} sleeves"
        if self.max_multiple is not None:
            limit = f"{who} above {self.max_multiple:g}x target"
        elif self.max_weight is not None:
            limit = f"{who} above {self.max_weight:.2%}"
        else:
            limit = f"{who} more than {self.max_drift_pts:g} pts from target"
        return f"{limit} → restore {'the sleeve' if self.restores == 'sleeve' else 'all'}"

    def to_dict(self) -> dict:
        fields = {
            "asset": self.asset,
            "group": self.group,
            "max_multiple": self.max_multiple,
            "max_weight": self.max_weight,
            "max_drift_pts": self.max_drift_pts,
        }
        return {k: v for k, v in fields.items() if v is not None} | {"restores": self.restores}


@dataclass(frozen=True, slots=True)
class Rule:
    """When a program trades back to target: a calendar and optional drift bands."""

    calendar: Calendar
    calendar_month: int | None = None
    """1-12 for an annual calendar; None when the documents do not say which month."""
    bands: tuple[Band, ...] = ()

    def describe(self) -> str:
        if self.calendar == "annual":
            month = MONTHS[self.calendar_month - 1] if self.calendar_month else "month unknown"
            text = f"annual ({month})"
        elif self.calendar == "none":
            text = "no calendar rebalance"
        else:
            text = self.calendar
        if self.bands:
            text += "; bands: " + "; ".join(band.describe() for band in self.bands)
        return text

    def to_dict(self) -> dict:
        return {
            "calendar": self.calendar,
            "calendar_month": self.calendar_month,
            "bands": [band.to_dict() for band in self.bands],
        }


def month_label(month: int | None) -> str:
    return MONTHS[month - 1] if month else "an undisclosed month"
