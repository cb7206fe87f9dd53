"""Admin commands about people and the org: `whoknows stats` and `whoknows people
list|show|remove`; also the removal that `import directory --remove-missing` runs.

Registered by `bot.cli_admin.register`. The helpers of bot/cli.py are imported when a
command runs, since bot/cli.py imports this module's registrar. Read commands take
`--json`: one JSON document on stdout, stable keys, no markup.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from bot.lifecycle.stats import org_stats
from data.chat_store import ChatStore
from data.lifecycle_store import LifecycleStore, to_iso
from data.models import Person
from data.people_removal import RemovalPlan, forget_person, removal_plan, removed_ids
from data.store import Store

if TYPE_CHECKING:
    from bot.lifecycle.flow import Flow
    from bot.settings import Settings

people_app = typer.Typer(
    help="The people in the directory: list, show, remove.", no_args_is_help=True
)

DbOption = Annotated[Path | None, typer.Option("--db", help="Database file (default: settings).")]
JsonOption = Annotated[bool, typer.Option("--json", help="One JSON document, for scripts.")]
PersonArg = Annotated[str, typer.Argument(help="Id, email, Slack or Teams id, or name.")]


class PersonNotFound(LookupError):
    """No one, or more than one person, matches a reference; the message says which."""


def register(app: typer.Typer) -> None:
    """Add `stats` and `people` to the `whoknows` app."""
    app.command("stats")(stats_cmd)
    app.add_typer(people_app, name="people")


def emit_json(value: Any) -> None:
    """Print one JSON document on stdout (plain text: no Rich markup or wrapping)."""
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True))


# -------------------------------------------------------------------------- stats


def stats_cmd(
    since: Annotated[
        str | None, typer.Option(help="Only questions asked from this day on (YYYY-MM-DD, UTC).")
    ] = None,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """How whoknows is doing: questions, answer rate, time to answer, hops, and how much
    the org has taught it (people, knowledge items, contacts, chat channels)."""
    from bot.cli import _fail, _store, out

    start = None
    if since is not None:
        try:
            start = datetime.fromisoformat(since).replace(tzinfo=UTC)
        except ValueError:
            raise _fail(f"--since: not a day (YYYY-MM-DD): {since!r}", 2) from None
    store = _store(db, create=False)
    try:
        numbers = org_stats(LifecycleStore(store), start)
        channels = ChatStore(store).channels()
        counts = {
            "people": store.count("people") - len(removed_ids(store)),
            "knowledge_items": store.count("knowledge"),
            "contacts": store.count("contacts"),
            "channels_seen": len(channels),
            "channels_learning": sum(1 for c in channels if c.learning),
        }
    finally:
        store.close()
    if as_json:
        emit_json(
            {
                "since": start.date().isoformat() if start else None,
                "questions": numbers.questions,
                "routed": numbers.routed,
                "answered": numbers.answered,
                "open": numbers.open,
                "gave_up": numbers.gave_up,
                "answer_rate": numbers.answer_rate,
                "median_minutes_to_first_answer": numbers.median_minutes_to_first_answer,
                "mean_hops_of_answers": numbers.mean_hops_of_answers,
                "requests_per_question": numbers.requests_per_question,
                "dead_letters": numbers.dead_letters,
                **counts,
            }
        )
        return
    period = f"since {start.date().isoformat()}" if start else "all time"
    out.print(f"whoknows, {period}", style="bold", markup=False)
    for line in numbers.lines():
        out.print(line, markup=False, highlight=False)
    out.print(
        f"People: {counts['people']:,}; knowledge items: {counts['knowledge_items']:,}; "
        f"contacts: {counts['contacts']:,}",
        markup=False,
        highlight=False,
    )
    out.print(
        f"Chat channels: {counts['channels_seen']:,} seen, "
        f"{counts['channels_learning']:,} learned from",
        markup=False,
        highlight=False,
    )


# ------------------------------------------------------------------------- people


@people_app.command("list")
def list_cmd(
    team: Annotated[str | None, typer.Option(help="Only this team (any case).")] = None,
    search: Annotated[
        str | None, typer.Option(help="Only people whose id, name, email or title has this.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many.")] = 50,
    as_json: JsonOption = False,
    db: DbOption = None,
) -> None:
    """List the people in the directory, by name, with how much each has written."""
    from bot.cli import _store, out

    store = _store(db, create=False)
    try:
        gone = removed_ids(store)
        people = [p for p in store.people() if p.id not in gone and _matches(p, team, search)]
        people.sort(key=lambda p: (p.name.casefold(), p.id))
        shown = people[:limit]
        items = _item_counts(store, [p.id for p in shown])
    finally:
        store.close()
    if as_json:
        emit_json({"total": len(people), "people": [_list_json(p, items) for p in shown]})
        return
    if not people:
        out.print("nobody matches", markup=False)
        return
    table = Table("id", "name", "email", "title", "team", "items", "opted out")
    for p in shown:
        table.add_row(
            p.id, p.name, p.email or "", p.title or "", p.team or "", str(items.get(p.id, 0)),
            "yes" if p.opted_out else "",
        )  # fmt: skip
    out.print(table)
    more = f" (showing {len(shown)}; --limit for more)" if len(shown) < len(people) else ""
    out.print(f"{len(people)} {'person' if len(people) == 1 else 'people'}{more}", markup=False)


@people_app.command("show")
def show_cmd(person: PersonArg, as_json: JsonOption = False, db: DbOption = None) -> None:
    """Everything whoknows holds about one person: their record, accounts, ties,
    knowledge, answers and the requests they got."""
    from bot.cli import _fail, _store, out

    store = _store(db, create=False)
    try:
        try:
            found = resolve_person(store, person)
        except PersonNotFound as problem:
            raise _fail(str(problem)) from None
        report = person_report(store, found)
    finally:
        store.close()
    if as_json:
        emit_json(report)
        return
    _print_report(out, report)


@people_app.command("remove")
def remove_cmd(
    person: PersonArg,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    db: DbOption = None,
) -> None:
    """Forget a person: their knowledge, ties, chat messages and directory record. Requests
    waiting for them go to the next candidate; their open questions are cancelled."""
    from bot.cli import _fail, _open_store, _settings, out

    settings = _settings(db)
    store = _open_store(settings.db_path, create=False)
    try:
        try:
            found = resolve_person(store, person)
        except PersonNotFound as problem:
            raise _fail(str(problem)) from None
        plan = removal_plan(store, found.id)
        if not yes:
            out.print(f"This forgets {plan.summary()}.", markup=False, highlight=False)
            if not typer.confirm("Remove them?", default=False):
                raise _fail("Nothing was removed.")
        flow = lifecycle(store, settings)
        if plan.needs_lifecycle:
            flow()  # the encoder loads now, not while the removal holds the write lock
        done = remove_people(store, flow, [found.id])
    finally:
        store.close()
    for line in removal_lines(done):
        out.print(line, markup=False, highlight=False)


# ------------------------------------------------------------------------ removal


def lifecycle(store: Store, settings: Settings) -> Callable[[], Flow]:
    """A maker of the question lifecycle over `store`, built on first use: the router it
    needs loads the encoder, which only re-routing requests calls for."""
    made: list[Flow] = []

    def flow() -> Flow:
        if not made:
            from bot.encoding import encoder_from_settings
            from bot.lifecycle.clock import SystemClock
            from bot.lifecycle.flow import Flow
            from bot.router import Router

            router = Router(store, encoder_from_settings(settings), settings)
            made.append(Flow(store, router, settings, SystemClock()))
        return made[0]

    return flow


def remove_people(
    store: Store, flow: Callable[[], Flow], person_ids: list[str]
) -> list[tuple[RemovalPlan, list[int], list[int]]]:
    """Forget each person (`data.people_removal`) and hand their requests on / cancel
    their questions (`Flow.drop_person`), all in one transaction (the caller's, if one is
    open). Returns, for each, what was forgotten, the questions routed on and cancelled."""
    done = []
    with store.transaction():
        for pid in person_ids:
            plan = forget_person(store, pid)
            routed_on: list[int] = []
            cancelled: list[int] = []
            if plan.needs_lifecycle:  # after forgetting: the router no longer sees them
                routed_on, cancelled = flow().drop_person(pid)
            done.append((plan, routed_on, cancelled))
    return done


def removal_lines(done: list[tuple[RemovalPlan, list[int], list[int]]]) -> list[str]:
    """What a removal did, a line per person."""
    lines = []
    for plan, routed_on, cancelled in done:
        line = (
            f"removed {plan.name} ({plan.person_id}): {plan.items} knowledge item(s), "
            f"{plan.ties} tie(s), {plan.chat_messages} chat message(s) forgotten"
        )
        if routed_on:
            line += f"; question(s) {_ids(routed_on)} went on to the next candidate"
        if cancelled:
            line += f"; their question(s) {_ids(cancelled)} cancelled"
        lines.append(line)
    return lines


# ----------------------------------------------------------------------- looking up


def resolve_person(store: Store, ref: str) -> Person:
    """The one person `ref` names: an id, email, Slack or Teams id, else a name (whole,
    then a part of one, any case). PersonNotFound if nobody or several people match."""
    gone = removed_ids(store)
    found = store.find_person(ref)
    if found is not None and found.id not in gone:
        return found
    wanted = " ".join(ref.split()).casefold()
    if not wanted:
        raise PersonNotFound("name a person: an id, email or name")
    people = [p for p in store.people() if p.id not in gone]
    matches = [p for p in people if p.name.casefold() == wanted] or [
        p for p in people if wanted in p.name.casefold()
    ]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise PersonNotFound(f"nobody in the directory matches {ref!r}")
    listed = "; ".join(f"{p.name} ({p.id})" for p in matches[:10])
    more = f" and {len(matches) - 10} more" if len(matches) > 10 else ""
    raise PersonNotFound(
        f"{ref!r} matches {len(matches)} people: {listed}{more}. Name one by id or email."
    )


def person_report(store: Store, person: Person) -> dict[str, Any]:
    """One person's record and what whoknows holds about them, as plain data."""
    db = store.db
    pid = person.id
    names = _names(store)
    contacts = [
        {"kind": kind, "with": other, "name": names.get(other, other), "weight": weight}
        for other, kind, weight in db.execute(
            "SELECT CASE WHEN a = ? THEN b ELSE a END, kind, weight FROM contacts "
            "WHERE a = ? OR b = ? ORDER BY weight DESC, 1",
            (pid, pid, pid),
        )
    ]
    by_kind = dict(
        db.execute(
            "SELECT kind, count(*) FROM knowledge WHERE person_id = ? GROUP BY kind ORDER BY kind",
            (pid,),
        ).fetchall()
    )
    by_source = {
        source or "(none)": n
        for source, n in db.execute(
            "SELECT source, count(*) FROM knowledge WHERE person_id = ? GROUP BY source "
            "ORDER BY source",
            (pid,),
        )
    }
    answers, accepted = db.execute(
        "SELECT count(*), coalesce(sum(accepted), 0) FROM answers WHERE person_id = ?", (pid,)
    ).fetchone()
    asks = dict(
        db.execute(
            "SELECT state, count(*) FROM asks WHERE person_id = ? GROUP BY state", (pid,)
        ).fetchall()
    )
    lc = LifecycleStore(store)
    pending = []
    for ask in lc.asks_for(pid):
        q = lc.question(ask.question_id)
        pending.append(
            {
                "ask_id": ask.id,
                "question_id": ask.question_id,
                "question": q.text if q else "",
                "asker": names.get(q.asker_id, q.asker_id) if q else None,
                "asked_at": to_iso(ask.created_at),
                "due_at": to_iso(ask.due_at),
            }
        )
    questions = lc.questions(asker_id=pid)
    platforms = [
        row[0]
        for row in db.execute(
            "SELECT platform FROM addresses WHERE person_id = ? ORDER BY platform", (pid,)
        )
    ]
    reports = [
        r[0] for r in db.execute("SELECT id FROM people WHERE manager_id = ? ORDER BY id", (pid,))
    ]
    return {
        "person": person.model_dump(),
        "manager_name": names.get(person.manager_id) if person.manager_id else None,
        "reports": reports,
        "accounts": {
            "slack_id": person.slack_id,
            "teams_id": person.teams_id,
            "reachable_on": platforms,
        },
        "contacts": contacts,
        "knowledge": {"total": sum(by_kind.values()), "by_kind": by_kind, "by_source": by_source},
        "answers": {"given": answers, "accepted": accepted},
        "asks_received": {
            "total": sum(asks.values()),
            "answered": asks.get("answered", 0),
            "by_state": dict(sorted(asks.items())),
        },
        "pending_asks": pending,
        "questions_asked": {
            "total": len(questions),
            "open": sum(1 for q in questions if q.state in ("waiting", "checking", "routing")),
        },
    }


# ------------------------------------------------------------------------ helpers


def _matches(p: Person, team: str | None, search: str | None) -> bool:
    if team is not None and (p.team or "").casefold() != team.casefold():
        return False
    if search:
        wanted = search.casefold()
        fields = (p.id, p.name, p.email or "", p.title or "")
        return any(wanted in f.casefold() for f in fields)
    return True


def _item_counts(store: Store, ids: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        counts.update(
            store.db.execute(
                "SELECT person_id, count(*) FROM knowledge "
                f"WHERE person_id IN ({','.join('?' * len(chunk))}) GROUP BY person_id",
                chunk,
            ).fetchall()
        )
    return counts


def _list_json(p: Person, items: dict[str, int]) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "email": p.email,
        "title": p.title,
        "team": p.team,
        "opted_out": p.opted_out,
        "knowledge_items": items.get(p.id, 0),
    }


def _names(store: Store) -> dict[str, str]:
    return dict(store.db.execute("SELECT id, name FROM people").fetchall())


def _print_report(out: Any, report: dict[str, Any]) -> None:
    p = report["person"]

    def line(text: str) -> None:
        out.print(text, markup=False, highlight=False)

    line(f"{p['name']} ({p['id']})" + (" — opted out" if p["opted_out"] else ""))
    for label, key in (("email", "email"), ("title", "title"), ("department", "department")):
        if p[key]:
            line(f"  {label}: {p[key]}")
    if p["team"]:
        line(f"  team: {p['team']}")
    if p["manager_id"]:
        line(f"  manager: {report['manager_name']} ({p['manager_id']})")
    if report["reports"]:
        line(f"  reports: {', '.join(report['reports'])}")
    if p["location"] or p["timezone"]:
        line(f"  location: {p['location'] or ''} {p['timezone'] or ''}".rstrip())
    if p["skills"]:
        line(f"  skills: {'; '.join(p['skills'])}")
    acc = report["accounts"]
    line(
        f"  accounts: Slack {acc['slack_id'] or '-'}, Teams {acc['teams_id'] or '-'}"
        + (f" (reachable on {', '.join(acc['reachable_on'])})" if acc["reachable_on"] else "")
    )
    k = report["knowledge"]
    kinds = ", ".join(f"{n} {kind}" for kind, n in k["by_kind"].items())
    line(f"  knowledge: {k['total']} item(s)" + (f" ({kinds})" if kinds else ""))
    if k["by_source"]:
        line("  sources: " + ", ".join(f"{s} {n}" for s, n in k["by_source"].items()))
    a, r = report["answers"], report["asks_received"]
    line(f"  answers: {a['given']} given, {a['accepted']} accepted")
    line(f"  requests: {r['total']} received, {r['answered']} answered")
    q = report["questions_asked"]
    line(f"  questions asked: {q['total']} ({q['open']} open)")
    if report["contacts"]:
        table = Table("kind", "with", "weight", title="contacts")
        for c in report["contacts"]:
            table.add_row(c["kind"], f"{c['name']} ({c['with']})", f"{c['weight']:g}")
        out.print(table)
    if report["pending_asks"]:
        table = Table("request", "question", "asked by", "since", title="pending requests")
        for ask in report["pending_asks"]:
            table.add_row(
                str(ask["ask_id"]), ask["question"], ask["asker"] or "", ask["asked_at"][:16]
            )
        out.print(table)


def _ids(ids: list[int]) -> str:
    return ", ".join(f"#{i}" for i in ids)
