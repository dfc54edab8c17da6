"""Start-up weight of the CLI (issue 17, point 5).

    .venv/bin/python bench/bench_startup.py [--rounds N] [--top N]

Wall time of three commands, each in a fresh process, best and median of several rounds; a
target counts as met when the median is under it (the machine is shared, so the best is printed
too as the cleaner figure):

    flows-bot --help                         target < 0.15 s
    flows-bot status BTC --source sample     target < 1.5 s
    flows-bot calendar --source sample       target < 1.0 s

then the top `python -X importtime` entries (cumulative, self) of `status` and `calendar`, and
which heavy libraries each command loads. A text-only command must not load matplotlib, and
`--help` none of pandas, numpy, arch, scipy, ccxt, yfinance, sqlalchemy. Missed time targets are
printed as MISSED; a forbidden import makes the exit code 1.

The commands run the code of this checkout (PYTHONPATH is set to it), through the installed
`flows-bot` script next to the interpreter when there is one, else `python -m bot.cli`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS: list[tuple[str, list[str], float, tuple[str, ...]]] = [
    (
        "--help",
        ["--help"],
        0.15,
        ("pandas", "numpy", "arch", "scipy", "ccxt", "yfinance", "sqlalchemy", "matplotlib"),
    ),
    ("status BTC --source sample", ["status", "BTC", "--source", "sample"], 1.5, ("matplotlib",)),
    ("calendar --source sample", ["calendar", "--source", "sample"], 1.0, ("matplotlib", "arch")),
]
HEAVY = (
    "pandas",
    "numpy",
    "exchange_calendars",
    "arch",
    "scipy",
    "statsmodels",
    "matplotlib",
    "ccxt",
    "yfinance",
    "aiohttp",
    "sqlalchemy",
    "sqlmodel",
    "pydantic",
    "pydantic_settings",
)


def command_prefix() -> list[str]:
    script = Path(sys.executable).with_name("flows-bot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    # Settings that would change what the commands do (a live source, another fund file).
    for name in ("DATA_SOURCE", "FUNDS_FILE"):
        env.pop(name, None)
    return env


def library_versions() -> str:
    """The versions that decide the import weight (scipy 1.17 alone adds about 0.5 s)."""
    found = []
    for name in ("arch", "scipy", "statsmodels", "numpy", "pandas"):
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} missing")
    return ", ".join(found)


def wall_times(argv: list[str], rounds: int, env: dict[str, str]) -> list[float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        done = subprocess.run(
            [*command_prefix(), *argv], capture_output=True, text=True, env=env, cwd=ROOT
        )
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"flows-bot {' '.join(argv)} failed:\n{done.stderr}")
    return times


def parse_importtime(stderr: str) -> list[tuple[int, int, str]]:
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:"):
            continue
        parts = line[len("import time:") :].split("|")
        if len(parts) != 3 or not parts[0].strip().isdigit():
            continue
        rows.append((int(parts[1]), int(parts[0]), parts[2].strip()))
    return rows


def run_importtime(argv: list[str], env: dict[str, str]) -> list[tuple[int, int, str]]:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bot.cli", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    return parse_importtime(done.stderr)


_LOADED = (
    "import sys\n"
    "from bot.cli import main\n"
    "try:\n"
    "    main(sys.argv[1:])\n"
    "except SystemExit:\n"
    "    pass\n"
    "names = {m.split('.')[0] for m, v in list(sys.modules.items()) if v is not None}\n"
    "sys.stderr.write('LOADED ' + ' '.join(sorted(names)) + '\\n')\n"
)


def loaded_libraries(argv: list[str], env: dict[str, str]) -> set[str]:
    """Top-level packages really imported by one run (an import that was blocked and failed,
    as arch's optional matplotlib check is, does not count)."""
    done = subprocess.run(
        [sys.executable, "-c", _LOADED, *argv], capture_output=True, text=True, env=env, cwd=ROOT
    )
    for line in done.stderr.splitlines():
        if line.startswith("LOADED "):
            return set(line.split()[1:])
    raise SystemExit(f"could not list the modules of flows-bot {' '.join(argv)}:\n{done.stderr}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    env = environment()
    print(f"flows-bot start-up ({' '.join(command_prefix())}, {args.rounds} rounds, fresh process)")
    if hasattr(os, "getloadavg"):
        load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
        print(f"  machine: {os.cpu_count()} CPU(s), load average {load} (1, 5, 15 min)")
    print(f"  libraries: {library_versions()}")
    failed = False
    for label, argv, target, forbidden in COMMANDS:
        times = wall_times(argv, args.rounds, env)
        best, median = min(times), statistics.median(times)
        verdict = "ok" if median < target else "MISSED"
        print(
            f"  {label:<30} best {best:6.3f} s  median {median:6.3f} s  "
            f"target < {target:g} s  {verdict}"
        )
        rows = run_importtime(argv, env)
        loaded = loaded_libraries(argv, env)
        heavy = [name for name in HEAVY if name in loaded]
        print(f"    heavy libraries loaded: {', '.join(heavy) or 'none'}")
        bad = [name for name in forbidden if name in loaded]
        if bad:
            failed = True
            print(f"    FORBIDDEN for this command: {', '.join(bad)}")
        if argv[0] != "--help":
            print(f"    top {args.top} imports by cumulative time (python -X importtime):")
            for cumulative, self_us, name in sorted(rows, reverse=True)[: args.top]:
                print(
                    f"      {cumulative / 1e6:6.3f} s cumulative  {self_us / 1e6:6.3f} s self  "
                    f"{name}"
                )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
