"""Ordinary mistakes on the command line get one line and exit 1, never a traceback: a --db
that is a folder, not a database, or missing (a command that only reads never creates
one), and console commands with durations or numbers out of range."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from data.store import Store

ROOT = Path(__file__).resolve().parents[1]
PEOPLE = ROOT / "data" / "sample" / "people.csv"

runner = CliRunner()

NOT_SQLITE = "is not a whoknows database (not an SQLite file; check --db)"
MISSING = "(import a directory first, or check --db)"

# Commands that only read the database (or add to what is there): none may create it.
READING = {
    "who": ["who", "Who knows Helm?", "--asker", "sofia.lindqvist"],
    "index": ["index"],
    "train": ["train"],
    "console": ["console", "--no-sample"],
}


def whoknows(*args: str | Path, input: str | None = None):
    return runner.invoke(app, [str(a) for a in args], input=input, env={"COLUMNS": "200"})


def files_in(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def refused(result, message: str) -> None:
    """The command stopped with exactly this one line on stderr and exit code 1."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception  # not a crash
    assert result.stderr == message + "\n"
    assert result.stdout == ""
    assert "Traceback" not in result.output


def bad_databases(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Files a --db may wrongly name, and the one line each must get."""
    folder = tmp_path / "a-folder"
    folder.mkdir()
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n", encoding="utf-8")
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    noise = tmp_path / "noise.db"
    noise.write_bytes(bytes(range(256)) * 8)
    other = tmp_path / "other-app.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    conn.close()
    corrupt = tmp_path / "corrupt.db"
    corrupt.write_bytes(b"SQLite format 3\x00" + b"\xff" * 500)
    missing = tmp_path / "typo" / "whoknows.db"
    return {
        "folder": (folder, f"{folder} is a folder, not a whoknows database (check --db)"),
        "text file": (text, f"{text} {NOT_SQLITE}"),
        "empty file": (empty, f"{empty} is an empty file, not a whoknows database {MISSING}"),
        "random bytes": (noise, f"{noise} {NOT_SQLITE}"),
        "another SQLite database": (
            other,
            f"{other} is an SQLite database, but not a whoknows one (check --db)",
        ),
        "corrupt database": (
            corrupt,
            f"cannot open the database {corrupt}: file is not a database",
        ),
        "missing file": (missing, f"no whoknows database at {missing} {MISSING}"),
    }


@pytest.mark.parametrize("command", sorted(READING))
def test_a_reading_command_refuses_a_bad_db_in_one_line_and_creates_nothing(tmp_path, command):
    for kind, (db, message) in bad_databases(tmp_path).items():
        before = files_in(tmp_path)
        contents = db.read_bytes() if db.is_file() else None

        result = whoknows(*READING[command], "--db", db)

        refused(result, message)
        assert files_in(tmp_path) == before, kind  # no database, journal or folder made
        assert (db.read_bytes() if db.is_file() else None) == contents, kind


@pytest.mark.parametrize("kind", ["directory", "contacts", "knowledge"])
def test_an_import_refuses_a_db_that_is_not_a_database_but_may_create_a_missing_one(tmp_path, kind):
    bad = bad_databases(tmp_path)
    for name in ("folder", "text file", "random bytes", "another SQLite database"):
        db, message = bad[name]
        before = files_in(tmp_path)
        result = whoknows("import", kind, PEOPLE, "--db", db)
        refused(result, message)
        assert files_in(tmp_path) == before

    new = tmp_path / "new" / "whoknows.db"
    result = whoknows("import", "directory", PEOPLE, "--db", new)
    assert result.exit_code == 0, result.output
    assert new.is_file()
    empty, _ = bad["empty file"]  # an empty file may become the database too
    assert whoknows("import", "directory", PEOPLE, "--db", empty).exit_code == 0


def test_an_import_of_a_missing_file_creates_no_database(tmp_path):
    db = tmp_path / "whoknows.db"

    result = whoknows("import", "directory", tmp_path / "no-such.csv", "--db", db)

    refused(result, f"{tmp_path / 'no-such.csv'}: no such file or folder")
    assert files_in(tmp_path) == []


def test_a_reading_command_still_works_on_a_real_database(tmp_path):
    db = tmp_path / "whoknows.db"
    assert whoknows("import", "directory", PEOPLE, "--db", db).exit_code == 0

    result = whoknows("who", "Who knows Helm?", "--asker", "ghost.person", "--db", db)

    assert result.exit_code == 2  # the database opened; the asker is the problem
    assert "'ghost.person' is not in the directory" in result.stderr


def test_a_schema_from_a_newer_release_is_one_line(tmp_path, monkeypatch):
    db = tmp_path / "whoknows.db"
    Store(db).close()

    class SchemaError(ValueError):  # what data.migrations raises
        pass

    def newer(path):
        raise SchemaError("the database has schema 99; this whoknows knows\nup to 7: upgrade")

    monkeypatch.setattr("bot.db_file.Store", newer)
    result = whoknows("who", "Who knows Helm?", "--asker", "x", "--db", db)
    refused(result, f"{db}: the database has schema 99; this whoknows knows up to 7: upgrade")

    def locked(path):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr("bot.db_file.Store", locked)
    result = whoknows("index", "--db", db)
    refused(result, f"cannot open the database {db}: database is locked")


WHO = [sys.executable, "-m", "bot.cli", "who", "Who knows Helm?", "--asker", "dana"]


def test_the_real_command_prints_one_line_without_a_traceback(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    env = {**os.environ, "COLUMNS": "80", "PYTHONPATH": str(ROOT)}
    for db, message in (
        (folder, f"{folder} is a folder, not a whoknows database (check --db)"),
        (tmp_path / "whoknwos.db", f"no whoknows database at {tmp_path / 'whoknwos.db'} {MISSING}"),
    ):
        done = subprocess.run(
            [*WHO, "--db", str(db)],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=120,
        )
        assert done.returncode == 1
        assert done.stderr == message + "\n"
        assert done.stdout == ""
    assert files_in(tmp_path) == ["data"]


# ----------------------------------------------------------------------- console


@pytest.fixture(scope="module")
def sandbox_folder(tmp_path_factory, encoder) -> Path:
    """A console sandbox with the sample org loaded and embedded, made once: embedding it
    is most of the time a console takes to start."""
    from bot.console import Sandbox
    from bot.demo import load_sample_org
    from bot.settings import get_settings

    folder = tmp_path_factory.mktemp("sandbox")
    store = Store(folder / "sandbox.db")
    load_sample_org(store)
    store.close()
    Sandbox(get_settings(), folder / "sandbox.db", encoder=encoder).store.close()
    return folder


@pytest.fixture
def console_db(sandbox_folder, tmp_path, monkeypatch, encoder) -> Path:
    """A copy of the prepared sandbox for `whoknows console`; the session's model is lent."""
    import bot.console

    class Sandbox(bot.console.Sandbox):
        def __init__(self, settings, db, **kwargs):
            super().__init__(settings, db, encoder=encoder, **kwargs)

    monkeypatch.setattr(bot.console, "Sandbox", Sandbox)
    shutil.copytree(sandbox_folder, tmp_path / "sandbox")
    return tmp_path / "sandbox" / "sandbox.db"


def test_console_wait_out_of_range_is_one_line_and_the_console_keeps_going(console_db):
    lines = [
        "wait 9999999d",
        "wait 99999999999999999999999999d",
        "wait 366d",
        "wait -2h",
        "wait 0m",
        "wait soon",
        "clock",
        "wait 365d",
        "clock",
        "quit",
    ]

    result = whoknows("console", "--db", console_db, input="\n".join(lines) + "\n")

    assert result.exit_code == 0, result.output
    assert result.exception is None
    said = [line.split("] > ")[-1] for line in result.stdout.splitlines() if "] > " in line]
    assert said[:6] == [
        "! wait at most 365 days at a time (9999999d is longer)",
        "! wait at most 365 days at a time (99999999999999999999999999d is longer)",
        "! wait at most 365 days at a time (366d is longer)",
        "! time only moves forward: give a duration like 30m, 4h or 2d",
        "! give a duration longer than zero, like 30m, 4h or 2d",
        "! give a duration like 30m, 4h or 2d",
    ]
    before, waited = said[6], said[8]
    assert before.startswith("It is ") and waited.startswith("It is ")
    assert said[7] == "… 365d later."
    assert int(waited.split()[3][:4]) == int(before.split()[3][:4]) + 1  # a year on
    assert "Traceback" not in result.output


def test_console_numbers_out_of_range_are_one_line_and_the_console_keeps_going(console_db):
    huge = "9" * 30
    lines = [
        "as dana",
        f"show {huge}",
        f"answer {huge} I know",
        f"pass {huge}",
        f"accept {huge}",
        f"resolve {huge}",
        f"followup {'9' * 5000} more?",
        "show ²",
        "as",
        "refer 1",
        "clock",
        "quit",
    ]

    result = whoknows("console", "--db", console_db, input="\n".join(lines) + "\n")

    assert result.exit_code == 0, result.output
    assert result.exception is None
    said = [line.split("] > ")[-1] for line in result.stdout.splitlines() if "] > " in line]
    assert said[1:10] == [
        f"! There is no question #{huge}.",
        f"! There is no request #{huge}.",
        f"! There is no request #{huge}.",
        f"! There is no answer #{huge}.",
        f"! There is no question #{huge}.",
        f"! There is no question #{'9' * 5000}.",
        "! give the question number first",
        "! name someone: an id, an email or part of a name",
        "! name the colleague to refer",
    ]
    assert said[10].startswith("It is ")
