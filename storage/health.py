"""A database check that changes nothing, for `flows-bot doctor`: is the file a sound database,
is its schema at the code's migration head, can this process write to it, is it locked?

SQLite files are opened read-only (`mode=ro`) so a corrupt or foreign file is never touched;
other databases are checked through a normal connection (a version read and a rolled-back
transaction)."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from storage.database import normalize_database_url
from storage.errors import classify, database_path
from storage.migrate import current_revision, head_revision


@dataclass
class DatabaseHealth:
    where: str
    exists: bool = True
    integrity: str | None = None
    """'ok', or what the integrity check found; None when not checked."""
    revision: str | None = None
    head: str = field(default_factory=head_revision)
    writable: bool | None = None
    locked: bool | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def at_head(self) -> bool:
        return self.revision == self.head


async def check_database(url: str) -> DatabaseHealth:
    url = normalize_database_url(url)
    parsed = make_url(url)
    where = database_path(parsed)
    if parsed.get_backend_name() != "sqlite":
        return await _check_server(url, where)
    health = DatabaseHealth(where)
    path = Path(where).expanduser()
    if where in (":memory:", "") or not path.exists():
        health.exists = False
        directory = path.parent if where else Path.cwd()
        health.writable = os.access(directory if directory.exists() else Path.cwd(), os.W_OK)
        return health
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1.0)
    except sqlite3.Error as exc:
        health.problems.append(str(classify(exc, where) or exc))
        return health
    try:
        try:
            rows = connection.execute("PRAGMA quick_check").fetchall()
            health.integrity = "ok" if rows == [("ok",)] else "; ".join(r[0] for r in rows[:3])
            tables = {
                name
                for (name,) in connection.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                )
            }
            if "alembic_version" in tables:
                row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
                health.revision = row[0] if row else None
        except sqlite3.DatabaseError as exc:
            mapped = classify(exc, where)
            health.integrity = str(exc)
            if mapped is not None and mapped.transient:
                health.integrity = None
                health.locked = True
            return health
    finally:
        connection.close()
    health.writable = os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
    if health.writable:
        health.locked = _is_locked(path)
    return health


def _is_locked(path: Path) -> bool:
    """Whether another process holds the write lock: take it and let go, writing nothing."""
    connection = sqlite3.connect(path, timeout=0.5, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        return "locked" in str(exc).lower()
    finally:
        connection.close()


async def _check_server(url: str, where: str) -> DatabaseHealth:
    health = DatabaseHealth(where)
    try:
        health.revision = await current_revision(url)
        health.integrity = "ok"
        health.writable = True
        health.locked = False
    except Exception as exc:
        health.problems.append(f"{type(exc).__name__}: {exc}".splitlines()[0])
    return health
