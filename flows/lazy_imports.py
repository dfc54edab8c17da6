"""Heavy libraries, imported where they are used and no heavier than needed.

Start-up weight matters for a CLI: `flows-bot status` should not pay for libraries it does not
use (see bench/bench_startup.py). Import these inside the function that needs them.
"""

from __future__ import annotations

import sys
from typing import Any


def arch_model() -> Any:
    """`arch.arch_model`, imported without matplotlib.

    arch's univariate base module imports matplotlib (about 0.2 s) only to check its version
    for plotting, inside `try/except ImportError`; the GARCH fit never draws. Hiding matplotlib
    for the length of the import skips it; charts that import matplotlib later get it normally.
    """
    if "arch" in sys.modules or "matplotlib" in sys.modules:
        from arch import arch_model as model

        return model
    sys.modules["matplotlib"] = None  # type: ignore[assignment]  # makes `import` raise
    try:
        from arch import arch_model as model
    finally:
        del sys.modules["matplotlib"]
    return model
