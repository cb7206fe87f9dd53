"""The org directory importer: people from a CSV/JSON export or a Slack `users.list` export.

Imports are all or nothing: the whole file is read and checked (including against the people
already stored) before anything is written. Manager and same-team ties are not written as
contacts; the graph module derives them from the people table.

Columns the file does not have leave stored values alone; a column that is present but empty
clears the value. So a directory export without `slack_id` does not wipe the Slack ids a Slack
import filled in, and an export without `opted_out` does not undo anyone's opt-out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import networkx as nx
from pydantic import ValidationError

from data.importers.errors import ProblemList
from data.importers.knowledge import skill_items
from data.importers.readers import (
    ImportResult,
    JsonDocument,
    Record,
    Table,
    bool_value,
    check_fields,
    detect_format,
    field_problem,
    find_duplicates,
    gc_paused,
    json_table,
    list_value,
    parse_json,
    person_ref,
    read_table,
    read_text,
    require_columns,
    split_list,
    text_value,
    validation_reasons,
)
from data.models import Person
from data.people_removal import removed_ids
from data.store import Store

# Meta key: a JSON list of the ids every directory file imported so far brought in.
DIRECTORY_IDS = "directory_ids"

# Text columns of a directory file besides `id`; `skills` and `opted_out` are parsed apart.
TEXT_COLUMNS = (
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
)
UNIQUE_COLUMNS = ("email", "slack_id", "teams_id")
# Columns whose values must be one line of text, no longer than the field limit.
ONE_LINE_COLUMNS = ("id", *TEXT_COLUMNS, "skills")

# Slack custom profile field label (lower case) -> Person attribute.
DEFAULT_LABEL_MAP: dict[str, str] = {
    "department": "department",
    "team": "team",
    "manager": "manager_id",
    "location": "location",
    "skills": "skills",
    "expertise": "skills",
}
# Person attributes a Slack custom field may fill.
SLACK_TARGETS = frozenset(
    {
        "name",
        "title",
        "department",
        "team",
        "manager_id",
        "location",
        "timezone",
        "teams_id",
        "skills",
    }
)
# A sibling file with the custom field labels, picked up when the export embeds none.
PROFILE_FILE = "team.profile.get.json"
WRONG_SLACK_SHAPE = (
    'wrong shape: expected a Slack users.list export ({"ok": true, "members": [...]}, a '
    "list of such pages, or a list of members)"
)
SLACK_BOT_ID = "USLACKBOT"


@dataclass
class _Row:
    """One person as read from the file: only the attributes the file gives."""

    line: int
    id: str
    fields: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- public


def import_directory(store: Store, path: Path) -> ImportResult:
    """Import people from a directory export, all or nothing (`import_directory_file`,
    without the people it leaves out)."""
    return import_directory_file(store, path)[0]


def import_directory_file(
    store: Store, path: Path, remove_missing: bool = False
) -> tuple[ImportResult, list[str]]:
    """Import people from a directory export, all or nothing; also returns the ids of
    the people an earlier directory file brought in that this one leaves out (sorted),
    who stay in the database until they are removed (`data.people_removal`).

    `path` is a CSV file, a JSON list of people (or an object with a "people" list), a
    JSONL file, or a Slack `users.list` export, which is handed to `import_slack_users`
    (field labels come from the export's "profile_fields" or a sibling
    `team.profile.get.json`). Also upserts one "skill" knowledge item per person with
    declared skills, in the same transaction.

    The ids of every directory file imported are kept (meta `directory_ids`), so people
    who came from elsewhere (a Slack export, say) are never reported as left out. A Slack
    users.list export leaves nobody out. With `remove_missing` (the caller removes them
    next, in the same transaction), a row whose manager is one of them is a problem.

    Raises ImportFailed listing every problem (`file:line: reason`) if anything is wrong.
    """
    with gc_paused():
        return _import_directory(store, Path(path), remove_missing)


def _import_directory(
    store: Store, path: Path, remove_missing: bool
) -> tuple[ImportResult, list[str]]:
    problems = ProblemList(path)
    fmt = detect_format(path, problems, ("csv", "json", "jsonl"))
    table: Table | None = None
    if fmt == "json":
        text = read_text(path, problems)
        doc = parse_json(text, problems) if text is not None else None
        if doc is not None and looks_like_slack(doc.data):
            sibling = path.parent / PROFILE_FILE
            labels = load_profile_field_labels(sibling) if sibling.is_file() else None
            return _import_slack(store, doc, problems, labels, None), []
        table = json_table(doc, problems, ("people",), "people") if doc is not None else None
        if table is not None and not table.records and not problems:
            problems.add(0, "empty file (no people)")
        if table is not None:
            check_fields(table, problems, ONE_LINE_COLUMNS)
    elif fmt is not None:
        table = read_table(path, problems, what="people", single_line=ONE_LINE_COLUMNS)
    if table is None or not table.records:
        problems.raise_if_any()  # an unreadable or empty file has always been reported
    assert table is not None

    missing = require_columns(table, problems, [("id",), ("name",)])
    rows = [r for r in (_directory_row(rec, problems, missing) for rec in table.records) if r]
    with store.transaction():  # what we check against cannot change before we write
        removed = removed_ids(store)
        # A removed person's tombstone is no base to build on: back in a file, they are new.
        stored = {p.id: p for p in store.people() if p.id not in removed}
        people = _merge_with_store(stored, rows, problems)
        _check_people(store, stored, people, rows, problems)
        in_file = {r.id for r in rows}
        before = _directory_ids(store)
        missing = before - in_file - removed
        if remove_missing:
            for line, person in people:
                if person.manager_id in missing:
                    problems.add(
                        line,
                        f"manager_id: {person.manager_id!r} is not in this file, and "
                        "--remove-missing would remove them",
                    )
        problems.raise_if_any()
        result = _write_people(store, [p for _, p in people])
        store.set_meta(DIRECTORY_IDS, json.dumps(sorted(before | in_file)))
        return result, sorted(missing)


def _directory_ids(store: Store) -> set[str]:
    """The ids of everyone an earlier directory file brought in (see `DIRECTORY_IDS`)."""
    stored = store.get_meta(DIRECTORY_IDS)
    return set(json.loads(stored)) if stored else set()


def import_slack_users(
    store: Store,
    path: Path,
    field_labels: Mapping[str, str] | None = None,
    label_map: Mapping[str, str] | None = None,
) -> ImportResult:
    """Import people from a Slack `users.list` export, all or nothing.

    The export is `{"ok": true, "members": [...]}`, a list of such pages, or a plain list
    of members. Deleted users, bots, app users and Slackbot are skipped. A member who
    matches a stored person by email (or Slack id) updates that person; others get their
    Slack user id as person id. Only what Slack provides is overwritten.

    Custom profile fields are mapped by their label: `field_labels` maps field id -> label
    (see `load_profile_field_labels`) and overrides labels embedded in the export under
    "profile_fields". `label_map` maps lower-case labels to Person attributes (default
    `DEFAULT_LABEL_MAP`); a manager field holds a Slack user id, translated to a person id.
    """
    path = Path(path)
    problems = ProblemList(path)
    doc = None
    if detect_format(path, problems, ("json",)):
        text = read_text(path, problems)
        doc = parse_json(text, problems) if text is not None else None
    if doc is not None and not looks_like_slack(doc.data):
        problems.add(1, WRONG_SLACK_SHAPE)
    if doc is None or problems:
        problems.raise_if_any()
    assert doc is not None
    return _import_slack(store, doc, problems, field_labels, label_map)


def import_slack_members(
    store: Store,
    export: Any,
    field_labels: Mapping[str, str] | None = None,
    label_map: Mapping[str, str] | None = None,
    source: str = "Slack users.list",
) -> ImportResult:
    """`import_slack_users` for an export already in memory (e.g. the pages `whoknows
    import slack` fetched from the Web API): the same checks, all or nothing. Problems are
    reported as `source:line: reason`, with lines of the export written out as JSON."""
    problems = ProblemList(source)
    doc = JsonDocument(json.dumps(export, indent=1, ensure_ascii=False), export)
    if not looks_like_slack(doc.data):
        problems.add(1, WRONG_SLACK_SHAPE)
        problems.raise_if_any()
    return _import_slack(store, doc, problems, field_labels, label_map)


def load_profile_field_labels(path: Path) -> dict[str, str]:
    """Custom profile field id -> label, from a saved Slack `team.profile.get` response
    (`{"ok": true, "profile": {"fields": [{"id": "Xf01", "label": "Department"}]}}`).

    Raises ImportFailed if the file is unreadable or not shaped like that."""
    path = Path(path)
    problems = ProblemList(path)
    labels: dict[str, str] = {}
    if detect_format(path, problems, ("json",)):
        text = read_text(path, problems)
        doc = parse_json(text, problems) if text is not None else None
        if doc is not None:
            labels = _labels_from_document(doc, problems)
    problems.raise_if_any()
    return labels


def looks_like_slack(data: Any) -> bool:
    """Whether parsed JSON is a Slack users.list export rather than a people list."""
    if isinstance(data, dict):
        return "members" in data
    if isinstance(data, list):
        return any(isinstance(x, dict) and ("members" in x or "profile" in x) for x in data)
    return False


# ------------------------------------------------------------------ directory rows


def _directory_row(record: Record, problems: ProblemList, missing: set[str]) -> _Row | None:
    """The attributes one directory row gives; None if it has no id."""
    pid = text_value(record, problems, "id")
    if pid is None:
        if "id" not in missing:
            problems.add(record.line, "missing required value: id")
        return None
    row = _Row(record.line, pid)
    values = record.values
    for name in TEXT_COLUMNS:
        if name in values:
            value = values[name]
            # Text (all of a CSV file) needs none of text_value's type checks.
            if type(value) is str:
                row.fields[name] = value.strip() or None
            else:
                row.fields[name] = text_value(record, problems, name)
    if row.fields.get("name") is None and "name" not in missing:
        problems.add(record.line, "missing required value: name")
    skills = list_value(record, problems, "skills", ";")
    if skills is not None:
        row.fields["skills"] = skills
    opted_out = bool_value(record, problems, "opted_out")
    if opted_out is not None:  # empty: keep whatever the person chose in the bot
        row.fields["opted_out"] = opted_out
    return row


def _merge_with_store(
    stored: Mapping[str, Person], rows: list[_Row], problems: ProblemList
) -> list[tuple[int, Person]]:
    """Overlay each row on the stored person (if any) and validate it as a Person.

    Rows with a repeated id are reported and only the first is kept."""
    find_duplicates(problems, ((r.line, r.id) for r in rows), "id")
    seen: set[str] = set()
    people: list[tuple[int, Person]] = []
    for row in rows:
        if row.id in seen:
            continue
        seen.add(row.id)
        if row.fields.get("name") is None and ("name" in row.fields or row.id not in stored):
            continue  # no name: already reported as a missing value or column
        base = stored[row.id].model_dump() if row.id in stored else {}
        try:
            people.append((row.line, Person(**{**base, **row.fields, "id": row.id})))
        except ValidationError as exc:
            for reason in validation_reasons(exc):
                problems.add(row.line, reason)
    return people


# ------------------------------------------------------------------------- checks


def _check_people(
    store: Store,
    stored: Mapping[str, Person],
    people: list[tuple[int, Person]],
    rows: Sequence[_Row],
    problems: ProblemList,
) -> None:
    """Checks that need the whole file and the store: unique email/Slack/Teams ids, known
    managers, no management cycles, valid time zones."""
    file_lines = {r.id: r.line for r in reversed(rows)}  # first line of each id
    for line, person in people:
        if (
            person.timezone
            and field_problem(person.timezone) is None  # else refused already
            and not _valid_timezone(person.timezone)
        ):
            problems.add(line, f"timezone: unknown time zone {person.timezone!r}")
        if person.email and "@" not in person.email:
            problems.add(line, f"email: not an email address: {person.email!r}")

    # The same email / Slack id / Teams id for two people would make references ambiguous.
    others = [p for p in stored.values() if p.id not in file_lines]
    for column in UNIQUE_COLUMNS:
        find_duplicates(problems, ((ln, getattr(p, column)) for ln, p in people), column)
        taken = {getattr(p, column): p.id for p in others if getattr(p, column)}
        for line, person in people:
            value = getattr(person, column)
            if value in taken:
                problems.add(line, f"{column} {value!r} already belongs to {taken[value]!r}")

    known = set(stored) | set(file_lines)
    for line, person in people:
        manager = person.manager_id
        if manager == person.id:
            problems.add(line, f"manager_id: {person.id!r} is their own manager")
        elif manager is not None and manager not in known and field_problem(manager) is None:
            problems.add(
                line, f"manager_id: unknown person {manager!r} (not in this file or the directory)"
            )

    managers: dict[str, str | None] = store.manager_map()
    managers.update({p.id: p.manager_id for _, p in people})
    for cycle in _management_cycles(managers, set(file_lines)):
        start = min(range(len(cycle)), key=lambda i: file_lines.get(cycle[i], 1 << 62))
        ordered = cycle[start:] + cycle[:start]
        chain = " → ".join([*ordered, ordered[0]])
        problems.add(
            file_lines[ordered[0]], f"management cycle: {chain} (each reports to the next)"
        )


def _management_cycles(managers: Mapping[str, str | None], involved: set[str]) -> list[list[str]]:
    """Cycles in the reports-to graph that include at least one of `involved`.

    Everyone has at most one manager, so cycles are disjoint and few. Self-management is
    reported separately and left out. Usually there is no cycle at all, which one walk up
    the tree finds out in a fraction of the time networkx takes to build its graph."""
    if not _has_cycle(managers, involved):
        return []
    graph = nx.DiGraph()
    graph.add_edges_from(
        (pid, mgr) for pid, mgr in managers.items() if mgr and mgr != pid and mgr in managers
    )
    return [c for c in nx.simple_cycles(graph) if involved.intersection(c)]


def _has_cycle(managers: Mapping[str, str | None], involved: set[str]) -> bool:
    """Whether the reports-to graph (the edges `_management_cycles` uses) has a cycle
    through anyone in `involved`."""
    done: set[str] = set()
    for start in managers:
        path: dict[str, None] = {}  # the walk so far, in order
        node: str | None = start
        while node is not None and node not in done and node not in path:
            path[node] = None
            manager = managers[node]
            node = manager if manager and manager != node and manager in managers else None
        if node is not None and node in path:  # the walk came back to itself
            cycle = list(path)[list(path).index(node) :]
            if involved.intersection(cycle):
                return True
        done.update(path)
    return False


def _valid_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


# -------------------------------------------------------------------------- write


def _write_people(store: Store, people: list[Person]) -> ImportResult:
    """Upsert people and their declared-skill items in one transaction."""
    with store.transaction():
        counts = store.upsert_people(people)
        skills = store.upsert_knowledge(skill_items(people))
    with_manager = sum(1 for p in people if p.manager_id)
    teams = len({p.team for p in people if p.team})
    noun = "person has" if with_manager == 1 else "people have"
    derived = (
        f"{with_manager} {noun} a manager; {teams} team{'' if teams == 1 else 's'}; "
        f"skill items: {skills}"
    )
    return ImportResult("people", counts, derived)


# -------------------------------------------------------------------------- Slack


def _import_slack(
    store: Store,
    doc: JsonDocument,
    problems: ProblemList,
    field_labels: Mapping[str, str] | None,
    label_map: Mapping[str, str] | None,
) -> ImportResult:
    mapping = {k.strip().lower(): v for k, v in (label_map or DEFAULT_LABEL_MAP).items()}
    bad = sorted(set(mapping.values()) - SLACK_TARGETS)
    if bad:  # a caller's mistake, not the file's
        raise ValueError(f"label_map targets unknown Person attributes: {bad}")
    members, labels = _slack_members(doc, problems)
    labels.update(field_labels or {})

    active: list[tuple[Record, str, dict[str, Any]]] = []
    deleted: set[str] = set()
    for record in members:
        sid = text_value(record, problems, "id")
        if sid is None:
            problems.add(record.line, "member without an id")
            continue
        reason = field_problem(sid)
        if reason is not None:
            problems.add(record.line, f"id: {reason}")
            continue
        if _skipped(record.values, sid):
            deleted.add(sid)
            continue
        profile = record.values.get("profile") or {}
        if not isinstance(profile, dict):
            problems.add(record.line, "profile: expected an object")
            profile = {}
        active.append((record, sid, profile))
    if not active:
        if not problems:
            problems.add(0, "no people to import (every member is deleted, a bot or an app)")
        problems.raise_if_any()

    with store.transaction():
        refs = store.person_refs()
        # Person id per Slack id first, so manager fields can point at any member.
        person_ids: dict[str, str] = {}
        for _, sid, profile in active:
            email = _plain(profile.get("email"))
            pid = (email and person_ref(refs, email)) or refs.get(sid) or sid
            person_ids.setdefault(sid, pid)
        context = _SlackContext(labels, mapping, refs, person_ids, deleted)
        rows = [
            _slack_row(record, sid, person_ids[sid], profile, context, problems)
            for record, sid, profile in active
        ]
        stored = {p.id: p for p in store.people()}
        people = _merge_with_store(stored, rows, problems)
        _check_people(store, stored, people, rows, problems)
        problems.raise_if_any()
        return _write_people(store, [p for _, p in people])


def _slack_members(doc: JsonDocument, problems: ProblemList) -> tuple[list[Record], dict[str, str]]:
    """The member records of every page, and the field labels embedded in the export."""
    data = doc.data
    pages: list[tuple[tuple[str | int, ...], Any]] = []
    if isinstance(data, dict):
        pages.append((("members",), data))
    elif all(isinstance(x, dict) and "members" in x for x in data):
        pages.extend(((i, "members"), page) for i, page in enumerate(data))
    elif any(isinstance(x, dict) and "members" in x for x in data):
        problems.add(1, "wrong shape: a list that mixes users.list pages and other values")
        return [], {}
    else:
        return doc.records_at((), problems), {}

    members: list[Record] = []
    labels: dict[str, str] = {}
    for path, page in pages:
        if page.get("ok") is False:
            problems.add(1, f"the export is a Slack error response: {page.get('error')!r}")
        if not isinstance(page["members"], list):
            problems.add(1, '"members": expected a list')
            continue
        members.extend(doc.records_at(path, problems))
        fields = page.get("profile_fields")
        if fields is not None:
            labels.update(_labels_from_fields(fields, problems))
    if not members and not problems:
        problems.add(0, "empty export (no members)")
    return members, labels


def _skipped(member: dict[str, Any], sid: str) -> bool:
    """Deactivated accounts, bots, apps and Slackbot are not people to route questions to."""
    return sid == SLACK_BOT_ID or any(
        member.get(flag) is True for flag in ("deleted", "is_bot", "is_app_user")
    )


@dataclass(frozen=True)
class _SlackContext:
    """What mapping one member needs to know about the whole export and the store."""

    labels: Mapping[str, str]  # custom field id -> label
    mapping: Mapping[str, str]  # lower-case label -> Person attribute
    refs: Mapping[str, str]  # stored id/email/Slack id/Teams id -> person id
    person_ids: Mapping[str, str]  # Slack id -> person id, for every imported member
    skipped: set[str]  # Slack ids of deleted members, bots and apps


def _slack_row(
    record: Record,
    sid: str,
    pid: str,
    profile: dict[str, Any],
    context: _SlackContext,
    problems: ProblemList,
) -> _Row:
    """The attributes one Slack member gives (only those Slack has a value for)."""
    v = record.values

    def checked(what: str, value: Any) -> str | None:
        """`value` as plain text, or None (with a problem) if it may not be imported."""
        text = _plain(value)
        reason = field_problem(value) if text is not None else None
        if reason is not None:
            problems.add(record.line, f"{what}: {reason}")
            return None
        return text

    fields: dict[str, Any] = {"slack_id": sid}
    names = (("profile.real_name", profile, "real_name"), ("real_name", v, "real_name"))
    for what, source, key in (*names, ("name", v, "name")):
        if _plain(source.get(key)) is not None:
            fields["name"] = checked(what, source.get(key))  # None: reported
            break
    else:
        fields["name"] = None
        problems.add(record.line, "missing required value: name (no real_name or name)")
    for attr, what, value in (
        ("title", "profile.title", profile.get("title")),
        ("email", "profile.email", profile.get("email")),
        ("timezone", "tz", v.get("tz")),
    ):
        if checked(what, value):
            fields[attr] = _plain(value)

    custom = profile.get("fields") or {}
    if not isinstance(custom, dict):
        problems.add(record.line, "profile.fields: expected an object")
        custom = {}
    for field_id, entry in custom.items():
        label = context.labels.get(field_id)
        attr = context.mapping.get(label.strip().lower()) if label else None
        raw = entry.get("value") if isinstance(entry, dict) else entry
        if attr is None or _plain(raw) is None:
            continue
        value = checked(label or field_id, raw)
        if value is None:
            continue
        if attr == "skills":
            fields["skills"] = split_list([*fields.get("skills", []), *split_list(value, ",;")])
        elif attr == "manager_id":
            manager = context.person_ids.get(value) or person_ref(context.refs, value)
            if manager is not None:
                fields["manager_id"] = manager
            elif value in context.skipped:
                problems.add(
                    record.line,
                    f"{label}: manager {value!r} is a deactivated Slack account (or a bot)",
                )
            else:
                problems.add(
                    record.line,
                    f"{label}: unknown manager {value!r} (not in the export or the directory)",
                )
        else:
            fields[attr] = value
    return _Row(record.line, pid, fields)


def _labels_from_document(doc: JsonDocument, problems: ProblemList) -> dict[str, str]:
    """Labels from a team.profile.get response (or a bare {"fields": [...]} or list)."""
    data = doc.data
    if isinstance(data, dict) and data.get("ok") is False:
        problems.add(1, f"the file is a Slack error response: {data.get('error')!r}")
        return {}
    if isinstance(data, dict) and isinstance(data.get("profile"), dict):
        path: tuple[str | int, ...] = ("profile", "fields")
        data = data["profile"]
    else:
        path = ("fields",)
    if isinstance(data, list):
        path = ()
    elif not isinstance(data, dict) or not isinstance(data.get("fields"), list):
        problems.add(
            1,
            'wrong shape: expected a team.profile.get response ({"ok": true, "profile": '
            '{"fields": [...]}})',
        )
        return {}
    labels: dict[str, str] = {}
    for record in doc.records_at(path, problems):
        fid = text_value(record, problems, "id")
        label = text_value(record, problems, "label")
        if fid is None or label is None:
            problems.add(record.line, "profile field without an id or label")
        else:
            labels[fid] = label
    return labels


def _labels_from_fields(fields: Any, problems: ProblemList) -> dict[str, str]:
    """Labels from an export's embedded "profile_fields" list."""
    if isinstance(fields, dict) and isinstance(fields.get("fields"), list):
        fields = fields["fields"]
    if not isinstance(fields, list):
        problems.add(1, '"profile_fields": expected a list of {"id", "label"} objects')
        return {}
    labels: dict[str, str] = {}
    for entry in fields:
        if isinstance(entry, dict) and _plain(entry.get("id")) and _plain(entry.get("label")):
            labels[str(entry["id"]).strip()] = str(entry["label"]).strip()
        else:
            problems.add(1, f'"profile_fields": entry without an id or label: {entry!r}')
    return labels


def _plain(value: Any) -> str | None:
    """Stripped text, or None for empty/missing/non-text values."""
    if isinstance(value, str):
        return value.strip() or None
    return None


__all__ = [
    "DEFAULT_LABEL_MAP",
    "import_directory",
    "import_slack_members",
    "import_slack_users",
    "load_profile_field_labels",
    "looks_like_slack",
]
