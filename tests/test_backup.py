"""Backups through SQLite's online backup API while the database is written to, the
`whoknows backup` and `whoknows restore` commands, and restoring."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from data.backup import DatabaseInUse, online_backup, restore
from data.migrations import MIGRATIONS
from data.models import KnowledgeItem, Person
from data.store import Store
from tests.test_migrations import make_v1_database

runner = CliRunner()


def whoknows(*args: str | Path):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "200"})


def org_database(path: Path, items: int = 0) -> None:
    store = Store(path)
    store.upsert_people([Person(id="mia", name="Mia Stone"), Person(id="dan", name="Dan Ek")])
    store.upsert_knowledge(
        KnowledgeItem(id=f"k{n}", person_id="dan", text=f"note {n} about helm " + "x" * 200)
        for n in range(items)
    )
    store.close()


def people_of(path: Path) -> list[str]:
    store = Store(path)
    try:
        return [p.id for p in store.people()]
    finally:
        store.close()


def test_a_backup_taken_while_another_connection_writes_is_consistent(tmp_path):
    path = tmp_path / "whoknows.db"
    org_database(path, items=3000)  # enough pages that the copy takes a while
    stop = threading.Event()
    committed = []  # batches committed so far, in order

    def writer() -> None:
        conn = sqlite3.connect(path, isolation_level=None, timeout=10)
        n = 0
        while not stop.is_set():
            n += 1
            conn.execute("BEGIN IMMEDIATE")  # two rows and a counter: all or nothing
            conn.execute("INSERT INTO events VALUES (?, 'a'), (?, 'b')", (f"{n}-a", f"{n}-b"))
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('batches', ?)", (str(n),))
            conn.execute("COMMIT")
            committed.append(n)
        conn.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(committed) < 20:  # the writer is well under way
            stop.wait(0.01)
        before = committed[-1]  # committed before the backup started
        report = online_backup(path, tmp_path / "copy.db")
        during = committed[-1]
    finally:
        stop.set()
        thread.join()
    assert during > before  # the writer went on while the backup ran

    copy = sqlite3.connect(report.path)
    assert copy.execute("PRAGMA quick_check").fetchone() == ("ok",)
    assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # one file
    batches = int(copy.execute("SELECT value FROM meta WHERE key = 'batches'").fetchone()[0])
    events = {r[0] for r in copy.execute("SELECT event_id FROM events")}
    copy.close()
    assert batches >= before  # everything committed before it started is in it
    assert events == {f"{n}-{x}" for n in range(1, batches + 1) for x in "ab"}  # no half batch
    assert report.schema_version == MIGRATIONS.latest
    assert report.rows["knowledge"] == 3000 and report.rows["people"] == 2
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert people_of(report.path) == ["dan", "mia"]  # Store opens it as it is


def test_a_backup_never_overwrites_unless_asked_and_never_creates_its_source(tmp_path):
    path = tmp_path / "whoknows.db"
    org_database(path)
    dest = tmp_path / "copy.db"
    dest.write_text("keep me")
    with pytest.raises(FileExistsError):
        online_backup(path, dest)
    assert dest.read_text() == "keep me"
    online_backup(path, dest, overwrite=True)
    assert people_of(dest) == ["dan", "mia"]
    with pytest.raises(FileNotFoundError):
        online_backup(tmp_path / "typo.db", tmp_path / "other.db")
    assert not (tmp_path / "typo.db").exists() and not (tmp_path / "other.db").exists()


def test_the_backup_command_says_what_it_wrote_and_refuses_to_overwrite(tmp_path):
    path = tmp_path / "whoknows.db"
    org_database(path, items=2)
    dest = tmp_path / "backups" / "monday.db"
    result = whoknows("backup", dest, "--db", path)
    assert result.exit_code == 0, result.output
    assert f"wrote {dest}" in result.stdout
    assert f"schema v{MIGRATIONS.latest}" in result.stdout
    assert "people 2, contacts 0, knowledge 2" in result.stdout

    again = whoknows("backup", dest, "--db", path)
    assert again.exit_code == 1 and "exists: use --force" in again.stderr
    assert whoknows("backup", dest, "--db", path, "--force").exit_code == 0
    missing = whoknows("backup", tmp_path / "x.db", "--db", tmp_path / "typo.db")
    assert missing.exit_code == 1 and "no whoknows database" in missing.stderr


# ------------------------------------------------------------------------ restore


def test_restore_brings_back_the_backup_and_keeps_what_it_replaced(tmp_path):
    path = tmp_path / "whoknows.db"
    org_database(path)
    assert whoknows("backup", tmp_path / "monday.db", "--db", path).exit_code == 0
    store = Store(path)  # later: someone new, and Mia gone
    store.upsert_people([Person(id="eve", name="Eve Park")])
    store.db.execute("DELETE FROM people WHERE id = 'mia'")
    store.close()

    result = whoknows("restore", tmp_path / "monday.db", "--db", path)

    assert result.exit_code == 0, result.output
    assert "restored" in result.stdout and "people 2" in result.stdout
    assert people_of(path) == ["dan", "mia"]
    kept = tmp_path / "whoknows.db.before-restore.bak"
    assert f"as it was is in {kept}" in result.stdout
    assert people_of(kept) == ["dan", "eve"]
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0


def test_restore_refuses_a_database_that_is_open(tmp_path):
    path = tmp_path / "whoknows.db"
    org_database(path)
    online_backup(path, tmp_path / "monday.db")
    running = Store(path)  # the bot
    running.upsert_people([Person(id="eve", name="Eve Park")])
    try:
        with pytest.raises(DatabaseInUse, match="is the bot running"):
            restore(tmp_path / "monday.db", path, keep=tmp_path / "kept.db")
        result = whoknows("restore", tmp_path / "monday.db", "--db", path)
        assert result.exit_code == 1 and "nothing restored" in result.stderr
        assert [p.id for p in running.people()] == ["dan", "eve", "mia"]
    finally:
        running.close()
    assert not (tmp_path / "kept.db").exists()
    assert people_of(path) == ["dan", "eve", "mia"]


def test_a_backup_of_the_release_before_migrations_restores_and_is_upgraded(tmp_path):
    old = tmp_path / "old.db"
    make_v1_database(old)
    online_backup(old, tmp_path / "old-backup.db")
    path = tmp_path / "whoknows.db"
    org_database(path)

    assert whoknows("restore", tmp_path / "old-backup.db", "--db", path).exit_code == 0

    store = Store(path)
    assert (store.schema.before, store.schema.after) == (1, MIGRATIONS.latest)
    assert [p.id for p in store.people()] == ["dan", "mia"]
    assert store.db.execute("SELECT count(*) FROM questions").fetchone()[0] == 1
    store.close()


def test_restore_refuses_a_backup_of_a_newer_release(tmp_path):
    path = tmp_path / "whoknows.db"
    org_database(path)
    newer = tmp_path / "newer.db"
    online_backup(path, newer)
    conn = sqlite3.connect(newer)
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    result = whoknows("restore", newer, "--db", path)
    assert result.exit_code == 1
    assert "made by a newer whoknows (schema v99" in result.stderr
    assert people_of(path) == ["dan", "mia"]


def test_a_backup_copied_over_the_stopped_database_is_restored(tmp_path):
    """The manual way: stop the bot, copy the backup over the database, remove the
    database's -wal and -shm (they belong to the replaced file), start again."""
    path = tmp_path / "whoknows.db"
    org_database(path)
    online_backup(path, tmp_path / "monday.db")
    store = Store(path)
    store.upsert_people([Person(id="eve", name="Eve Park")])
    store.close()  # the bot stopped

    shutil.copyfile(tmp_path / "monday.db", path)
    for leftover in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)

    assert people_of(path) == ["dan", "mia"]
