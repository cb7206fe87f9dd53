"""The Slack export importer: who knows what, from a workspace's admin export (folder or zip).

An export holds `users.json`, `channels.json` and `<channel>/<YYYY-MM-DD>.json` (one list of
messages per day). People come from `users.json` (bots, apps, deactivated accounts and
Slackbot left out), matched to the directory by Slack id or email, added otherwise. What they
wrote becomes knowledge items and "helped" / "interacted" ties by the rules every chat source
shares (`data.chat_items`): one item per author per thread per day, one per author per
channel day for lone messages. Threads are rebuilt from each message's own `thread_ts`, never
from the root's snapshot fields (`replies`, `reply_count`, ...). The messages themselves are
kept too (`data.chat_store`), so that live messages later in the same threads and days
rebuild their items with everything said there.

An export is cut into day files, so an item never depends on a day outside its own file:
importing the same export again changes nothing, and a newer export (or an overlapping one)
adds and updates only the days it holds. Ties are never lowered by a later import.

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
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from data.chat_items import ChatMessage, Cleaner, build_items, slack_links
from data.chat_store import ChatStore, StoredMessage
from data.importers.errors import ImportFailed, ImportProblem, ProblemList
from data.importers.readers import (
    MAX_FIELD_CHARS,
    JsonDocument,
    field_problem,
    gc_paused,
    json_array_lines,
    person_ref,
)
from data.models import Contact, Person
from data.store import Store, WriteCounts

SOURCE = PLATFORM = "slack"
SLACKBOT_ID = "USLACKBOT"
# Subtypes that are people writing; every other subtype is the system (joins, topics, bots...).
HUMAN_SUBTYPES = frozenset({"thread_broadcast", "file_share"})

# Zip entries: the most one may unpack to (a users.json of 400,000 people is about 1 GB),
# and the most it may grow by unpacking (Slack's JSON shrinks 5-20 times; zeros, 1000).
MAX_ENTRY_BYTES = 2 << 30
MAX_RATIO = 200
RATIO_CHECKED_FROM = 16 << 20

_DAY_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.json$")
_TS = re.compile(r"\d{1,12}(\.\d{1,9})?")
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
        sizes = {info.filename: info for info in self._zip.infolist()}
        for entry in names:
            parts = PurePosixPath(entry.replace("\\", "/")).parts
            if entry.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", entry) or ".." in parts:
                problems.add(0, f"refused entry {entry!r}: its path leaves the export")
            elif (bomb := _too_big(sizes[entry])) is not None:
                problems.add(0, f"refused entry {entry!r}: {bomb}")
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
                # Never more than the limit, whatever the entry's header claims.
                with self._zip.open(self._prefix + rel) as entry:
                    raw = entry.read(MAX_ENTRY_BYTES + 1)
            else:
                raw = (self.path / rel).read_bytes()
        except (OSError, zipfile.BadZipFile, KeyError) as exc:
            problems.add(0, f"cannot read: {getattr(exc, 'strerror', None) or exc}")
            return None
        if len(raw) > MAX_ENTRY_BYTES:
            problems.add(0, f"larger than {MAX_ENTRY_BYTES >> 20:,} MiB unpacked: refused")
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


def _too_big(info: zipfile.ZipInfo) -> str | None:
    """Why a zip entry is refused before it is read (a zip bomb), or None."""
    if info.file_size > MAX_ENTRY_BYTES:
        return f"{info.file_size >> 20:,} MiB unpacked, more than {MAX_ENTRY_BYTES >> 20:,} MiB"
    ratio = info.file_size / max(1, info.compress_size)
    if info.file_size > RATIO_CHECKED_FROM and ratio > MAX_RATIO:
        return f"it unpacks {ratio:,.0f} times larger than it is (a zip bomb?)"
    return None


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


def _is_ts(value: str) -> bool:
    """Whether `value` is a Slack time ("1494808864.781681": seconds, a dot, digits)."""
    return _TS.fullmatch(value) is not None


def _read_day(
    text: str,
    day: str,
    channel: int,
    problems: ProblemList,
    out: list[ChatMessage],
    counts: list[int],
    users: Container[str],
) -> None:
    """Append the human messages of one day file to `out`; counts[0] += system ones. A
    message by a user `users.json` does not list is a problem: the export is not whole."""
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
        if user not in users:
            bad.append((index, f"message {ts} by {user!r}, a user users.json does not list"))
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
        out.append(ChatMessage(float(ts), ts, user, body, thread, parent, day, channel))
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
    users: Container[str],
) -> tuple[list[ChatMessage], int]:
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
    messages: list[ChatMessage] = []
    counts = [0]
    for done, (index, day, rel) in enumerate(days, start=1):
        problems = ProblemList(export.name(rel))
        text = export.read(rel, problems)
        if text is not None:
            _read_day(text, day, index, problems, messages, counts, users)
        if problems:
            lists.append(problems)
        if progress is not None:
            progress(done, len(days))
    return messages, counts[0]


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
    stage: Callable[[str], None] | None = None,
) -> SlackExportResult:
    """Import a Slack admin export (a folder or a .zip), all or nothing.

    `workspace` is the workspace's domain ("acme" for acme.slack.com), for links back to
    each message; without it links are `slack://channel?team=T..&id=C..&message=<ts>`.
    `progress(done, total)` is called after each day file, `stage(what)` when the writing
    starts (it is one transaction, half of a big import's time). Raises ImportFailed listing
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
            messages, system = _read_messages(export, channels, lists, progress, users)
            _raise(lists)
    finally:
        export.close()

    result = SlackExportResult(link=base or "slack://")
    result.messages = len(messages)
    # For slack:// links: the workspace's team id, as its people give it.
    team = next((u.team for u in users.values() if u.team and not u.skipped), None)
    names = {u.sid: u.name for u in users.values()}
    cleaner = Cleaner(names, {cid: name for cid, name in channels})
    if stage is not None:
        stage(f"writing {len(messages):,} messages and their knowledge")
    with gc_paused(), store.transaction():
        people, writes = _people(store, users, result)
        if writes:
            store.upsert_people(writes)
        messages, opted_out = _keep(store, channels, messages, people)
        result.messages = len(messages)
        link = slack_links(base, team)
        learned = {sid: pid for sid, pid in people.items() if sid not in opted_out}
        credits: list[tuple[str, str, str, str, str]] = []  # so live learning counts no tie twice
        items, ties, left_out = build_items(
            messages, channels, learned, cleaner, link, credits=credits
        )
        ChatStore(store).credit_many(PLATFORM, credits)
        result.skipped = system + left_out
        result.messages -= left_out
        result.items = store.upsert_knowledge(items)
        result.ties = store.upsert_contacts(_not_lower(store, ties))
    return result


def _keep(
    store: Store,
    channels: list[tuple[str, str]],
    messages: list[ChatMessage],
    people: Mapping[str, str],
) -> tuple[list[ChatMessage], set[str]]:
    """Store the messages of the channels learned from (every channel of an export is
    public; an admin may have switched some off), opted-out people's without their text;
    return those messages and the Slack ids of the opted-out. Call inside the import's
    transaction."""
    chat = ChatStore(store)
    chat.see_channels(PLATFORM, [(cid, name, False) for cid, name in channels])
    off = {row.channel for row in chat.channels(PLATFORM) if not row.learning}
    if off:
        messages = [m for m in messages if channels[m.channel][0] not in off]
    opted_out = {sid for sid, (_, _, out) in store.accounts(PLATFORM, people).items() if out}
    # In key order, each row lands at the end of the table's B-tree: several times faster.
    messages.sort(key=lambda m: (channels[m.channel][0], m.ts_text))
    chat.put(
        PLATFORM,
        (
            StoredMessage(
                channels[m.channel][0],
                m.ts_text,
                m.ts,
                m.thread,
                m.sid,
                m.parent,
                "" if m.sid in opted_out else m.text,
                m.day,
            )
            for m in messages
        ),
        settle=False,
    )
    chat.settle_all(PLATFORM)
    return messages, opted_out


def _raise(lists: list[ProblemList]) -> None:
    problems: list[ImportProblem] = [p for plist in lists for p in plist.problems]
    if problems:
        raise ImportFailed(problems)


__all__ = ["SlackExportResult", "import_slack_export", "workspace_base"]
