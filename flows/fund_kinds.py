"""Kinds of rebalancing programs, and the words in a question that name them.

A fund entry carries `kind` (etf, model_portfolio, guidance, index_fund, pension, balanced_fund).
An entry without one (a user's older fund file) gets a kind read from its name, so questions
narrow the same way with either registry. Words like "pension" or "60/40" in a question restrict
the programs counted to the kinds they name; the answer says which were counted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

KINDS = ("etf", "model_portfolio", "guidance", "index_fund", "pension", "balanced_fund")
KIND_LABELS = {
    "etf": "multi-asset ETFs",
    "model_portfolio": "model portfolios",
    "guidance": "allocation guidance",
    "index_fund": "index funds",
    "pension": "pension funds",
    "balanced_fund": "balanced funds",
}

_NAME_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("pension", re.compile(r"pension", re.IGNORECASE)),
    ("index_fund", re.compile(r"\bindex\b", re.IGNORECASE)),
    ("etf", re.compile(r"\betfs?\b", re.IGNORECASE)),
    ("balanced_fund", re.compile(r"\bbalanced\b|multi-asset\s+funds?", re.IGNORECASE)),
    ("model_portfolio", re.compile(r"\bmodels?\b|portfolio", re.IGNORECASE)),
)


def fund_kind(fund: Any) -> str | None:
    """The program's kind: its own `kind` field, else one read from its name (None if none)."""
    kind = getattr(fund, "kind", None)
    if kind and kind != "custom":  # "custom": an old-format entry that records no kind
        return str(kind)
    name = str(getattr(fund, "name", ""))
    for candidate, pattern in _NAME_RULES:
        if pattern.search(name):
            return candidate
    return None


@dataclass(frozen=True, slots=True)
class KindWords:
    """Words of a question naming kinds of programs, and the kinds they mean."""

    words: str
    kinds: frozenset[str]


# Matched against normalized text (lower case, hyphens between words turned into spaces).
_KIND_WORDS: tuple[tuple[re.Pattern[str], frozenset[str]], ...] = (
    (re.compile(r"\bmulti\sasset\setfs?\b"), frozenset({"etf"})),
    (re.compile(r"\bpensions?(?:\sfunds?|\splans?)?\b"), frozenset({"pension"})),
    (
        re.compile(r"\b60\s?[/-]\s?40(?:\sfunds?|\sportfolios?)?|\bsixty\s?forty\b"),
        frozenset({"pension", "balanced_fund", "model_portfolio", "guidance"}),
    ),
    (
        re.compile(r"\bbalanced\s(?:funds?|portfolios?|mandates?)|\bbalanced\b"),
        frozenset({"balanced_fund"}),
    ),
    (
        re.compile(r"\bmodel\sportfolios?|\bmodels?\b|\badvis[eo]rs?\b"),
        frozenset({"model_portfolio", "guidance"}),
    ),
    (
        re.compile(r"\bmulti\sasset(?:\sfunds?)?\b(?!\setf)"),
        frozenset({"balanced_fund", "etf", "model_portfolio", "guidance"}),
    ),
    (re.compile(r"\bindex\sfunds?\b|\breconstitut"), frozenset({"index_fund"})),
)


def read_kind_words(normalized: str) -> tuple[KindWords, ...]:
    """Every phrase naming a kind of program, in order of appearance."""
    found: list[tuple[int, KindWords]] = []
    taken: list[tuple[int, int]] = []
    for pattern, kinds in _KIND_WORDS:
        for match in pattern.finditer(normalized):
            start, end = match.span()
            if any(start < e and s < end for s, e in taken):
                continue
            taken.append((start, end))
            found.append((start, KindWords(match.group(0), kinds)))
    return tuple(item for _, item in sorted(found, key=lambda pair: pair[0]))


def kinds_named(words: Iterable[KindWords]) -> frozenset[str]:
    """The union of the kinds a question's words name (empty: every kind counts)."""
    kinds: set[str] = set()
    for item in words:
        kinds |= item.kinds
    return frozenset(kinds)


def narrow(registry: Any, kinds: frozenset[str]) -> Any:
    """The registry with only the rebalancing programs of `kinds` (all of them when empty).
    A program whose kind is neither recorded nor readable from its name cannot be ruled out and
    stays (the answer lists what was counted). Vol-target and leveraged entries are other
    channels and stay."""
    if not kinds:
        return registry
    funds = tuple(
        fund for fund in registry.funds if fund_kind(fund) is None or fund_kind(fund) in kinds
    )
    return replace(registry, funds=funds)


def kinds_label(kinds: Iterable[str]) -> str:
    labels = [KIND_LABELS.get(kind, kind) for kind in KINDS if kind in set(kinds)]
    return ", ".join(labels)
