"""Flows people ask about that flows-bot does not model yet: THE list to shrink.

When a question names one of these and no channel of that name is registered, the answer says
so in words ("dealer gamma is not modelled yet") instead of guessing. When a model lands, it
registers a question channel under `channel` (flows.questions.channels.register_channel) and
questions route to it automatically; then delete its entry here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class NotModelled:
    label: str
    """How the answer names it: '<label> is not modelled yet'."""
    channel: str
    """The question-channel name a model of it would register."""
    pattern: re.Pattern[str]
    """Matched against the normalized question (lower case, hyphens as spaces)."""


NOT_MODELLED: tuple[NotModelled, ...] = (
    NotModelled(
        "options-expiry hedging (opex, charm, vanna)",
        "opex",
        re.compile(r"\bopex\b|\boptions?\sexpir|\bcharm\b|\bvanna\b"),
    ),
    NotModelled(
        "CTA / trend-following",
        "cta",
        re.compile(r"\bctas?\b|\btrend\sfollow|\bmomentum\sfunds?"),
    ),
    NotModelled("corporate buybacks", "buybacks", re.compile(r"\bbuy\s?backs?\b")),
)


def not_modelled_in(normalized: str) -> tuple[NotModelled, ...]:
    """Entries the question names (the caller checks which have a registered channel)."""
    return tuple(entry for entry in NOT_MODELLED if entry.pattern.search(normalized))
