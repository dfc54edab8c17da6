"""Plain-text list of the registry's programs (`flows-bot funds`, `/flows funds`)."""

from __future__ import annotations

from typing import Any

from bot.render.numbers import usd


def _sleeves(sleeves: dict[str, float], vehicles: dict[str, str]) -> str:
    parts = []
    for symbol, weight in sleeves.items():
        via = f" via {vehicles[symbol]}" if symbol in vehicles else ""
        parts.append(f"{symbol} {weight:.1%}{via}")
    return ", ".join(parts)


def _rule(rule: dict[str, Any]) -> str:
    from flows.program_model import Band, Rule

    bands = tuple(Band(**band) for band in rule["bands"])
    return Rule(rule["calendar"], rule["calendar_month"], bands).describe()


def _aum(program: dict[str, Any]) -> str:
    if program["aum_usd"] is None:
        return f"AUM unknown ({program['aum_source']})"
    aum = program["aum"]
    if "low_usd" in aum and "live" not in program["aum_source"]:
        figures = f"{usd(aum['low_usd'])} / {usd(program['aum_usd'])} / {usd(aum['high_usd'])}"
        return f"AUM {figures} (low / central / high) — {program['aum_source']}"
    return f"AUM {usd(program['aum_usd'])} — {program['aum_source']}"


def _not_sized(program: dict[str, Any]) -> str | None:
    if program["kind"] == "index_fund":
        return "cap-weighted index fund: no drift trade"
    if program["unsized"]:
        return program["unsized"]
    return None


def render_funds_text(listing: dict[str, Any], *, live: bool) -> str:
    programs = listing["programs"]
    scope = f" holding {listing['asset']}" if listing["asset"] else ""
    lines = [f"{len(programs)} program(s){scope} — {listing['funds_source']}"]
    if not live:
        lines.append(
            "AUM: the registry's dated figures (offline data source: nothing is fetched live)"
        )
    for program in programs:
        tag = " [scenario]" if program["scenario"] else ""
        tickers = f" ({', '.join(program['tickers'])})" if program["tickers"] else ""
        lines += ["", f"{program['name']}{tickers}{tag} — {program['kind']}"]
        if program["issuer"]:
            lines.append(f"  issuer: {program['issuer']}")
        lines.append(f"  sleeves: {_sleeves(program['sleeves'], program['vehicles'])}")
        lines.append(f"  rule: {_rule(program['rule'])}")
        lines.append(f"  {_aum(program)}")
        lines.append(f"  since: {program['since'] or 'unknown'}")
        if _not_sized(program):
            lines.append(f"  not sized: {_not_sized(program)}")
        if program["notes"]:
            lines.append(f"  notes: {program['notes']}")
        for source in program["sources"]:
            lines.append(f"  source: {source['title']} ({source['date']}) {source['url']}")
    return "\n".join(lines)


def render_funds_chat(listing: dict[str, Any], *, live: bool) -> str:
    """A shorter list for chat: one block of three lines per program, its first source."""
    programs = listing["programs"]
    scope = f" holding {listing['asset']}" if listing["asset"] else ""
    lines = [f"Programs{scope} ({len(programs)}) — {listing['funds_source']}"]
    if not live:
        lines.append("AUM: the registry's dated figures (offline data: nothing fetched live)")
    for program in programs:
        tag = " [scenario]" if program["scenario"] else ""
        tickers = f" ({', '.join(program['tickers'])})" if program["tickers"] else ""
        lines.append(
            f"{program['name']}{tickers}{tag} — {program['kind']}, since "
            f"{program['since'] or 'unknown'}"
        )
        lines.append(f"  {_sleeves(program['sleeves'], {})}; {_rule(program['rule'])}")
        lines.append(
            f"  {('not sized: ' + _not_sized(program)) if _not_sized(program) else _aum(program)}"
        )
        if program["sources"]:
            first = program["sources"][0]
            lines.append(f"  source: {first['url']} ({first['date']})")
    return "\n".join(lines)
