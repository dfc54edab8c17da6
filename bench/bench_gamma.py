"""Dealer-gamma benchmark (issue 14).

    .venv/bin/python bench/bench_gamma.py

A 10,000-contract chain (40 expiries × 125 strikes × calls and puts, random open interest and
skewed vols), timed through `flows.models.gamma.compute_gamma`: GEX per contract, walls,
per-expiry shares and the zero-gamma search on [0.5·S, 1.5·S] to 0.01 % of S. Target: under
50 ms, and at least 50× faster than a per-contract Python loop doing the same search (same grid
of spot levels, same Brent refinement, GEX summed contract by contract with `math`).

Timings are best and median of several rounds (shared machines are noisy); a missed target is
printed as MISSED and the exit code is 1.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import brentq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flows.models.gamma import (
    GRID_POINTS,
    SEARCH_HIGH,
    SEARCH_LOW,
    SEARCH_TOLERANCE,
    compute_gamma,
)
from flows.options import OptionChain

TARGET_MS = 50.0
TARGET_SPEEDUP = 50.0
ROUNDS = 15
AS_OF = dt.date(2025, 3, 3)
SPOT = 580.0
RATE = 0.04


def build_chain(n_expiries: int = 40, n_strikes: int = 125) -> OptionChain:
    rng = np.random.default_rng(14)
    strikes = np.linspace(0.6 * SPOT, 1.4 * SPOT, n_strikes).round(1)
    rows = []
    for number in range(n_expiries):
        expiry = AS_OF + dt.timedelta(days=1 + 7 * number)
        for kind, centre in (("call", 1.04), ("put", 0.95)):
            moneyness = strikes / SPOT
            oi = rng.integers(0, 5000, n_strikes) * np.exp(-(((moneyness - centre) / 0.1) ** 2))
            vol = 0.18 * (1 - 1.1 * np.log(moneyness)) * rng.uniform(0.95, 1.05, n_strikes)
            rows.append(
                pd.DataFrame(
                    {
                        "expiry": expiry.isoformat(),
                        "strike": strikes,
                        "type": kind,
                        "open_interest": np.round(oi) + 1,
                        "implied_vol": vol,
                        "multiplier": 100.0,
                    }
                )
            )
    frame = pd.concat(rows, ignore_index=True)
    return OptionChain.from_frame(
        frame, asset="SPY", as_of=AS_OF, source="bench", description="synthetic bench chain"
    )


def loop_total_gex(chain: OptionChain, spot: float) -> float:
    """Total GEX at `spot`, one contract at a time."""
    total = 0.0
    as_of = np.datetime64(AS_OF, "D")
    for i in range(len(chain)):
        days = int((chain.expiry[i] - as_of).astype(int))
        if days <= 0:
            continue
        years = days / 365.0
        vol = float(chain.implied_vol[i])
        root = vol * math.sqrt(years)
        d1 = (math.log(spot / chain.strike[i]) + (RATE + 0.5 * vol * vol) * years) / root
        gamma = math.exp(-0.5 * d1 * d1) / (math.sqrt(2 * math.pi) * spot * root)
        sign = 1.0 if chain.is_call[i] else -1.0
        total += sign * gamma * chain.open_interest[i] * chain.multiplier[i] * spot * spot * 0.01
    return total


def loop_zero_gamma(chain: OptionChain, spot: float) -> float | None:
    levels = np.linspace(SEARCH_LOW * spot, SEARCH_HIGH * spot, GRID_POINTS)
    curve = [loop_total_gex(chain, float(x)) for x in levels]
    brackets = [i for i in range(len(levels) - 1) if curve[i] * curve[i + 1] < 0]
    if not brackets:
        return None
    roots = [
        brentq(
            lambda x: loop_total_gex(chain, x),
            levels[i],
            levels[i + 1],
            xtol=SEARCH_TOLERANCE * spot * 0.5,
        )
        for i in brackets
    ]
    return min(roots, key=lambda x: abs(x - spot))


def main() -> int:
    chain = build_chain()
    print(f"chain: {len(chain):,} contracts, {len(set(chain.expiry.tolist()))} expiries")
    compute_gamma(chain, SPOT, RATE)  # warm-up (first numpy/scipy calls)
    timings = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        result = compute_gamma(chain, SPOT, RATE)
        timings.append((time.perf_counter() - start) * 1000)
    best, median = min(timings), statistics.median(timings)
    print(
        f"vectorised compute_gamma (GEX, walls, expiries, zero-gamma search): "
        f"best {best:.1f} ms, median {median:.1f} ms over {ROUNDS} rounds "
        f"[target < {TARGET_MS:.0f} ms: {'ok' if median < TARGET_MS else 'MISSED'}]"
    )
    start = time.perf_counter()
    loop_flip = loop_zero_gamma(chain, SPOT)
    loop_gex = loop_total_gex(chain, SPOT)
    loop_ms = (time.perf_counter() - start) * 1000
    speedup = loop_ms / median
    print(f"per-contract Python loop (same grid and refinement): {loop_ms:,.0f} ms")
    print(
        f"speed-up: {speedup:,.0f}x "
        f"[target >= {TARGET_SPEEDUP:.0f}x: {'ok' if speedup >= TARGET_SPEEDUP else 'MISSED'}]"
    )
    print(
        f"same answer: GEX {result.gex_usd_per_pct:,.0f} vs {loop_gex:,.0f} USD per 1%; "
        f"zero gamma {result.zero_gamma} vs {loop_flip}"
    )
    agree = math.isclose(result.gex_usd_per_pct, loop_gex, rel_tol=1e-9) and (
        (result.zero_gamma is None and loop_flip is None)
        or abs((result.zero_gamma or 0) - (loop_flip or 0)) <= SEARCH_TOLERANCE * SPOT
    )
    ok = median < TARGET_MS and speedup >= TARGET_SPEEDUP and agree
    if not agree:
        print("MISMATCH between the vectorised model and the loop")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
