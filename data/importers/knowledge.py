"""The knowledge importer: what people wrote, from JSONL/JSON/CSV or a folder of Markdown.

All or nothing: every row (or Markdown file) is read and checked, authors are resolved
against the directory, and only if nothing is wrong are the items written.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path

import frontmatter
import yaml
from pydantic import ValidationError

from data.importers.errors import ImportFailed, ImportProblem, ProblemList
from data.importers.readers import (
    MAX_RECORD_CHARS,
    ImportResult,
    Record,
    Table,
    check_fields,
    date_value,
    detect_format,
    field_problem,
    list_value,
    person_ref,
    read_table,
    read_text,
    require_columns,
    text_control,
    text_value,
    validation_reasons,
)
from data.models import KnowledgeItem, Person
from data.store import Store

# Accepted column names, preferred first.
PERSON_NAMES = ("person", "person_id", "author")
TEXT_NAMES = ("text", "body")
DATE_NAMES = ("date", "created_at")
TAG_SEPARATORS = ";,"
# Columns (and front matter keys) whose values must be one line; the text may have many.
ONE_LINE_NAMES = (*PERSON_NAMES, "id", "title", "source", "url", "tags")

DEFAULT_KIND = "post"
MARKDOWN_KIND = "doc"
MARKDOWN_SOURCE = "docs"
SKILL_SOURCE = "directory"

_HEADING = re.compile(r"^#\s+(.+?)(?:\s+#+)?\s*$")
_FENCE = re.compile(r"^\s{0,3}(```|~~~)")


@dataclass
class _Draft:
    """One item as read, before its author is resolved. Problems go to `problems`, the
    list of the file the item came from (a folder import has one per Markdown file)."""

    problems: ProblemList
    line: int
    ref_name: str
    ref: str
    text: str
    id: str | None = None
    title: str | None = None
    kind: str = DEFAULT_KIND
    source: str | None = None
    url: str | None = None
    tags: list[str] = field(default_factory=list)
    created_at: str | None = None


# --------------------------------------------------------------------------- public


def import_knowledge(store: Store, path: Path) -> ImportResult:
    """Import knowledge items, all or nothing.

    `path` is a JSONL file, a JSON list (or an object with an "items" list), a CSV file, a
    Markdown file or a folder of Markdown files (searched recursively) with YAML front
    matter naming the `author`. Authors may be given by id, email, Slack id or Teams id.
    Items without an id get a stable one (`stable_item_id`), so re-importing changes
    nothing and an edited text with the same url or title updates its item in place.

    Raises ImportFailed listing every problem (`file:line: reason`) if anything is wrong.
    """
    path = Path(path)
    problems = ProblemList(path)
    lists = [problems]
    drafts: list[_Draft] = []
    fmt = detect_format(path, problems, ("jsonl", "json", "csv", "md", "dir"))
    if fmt in ("md", "dir"):
        drafts, file_lists = _read_markdown(path, problems)
        lists.extend(file_lists)
    elif fmt is not None:
        table = read_table(
            path,
            problems,
            ("items", "knowledge"),
            "items",
            single_line=ONE_LINE_NAMES,
            multi_line=TEXT_NAMES,
            drop_refused=True,
        )
        if table is not None:
            drafts = _tabular_drafts(table, problems)
    if not drafts:
        if not any(lists):
            problems.add(0, "empty file (no items)")
        _raise_all(lists)

    with store.transaction():  # authors cannot disappear between the check and the write
        items = _resolve(drafts, store.person_refs())
        _raise_all(lists)
        counts = store.upsert_knowledge(items)
    authors = len({i.person_id for i in items})
    return ImportResult(
        "knowledge", counts, f"by {authors} {'person' if authors == 1 else 'people'}"
    )


def skill_items(people: Iterable[Person]) -> list[KnowledgeItem]:
    """One "skill" item per person with declared skills, so those skills are searchable.

    E.g. "Dana Ng, Staff SRE on the Platform team. Skills: kubernetes, helm, terraform."
    """
    items: list[KnowledgeItem] = []
    for person in people:
        if not person.skills:
            continue
        items.append(
            KnowledgeItem(
                id=f"skill:{person.id}",
                person_id=person.id,
                title=f"Skills of {person.name}",
                text=f"{_introduce(person)} Skills: {', '.join(person.skills)}.",
                kind="skill",
                source=SKILL_SOURCE,
                tags=list(person.skills),
            )
        )
    return items


def stable_item_id(
    person_id: str, source: str | None, url: str | None, title: str | None, text: str
) -> str:
    """An id that stays the same across imports: from the author, the source and the url
    (else the title, else a hash of the text)."""
    if url:
        basis = f"url:{url}"
    elif title:
        basis = f"title:{title}"
    else:
        basis = "text:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
    key = "\x1f".join((person_id, source or "", basis))
    return "k:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


# ----------------------------------------------------------------------- tabular


def _tabular_drafts(table: Table, problems: ProblemList) -> list[_Draft]:
    missing = require_columns(table, problems, [PERSON_NAMES, TEXT_NAMES])
    drafts: list[_Draft] = []
    for record in table.records:
        draft = _draft(record, problems, missing, default_kind=DEFAULT_KIND)
        if draft is not None:
            drafts.append(draft)
    return drafts


def _draft(
    record: Record,
    problems: ProblemList,
    missing: AbstractSet[str] = frozenset(),
    *,
    default_kind: str,
    default_source: str | None = None,
    body: str | None = None,
) -> _Draft | None:
    """Read one item's values; None (with problems recorded) if its author or text is
    missing. `body` is the text when it does not come from a column (Markdown)."""
    ref_name = next((n for n in PERSON_NAMES if record.values.get(n) not in (None, "")), "person")
    ref = text_value(record, problems, *PERSON_NAMES)
    # A value of the wrong type is reported by text_value; only report what is truly absent.
    if ref is None and PERSON_NAMES[0] not in missing and not _given(record, PERSON_NAMES):
        problems.add(record.line, f"missing required value: {_names(PERSON_NAMES)}")
    text = body.strip() if body is not None else text_value(record, problems, *TEXT_NAMES)
    if not text and TEXT_NAMES[0] not in missing and (body is not None or _text_is_text(record)):
        problems.add(record.line, "empty text")
    tags = list_value(record, problems, "tags", TAG_SEPARATORS) or []
    draft = _Draft(
        problems=problems,
        line=record.line,
        ref_name=ref_name,
        ref=ref or "",
        text=text or "",
        id=text_value(record, problems, "id"),
        title=text_value(record, problems, "title"),
        kind=text_value(record, problems, "kind") or default_kind,
        source=text_value(record, problems, "source") or default_source,
        url=text_value(record, problems, "url"),
        tags=tags,
        created_at=date_value(record, problems, *DATE_NAMES),
    )
    return draft if ref and text else None


# ---------------------------------------------------------------------- Markdown


def _read_markdown(path: Path, problems: ProblemList) -> tuple[list[_Draft], list[ProblemList]]:
    """Drafts from one Markdown file or every *.md under a folder, with one problem list
    per file (so problems name the Markdown file, or the link, they are about)."""
    lists: list[ProblemList] = []
    if path.is_dir():
        files, lists = _markdown_files(path, problems)
        if not files and not lists:
            problems.add(0, "no Markdown (.md) files in this folder")
    else:
        files = [(path, path.name)]
    drafts: list[_Draft] = []
    for file, relative in files:
        file_problems = ProblemList(file)
        lists.append(file_problems)
        draft = _markdown_draft(file, relative, file_problems)
        if draft is not None:
            drafts.append(draft)
    return drafts, lists


def _markdown_files(
    root: Path, problems: ProblemList
) -> tuple[list[tuple[Path, str]], list[ProblemList]]:
    """Every Markdown file under `root` as (path, path relative to `root`), sorted by the
    relative path, hidden files and folders left out; and a problem list for each
    symbolic link that is not followed.

    Links are followed only within the folder: a link to a folder or a Markdown file that
    resolves outside it is refused, and so is a broken link or a loop of links named *.md
    (others lead to nothing that would be imported). Each file is read once, under its
    real path in the folder, however many links lead to it, and each folder is walked once
    (a link to a folder already walked, or to one of its parents, leads nowhere new)."""
    real_root = root.resolve()
    found: dict[str, Path] = {}
    refused: list[ProblemList] = []
    walked: set[Path] = set()
    pending = [root]
    while pending:
        folder = pending.pop()
        real_folder = folder.resolve()
        if real_folder in walked:
            continue
        walked.add(real_folder)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            problems.add(0, f"cannot read the folder {folder}: {exc.strerror or exc}")
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            link = entry.is_symlink()
            markdown = entry.name.endswith(".md")
            if not link:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                elif markdown and entry.is_file(follow_symlinks=False):
                    real = Path(entry.path).resolve()
                    found.setdefault(real.relative_to(real_root).as_posix(), real)
                continue
            reason, real = _link_target(Path(entry.path), real_root, root)
            if reason is None and real is not None and real.is_dir():
                pending.append(Path(entry.path))
            elif reason is None and real is not None and markdown and real.is_file():
                found.setdefault(real.relative_to(real_root).as_posix(), real)
            elif reason is not None and (markdown or (real is not None and real.is_dir())):
                link_problems = ProblemList(entry.path)
                link_problems.add(0, reason)
                refused.append(link_problems)
    files = [(root / relative, relative) for relative in sorted(found)]
    return files, refused


def _link_target(link: Path, real_root: Path, root: Path) -> tuple[str | None, Path | None]:
    """Where a symbolic link leads, and why it may not be followed (None if it may)."""
    try:
        real = link.resolve(strict=True)
    except FileNotFoundError:
        return f"broken symbolic link (to {os.readlink(link)}): nothing to read", None
    except (OSError, RuntimeError):  # a loop of links
        return "symbolic link loop: not followed", None
    if not real.is_relative_to(real_root):
        return f"symbolic link to {real}, outside {root}: not followed", real
    return None, real


def _markdown_draft(file: Path, relative: str, problems: ProblemList) -> _Draft | None:
    text = read_text(file, problems, max_chars=MAX_RECORD_CHARS)
    if text is None:
        return None
    control = text_control(text)
    if control is not None:  # (what YAML would refuse too, less clearly)
        problems.add(*control)
        return None
    try:
        post = frontmatter.loads(text)
    except yaml.YAMLError as exc:
        problems.add(1, f"front matter is not valid YAML: {' '.join(str(exc).split())}")
        return None
    meta = {str(k).strip().lower(): v for k, v in post.metadata.items()}
    record = Record(1, meta)  # front matter problems are reported on line 1
    for name in PERSON_NAMES:
        if isinstance(meta.get(name), list):
            problems.add(1, f"{name}: expected one person, got a list")
            return None
    if not any(meta.get(n) not in (None, "") for n in PERSON_NAMES):
        problems.add(1, "front matter: missing required value: author")
    before = len(problems.problems)
    check_fields(Table([record]), problems, ONE_LINE_NAMES)
    body = field_problem(post.content, multiline=True)
    if body is not None:
        problems.add(0, f"text: {body}")
    if len(problems.problems) > before:
        return None
    draft = _draft(
        record,
        problems,
        {"person"},
        default_kind=MARKDOWN_KIND,
        default_source=MARKDOWN_SOURCE,
        body=post.content,
    )
    if draft is None:
        return None
    draft.id = draft.id or f"md:{relative}"
    draft.title = draft.title or _first_heading(post.content) or file.stem
    draft.ref_name = "author" if draft.ref_name == "person" else draft.ref_name
    return draft


def _first_heading(markdown: str) -> str | None:
    """The text of the first level-1 ATX heading outside code fences."""
    in_fence = False
    for line in markdown.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and (m := _HEADING.match(line)):
            return m.group(1).strip() or None
    return None


# ----------------------------------------------------------------------- resolve


def _resolve(drafts: Sequence[_Draft], refs: Mapping[str, str]) -> list[KnowledgeItem]:
    """Resolve authors, assign ids, validate; problems go to each draft's file."""
    items: list[KnowledgeItem] = []
    first: dict[str, _Draft] = {}
    for draft in drafts:
        person_id = person_ref(refs, draft.ref)
        if person_id is None:
            draft.problems.add(
                draft.line,
                f"{draft.ref_name}: unknown person {draft.ref!r} (not an id, "
                "email, Slack id or Teams id in the directory)",
            )
            continue
        item_id = draft.id or stable_item_id(
            person_id, draft.source, draft.url, draft.title, draft.text
        )
        if item_id in first:
            draft.problems.add(draft.line, _duplicate_reason(item_id, draft, first[item_id]))
            continue
        first[item_id] = draft
        try:
            items.append(
                KnowledgeItem(
                    id=item_id,
                    person_id=person_id,
                    text=draft.text,
                    title=draft.title,
                    kind=draft.kind,
                    source=draft.source,
                    url=draft.url,
                    tags=draft.tags,
                    created_at=draft.created_at,
                )
            )
        except ValidationError as exc:
            for reason in validation_reasons(exc):
                draft.problems.add(draft.line, reason)
    return items


def _duplicate_reason(item_id: str, draft: _Draft, earlier: _Draft) -> str:
    same_file = earlier.problems.file == draft.problems.file
    where = f"line {earlier.line}" if same_file else f"{earlier.problems.file}:{earlier.line}"
    if draft.id:
        return f"duplicate id {item_id!r} (first {'on' if same_file else 'in'} {where})"
    basis = "url" if draft.url else "title" if draft.title else "text"
    return (
        f"duplicate item: same person, source and {basis} as {where} "
        "(give each an id, or a different url or title)"
    )


def _raise_all(lists: Sequence[ProblemList]) -> None:
    """Raise one ImportFailed with the problems of every file, if there are any."""
    problems: list[ImportProblem] = [p for pl in lists for p in pl.problems]
    if problems:
        raise ImportFailed(problems)


def _introduce(person: Person) -> str:
    """ "Dana Ng, Staff SRE on the Platform team." and shorter forms when data is missing."""
    team = None
    if person.team:
        team = person.team if person.team.lower().endswith("team") else f"{person.team} team"
    if person.title and team:
        return f"{person.name}, {person.title} on the {team}."
    if person.title:
        return f"{person.name}, {person.title}."
    if team:
        return f"{person.name}, on the {team}."
    return f"{person.name}."


def _given(record: Record, names: Sequence[str]) -> bool:
    """Whether any of these columns holds something other than empty text."""
    for name in names:
        value = record.values.get(name)
        if value is not None and not (isinstance(value, str) and not value.strip()):
            return True
    return False


def _text_is_text(record: Record) -> bool:
    """Whether the text columns hold text (or nothing), not a value of the wrong type."""
    return all(isinstance(record.values.get(n), str | None) for n in TEXT_NAMES)


def _names(names: Sequence[str]) -> str:
    return f"{names[0]} (or {', '.join(names[1:])})"


__all__ = ["import_knowledge", "skill_items", "stable_item_id"]
