"""A file cache of the NYSE session table, so a command does not rebuild it in every process.

Building the XNYS calendar with exchange_calendars costs about 0.3 s (plus 0.1 s importing it);
loading the same table from a .npy file costs about a millisecond. The file name carries the
exchange_calendars version and the span, so a new release (new holidays) or a new year builds a
fresh table. Any problem with the cache (unwritable directory, damaged file) only costs the
rebuild; it never changes a result.
"""

from __future__ import annotations

import logging
import os
from importlib import metadata
from pathlib import Path

import numpy as np

from flows import calendar

log = logging.getLogger(__name__)


def cache_file(cache_dir: Path) -> Path:
    try:
        version = metadata.version("exchange_calendars")
    except metadata.PackageNotFoundError:
        version = "unknown"
    first, last = calendar.session_span()
    return cache_dir / f"xnys-sessions-{version}-{first}-{last}.npy"


def prime_calendar(cache_dir: Path) -> bool:
    """Load the session table from `cache_dir`, or build and store it; True when loaded."""
    path = cache_file(cache_dir)
    try:
        calendar.use_sessions(np.load(path, allow_pickle=False))
        return True
    except (OSError, ValueError) as exc:
        if path.exists():
            log.debug("calendar cache %s unusable (%s); rebuilding", path, exc)
    sessions = calendar.compute_sessions()
    calendar.use_sessions(sessions)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        with partial.open("wb") as handle:
            np.save(handle, sessions, allow_pickle=False)
        partial.replace(path)  # atomic: a concurrent reader never sees half a file
    except OSError as exc:
        log.debug("calendar cache %s not written: %s", path, exc)
    return False
