"""Reading a trader's question: which assets, which window, which flow source, what is asked.

Pure text work with no dates and no I/O, so it is cheap to fuzz. Nothing here raises for any
input string; what it cannot read it leaves empty for the engine to explain.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from flows.assets import ASSETS
from flows.fund_kinds import kinds_named, read_kind_words
from flows.questions.not_modelled import not_modelled_in
from flows.questions.windows import WindowSpec, read_window

Ask = Literal["direction", "size", "volatility", "price", "timing", "accuracy"]
MAX_QUESTION_CHARS = 1000
"""Chat messages can be long; a question about flows is never longer than this."""

CRYPTO_BASKET = ("BTC", "ETH")
SOURCES = (
    "rebalancing",
    "vol_target",
    "leveraged",
    "positioning",
    "etf_flows",
    "gamma",
    "net_flow",
)
POSITIONING_SOURCES = frozenset({"positioning", "etf_flows"})
"""Sources that read what already traded: no window named means this week, no asset BTC."""
ONE_DAY_SOURCES = frozenset({"net_flow", "gamma"})
"""Sources about one day (the ledger, dealer positioning): today's, unless a day is named."""

_CRYPTO_WORDS = re.compile(
    r"\b(?:crypto(?:currency|currencies|s)?|digital\sassets?|the\scoin\smarket|coins)\b"
)
_SOURCE_PATTERNS: dict[str, re.Pattern[str]] = {
    "rebalancing": re.compile(
        r"rebalanc|\b60\s?[/-]\s?40\b|\bsixty\s?forty\b|\bpensions?\b|\bmulti\sasset"
        r"|\bbalanced\s(?:funds?|portfolios?|mandates?)|\bmodel\sportfolios?|\btarget\sdate"
        r"|\bfixed\sweight|\binstitution|\basset\sallocators?|\ballocators?\b|\breconstitut"
    ),
    "vol_target": re.compile(
        r"\bvol(?:atility)?\s(?:target(?:ing|ed|s)?|control(?:led)?)\b"
        r"|\btarget(?:ed)?\svol(?:atility)?\b|\brisk\scontrol(?:led)?\sfunds?"
    ),
    "leveraged": re.compile(
        r"\bleveraged\b|\bletfs?\b|\binverse\setfs?\b|\bdaily\sreset\b|\b[23]x\b"
    ),
    "positioning": re.compile(
        r"\bshorts?\s(?:are\s|were\s|is\s)?(?:covering|squeez)|\bshort\s(?:covering|squeeze)"
        r"|\blong\sliquidations?\b|\bliquidations?\sof\slongs\b|\bopen\sinterest\b"
        r"|\bfunding\srates?\b|\bpositioning\b|\bhedges?\s(?:coming\soff|unwind)|\bhedge\sunwind"
    ),
    "etf_flows": re.compile(
        r"(?<!multi\sasset\s)\betfs?\s(?:buyers|sellers|buying|selling|inflows?|outflows?"
        r"|creations?|redemptions?)\b"
        r"|(?<!multi\sasset\s)\betfs?\b[^.?!]{0,30}\b(?:inflows?|outflows?)\b"
        r"|\breal\smoney\b|\bspot\s(?:bitcoin\s|ether\s|eth\s|btc\s)?etfs?\b"
    ),
    "net_flow": re.compile(
        r"\bmechanical\s(?:flows?|selling|buying|or\sconviction)|\bdriven\sby\smechanical"
        r"|\bforced\s(?:selling|buying|flows?)|\bis\sforced\b|\bnet\smechanical\b"
        r"|\bis\s(?:this|the|today'?s?)\s(?:rally|move|selloff|sell\soff)\sreal\b"
    ),
    "gamma": re.compile(
        r"\bgamma\b|\bgex\b|\bdealers?\s(?:hedg|position|are\s(?:long|short))|\bcall\swall"
        r"|\bput\swall|\bflip\slevel"
    ),
}
_FLOW_WORDS = re.compile(
    r"\bpressure\b|\bflows?\b|\binflows?\b|\boutflows?\b|\bsell|\bbuy|\bbid\b|\bdemand\b"
    r"|\bsupply\b|\bdump|\bpurchas|\bliquidat|\bvolatil|\bvol\b"
    r"|\bdrift|\bweights?\b|\ballocation|\btrim|\badd(?:s|ing)?\sto\b|\bnet\b|\bpositive\b"
    r"|\bnegative\b|\bmechanical\b|\bquarter\send\b|\bmonth\send\b"
)
_ADVICE = re.compile(
    r"\bshould\s(?:i|we)\b|\bis\sit\s(?:a\s)?(?:good|safe|time)\b|\bprice\stargets?\b"
    r"|\bpredict|\bforecast\sthe\sprice|\bto\sthe\smoon\b|\bgood\sinvestment\b"
)
_ASKS: tuple[tuple[Ask, re.Pattern[str]], ...] = (
    (
        "accuracy",
        re.compile(
            r"\bhow\saccurate\b|\baccuracy\b|\btrack\srecord\b|\bhit\srate\b"
            r"|\bhow\soften\s(?:\w+\s){0,5}(?:right|correct)\b|\bcalls?\s(?:\w+\s){0,2}(?:right|correct)\b"
        ),
    ),
    (
        "volatility",
        re.compile(
            r"\bvolatil|\bvol\b|\bswings?\b|\bchopp|\bturbulen|\bwhipsaw|\bcalm(?:er)?\b"
            r"|\bbig\smoves?\b|\bpriced\sin\b"
        ),
    ),
    (
        "timing",
        re.compile(r"^when\b|\bwhen\s(?:do|does|will|is|are)\b|\bwhat\s(?:date|day|time)\b"),
    ),
    (
        "size",
        re.compile(
            r"\bhow\s(?:much|big|large|many)\b|\bsize\b|\bmagnitude\b|\bdollars?\b|\bin\susd\b"
        ),
    ),
    (
        "price",
        re.compile(
            r"\b(?:impact|effect|affect|move|push|drive|hit|weigh\son)s?\b[^.?!]{0,30}\bprices?\b"
            r"|\bprices?\b[^.?!]{0,20}\b(?:fall|drop|rise|go\s(?:up|down)|impact)"
        ),
    ),
)
_PAST_TENSE = re.compile(
    r"^(?:did|was|were|had)\b|\b(?:did|were)\s(?:\w+\s){0,4}(?:sell|buy|trade)"
)
_TICKER = re.compile(r"\$?\b([A-Z][A-Z0-9]{1,5})\b")
_NOT_TICKERS = frozenset(
    re.findall(
        r"\w+",
        "ETF ETFS LETF LETFS USD US USA NYSE ADV AUM CTA CTAS EOD EOM EOQ QE ASAP FOMC CPI GDP "
        "IPO OK AM PM UTC EST ET FY YTD MTD QTD VOL I A AN OR AND THE TO IN ON AT OF FOR IS IT "
        "WILL BE DO DOES NAV SP PNL",
    )
)


@dataclass(frozen=True, slots=True)
class ParsedQuestion:
    """What the words of a question say, before any date or data is involved."""

    text: str
    normalized: str
    assets: tuple[str, ...]
    window: WindowSpec | None
    sources: tuple[str, ...]
    """Flow channels the question names, in SOURCES order; empty when it names none."""
    unsupported_sources: tuple[str, ...]
    asks: Ask
    about_flows: bool
    """The question names a flow source or talks about flows, pressure, volatility..."""
    advice: bool
    """It asks for investment advice or a price call rather than flows."""
    unknown_tickers: tuple[str, ...]
    past_tense: bool = False
    """'Did funds sell in June?': an undated month or quarter is the latest already begun."""
    assets_assumed: bool = False
    """No asset named in a positioning / ETF-flow question: BTC is assumed (and said)."""
    fund_kinds: frozenset[str] = frozenset()
    """Kinds of rebalancing programs the words name (flows.fund_kinds); empty: all count."""
    kind_words: tuple[str, ...] = ()
    """The words that named them ("pensions", "60/40")."""


def normalize(text: str) -> str:
    """Lower case, plain quotes and dashes, single spaces; hyphens between words become spaces
    so that "quarter-end", "sell-off" and "multi-asset" read like their spaced forms."""
    text = unicodedata.normalize("NFKC", text[:MAX_QUESTION_CHARS])
    text = text.translate(str.maketrans({"’": "'", "‘": "'", "–": "-", "—": "-", "−": "-"}))
    text = text.lower()
    text = re.sub(r"(?<=[a-z])-(?=[a-z])", " ", text)
    return re.sub(r"\s+", " ", text).strip()


@lru_cache(maxsize=8)
def _alias_patterns(extra_symbols: frozenset[str]) -> tuple[tuple[re.Pattern[str], str], ...]:
    names: dict[str, str] = {}
    for asset in ASSETS.values():
        for alias in (asset.symbol, *asset.aliases):
            names[normalize(alias)] = asset.symbol
    for symbol in extra_symbols:
        names.setdefault(normalize(symbol), symbol.upper())
    ordered = sorted(names, key=len, reverse=True)
    return tuple(
        (re.compile(r"(?<![\w&^])\^?" + re.escape(alias) + r"(?![\w&])"), names[alias])
        for alias in ordered
    )


def find_assets(normalized: str, extra_symbols: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """Assets in order of first mention; "crypto" stands for BTC and ETH."""
    hits: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    for pattern, symbol in _alias_patterns(extra_symbols):
        for match in pattern.finditer(normalized):
            span = match.span()
            # Longer aliases were matched first: "s&p 500" must not also count as "s&p".
            if any(span[0] < end and start < span[1] for start, end in taken):
                continue
            taken.append(span)
            hits.append((span[0], symbol))
    for match in _CRYPTO_WORDS.finditer(normalized):
        hits.extend((match.start(), symbol) for symbol in CRYPTO_BASKET)
    ordered: list[str] = []
    for _, symbol in sorted(hits, key=lambda hit: hit[0]):
        if symbol not in ordered:
            ordered.append(symbol)
    return tuple(ordered)


def _unknown_tickers(text: str, assets: tuple[str, ...]) -> tuple[str, ...]:
    """Upper-case words that look like tickers flows-bot does not know ("DOGE")."""
    found: list[str] = []
    for match in _TICKER.finditer(text[:MAX_QUESTION_CHARS]):
        word = match.group(1)
        if (
            word in _NOT_TICKERS
            or word in ASSETS
            or word in assets
            or word in found
            or re.fullmatch(r"Q[1-4]|[1-4]Q\d*|\d+[A-Z]*|[A-Z]\d+", word)
        ):
            continue
        found.append(word)
    # A question typed in capitals is shouting, not a list of tickers.
    return tuple(found) if len(found) <= 3 else ()


def _ask(normalized: str) -> Ask:
    # Source names contain words an ask looks for ("volatility targeting"), so drop them first.
    text = normalized
    for pattern in _SOURCE_PATTERNS.values():
        text = pattern.sub(" ", text)
    for ask, pattern in _ASKS:
        if pattern.search(text):
            return ask
    return "direction"


def parse_question(text: object, extra_symbols: frozenset[str] = frozenset()) -> ParsedQuestion:
    """Read a question. `extra_symbols` are tickers a user's fund file holds."""
    raw = text if isinstance(text, str) else ""
    normalized = normalize(raw)
    assets = find_assets(normalized, extra_symbols)
    from flows.questions.channels.base import channel_names

    registered = set(channel_names())
    named = not_modelled_in(normalized)
    sources = tuple(name for name in SOURCES if _SOURCE_PATTERNS[name].search(normalized))
    # A flow on the not-modelled list routes to its channel as soon as one is registered.
    sources += tuple(
        entry.channel
        for entry in named
        if entry.channel in registered and entry.channel not in sources
    )
    unsupported = tuple(entry.label for entry in named if entry.channel not in registered)
    kind_words = read_kind_words(normalized)
    window = read_window(normalized)
    assumed = False
    if len(sources) == 1 and sources[0] in ONE_DAY_SOURCES:
        window = window or read_window("today")
    if sources and set(sources) <= POSITIONING_SOURCES:
        # These read what already traded: default to this week, and to the asset with spot
        # ETFs and perpetuals ("are ETF buyers behind this rally?").
        window = window or read_window("this week")
        if not assets:
            assets, assumed = ("BTC",), True
    asks = _ask(normalized)
    return ParsedQuestion(
        text=raw,
        normalized=normalized,
        assets=assets,
        window=window,
        sources=sources,
        unsupported_sources=unsupported,
        asks=asks,
        about_flows=bool(sources or unsupported or _FLOW_WORDS.search(normalized))
        or asks == "accuracy",
        advice=bool(_ADVICE.search(normalized)),
        unknown_tickers=() if assets else _unknown_tickers(raw, assets),
        past_tense=bool(_PAST_TENSE.search(normalized)),
        assets_assumed=assumed,
        fund_kinds=kinds_named(kind_words),
        kind_words=tuple(item.words for item in kind_words),
    )


def one_day(parsed: ParsedQuestion) -> bool:
    """Whether the question is about one day's flows only, so "today" is the calendar day even
    when NYSE is closed (crypto trades every day)."""
    return bool(parsed.sources) and set(parsed.sources) <= ONE_DAY_SOURCES
