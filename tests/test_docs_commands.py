"""Every `flows-bot …` command shown in README.md and docs/*.md still parses and exits 0.

Commands are taken from ```sh / ```shell / ```bash / ```console / ```text blocks: lines starting
with `flows-bot`, `$ flows-bot` or `.venv/bin/flows-bot` (a trailing backslash continues the
line). Each runs in this process against the sample data: `--source X` becomes `--source sample`
and is added where the command takes one, and the database, chart and cache directories point
at a temporary directory, so nothing touches the network or the working directory. `run` without
`--once` (the long-running bot) and usage synopses (`[--as-of DATE]`, `…`) are not run.

Pages added later (another model's docs/*.md) are picked up as they are: nothing here lists them.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
SHELL_BLOCKS = {"sh", "shell", "bash", "console", "text", "shell-session"}
PREFIXES = ("$ ", ".venv/bin/", "$ .venv/bin/")
FENCE = re.compile(r"^\s*(```|~~~)\s*([\w-]*)")


@dataclass(frozen=True)
class DocCommand:
    path: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text}"


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def commands_in(path: Path) -> list[DocCommand]:
    found: list[DocCommand] = []
    fence: str | None = None
    runnable = False
    pending: tuple[int, str] | None = None
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = FENCE.match(raw)
        if match:
            if fence is None:
                fence, runnable = match.group(1), match.group(2).lower() in SHELL_BLOCKS
            elif match.group(1) == fence:
                fence, pending = None, None
            continue
        if fence is None or not runnable:
            continue
        line = raw.strip()
        if pending is not None:
            start, text = pending
            text = f"{text} {line.rstrip(chr(92)).strip()}"
            pending = (start, text) if line.endswith("\\") else None
            if pending is None:
                found.append(DocCommand(path.name, start, text))
            continue
        for prefix in PREFIXES:
            if line.startswith(prefix):
                line = line[len(prefix) :]
        line = line.removeprefix(".venv/bin/")
        if not line.startswith("flows-bot ") and line != "flows-bot":
            continue
        if line.endswith("\\"):
            pending = (number, line.rstrip("\\").strip())
        else:
            found.append(DocCommand(path.name, number, line))
    return found


def is_synopsis(tokens: list[str]) -> bool:
    return any(
        token.startswith("[") or token.endswith("]") or token in ("…", "...") for token in tokens
    )


def _options_of(command: str) -> set[str]:
    parser = build_parser()
    for action in parser._subparsers._group_actions:  # argparse lists sub-commands only here
        choice = action.choices.get(command)
        if choice is not None:
            return {option for a in choice._actions for option in a.option_strings}
    return set()


def argv_for(command: DocCommand) -> list[str] | None:
    """The arguments to run, or None when the line is not meant to be run."""
    tokens = shlex.split(command.text, comments=True)[1:]
    for stop in ("|", ">", "2>", "&&", ";"):
        if stop in tokens:
            tokens = tokens[: tokens.index(stop)]
    if is_synopsis(tokens):
        return None
    if tokens and tokens[0] == "run" and "--once" not in tokens:
        return None
    argv: list[str] = []
    skip = False
    for token in tokens:
        if skip:
            skip = False
            continue
        if token == "--source":
            skip = True
            continue
        if token.startswith("--source="):
            continue
        argv.append(token)
    if argv and not argv[0].startswith("-") and "--source" in _options_of(argv[0]):
        argv += ["--source", "sample"]
    return argv


ALL_COMMANDS = [command for path in doc_files() for command in commands_in(path)]


def test_the_docs_show_commands_to_run():
    """Guard against a parser that finds nothing (and so passes)."""
    runnable = [c for c in ALL_COMMANDS if argv_for(c) is not None]
    assert len(runnable) >= 8
    assert {c.path for c in runnable} >= {"README.md", "json.md", "models.md"}


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    from bot.settings import get_settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_SOURCE", "sample")
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'docs.db'}")
    monkeypatch.setenv("CHART_DIR", str(tmp_path / "charts"))
    monkeypatch.setenv("CACHE_DIR", str(tmp_path / "cache"))
    for name in (
        "FUNDS_FILE",
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "SLACK_SIGNING_SECRET",
        "DISCORD_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=str)
def test_documented_command_runs_on_sample_data(command, isolated, capsys):
    argv = argv_for(command)
    if argv is None:
        pytest.skip("a usage synopsis or the long-running bot")
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: the line no longer parses (or --help)
        code = exc.code
    out, err = capsys.readouterr()
    assert code in (0, None), f"{command}\n→ flows-bot {' '.join(argv)}\nexit {code}: {err}"
    assert out.strip(), f"{command}: printed nothing"
