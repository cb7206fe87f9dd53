"""Admin commands: `whoknows backup`, `whoknows restore`, `whoknows outbox dead|retry`,
`whoknows chat channels|learn` (bot/cli_chat.py), and `whoknows stats` and `whoknows
people list|show|remove` (bot/cli_people.py).

Registered on the main app by `register(app)` (bot/cli.py). The helpers of bot/cli.py are
imported when a command runs, not at import time, since bot/cli.py imports this module.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from bot.cli_chat import chat_app
from bot.cli_people import register as register_people
from data.backup import DatabaseInUse, describe, online_backup, restore
from data.lifecycle_store import LifecycleStore, OutboxRow, to_iso
from data.migrations import MIGRATIONS, SchemaError
from data.store import Store

outbox_app = typer.Typer(
    help="Messages the bot could not deliver (dead letters).", no_args_is_help=True
)

DbOption = Annotated[Path | None, typer.Option("--db", help="Database file (default: settings).")]


def register(app: typer.Typer) -> None:
    """Add the admin commands to the `whoknows` app."""
    app.command("backup")(backup_cmd)
    app.command("restore")(restore_cmd)
    app.add_typer(outbox_app, name="outbox")
    app.add_typer(chat_app, name="chat")
    register_people(app)


# ------------------------------------------------------------------------ backups


def backup_cmd(
    file: Annotated[Path, typer.Argument(help="Where to write the copy.")],
    force: Annotated[bool, typer.Option(help="Replace FILE if it exists.")] = False,
    db: DbOption = None,
) -> None:
    """Copy the database to FILE, safely while the bot runs.

    Through SQLite's online backup API (a file copy of a database in WAL mode is not safe):
    written beside FILE, checked, flushed to disk and renamed into place."""
    from bot.cli import _fail, out

    path = _db_path(db)
    if not path.is_file():
        raise _fail(f"no whoknows database at {path} (check --db)")
    try:
        report = online_backup(path, file, overwrite=force)
    except FileExistsError:
        raise _fail(f"{file} exists: use --force to replace it") from None
    except (sqlite3.DatabaseError, OSError) as problem:
        raise _fail(f"no backup written: {_one_line(problem)}") from None
    out.print(f"wrote {report.summary()}", markup=False, highlight=False)


def restore_cmd(
    backup: Annotated[Path, typer.Argument(help="A file written by `whoknows backup`.")],
    db: DbOption = None,
) -> None:
    """Replace the database with a backup (stop the bot first).

    A database that is open (the bot, another command) is refused. The database as it
    was is kept beside it first (`<db>.before-restore.bak`), so a restore can be undone by
    restoring that; the next start upgrades an older schema."""
    from bot.cli import _fail, out

    path = _db_path(db)
    if not backup.is_file():
        raise _fail(f"{backup}: no such backup file")
    try:
        version = _backup_version(backup)
        if version is not None and version > MIGRATIONS.latest:
            raise SchemaError(
                f"this database was made by a newer whoknows (schema v{version}; "
                f"this release knows v{MIGRATIONS.latest}): upgrade whoknows"
            )
        keep = _free_name(path.with_name(f"{path.name}.before-restore.bak"))
        report = restore(backup, path, keep=keep if path.exists() else None)
    except (SchemaError, DatabaseInUse, sqlite3.DatabaseError, OSError) as problem:
        raise _fail(f"nothing restored: {_one_line(problem)}") from None
    if path.exists() and keep.exists():
        out.print(f"the database as it was is in {keep}", markup=False, highlight=False)
    out.print(f"restored {report.summary()}", markup=False, highlight=False)


# ------------------------------------------------------------------------- outbox


@outbox_app.command("dead")
def outbox_dead_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON list, for scripts.")] = False,
    db: DbOption = None,
) -> None:
    """List the messages given up on after every retry, with their last error."""
    from bot.cli import out

    store = _open(db)
    try:
        rows = LifecycleStore(store).dead_letters()
    finally:
        store.close()
    if as_json:
        typer.echo(json.dumps([_dead_json(r) for r in rows], indent=2))
        return
    if not rows:
        out.print("no dead letters: every message was delivered or is still being tried")
        return
    table = Table("id", "kind", "to", "question", "attempts", "given up", "last error")
    for r in rows:
        table.add_row(
            str(r.id),
            r.kind,
            r.recipient or "(a place)",
            str(r.question_id or ""),
            str(r.attempts),
            _when(r.dead_at),
            r.last_error or "",
        )
    out.print(table)
    out.print(f"{len(rows)} dead letter(s); `whoknows outbox retry ID...` or `--all` tries again")


@outbox_app.command("retry")
def outbox_retry_cmd(
    ids: Annotated[list[int] | None, typer.Argument(help="Outbox ids (see `outbox dead`).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every dead letter.")] = False,
    db: DbOption = None,
) -> None:
    """Put dead letters back in the queue, due now, with their attempts reset.

    The running bot sends them at its next tick (a request whose question closed in the
    meantime is not sent)."""
    from bot.cli import _fail, out

    if bool(ids) == all_:
        raise _fail("name the outbox ids to retry, or --all (not both)", 2)
    store = _open(db)
    try:
        lifecycle = LifecycleStore(store)
        with store.transaction():
            done = lifecycle.retry_dead(None if all_ else ids, datetime.now(UTC))
    finally:
        store.close()
    out.print(f"{len(done)} message(s) back in the queue" + (f": {_ids(done)}" if done else ""))
    missing = sorted(set(ids or ()) - set(done))
    if missing:
        raise _fail(f"not dead letters (unknown, delivered or still being tried): {_ids(missing)}")


# ------------------------------------------------------------------------ helpers


def _db_path(db: Path | None) -> Path:
    from bot.cli import _settings

    return Path(_settings(db).db_path)


def _open(db: Path | None) -> Store:
    """The existing database (never a new one), or exit with one line saying why not."""
    from bot.cli import _fail

    path = _db_path(db)
    if not path.is_file():
        raise _fail(f"no whoknows database at {path} (check --db)")
    try:
        return Store(path)
    except (SchemaError, sqlite3.DatabaseError) as problem:
        raise _fail(f"{path}: {_one_line(problem)}") from None


def _backup_version(path: Path) -> int | None:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return describe(conn)[0]
    finally:
        conn.close()


def _free_name(path: Path) -> Path:
    """`path`, or `path` with .2, .3... before its suffix if it exists."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}.{n}{path.suffix}")
    return candidate


def _dead_json(r: OutboxRow) -> dict[str, Any]:
    return {
        "id": r.id,
        "kind": r.kind,
        "recipient": r.recipient,
        "question_id": r.question_id,
        "ask_id": r.ask_id,
        "attempts": r.attempts,
        "last_error": r.last_error,
        "dead_at": to_iso(r.dead_at) if r.dead_at else None,
        "created_at": to_iso(r.created_at),
    }


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def _ids(ids: list[int]) -> str:
    return ", ".join(str(i) for i in ids)


def _one_line(problem: BaseException) -> str:
    return " ".join(str(problem).split()) or type(problem).__name__
