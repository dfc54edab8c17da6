"""Analytics benchmarks (issue 2, section 8).

    .venv/bin/python bench/bench_analytics.py

1. `flows-bot status BTC --source sample`, end to end: the first call in a fresh process (imports,
   NYSE calendar, sample data, GARCH fit included) and warm calls after it.
2. 1,000 fixed-weight funds x 10 years of daily data, the aggregate rebalancing trade for every
   NYSE session with flows.rebalance.aggregate_trade_path (target: well under 1 s).

Start-up time (`--help`, `status`, `calendar`) and what each command imports are measured by
bench/bench_startup.py.

Timings are best and median of several rounds, since shared machines are noisy; missed time
targets are printed as MISSED.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PATH_TARGET_S = 1.0
PATH_ROUNDS = 5
N_FUNDS = 1000
YEARS = 10


def cli_command() -> list[str]:
    script = Path(sys.executable).with_name("flows-bot")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())"]


def line(label: str, value: str, verdict: str = "") -> None:
    print(f"  {label:<58} {value:>22}  {verdict}")


def seconds(values: list[float]) -> str:
    return f"best {min(values):.3f} s  median {statistics.median(values):.3f} s"


# --- 1. status on sample data ---------------------------------------------------------------------

STATUS_PROBE = r"""
import contextlib, io, json, sys, time
t0 = time.perf_counter()
from bot.cli import main
def run():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["status", "BTC", "--source", "sample", "--json"])
    assert code == 0, code
    return json.loads(out.getvalue())
report = run()
first = time.perf_counter() - t0
warm = []
for _ in range(3):
    t = time.perf_counter()
    run()
    warm.append(time.perf_counter() - t)
from flows.marketdata.sample import sample_bars
from flows.volatility import garch_forecast
from flows.status import HISTORY_DAYS
closes = sample_bars("BTC")["close"].iloc[-HISTORY_DAYS:]  # what a status fits on
garch = []
for _ in range(3):
    t = time.perf_counter()
    garch_forecast(closes, 365)
    garch.append(time.perf_counter() - t)
print(json.dumps({"first": first, "warm": warm, "garch": garch,
                  "garch_5d": report["volatility"]["garch_5d"],
                  "sample": report["sample"], "as_of": report["as_of"]}))
"""


def bench_status() -> None:
    print("1. status BTC on sample data (end to end, GARCH included)")
    with tempfile.TemporaryDirectory() as workdir:
        probe = subprocess.run(
            [sys.executable, "-c", STATUS_PROBE],
            capture_output=True,
            text=True,
            cwd=workdir,
            check=False,
        )
        if probe.returncode != 0:
            print(probe.stderr)
            raise SystemExit("status probe failed")
        figures = json.loads(probe.stdout.strip().splitlines()[-1])
        line("first call in a fresh process (imports included)", f"{figures['first']:.3f} s")
        line("warm call (same process)", seconds(figures["warm"]))
        line("  of which one GARCH(1,1) fit + 5-day forecast", seconds(figures["garch"]))
        line("  (the first call's cost is mostly importing arch/scipy/statsmodels)", "")
        line("garch_5d / as_of / sample", f"{figures['garch_5d']:.3f} {figures['as_of']}")
        walls = []
        for _ in range(2):
            start = time.perf_counter()
            done = subprocess.run(
                [*cli_command(), "status", "BTC", "--source", "sample"],
                capture_output=True,
                text=True,
                cwd=workdir,
                check=False,
            )
            walls.append(time.perf_counter() - start)
            assert done.returncode == 0 and "SAMPLE DATA" in done.stdout, done.stderr
        line("`flows-bot status BTC --source sample` wall time", seconds(walls))
    print()


# --- 2. 1,000 funds x 10 years ----------------------------------------------------------------


def build_universe():
    import numpy as np
    import pandas as pd

    from flows import calendar
    from flows.funds import RebalancingFund

    rng = np.random.default_rng(20240401)
    last = dt.date(2024, 12, 31)
    first = dt.date(last.year - YEARS + 1, 1, 1)  # 2015-01-01 .. 2024-12-31
    every_day = pd.date_range(first - dt.timedelta(days=120), last, freq="D")
    sessions = pd.DatetimeIndex(calendar.sessions_between(first, last))
    specs = {"BTC": 0.035, "ETH": 0.045, "SPY": 0.011, "QQQ": 0.014, "AGG": 0.003, "TLT": 0.009}
    columns = {}
    for symbol, daily_vol in specs.items():
        path = 100.0 * np.exp(np.cumsum(rng.normal(0.0002, daily_vol, len(every_day))))
        series = pd.Series(path, index=every_day)
        if symbol not in ("BTC", "ETH"):
            series[~every_day.isin(sessions)] = np.nan  # equities trade on NYSE sessions only
        columns[symbol] = series
    closes = pd.DataFrame(columns)
    symbols = np.array(list(specs))
    funds = []
    for number in range(N_FUNDS):
        held = rng.choice(symbols, size=int(rng.integers(2, len(symbols) + 1)), replace=False)
        raw = rng.uniform(0.05, 1.0, len(held))
        funds.append(
            RebalancingFund(
                name=f"fund {number}",
                aum_usd=float(rng.uniform(1e8, 5e10)),
                rebalance="monthly" if rng.random() < 0.4 else "quarterly",
                aum_source="benchmark",
                weights=dict(zip(held.tolist(), (raw / raw.sum()).tolist(), strict=True)),
            )
        )
    return closes, funds, sessions


def bench_trade_path() -> None:
    import numpy as np

    from flows.rebalance import aggregate_trade_path, estimate_rebalance

    print(f"2. {N_FUNDS:,} funds x {YEARS} years, aggregate rebalancing trade for every session")
    closes, funds, sessions = build_universe()
    monthly = sum(fund.rebalance == "monthly" for fund in funds)
    line("sessions x symbols", f"{len(sessions)} x {closes.shape[1]}")
    line("funds (monthly / quarterly)", f"{monthly} / {len(funds) - monthly}")
    timings = []
    for _ in range(PATH_ROUNDS):
        start = time.perf_counter()
        path = aggregate_trade_path(funds, closes, sessions)
        timings.append(time.perf_counter() - start)
    verdict = "OK" if statistics.median(timings) < PATH_TARGET_S else "MISSED"
    line("aggregate_trade_path", seconds(timings), f"target < {PATH_TARGET_S} s: {verdict}")
    fund_days = len(funds) * len(sessions)
    line("fund-days per second (median)", f"{fund_days / statistics.median(timings):,.0f}")
    # The vectorized path must agree with the one-fund-at-a-time estimate.
    day = sessions[len(sessions) // 2]
    series = {symbol: closes[symbol].dropna() for symbol in closes}
    for symbol in ("BTC", "SPY"):
        holders = [fund for fund in funds if symbol in fund.weights]
        expected = estimate_rebalance(symbol, day.date(), holders, series, None).trade_usd
        assert np.isclose(path.loc[day, symbol], expected, rtol=1e-9, atol=1e-3)
    line(f"check vs estimate_rebalance on {day.date()}", "agrees")
    print()


def main() -> int:
    print(f"flows-bot analytics benchmark — Python {sys.version.split()[0]}\n")
    bench_status()
    bench_trade_path()
    return 0


if __name__ == "__main__":
    sys.exit(main())
