"""The Slack export importer: who knows what, from a workspace's admin export (folder or zip).

An export holds `users.json`, `channels.json` and `<channel>/<YYYY-MM-DD>.json` (one list of
messages per day). People come from `users.json` (bots, apps, deactivated accounts and
Slackbot left out), matched to the directory by Slack id or email, added otherwise. What they
wrote becomes knowledge items:

- a thread: one item per author per thread per day, all their messages of that day in it
  joined, the root's text as title (kind "post" for the root's author, "answer" for the
  others); threads are rebuilt from each message's own `thread_ts`, never from the root's
  snapshot fields (`replies`, `reply_count`, ...);
- lone channel messages: one item per author per channel per day.

An export is cut into day files, so an item never depends on a day outside its own file:
importing the same export again changes nothing, and a newer export (or an overlapping one)
adds and updates only the days it holds. Item ids are `slack:<channel id>:<thread ts>:<Slack
user id>:<day>` and `slack:<channel id>:day:<day>:<Slack user id>`.

A reply in someone else's thread is a "helped" tie from the replier to the root's author;
people who wrote in the same thread get an "interacted" tie weighted by the threads they
share (threads with more than MAX_THREAD_PEOPLE people give none); both capped at
MAX_TIE_WEIGHT and never lowered by a later import.

All or nothing: every file is read and checked first; any problem (`file:line: reason`) and
nothing is written. In a day file, the line of a problem is the line on which the message's
object starts (the file's line for malformed JSON); problems of a whole file are on line 0.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from data.importers.errors import ImportFailed, ImportProblem, ProblemList
from data.importers.readers import (
    MAX_FIELD_CHARS,
    JsonDocument,
    field_problem,
    gc_paused,
    json_array_lines,
    person_ref,
)
from data.models import Contact, KnowledgeItem, Person
from data.store import Store, WriteCounts

SOURCE = "slack"
SLACKBOT_ID = "USLACKBOT"
# Subtypes that are people writing; every other subtype is the system (joins, topics, bots...).
HUMAN_SUBTYPES = frozenset({"thread_broadcast", "file_share"})
# Threads with more people than this say nothing about who talks with whom.
MAX_THREAD_PEOPLE = 20
# The strongest tie one export can make (the graph takes log2(1 + weight)).
MAX_TIE_WEIGHT = 10.0
# The longest title taken from a thread's root.
MAX_TITLE_CHARS = 120

_DAY_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.json$")
_TS = re.compile(r"\d{1,12}(\.\d{1,9})?")
_ANGLE = re.compile(r"<([^<>]*)>")
_WORKSPACE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_CHANNEL_NAME = re.compile(r"^[^/\\]+$")

Progress = Callable[[int, int], None]


# ------------------------------------------------------------------------ results


@dataclass
class SlackExportResult:
    """What an import read and wrote."""

    people_new: int = 0
    people_matched: int = 0
    people_skipped: int = 0  # bots, apps, deactivated accounts, Slackbot
    messages: int = 0  # human messages read
    skipped: int = 0  # system and bot messages, and messages of skipped or unknown users
    items: WriteCounts = field(default_factory=WriteCounts)
    ties: WriteCounts = field(default_factory=WriteCounts)
    link: str = "slack://"  # "https://<workspace>.slack.com" or "slack://" links

    def summary(self) -> str:
        """One line for the user."""
        return (
            f"slack export: people {self.people_new} new, {self.people_matched} matched "
            f"({self.people_skipped} bots or deactivated skipped); messages {self.messages:,} "
            f"read ({self.skipped:,} system, bot or unknown-user messages skipped); items "
            f"{self.items}; ties {self.ties}; links {self.link}"
        )


# -------------------------------------------------------------------------- input


class _Export:
    """The files of an export, from a folder or a zip read in place (never extracted).

    `name(rel)` is how a problem names a file: the folder or zip path joined with the
    entry's path inside it."""

    def __init__(self, path: Path, problems: ProblemList) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._prefix = ""
        self.files: set[str] = set()
        if path.is_dir():
            self._scan_dir()
        elif zipfile.is_zipfile(path):
            self._open_zip(problems)
        elif path.exists():
            problems.add(0, "not a Slack export (expected a folder or a .zip of one)")
        else:
            problems.add(0, "no such file or folder")

    def _scan_dir(self) -> None:
        """Every .json file under the folder; links are followed only within it."""
        root = self.path.resolve()
        for folder, dirs, names in os.walk(self.path, followlinks=False):
            rel = Path(folder).relative_to(self.path).as_posix()
            prefix = "" if rel == "." else f"{rel}/"
            for name in dirs:
                link = Path(folder) / name
                if link.is_symlink() and link.resolve().is_relative_to(root):
                    for sub in link.resolve().glob("*.json"):
                        if sub.is_file():
                            self.files.add(f"{prefix}{name}/{sub.name}")
            for name in names:
                if not name.endswith(".json"):
                    continue
                file = Path(folder) / name
                if not file.is_symlink() or (
                    file.resolve().is_relative_to(root) and file.resolve().is_file()
                ):
                    self.files.add(prefix + name)

    def _open_zip(self, problems: ProblemList) -> None:
        try:
            self._zip = zipfile.ZipFile(self.path)
            names = self._zip.namelist()
        except (zipfile.BadZipFile, OSError) as exc:
            problems.add(0, f"cannot read the zip: {exc}")
            return
        for entry in names:
            parts = PurePosixPath(entry.replace("\\", "/")).parts
            if entry.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", entry) or ".." in parts:
                problems.add(0, f"refused entry {entry!r}: its path leaves the export")
            elif not entry.endswith("/"):
                self.files.add(entry)
        if "users.json" not in self.files:  # a zip of the export's folder
            tops = {f.split("/", 1)[0] for f in self.files if f.endswith("/users.json")}
            tops = {t for t in tops if f"{t}/users.json" in self.files}
            if len(tops) == 1:
                self._prefix = f"{tops.pop()}/"
                n = len(self._prefix)
                self.files = {f[n:] for f in self.files if f.startswith(self._prefix)}

    def name(self, rel: str) -> str:
        return f"{self.path}/{self._prefix}{rel}"

    def read(self, rel: str, problems: ProblemList) -> str | None:
        """The file's text (UTF-8, a BOM dropped), or None with the reason recorded."""
        try:
            if self._zip is not None:
                raw = self._zip.read(self._prefix + rel)
            else:
                raw = (self.path / rel).read_bytes()
        except (OSError, zipfile.BadZipFile, KeyError) as exc:
            problems.add(0, f"cannot read: {getattr(exc, 'strerror', None) or exc}")
            return None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            problems.add(line, f"not UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start}")
            return None
        if not text.strip():
            problems.add(0, "empty file")
            return None
        return text

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()


def _load_json(text: str, problems: ProblemList) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        problems.add(exc.lineno, f"malformed JSON: {exc.msg} (column {exc.colno})")
    except RecursionError:
        problems.add(0, "malformed JSON: nested too deeply")
    return None


# ------------------------------------------------------------------------- people


@dataclass
class _User:
    sid: str
    name: str
    line: int
    email: str | None = None
    title: str | None = None
    timezone: str | None = None
    team: str | None = None
    skipped: bool = False


def _read_users(export: _Export, lists: list[ProblemList]) -> dict[str, _User]:
    problems = ProblemList(export.name("users.json"))
    lists.append(problems)
    if "users.json" not in export.files:
        problems.add(0, "missing: every Slack export has users.json")
        return {}
    text = export.read("users.json", problems)
    data = _load_json(text, problems) if text is not None else None
    if data is None:
        return {}
    if not isinstance(data, list):
        problems.add(1, "wrong shape: expected a list of users")
        return {}
    users: dict[str, _User] = {}
    emails: dict[str, int] = {}
    for record in JsonDocument(text, data).records_at((), problems):  # type: ignore[arg-type]
        v, line = record.values, record.line
        sid = v.get("id")
        if not isinstance(sid, str) or not sid.strip():
            problems.add(line, "user without an id")
            continue
        sid = sid.strip()
        profile = v.get("profile") if isinstance(v.get("profile"), dict) else {}
        before = len(problems.problems)

        def text_of(what: str, value: Any, line: int = line) -> str | None:
            return _one_line(what, value, line, problems)

        text_of("id", sid)
        # The first name given is the one used (or refused): no falling back past a bad one.
        given = [
            (what, value)
            for what, value in (
                ("real_name", v.get("real_name")),
                ("profile.real_name", profile.get("real_name")),
                ("name", v.get("name")),
            )
            if isinstance(value, str) and value.strip()
        ]
        name = (text_of(*given[0]) if given else None) or sid
        user = _User(
            sid,
            name,
            line,
            email=(text_of("profile.email", profile.get("email")) or "").lower() or None,
            title=text_of("profile.title", profile.get("title")),
            timezone=text_of("tz", v.get("tz")),
            team=text_of("team_id", v.get("team_id")),
            skipped=sid == SLACKBOT_ID
            or any(v.get(flag) is True for flag in ("deleted", "is_bot", "is_app_user")),
        )
        if sid in users:
            problems.add(line, f"duplicate user id {sid!r} (first on line {users[sid].line})")
            continue
        if user.email and not user.skipped:
            if user.email in emails:
                problems.add(
                    line, f"duplicate email {user.email!r} (first on line {emails[user.email]})"
                )
                continue
            emails[user.email] = line
        if len(problems.problems) == before:
            users[sid] = user
    return users


def _one_line(what: str, value: Any, line: int, problems: ProblemList) -> str | None:
    """A one-line text value, stripped; None if empty, not text, or refused (recorded)."""
    if not isinstance(value, str) or not value.strip():
        return None
    reason = field_problem(value)
    if reason is not None:
        problems.add(line, f"{what}: {reason}")
        return None
    return value.strip()


def _people(
    store: Store, users: Mapping[str, _User], result: SlackExportResult
) -> tuple[dict[str, str], list[Person]]:
    """Person id per Slack id of every active user, and the people to write: new ones,
    and stored ones that gain a Slack id, title or timezone they did not have."""
    from data.importers.directory import _valid_timezone

    refs = store.person_refs()
    stored_people: dict[str, Person] | None = None  # read once, if anyone is matched
    ids: dict[str, str] = {}
    writes: list[Person] = []
    for user in users.values():
        if user.skipped:
            result.people_skipped += 1
            continue
        pid = refs.get(user.sid) or (user.email and person_ref(refs, user.email)) or None
        timezone = user.timezone if user.timezone and _valid_timezone(user.timezone) else None
        if pid is None:
            pid = user.sid
            writes.append(
                Person(
                    id=pid,
                    name=user.name,
                    email=user.email,
                    title=user.title,
                    timezone=timezone,
                    slack_id=user.sid,
                )
            )
            result.people_new += 1
        else:
            result.people_matched += 1
            if stored_people is None:
                stored_people = {p.id: p for p in store.people()}
            stored = stored_people.get(pid)
            if stored is not None:
                update: dict[str, Any] = {}
                if stored.slack_id is None and refs.get(user.sid) is None:
                    update["slack_id"] = user.sid
                if stored.title is None and user.title:
                    update["title"] = user.title
                if stored.timezone is None and timezone:
                    update["timezone"] = timezone
                if update:
                    writes.append(stored.model_copy(update=update))
        ids[user.sid] = pid
    return ids, writes


# ----------------------------------------------------------------------- channels


def _read_channels(export: _Export, lists: list[ProblemList]) -> list[tuple[str, str]]:
    """(id, name) of each public channel in channels.json."""
    problems = ProblemList(export.name("channels.json"))
    lists.append(problems)
    if "channels.json" not in export.files:
        problems.add(0, "missing: every Slack export has channels.json")
        return []
    text = export.read("channels.json", problems)
    data = _load_json(text, problems) if text is not None else None
    if data is None:
        return []
    if not isinstance(data, list):
        problems.add(1, "wrong shape: expected a list of channels")
        return []
    channels: list[tuple[str, str]] = []
    for record in JsonDocument(text, data).records_at((), problems):  # type: ignore[arg-type]
        cid, name = record.values.get("id"), record.values.get("name")
        if not isinstance(cid, str) or not cid.strip() or not isinstance(name, str):
            problems.add(record.line, "channel without an id or name")
            continue
        reason = field_problem(cid) or field_problem(name)
        if reason is None and (not _CHANNEL_NAME.match(name) or name in (".", "..")):
            reason = f"name {name!r} is not a channel name"
        if reason is not None:
            problems.add(record.line, reason)
            continue
        channels.append((cid.strip(), name))
    return channels


# ----------------------------------------------------------------------- messages


@dataclass(slots=True)
class _Message:
    ts: float
    ts_text: str
    sid: str
    text: str
    thread: str | None  # the thread's ts, for roots and replies
    parent: str | None  # parent_user_id
    day: str
    channel: int  # index into the channel list


def _is_ts(value: str) -> bool:
    """Whether `value` is a Slack time ("1494808864.781681": seconds, a dot, digits)."""
    return _TS.fullmatch(value) is not None


def _read_day(
    text: str,
    day: str,
    channel: int,
    problems: ProblemList,
    out: list[_Message],
    counts: list[int],
) -> None:
    """Append the human messages of one day file to `out`; counts[0] += system ones."""
    data = _load_json(text, problems)
    if data is None:
        return
    if not isinstance(data, list):
        problems.add(1, "wrong shape: expected a list of messages")
        return
    bad: list[tuple[int, str]] = []  # (index, reason): lines found only if needed
    skipped = 0
    for index, msg in enumerate(data):
        if type(msg) is not dict:
            bad.append((index, "expected a message object"))
            continue
        get = msg.get
        ts = get("ts")
        if type(ts) is not str or not _is_ts(ts):
            bad.append((index, "missing ts" if ts is None else f"ts: not a Slack time: {ts!r}"))
            continue
        subtype = get("subtype")
        if (subtype is not None and subtype not in HUMAN_SUBTYPES) or get("bot_id"):
            skipped += 1
            continue
        user = get("user")
        if type(user) is not str or not user:
            bad.append((index, f"message {ts} without a user"))
            continue
        body = get("text", "")
        if body is None:
            body = ""
        if type(body) is not str:
            bad.append((index, f"message {ts}: text: expected text"))
            continue
        thread = get("thread_ts")
        if thread is not None and (type(thread) is not str or not _is_ts(thread)):
            bad.append((index, f"message {ts}: thread_ts: not a Slack time: {thread!r}"))
            continue
        parent = get("parent_user_id")
        reason = None if len(user) <= 255 and user.isprintable() else field_problem(user)
        if reason is not None:
            reason = f"user: {reason}"
        elif len(body) > MAX_FIELD_CHARS or not body.isprintable():
            reason = field_problem(body, multiline=True)
            reason = f"text: {reason}" if reason else None
        if reason is None and parent is not None and type(parent) is not str:
            reason = "parent_user_id: expected text"
        if reason is not None:
            bad.append((index, f"message {ts}: {reason}"))
            continue
        out.append(_Message(float(ts), ts, user, body, thread, parent, day, channel))
    counts[0] += skipped
    if bad:
        lines = json_array_lines(text)
        for index, reason in bad:
            problems.add(lines[index], reason)


def _read_messages(
    export: _Export,
    channels: list[tuple[str, str]],
    lists: list[ProblemList],
    progress: Progress | None,
) -> tuple[list[_Message], int]:
    by_folder: dict[str, list[str]] = defaultdict(list)  # channel folder -> its file names
    for rel in export.files:
        folder, _, name = rel.partition("/")
        if name:
            by_folder[folder].append(name)
    days: list[tuple[int, str, str]] = []  # (channel index, day, relative path)
    for index, (_, channel) in enumerate(channels):
        for name in by_folder.get(channel, ()):
            match = _DAY_FILE.match(name)
            if match:
                days.append((index, match.group(1), f"{channel}/{name}"))
    days.sort()
    messages: list[_Message] = []
    counts = [0]
    for done, (index, day, rel) in enumerate(days, start=1):
        problems = ProblemList(export.name(rel))
        text = export.read(rel, problems)
        if text is not None:
            _read_day(text, day, index, problems, messages, counts)
        if problems:
            lists.append(problems)
        if progress is not None:
            progress(done, len(days))
    return messages, counts[0]


# -------------------------------------------------------------------------- text


class _Cleaner:
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
        if "<" in text:
            text = _ANGLE.sub(self._angle, text)
        if "&" in text:
            text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        return text.strip()


# -------------------------------------------------------------------------- build


def _link(base: str | None, team: str | None, channel: str, ts: str, thread: str | None) -> str:
    if base is not None:
        url = f"{base}/archives/{channel}/p{ts.replace('.', '')}"
        if thread is not None and thread != ts:
            url += f"?thread_ts={thread}&cid={channel}"
        return url
    team_part = f"team={team}&" if team else ""
    return f"slack://channel?{team_part}id={channel}&message={ts}"


def _iso(ts: float) -> str:
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


def _build(
    messages: list[_Message],
    channels: list[tuple[str, str]],
    people: Mapping[str, str],
    cleaner: _Cleaner,
    base: str | None,
    team: str | None,
) -> tuple[list[KnowledgeItem], list[Contact], int]:
    """Items and ties from the human messages of people we know; and how many messages
    were left out because their author is not a person (a bot, deactivated, unknown)."""
    messages.sort(key=lambda m: (m.channel, m.ts))
    threads: dict[tuple[int, str], list[_Message]] = defaultdict(list)
    lone: list[_Message] = []
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
    # A root nobody replied to (in this export) is a lone message.
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
        groups: dict[tuple[str, str], list[_Message]] = defaultdict(list)
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
                    id=f"slack:{cid}:{thread}:{sid}:{day}",
                    person_id=pid,
                    text=_join(texts),
                    title=title,
                    kind="post" if own else "answer",
                    source=SOURCE,
                    url=_link(base, team, cid, first.ts_text, thread),
                    created_at=_iso(first.ts),
                )
            )
        if root_pid is not None:
            for pid in authors:
                if pid != root_pid:
                    helped[(pid, root_pid)] += 1
        if root_pid is not None:
            authors.add(root_pid)
        if 2 <= len(authors) <= MAX_THREAD_PEOPLE:
            ordered = sorted(authors)
            for i, a in enumerate(ordered):
                for b in ordered[i + 1 :]:
                    interacted[(a, b)] += 1

    days: dict[tuple[int, str, str], list[_Message]] = defaultdict(list)
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
                id=f"slack:{cid}:day:{day}:{sid}",
                person_id=people[sid],
                text=_join(texts),
                title=f"#{cname}, {day}",
                kind="post",
                source=SOURCE,
                url=_link(base, team, cid, first.ts_text, None),
                created_at=_iso(first.ts),
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


def _not_lower(store: Store, ties: Iterable[Contact]) -> list[Contact]:
    """Each tie at least as strong as the store has it: an export that sees fewer shared
    threads (a shorter period) does not weaken what an earlier one found."""
    stored = {
        (c.a, c.b, c.kind): c.weight for c in store.contacts() if c.kind in ("helped", "interacted")
    }
    out = []
    for tie in ties:
        old = stored.get((tie.a, tie.b, tie.kind))
        if old is not None and old > tie.weight:
            tie = tie.model_copy(update={"weight": old})
        out.append(tie)
    return out


# --------------------------------------------------------------------------- public


def workspace_base(workspace: str | None) -> str | None:
    """ "https://acme.slack.com" for "acme" or "acme.slack.com"; None for None. Raises
    ValueError for anything that is not a Slack workspace domain."""
    if workspace is None:
        return None
    name = workspace.strip().lower().removeprefix("https://").rstrip("/")
    name = name.removesuffix(".slack.com")
    if not _WORKSPACE.match(name):
        raise ValueError(
            f"not a Slack workspace domain: {workspace!r} (e.g. acme or acme.slack.com)"
        )
    return f"https://{name}.slack.com"


def import_slack_export(
    store: Store,
    path: Path,
    workspace: str | None = None,
    progress: Progress | None = None,
) -> SlackExportResult:
    """Import a Slack admin export (a folder or a .zip), all or nothing.

    `workspace` is the workspace's domain ("acme" for acme.slack.com), for links back to
    each message; without it links are `slack://channel?team=T..&id=C..&message=<ts>`.
    `progress(done, total)` is called after each day file. Raises ImportFailed listing
    every problem if anything is wrong; ValueError for a bad `workspace`."""
    base = workspace_base(workspace)
    path = Path(path)
    top = ProblemList(path)
    lists = [top]
    export = _Export(path, top)
    try:
        with gc_paused():
            if top:
                _raise(lists)
            users = _read_users(export, lists)
            channels = _read_channels(export, lists)
            messages, system = _read_messages(export, channels, lists, progress)
            _raise(lists)
    finally:
        export.close()

    result = SlackExportResult(link=base or "slack://")
    result.messages = len(messages)
    # For slack:// links: the workspace's team id, as its people give it.
    team = next((u.team for u in users.values() if u.team and not u.skipped), None)
    names = {u.sid: u.name for u in users.values()}
    cleaner = _Cleaner(names, {cid: name for cid, name in channels})
    with gc_paused(), store.transaction():
        people, writes = _people(store, users, result)
        if writes:
            store.upsert_people(writes)
        items, ties, left_out = _build(messages, channels, people, cleaner, base, team)
        result.skipped = system + left_out
        result.messages -= left_out
        result.items = store.upsert_knowledge(items)
        result.ties = store.upsert_contacts(_not_lower(store, ties))
    return result


def _raise(lists: list[ProblemList]) -> None:
    problems: list[ImportProblem] = [p for plist in lists for p in plist.problems]
    if problems:
        raise ImportFailed(problems)


__all__ = ["SlackExportResult", "import_slack_export", "workspace_base"]
