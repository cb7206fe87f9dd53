"""The SQLite store: every query whoknows makes (the schema is in `data.migrations`).

Everything the bot knows lives here, so a restart loses nothing. Writes that belong
together run in one transaction. Rows that in-memory indexes mirror (people, contacts,
knowledge, vectors) carry a `seq` from one global counter, so a reader can ask for
"everything changed since seq N" and stay in sync cheaply (see `bot.router.Router.sync`).
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
import sqlite_utils

from data import migrations
from data.models import Contact, KnowledgeItem, Person, content_hash, item_text, ordered_pair

PERSON_COLUMNS = (
    "id",
    "name",
    "email",
    "title",
    "department",
    "team",
    "manager_id",
    "location",
    "timezone",
    "slack_id",
    "teams_id",
    "skills",
    "opted_out",
)
ITEM_COLUMNS = (
    "id",
    "person_id",
    "title",
    "text",
    "kind",
    "source",
    "url",
    "tags",
    "created_at",
    "content_hash",
)

_WORD = re.compile(r"\w+", re.UNICODE)

# Words too common to help a full-text match; kept short on purpose.
_STOPWORDS = frozenset(
    """
    a an and are as at be but by can could do does did for from has have how i if in into
    is it its me my no not of on or our so that the their them then there these they this
    to up was we what when where which who why will with would you your any anyone know
    knows someone somebody help please hi hey thanks
    """.split()
)


@dataclass(frozen=True)
class WriteCounts:
    """What a bulk write did."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def __str__(self) -> str:
        return f"{self.inserted} new, {self.updated} updated, {self.unchanged} unchanged"

    def __add__(self, other: WriteCounts) -> WriteCounts:
        return WriteCounts(
            self.inserted + other.inserted,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
        )


@dataclass(frozen=True)
class LexicalHit:
    """One full-text match: the item, its author and its BM25 score (higher is better)."""

    item_id: str
    person_id: str
    score: float


# How long a writer waits for another process's (or connection's) write to finish.
BUSY_TIMEOUT_S = 30.0

# Knowledge writes: items compared and written this many at a time; a call with at least
# BULK_FTS_ITEMS items indexes their full text in one statement after the rows (see
# `Store.upsert_knowledge`). FTS5 keeps up to "hashsize" bytes of new terms in memory
# before it writes a segment (1 MiB by default); a bulk write lets it keep 32 MiB.
ITEM_CHUNK = 10_000
BULK_FTS_ITEMS = 5_000
_FTS_WRITE_TRIGGERS = ("knowledge_ai", "knowledge_au")
_FTS_BULK_HASH_BYTES = 32 * 2**20
_FTS_DEFAULT_HASH_BYTES = 2**20


class Store:
    """All reads and writes of the whoknows database."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        # How many items each word matches, for `lexical_search(max_matches=...)`.
        self._word_counts: dict[str, int] = {}
        # Writers of this process take turns (chat handlers and the scheduler run in
        # threads); SQLite's own lock serialises them with other processes.
        self._lock = threading.RLock()
        self._reader: sqlite3.Connection | None = None  # see `_search_connection`
        self._reader_lock = threading.Lock()
        # One connection per thread: a sqlite3 connection must not be used by two threads
        # at once (a read in one thread interleaved with another's transaction breaks both:
        # "database is locked", "cannot commit - no transaction is active"). A thread
        # reads committed data only and writes in its own transactions. An in-memory
        # database exists only on its one connection, which threads then share.
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._shared: sqlite_utils.Database | None = None
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        first = self.db
        try:
            # Every table (the lifecycle's too) comes from the numbered migrations, applied
            # here once; a database of a newer whoknows is refused (SchemaError) untouched.
            self.schema = migrations.upgrade(first, self.path)
        except BaseException:
            self.close()
            raise
        if self.path != ":memory:":
            first.execute("PRAGMA journal_mode = WAL")

    @property
    def db(self) -> sqlite_utils.Database:
        """This thread's connection to the database (made on first use)."""
        if self._shared is not None:
            return self._shared
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = sqlite_utils.Database(self._connect())
            if self.path == ":memory:":
                self._shared = db
        return db

    def _connect(self) -> sqlite3.Connection:
        # Autocommit mode: transactions are opened explicitly by `transaction()`.
        conn = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_S
        )
        conn.execute("PRAGMA foreign_keys = ON")
        if self.path != ":memory:":
            conn.execute("PRAGMA synchronous = NORMAL")
            # 64 MiB of page cache (the default is 2 MiB): bulk imports into big indexes
            # would otherwise re-read the same B-tree pages from disk.
            conn.execute("PRAGMA cache_size = -65536")
        with self._connections_lock:
            self._connections.append(conn)
        return conn

    def close(self) -> None:
        """Close the connections (every thread's)."""
        with self._reader_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
        with self._connections_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()
        self._shared = None

    def checkpoint(self) -> None:
        """Copy what the write-ahead log holds into the database, as far as readers allow
        (a passive checkpoint: it never waits for anyone)."""
        if self.path != ":memory:":
            self.db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _search(self, sql: str, params: tuple[Any, ...]) -> sqlite3.Cursor:
        return self._search_connection().execute(sql, params)

    def _search_connection(self) -> sqlite3.Connection:
        """A read-only connection for full-text searches, so that a search can run in
        another thread while this one embeds the question (SQLite releases the GIL while
        it works) without waiting for, or seeing half of, a write on the main connection.
        An in-memory database has only the main connection."""
        if self.path == ":memory:":
            return self.db.conn
        if self._reader is None:
            reader = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            reader.execute("PRAGMA query_only = ON")
            self._reader = reader
        return self._reader

    # ----------------------------------------------------------------- transactions

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Run the enclosed writes atomically: all of them, or none if anything raises."""
        conn = self.db.conn
        # One connection serves every thread (chat handlers run in threads): the lock keeps
        # one thread's transaction from interleaving with another's statements.
        with self._lock:
            if conn.in_transaction:  # nested: the outer transaction decides
                yield
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                conn.execute("COMMIT")  # deferred foreign keys are checked here
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _next_seq(self) -> int:
        """Advance the change counter; call inside a transaction."""
        row = self.db.execute(
            "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'seq' RETURNING value"
        ).fetchone()
        return int(row[0])

    def _reserve_seqs(self, n: int) -> int:
        """Advance the change counter by `n` at once; returns the first of the `n` numbers
        (the rest follow it). Call inside a transaction."""
        row = self.db.execute(
            "UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = 'seq' RETURNING value",
            (n,),
        ).fetchone()
        return int(row[0]) - n + 1

    def mark_changed(self) -> int:
        """Advance the change counter for a change routers must notice that has no row of
        its own in the tables they read (a channel's learning switch, say)."""
        with self.transaction():
            return self._next_seq()

    def current_seq(self) -> int:
        """The newest change number written so far."""
        return int(self.db.execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()[0])

    def get_meta(self, key: str) -> str | None:
        """A value from the key/value meta table."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        """Set a value in the key/value meta table."""
        with self.transaction():
            self.db.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # ----------------------------------------------------------------------- people

    def upsert_people(self, people: Iterable[Person]) -> WriteCounts:
        """Insert new people and update changed ones, in one transaction.

        Rows identical to what is stored are not written, so re-importing a file is a no-op.
        """
        rows = [_person_row(p) for p in people]
        with self.transaction():
            existing = self._rows_by_id("people", PERSON_COLUMNS, [r["id"] for r in rows])
            counts = self._write_changed("people", rows, existing)
        return counts

    def get_person(self, person_id: str) -> Person | None:
        """The person with this id, or None."""
        row = self.db.execute(
            f"SELECT {', '.join(PERSON_COLUMNS)} FROM people WHERE id = ?", (person_id,)
        ).fetchone()
        return _person_from_row(dict(zip(PERSON_COLUMNS, row, strict=True))) if row else None

    def find_person(self, ref: str) -> Person | None:
        """Look a person up by id, email, Slack id or Teams id."""
        ref = ref.strip()
        row = self.db.execute(
            f"SELECT {', '.join(PERSON_COLUMNS)} FROM people "
            "WHERE id = ? OR email = lower(?) OR slack_id = ? OR teams_id = ? LIMIT 1",
            (ref, ref, ref, ref),
        ).fetchone()
        return _person_from_row(dict(zip(PERSON_COLUMNS, row, strict=True))) if row else None

    def people(self, since_seq: int = 0) -> list[Person]:
        """Everyone in the directory (or only those changed after `since_seq`)."""
        cur = self.db.execute(
            f"SELECT {', '.join(PERSON_COLUMNS)} FROM people WHERE seq > ? ORDER BY id",
            (since_seq,),
        )
        return [_person_from_row(dict(zip(PERSON_COLUMNS, r, strict=True))) for r in cur]

    def directory_rows(
        self, since_seq: int = 0
    ) -> list[tuple[str, str, str | None, str | None, int]]:
        """(id, name, manager_id, team, opted_out) of everyone changed after `since_seq`,
        by id: what the router keeps of each person (see `data.person_directory`)."""
        return self.db.execute(
            "SELECT id, name, manager_id, team, opted_out FROM people WHERE seq > ? ORDER BY id",
            (since_seq,),
        ).fetchall()

    def person_ids(self) -> set[str]:
        """The ids of everyone in the directory."""
        return {r[0] for r in self.db.execute("SELECT id FROM people")}

    def accounts(self, platform: str, user_ids: Iterable[str]) -> dict[str, tuple[str, str, bool]]:
        """(person id, name, opted out) of each of these Slack or Teams user ids
        (`platform` "slack" or "teams") that belongs to a person."""
        column = {"slack": "slack_id", "teams": "teams_id"}[platform]
        found: dict[str, tuple[str, str, bool]] = {}
        for chunk in _chunks(list(set(user_ids)), 500):
            cur = self.db.execute(
                f"SELECT {column}, id, name, opted_out FROM people "
                f"WHERE {column} IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            for account, pid, name, opted_out in cur:
                found[account] = (pid, name, bool(opted_out))
        return found

    def person_refs(self) -> dict[str, str]:
        """Map every id, email, Slack id and Teams id to the person's id."""
        refs: dict[str, str] = {}
        for pid, email, slack_id, teams_id in self.db.execute(
            "SELECT id, email, slack_id, teams_id FROM people"
        ):
            for ref in (email, slack_id, teams_id):
                if ref:
                    refs[ref] = pid
            refs[pid] = pid
        return refs

    def manager_map(self) -> dict[str, str | None]:
        """Each person's manager id (None for the top of the tree)."""
        return dict(self.db.execute("SELECT id, manager_id FROM people").fetchall())

    def set_opted_out(self, person_id: str, opted_out: bool) -> None:
        """Opt a person out of (or back into) being asked."""
        with self.transaction():
            self.db.execute(
                "UPDATE people SET opted_out = ?, seq = ? WHERE id = ?",
                (int(opted_out), self._next_seq(), person_id),
            )

    # --------------------------------------------------------------------- contacts

    def upsert_contacts(self, contacts: Iterable[Contact]) -> WriteCounts:
        """Insert or update explicit contact pairs (keyed by a, b, kind)."""
        rows: list[tuple[str, str, str, float, str | None]] = []
        for c in contacts:  # attributes, not model_dump(): a million rows at a time
            a, b = ordered_pair(c.a, c.b, c.kind)
            rows.append((a, b, c.kind, c.weight, c.created_at))
        # Key order, as the primary key appends; the sort is stable, so repeats of a key in
        # one call end up next to each other, in the order given.
        rows.sort(key=itemgetter(0, 1, 2))
        with self.transaction():
            conn = self.db.conn
            inserted = updated = unchanged = 0
            # Rows are compared with what is stored (or written earlier in this call), and
            # the changed ones written in one batch with consecutive change numbers.
            table_empty = conn.execute("SELECT 1 FROM contacts LIMIT 1").fetchone() is None
            changed: list[tuple[str, str, str, float, str | None]] = []
            key: tuple[str, ...] = ()
            written: tuple[float, str | None] | None = None  # by an earlier row of `key`
            for row in rows:
                if row[:3] != key:
                    key, written = row[:3], None
                old = written
                if old is None and not table_empty:
                    old = conn.execute(
                        "SELECT weight, created_at FROM contacts "
                        "WHERE a = ? AND b = ? AND kind = ?",
                        key,
                    ).fetchone()
                weight, created_at = row[3], row[4]
                if (
                    old is not None
                    and old[0] == weight
                    and (created_at is None or old[1] == created_at)
                ):
                    unchanged += 1
                    continue
                changed.append(row)
                written = (weight, created_at or (old[1] if old else None))
                if old is None:
                    inserted += 1
                else:
                    updated += 1
            if changed:
                first = self._reserve_seqs(len(changed))
                # Filling an empty table (a first import): indexing the finished table costs
                # less than a million inserts at random places in the indexes.
                bulk = table_empty and len(changed) >= 10_000
                with self._indexes_dropped("contacts", bulk):
                    conn.executemany(
                        "INSERT INTO contacts(a, b, kind, weight, created_at, seq) "
                        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(a, b, kind) DO UPDATE SET "
                        "weight = excluded.weight, "
                        "created_at = coalesce(excluded.created_at, contacts.created_at), "
                        "seq = excluded.seq",
                        [(*r, seq) for seq, r in enumerate(changed, first)],
                    )
        return WriteCounts(inserted, updated, unchanged)

    @contextmanager
    def _indexes_dropped(self, table: str, drop: bool = True) -> Iterator[None]:
        """Drop `table`'s own indexes (not the primary key's) for a bulk load, and create
        them again afterwards, even if the load fails (see `_schema_dropped`)."""
        with self._schema_dropped(
            "index", "WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", (table,), drop
        ):
            yield

    def strengthen_contact(
        self,
        a: str,
        b: str,
        kind: str,
        by: float = 1.0,
        at: str | None = None,
        cap: float | None = None,
    ) -> None:
        """Add `by` to the weight of a tie, creating it if needed (e.g. "a helped b again");
        with `cap`, the weight goes no higher than that (a stronger tie stays as it is)."""
        a, b = ordered_pair(a, b, kind)
        limit = float("inf") if cap is None else cap
        with self.transaction():
            self.db.execute(
                "INSERT INTO contacts(a, b, kind, weight, created_at, seq) "
                "VALUES (?, ?, ?, min(?, ?), ?, ?) ON CONFLICT(a, b, kind) DO UPDATE SET "
                "weight = max(contacts.weight, min(contacts.weight + excluded.weight, ?)), "
                "seq = excluded.seq",
                (a, b, kind, by, limit, at, self._next_seq(), limit),
            )

    def contacts(self, since_seq: int = 0) -> list[Contact]:
        """Stored contact pairs (or only those changed after `since_seq`)."""
        cur = self.db.execute(
            "SELECT a, b, kind, weight, created_at FROM contacts WHERE seq > ?", (since_seq,)
        )
        return [Contact(a=a, b=b, kind=k, weight=w, created_at=t) for a, b, k, w, t in cur]

    def contact_chunks(self, since_seq: int = 0, size: int = 10_000) -> Iterator[list[Contact]]:
        """`contacts(since_seq)` in lists of up to `size`, for readers of millions of rows.

        Rows come from the store, which validated them on the way in, so they are not
        validated again."""
        cur = self.db.execute(
            "SELECT a, b, kind, weight, created_at FROM contacts WHERE seq > ?", (since_seq,)
        )
        build = Contact.model_construct
        while rows := cur.fetchmany(size):
            yield [build(a=a, b=b, kind=k, weight=w, created_at=t) for a, b, k, w, t in rows]

    # -------------------------------------------------------------------- knowledge

    def upsert_knowledge(self, items: Iterable[KnowledgeItem]) -> WriteCounts:
        """Insert new knowledge items and update changed ones, in one transaction.

        Items are compared with what is stored (or written earlier in this call) and
        written ITEM_CHUNK at a time, each changed row with its own change number. A call
        of at least BULK_FTS_ITEMS items indexes the full text of what it changed in one
        statement after the rows, instead of row by row through the triggers (a third of
        the time of a million-message Slack import); the full-text index ends up holding
        exactly what the triggers would have put there."""
        items = items if isinstance(items, list) else list(items)
        with self.transaction():
            counts = self._write_items(items, bulk=len(items) >= BULK_FTS_ITEMS)
            self._word_counts.clear()
        return counts

    def _write_items(self, items: list[KnowledgeItem], bulk: bool) -> WriteCounts:
        """`upsert_knowledge`'s writes; call inside a transaction."""
        conn = self.db.conn
        inserted = updated = unchanged = 0
        # Into an empty table, only an id given twice in this call needs a look-up.
        fresh = conn.execute("SELECT 1 FROM knowledge LIMIT 1").fetchone() is None
        seen: set[str] = set()
        first_seq: int | None = None  # of this call's first written row
        upsert = (
            f"INSERT INTO knowledge ({', '.join(ITEM_COLUMNS)}, seq) "
            f"VALUES ({', '.join('?' * (len(ITEM_COLUMNS) + 1))}) ON CONFLICT(id) DO UPDATE SET "
            + ", ".join(f"{c} = excluded.{c}" for c in (*ITEM_COLUMNS[1:], "seq"))
        )
        with self._fts_triggers_dropped(bulk):
            for chunk in _chunks(items, ITEM_CHUNK):
                rows = [_item_tuple(i) for i in chunk]
                if fresh:
                    ids = [r[0] for r in rows if r[0] in seen]
                    seen.update(r[0] for r in rows)
                else:
                    ids = [r[0] for r in rows]
                existing = self._stored_items(ids)
                changed: list[tuple[Any, ...]] = []
                # The full text of stored rows this chunk changes, to take out of the index
                # (bulk only; the update trigger does it otherwise). Rows written earlier
                # in this call are not in the index yet.
                stale: list[tuple[Any, ...]] = []
                for row in rows:
                    old = existing.get(row[0])
                    if old is not None and old[2] == row:
                        unchanged += 1
                        continue
                    changed.append(row)
                    if old is None:
                        inserted += 1
                    else:
                        updated += 1
                        rowid, seq, stored = old
                        if bulk and rowid is not None and (first_seq is None or seq < first_seq):
                            stale.append((rowid, stored[2], stored[3], stored[7]))
                    existing[row[0]] = (None, None, row)
                if not changed:
                    continue
                first = self._reserve_seqs(len(changed))
                if first_seq is None:
                    first_seq = first
                if stale:
                    conn.executemany(
                        "INSERT INTO knowledge_fts(knowledge_fts, rowid, title, text, tags) "
                        "VALUES ('delete', ?, ?, ?, ?)",
                        stale,
                    )
                conn.executemany(upsert, [(*r, seq) for seq, r in enumerate(changed, first)])
            if bulk and first_seq is not None:
                self._index_full_text(first_seq)
        return WriteCounts(inserted, updated, unchanged)

    def _stored_items(self, ids: list[str]) -> dict[str, tuple[int, int, tuple[Any, ...]]]:
        """(rowid, seq, row of ITEM_COLUMNS) of the stored items among `ids`, by id."""
        found: dict[str, tuple[int, int, tuple[Any, ...]]] = {}
        for chunk in _chunks(ids, 500):
            cur = self.db.conn.execute(
                f"SELECT rowid, seq, {', '.join(ITEM_COLUMNS)} FROM knowledge "
                f"WHERE id IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            for r in cur:
                found[r[2]] = (r[0], r[1], r[2:])
        return found

    @contextmanager
    def _fts_triggers_dropped(self, drop: bool = True) -> Iterator[None]:
        """Drop the triggers that index each inserted or updated knowledge row (the caller
        indexes the rows itself) and create them again afterwards, even if the writes fail
        (see `_schema_dropped`)."""
        marks = ",".join("?" * len(_FTS_WRITE_TRIGGERS))
        where = f"WHERE type = 'trigger' AND name IN ({marks})"
        with self._schema_dropped("trigger", where, _FTS_WRITE_TRIGGERS, drop):
            yield

    @contextmanager
    def _schema_dropped(
        self, kind: str, where: str, params: tuple[str, ...], drop: bool
    ) -> Iterator[None]:
        """Drop the schema objects of `kind` that `where` picks from sqlite_master, and
        create them again from their own CREATE statements afterwards, even on failure.

        Call inside a transaction: other connections never see the table without them, and
        a crash or a rollback brings them back with everything else."""
        conn = self.db.conn
        objects: list[tuple[str, str]] = []
        if drop:
            found = conn.execute(f"SELECT name, sql FROM sqlite_master {where}", params)
            objects = found.fetchall()
        for name, _ in objects:
            conn.execute(f'DROP {kind.upper()} "{name}"')
        try:
            yield
        finally:
            for _, sql in objects:
                conn.execute(sql)

    def _index_full_text(self, first_seq: int) -> None:
        """Add every knowledge row written since `first_seq` (in this transaction) to the
        full-text index, in one statement, with a bigger buffer of pending terms (fewer,
        larger segments to merge); the buffer's size is put back afterwards."""
        conn = self.db.conn
        before = conn.execute("SELECT v FROM knowledge_fts_config WHERE k = 'hashsize'").fetchone()
        conn.execute(
            "INSERT INTO knowledge_fts(knowledge_fts, rank) VALUES ('hashsize', ?)",
            (_FTS_BULK_HASH_BYTES,),
        )
        try:
            conn.execute(
                "INSERT INTO knowledge_fts(rowid, title, text, tags) "
                "SELECT rowid, title, text, tags FROM knowledge WHERE seq >= ?",
                (first_seq,),
            )
        finally:
            conn.execute(
                "INSERT INTO knowledge_fts(knowledge_fts, rank) VALUES ('hashsize', ?)",
                (before[0] if before else _FTS_DEFAULT_HASH_BYTES,),
            )
            if before is None:  # as it was: no setting stored, FTS5's default in use
                conn.execute("DELETE FROM knowledge_fts_config WHERE k = 'hashsize'")

    def knowledge(self, since_seq: int = 0) -> list[KnowledgeItem]:
        """Stored knowledge items (or only those changed after `since_seq`)."""
        cur = self.db.execute(
            f"SELECT {', '.join(ITEM_COLUMNS)} FROM knowledge WHERE seq > ? ORDER BY seq",
            (since_seq,),
        )
        return [_item_from_row(dict(zip(ITEM_COLUMNS, r, strict=True))) for r in cur]

    def knowledge_chunks(
        self, since_seq: int = 0, size: int = 10_000
    ) -> Iterator[list[KnowledgeItem]]:
        """`knowledge(since_seq)` in lists of up to `size` (not validated again)."""
        cur = self.db.execute(
            f"SELECT {', '.join(ITEM_COLUMNS)} FROM knowledge WHERE seq > ? ORDER BY seq",
            (since_seq,),
        )
        while rows := cur.fetchmany(size):
            items = []
            for r in rows:
                row = dict(zip(ITEM_COLUMNS, r, strict=True))
                row["tags"] = json.loads(row["tags"] or "[]")
                row.pop("content_hash")
                items.append(KnowledgeItem.model_construct(**row))
            yield items

    def knowledge_of(self, person_id: str) -> list[KnowledgeItem]:
        """Everything a person wrote or declared, oldest first."""
        cur = self.db.execute(
            f"SELECT {', '.join(ITEM_COLUMNS)} FROM knowledge WHERE person_id = ? ORDER BY rowid",
            (person_id,),
        )
        return [_item_from_row(dict(zip(ITEM_COLUMNS, r, strict=True))) for r in cur]

    def delete_knowledge(self, item_ids: Iterable[str]) -> int:
        """Remove items (and their vectors); returns how many were removed."""
        ids = list(item_ids)
        with self.transaction():
            gone: list[str] = []
            for chunk in _chunks(ids, 500):
                marks = ",".join("?" * len(chunk))
                self.db.execute(f"DELETE FROM vectors WHERE item_id IN ({marks})", chunk)
                cur = self.db.execute(
                    f"DELETE FROM knowledge WHERE id IN ({marks}) RETURNING id", chunk
                )
                gone += [row[0] for row in cur.fetchall()]
            if gone:
                seq = self._next_seq()
                # Logged so that every router drops their vectors (`deleted_items`).
                self.db.conn.executemany(
                    "INSERT INTO knowledge_deletions(item_id, seq) VALUES (?, ?)",
                    [(item_id, seq) for item_id in gone],
                )
                self._word_counts.clear()
        return len(gone)

    def deleted_items(self, since_seq: int = 0) -> list[str]:
        """Ids of knowledge items deleted after change `since_seq` (some may exist again,
        written after their deletion)."""
        cur = self.db.execute(
            "SELECT item_id FROM knowledge_deletions WHERE seq > ? ORDER BY seq", (since_seq,)
        )
        return [row[0] for row in cur]

    def knowledge_ids_under(self, prefix: str) -> set[str]:
        """The ids of the items whose id starts with `prefix` (a range of the id index)."""
        cur = self.db.execute(
            "SELECT id FROM knowledge WHERE id >= ? AND id < ?", (prefix, prefix + "\U0010ffff")
        )
        return {row[0] for row in cur}

    def knowledge_items(self, item_ids: Iterable[str]) -> dict[str, KnowledgeItem]:
        """The items with these ids, by id."""
        ids = list(item_ids)
        found: dict[str, KnowledgeItem] = {}
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            cur = self.db.execute(
                f"SELECT {', '.join(ITEM_COLUMNS)} FROM knowledge WHERE id IN ({marks})", chunk
            )
            for r in cur:
                item = _item_from_row(dict(zip(ITEM_COLUMNS, r, strict=True)))
                found[item.id] = item
        return found

    def count(self, table: str) -> int:
        """Number of rows in one of the store's tables."""
        if table not in {"people", "contacts", "knowledge", "vectors", "chat_messages"}:
            raise ValueError(f"unknown table {table!r}")
        return int(self.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])

    # ---------------------------------------------------------------------- vectors

    def items_needing_vectors(self, model: str) -> list[tuple[str, str, str]]:
        """(item id, content hash, text to embed) for items with no current vector, in
        rowid order (all of `pages_needing_vectors`)."""
        return [row for page in self.pages_needing_vectors(model, 10_000) for row in page]

    def count_items_needing_vectors(self, model: str) -> int:
        """How many items `items_needing_vectors(model)` would list."""
        return int(
            self.db.execute(
                f"SELECT count(*) FROM knowledge k {_NO_CURRENT_VECTOR}", (model,)
            ).fetchone()[0]
        )

    def pages_needing_vectors(
        self, model: str, size: int = 512
    ) -> Iterator[list[tuple[str, str, str]]]:
        """`items_needing_vectors(model)` in pages of up to `size`, in rowid order.

        Each page is read by its own query after the caller is done with the previous one
        (keyset paging on rowid), so the caller can save vectors between pages, and only
        one page's texts are in memory at a time."""
        after = 0
        while True:
            rows = self.db.execute(
                "SELECT k.rowid, k.id, k.content_hash, k.title, k.tags, k.text FROM knowledge k "
                f"{_NO_CURRENT_VECTOR} AND k.rowid > ? ORDER BY k.rowid LIMIT ?",
                (model, after, size),
            ).fetchall()
            if not rows:
                return
            after = rows[-1][0]
            yield [(i, h, item_text(t, json.loads(tags), x)) for _, i, h, t, tags, x in rows]

    def save_vectors(self, model: str, rows: Iterable[tuple[str, str, np.ndarray]]) -> int:
        """Store (item id, content hash, vector) rows for `model`; returns how many."""
        values = []
        for item_id, chash, vec in rows:
            vec = np.asarray(vec, dtype=np.float32)
            values.append((item_id, model, chash, vec.shape[0], vec.tobytes()))
        if not values:
            return 0
        with self.transaction():
            first = self._reserve_seqs(len(values))
            self.db.conn.executemany(
                "INSERT INTO vectors(item_id, model, content_hash, dim, vector, seq) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(item_id, model) DO UPDATE SET "
                "content_hash = excluded.content_hash, dim = excluded.dim, "
                "vector = excluded.vector, seq = excluded.seq",
                [(*v, first + n) for n, v in enumerate(values)],
            )
        return len(values)

    def vectors(self, model: str, since_seq: int = 0) -> tuple[list[str], list[str], np.ndarray]:
        """(item ids, author ids, matrix) of current vectors for `model` changed after
        `since_seq`; the matrix is float32, one row per item."""
        cur = self.db.execute(
            "SELECT v.item_id, k.person_id, v.dim, v.vector FROM vectors v "
            "JOIN knowledge k ON k.id = v.item_id AND k.content_hash = v.content_hash "
            "WHERE v.model = ? AND v.seq > ? ORDER BY v.seq",
            (model, since_seq),
        )
        ids: list[str] = []
        people: list[str] = []
        blobs: list[bytes] = []
        dim = 0
        for item_id, person_id, d, blob in cur:
            ids.append(item_id)
            people.append(person_id)
            blobs.append(blob)
            dim = d
        if not blobs:
            return [], [], np.zeros((0, dim), dtype=np.float32)
        matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), dim)
        return ids, people, matrix

    def vector_chunks(
        self, model: str, since_seq: int = 0, size: int = 10_000
    ) -> Iterator[tuple[list[str], list[str], np.ndarray]]:
        """`vectors(model, since_seq)` in pieces of up to `size` rows, so that a million
        vectors never sit in memory twice (as blobs and as a matrix)."""
        cur = self.db.execute(
            f"SELECT {_CURRENT_VECTORS} WHERE v.model = ? AND v.seq > ? ORDER BY v.seq",
            (model, since_seq),
        )
        yield from _vector_batches(cur, size)

    def vectors_of(
        self, model: str, dim: int, item_ids: Sequence[str], size: int = 500
    ) -> Iterator[tuple[list[str], list[str], np.ndarray]]:
        """(ids, authors, matrix) of the current `dim`-wide vectors of these items, in
        pieces of up to `size` items (items with none are left out)."""
        for start in range(0, len(item_ids), size):
            chunk = list(item_ids[start : start + size])
            cur = self.db.execute(
                f"SELECT {_CURRENT_VECTORS} WHERE v.model = ? AND v.dim = ? "
                f"AND v.item_id IN ({','.join('?' * len(chunk))})",
                (model, dim, *chunk),
            )
            yield from _vector_batches(cur, len(chunk))

    def knowledge_id_chunks(self, size: int = 65536) -> Iterator[list[str]]:
        """Every knowledge item id, in pieces of up to `size` (an index-only scan)."""
        cur = self.db.execute("SELECT id FROM knowledge")
        while chunk := cur.fetchmany(size):
            yield [item for (item,) in chunk]

    def knowledge_vector_seqs(
        self, model: str, since_seq: int
    ) -> Iterator[tuple[str, str, int | None]]:
        """(item id, author, seq of its vector) for the items changed after `since_seq`;
        the seq is None when no vector of `model` matches the item's text now."""
        yield from self.db.execute(
            "SELECT k.id, k.person_id, v.seq FROM knowledge k "
            "LEFT JOIN vectors v ON v.item_id = k.id AND v.model = ? "
            "AND v.content_hash = k.content_hash WHERE k.seq > ?",
            (model, since_seq),
        )

    # ---------------------------------------------------------------------- lexical

    def lexical_search(
        self, question: str, limit: int = 200, max_matches: int = 0
    ) -> list[LexicalHit]:
        """Knowledge items that share words with `question`, best BM25 first.

        BM25 costs time for every matching item, so on a big corpus `max_matches` (> 0)
        bounds the work: the question's most common words are left out, most common first,
        until the others match at most about that many items (the rarest word always stays).
        Common words weigh least in BM25, so the best items change little.
        """
        words = fts_words(question)
        if max_matches > 0 and len(words) > 1:
            words = self._rarest_words(words, max_matches)
        query = " OR ".join(f'"{w}"' for w in words)
        if not query:
            return []
        with self._reader_lock:
            rows = self._search(_BEST_MATCHES, (query, limit)).fetchall()
        return [LexicalHit(i, p, float(s)) for i, p, s in rows]

    def _rarest_words(self, words: list[str], max_matches: int) -> list[str]:
        """The rarest of `words` whose matches add up to at most `max_matches` (at least
        one), in their original order."""
        counts = {}
        for word in words:
            found = self._word_counts.get(word)
            if found is None:
                with self._reader_lock:
                    found = self._search(_MATCH_COUNT, (f'"{word}"',)).fetchone()[0]
                if len(self._word_counts) > 100_000:
                    self._word_counts.clear()
                self._word_counts[word] = found
            counts[word] = found
        kept: set[str] = set()
        total = 0
        for word in sorted(words, key=counts.__getitem__):
            if kept and total + counts[word] > max_matches:
                break
            kept.add(word)
            total += counts[word]
        return [w for w in words if w in kept]

    # ---------------------------------------------------------------------- helpers

    def _rows_by_id(
        self, table: str, columns: tuple[str, ...], ids: list[str]
    ) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            cur = self.db.execute(
                f"SELECT {', '.join(columns)} FROM {table} WHERE id IN ({marks})", chunk
            )
            for r in cur:
                found[r[0]] = dict(zip(columns, r, strict=True))
        return found

    def _write_changed(
        self, table: str, rows: list[dict[str, Any]], existing: dict[str, dict[str, Any]]
    ) -> WriteCounts:
        inserted = updated = unchanged = 0
        # Changed rows are written in one batch per column set (callers pass one set), each
        # row with its own change number.
        batches: dict[tuple[str, ...], list[list[Any]]] = {}
        for row in rows:
            old = existing.get(row["id"])
            if old == row:
                unchanged += 1
                continue
            cols = tuple(row)
            batches.setdefault(cols, []).append([row[c] for c in cols])
            if old is None:
                inserted += 1
            else:
                updated += 1
            existing[row["id"]] = row
        for cols, values in batches.items():
            first = self._reserve_seqs(len(values))
            assignments = ", ".join(f"{c} = excluded.{c}" for c in [*cols, "seq"] if c != "id")
            self.db.conn.executemany(
                f"INSERT INTO {table} ({', '.join(cols)}, seq) VALUES "
                f"({', '.join('?' * (len(cols) + 1))}) "
                f"ON CONFLICT(id) DO UPDATE SET {assignments}",
                [[*v, first + n] for n, v in enumerate(values)],
            )
        return WriteCounts(inserted, updated, unchanged)


# Items of `knowledge k` with no vector of a model (the parameter) for their current text.
_NO_CURRENT_VECTOR = (
    "LEFT JOIN vectors v ON v.item_id = k.id AND v.model = ? "
    "WHERE (v.item_id IS NULL OR v.content_hash <> k.content_hash)"
)

# Vectors whose item still has the text they were computed from, with the item's author.
_CURRENT_VECTORS = (
    "v.item_id, k.person_id, v.dim, v.vector FROM vectors v "
    "JOIN knowledge k ON k.id = v.item_id AND k.content_hash = v.content_hash"
)


def _vector_batches(
    cur: sqlite3.Cursor, size: int
) -> Iterator[tuple[list[str], list[str], np.ndarray]]:
    """(ids, authors, matrix) from rows of `_CURRENT_VECTORS`, `size` rows at a time."""
    while rows := cur.fetchmany(size):
        ids, people, dims, blobs = zip(*rows, strict=True)
        matrix = np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(rows), dims[0])
        yield list(ids), list(people), matrix


# Rank inside the full-text table first and look up only the best `limit` items: joining
# every match to `knowledge` before sorting costs a third more.
_BEST_MATCHES = (
    "SELECT k.id, k.person_id, best.score FROM ("
    "  SELECT rowid, -bm25(knowledge_fts, 2.0, 1.0, 1.5) AS score FROM knowledge_fts"
    "  WHERE knowledge_fts MATCH ? ORDER BY score DESC LIMIT ?"
    ") AS best JOIN knowledge k ON k.rowid = best.rowid ORDER BY best.score DESC"
)
_MATCH_COUNT = "SELECT count(*) FROM knowledge_fts WHERE knowledge_fts MATCH ?"


def fts_words(text: str) -> list[str]:
    """The distinct content words of free text, in order (at most 64)."""
    words: list[str] = []
    for word in _WORD.findall(text.lower()):
        if len(word) > 1 and word not in _STOPWORDS and word not in words:
            words.append(word)
    return words[:64]


def fts_query(text: str) -> str:
    """Turn free text into a safe FTS5 query: its distinct content words, OR-ed."""
    return " OR ".join(f'"{w}"' for w in fts_words(text))


def _person_row(p: Person) -> dict[str, Any]:
    # Attributes, not model_dump(), which copies everything: a directory has 100,000 people.
    row = {c: getattr(p, c) for c in PERSON_COLUMNS}
    row["skills"] = json.dumps(p.skills)
    row["opted_out"] = int(p.opted_out)
    return row


def _person_from_row(row: dict[str, Any]) -> Person:
    row = dict(row)
    row["skills"] = json.loads(row["skills"] or "[]")
    row["opted_out"] = bool(row["opted_out"])
    return Person(**row)


def _item_tuple(item: KnowledgeItem) -> tuple[Any, ...]:
    """The item as stored: the values of ITEM_COLUMNS, in order."""
    # Attributes, not model_dump(), which copies everything: an import writes 300,000.
    tags = item.tags
    return (
        item.id,
        item.person_id,
        item.title,
        item.text,
        item.kind,
        item.source,
        item.url,
        json.dumps(tags) if tags else "[]",
        item.created_at,
        content_hash(item_text(item.title, tags, item.text)),
    )


def _item_from_row(row: dict[str, Any]) -> KnowledgeItem:
    row = dict(row)
    row["tags"] = json.loads(row["tags"] or "[]")
    row.pop("content_hash")
    return KnowledgeItem(**row)


def _chunks(seq: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(seq), size):
        yield seq[start : start + size]
