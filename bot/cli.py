"""The `whoknows` command line: import, index, ask who knows, run the demo, evaluate."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from bot.db_file import DatabaseFileError, check_db_file, open_store
from bot.settings import Settings, get_settings, settings_problems
from data.importers.errors import ImportFailed
from data.store import Store

if TYPE_CHECKING:
    from datetime import date

    from slack_sdk import WebClient

    from bot.router import Candidate

app = typer.Typer(
    help="whoknows: find who in your company can answer a question.",
    no_args_is_help=True,
    add_completion=False,
)
import_app = typer.Typer(help="Import the directory, contacts and knowledge.", no_args_is_help=True)
eval_app = typer.Typer(help="Measure routing quality on real history.", no_args_is_help=True)
serve_app = typer.Typer(help="Run whoknows as a chat app.", no_args_is_help=True)
app.add_typer(import_app, name="import")
app.add_typer(eval_app, name="eval")
app.add_typer(serve_app, name="serve")
from bot.cli_admin import register as register_admin  # noqa: E402  (backup, restore, outbox)

register_admin(app)

out = Console()
# soft_wrap: a `file:line: reason` must stay on one line for tools that read it.
err = Console(stderr=True, soft_wrap=True)


def _version(asked: bool) -> None:
    if asked:
        from importlib.metadata import PackageNotFoundError, version

        try:
            number = version("whoknows")
        except PackageNotFoundError:  # run from a checkout that was never installed
            number = "unknown (not installed)"
        from data.migrations import MIGRATIONS

        out.print(f"whoknows {number} (database schema {MIGRATIONS.latest})", markup=False)
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """whoknows: find who in your company can answer a question."""


DbOption = Annotated[Path | None, typer.Option("--db", help="Database file (default: settings).")]


def _settings(db: Path | None) -> Settings:
    try:
        settings = get_settings()
    except ValidationError as invalid:
        raise _fail(settings_problems(invalid)) from None
    return settings.model_copy(update={"db_path": db}) if db else settings


def _store(db: Path | None, create: bool) -> Store:
    return _open_store(_settings(db).db_path, create)


def _open_store(path: Path, create: bool) -> Store:
    """The database at `path`, or exit 1 with one line saying why it cannot be opened.

    Only commands that import may `create` it: a command that reads refuses a missing
    file, so a mistyped --db is an error instead of a new, empty database."""
    try:
        return open_store(path, create=create)
    except DatabaseFileError as problem:
        raise _fail(str(problem)) from None


def _check_db(path: Path, create: bool) -> None:
    """`_open_store`'s checks, for commands that open the database themselves."""
    try:
        check_db_file(path, create=create)
    except DatabaseFileError as problem:
        raise _fail(str(problem)) from None


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(message, style="red", markup=False, highlight=False)
    return typer.Exit(code)


def progress_bar() -> Progress:
    """A progress bar on stderr, so stdout stays clean for results."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


def _import_failed(failure: ImportFailed, path: Path) -> typer.Exit:
    """Say that nothing was imported and list every problem; the exit to raise."""
    err.print(
        f"Nothing was imported: {len(failure.problems)} problem(s) in {path}",
        style="bold red",
        markup=False,
    )
    return _fail(failure.report())


def _run_import(kind: str, action, path: Path, db: Path | None) -> None:
    """Run `action(store, path)` on the database (made if need be), reporting refusals."""
    if not path.exists():  # before the database is made: a typo creates nothing
        raise _fail(f"{path}: no such file or folder")
    store = _store(db, create=True)
    try:
        result = action(store, path)
    except ImportFailed as failure:
        raise _import_failed(failure, path) from None
    out.print(f"{kind}: {result.counts}" + (f" ({result.derived})" if result.derived else ""))


@import_app.command("directory")
def import_directory_cmd(
    file: Annotated[Path, typer.Argument(help="CSV, JSON, or a Slack users.list export.")],
    slack_fields: Annotated[
        Path | None,
        typer.Option(
            help="team.profile.get JSON naming the custom profile fields of a Slack export."
        ),
    ] = None,
    remove_missing: Annotated[
        bool,
        typer.Option(
            help="Remove the people an earlier directory file brought in that this one "
            "leaves out, as `people remove` does, in the same transaction as the import."
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="With --remove-missing: do not ask.")] = False,
    db: DbOption = None,
) -> None:
    """Import the org directory (people, managers, teams, declared skills)."""
    from data.importers.directory import import_slack_users, load_profile_field_labels

    if slack_fields:
        try:
            labels = load_profile_field_labels(slack_fields)
        except ImportFailed as failure:
            err.print(
                f"Nothing was imported: {slack_fields} is unusable", style="bold red", markup=False
            )
            raise _fail(failure.report()) from None
        _run_import("people", lambda s, p: import_slack_users(s, p, field_labels=labels), file, db)
    else:
        _import_directory_file(file, db, remove_missing, yes)


def _import_directory_file(file: Path, db: Path | None, remove_missing: bool, yes: bool) -> None:
    """`import directory FILE`: upsert the file; say who an earlier file brought in that
    this one leaves out, and with `remove_missing` remove them in the same transaction
    (after a confirmation unless `yes`, asked before anything is written)."""
    from bot.cli_people import lifecycle, removal_lines, remove_people
    from data.importers.directory import import_directory_file
    from data.people_removal import removal_plan

    if not file.exists():  # before the database is made: a typo creates nothing
        raise _fail(f"{file}: no such file or folder")
    settings = _settings(db)
    store = _open_store(settings.db_path, create=True)
    flow = lifecycle(store, settings)
    try:
        if remove_missing and not yes:
            preview = _would_leave_out(store, file)
            if preview:
                out.print(
                    f"{len(preview)} {'person' if len(preview) == 1 else 'people'} in the "
                    "database not in this file would be removed:",
                    markup=False,
                )
                plans = [removal_plan(store, pid) for pid in preview]
                for plan in plans:
                    out.print(f"  {plan.summary()}", markup=False, highlight=False)
                if any(plan.needs_lifecycle for plan in plans):
                    flow()  # the encoder loads now, not while the import holds the lock
                if not typer.confirm("Import the file and remove them?", default=False):
                    raise _fail("Nothing was imported or removed.")
        with store.transaction():  # the import and the removals: all or nothing
            result, missing = import_directory_file(store, file, remove_missing)
            removed = remove_people(store, flow, missing) if remove_missing else []
    except ImportFailed as failure:
        raise _import_failed(failure, file) from None
    finally:
        store.close()
    out.print(f"people: {result.counts}" + (f" ({result.derived})" if result.derived else ""))
    for line in removal_lines(removed):
        out.print(line, markup=False, highlight=False)
    if missing and not remove_missing:
        shown = ", ".join(missing[:10]) + (
            f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        )
        n = len(missing)
        out.print(
            f"{n} {'person' if n == 1 else 'people'} in the database {'is' if n == 1 else 'are'} "
            f"not in this file: {shown}; run with --remove-missing to remove them",
            markup=False,
            highlight=False,
        )


class _Preview(Exception):
    """Raised to roll back a trial import (`_would_leave_out`)."""


def _would_leave_out(store: Store, file: Path) -> list[str]:
    """Who importing `file` would leave out, found by importing it in a transaction that
    is rolled back (so no lock is held while the admin reads the confirmation)."""
    from data.importers.directory import import_directory_file

    found: list[str] = []
    try:
        with store.transaction():
            found = import_directory_file(store, file, remove_missing=True)[1]
            raise _Preview
    except _Preview:
        pass
    return found


@import_app.command("slack")
def import_slack_cmd(
    channel: Annotated[
        list[str] | None,
        typer.Option(
            help="Channel id (repeatable; default: the bot's channels): for ties and, with "
            "--history, the channels whose messages are imported."
        ),
    ] = None,
    channels: Annotated[
        bool, typer.Option(help="Also tie people who share channels (conversations.members).")
    ] = True,
    max_members: Annotated[
        int, typer.Option(help="Channels with more people than this give no ties.")
    ] = 100,
    history: Annotated[
        bool,
        typer.Option(
            "--history",
            help="Also learn from the message history of the bot's public channels "
            "(resumable: run it again to go on, or to fetch what is new).",
        ),
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(help="With --history: only messages from this day on (YYYY-MM-DD, UTC)."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Import the Slack workspace: people (users.list, custom profile fields) and ties
    between people who share channels; with --history, who knows what from the channels'
    messages (run `whoknows index` after). Needs WHOKNOWS_SLACK__BOT_TOKEN."""
    from datetime import date

    from slack_sdk.errors import SlackApiError

    from bot.slack.app import make_client
    from bot.slack.directory_sync import sync_directory

    day = None
    if since is not None:
        if not history:
            raise _fail("--since goes with --history.", 2)
        try:
            day = date.fromisoformat(since)
        except ValueError:
            raise _fail(f"--since: not a day (YYYY-MM-DD): {since!r}", 2) from None
    settings = _settings(db)
    if not settings.slack.bot_token:
        raise _fail("Set WHOKNOWS_SLACK__BOT_TOKEN (in .env or the environment); see README.")
    store = _open_store(settings.db_path, create=True)
    client = make_client(settings.slack)
    try:
        report = sync_directory(
            store,
            client,
            channels=channel or None,
            max_members=max_members,
            with_channels=channels,
        )
    except ImportFailed as failure:
        err.print("Nothing was imported from Slack:", style="bold red", markup=False)
        raise _fail(failure.report()) from None
    except SlackApiError as error:
        raise _fail(f"Nothing was imported: Slack said {error.response.get('error')!r}") from None
    for line in report.lines():
        out.print(line, markup=False, highlight=False)
    if history:
        _import_slack_history(store, client, day, channel or None)


def _import_slack_history(
    store: Store, client: WebClient, day: date | None, channels: list[str] | None
) -> None:
    """`import slack --history`: backfill the channels' messages, a progress bar each."""
    from bot.slack.history import RESUMES, Step, backfill_history

    with progress_bar() as bar:
        tasks: dict[str, TaskID] = {}

        def show(step: Step) -> None:
            if step.channel not in tasks:
                tasks[step.channel] = bar.add_task(f"#{step.name} messages", total=None)
            total = step.messages if step.done else None
            bar.update(tasks[step.channel], completed=step.messages, total=total)

        try:
            result = backfill_history(client, store, since=day, channels=channels, progress=show)
        except KeyboardInterrupt:
            err.print(f"interrupted: {RESUMES}", markup=False, highlight=False)
            raise typer.Exit(130) from None
    out.print(result.summary(), markup=False, highlight=False, soft_wrap=True)
    if result.learned.items.inserted or result.learned.items.updated:
        out.print("run `whoknows index` to embed the new knowledge", markup=False)
    for line in result.problems():
        err.print(line, style="red", markup=False, highlight=False)
    if not result.ok:
        raise typer.Exit(1)


@import_app.command("contacts")
def import_contacts_cmd(
    file: Annotated[Path, typer.Argument(help="CSV, JSON or JSONL of a,b,kind,weight pairs.")],
    db: DbOption = None,
) -> None:
    """Import explicit who-knows-whom pairs."""
    from data.importers.contacts import import_contacts

    _run_import("contacts", import_contacts, file, db)


@import_app.command("knowledge")
def import_knowledge_cmd(
    source: Annotated[Path, typer.Argument(help="JSONL, CSV, or a folder of Markdown files.")],
    db: DbOption = None,
) -> None:
    """Import knowledge items (posts, docs, past answers). Run `whoknows index` after."""
    from data.importers.knowledge import import_knowledge

    _run_import("knowledge", import_knowledge, source, db)


@import_app.command("slack-export")
def import_slack_export_cmd(
    export: Annotated[Path, typer.Argument(help="A Slack admin export: its .zip or its folder.")],
    workspace: Annotated[
        str | None,
        typer.Option(help="The workspace's domain (acme for acme.slack.com), for links back."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Learn who knows what from a Slack export: people, their messages, who helped whom.
    Run `whoknows index` after."""
    from data.importers.slack_export import import_slack_export, workspace_base

    try:
        workspace_base(workspace)
    except ValueError as problem:
        raise _fail(str(problem), 2) from None
    if not export.exists():  # before the database is made: a typo creates nothing
        raise _fail(f"{export}: no such file or folder")
    store = _store(db, create=True)
    try:
        with progress_bar() as bar:
            task = bar.add_task("reading the export", total=None)
            result = import_slack_export(
                store,
                export,
                workspace=workspace,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
                stage=lambda what: bar.update(task, description=what, total=None),
            )
    except ImportFailed as failure:
        raise _import_failed(failure, export) from None
    out.print(result.summary(), markup=False, highlight=False, soft_wrap=True)


@app.command("index")
def index_cmd(db: DbOption = None) -> None:
    """Embed new and changed knowledge items (unchanged ones are skipped).

    Vectors are saved as they are made: a run that is interrupted keeps them, and running
    it again embeds only the rest."""
    from rich.progress import ProgressColumn, Task, TimeRemainingColumn
    from rich.text import Text

    from bot.encoding import encoder_from_settings
    from embeddings.indexer import index_pending

    class Rate(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:,.0f} items/s" if speed else "- items/s")

    settings = _settings(db)
    store = _open_store(settings.db_path, create=False)  # it embeds what is there
    encoder = encoder_from_settings(settings)
    model = encoder.model_id
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), Rate())
    timing = (TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn())
    try:
        with Progress(*columns, *timing, console=err, transient=True) as bar:
            task = bar.add_task("embedding", total=None)
            done = index_pending(
                store, encoder, progress=lambda d, t: bar.update(task, completed=d, total=t)
            )
    except KeyboardInterrupt:
        left = store.count_items_needing_vectors(model)
        err.print(
            f"interrupted: the vectors made so far are saved; {left} item(s) still to embed "
            "(run `whoknows index` again)",
            markup=False,
        )
        raise typer.Exit(130) from None
    out.print(f"embedded {done} item(s); {store.count('vectors')} vectors in {settings.db_path}")


@app.command("who")
def who_cmd(
    question: Annotated[str, typer.Argument(help="The question, in plain words.")],
    asker: Annotated[str, typer.Option(help="Who is asking: id, email, Slack or Teams id.")],
    limit: Annotated[int | None, typer.Option(help="How many candidates to show.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON document, for scripts.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Show who whoknows would ask, and why."""
    from bot.cli_people import emit_json
    from bot.encoding import encoder_from_settings
    from bot.render_text import candidates_table
    from bot.router import Router
    from data.people_removal import is_removed

    settings = _settings(db)
    if not question.strip():
        raise _fail("The question is empty: type what you want to know.", 2)
    store = _open_store(settings.db_path, create=False)
    person = store.find_person(asker)
    if person is None or is_removed(person):
        raise _fail(
            f"{asker!r} is not in the directory (import it with `whoknows import directory`).", 2
        )
    encoder = encoder_from_settings(settings)
    router = Router(store, encoder, settings)
    candidates = router.rank(question, person.id, limit=limit or settings.candidates)
    if as_json:
        emit_json(
            {
                "question": question,
                "asker": {"id": person.id, "name": person.name},
                "candidates": [_candidate_json(c) for c in candidates],
            }
        )
        return
    out.print(candidates_table(question, person.name, candidates))


def _candidate_json(c: Candidate) -> dict[str, Any]:
    """One candidate of `who --json`."""
    return {
        "id": c.person.id,
        "name": c.person.name,
        "score": c.score,
        "hops": c.hops,
        "path": c.path,
        "connection": c.connection,
        "reasons": c.reasons,
        "evidence": [asdict(e) for e in c.evidence],
    }


@app.command("console")
def console_cmd(
    db: DbOption = None,
    sample: Annotated[
        bool, typer.Option(help="Load the sample org if the database is empty.")
    ] = True,
    as_: Annotated[str | None, typer.Option("--as", help="Start as this person.")] = None,
) -> None:
    """Play several people of the org in one terminal: ask, answer, refer, pass, confirm."""
    from bot.console import ConsoleShell, Sandbox
    from bot.demo import load_sample_org

    settings = _settings(db)
    # A new sandbox may be made (with the sample org); without it, the org must be there.
    store = _open_store(settings.db_path, create=sample)
    if store.count("people") == 0:
        if not sample:
            raise _fail("The directory is empty: import one first, or use --sample.")
        for line in load_sample_org(store):
            out.print(f"loaded sample {line}")
    store.close()

    def show(to: str, text: str) -> None:
        out.print(f"[bold magenta]📨 to {to}:[/]", highlight=False)
        out.print(text, markup=False, highlight=False)

    with err.status("loading the model and the org…"):
        sandbox = Sandbox(settings, settings.db_path, echo=show)
    shell = ConsoleShell(sandbox)
    if as_:
        shell.onecmd(f"as {as_}")
    shell.cmdloop()


@app.command("train")
def train_cmd(
    history: Annotated[
        Path | None,
        typer.Option(
            help="JSONL of answered questions (question, asker, answerer, asked_at, "
            "answered_at, tags), besides those answered through the bot."
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Learn the router's weights from the org's answered questions and keep them."""
    from bot.encoding import encoder_from_settings
    from bot.training import MIN_EXAMPLES, lifecycle_history, read_history, train

    settings = _settings(db)
    store = _open_store(settings.db_path, create=False)
    answered = lifecycle_history(store)
    if history is not None:
        if not history.is_file():
            raise _fail(f"{history}: no such file")
        try:
            answered += read_history(history)
        except ValueError as problem:
            raise _fail(str(problem)) from None
    encoder = encoder_from_settings(settings)
    result = train(store, encoder, settings, answered)
    if result.ranker is None:
        out.print(
            f"{result.examples} usable answered question(s) of {result.questions}: at least "
            f"{MIN_EXAMPLES} are needed, so the default weights stay."
        )
        return
    weights = ", ".join(f"{k} {v:+.2f}" for k, v in result.ranker.as_mapping().items() if v)
    out.print(
        f"learned from {result.examples} answered question(s) of {result.questions}; "
        f"saved in {settings.db_path}\n{weights}",
        markup=False,
        highlight=False,
    )


@app.command("demo")
def demo_cmd(
    db: Annotated[Path | None, typer.Option(help="Keep the demo database here.")] = None,
) -> None:
    """Import the fictional sample org, index it and show who would be asked, and why."""
    from bot.demo import run_demo

    if db is not None:
        _check_db(db, create=True)
    run_demo(out, _settings(None), db)


@eval_app.command("stackexchange")
def eval_stackexchange_cmd(
    folder: Annotated[Path, typer.Argument(help="A StackExchange dump folder (Posts.xml...).")],
    out_file: Annotated[Path, typer.Option("--out", help="Rankings, one JSON per line.")] = Path(
        "rankings.jsonl"
    ),
    ablation: Annotated[
        bool, typer.Option(help="Also rank with each signal group removed in turn.")
    ] = True,
) -> None:
    """Replay a StackExchange site (EVAL.md) and score the router against the baselines.

    The router learns its weights as the replay goes, only from answers given before each
    question; the second half is also scored with the weights frozen at half-time.
    """
    from bot.evaluation.run import evaluate_stackexchange

    if not folder.is_dir():
        raise _fail(f"{folder}: not a folder")
    try:
        report = evaluate_stackexchange(
            folder, _settings(None), out_file, progress_console=err, ablation=ablation
        )
    except ImportFailed as failure:
        raise _fail(failure.report()) from None
    typer.echo(str(report))


@eval_app.command("slack-export")
def eval_slack_export_cmd(
    export: Annotated[Path, typer.Argument(help="A Slack admin export: its .zip or its folder.")],
    out_file: Annotated[Path, typer.Option("--out", help="Rankings, one JSON per line.")] = Path(
        "rankings.jsonl"
    ),
    ablation: Annotated[
        bool, typer.Option(help="Also rank with each signal group removed in turn.")
    ] = False,
) -> None:
    """Replay a Slack export (EVAL-CHAT.md) and score the router against the baselines.

    Messages are replayed in time order; each question is ranked from earlier messages
    only, by weights learned only from replies given before it was asked.
    """
    from bot.evaluation.chat_run import evaluate_slack_export

    if not export.exists():
        raise _fail(f"{export}: no such file or folder")
    try:
        report = evaluate_slack_export(
            export, _settings(None), out_file, progress_console=err, ablation=ablation
        )
    except ImportFailed as failure:
        raise _import_failed(failure, export) from None
    typer.echo(str(report))


@serve_app.command("slack")
def serve_slack_cmd(
    socket: Annotated[
        bool, typer.Option(help="Socket Mode (development) instead of HTTP.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Serve the Slack app: HTTP at /slack/events (production) or Socket Mode."""
    from bot.slack.server import serve

    settings = _settings(db)
    _check_db(settings.db_path, create=False)  # import the workspace first
    serve(settings, socket=socket)


@serve_app.command("teams")
def serve_teams_cmd(db: DbOption = None) -> None:
    """Serve the Teams bot at /api/messages."""
    from bot.teams.server import serve

    settings = _settings(db)
    _check_db(settings.db_path, create=False)  # import the directory first
    serve(settings)


def main() -> None:
    """Entry point for `python -m bot.cli`."""
    app()


if __name__ == "__main__":
    main()
