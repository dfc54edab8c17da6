"""Drawing a chart off the event loop, the one way every reply and alert does it.

Light on purpose (no matplotlib, numpy or pandas here): the chart modules load on first use."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def chart_file(chart_dir: Path, name: str, result: Any) -> Path:
    """CHART_DIR/NAME-ASSET-DATE.png for a result with `asset` and `as_of`."""
    return chart_dir / f"{name}-{result.asset}-{result.as_of}.png"


async def draw_chart(draw: Callable[..., Path], *args: Any, what: str) -> Path | None:
    """`draw(*args)` in a worker thread (matplotlib blocks); a chart that fails costs the
    message its chart, never its numbers."""
    try:
        return await asyncio.to_thread(draw, *args)
    except Exception:
        log.exception("%s chart failed; the message goes without it", what)
        return None
