"""Storage of chat learned from: the human messages, and the channels with their switches.

Messages are kept so that an item (one author's messages of one thread and day, or of one
channel day: `data.chat_items`) can be rebuilt from everything said there whenever one of
its messages arrives, changes or goes, whichever way the others arrived (an export, the
Web API's history, live events).

One rule keeps `thread` simple to read: it is set on replies and on roots that have at
least one stored reply, and NULL on every other message (a root nobody has answered is a
lone message, as in the item rules). `ChatStore.put` and `ChatStore.delete` keep it.

It shares the Store's connection and transactions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from data.chat_items import ChatMessage
from data.store import Store


@dataclass(frozen=True)
class StoredMessage:
    """One message as stored."""

    channel: str
    ts: str
    at: float
    thread: str | None
    author: str
    parent_author: str | None
    text: str
    day: str

    def as_chat_message(self) -> ChatMessage:
        """The message for the item rules (its channel is the first of the list given)."""
        return ChatMessage(
            self.at, self.ts, self.author, self.text, self.thread, self.parent_author, self.day, 0
        )


@dataclass(frozen=True)
class ChannelRow:
    """A channel chat is learned from (or kept from)."""

    platform: str
    channel: str
    name: str | None
    private: bool
    learn: bool | None  # an admin's switch; None: the default for its kind
    history: dict[str, Any]

    @property
    def learning(self) -> bool:
        """Whether its messages are learned from: the admin's switch, else public only."""
        return self.learn if self.learn is not None else not self.private


_MESSAGE = "channel, ts, at, thread, author, parent_author, text, day"


class ChatStore:
    """Reads and writes of `chat_messages` and `chat_channels`."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def db(self):
        """The calling thread's connection (the Store keeps one per thread)."""
        return self.store.db

    # ------------------------------------------------------------------ messages

    def put(self, platform: str, messages: Iterable[StoredMessage], settle: bool = True) -> None:
        """Write messages, replacing stored ones with the same ts, and keep the thread
        rule (a bulk writer passes `settle=False` and calls `settle_all` once after).
        Call inside a transaction."""
        values = []
        threads: set[tuple[str, str]] = set()
        for m in messages:
            row = (m.channel, m.ts, m.at, m.thread, m.author, m.parent_author, m.text, m.day)
            values.append((platform, *row))
            # A reply settles its root; any other message may be a root itself.
            threads.add((m.channel, m.thread if m.thread is not None else m.ts))
        conn = self.db.conn
        conn.executemany(
            f"INSERT INTO chat_messages(platform, {_MESSAGE}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(platform, channel, ts) DO UPDATE SET at = excluded.at, "
            "thread = excluded.thread, author = excluded.author, "
            "parent_author = coalesce(excluded.parent_author, chat_messages.parent_author), "
            "text = excluded.text, day = excluded.day",
            values,
        )
        if settle:
            self.settle_threads(platform, threads)

    def settle_all(self, platform: str) -> None:
        """Apply the thread rule to every stored message of a platform (after a bulk
        `put`): two passes over the table, each reply looked up by the thread index."""
        reply = (
            "EXISTS (SELECT 1 FROM chat_messages r WHERE r.platform = m.platform "
            "AND r.channel = m.channel AND r.thread = m.ts AND r.ts <> m.ts)"
        )
        self.db.execute(
            f"UPDATE chat_messages AS m SET thread = ts WHERE platform = ? AND thread IS NULL "
            f"AND {reply}",
            (platform,),
        )
        self.db.execute(
            f"UPDATE chat_messages AS m SET thread = NULL WHERE platform = ? AND thread = ts "
            f"AND NOT {reply}",
            (platform,),
        )

    def settle_threads(self, platform: str, threads: Iterable[tuple[str, str]]) -> None:
        """Apply the thread rule to these (channel, thread ts) threads' roots: threaded if
        any reply is stored, lone otherwise."""
        conn = self.db.conn
        conn.executemany(
            "UPDATE chat_messages SET thread = CASE WHEN EXISTS (SELECT 1 FROM chat_messages r "
            "WHERE r.platform = ?1 AND r.channel = ?2 AND r.thread = ?3 AND r.ts <> ?3) "
            "THEN ?3 ELSE NULL END WHERE platform = ?1 AND channel = ?2 AND ts = ?3",
            [(platform, channel, thread) for channel, thread in threads],
        )

    def get(self, platform: str, channel: str, ts: str) -> StoredMessage | None:
        """One stored message, or None."""
        row = self.db.execute(
            f"SELECT {_MESSAGE} FROM chat_messages WHERE platform = ? AND channel = ? AND ts = ?",
            (platform, channel, ts),
        ).fetchone()
        return StoredMessage(*row) if row else None

    def delete(self, platform: str, channel: str, ts: str) -> StoredMessage | None:
        """Remove a message (and settle its thread's root); returns what was stored."""
        gone = self.get(platform, channel, ts)
        if gone is None:
            return None
        self.db.execute(
            "DELETE FROM chat_messages WHERE platform = ? AND channel = ? AND ts = ?",
            (platform, channel, ts),
        )
        if gone.thread is not None and gone.thread != ts:
            self.settle_threads(platform, [(channel, gone.thread)])
        return gone

    def thread(self, platform: str, channel: str, thread: str) -> list[StoredMessage]:
        """Every stored message of a thread (root included), in time order."""
        cur = self.db.execute(
            f"SELECT {_MESSAGE} FROM chat_messages WHERE platform = ? AND channel = ? "
            "AND thread = ? ORDER BY at, ts",
            (platform, channel, thread),
        )
        return [StoredMessage(*row) for row in cur]

    def lone(self, platform: str, channel: str, day: str, author: str) -> list[StoredMessage]:
        """One author's lone messages of one channel day (roots nobody replied to too)."""
        cur = self.db.execute(
            f"SELECT {_MESSAGE} FROM chat_messages WHERE platform = ? AND channel = ? "
            "AND day = ? AND author = ? AND thread IS NULL ORDER BY at, ts",
            (platform, channel, day, author),
        )
        return [StoredMessage(*row) for row in cur]

    def credit(
        self, platform: str, channel: str, thread: str, ties: Iterable[tuple[str, str, str]]
    ) -> list[tuple[str, str, str]]:
        """Record a thread's (a, b, kind) ties; returns those not recorded before, which
        the caller adds to the contacts (each thread counts once per tie). Call inside a
        transaction."""
        new = []
        for a, b, kind in ties:
            row = self.db.execute(
                "INSERT OR IGNORE INTO chat_ties(platform, channel, thread, a, b, kind) "
                "VALUES (?, ?, ?, ?, ?, ?) RETURNING 1",
                (platform, channel, thread, a, b, kind),
            ).fetchone()
            if row is not None:
                new.append((a, b, kind))
        return new

    def credit_many(self, platform: str, ties: Iterable[tuple[str, str, str, str, str]]) -> None:
        """Record (channel, thread, a, b, kind) ties in bulk (an import, which sets the
        contacts' weights itself). Call inside a transaction."""
        self.db.conn.executemany(
            "INSERT OR IGNORE INTO chat_ties(platform, channel, thread, a, b, kind) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(platform, *tie) for tie in ties],
        )

    def count(self, platform: str | None = None) -> int:
        """How many messages are stored (of one platform)."""
        if platform is None:
            return self.store.count("chat_messages")
        row = self.db.execute(
            "SELECT count(*) FROM chat_messages WHERE platform = ?", (platform,)
        ).fetchone()
        return int(row[0])

    # ------------------------------------------------------------------ channels

    def channel(self, platform: str, channel: str) -> ChannelRow | None:
        """A channel's row, or None if it was never seen."""
        row = self.db.execute(
            "SELECT platform, channel, name, private, learn, history FROM chat_channels "
            "WHERE platform = ? AND channel = ?",
            (platform, channel),
        ).fetchone()
        return _channel(row) if row else None

    def channels(self, platform: str | None = None) -> list[ChannelRow]:
        """Every channel seen (of one platform), by platform and id."""
        cur = self.db.execute(
            "SELECT platform, channel, name, private, learn, history FROM chat_channels "
            "WHERE ?1 IS NULL OR platform = ?1 ORDER BY platform, channel",
            (platform,),
        )
        return [_channel(row) for row in cur]

    def see_channels(
        self, platform: str, channels: Iterable[tuple[str, str | None, bool | None]]
    ) -> None:
        """Record (id, name, private) channels: new ones are added, a known one takes a
        name or privacy given (None: keep what is stored). Never touches an admin's
        switch or a history cursor."""
        self.db.conn.executemany(
            "INSERT INTO chat_channels(platform, channel, name, private) "
            "VALUES (?, ?, ?, coalesce(?, 0)) ON CONFLICT(platform, channel) DO UPDATE SET "
            "name = coalesce(excluded.name, chat_channels.name), "
            "private = CASE WHEN ?4 IS NULL THEN chat_channels.private ELSE ?4 END",
            [
                (platform, cid, name, None if private is None else int(private))
                for cid, name, private in channels
            ],
        )

    def set_learning(self, platform: str, channel: str, learn: bool | None) -> None:
        """An admin's switch for one channel (None: back to the default)."""
        with self.store.transaction():
            self.see_channels(platform, [(channel, None, None)])
            self.db.execute(
                "UPDATE chat_channels SET learn = ? WHERE platform = ? AND channel = ?",
                (None if learn is None else int(learn), platform, channel),
            )
            self.store.mark_changed()  # routers read who may see what again

    def set_history(self, platform: str, channel: str, history: dict[str, Any]) -> None:
        """Where a history backfill of the channel has got to."""
        with self.store.transaction():
            self.see_channels(platform, [(channel, None, None)])
            self.db.execute(
                "UPDATE chat_channels SET history = ? WHERE platform = ? AND channel = ?",
                (json.dumps(history, sort_keys=True), platform, channel),
            )

    # ------------------------------------------------------------------ members

    def set_members(self, platform: str, channel: str, person_ids: Iterable[str], at: str) -> None:
        """Who is in a (private) channel now, read at `at` (ISO time): replaces what was
        stored."""
        with self.store.transaction():
            self.see_channels(platform, [(channel, None, None)])
            self.db.execute(
                "DELETE FROM chat_members WHERE platform = ? AND channel = ?", (platform, channel)
            )
            self.db.execute(
                "UPDATE chat_channels SET members_at = ? WHERE platform = ? AND channel = ?",
                (at, platform, channel),
            )
            self.db.conn.executemany(
                "INSERT OR IGNORE INTO chat_members(platform, channel, person_id) VALUES (?, ?, ?)",
                [(platform, channel, pid) for pid in person_ids],
            )

    def join(self, platform: str, channel: str, person_id: str, joined: bool = True) -> None:
        """One person joined (or, `joined` False, left) a channel."""
        with self.store.transaction():
            if joined:
                self.db.execute(
                    "INSERT OR IGNORE INTO chat_members(platform, channel, person_id) "
                    "VALUES (?, ?, ?)",
                    (platform, channel, person_id),
                )
            else:
                self.db.execute(
                    "DELETE FROM chat_members WHERE platform = ? AND channel = ? AND person_id = ?",
                    (platform, channel, person_id),
                )

    def members_read_at(self, platform: str, channel: str) -> str | None:
        """When a channel's members were last read (None: never)."""
        row = self.db.execute(
            "SELECT members_at FROM chat_channels WHERE platform = ? AND channel = ?",
            (platform, channel),
        ).fetchone()
        return row[0] if row else None

    def members(self, platform: str, channel: str) -> set[str]:
        """The person ids stored as members of a channel."""
        cur = self.db.execute(
            "SELECT person_id FROM chat_members WHERE platform = ? AND channel = ?",
            (platform, channel),
        )
        return {row[0] for row in cur}

    def channels_of(self, person_id: str) -> set[tuple[str, str]]:
        """The (platform, channel) pairs a person is a stored member of."""
        cur = self.db.execute(
            "SELECT platform, channel FROM chat_members WHERE person_id = ?", (person_id,)
        )
        return {(p, c) for p, c in cur}

    def private_learned(self) -> list[tuple[str, str]]:
        """(platform, channel) of the private channels an admin switched learning on."""
        cur = self.db.execute(
            "SELECT platform, channel FROM chat_channels WHERE private = 1 AND learn = 1 "
            "ORDER BY platform, channel"
        )
        return [(p, c) for p, c in cur]

    def learned_by_channel(self, platform: str | None = None) -> list[tuple[str, str, int, int]]:
        """(platform, channel, messages, authors) for every channel with stored messages."""
        cur = self.db.execute(
            "SELECT platform, channel, count(*), count(DISTINCT author) FROM chat_messages "
            "WHERE ?1 IS NULL OR platform = ?1 GROUP BY platform, channel "
            "ORDER BY platform, channel",
            (platform,),
        )
        return [(p, c, int(n), int(a)) for p, c, n, a in cur]

    def drop_channel(self, platform: str, channel: str) -> list[tuple[str | None, str, str]]:
        """Forget every stored message of a channel (learning was switched off); returns
        the (thread, day, author) of each, so the caller can remove their items. Call
        inside a transaction."""
        rows = self.db.execute(
            "DELETE FROM chat_messages WHERE platform = ? AND channel = ? "
            "RETURNING thread, day, author",
            (platform, channel),
        ).fetchall()
        return [(thread, day, author) for thread, day, author in rows]


def _channel(row: tuple[Any, ...]) -> ChannelRow:
    platform, channel, name, private, learn, history = row
    return ChannelRow(
        platform,
        channel,
        name,
        bool(private),
        None if learn is None else bool(learn),
        json.loads(history) if history else {},
    )


__all__ = ["ChannelRow", "ChatStore", "StoredMessage"]
