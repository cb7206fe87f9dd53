"""The chat-routing protocol of EVAL-CHAT.md: which thread roots are questions, who the gold
replier is, and who the candidates are, from nothing but each message's own fields.

An export is a snapshot of a whole period, so some of its fields know the future (a root's
`replies`, `reply_count`, `reply_users`, `latest_reply`; the members of channels). None of
them is read here: threads are rebuilt from each message's own `thread_ts`, and a person
exists from their first message on.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from data.importers.errors import ProblemList
from data.importers.slack_export import (  # the importer's reader: the same checks
    SLACKBOT_ID,
    _Export,
    _raise,
    _read_channels,
    _read_messages,
    _read_users,
)

# Prose is the text without code and without <...> links and mentions: Racket and Clojure
# predicates end in `?`, and URLs carry `?`.
_CODE_BLOCK = re.compile(r"```.*?(```|$)", re.DOTALL)
_INLINE_CODE = re.compile(r"`[^`]*`")
_ANGLE = re.compile(r"<[^<>]*>")
_WORD = re.compile(r"\S+")
QUESTION_OPENERS = (
    "how", "what", "what's", "whats", "why", "where", "when", "which", "who", "whom",
    "whose", "is", "are", "does", "do", "did", "can", "could", "should", "would", "will",
    "has anyone", "have anyone", "anyone", "anybody", "any idea", "any ideas", "is there",
    "are there",
)  # fmt: skip
_OPENER = re.compile(
    r"^\W*("
    + "|".join(re.escape(w) for w in sorted(QUESTION_OPENERS, key=len, reverse=True))
    + r")(?![\w'])",
    re.IGNORECASE,
)
MIN_WORDS = 4


@dataclass(frozen=True, slots=True)
class ChatLine:
    """One human message of the export, as the replay sees it."""

    ts: float
    ts_text: str  # Slack's exact ts string: question ids and the time order's tie-break
    user: str
    text: str  # raw Slack markup
    channel: str  # channel id
    channel_name: str
    thread: str | None  # the thread's root ts (roots and replies), None for a lone message

    @property
    def is_reply(self) -> bool:
        return self.thread is not None and self.thread != self.ts_text

    @property
    def thread_key(self) -> tuple[str, str]:
        """The thread a message belongs to; a lone message is a thread of its own."""
        return self.channel, self.thread or self.ts_text


@dataclass
class ChatQuestion:
    """A thread root that reads as a question and that someone else replied to."""

    root: ChatLine
    gold: str  # the first other person who replied
    repliers: list[str]  # every other person who replied, in order of their first reply
    index: int  # the root's position in the time order: everything before it is the past
    answered_at: float  # when the gold first replied: from then on it can be learned from

    @property
    def id(self) -> str:
        return self.root.ts_text

    @property
    def asker(self) -> str:
        return self.root.user


@dataclass
class ChatTimeline:
    """Every human message of an export in time order, and the questions among them."""

    lines: list[ChatLine]
    names: dict[str, str]  # user id -> display name (users.json, only for showing)
    questions: list[ChatQuestion] = field(default_factory=list)  # all, evaluable or not
    evaluable: list[ChatQuestion] = field(default_factory=list)


def prose(text: str) -> str:
    """The text without code blocks, inline code, and <...> links and mentions."""
    text = _CODE_BLOCK.sub(" ", text)
    text = _INLINE_CODE.sub(" ", text)
    return _ANGLE.sub(" ", text)


def looks_like_question(text: str) -> bool:
    """EVAL-CHAT.md's rule: at least 4 words of prose, and a `?` in the prose or a prose
    that opens with a question word or phrase."""
    words = prose(text)
    if len(_WORD.findall(words)) < MIN_WORDS:
        return False
    return "?" in words or _OPENER.match(words.strip()) is not None


def timeline_of(lines: Iterable[ChatLine], names: dict[str, str]) -> ChatTimeline:
    """Sort messages by time and find the questions (all answered roots that read as
    questions) and the evaluable ones (whose gold had posted before)."""
    ordered = sorted(lines, key=lambda m: (m.ts, m.ts_text, m.channel))
    timeline = ChatTimeline(ordered, names)
    roots: dict[tuple[str, str], int] = {}
    replies: dict[tuple[str, str], list[str]] = {}
    first_reply: dict[tuple[str, str], float] = {}
    first_post: dict[str, int] = {}
    for i, line in enumerate(ordered):
        first_post.setdefault(line.user, i)
        if line.thread is None:
            continue
        key = line.thread_key
        if not line.is_reply:
            roots.setdefault(key, i)
        elif key in roots:  # a reply whose root is not in the export cannot be scored
            root = ordered[roots[key]]
            if line.user != root.user and line.user not in replies.setdefault(key, []):
                replies[key].append(line.user)
                first_reply.setdefault(key, line.ts)
    for key, i in sorted(roots.items(), key=lambda kv: kv[1]):
        root = ordered[i]
        others = replies.get(key)
        if not others or not looks_like_question(root.text):
            continue
        question = ChatQuestion(root, others[0], others, i, first_reply[key])
        timeline.questions.append(question)
        # The gold must be someone the router could know: posted strictly before.
        if first_post[question.gold] < i and ordered[first_post[question.gold]].ts < root.ts:
            timeline.evaluable.append(question)
    return timeline


def read_timeline(path: Path) -> ChatTimeline:
    """The timeline of a Slack export (folder or zip), read with the importer's checks.
    Raises ImportFailed, with every problem, for an export that cannot be read."""
    path = Path(path)
    top = ProblemList(path)
    lists = [top]
    export = _Export(path, top)
    try:
        if top:
            _raise(lists)
        users = _read_users(export, lists)
        channels = _read_channels(export, lists)
        messages, _ = _read_messages(export, channels, lists, None, users)
        _raise(lists)
    finally:
        export.close()
    # Every human poster counts, deactivated ones too (they answered in the period);
    # bot messages were left out by the reader, and Slackbot is nobody to route to.
    lines = [
        ChatLine(
            m.ts,
            m.ts_text,
            m.sid,
            m.text,
            channels[m.channel][0],
            channels[m.channel][1],
            m.thread,
        )
        for m in messages
        if m.sid != SLACKBOT_ID
    ]
    return timeline_of(lines, {u.sid: u.name for u in users.values()})
