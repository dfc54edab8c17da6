"""The CLI through its real entry point, offline: shared by the per-command test modules.

`offline_settings` is an autouse fixture for the module that imports it: sample data, a SQLite
file and charts under the test's tmp_path, nothing in the working tree."""

from __future__ import annotations

import pytest

from bot.cli import main


@pytest.fixture(autouse=True)
def offline_settings(monkeypatch, tmp_path):
    from bot.settings import get_settings

    monkeypatch.setenv("DATA_SOURCE", "sample")
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'flows-bot.db'}")
    monkeypatch.setenv("CHART_DIR", str(tmp_path / "charts"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def run(capsys, *argv: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of `flows-bot ARGV` (argparse's usage errors included)."""
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, out: str, err: str, *needles: str) -> None:
    """Bad input: exit code 2, nothing on stdout, one line on stderr naming each needle."""
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    for needle in needles:
        assert needle in err, err
