"""Copies of the database made through SQLite's online backup API, and restoring one.

The bot keeps the database in WAL mode, so the main file alone is not the database (recent
commits may still be in `<db>-wal`) and copying files while the bot runs can copy a torn
state. The backup API reads one consistent snapshot through SQLite itself, while the bot
goes on writing. A backup is written to a temporary file beside its destination, checked,
flushed to disk and renamed into place, so a crash never leaves half a backup under the
final name. The copy is a plain rollback-journal database: one self-contained file.

This module knows nothing of the Store, so that the migrations can use it before any
query runs; it reads the schema version straight from the `meta` table.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from data.files import fsync_directory, fsync_file

# The tables whose row counts a backup reports (those that exist), in this order.
REPORTED_TABLES = (
    "people",
    "contacts",
    "knowledge",
    "vectors",
    "questions",
    "asks",
    "answers",
    "outbox",
)


class DatabaseInUse(RuntimeError):
    """Another connection has the database open (the bot, or another whoknows command)."""


@dataclass(frozen=True)
class BackupReport:
    """What a backup (or a restore) wrote."""

    path: Path
    size: int  # bytes
    schema_version: int | None  # None: no whoknows meta table
    rows: dict[str, int] = field(default_factory=dict)  # of REPORTED_TABLES that exist

    def summary(self) -> str:
        """One line: where, how big, which schema, how many rows."""
        version = f"schema v{self.schema_version}"
        if self.schema_version is None:
            version = "no schema version"
        counts = ", ".join(f"{table} {n}" for table, n in self.rows.items())
        return f"{self.path} ({_size(self.size)}, {version})" + (f": {counts}" if counts else "")


def online_backup(
    source: str | Path | sqlite3.Connection, dest: str | Path, overwrite: bool = False
) -> BackupReport:
    """Copy the database `source` (a path, or an open connection not inside a transaction)
    to the file `dest` through the online backup API, safely while others write to it.

    Raises FileExistsError if `dest` exists and not `overwrite`, FileNotFoundError if a
    source path does not exist (it is never created), sqlite3.DatabaseError if the copy
    does not pass SQLite's quick check (nothing is left under `dest` then)."""
    dest = Path(dest)
    if dest.exists() and not overwrite:
        raise FileExistsError(f"{dest} exists (use --force to replace it)")
    if isinstance(source, sqlite3.Connection):
        conn, own = source, False
    else:
        if not Path(source).is_file():
            raise FileNotFoundError(f"{source}: no such database file")
        conn, own = _connect(source), True
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        copy = sqlite3.connect(tmp, isolation_level=None)
        try:
            # All pages in one step: one read snapshot of the source, which writers in
            # WAL mode do not wait for (a stepwise copy would restart on every write).
            conn.backup(copy)
            copy.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
            check = copy.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise sqlite3.DatabaseError(f"the copy of the database is damaged: {check}")
            version, rows = describe(copy)
        finally:
            copy.close()
        fsync_file(tmp)
        os.replace(tmp, dest)
        fsync_directory(dest.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        if own:
            conn.close()
    return BackupReport(dest, dest.stat().st_size, version, rows)


def restore(backup: str | Path, db: str | Path, keep: str | Path | None) -> BackupReport:
    """Replace the database `db` with the backup file `backup`, through the backup API.

    The backup must be a sound SQLite file. `db` must not be open anywhere (stop the bot
    first): the restore takes SQLite's exclusive lock for the whole copy, and raises
    DatabaseInUse without changing anything if it cannot. Unless `keep` is None, the
    current `db` is first saved there (an online backup), so a restore can be undone.
    Writing through SQLite (not copying files) leaves no stale `-wal`/`-shm` beside it.
    Returns what `db` now holds; the next start upgrades its schema if it is older."""
    backup, db = Path(backup), Path(db)
    if not backup.is_file():
        raise FileNotFoundError(f"{backup}: no such backup file")
    source = sqlite3.connect(f"file:{backup}?mode=ro", uri=True, isolation_level=None)
    try:
        check = source.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise sqlite3.DatabaseError(f"{backup} is damaged: {check}")
        if not db.exists():
            source.close()
            return online_backup(backup, db)
        target = sqlite3.connect(db, isolation_level=None, timeout=0.2)
        try:
            _lock_exclusively(target, db)
            if keep is not None:
                online_backup(target, keep)
            source.backup(target)
            version, rows = describe(target)
        finally:
            target.close()  # releases the exclusive lock
    finally:
        source.close()
    return BackupReport(db, db.stat().st_size, version, rows)


def describe(conn: sqlite3.Connection) -> tuple[int | None, dict[str, int]]:
    """(schema version from `meta`, row counts of the REPORTED_TABLES that exist)."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    version = None
    if "meta" in tables:
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = int(row[0]) if row and str(row[0]).isdigit() else None
    rows = {
        t: int(conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0])
        for t in REPORTED_TABLES
        if t in tables
    }
    return version, rows


def _connect(path: str | Path) -> sqlite3.Connection:
    """A connection that only reads (not `mode=ro`: reading a WAL database may need to
    create its `-shm` file)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA query_only = ON")
    return conn


def _lock_exclusively(conn: sqlite3.Connection, path: Path) -> None:
    """Hold SQLite's exclusive lock on `conn`'s database until it is closed. In WAL mode
    this fails while any other connection has the database open, even an idle one."""
    conn.execute("PRAGMA locking_mode = EXCLUSIVE")
    try:
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("COMMIT")  # in exclusive locking mode the lock stays after the commit
    except sqlite3.OperationalError as busy:
        raise DatabaseInUse(
            f"{path} is in use (is the bot running?): stop it and any other whoknows "
            "command using this database, then restore again"
        ) from busy


def _size(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{n} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"  # pragma: no cover
