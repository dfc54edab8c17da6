"""Neutral messages as Slack Block Kit, with every piece of text escaped.

Slack turns `<!channel>`, `<!here>`, `<@U…>`, `<#C…>` and `<!subteam^…>` into pings and links when
they appear raw in message text, so `&`, `<` and `>` are always entity-escaped (Slack's own rule:
only these three). Bare `@everyone`/`@here`/`@channel` only ping with `link_names`, which the bot
never sets, but a word joiner after the `@` keeps them inert should any client or a future
option start parsing them.
"""

from __future__ import annotations

import re
from typing import Any

from bot.messages import Message, MessageField

HEADER_LIMIT = 150
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
FIELDS_PER_SECTION = 10
MAX_BLOCKS = 50
FALLBACK_LIMIT = 3900
"""Slack shows at most about 4,000 characters of a message's `text` before truncating it."""

SAMPLE_NOTE = "SAMPLE DATA — synthetic prices, not market data"
TONE_MARK = {
    "buy": "🟢",
    "sell": "🔴",
    "neutral": "⚪",
    "info": "🔹",
    "warning": "⚠️",
    "error": "⚠️",
}

_BROADCAST = re.compile(r"@(everyone|here|channel)\b", re.IGNORECASE)
_WORD_JOINER = "\u2060"


def escape(text: str) -> str:
    """Text safe to show in any Slack text field: nothing in it can ping or link."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BROADCAST.sub(lambda match: "@" + _WORD_JOINER + match.group(1), text)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": _clip(escape(text), limit), "emoji": True}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _field_text(field: MessageField, limit: int) -> str:
    # The label is bold markup around escaped text; clipping the value keeps the markup intact.
    label = f"*{escape(field.label)}*\n"
    return label + _clip(escape(field.value), max(1, limit - len(label)))


def _code_chunks(body: str) -> list[str]:
    """The body as ``` blocks, split on line boundaries to fit Slack's section limit."""
    room = SECTION_LIMIT - 8
    chunks: list[str] = []
    current = ""
    for line in escape(body).splitlines():
        line = _clip(line, room)
        if current and len(current) + 1 + len(line) > room:
            chunks.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        chunks.append(current)
    return [f"```{chunk}```" for chunk in chunks]


def title_line(message: Message) -> str:
    mark = TONE_MARK.get(message.tone, "")
    sample = "[SAMPLE] " if message.sample else ""
    return f"{mark} {sample}{message.title}".strip()


def blocks(message: Message) -> list[dict[str, Any]]:
    """Header, summary, fields, the preformatted body, then a context footer."""
    out: list[dict[str, Any]] = [
        *(
            [{"type": "section", "text": _mrkdwn(f":warning: *{escape(message.notice)}*")}]
            if message.notice
            else []
        ),
        {"type": "header", "text": _plain(title_line(message), HEADER_LIMIT)},
        {"type": "section", "text": _mrkdwn(_clip(escape(message.summary), SECTION_LIMIT))},
    ]
    inline = [f for f in message.fields if f.inline]
    for start in range(0, len(inline), FIELDS_PER_SECTION):
        group = inline[start : start + FIELDS_PER_SECTION]
        out.append(
            {
                "type": "section",
                "fields": [_mrkdwn(_field_text(f, FIELD_LIMIT)) for f in group],
            }
        )
    for field in message.fields:
        if not field.inline:
            out.append({"type": "section", "text": _mrkdwn(_field_text(field, SECTION_LIMIT))})
    if message.body:
        out.extend({"type": "section", "text": _mrkdwn(c)} for c in _code_chunks(message.body))
    context = []
    if message.sample:
        context.append(_mrkdwn(f":warning: *{SAMPLE_NOTE}*"))
    if message.footer:
        context.append(_mrkdwn(_clip(escape(message.footer), SECTION_LIMIT)))
    if context:
        out.append({"type": "context", "elements": context})
    if len(out) > MAX_BLOCKS:
        out = [*out[: MAX_BLOCKS - 1], {"type": "section", "text": _mrkdwn("…(truncated)")}]
    return out


def fallback_text(message: Message) -> str:
    """The notification and screen-reader text: the neutral plain text, escaped."""
    text = message.to_text()
    if message.chart_path:
        # The local chart path means nothing to a reader; the chart follows as an upload.
        text = "\n".join(line for line in text.splitlines() if not line.startswith("chart: "))
    return _clip(escape(text), FALLBACK_LIMIT)


def reply_payload(message: Message) -> dict[str, Any]:
    """Arguments for bolt's `respond()` / `chat.postMessage` answering a slash command."""
    return {
        "text": fallback_text(message),
        "blocks": blocks(message),
        "response_type": "ephemeral" if message.ephemeral else "in_channel",
    }
