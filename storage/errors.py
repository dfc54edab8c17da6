"""The storage layer's own errors: what went wrong with the database, in one line a person can act
on, mapped from the driver's exceptions at the engine (see `install_error_mapping`).

- `DatabaseCorrupt`: the file is not a database or is damaged. Nothing is written to it.
- `DatabaseReadOnly`: the file (or its directory) cannot be written.
- `DatabaseLocked`: another process holds the write lock past the busy timeout. Transient: a
  long-running bot retries; a one-shot command reports it and exits.
- `TransactionConflict` (PostgreSQL): the server rolled the transaction back to break a
  deadlock or a serialization conflict with another one. Transient: the work is done again.

Every one carries `path` (the database file, or the masked URL) and says what to do. The CLI
prints the message on one line and exits with code 2.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine


class StorageError(Exception):
    """A database problem a person has to fix (or, for `DatabaseLocked`, wait out)."""

    transient = False

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path


class DatabaseCorrupt(StorageError):
    pass


class DatabaseReadOnly(StorageError):
    pass


class DatabaseLocked(StorageError):
    transient = True


class TransactionConflict(StorageError):
    transient = True


class DatabaseUnreachable(StorageError):
    """The database server cannot be reached or refuses us (bad password, unknown database); the
    message names where it is, never the password."""


_CONNECT_REFUSALS = frozenset(
    {
        "InvalidPasswordError",
        "InvalidAuthorizationSpecificationError",
        "InvalidCatalogNameError",
        "ConnectionDoesNotExistError",
        "CannotConnectNowError",
    }
)


def is_connection_refusal(error: BaseException) -> bool:
    """Errors of the server saying no at connect time: bad password, unknown role or database."""
    names = {type(error).__name__, type(getattr(error, "orig", None)).__name__}
    cause = error.__cause__
    while cause is not None:
        names.add(type(cause).__name__)
        cause = cause.__cause__
    return bool(names & _CONNECT_REFUSALS)


_CORRUPT = ("file is not a database", "database disk image is malformed", "malformed database")
_READ_ONLY = (
    "attempt to write a readonly database",
    "readonly database",
    "unable to open database",
)
_LOCKED = ("database is locked", "database table is locked")
_CONFLICT = ("deadlock detected", "could not serialize access")


def database_path(url: Any) -> str:
    """The file of a SQLite URL; the masked URL otherwise."""
    parsed = make_url(str(url)) if not hasattr(url, "get_backend_name") else url
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return str(parsed.database)
    return parsed.render_as_string(hide_password=True)


def classify(error: BaseException, path: str) -> StorageError | None:
    """The storage error a driver exception stands for, or None when it is none of ours."""
    text = str(getattr(error, "orig", None) or error).lower()
    if any(marker in text for marker in _CORRUPT):
        return DatabaseCorrupt(
            f"the database file {path} is corrupt or not a flows-bot database ({text}); "
            "restore it from a backup or move it away to start with an empty one "
            "(the file was left untouched)",
            path,
        )
    if any(marker in text for marker in _READ_ONLY):
        return DatabaseReadOnly(
            f"the database file {path} cannot be written ({text}); make the file and its "
            "directory writable by this user, or point DATABASE_URL at a writable location "
            "(the file was left untouched)",
            path,
        )
    if any(marker in text for marker in _CONFLICT):
        return TransactionConflict(
            f"the database at {path} rolled a transaction back ({text.splitlines()[0]}); "
            "it is retried",
            path,
        )
    if any(marker in text for marker in _LOCKED):
        return DatabaseLocked(
            f"the database file {path} is locked by another process ({text}); stop the other "
            "flows-bot (or whatever holds it) and try again",
            path,
        )
    return None


def install_error_mapping(engine: AsyncEngine, path: str) -> None:
    """Raise our errors instead of the driver's for every statement and connection attempt."""

    @event.listens_for(engine.sync_engine, "handle_error")
    def _map(context: Any) -> None:
        mapped = classify(context.original_exception, path)
        if mapped is not None:
            raise mapped from context.original_exception
