"""Numbered schema migrations: a database of the release before them is upgraded with every
row kept and a backup made first; a newer database is refused untouched; a failing
migration leaves the old version; opening twice changes nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from sqlite_utils import Database

from data import migrations
from data.lifecycle_store import LifecycleStore
from data.migrations import MIGRATIONS, SchemaError
from data.models import KnowledgeItem, Person
from data.store import Store

FIXTURE = Path(__file__).parent / "fixtures" / "schema_v1.sql"
LIFECYCLE_START = "CREATE TABLE IF NOT EXISTS questions"

# A row for every table of the release before migrations (knowledge_fts is filled by the
# knowledge triggers).
V1_ROWS: dict[str, list[tuple]] = {
    "people": [
        ("mia", "Mia Stone", "mia@example.com", "Head of platform", "Eng", "platform", None,
         "Oslo", "Europe/Oslo", "U1", "T1", '["kubernetes"]', 0, 1),
        ("dan", "Dan Ek", "dan@example.com", None, None, "sre", "mia", None, None, None, None,
         "[]", 0, 2),
    ],
    "contacts": [("dan", "mia", "contact", 1.5, "2026-01-01", 3)],
    "knowledge": [
        ("k1", "dan", "Helm rollback runbook", "helm history then helm rollback", "post", "wiki",
         None, '["helm"]', "2026-01-02", "hash1", 4),
    ],
    "vectors": [("k1", "minilm", "hash1", 3, np.ones(3, dtype=np.float32).tobytes(), 5)],
    "questions": [
        (1, "mia", "Who knows Helm?", "ask", "{}", 0, "answered",
         0, "2026-03-02T09:00:00.000000Z", "2026-03-02T09:05:00.000000Z", None, None),
    ],
    "asks": [
        (1, 1, "dan", None, 1, "answered", "wrote a runbook", "reports to Mia", "", 0,
         "2026-03-02T09:00:00.000000Z", "2026-03-02T09:00:00.000000Z",
         "2026-03-03T09:00:00.000000Z", "2026-03-02T09:05:00.000000Z", "D1:1.0"),
    ],
    "answers": [(1, 1, 1, "dan", "helm rollback api 41", "2026-03-02T09:05:00.000000Z", 1)],
    "confirmations": [(1, "mia", "2026-03-02T09:06:00.000000Z")],
    "messages": [
        (1, 1, "mia", "dan", "followup", "which revision?", "2026-03-02T09:07:00.000000Z"),
    ],
    "declines": [(1, "mia", "passed", "2026-03-02T09:01:00.000000Z")],
    "preferences": [("dan", 5, 20, 8)],
    "addresses": [("dan", "slack", '{"channel": "D1"}', "2026-03-02T09:00:00.000000Z")],
    "channels": [("slack", "C1", 1, 5.0)],
    "events": [("evt-1", "2026-03-02T09:00:00.000000Z")],
    "outbox": [
        # delivered
        (1, "ask_expert", "dan", 1, 1, "{}", "2026-03-02T09:00:00.000000Z",
         "2026-03-02T09:00:00.000000Z", "2026-03-02T09:00:01.000000Z",
         "2026-03-02T09:00:02.000000Z", 1, None, None, "D1:1.0"),
        # still being retried
        (2, "notice", "dan", 1, None, "{}", "2026-03-02T09:00:00.000000Z",
         "2026-03-02T09:00:00.000000Z", None, None, 3, "2026-03-02T10:00:00.000000Z",
         "ConnectionError: down", None),
        # out of attempts, due for ever in that release
        (3, "status", "mia", 1, None, "{}", "2026-03-01T09:00:00.000000Z",
         "2026-03-01T09:00:00.000000Z", None, None, 12, "2026-03-02T08:00:00.000000Z",
         "ConnectionError: still down", None),
    ],
}  # fmt: skip
V1_META = [("schema_version", "1"), ("seq", "5"), ("ranker", '{"w": 1}')]


def make_v1_database(path: Path, lifecycle: bool = True) -> None:
    """A database as the release before migrations left it: its schema script, the meta
    rows its Store wrote, WAL mode, and rows in every table."""
    script = FIXTURE.read_text(encoding="utf-8")
    if not lifecycle:  # only its Store ran (an import, never the bot)
        script = script.split(LIFECYCLE_START)[0]
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(script)
    with conn:
        conn.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", V1_META)
        for table, rows in V1_ROWS.items():
            if table not in _tables(conn):
                continue
            marks = ", ".join("?" * len(rows[0]))
            conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
    conn.close()


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def rows_of(conn: sqlite3.Connection, table: str, columns: int | None = None) -> list[tuple]:
    rows = conn.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()
    return [tuple(r[:columns]) if columns else tuple(r) for r in rows]


def schema_of(conn: sqlite3.Connection) -> set[tuple]:
    """Every table, index, trigger (and the FTS shadow tables) with its SQL."""
    return set(
        conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master "
            "WHERE name NOT LIKE 'sqlite_%' AND tbl_name <> '_sqlite_migrations'"
        )
    )


def count(store: Store, table: str) -> int:
    return store.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def backups_beside(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.before-*.bak"))


# ----------------------------------------------------------------- migration 1


def test_migration_1_makes_exactly_the_schema_of_the_release_before():
    old = sqlite3.connect(":memory:")
    old.executescript(FIXTURE.read_text(encoding="utf-8"))
    new = Database(sqlite3.connect(":memory:", isolation_level=None))
    upgrade = migrations.upgrade(new, ":memory:", MIGRATIONS.upto(1))
    assert (upgrade.before, upgrade.after) == (0, 1)
    assert schema_of(new.conn) == schema_of(old)
    assert "knowledge_fts" in {name for _, name, _, _ in schema_of(new.conn)}


def test_a_new_database_gets_every_migration_and_no_backup(tmp_path):
    path = tmp_path / "new.db"
    store = Store(path)
    assert (store.schema.before, store.schema.after) == (0, MIGRATIONS.latest)
    assert store.schema.applied == tuple(name for name, _ in MIGRATIONS.steps)
    assert store.get_meta("schema_version") == str(MIGRATIONS.latest)
    assert store.schema.backup is None and backups_beside(path) == []
    store.close()
    memory = Store(":memory:")
    assert memory.get_meta("schema_version") == str(MIGRATIONS.latest)
    assert memory.current_seq() == 0


# ------------------------------------------------------- the release before


def test_a_database_of_the_release_before_is_upgraded_with_every_row(tmp_path, monkeypatch):
    path = tmp_path / "whoknows.db"
    make_v1_database(path)
    original = sqlite3.connect(path)
    before = {t: rows_of(original, t) for t in [*V1_ROWS, "meta"]}
    original.close()
    scripts = []
    monkeypatch.setattr(migrations, "run", lambda db, script: scripts.append(script))

    store = Store(path)

    # Recognised as version 1: no DDL of migration 1 ran again (only the later ones').
    later = ("TABLE IF NOT EXISTS intake", "TABLE IF NOT EXISTS chat_messages")
    assert [s for s in scripts if not any(table in s for table in later)] == []
    assert (store.schema.before, store.schema.after) == (1, MIGRATIONS.latest)
    assert store.schema.applied == (
        "m001_initial",
        "m002_outbox_dead_letters",
        "m003_intake",
        "m004_chat",
    )
    conn = store.db.conn
    for table, rows in before.items():
        if table == "outbox":  # one column more: dead_at
            assert rows_of(conn, table, columns=14) == rows
        elif table == "meta":
            assert [r for r in rows_of(conn, table) if r[0] != "schema_version"] == [
                r for r in rows if r[0] != "schema_version"
            ]
        else:
            assert rows_of(conn, table) == rows, table
    assert store.get_meta("schema_version") == str(MIGRATIONS.latest)
    assert store.current_seq() == 5
    # The full-text index and its triggers still work.
    assert [h.item_id for h in store.lexical_search("helm rollback")] == ["k1"]
    store.upsert_knowledge([KnowledgeItem(id="k2", person_id="mia", text="Kubernetes quotas")])
    assert [h.item_id for h in store.lexical_search("kubernetes quotas")] == ["k2"]
    # The row that had used up its attempts is a dead letter now; the others are not.
    outbox = {r.id: r for r in LifecycleStore(store).outbox()}
    assert outbox[3].dead_at is not None and outbox[3].last_error == "ConnectionError: still down"
    assert outbox[1].dead_at is None and outbox[2].dead_at is None
    store.close()

    [backup] = backups_beside(path)
    assert backup.name == "whoknows.db.before-v2.bak" and store.schema.backup == backup
    copy = sqlite3.connect(backup)
    assert copy.execute("PRAGMA quick_check").fetchone() == ("ok",)
    assert copy.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("1",)
    assert "_sqlite_migrations" not in _tables(copy)
    assert {t: rows_of(copy, t) for t in before} == before
    copy.close()


def test_a_database_of_the_release_before_that_never_ran_the_lifecycle_gets_its_tables(tmp_path):
    path = tmp_path / "imported.db"
    make_v1_database(path, lifecycle=False)
    store = Store(path)
    assert store.schema.after == MIGRATIONS.latest
    assert count(store, "questions") == 0 and count(store, "outbox") == 0
    assert [p.id for p in store.people()] == ["dan", "mia"]
    store.close()


def test_opening_twice_applies_nothing_the_second_time(tmp_path):
    path = tmp_path / "whoknows.db"
    make_v1_database(path)
    Store(path).close()
    conn = sqlite3.connect(path)
    recorded = rows_of(conn, "_sqlite_migrations")
    schema = schema_of(conn)
    conn.close()

    again = Store(path)
    assert again.schema.applied == () and again.schema.backup is None
    assert again.schema.before == again.schema.after == MIGRATIONS.latest
    assert rows_of(again.db.conn, "_sqlite_migrations") == recorded
    assert schema_of(again.db.conn) == schema
    again.close()
    assert len(backups_beside(path)) == 1  # only the one of the first upgrade


# ---------------------------------------------------------------- refusals


def _dump(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


@pytest.mark.parametrize("how", ["version", "migration"])
def test_a_database_of_a_newer_release_is_refused_untouched(tmp_path, how):
    path = tmp_path / "whoknows.db"
    store = Store(path)
    store.upsert_people([Person(id="mia", name="Mia Stone")])
    future = MIGRATIONS.latest + 3
    if how == "version":
        store.set_meta("schema_version", str(future))
    else:  # a migration this release does not know (same version number, other history)
        store.db.execute(
            "INSERT INTO _sqlite_migrations(migration_set, name, applied_at) "
            f"VALUES ('whoknows', 'm{future:03d}_from_the_future', '2030-01-01')"
        )
    store.close()
    dump = _dump(path)

    with pytest.raises(SchemaError) as refused:
        Store(path)

    if how == "version":
        assert str(refused.value) == (
            f"this database was made by a newer whoknows (schema v{future}; "
            f"this release knows v{MIGRATIONS.latest}): upgrade whoknows"
        )
    else:
        assert f"schema v{future}; this release knows v{MIGRATIONS.latest}" in str(refused.value)
    assert isinstance(refused.value, ValueError)
    assert _dump(path) == dump
    assert backups_beside(path) == []


def test_a_database_of_something_else_is_refused(tmp_path):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    dump = _dump(path)
    with pytest.raises(SchemaError, match="not a whoknows database"):
        Store(path)
    assert _dump(path) == dump


# ----------------------------------------------------------------- failures


def m005_half_done(db: Database) -> None:
    db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY)")
    db.execute("INSERT INTO notes VALUES (1)")
    raise RuntimeError("power cut in the middle of migration 5")


def test_a_failing_migration_leaves_the_database_at_its_version(tmp_path, monkeypatch):
    path = tmp_path / "whoknows.db"
    store = Store(path)
    store.upsert_people([Person(id="mia", name="Mia Stone")])
    store.close()
    dump = _dump(path)
    monkeypatch.setattr(migrations, "MIGRATIONS", MIGRATIONS.plus(m005_half_done))

    with pytest.raises(RuntimeError, match="migration 5"):
        Store(path)

    monkeypatch.undo()
    assert _dump(path) == dump  # no new table, no record, still version 4
    [backup] = backups_beside(path)
    assert backup.name == "whoknows.db.before-v5.bak"
    store = Store(path)
    assert store.schema.applied == () and store.get_meta("schema_version") == "4"
    store.close()


def m002_broken(db: Database) -> None:
    db.execute("ALTER TABLE outbox ADD COLUMN dead_at TEXT")
    raise RuntimeError("bug in migration 2")


def test_a_failure_upgrading_the_release_before_leaves_it_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "whoknows.db"
    make_v1_database(path)
    dump = _dump(path)
    monkeypatch.setattr(migrations, "MIGRATIONS", MIGRATIONS.upto(1).plus(m002_broken))
    with pytest.raises(RuntimeError, match="migration 2"):
        Store(path)
    assert _dump(path) == dump  # still version 1, without any bookkeeping
    monkeypatch.undo()
    store = Store(path)  # the fixed release upgrades it
    assert (store.schema.before, store.schema.after) == (1, MIGRATIONS.latest)
    store.close()


# ------------------------------------------------------------ adding one


def m005_notes(db: Database) -> None:
    migrations.run(
        db,
        """
        CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS notes_body ON notes(body);
        """,
    )


def test_a_new_migration_is_one_numbered_function(tmp_path, monkeypatch):
    path = tmp_path / "whoknows.db"
    store = Store(path)
    store.upsert_people([Person(id="mia", name="Mia Stone")])
    store.close()
    monkeypatch.setattr(migrations, "MIGRATIONS", MIGRATIONS.plus(m005_notes))
    store = Store(path)
    assert store.schema.applied == ("m005_notes",) and store.get_meta("schema_version") == "5"
    assert count(store, "notes") == 0 and store.count("people") == 1
    assert store.schema.backup == path.with_name("whoknows.db.before-v5.bak")
    store.close()


def test_migrations_must_be_numbered_in_order():
    def m006_skips_ahead(db: Database) -> None:
        pass

    def add_things(db: Database) -> None:
        pass

    for wrong in (m006_skips_ahead, add_things):
        with pytest.raises(ValueError, match=f"m{MIGRATIONS.latest + 1:03d}_"):
            MIGRATIONS.plus(wrong)
    assert [name[:4] for name, _ in MIGRATIONS.steps] == [
        f"m{n:03d}" for n in range(1, MIGRATIONS.latest + 1)
    ]


def test_scripts_are_split_into_whole_statements():
    statements = migrations.split_statements(FIXTURE.read_text(encoding="utf-8"))
    triggers = [s for s in statements if "CREATE TRIGGER" in s]
    assert len(triggers) == 3 and all(s.endswith("END;") for s in triggers)
    assert all(sqlite3.complete_statement(s) for s in statements)
