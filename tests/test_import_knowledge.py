"""The knowledge importer: JSONL, JSON, CSV and Markdown folders, all or nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from data.importers.directory import import_directory
from data.importers.errors import ImportFailed
from data.importers.knowledge import import_knowledge, stable_item_id
from data.store import Store, WriteCounts

PEOPLE_CSV = """\
id,name,email,slack_id,teams_id
p1,Ada Lovelace,ada@example.com,U001,T001
p2,Dana Ng,dana@example.com,U002,T002
"""

ITEMS = [
    {
        "person": "p1",
        "title": "Analytical engine notes",
        "text": "How the mill works.",
        "source": "wiki",
        "url": "https://wiki/engine",
        "date": "2024-01-05",
        "tags": ["engines", "math"],
    },
    {
        "author": "Dana@Example.com",
        "body": "Rolling back a helm release: helm rollback.",
        "title": "Helm rollback",
        "tags": "helm; kubernetes,ops",
        "kind": "answer",
        "source": "slack",
    },
    {
        "person_id": "U002",
        "text": "Use terraform import for existing buckets.",
        "id": "slack:C1/123",
        "date": "2024-02-01T09:30:00Z",
    },
]


# --------------------------------------------------------------------------- helpers


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    """Write an input file (creating folders) into the test's folder."""
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def snapshot(store: Store) -> tuple[int, int, int, int]:
    """Row counts and the change counter: equal snapshots mean nothing was written."""
    return (
        store.count("people"),
        store.count("contacts"),
        store.count("knowledge"),
        store.current_seq(),
    )


def failure(store: Store, path: Path) -> list[str]:
    """Run an import that must fail; check nothing was written; return its problems."""
    before = snapshot(store)
    with pytest.raises(ImportFailed) as info:
        import_knowledge(store, path)
    assert snapshot(store) == before
    return [str(p) for p in info.value.problems]


def items_by_title(store: Store) -> dict[str | None, object]:
    return {i.title: i for i in store.knowledge() if i.kind != "skill"}


@pytest.fixture
def store(tmp_path) -> Store:
    """A store with two people in the directory (and no skill items)."""
    store = Store()
    import_directory(store, write(tmp_path, "dir/people.csv", PEOPLE_CSV))
    return store


# ------------------------------------------------------------------------ good files


def test_jsonl_items_resolve_authors_and_normalise_values(store, tmp_path):
    result = import_knowledge(store, write(tmp_path, "items.jsonl", jsonl(ITEMS)))

    assert result.kind == "knowledge"
    assert result.counts == WriteCounts(inserted=3)
    assert result.derived == "by 2 people"
    items = {i.title or i.id: i for i in store.knowledge()}
    engine = items["Analytical engine notes"]
    assert engine.person_id == "p1" and engine.kind == "post"
    assert engine.created_at == "2024-01-05" and engine.tags == ["engines", "math"]
    assert engine.id == stable_item_id("p1", "wiki", "https://wiki/engine", None, "")
    helm = items["Helm rollback"]
    assert (helm.person_id, helm.kind, helm.text) == ("p2", "answer", ITEMS[1]["body"])
    assert helm.tags == ["helm", "kubernetes", "ops"]
    terraform = items["slack:C1/123"]
    assert terraform.person_id == "p2" and terraform.created_at == "2024-02-01T09:30:00+00:00"


def test_json_list_and_csv_items_are_imported(store, tmp_path):
    import_knowledge(store, write(tmp_path, "items.json", json.dumps(ITEMS, indent=2)))
    assert store.count("knowledge") == 3

    csv = (
        "author,title,body,tags,date\n"
        'ada@example.com,On looms,"Punched cards\ncontrol the pattern.",looms;history,2024-03-01\n'
        "T002,,A note without a title.,,\n"
    )
    result = import_knowledge(store, write(tmp_path, "items.csv", csv))
    assert result.counts == WriteCounts(inserted=2)
    looms = items_by_title(store)["On looms"]
    assert looms.text == "Punched cards\ncontrol the pattern."
    assert looms.tags == ["looms", "history"]


def test_reimporting_the_same_items_changes_nothing(store, tmp_path):
    path = write(tmp_path, "items.jsonl", jsonl(ITEMS))
    import_knowledge(store, path)
    before = snapshot(store)

    assert import_knowledge(store, path).counts == WriteCounts(unchanged=3)
    assert snapshot(store) == before


def test_an_edited_text_with_the_same_title_updates_the_item_in_place(store, tmp_path):
    import_knowledge(store, write(tmp_path, "items.jsonl", jsonl(ITEMS)))
    edited = [dict(ITEMS[0]), dict(ITEMS[1]), ITEMS[2]]
    edited[0]["text"] = "How the mill and the store work."
    edited[1]["body"] = "helm rollback <release> <revision>"

    result = import_knowledge(store, write(tmp_path, "items.jsonl", jsonl(edited)))

    assert result.counts == WriteCounts(updated=2, unchanged=1)
    assert store.count("knowledge") == 3
    assert items_by_title(store)["Helm rollback"].text == "helm rollback <release> <revision>"


def test_a_markdown_folder_is_imported_recursively(store, tmp_path):
    docs = tmp_path / "docs"
    write(
        tmp_path,
        "docs/runbooks/deploy.md",
        "---\nauthor: dana@example.com\ndate: 2024-04-01\ntags: [deploy, helm]\n"
        "url: https://docs/deploy\n---\n# Deploying\n\nRun `helm upgrade`.\n",
    )
    write(
        tmp_path,
        "docs/engine.md",
        "---\nauthor: p1\ntitle: The Engine\nkind: answer\nsource: wiki\n---\nIt computes.\n",
    )
    write(
        tmp_path,
        "docs/notes.md",
        "---\nauthor: U001\n---\n```sh\n# not a heading\n```\nJust notes.\n",
    )
    write(tmp_path, "docs/.drafts/secret.md", "---\nauthor: nobody\n---\nignored\n")
    write(tmp_path, "docs/readme.txt", "not markdown")

    result = import_knowledge(store, docs)

    assert result.counts == WriteCounts(inserted=3)
    items = {i.id: i for i in store.knowledge()}
    assert sorted(items) == ["md:engine.md", "md:notes.md", "md:runbooks/deploy.md"]
    deploy = items["md:runbooks/deploy.md"]
    assert (deploy.person_id, deploy.title, deploy.kind, deploy.source) == (
        "p2",
        "Deploying",
        "doc",
        "docs",
    )
    assert deploy.created_at == "2024-04-01" and deploy.tags == ["deploy", "helm"]
    assert deploy.text == "# Deploying\n\nRun `helm upgrade`."
    assert (items["md:engine.md"].title, items["md:engine.md"].kind) == ("The Engine", "answer")
    assert items["md:notes.md"].title == "notes"  # no front-matter title, no heading: the stem
    assert import_knowledge(store, docs).counts == WriteCounts(unchanged=3)

    edited = "---\nauthor: p1\ntitle: The Engine\n---\nIt still computes.\n"
    write(tmp_path, "docs/engine.md", edited)
    assert import_knowledge(store, docs).counts == WriteCounts(updated=1, unchanged=2)
    assert store.count("knowledge") == 3


# ------------------------------------------------------------------------- bad files


def test_missing_required_columns_are_reported_once_on_the_header_line(store, tmp_path):
    path = write(tmp_path, "items.csv", "title,url\nA,https://a\nB,https://b\n")
    assert failure(store, path) == [
        f"{path}:1: missing required columns: person (or person_id, author), text (or body)"
    ]


def test_every_bad_item_is_reported_with_its_line_and_nothing_is_written(store, tmp_path):
    rows = [
        {"person": "p1", "text": "fine", "id": "x1"},
        {"person": "p404", "text": "who wrote this?"},
        {"person": "p1", "text": "   "},
        {"text": "anonymous"},
        {"person": "p2", "text": "again", "id": "x1"},
        {"person": "p2", "text": "when?", "date": "last tuesday"},
        {"person": "p2", "text": "odd", "kind": "rumour"},
        {"person": "p1", "text": "one", "title": "Same"},
        {"person": "p1", "text": "two", "title": "Same"},
        {"person": "p1", "text": "tagged", "tags": {"a": 1}},
    ]
    path = write(tmp_path, "items.jsonl", jsonl(rows))
    assert failure(store, path) == [  # sorted by line
        f"{path}:2: person: unknown person 'p404' (not an id, email, Slack id or Teams id in "
        "the directory)",
        f"{path}:3: empty text",
        f"{path}:4: missing required value: person (or person_id, author)",
        f"{path}:5: duplicate id 'x1' (first on line 1)",
        f"{path}:6: date: not an ISO date: 'last tuesday'",
        f"{path}:7: kind: Value error, unknown knowledge kind 'rumour' (expected one of "
        "('post', 'answer', 'question', 'comment', 'doc', 'skill'))",
        f"{path}:9: duplicate item: same person, source and title as line 8 (give each an id, "
        "or a different url or title)",
        f"{path}:10: tags: expected a list or text, got an object",
    ]


def test_markdown_problems_name_each_file_and_nothing_is_written(store, tmp_path):
    docs = tmp_path / "docs"
    good = write(tmp_path, "docs/a-good.md", "---\nauthor: p1\n---\nFine.\n")
    unknown = write(tmp_path, "docs/b-unknown.md", "---\nauthor: someone@else.com\n---\nHi\n")
    missing = write(tmp_path, "docs/c-missing.md", "---\ntitle: No author\n---\nHi\n")
    yaml = write(tmp_path, "docs/d-yaml.md", "---\nauthor: [p1\n---\nHi\n")
    empty = write(tmp_path, "docs/e-empty.md", "---\nauthor: p1\n---\n\n")
    latin = write(tmp_path, "docs/f-latin.md", "---\nauthor: p1\n---\n\nCafé\n".encode("latin-1"))
    dup = write(tmp_path, "docs/g-dup.md", "---\nauthor: p2\nid: md:a-good.md\n---\nCopy\n")
    date = write(tmp_path, "docs/h-date.md", "---\nauthor: p2\ndate: soon\n---\nLater\n")

    problems = failure(store, docs)

    assert not any(p.startswith(f"{good}:") for p in problems)
    # Grouped by file, in file order.
    assert [p for p in problems if not p.startswith(str(yaml))] == [
        f"{unknown}:1: author: unknown person 'someone@else.com' (not an id, email, Slack id "
        "or Teams id in the directory)",
        f"{missing}:1: front matter: missing required value: author",
        f"{empty}:1: empty text",
        f"{latin}:5: not UTF-8: byte 0xe9 at offset 23 (save the file as UTF-8)",
        f"{dup}:1: duplicate id 'md:a-good.md' (first in {good}:1)",
        f"{date}:1: date: not an ISO date: 'soon'",
    ]
    assert next(p for p in problems if p.startswith(str(yaml))).startswith(
        f"{yaml}:1: front matter is not valid YAML:"
    )


def test_a_folder_without_markdown_is_refused(store, tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    assert failure(store, folder) == [f"{folder}: no Markdown (.md) files in this folder"]


def test_bad_encoding_is_reported_with_its_line(store, tmp_path):
    path = write(tmp_path, "items.jsonl", (jsonl(ITEMS[:2]) + '{"text": "Ç"}\n').encode("cp1252"))
    problems = failure(store, path)
    assert len(problems) == 1 and problems[0].startswith(f"{path}:3: not UTF-8")


def test_an_empty_file_is_refused(store, tmp_path):
    empty = write(tmp_path, "items.jsonl", "\n")
    assert failure(store, empty) == [f"{empty}: empty file (no records)"]
    no_items = write(tmp_path, "items.json", '{"items": []}')
    assert failure(store, no_items) == [f"{no_items}: empty file (no items)"]


def test_the_wrong_format_is_refused(store, tmp_path):
    xml = write(tmp_path, "items.xml", "<items/>")
    assert failure(store, xml) == [
        f"{xml}: unsupported format '.xml' (expected .jsonl, .json, .csv, .md or a folder)"
    ]
    shape = write(tmp_path, "items.json", '{"person": "p1", "text": "not in a list"}')
    assert failure(store, shape) == [
        f'{shape}:1: wrong shape: expected a JSON list of objects or an object with a "items" '
        'or "knowledge" list, got an object'
    ]
    scalar = write(tmp_path, "numbers.json", "[1, 2]")
    assert failure(store, scalar) == [
        f"{scalar}:1: expected an object, got a number",
        f"{scalar}:1: expected an object, got a number",
    ]


# ------------------------------------------------------- control characters, limits


def test_text_may_hold_lines_and_tabs_but_one_line_fields_no_control_characters(store, tmp_path):
    rows = [
        {"person": "p1", "title": "Fine", "text": "Step 1:\n\tdo this\r\n\tthen that"},
        {"person": "p1", "title": "Nul", "text": "before\u0000after"},
        {"person": "p1", "title": "Two\nlines", "text": "x"},
        {"person": "p1", "text": "y", "tags": ["ok", "t\u0085g"], "url": "https://a\u007f"},
        {"author": "p2\u0000", "text": "z", "source": "s\u001b", "id": "i\td"},
    ]
    path = write(tmp_path, "items.jsonl", jsonl(rows))
    assert failure(store, path) == [
        f"{path}:2: text: control character U+0000 (NUL) at character 7",
        f"{path}:3: title: line break (U+000A) at character 4: this field must be one line",
        f"{path}:4: url: control character U+007F (DEL) at character 10",
        f"{path}:4: tags: control character U+0085 (next line) at character 2",
        f"{path}:5: author: control character U+0000 (NUL) at character 3",
        f"{path}:5: id: tab (U+0009) at character 2: this field must be one line",
        f"{path}:5: source: control character U+001B (ESC) at character 2",
    ]

    import_knowledge(store, write(tmp_path, "fine.jsonl", jsonl(rows[:1])))
    assert items_by_title(store)["Fine"].text == "Step 1:\n\tdo this\r\n\tthen that"


def test_csv_items_are_refused_for_the_same_values(store, tmp_path):
    path = write(
        tmp_path,
        "items.csv",
        'person,title,text\np1,Fine,"Two\nlines\tand a tab"\np1,Bad,"nul\x00"\np\x002,T,x\n',
    )
    assert failure(store, path) == [
        f"{path}:4: text: control character U+0000 (NUL) at character 4",
        f"{path}:5: person: control character U+0000 (NUL) at character 2",
    ]


def test_a_markdown_file_with_a_control_character_is_refused_at_its_line(store, tmp_path):
    nul = write(tmp_path, "docs/nul.md", "---\nauthor: p1\n---\nline one\n\tline\x00 two\n")
    title = write(tmp_path, "docs/title.md", '---\nauthor: p1\ntitle: "Tab\\there"\n---\nok\n')
    tags = write(tmp_path, "docs/tags.md", '---\nauthor: p1\ntags: [a, "b\\x1bc"]\n---\nok\n')
    fine = write(tmp_path, "docs/fine.md", "---\nauthor: p1\n---\n# Fine\n\n\tcode\r\nmore\n")

    assert failure(store, tmp_path / "docs") == [
        f"{nul}:5: control character U+0000 (NUL) at column 6",
        f"{tags}:1: tags: control character U+001B (ESC) at character 2",
        f"{title}:1: title: tab (U+0009) at character 4: this field must be one line",
    ]
    assert import_knowledge(store, fine).counts == WriteCounts(inserted=1)


def test_a_markdown_body_over_the_field_limit_or_a_file_over_the_record_limit_is_refused(
    store, tmp_path
):
    from data.importers.readers import MAX_FIELD_CHARS, MAX_RECORD_CHARS

    at_limit = write(tmp_path, "docs/a.md", "---\nauthor: p1\n---\n" + "x" * MAX_FIELD_CHARS)
    assert import_knowledge(store, at_limit).counts == WriteCounts(inserted=1)

    body = write(tmp_path, "docs/b.md", "---\nauthor: p1\n---\n" + "x" * (MAX_FIELD_CHARS + 1))
    whole = write(tmp_path, "docs/c.md", "---\nauthor: p1\n---\n" + "é" * MAX_RECORD_CHARS)
    huge = write(tmp_path, "docs/d.md", b"y" * (4 * MAX_RECORD_CHARS + 4))
    assert failure(store, tmp_path / "docs") == [
        f"{body}: text: 131,073 characters: more than the 131,072 a value may hold",
        f"{whole}: file is {MAX_RECORD_CHARS + 19:,} characters long: more than the "
        "1,048,576 characters one record may hold (not read)",
        f"{huge}: file is {4 * MAX_RECORD_CHARS + 4:,} bytes: more than the 1,048,576 "
        "characters one record may hold (not read)",
    ]


# ------------------------------------------------------------------- symbolic links


def test_links_out_of_a_markdown_folder_are_refused_and_nothing_is_imported(store, tmp_path):
    secret = write(tmp_path, "private/secret.md", "---\nauthor: p1\n---\nThe passwords.\n")
    write(tmp_path, "private/more/also.md", "---\nauthor: p1\n---\nMore.\n")
    write(tmp_path, "docs/good.md", "---\nauthor: p1\n---\nFine.\n")
    docs = tmp_path / "docs"
    (docs / "leak.md").symlink_to(secret)
    (docs / "sub").mkdir()
    (docs / "sub" / "private").symlink_to(tmp_path / "private", target_is_directory=True)
    (docs / "gone.md").symlink_to(docs / "deleted.md")
    (docs / "self.md").symlink_to("self.md")
    (docs / "notes.txt").symlink_to("/etc/hostname")  # not Markdown: never read anyway

    assert failure(store, docs) == [
        f"{docs}/gone.md: broken symbolic link (to {docs}/deleted.md): nothing to read",
        f"{docs}/leak.md: symbolic link to {secret}, outside {docs}: not followed",
        f"{docs}/self.md: symbolic link loop: not followed",
        f"{docs}/sub/private: symbolic link to {tmp_path}/private, outside {docs}: not followed",
    ]


def test_links_inside_a_markdown_folder_are_followed_once_and_never_round_a_loop(store, tmp_path):
    write(tmp_path, "docs/a.md", "---\nauthor: p1\n---\nA.\n")
    write(tmp_path, "docs/sub/b.md", "---\nauthor: p2\n---\nB.\n")
    docs = tmp_path / "docs"
    (docs / "latest.md").symlink_to("a.md")
    (docs / "mirror").symlink_to("sub", target_is_directory=True)
    (docs / "sub" / "up").symlink_to("..", target_is_directory=True)  # a loop
    (tmp_path / "link-to-docs").symlink_to(docs, target_is_directory=True)

    assert import_knowledge(store, docs).counts == WriteCounts(inserted=2)
    assert sorted(i.id for i in store.knowledge() if i.kind != "skill") == [
        "md:a.md",
        "md:sub/b.md",
    ]
    # The folder named through a link is the same folder: the same items, unchanged.
    assert import_knowledge(store, tmp_path / "link-to-docs").counts == WriteCounts(unchanged=2)
