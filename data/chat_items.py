"""How chat messages become knowledge items and ties: one set of rules for every source of
chat (a Slack export, the Web API's history, live Slack and Teams messages, the replay of
the chat eval), so an item is the same whichever way its messages arrived.

- a thread: one item per author per thread per day, all their messages of that day in it
  joined, the root's text as title (kind "post" for the root's author, "answer" for the
  others). A root nobody has replied to is a lone message;
- lone channel messages: one item per author per channel per day.

Item ids are `<source>:<channel id>:<thread ts>:<user id>:<day>` and
`<source>:<channel id>:day:<day>:<user id>`, so the items of one thread or one channel day
are the ids under one prefix (`thread_prefix`, `day_prefix`).

A reply in someone else's thread is a "helped" tie from the replier to the root's author;
people who wrote in the same thread get an "interacted" tie weighted by the threads they
share (threads with more than MAX_THREAD_PEOPLE people give none); both capped at
MAX_TIE_WEIGHT.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from data.importers.readers import MAX_FIELD_CHARS
from data.models import Contact, KnowledgeItem

# Threads with more people than this say nothing about who talks with whom.
MAX_THREAD_PEOPLE = 20
# The strongest tie chat can make (the graph takes log2(1 + weight)).
MAX_TIE_WEIGHT = 10.0
# The longest title taken from a thread's root.
MAX_TITLE_CHARS = 120

_ANGLE = re.compile(r"<([^<>]*)>")

# (channel id, message ts, thread ts or None) -> a link back to the message.
LinkMaker = Callable[[str, str, str | None], str]


@dataclass(slots=True)
class ChatMessage:
    """One human message, as the item rules need it."""

    ts: float  # seconds since the epoch: the time order
    ts_text: str  # the platform's id of the message (Slack's exact ts string)
    sid: str  # the author's platform user id
    text: str  # the platform's markup
    thread: str | None  # the thread's root ts, for roots with replies and for replies
    parent: str | None  # the root's author, when the platform says so (parent_user_id)
    day: str  # YYYY-MM-DD (UTC) of `ts`
    channel: int  # index into the channel list given with the messages


def day_of(ts: float) -> str:
    """The UTC day of a message time, as items and export files name it."""
    return datetime.fromtimestamp(ts, UTC).date().isoformat()


def thread_prefix(source: str, channel: str, thread: str) -> str:
    """The start of the id of every item of one thread."""
    return f"{source}:{channel}:{thread}:"


def day_prefix(source: str, channel: str, day: str) -> str:
    """The start of the id of every lone-message item of one channel day."""
    return f"{source}:{channel}:day:{day}:"


class Cleaner:
    """Slack's markup as plain text: mentions as @Name, links as their label."""

    def __init__(self, names: Mapping[str, str], channels: Mapping[str, str]) -> None:
        self.names = names
        self.channels = channels

    def _angle(self, match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            sid = target[1:]
            return "@" + (self.names.get(sid) or label or sid)
        if target.startswith("#"):
            return "#" + (label or self.channels.get(target[1:]) or target[1:])
        if target.startswith("!"):
            if label:
                return label
            return "@" + target[1:].split("^", 1)[0]
        if target.startswith("mailto:") and not label:
            return target[7:]
        return label or target

    def clean(self, text: str) -> str:
        """`text` without Slack's markup, stripped."""
        if "<" in text:
            text = _ANGLE.sub(self._angle, text)
        if "&" in text:
            text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        return text.strip()


def slack_links(base: str | None, team: str | None) -> LinkMaker:
    """Links to Slack messages: `https://<workspace>.slack.com/archives/...` when the
    workspace is known (`base`), else `slack://channel?team=T..&id=C..&message=<ts>`."""

    def link(channel: str, ts: str, thread: str | None) -> str:
        if base is not None:
            url = f"{base}/archives/{channel}/p{ts.replace('.', '')}"
            if thread is not None and thread != ts:
                url += f"?thread_ts={thread}&cid={channel}"
            return url
        team_part = f"team={team}&" if team else ""
        return f"slack://channel?{team_part}id={channel}&message={ts}"

    return link


def iso_of(ts: float) -> str:
    """A message time as items and ties store it (UTC, to the second)."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def _snippet(text: str) -> str:
    first = " ".join(text.split())
    if len(first) > MAX_TITLE_CHARS:
        first = first[: MAX_TITLE_CHARS - 1].rstrip() + "…"
    return first


def _join(parts: list[str]) -> str:
    text = "\n".join(parts)
    if len(text) > MAX_FIELD_CHARS:
        text = text[: MAX_FIELD_CHARS - 1] + "…"
    return text


def thread_ties(authors: set[str], root: str | None) -> list[tuple[str, str, str]]:
    """The (a, b, kind) ties one thread makes: everyone who wrote there but its root's
    author helped the root's author; everyone there (root's author included) interacted
    with everyone else, in threads of up to MAX_THREAD_PEOPLE people. Person ids."""
    ties = [(pid, root, "helped") for pid in sorted(authors) if root is not None and pid != root]
    everyone = sorted(authors | ({root} if root is not None else set()))
    if 2 <= len(everyone) <= MAX_THREAD_PEOPLE:
        for i, a in enumerate(everyone):
            ties += [(a, b, "interacted") for b in everyone[i + 1 :]]
    return ties


def build_items(
    messages: list[ChatMessage],
    channels: list[tuple[str, str]],
    people: Mapping[str, str],
    cleaner: Cleaner,
    link: LinkMaker,
    source: str = "slack",
    credits: list[tuple[str, str, str, str, str]] | None = None,
) -> tuple[list[KnowledgeItem], list[Contact], int]:
    """Items and ties from the human messages of people we know (`people`: person id by
    platform user id); and how many messages were left out because their author is not a
    person (a bot, deactivated, unknown). `channels` are (id, name), as the messages'
    `channel` indexes them. Sorts `messages` in place. With `credits`, each thread's ties
    are appended to it as (channel id, thread ts, a, b, kind): see `thread_ties`."""
    messages.sort(key=lambda m: (m.channel, m.ts))
    threads: dict[tuple[int, str], list[ChatMessage]] = defaultdict(list)
    lone: list[ChatMessage] = []
    seen: set[tuple[int, str]] = set()
    left_out = 0
    for m in messages:
        if (m.channel, m.ts_text) in seen:  # the same message in two files
            continue
        seen.add((m.channel, m.ts_text))
        if m.thread is None:
            lone.append(m)
        else:
            threads[(m.channel, m.thread)].append(m)
    # A root nobody replied to (among these messages) is a lone message.
    for key in [k for k, v in threads.items() if len(v) == 1 and v[0].ts_text == k[1]]:
        lone.append(threads.pop(key)[0])

    items: list[KnowledgeItem] = []
    helped: dict[tuple[str, str], int] = defaultdict(int)
    interacted: dict[tuple[str, str], int] = defaultdict(int)
    for (channel, thread), thread_messages in threads.items():
        cid, cname = channels[channel]
        root = next((m for m in thread_messages if m.ts_text == thread), None)
        root_sid = root.sid if root else next((m.parent for m in thread_messages if m.parent), None)
        root_text = cleaner.clean(root.text) if root else ""
        title = _snippet(root_text) if root_text else f"Thread in #{cname}"
        root_pid = people.get(root_sid) if root_sid else None
        groups: dict[tuple[str, str], list[ChatMessage]] = defaultdict(list)
        for m in thread_messages:
            if m.sid not in people:
                left_out += 1
                continue
            groups[(m.sid, m.day)].append(m)
        authors: set[str] = set()
        for (sid, day), group in groups.items():
            pid = people[sid]
            authors.add(pid)
            texts = [t for t in (cleaner.clean(m.text) for m in group) if t]
            own = sid == root_sid
            if not texts:
                continue
            first = group[0]
            items.append(
                KnowledgeItem(
                    id=f"{thread_prefix(source, cid, thread)}{sid}:{day}",
                    person_id=pid,
                    text=_join(texts),
                    title=title,
                    kind="post" if own else "answer",
                    source=source,
                    url=link(cid, first.ts_text, thread),
                    created_at=iso_of(first.ts),
                )
            )
        for a, b, kind in thread_ties(authors, root_pid):
            (helped if kind == "helped" else interacted)[(a, b)] += 1
            if credits is not None:
                credits.append((cid, thread, a, b, kind))

    days: dict[tuple[int, str, str], list[ChatMessage]] = defaultdict(list)
    for m in lone:
        if m.sid not in people:
            left_out += 1
            continue
        days[(m.channel, m.day, m.sid)].append(m)
    for (channel, day, sid), group in days.items():
        group.sort(key=lambda m: m.ts)
        texts = [t for t in (cleaner.clean(m.text) for m in group) if t]
        if not texts:
            continue
        cid, cname = channels[channel]
        first = group[0]
        items.append(
            KnowledgeItem(
                id=f"{day_prefix(source, cid, day)}{sid}",
                person_id=people[sid],
                text=_join(texts),
                title=f"#{cname}, {day}",
                kind="post",
                source=source,
                url=link(cid, first.ts_text, None),
                created_at=iso_of(first.ts),
            )
        )

    ties = [
        Contact(a=a, b=b, kind="helped", weight=min(float(n), MAX_TIE_WEIGHT))
        for (a, b), n in helped.items()
    ]
    ties += [
        Contact(a=a, b=b, kind="interacted", weight=min(float(n), MAX_TIE_WEIGHT))
        for (a, b), n in interacted.items()
    ]
    return items, ties, left_out
