"""Learning who knows what from chat as it happens: a message posted, edited or deleted in
a channel becomes, changes or leaves its author's knowledge, and a reply in someone's
thread is a "helped" tie. Platform-free: the Slack and Teams adapters (and the Web API
history backfill) hand it `Said` messages in the platform's own ids.

Each message is stored (`data.chat_store`), then the items of the threads and channel days
it touches are rebuilt from every stored message there by the same rules as an export
import (`data.chat_items`), and items a rebuild no longer makes are deleted: the result
is the same whatever order and way the messages came in. A thread's ties (the export's
rule, `data.chat_items.thread_ties`) are counted into the contacts once each, when they
first hold (`chat_ties` remembers), so a replayed event adds nothing. One difference from
an export remains: a thread that grows past MAX_THREAD_PEOPLE keeps the "interacted" ties
it made while it was smaller.

Privacy: a channel is learned from only if `ChannelRow.learning`: public channels by
default, and an admin can switch any channel off, or a private one on. What a private
channel teaches counts only for its members (`bot.learning.audience`). Opted-out people's
messages are stored without their text (a thread's shape still needs them) and make no
item.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from data.chat_items import (
    MAX_TIE_WEIGHT,
    Cleaner,
    LinkMaker,
    build_items,
    day_of,
    day_prefix,
    iso_of,
    thread_prefix,
    thread_ties,
)
from data.chat_store import ChannelRow, ChatStore, StoredMessage
from data.models import KnowledgeItem
from data.store import Store, WriteCounts

_MENTION = re.compile(r"<@([A-Za-z0-9]+)")


@dataclass(frozen=True)
class Said:
    """One human message in a channel, in the platform's own ids."""

    channel: str
    ts: str  # the platform's id of the message (Slack's ts)
    at: float  # seconds since the epoch
    author: str  # the platform's user id
    text: str
    thread: str | None = None  # the root's ts, for a reply (or a root with replies)
    parent_author: str | None = None  # the root's author, when the platform says


@dataclass
class Learned:
    """What one call changed."""

    messages: int = 0  # stored (new or changed)
    skipped: int = 0  # in channels not learned from
    removed: int = 0  # messages forgotten
    items: WriteCounts = field(default_factory=WriteCounts)
    items_deleted: int = 0
    ties: int = 0

    def add(self, other: Learned) -> None:
        """Fold another call's counts into this one."""
        self.messages += other.messages
        self.skipped += other.skipped
        self.removed += other.removed
        self.items += other.items
        self.items_deleted += other.items_deleted
        self.ties += other.ties


# A thread ("thread", channel, root ts, "") or one author's lone messages of a channel day
# ("day", channel, YYYY-MM-DD, user id): the unit an item is rebuilt from. A day is kept per
# author so that a message in a busy channel rebuilds one item, not the whole day's.
Key = tuple[str, str, str, str]


class ChatLearner:
    """Turns one platform's channel messages into knowledge and ties, as they come."""

    def __init__(self, store: Store, platform: str, link: LinkMaker) -> None:
        self.store = store
        self.chat = ChatStore(store)
        self.platform = platform
        self.source = platform  # item ids and `source`: "slack:...", "teams:..."
        self.link = link

    # ------------------------------------------------------------------ channels

    def see_channel(
        self, channel: str, name: str | None = None, private: bool | None = None
    ) -> None:
        """Record what the platform says of a channel (its name, whether it is private)."""
        with self.store.transaction():
            self.chat.see_channels(self.platform, [(channel, name, private)])

    def learning(self, channel: str) -> bool:
        """Whether messages of `channel` are learned from (never, for a channel not seen)."""
        row = self.chat.channel(self.platform, channel)
        return row is not None and learns_from(row)

    def switch(self, channel: str, learn: bool | None) -> Learned:
        """An admin's switch: learning on or off for one channel, or None for the default.
        Switching a channel off forgets its messages and the knowledge made of them."""
        done = Learned()
        with self.store.transaction():
            self.chat.set_learning(self.platform, channel, learn)
            row = self.chat.channel(self.platform, channel)
            if row is not None and not learns_from(row):
                keys: set[Key] = set()
                for thread, day, author in self.chat.drop_channel(self.platform, channel):
                    keys.add(
                        ("thread", channel, thread, "") if thread else ("day", channel, day, author)
                    )
                    done.removed += 1
                self._rebuild(keys, done)
        return done

    # ------------------------------------------------------------------ messages

    def learn(self, said: Iterable[Said]) -> Learned:
        """Store new or edited messages and rebuild the knowledge they touch, in one
        transaction. Messages of channels not learned from are skipped."""
        done = Learned()
        messages = sorted(said, key=lambda s: (s.at, s.ts))
        if not messages:
            return done
        with self.store.transaction():
            wanted = {c: self.learning(c) for c in {m.channel for m in messages}}
            keep = [m for m in messages if wanted[m.channel]]
            done.skipped = len(messages) - len(keep)
            if not keep:
                return done
            accounts = self.store.accounts(self.platform, {m.author for m in keep})
            stored = [_stored(m, accounts) for m in keep]
            self.chat.put(self.platform, stored)
            done.messages = len(stored)
            keys: set[Key] = set()
            for m in keep:
                keys |= self._keys_of(m.channel, m.ts)
            self._rebuild(keys, done)
            threads = {(channel, what) for kind, channel, what, _ in keys if kind == "thread"}
            ties = self._credit(threads, accounts)
            for a, b, kind, at in ties:
                self.store.strengthen_contact(a, b, kind, 1.0, at, cap=MAX_TIE_WEIGHT)
            done.ties = len(ties)
        return done

    def forget(self, channel: str, ts: str) -> Learned:
        """A message was deleted: remove it and rebuild what it was part of."""
        done = Learned()
        with self.store.transaction():
            gone = self.chat.delete(self.platform, channel, ts)
            if gone is None:
                return done
            done.removed = 1
            keys: set[Key] = {("day", channel, gone.day, gone.author)}
            if gone.thread is not None:
                keys.add(("thread", channel, gone.thread, ""))
                root = self.chat.get(self.platform, channel, gone.thread)
                if root is not None:  # it may be lone again: its day is rebuilt too
                    keys.add(("day", channel, root.day, root.author))
            self._rebuild(keys, done)
        return done

    def _keys_of(self, channel: str, ts: str) -> set[Key]:
        """The thread and days whose items a stored message is part of, and the day its
        thread's root was a lone message of until now."""
        m = self.chat.get(self.platform, channel, ts)
        if m is None:
            return set()
        if m.thread is None:
            return {("day", channel, m.day, m.author)}
        keys: set[Key] = {("thread", channel, m.thread, ""), ("day", channel, m.day, m.author)}
        root = m if m.thread == ts else self.chat.get(self.platform, channel, m.thread)
        if root is not None:
            keys.add(("day", channel, root.day, root.author))
        return keys

    def _credit(
        self, threads: set[tuple[str, str]], accounts: dict[str, tuple[str, str, bool]]
    ) -> list[tuple[str, str, str, str]]:
        """(a, b, kind, at) ties of these threads, as they stand now, that were never
        counted before (`thread_ties`: the export's rule). Counting each thread's tie once,
        when it first holds, makes the result the same in any order of arrival."""
        out: list[tuple[str, str, str, str]] = []
        for channel, thread in sorted(threads):
            messages = self.chat.thread(self.platform, channel, thread)
            if not messages:
                continue
            root = next((m for m in messages if m.ts == thread), None)
            root_user = (
                root.author
                if root
                else next((m.parent_author for m in messages if m.parent_author), None)
            )
            users = {m.author for m in messages} | ({root_user} if root_user else set())
            missing = users - accounts.keys()
            if missing:
                accounts.update(self.store.accounts(self.platform, missing))
            person = {u: a[0] for u, a in accounts.items() if u in users and not a[2]}
            authors = {person[m.author] for m in messages if m.author in person}
            ties = thread_ties(authors, person.get(root_user) if root_user else None)
            when = iso_of(max(m.at for m in messages))
            for a, b, kind in self.chat.credit(self.platform, channel, thread, ties):
                out.append((a, b, kind, when))
        return out

    def _rebuild(self, keys: set[Key], done: Learned) -> None:
        """Rebuild the items of these threads and channel days from the stored messages;
        delete the items a rebuild no longer makes. Call inside a transaction."""
        items, gone = [], []
        for kind, channel, what, author in sorted(keys):
            if kind == "thread":
                prefix = thread_prefix(self.source, channel, what)
                messages = self.chat.thread(self.platform, channel, what)
                built = [i for i in self._build(channel, messages) if i.id.startswith(prefix)]
                had = self.store.knowledge_ids_under(prefix)
            else:
                item_id = day_prefix(self.source, channel, what) + author
                messages = self.chat.lone(self.platform, channel, what, author)
                built = [i for i in self._build(channel, messages) if i.id == item_id]
                had = {i for i in self.store.knowledge_ids_under(item_id) if i == item_id}
            gone += sorted(had - {i.id for i in built})
            items += built
        if gone:
            done.items_deleted += self.store.delete_knowledge(gone)
        if items:
            done.items += self.store.upsert_knowledge(items)

    def _build(self, channel: str, messages: list[StoredMessage]) -> list[KnowledgeItem]:
        if not messages:
            return []
        row = self.chat.channel(self.platform, channel)
        name = (row.name if row else None) or channel
        users = {m.author for m in messages}
        users |= {u for m in messages for u in _MENTION.findall(m.text)}
        accounts = self.store.accounts(self.platform, users)
        people = {u: pid for u, (pid, _, out) in accounts.items() if not out}
        names = {u: n for u, (_, n, _) in accounts.items()}
        chat = [m.as_chat_message() for m in messages]
        items, _, _ = build_items(
            chat, [(channel, name)], people, Cleaner(names, {}), self.link, self.source
        )
        return items


def learns_from(row: ChannelRow) -> bool:
    """Whether a channel's messages are learned: the admin's switch, else public only."""
    return row.learning


def _stored(m: Said, accounts: Mapping[str, tuple[str, str, bool]]) -> StoredMessage:
    account = accounts.get(m.author)
    opted_out = account is not None and account[2]
    return StoredMessage(
        m.channel,
        m.ts,
        m.at,
        m.thread,
        m.author,
        m.parent_author,
        "" if opted_out else m.text,
        day_of(m.at),
    )
