"""Read a StackExchange data dump folder into plain, typed, time-ordered records.

The dump format is the public one (Posts.xml, Users.xml, Comments.xml, ...: one `<row .../>`
per record). Only what routing evaluation needs is kept; see /work/shared/EVAL.md for the
protocol that `evaluable_questions` and `relevance_of` implement.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from html.parser import HTMLParser
from pathlib import Path

from data.importers.errors import ImportFailed, ProblemList

REQUIRED_FILES = ("Posts.xml", "Users.xml", "Comments.xml")

# Posts.xml PostTypeId values we keep; the others (tag wikis, moderator nominations, ...) are
# not questions people answer.
POST_TYPES = {"1": "question", "2": "answer"}

# StackExchange's "Community" bot account owns wikis and orphaned posts; it is nobody to route to.
COMMUNITY_USER_ID = "-1"

# Event kinds in the order they sort when two records share a timestamp: a question exists before
# its answers, and posts before the comments on them.
EVENT_KIND_ORDER = {"question": 0, "answer": 1, "comment": 2}


@dataclass(frozen=True)
class SEPost:
    """A question or an answer from Posts.xml, with its body as plain text."""

    id: str
    post_type: str  # "question" | "answer"
    owner_id: str | None  # None for deleted users and the Community account
    parent_id: str | None  # the question, for answers
    accepted_answer_id: str | None  # for questions
    created_at: str  # ISO, exactly as in the dump, e.g. "2014-01-21T20:26:05.383"
    score: int
    title: str | None
    tags: list[str]
    body_text: str

    @property
    def kind(self) -> str:
        """The event kind: "question" or "answer"."""
        return self.post_type

    @property
    def author_id(self) -> str | None:
        """Who wrote it (same as `owner_id`); shared with SEComment for replay code."""
        return self.owner_id

    @property
    def created(self) -> datetime:
        """`created_at` as a naive UTC datetime."""
        return parse_time(self.created_at)


@dataclass(frozen=True)
class SEComment:
    """A comment from Comments.xml. `post_id` may name a post that is not in `SEDump.posts`
    (a tag wiki, or a post deleted before the dump)."""

    id: str
    post_id: str
    user_id: str | None  # None for deleted users and the Community account
    created_at: str
    text: str

    @property
    def kind(self) -> str:
        """The event kind: always "comment"."""
        return "comment"

    @property
    def author_id(self) -> str | None:
        """Who wrote it (same as `user_id`); shared with SEPost for replay code."""
        return self.user_id

    @property
    def created(self) -> datetime:
        """`created_at` as a naive UTC datetime."""
        return parse_time(self.created_at)


@dataclass(frozen=True)
class SEUser:
    """A user from Users.xml."""

    id: str
    name: str
    created_at: str | None


SEEvent = SEPost | SEComment


@dataclass(frozen=True)
class SEDump:
    """Everything read from one dump folder, with time-ordered views over it."""

    posts: dict[str, SEPost]
    comments: list[SEComment]
    users: dict[str, SEUser]

    def questions(self) -> list[SEPost]:
        """All questions, oldest first."""
        return list(self._questions)

    def answers_of(self, question_id: str) -> list[SEPost]:
        """The answers to one question, oldest first (empty if none or unknown)."""
        return list(self._answers_by_question.get(question_id, ()))

    def comments_of(self, post_id: str) -> list[SEComment]:
        """The comments on one post, oldest first (empty if none)."""
        return list(self._comments_by_post.get(post_id, ()))

    def events(self) -> list[SEEvent]:
        """Every post and comment as one list in time order, ties broken by kind
        (question, answer, comment) then by id, so a replay can walk time."""
        return list(self._events)

    @cached_property
    def _events(self) -> tuple[SEEvent, ...]:
        # Dataclass is frozen; cached_property writes the instance __dict__ directly, which is
        # allowed, so the sort happens once per dump.
        return tuple(sorted([*self.posts.values(), *self.comments], key=event_key))

    @cached_property
    def _questions(self) -> tuple[SEPost, ...]:
        return tuple(e for e in self._events if isinstance(e, SEPost) and e.post_type == "question")

    @cached_property
    def _answers_by_question(self) -> dict[str, list[SEPost]]:
        index: dict[str, list[SEPost]] = defaultdict(list)
        for e in self._events:
            if isinstance(e, SEPost) and e.post_type == "answer" and e.parent_id is not None:
                index[e.parent_id].append(e)
        return dict(index)

    @cached_property
    def _comments_by_post(self) -> dict[str, list[SEComment]]:
        index: dict[str, list[SEComment]] = defaultdict(list)
        for e in self._events:
            if isinstance(e, SEComment):
                index[e.post_id].append(e)
        return dict(index)

    def first_activity(self) -> dict[str, datetime]:
        """When each known person first wrote anything (a question, an answer or a comment)."""
        return dict(self._first_activity)

    @cached_property
    def _first_activity(self) -> dict[str, datetime]:
        first: dict[str, datetime] = {}
        for e in self._events:  # time-ordered, so the first seen is the earliest
            if e.author_id is not None and e.author_id not in first:
                first[e.author_id] = e.created
        return first


def parse_time(value: str) -> datetime:
    """Parse a dump timestamp ("2014-01-21T20:26:05.383", UTC without zone) to a datetime."""
    return datetime.fromisoformat(value)


def _id_key(value: str) -> tuple[int, int, str]:
    # Dump ids are integers; compare them as numbers so "9" sorts before "10".
    try:
        return (0, int(value), "")
    except ValueError:
        return (1, 0, value)


def event_key(event: SEEvent) -> tuple[datetime, int, tuple[int, int, str]]:
    """Sort key for replay order: time, then kind (question, answer, comment), then id."""
    return (event.created, EVENT_KIND_ORDER[event.kind], _id_key(event.id))


# --- HTML to text ---------------------------------------------------------------------------

# Tags that end a line of text: without a break, "<p>a</p><p>b</p>" would read "ab".
_BLOCK_TAGS = frozenset(
    (  # a word list reads better than 36 quoted strings
        "address article aside blockquote br dd div dl dt figcaption figure footer h1 h2 h3 h4 "
        "h5 h6 header hr img li main nav ol p pre section table tbody td tfoot th thead tr ul"
    ).split()
)
# Content that is not text a reader sees.
_SKIPPED_TAGS = frozenset({"script", "style"})
_WHITESPACE = re.compile(r"\s+")


class _TextExtractor(HTMLParser):
    """Collects the visible text of an HTML fragment; code blocks keep their text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Strip HTML to plain text: entities decoded, code kept, whitespace collapsed."""
    if not html:
        return ""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return collapse_whitespace("".join(extractor.parts))


def collapse_whitespace(text: str) -> str:
    """Runs of whitespace become one space; ends are trimmed."""
    return _WHITESPACE.sub(" ", text).strip()


_ANGLE_TAGS = re.compile(r"<([^<>]+)>")


def parse_tags(value: str | None) -> list[str]:
    """Tags as a list from either dump form: "<beer><ale>" or "|beer|ale|"."""
    if not value:
        return []
    value = value.strip()
    if value.startswith("|"):
        return [t.strip() for t in value.split("|") if t.strip()]
    return [t.strip() for t in _ANGLE_TAGS.findall(value) if t.strip()]


# --- XML reading ------------------------------------------------------------------------------


def iter_rows(path: Path, problems: ProblemList) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line, attributes) for each `<row>` of a dump file, streaming.

    This is iterparse's engine (XMLPullParser) fed one line at a time, so every row comes with
    the line its tag ends on (dumps put one row per line) and memory stays flat: each row is
    cleared from the tree once read. Malformed XML is recorded in `problems` with the parser's
    line, and reading stops there.
    """
    parser = ET.XMLPullParser(events=("start", "end"))
    root: ET.Element | None = None
    line = 0
    try:
        with path.open("rb") as f:
            for line, raw in enumerate(f, start=1):
                parser.feed(raw)
                for event, elem in parser.read_events():
                    if event == "start":
                        if root is None:
                            root = elem
                        continue
                    if elem is root:
                        continue
                    if elem.tag == "row":
                        yield line, dict(elem.attrib)
                    # Drop finished rows so the tree never holds more than one.
                    elem.clear()
                    if root is not None:
                        root.clear()
            parser.close()
            # Events flushed by close() (e.g. the root's end) carry nothing we need.
            for _ in parser.read_events():
                pass
    except ET.ParseError as err:
        err_line, column = err.position
        # expat's message ends in ": line L, column C"; the line goes in front already.
        reason = re.sub(r": line \d+, column \d+$", "", str(err))
        problems.add(err_line or line, f"malformed XML: {reason} (column {column + 1})")
    except OSError as err:
        problems.add(0, f"cannot read: {err.strerror or err}")


def _require(row: dict[str, str], names: tuple[str, ...], line: int, problems: ProblemList) -> bool:
    missing = [n for n in names if not row.get(n, "").strip()]
    if missing:
        what = ", ".join(missing)
        row_id = row.get("Id")
        where = f"row Id={row_id}" if row_id else "row"
        problems.add(line, f"{where} is missing required attribute(s): {what}")
        return False
    return True


def _check_time(row: dict[str, str], name: str, line: int, problems: ProblemList) -> str | None:
    value = row.get(name)
    if value is None:
        return None
    try:
        parse_time(value)
    except ValueError:
        problems.add(line, f"row Id={row.get('Id')}: {name} {value!r} is not an ISO timestamp")
        return None
    return value


def _user_ref(value: str | None) -> str | None:
    # Missing owner = deleted user; "-1" = the Community bot. Neither is a person to route to.
    if value is None or not value.strip() or value.strip() == COMMUNITY_USER_ID:
        return None
    return value.strip()


def _opt(value: str | None) -> str | None:
    return value.strip() if value and value.strip() else None


def _read_posts(path: Path, problems: ProblemList) -> dict[str, SEPost]:
    posts: dict[str, SEPost] = {}
    for line, row in iter_rows(path, problems):
        if not _require(row, ("Id", "PostTypeId", "CreationDate"), line, problems):
            continue
        post_type = POST_TYPES.get(row["PostTypeId"].strip())
        if post_type is None:
            continue  # wikis, nominations, ...: not questions or answers
        post_id = row["Id"].strip()
        created_at = _check_time(row, "CreationDate", line, problems)
        try:
            score = int(row.get("Score") or 0)
        except ValueError:
            problems.add(line, f"row Id={post_id}: Score {row.get('Score')!r} is not an integer")
            continue
        parent_id = _opt(row.get("ParentId"))
        if post_type == "answer" and parent_id is None:
            problems.add(line, f"row Id={post_id} is an answer without ParentId")
            continue
        if created_at is None:
            continue
        if post_id in posts:
            problems.add(line, f"duplicate post Id={post_id}")
            continue
        posts[post_id] = SEPost(
            id=post_id,
            post_type=post_type,
            owner_id=_user_ref(row.get("OwnerUserId")),
            parent_id=parent_id if post_type == "answer" else None,
            accepted_answer_id=_opt(row.get("AcceptedAnswerId"))
            if post_type == "question"
            else None,
            created_at=created_at,
            score=score,
            title=_opt(row.get("Title")),
            tags=parse_tags(row.get("Tags")),
            body_text=html_to_text(row.get("Body") or ""),
        )
    return posts


def _read_comments(path: Path, problems: ProblemList) -> list[SEComment]:
    comments: list[SEComment] = []
    seen: set[str] = set()
    for line, row in iter_rows(path, problems):
        if not _require(row, ("Id", "PostId", "CreationDate"), line, problems):
            continue
        comment_id = row["Id"].strip()
        created_at = _check_time(row, "CreationDate", line, problems)
        if created_at is None:
            continue
        if comment_id in seen:
            problems.add(line, f"duplicate comment Id={comment_id}")
            continue
        seen.add(comment_id)
        comments.append(
            SEComment(
                id=comment_id,
                post_id=row["PostId"].strip(),
                user_id=_user_ref(row.get("UserId")),
                created_at=created_at,
                # Comment text is plain (markdown-ish) already; XML decoding did the entities.
                text=collapse_whitespace(row.get("Text") or ""),
            )
        )
    return comments


def _read_users(path: Path, problems: ProblemList) -> dict[str, SEUser]:
    users: dict[str, SEUser] = {}
    for line, row in iter_rows(path, problems):
        if not _require(row, ("Id",), line, problems):
            continue
        user_id = row["Id"].strip()
        if user_id in users:
            problems.add(line, f"duplicate user Id={user_id}")
            continue
        created_at = _check_time(row, "CreationDate", line, problems)
        # A blank display name still needs something a person can read.
        name = collapse_whitespace(row.get("DisplayName") or "") or f"user {user_id}"
        users[user_id] = SEUser(id=user_id, name=name, created_at=created_at)
    return users


def read_dump(folder: Path) -> SEDump:
    """Read a StackExchange dump folder (Posts.xml, Users.xml, Comments.xml required).

    Tags.xml, Votes.xml and PostLinks.xml are optional and ignored. Every problem found (missing
    files, malformed XML, rows missing Id/PostTypeId/CreationDate or with bad values) is
    collected and raised together as ImportFailed, each as `file:line: reason`.
    """
    folder = Path(folder)
    folder_problems = ProblemList(folder)
    if not folder.is_dir():
        folder_problems.add(0, "not a directory")
        folder_problems.raise_if_any()
    for name in REQUIRED_FILES:
        if not (folder / name).is_file():
            folder_problems.add(0, f"missing required file {name}")
    folder_problems.raise_if_any()

    readers: list[tuple[str, Callable[[Path, ProblemList], object]]] = [
        ("Posts.xml", _read_posts),
        ("Comments.xml", _read_comments),
        ("Users.xml", _read_users),
    ]
    results: dict[str, object] = {}
    all_problems = ProblemList(folder)
    for name, reader in readers:
        problems = ProblemList(folder / name)
        results[name] = reader(folder / name, problems)
        all_problems.extend(problems)
    if all_problems:
        raise ImportFailed(all_problems.problems)
    return SEDump(
        posts=results["Posts.xml"],  # type: ignore[arg-type]
        comments=results["Comments.xml"],  # type: ignore[arg-type]
        users=results["Users.xml"],  # type: ignore[arg-type]
    )


# --- Evaluation rules (EVAL.md) -----------------------------------------------------------


def accepted_answer(dump: SEDump, question: SEPost) -> SEPost | None:
    """The question's accepted answer if it is an answer to it present in the dump."""
    if question.accepted_answer_id is None:
        return None
    answer = dump.posts.get(question.accepted_answer_id)
    if answer is None or answer.post_type != "answer" or answer.parent_id != question.id:
        return None
    return answer


def evaluable_questions(dump: SEDump) -> list[SEPost]:
    """The questions that count (EVAL.md, "Which questions count"), oldest first.

    A question counts when its accepted answer exists in the dump, the asker is known, the
    answerer is known and is not the asker, and the answerer had written a question, an answer
    or a comment strictly before the question's CreationDate.
    """
    first_activity = dump._first_activity
    chosen: list[SEPost] = []
    for question in dump.questions():
        answer = accepted_answer(dump, question)
        if answer is None or question.owner_id is None or answer.owner_id is None:
            continue
        if answer.owner_id == question.owner_id:
            continue  # self-answered: the asker is never a candidate
        first = first_activity.get(answer.owner_id)
        if first is not None and first < question.created:
            chosen.append(question)
    return chosen


def relevance_of(dump: SEDump, question: SEPost) -> dict[str, int]:
    """Graded relevance of people for nDCG@10: 2 for the accepted answerer, 1 for any other
    answerer (not the asker) with an answer scoring > 0. Unknown authors are left out."""
    gains: dict[str, int] = {}
    for answer in dump.answers_of(question.id):
        person = answer.owner_id
        if person is None or person == question.owner_id:
            continue
        if answer.score > 0:
            gains[person] = max(gains.get(person, 0), 1)
    accepted = accepted_answer(dump, question)
    if (
        accepted is not None
        and accepted.owner_id is not None
        and accepted.owner_id != question.owner_id
    ):
        gains[accepted.owner_id] = 2
    return gains
