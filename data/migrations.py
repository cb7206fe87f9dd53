"""The database schema as numbered migrations, applied when a Store opens a database.

Each migration is a function `mNNN_what(db)` registered with `@migration`, numbered from 1
without gaps, in the order they were released; the number is the schema version it
leaves (`meta.schema_version`). Applied migrations are recorded by sqlite-utils'
`Migrations` (table `_sqlite_migrations`, set "whoknows"), so opening a database applies
only those it lacks. Never edit or renumber a released migration: append a new one.

    @migration
    def m003_intake(db: Database) -> None:
        run(db, INTAKE)  # a string of CREATE TABLE / CREATE INDEX statements

Opening a database (see `upgrade`):

- a new database (no tables) gets every migration; a database of the release before
  migrations (schema_version '1' in meta, no `_sqlite_migrations`) is taken to be at
  version 1, and migration 1 only records that (it creates nothing that is there);
- a database of a newer release (a version or a migration this release does not know)
  is refused with SchemaError, untouched;
- before the first pending migration changes a file database that holds data, a copy is
  made beside it through the online backup API: `<db>.before-v<N>.bak`, logged;
- the pending migrations run in one write transaction (`BEGIN IMMEDIATE`, so two
  processes opening the same file cannot both migrate it), each in its own savepoint
  with its record; if any raises, everything is rolled back and the database stays at
  the version it had, the one the backup holds.

A migration's statements must run with `db.execute`/`run` (never `executescript`, which
commits first and would break the transaction).
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database, Migrations

from data.backup import online_backup

log = logging.getLogger(__name__)

SET_NAME = "whoknows"
MIGRATIONS_TABLE = Migrations.migrations_table  # "_sqlite_migrations"

_NAME = re.compile(r"^m(\d{3})_\w+$")


class SchemaError(ValueError):
    """A database this release cannot use (made by a newer whoknows, or not a whoknows
    database). The message is one line for the person who runs the command."""


@dataclass(frozen=True)
class Upgrade:
    """What opening a database did to its schema."""

    before: int  # the version it had (0: a new database)
    after: int
    applied: tuple[str, ...] = ()  # names of the migrations run
    backup: Path | None = None  # the copy made first, if any


Step = Callable[[Database], None]


class Schema:
    """Numbered migrations, in order."""

    def __init__(self, steps: Sequence[tuple[str, Step]] = (), name: str = SET_NAME) -> None:
        self.name = name
        self.steps: list[tuple[str, Step]] = []
        for step_name, fn in steps:
            self._add(step_name, fn)

    @property
    def latest(self) -> int:
        """The newest version these migrations make."""
        return len(self.steps)

    def migration(self, fn: Step) -> Step:
        """Decorator: append `fn` (named `mNNN_...`, NNN the next number) as a migration."""
        self._add(fn.__name__, fn)
        return fn

    def upto(self, version: int) -> Schema:
        """The first `version` migrations only (tests: a database of an older release)."""
        return Schema(self.steps[:version], self.name)

    def plus(self, *fns: Step) -> Schema:
        """These migrations and `fns` after them (tests)."""
        more = Schema(self.steps, self.name)
        for fn in fns:
            more.migration(fn)
        return more

    def _add(self, step_name: str, fn: Step) -> None:
        match = _NAME.match(step_name)
        if not match or int(match.group(1)) != len(self.steps) + 1:
            raise ValueError(
                f"migration {step_name!r} should be named m{len(self.steps) + 1:03d}_<what>"
            )
        self.steps.append((step_name, fn))

    def _library_set(self) -> Migrations:
        """The steps as a sqlite-utils migration set; each also sets meta.schema_version."""
        migrations = Migrations(self.name)
        for number, (step_name, fn) in enumerate(self.steps, 1):
            migrations(name=step_name)(_versioned(fn, number))
        return migrations

    # ---------------------------------------------------------------------- opening

    def version(self, db: Database) -> int:
        """The schema version of `db` (0: a new database). Raises SchemaError for a
        database of a newer release or one that is not a whoknows database."""
        tables = _tables(db)
        applied = []
        if MIGRATIONS_TABLE in tables:
            applied = [
                r[0]
                for r in db.execute(
                    f"SELECT name FROM {MIGRATIONS_TABLE} WHERE migration_set = ? ORDER BY rowid",
                    (self.name,),
                )
            ]
        version = _meta_version(db, tables)
        known = {step_name for step_name, _ in self.steps}
        unknown = [n for n in applied if n not in known]
        if unknown or (version or 0) > self.latest:
            numbers = [int(m.group(1)) for n in unknown if (m := _NAME.match(n))]
            found = max([version or 0, len(applied), *numbers])
            raise SchemaError(
                f"this database was made by a newer whoknows (schema v{found}; "
                f"this release knows v{self.latest}): upgrade whoknows"
            )
        if version is None:
            if tables - {MIGRATIONS_TABLE}:
                raise SchemaError(
                    "this database has tables but no whoknows schema version: "
                    "it is not a whoknows database (check --db / WHOKNOWS_DB_PATH)"
                )
            return 0
        return version

    def upgrade(self, db: Database, path: str | Path) -> Upgrade:
        """Bring `db` (the database at `path`, ":memory:" for none) to the latest version:
        refuse a newer one, back up one that holds data, apply what is pending."""
        before = self.version(db)
        if before == self.latest and not self._unrecorded(db):
            return Upgrade(before, before)
        backup = None
        if before < self.latest and str(path) != ":memory:" and _has_data(db):
            backup = _backup_path(Path(path), before + 1)
            online_backup(db.conn, backup)
            log.warning(
                "upgrading %s from schema v%d to v%d: a copy of it as it was is in %s",
                path,
                before,
                self.latest,
                backup,
            )
        migrations = self._library_set()
        db.execute("BEGIN IMMEDIATE")
        try:
            before = self.version(db)  # another process may have migrated it meanwhile
            pending = [m.name for m in migrations.pending(db)]
            migrations.apply(db)  # each one in a savepoint of this transaction
            db.execute("COMMIT")
        except BaseException:
            if db.conn.in_transaction:
                db.execute("ROLLBACK")
            raise
        after = self.version(db)
        if pending:
            log.info("%s: schema v%d -> v%d (%s)", path, before, after, ", ".join(pending))
        return Upgrade(before, after, tuple(pending), backup)

    def _unrecorded(self, db: Database) -> bool:
        """Whether some migration is not recorded as applied (a database of the release
        before migrations is at version 1 without any record)."""
        if MIGRATIONS_TABLE not in _tables(db):
            return True
        return bool(self._library_set().pending(db))


def _versioned(fn: Step, number: int) -> Step:
    def step(db: Database) -> None:
        fn(db)
        db.execute(
            "INSERT INTO meta(key, value) VALUES ('schema_version', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (str(number),),
        )

    step.__name__ = fn.__name__
    return step


MIGRATIONS = Schema()
migration = MIGRATIONS.migration


def upgrade(db: Database, path: str | Path, schema: Schema | None = None) -> Upgrade:
    """Bring the database to this release's schema (see the module's doc)."""
    return (schema or MIGRATIONS).upgrade(db, path)


def run(db: Database, script: str) -> None:
    """Execute a script of SQL statements one by one, inside the current transaction
    (unlike `executescript`, which commits first)."""
    for statement in split_statements(script):
        db.execute(statement)


def split_statements(script: str) -> list[str]:
    """The complete statements of a script (triggers with their BEGIN ... END kept whole)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip() and not _only_comments(current):
        raise ValueError(f"incomplete SQL statement at the end of a script: {current.strip()!r}")
    return statements


# =================================================================== helpers


def _tables(db: Database) -> set[str]:
    """The tables of `db`, without SQLite's own."""
    return {
        r[0]
        for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    }


def _objects(db: Database) -> set[tuple[str, str]]:
    return {
        (r[0], r[1])
        for r in db.execute("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
    }


_V1_OBJECTS: set[tuple[str, str]] | None = None


def _v1_objects() -> set[tuple[str, str]]:
    """Every table, index and trigger migration 1 makes (once, in memory)."""
    global _V1_OBJECTS
    if _V1_OBJECTS is None:
        scratch = Database(sqlite3.connect(":memory:"))
        scratch.conn.executescript(V1_STORE + V1_LIFECYCLE)
        _V1_OBJECTS = _objects(scratch)
        scratch.close()
    return _V1_OBJECTS


def _meta_version(db: Database, tables: set[str]) -> int | None:
    if "meta" not in tables:
        return None
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        return None
    try:
        return int(row[0])
    except ValueError:
        raise SchemaError(f"this database has an unreadable schema version {row[0]!r}") from None


def _has_data(db: Database) -> bool:
    """Whether any table but `meta` (always two rows) and the bookkeeping has a row."""
    for table in _tables(db) - {"meta", MIGRATIONS_TABLE}:
        if db.execute(f'SELECT 1 FROM "{table}" LIMIT 1').fetchone():
            return True
    return False


def _backup_path(path: Path, version: int) -> Path:
    """`<db>.before-v<N>.bak`, or with `.2`, `.3`... if an earlier attempt left one."""
    candidate = path.with_name(f"{path.name}.before-v{version}.bak")
    n = 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}.before-v{version}.{n}.bak")
    return candidate


def _only_comments(text: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in text.splitlines())


# ================================================================== the migrations
#
# Migration 1 is the schema of the release before migrations, exactly (data/store.py's
# SCHEMA and data/lifecycle_store.py's LIFECYCLE_SCHEMA): tests/fixtures/schema_v1.sql
# holds the same text and the tests compare what both make.

V1_STORE = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS people (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT,
    title TEXT,
    department TEXT,
    team TEXT,
    manager_id TEXT REFERENCES people(id) DEFERRABLE INITIALLY DEFERRED,
    location TEXT,
    timezone TEXT,
    slack_id TEXT,
    teams_id TEXT,
    skills TEXT NOT NULL DEFAULT '[]',
    opted_out INTEGER NOT NULL DEFAULT 0,
    seq INTEGER NOT NULL DEFAULT 0
);
-- One person per email, Slack id and Teams id: they identify people across platforms.
CREATE UNIQUE INDEX IF NOT EXISTS people_email ON people(email) WHERE email IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS people_slack ON people(slack_id) WHERE slack_id IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS people_teams ON people(teams_id) WHERE teams_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS people_manager ON people(manager_id);
CREATE INDEX IF NOT EXISTS people_team ON people(team);
CREATE INDEX IF NOT EXISTS people_seq ON people(seq);

CREATE TABLE IF NOT EXISTS contacts (
    a TEXT NOT NULL REFERENCES people(id) DEFERRABLE INITIALLY DEFERRED,
    b TEXT NOT NULL REFERENCES people(id) DEFERRABLE INITIALLY DEFERRED,
    kind TEXT NOT NULL,
    weight REAL NOT NULL DEFAULT 1.0,
    created_at TEXT,
    seq INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (a, b, kind),
    CHECK (a <> b)
);
CREATE INDEX IF NOT EXISTS contacts_b ON contacts(b);
CREATE INDEX IF NOT EXISTS contacts_seq ON contacts(seq);

CREATE TABLE IF NOT EXISTS knowledge (
    id TEXT PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES people(id) DEFERRABLE INITIALLY DEFERRED,
    title TEXT,
    text TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'post',
    source TEXT,
    url TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    created_at TEXT,
    content_hash TEXT NOT NULL,
    seq INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS knowledge_person ON knowledge(person_id);
CREATE INDEX IF NOT EXISTS knowledge_seq ON knowledge(seq);

CREATE TABLE IF NOT EXISTS vectors (
    item_id TEXT NOT NULL REFERENCES knowledge(id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    dim INTEGER NOT NULL,
    vector BLOB NOT NULL,
    seq INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (item_id, model)
);
CREATE INDEX IF NOT EXISTS vectors_seq ON vectors(model, seq);

-- Full-text index over knowledge, kept in step by triggers (external content table).
CREATE VIRTUAL TABLE IF NOT EXISTS knowledge_fts USING fts5(
    title, text, tags, content='knowledge', content_rowid='rowid', tokenize='porter unicode61'
);
CREATE TRIGGER IF NOT EXISTS knowledge_ai AFTER INSERT ON knowledge BEGIN
    INSERT INTO knowledge_fts(rowid, title, text, tags)
    VALUES (new.rowid, new.title, new.text, new.tags);
END;
CREATE TRIGGER IF NOT EXISTS knowledge_ad AFTER DELETE ON knowledge BEGIN
    INSERT INTO knowledge_fts(knowledge_fts, rowid, title, text, tags)
    VALUES ('delete', old.rowid, old.title, old.text, old.tags);
END;
CREATE TRIGGER IF NOT EXISTS knowledge_au AFTER UPDATE ON knowledge BEGIN
    INSERT INTO knowledge_fts(knowledge_fts, rowid, title, text, tags)
    VALUES ('delete', old.rowid, old.title, old.text, old.tags);
    INSERT INTO knowledge_fts(rowid, title, text, tags)
    VALUES (new.rowid, new.title, new.text, new.tags);
END;
"""

V1_LIFECYCLE = """
CREATE TABLE IF NOT EXISTS questions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    asker_id TEXT NOT NULL REFERENCES people(id),
    text TEXT NOT NULL,
    origin TEXT NOT NULL,               -- channel | ask | mention | dm | shortcut | console
    place TEXT NOT NULL DEFAULT '{}',   -- JSON the adapter needs to reply where it was asked
    private INTEGER NOT NULL DEFAULT 0, -- asked in private: never shown in a channel
    state TEXT NOT NULL,
    widenings INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    due_at TEXT,                        -- timer of the current state, if any
    outcome TEXT
);
CREATE INDEX IF NOT EXISTS questions_timer ON questions(state, due_at);
CREATE INDEX IF NOT EXISTS questions_asker ON questions(asker_id);

CREATE TABLE IF NOT EXISTS asks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    question_id INTEGER NOT NULL REFERENCES questions(id),
    person_id TEXT NOT NULL REFERENCES people(id),
    via_id TEXT REFERENCES people(id),  -- who referred them; NULL when the router chose them
    hop INTEGER NOT NULL,               -- 1 = chosen by the router, n + 1 = referred by hop n
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    connection TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    snoozes INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    send_after TEXT NOT NULL,           -- quiet hours: not delivered before this
    due_at TEXT NOT NULL,
    closed_at TEXT,
    message_ref TEXT,                   -- the platform's id of the request, to update it
    UNIQUE (question_id, person_id)     -- nobody is asked twice for one question
);
CREATE INDEX IF NOT EXISTS asks_timer ON asks(state, due_at);
CREATE INDEX IF NOT EXISTS asks_person ON asks(person_id, created_at);

CREATE TABLE IF NOT EXISTS answers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    question_id INTEGER NOT NULL REFERENCES questions(id),
    ask_id INTEGER REFERENCES asks(id),
    person_id TEXT NOT NULL REFERENCES people(id),
    text TEXT NOT NULL,
    created_at TEXT NOT NULL,
    accepted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS answers_question ON answers(question_id);

CREATE TABLE IF NOT EXISTS confirmations (
    answer_id INTEGER NOT NULL REFERENCES answers(id),
    person_id TEXT NOT NULL REFERENCES people(id),
    created_at TEXT NOT NULL,
    PRIMARY KEY (answer_id, person_id)
);

CREATE TABLE IF NOT EXISTS messages (   -- follow-ups from the asker and replies to them
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    question_id INTEGER NOT NULL REFERENCES questions(id),
    from_id TEXT NOT NULL REFERENCES people(id),
    to_id TEXT NOT NULL REFERENCES people(id),
    kind TEXT NOT NULL,                 -- followup | reply
    text TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS declines (   -- passes and expiries, to learn from
    question_id INTEGER NOT NULL REFERENCES questions(id),
    person_id TEXT NOT NULL REFERENCES people(id),
    kind TEXT NOT NULL,                 -- passed | expired
    created_at TEXT NOT NULL,
    PRIMARY KEY (question_id, person_id)
);

CREATE TABLE IF NOT EXISTS preferences (
    person_id TEXT PRIMARY KEY REFERENCES people(id),
    max_asks_per_day INTEGER,
    quiet_start INTEGER,                -- local hour quiet time starts (e.g. 20)
    quiet_end INTEGER                   -- local hour it ends (e.g. 8)
);

CREATE TABLE IF NOT EXISTS addresses (  -- how to reach a person on a platform
    person_id TEXT NOT NULL REFERENCES people(id),
    platform TEXT NOT NULL,             -- slack | teams | ...
    address TEXT NOT NULL,              -- JSON: a DM channel, a conversation reference...
    updated_at TEXT NOT NULL,
    PRIMARY KEY (person_id, platform)
);

CREATE TABLE IF NOT EXISTS channels (   -- per-channel intake settings
    platform TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    enabled INTEGER NOT NULL DEFAULT 1, -- route unanswered questions posted here
    wait_minutes REAL,                  -- NULL = the org default
    PRIMARY KEY (platform, channel_id)
);

CREATE TABLE IF NOT EXISTS events (     -- ids of platform events already handled
    event_id TEXT PRIMARY KEY,
    received_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS outbox (     -- messages to deliver, written with the change
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    recipient TEXT,
    question_id INTEGER REFERENCES questions(id),
    ask_id INTEGER REFERENCES asks(id),
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL,
    send_after TEXT NOT NULL,
    claimed_at TEXT,                    -- a delivery attempt started (in doubt if no sent_at)
    sent_at TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    last_error TEXT,
    result TEXT                         -- the platform's reference for what was sent
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(sent_at, send_after);
"""


@migration
def m001_initial(db: Database) -> None:
    """The people, contacts and knowledge (with its full-text index and the triggers that
    keep it in step), vectors, and the question lifecycle's tables."""
    if _meta_version(db, _tables(db)) == 1 and not _v1_objects() - _objects(db):
        return  # made by the release before migrations: already all there
    # A database of that release that never ran the lifecycle lacks its tables: every
    # statement is CREATE ... IF NOT EXISTS, so only what is missing is made.
    run(db, V1_STORE)
    run(db, V1_LIFECYCLE)
    db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('seq', '0')")


@migration
def m002_outbox_dead_letters(db: Database) -> None:
    """A dead-letter state for the outbox: `dead_at` is set when the last delivery attempt
    fails (`last_error` says why); such a row is no longer due, and an admin lists and
    retries it (`whoknows outbox dead|retry`). The due query reads a partial index of
    the rows still to deliver, in id order, instead of (sent_at, send_after)."""
    db.execute("ALTER TABLE outbox ADD COLUMN dead_at TEXT")
    db.execute("DROP INDEX IF EXISTS outbox_pending")
    db.execute("CREATE INDEX outbox_due ON outbox(id) WHERE sent_at IS NULL AND dead_at IS NULL")
    db.execute("CREATE INDEX outbox_dead ON outbox(id) WHERE dead_at IS NOT NULL")
    # Rows that had used up their attempts (12, the scheduler's MAX_ATTEMPTS of this
    # release) and stayed due for ever become dead letters now.
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # data.lifecycle_store.to_iso
    db.execute(
        "UPDATE outbox SET dead_at = ?, claimed_at = NULL WHERE sent_at IS NULL AND attempts >= 12",
        (now,),
    )


# Append new migrations here, after the last one: @migration def m003_...(db).


@migration
def m003_intake(db: Database) -> None:
    """Durable intake (`data.intake_store`): each platform input written down before it
    is acknowledged, marked done once handled, replayed on start if it never was."""
    run(
        db,
        """
CREATE TABLE IF NOT EXISTS intake (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    platform TEXT NOT NULL,             -- slack | teams | ...
    dedup_key TEXT,                     -- the platform's id for the input, when it has one
    body TEXT NOT NULL,                 -- the request as received (raw text or JSON)
    meta TEXT NOT NULL DEFAULT '{}',    -- what replaying it needs (mode, content type...)
    received_at TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',  -- pending | done | failed
    attempts INTEGER NOT NULL DEFAULT 0,
    finished_at TEXT,
    last_error TEXT,
    UNIQUE (platform, dedup_key)
);
CREATE INDEX IF NOT EXISTS intake_open ON intake(state, id);
""",
    )


@migration
def m004_chat(db: Database) -> None:
    """Chat as a source of knowledge (`data.chat_store`, `bot.learning.chat`): the human
    messages learned from, the channels with their learning switch and history cursor,
    private channels' members, each thread's ties, and a log of deleted knowledge items so
    that every router drops their vectors."""
    run(
        db,
        """
CREATE TABLE IF NOT EXISTS chat_messages (
    platform TEXT NOT NULL,             -- slack | teams
    channel TEXT NOT NULL,
    ts TEXT NOT NULL,                   -- the platform's message id (Slack's ts)
    at REAL NOT NULL,                   -- seconds since the epoch
    thread TEXT,                        -- the root's ts: replies, and roots with replies
    author TEXT NOT NULL,               -- the platform's user id
    parent_author TEXT,                 -- the root's author, as the platform gave it
    text TEXT NOT NULL,                 -- as written ('' for an opted-out author)
    day TEXT NOT NULL,                  -- YYYY-MM-DD (UTC) of `at`
    PRIMARY KEY (platform, channel, ts)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS chat_messages_thread ON chat_messages(platform, channel, thread)
    WHERE thread IS NOT NULL;
CREATE INDEX IF NOT EXISTS chat_messages_day ON chat_messages(platform, channel, day, author);

CREATE TABLE IF NOT EXISTS chat_channels (
    platform TEXT NOT NULL,
    channel TEXT NOT NULL,
    name TEXT,
    private INTEGER NOT NULL DEFAULT 0,
    learn INTEGER,                      -- an admin's switch; NULL: public yes, private no
    history TEXT,                       -- JSON: where a history backfill has got to
    members_at TEXT,                    -- when a private channel's members were last read
    PRIMARY KEY (platform, channel)
);

CREATE TABLE IF NOT EXISTS chat_members ( -- who may read a private channel's knowledge
    platform TEXT NOT NULL,
    channel TEXT NOT NULL,
    person_id TEXT NOT NULL,
    PRIMARY KEY (platform, channel, person_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS chat_members_person ON chat_members(person_id);

CREATE TABLE IF NOT EXISTS chat_ties (  -- each thread's ties, counted into contacts once
    platform TEXT NOT NULL,
    channel TEXT NOT NULL,
    thread TEXT NOT NULL,
    a TEXT NOT NULL,                    -- person ids, as in contacts
    b TEXT NOT NULL,
    kind TEXT NOT NULL,                 -- helped | interacted
    PRIMARY KEY (platform, channel, thread, a, b, kind)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS knowledge_deletions (
    item_id TEXT NOT NULL,
    seq INTEGER NOT NULL                -- the store's change number of the deletion
);
CREATE INDEX IF NOT EXISTS knowledge_deletions_seq ON knowledge_deletions(seq);
""",
    )
