"""Neutral messages as Discord embeds: colour by direction, fields, footer, the chart attached.

Mentions inside embeds never notify anyone, and every send also carries
`allowed_mentions=none`, so user text needs no escaping for safety here; the only rewriting is
keeping a preformatted body from closing its own code block.
"""

from __future__ import annotations

from pathlib import Path

import discord

from bot.messages import Message

CHART_NAME = "chart.png"
SAMPLE_NOTE = "SAMPLE DATA — synthetic prices, not market data"
COLOURS = {
    "buy": discord.Colour(0x2ECC71),
    "sell": discord.Colour(0xE74C3C),
    "neutral": discord.Colour(0x95A5A6),
    "info": discord.Colour(0x3498DB),
    "warning": discord.Colour(0xF1C40F),
    "error": discord.Colour(0xE67E22),
}
TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
MAX_FIELDS = 25
EMBED_TOTAL_LIMIT = 6000

NO_MENTIONS = discord.AllowedMentions.none()


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _code_block(body: str, room: int) -> str:
    # A zero-width space breaks any ``` inside the body so it cannot end the block early.
    safe = body.replace("```", "`\u200b`\u200b`")
    return f"```\n{_clip(safe, max(1, room - 8))}\n```"


def embed(message: Message) -> discord.Embed:
    title = ("[SAMPLE] " if message.sample else "") + message.title
    description = message.summary
    if message.notice:
        description = f"**{message.notice}**\n{description}"
    if message.body:
        room = DESCRIPTION_LIMIT - len(description) - 2
        description = f"{description}\n{_code_block(message.body, room)}"
    result = discord.Embed(
        title=_clip(title, TITLE_LIMIT),
        description=_clip(description, DESCRIPTION_LIMIT),
        colour=COLOURS.get(message.tone, COLOURS["info"]),
    )
    for field in message.fields[:MAX_FIELDS]:
        result.add_field(
            name=_clip(field.label, FIELD_NAME_LIMIT),
            value=_clip(field.value, FIELD_VALUE_LIMIT) or "—",
            inline=field.inline,
        )
    footer = " · ".join(
        part for part in (message.footer, SAMPLE_NOTE if message.sample else None) if part
    )
    if footer:
        result.set_footer(text=_clip(footer, FOOTER_LIMIT))
    if chart_path(message) is not None:
        result.set_image(url=f"attachment://{CHART_NAME}")
    # Discord rejects an embed over 6,000 characters in all; drop trailing fields until it fits.
    while len(result) > EMBED_TOTAL_LIMIT and result.fields:
        result.remove_field(len(result.fields) - 1)
    return result


def chart_path(message: Message) -> Path | None:
    if message.chart_path is None:
        return None
    path = Path(message.chart_path)
    return path if path.is_file() else None


def chart_file(message: Message) -> discord.File | None:
    """A fresh `discord.File` per send: a File is consumed by the upload."""
    path = chart_path(message)
    return discord.File(path, filename=CHART_NAME) if path is not None else None
