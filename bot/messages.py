"""The platform-neutral message every reply and alert is built as; adapters only map it."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

Tone = Literal["buy", "sell", "neutral", "info", "warning", "error"]


class MessageField(BaseModel):
    model_config = ConfigDict(frozen=True)

    label: str
    value: str
    inline: bool = True


class Message(BaseModel):
    """Title, one summary line, labelled fields, optional preformatted body and chart.

    All text here is plain: adapters escape it for their platform (so user text can never turn
    into a mention) and add their own markup.
    """

    model_config = ConfigDict(frozen=True)

    title: str
    summary: str
    notice: str | None = None
    """One line every rendering shows first (stale data: "data ends Fri 2025-09-26 — 434 days
    ago")."""
    fields: list[MessageField] = []
    body: str | None = None
    """Preformatted block (a table); rendered monospace."""
    footer: str | None = None
    """Basis and provenance: funds, AUM, data source; SAMPLE DATA when relevant."""
    chart_path: Path | None = None
    tone: Tone = "info"
    sample: bool = False
    ephemeral: bool = False
    """A reply only the asker needs to see (errors, help) where the platform supports it."""

    def to_text(self) -> str:
        """Plain-text rendering: the console, and every platform's notification fallback."""
        lines = []
        if self.notice:
            lines.append(self.notice)
        if self.sample:
            lines.append("[SAMPLE DATA]")
        lines.append(self.title)
        lines.append(self.summary)
        for field in self.fields:
            lines.append(f"  {field.label}: {field.value}")
        if self.body:
            lines.append(self.body)
        if self.footer:
            lines.append(self.footer)
        if self.chart_path:
            lines.append(f"chart: {self.chart_path}")
        return "\n".join(lines)

    def to_storage(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_storage(cls, payload: str) -> Message:
        return cls.model_validate_json(payload)


def error_message(text: str) -> Message:
    return Message(title="flows-bot", summary=text, tone="error", ephemeral=True)
