"""The `whoknows` command line, run in-process on the sample org and on broken files."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from data.store import Store

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
OOM_QUESTION = (
    "Our fleet-api pods keep getting OOM killed and restarting since this morning's deploy. "
    "How do I safely go back to the previous version?"
)

# Click 8.2+ always keeps stderr apart: result.stdout, result.stderr (result.output has both).
runner = CliRunner()


def whoknows(*args: str | Path, columns: int = 200):
    """Run `whoknows ARGS` in-process. Rich wraps at the terminal width, taken from COLUMNS."""
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": str(columns)})


def unwrapped(text: str) -> str:
    """Output with the line breaks Rich adds at the console width taken out again."""
    return text.replace("\n", "")


def snapshot(db: Path) -> tuple[int, int, int, int, int]:
    """Row counts and the change counter: equal snapshots mean nothing was written."""
    store = Store(db)
    try:
        return (
            store.count("people"), store.count("contacts"), store.count("knowledge"),
            store.count("vectors"), store.current_seq(),
        )  # fmt: skip
    finally:
        store.close()


def import_sample(db: Path) -> list[str]:
    """Import the whole sample org; return what each import printed."""
    printed = []
    for kind, source in (
        ("directory", SAMPLE / "people.csv"),
        ("contacts", SAMPLE / "contacts.csv"),
        ("knowledge", SAMPLE / "knowledge.jsonl"),
        ("knowledge", SAMPLE / "docs"),
    ):
        result = whoknows("import", kind, source, "--db", db)
        assert result.exit_code == 0, result.output
        printed.append(unwrapped(result.stdout))
    return printed


def names_by_id() -> dict[str, str]:
    with (SAMPLE / "people.csv").open(encoding="utf-8", newline="") as f:
        return {row["id"]: row["name"] for row in csv.DictReader(f)}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "whoknows.db"


@pytest.fixture
def bad_directory(tmp_path: Path) -> Path:
    """A directory export with a duplicate id (line 4) and an unknown manager (line 3)."""
    path = tmp_path / "exports" / "hr-directory-export.csv"
    path.parent.mkdir()
    path.write_text(
        "id,name,email,manager_id\n"
        "ada,Ada Lovelace,ada@example.com,\n"
        "bob,Bob Roe,bob@example.com,nobody.here\n"
        "ada,Ada Again,ada2@example.com,\n",
        encoding="utf-8",
    )
    return path


# ----------------------------------------------------------------------- imports


def test_importing_the_sample_org_prints_what_was_written(db):
    people, contacts, knowledge, docs = import_sample(db)

    assert people.startswith("people: 40 new, 0 updated, 0 unchanged (")
    assert "skill items: 40 new" in people
    assert contacts.startswith("contacts: 78 new, 0 updated, 0 unchanged")
    assert knowledge.startswith("knowledge: 206 new, 0 updated, 0 unchanged")
    assert docs.startswith("knowledge: 12 new, 0 updated, 0 unchanged")
    assert snapshot(db)[:4] == (40, 78, 206 + 12 + 40, 0)


def test_reimporting_the_same_files_changes_nothing(db):
    import_sample(db)
    before = snapshot(db)

    people, contacts, knowledge, docs = import_sample(db)

    assert people.startswith("people: 0 new, 0 updated, 40 unchanged")
    assert "skill items: 0 new, 0 updated, 40 unchanged" in people
    assert contacts.startswith("contacts: 0 new, 0 updated, 78 unchanged")
    assert knowledge.startswith("knowledge: 0 new, 0 updated, 206 unchanged")
    assert docs.startswith("knowledge: 0 new, 0 updated, 12 unchanged")
    assert snapshot(db) == before


def test_a_bad_directory_file_is_refused_whole_with_every_problem_listed(db, bad_directory):
    import_sample(db)
    before = snapshot(db)

    result = whoknows("import", "directory", bad_directory, "--db", db)

    assert result.exit_code != 0
    assert result.stdout == ""
    said = unwrapped(result.stderr)
    assert f"Nothing was imported: 2 problem(s) in {bad_directory}" in said
    assert f"{bad_directory}:4: duplicate id 'ada' (first on line 2)" in said
    assert f"{bad_directory}:3: manager_id: unknown person 'nobody.here'" in said
    assert snapshot(db) == before


def test_each_problem_is_one_whole_line_even_at_80_columns(db, bad_directory):
    result = whoknows("import", "directory", bad_directory, "--db", db, columns=80)

    assert result.exit_code != 0
    lines = result.stderr.splitlines()
    assert f"{bad_directory}:4: duplicate id 'ada' (first on line 2)" in lines
    assert any(line.startswith(f"{bad_directory}:3: manager_id: unknown") for line in lines)


def test_the_refusal_names_the_file_even_with_brackets_in_its_path(db, tmp_path):
    path = tmp_path / "[draft]" / "people.csv"
    path.parent.mkdir()
    path.write_text("id,name,manager_id\nada,Ada Lovelace,nobody.here\n", encoding="utf-8")

    result = whoknows("import", "directory", path, "--db", db)

    assert result.exit_code != 0
    assert f"{path}:2: manager_id: unknown person 'nobody.here'" in unwrapped(result.stderr)
    assert f"Nothing was imported: 1 problem(s) in {path}" in unwrapped(result.stderr)


@pytest.mark.parametrize("kind", ["directory", "contacts", "knowledge"])
def test_importing_a_missing_file_fails_with_a_clear_message(db, tmp_path, kind):
    missing = tmp_path / "no-such-export.csv"

    result = whoknows("import", kind, missing, "--db", db)

    assert result.exit_code != 0
    assert f"{missing}: no such file or folder" in unwrapped(result.stderr)
    assert not db.exists()  # checked before the database is made


# ------------------------------------------------------------- index, who, demo


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The sample org imported and indexed once for this module: the database and what
    `whoknows index` printed. Tests may read it but must not change it."""
    db = tmp_path_factory.mktemp("indexed") / "whoknows.db"
    import_sample(db)
    result = whoknows("index", "--db", db)
    assert result.exit_code == 0, result.output
    return db, result.stdout


def test_index_embeds_every_item_once_and_then_nothing(indexed):
    db, first = indexed
    items = snapshot(db)[2]

    second = whoknows("index", "--db", db)

    assert first.startswith(f"embedded {items} item(s); {items} vectors in ")
    assert second.exit_code == 0, second.output
    assert second.stdout.startswith(f"embedded 0 item(s); {items} vectors in ")


def test_who_shows_candidates_and_the_reasons_to_ask_them(indexed):
    db, _ = indexed

    result = whoknows("who", OOM_QUESTION, "--asker", "sofia.lindqvist", "--db", db)

    assert result.exit_code == 0, result.output
    assert "asked by Sofia Lindqvist" in unwrapped(result.stdout)
    assert "Oleksandr Petrenko" in result.stdout
    assert "wrote “" in result.stdout  # evidence: what they wrote
    assert "a contact of yours" in result.stdout  # and how the asker reaches them


def test_who_refuses_an_empty_question(db):
    import_sample(db)

    result = whoknows("who", "   ", "--asker", "sofia.lindqvist", "--db", db)

    assert result.exit_code != 0
    assert "The question is empty" in result.stderr


def test_who_refuses_an_asker_who_is_not_in_the_directory(db):
    import_sample(db)

    result = whoknows("who", "Who knows Helm?", "--asker", "ghost.person", "--db", db)

    assert result.exit_code != 0
    assert "'ghost.person' is not in the directory" in unwrapped(result.stderr)


def test_demo_imports_the_sample_org_and_answers_every_demo_question():
    questions = json.loads((SAMPLE / "demo_questions.json").read_text(encoding="utf-8"))
    names = names_by_id()

    result = whoknows("demo")

    assert result.exit_code == 0, result.output
    shown = result.stdout
    assert "imported people: 40 new" in shown
    assert "indexed 258 knowledge items" in shown
    headers = [line for line in shown.splitlines() if line.startswith("Q ")]
    assert len(headers) == len(questions)
    assert len(re.findall(r"\bwho\b.*\bwhy\b.*\bscore\b", shown)) == len(questions)
    for header, q in zip(headers, questions, strict=True):
        assert header.startswith(f"Q {q['question'][:60]}")
        assert f"asked by {names[q['asker']]}" in unwrapped(shown)
    for expert in ("oleksandr.petrenko", "ingrid.larsen", "aisha.bello"):
        assert names[expert] in shown


def test_bad_settings_are_named_one_per_line_without_a_traceback(db, monkeypatch):
    from bot.settings import get_settings

    monkeypatch.setenv("WHOKNOWS_ANN", "sometimes")
    monkeypatch.setenv("WHOKNOWS_LIFECYCLE__FIRST_WAVE", "0")
    get_settings.cache_clear()
    try:
        result = whoknows("who", "Who knows Helm?", "--asker", "sofia.lindqvist", "--db", db)
    finally:
        get_settings.cache_clear()

    assert result.exit_code == 1
    assert "WHOKNOWS_ANN: Input should be 'auto', 'on' or 'off' (got 'sometimes')" in unwrapped(
        result.stderr
    )
    assert "WHOKNOWS_LIFECYCLE__FIRST_WAVE: " in result.stderr
    assert "Traceback" not in result.stderr


def test_the_version_is_printed_with_the_schema_it_writes():
    from data.migrations import MIGRATIONS

    result = whoknows("--version")
    assert result.exit_code == 0
    assert re.fullmatch(
        rf"whoknows \d+\.\d+\.\d+ \(database schema {MIGRATIONS.latest}\)\n", result.stdout
    )
