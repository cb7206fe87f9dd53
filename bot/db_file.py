"""Opening the whoknows database named on the command line, or saying in one line why not.

`open_store(path, create=...)` checks the file before `data.store.Store` touches it: a
folder, a file that is not an SQLite database (its first 16 bytes say so), an SQLite
database of something else, or (unless the command may create one) a missing or empty file
are refused with a `DatabaseFileError`, whose message is one line for the user. So a
mistyped `--db` is an error, not a new empty database, and a command that only reads never
creates one. Errors raised while opening (a corrupt file, a locked one, a schema from a
newer release) become the same one-line error.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from data.store import Store

# The first 16 bytes of every SQLite 3 database file.
SQLITE_HEADER = b"SQLite format 3\x00"
MEMORY = ":memory:"


class DatabaseFileError(Exception):
    """The database cannot be opened; the message is one line, for the user."""


def check_db_file(path: str | Path, create: bool) -> None:
    """Raise DatabaseFileError unless `path` is a whoknows database, or (with `create`)
    missing, empty or an empty SQLite database, so that Store may make one there."""
    if str(path) == MEMORY:
        return
    path = Path(path)
    try:
        if path.is_dir():
            raise DatabaseFileError(f"{path} is a folder, not a whoknows database (check --db)")
        if not path.exists():
            if create:
                return
            raise DatabaseFileError(
                f"no whoknows database at {path} (import a directory first, or check --db)"
            )
        if not path.is_file():  # a device or a pipe: reading it could block or never end
            raise DatabaseFileError(f"{path} is not a file, so not a whoknows database")
        with path.open("rb") as file:
            header = file.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise DatabaseFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not header:
        if create:
            return
        raise DatabaseFileError(
            f"{path} is an empty file, not a whoknows database (import a directory first, "
            "or check --db)"
        )
    if header != SQLITE_HEADER:
        raise DatabaseFileError(
            f"{path} is not a whoknows database (not an SQLite file; check --db)"
        )
    tables = _tables(path)
    if tables and "meta" not in tables:
        raise DatabaseFileError(
            f"{path} is an SQLite database, but not a whoknows one (check --db)"
        )


def open_store(path: str | Path, create: bool) -> Store:
    """A Store on `path` after `check_db_file`; DatabaseFileError (one line) if the file
    is refused or opening it fails."""
    check_db_file(path, create)
    try:
        return Store(path)
    except sqlite3.DatabaseError as exc:  # corrupt, locked, unreadable...
        raise DatabaseFileError(f"cannot open the database {path}: {one_line(exc)}") from None
    except OSError as exc:  # e.g. its folder cannot be made
        raise DatabaseFileError(f"cannot open the database {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        if not is_schema_error(exc):
            raise
        message = one_line(exc)
        raise DatabaseFileError(message if str(path) in message else f"{path}: {message}") from None


def is_schema_error(exc: BaseException) -> bool:
    """Whether `exc` is a `data.migrations.SchemaError` (a database from a newer release,
    or one whose schema cannot be brought up to date), recognised by its class name so
    that this works whether or not that module exists in this release."""
    return any(cls.__name__ == "SchemaError" for cls in type(exc).__mro__)


def one_line(exc: BaseException) -> str:
    """An exception's message with its line breaks folded into spaces."""
    return " ".join(str(exc).split()) or type(exc).__name__


def _tables(path: Path) -> set[str]:
    """The tables of an SQLite file, read without writing anything (not even a journal)."""
    uri = path.resolve().as_uri() + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True)
        try:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise DatabaseFileError(f"cannot open the database {path}: {one_line(exc)}") from None
    return {name for (name,) in rows}
