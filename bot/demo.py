"""`whoknows demo`: the sample org, imported, indexed and asked a handful of questions."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

from rich.console import Console

from bot.console import Sandbox
from bot.encoding import encoder_from_settings
from bot.render_text import candidates_table
from bot.router import Router
from bot.settings import Settings
from data.importers.contacts import import_contacts
from data.importers.directory import import_directory
from data.importers.knowledge import import_knowledge
from data.store import Store
from embeddings.encoder import Encoder
from embeddings.indexer import index_pending


@dataclass(frozen=True)
class DemoQuestion:
    """A question from the sample org, and who really knows the answer."""

    asker: str
    question: str
    experts: list[str]


def sample_dir() -> Path:
    """The folder of the fictional sample org shipped with whoknows."""
    return Path(str(resources.files("data") / "sample"))


def demo_questions() -> list[DemoQuestion]:
    """The sample org's demo questions."""
    raw = json.loads((sample_dir() / "demo_questions.json").read_text(encoding="utf-8"))
    return [DemoQuestion(q["asker"], q["question"], list(q["experts"])) for q in raw]


def load_sample_org(store: Store) -> list[str]:
    """Import the sample org's directory, contacts and knowledge; returns summary lines."""
    sample = sample_dir()
    lines = []
    for label, result in (
        ("people", import_directory(store, sample / "people.csv")),
        ("contacts", import_contacts(store, sample / "contacts.csv")),
        ("knowledge", import_knowledge(store, sample / "knowledge.jsonl")),
        ("documents", import_knowledge(store, sample / "docs")),
    ):
        lines.append(
            f"{label}: {result.counts}" + (f" ({result.derived})" if result.derived else "")
        )
    return lines


def run_demo(console: Console, settings: Settings, db: Path | None = None) -> None:
    """Import, index and route the demo questions, printing each step."""
    with tempfile.TemporaryDirectory(prefix="whoknows-demo-") as tmp:
        path = db or Path(tmp) / "demo.db"
        console.rule("[bold]whoknows demo: Northwind sample org")
        store = Store(path)
        for line in load_sample_org(store):
            console.print(f"imported {line}")
        encoder = encoder_from_settings(settings)
        with console.status("embedding knowledge with all-MiniLM-L6-v2…"):
            embedded = index_pending(store, encoder)
        console.print(f"indexed {embedded} knowledge items ({encoder.model_id})\n")
        router = Router(store, encoder, settings)
        for q in demo_questions():
            asker = store.get_person(q.asker)
            candidates = router.rank(q.question, q.asker, limit=3)
            console.print(
                candidates_table(q.question, asker.name if asker else q.asker, candidates)
            )
            console.print()
        store.close()
        console.rule("[bold]The chain: ask my network")
        run_chain_demo(console, settings, encoder, path)
        if db:
            console.print(f"demo database kept at {db}")


# The "ask my network" chain, scripted: a channel question nobody answers, a referral, an
# answer, a confirmation, the asker resolves.
CHAIN_ASKER = "sofia.lindqvist"
CHAIN_CHANNEL = "#platform"
CHAIN_QUESTION = (
    "Our fleet-api pods keep getting OOM killed and restarting since this morning's deploy. "
    "How do I safely go back to the previous version?"
)
CHAIN_EXPERTS = ("oleksandr.petrenko", "diego.alvarez")
CHAIN_NOTE = "Diego did the last fleet-api rollback"
CHAIN_ANSWER = (
    "Run `helm history fleet-api -n prod`, then `helm rollback fleet-api <last good revision> "
    "-n prod`. The new build needs ~900Mi, so bump the memory limit to 1Gi before you "
    "redeploy it."
)
CHAIN_START = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # a Monday afternoon in Europe


def run_chain_demo(console: Console, settings: Settings, encoder: Encoder, db: Path) -> None:
    """Replay the referral chain on the sample org, printing every message as it is sent."""

    def show(to: str, text: str) -> None:
        console.print(f"[bold magenta]→ {to}[/]", highlight=False)
        console.print(text, markup=False, highlight=False)

    store = Store(db)
    if store.count("people") == 0:
        load_sample_org(store)
    store.close()
    sandbox = Sandbox(settings, db, encoder=encoder, echo=show, start=CHAIN_START)
    flow, name = sandbox.flow, sandbox.name

    def step(title: str) -> None:
        console.print(f"\n[bold cyan]{sandbox.clock.now():%a %H:%M} UTC · {title}[/]")

    step(f"{name(CHAIN_ASKER)} posts in {CHAIN_CHANNEL}")
    console.print(f"“{CHAIN_QUESTION}”", markup=False)
    question_id = flow.ask(
        CHAIN_ASKER, CHAIN_QUESTION, origin="channel", place={"channel": CHAIN_CHANNEL}
    ).question_id
    assert question_id is not None
    sandbox.run()
    minutes = settings.lifecycle.channel_wait_minutes
    sandbox.clock.advance(timedelta(minutes=minutes + 1))
    step(f"{minutes:g} minutes passed with no reply in the thread; whoknows routes it")
    sandbox.run()
    asks = flow.lc.asks_of_question(question_id)
    asked = {a.person_id for a in asks}
    referrer = next((a for a in asks if a.person_id not in CHAIN_EXPERTS), asks[0])
    referee = next((e for e in CHAIN_EXPERTS if e not in asked), None)
    if referee is None:  # the router went straight to both experts: no referral needed
        referee = referrer.person_id
    else:
        step(f"{name(referrer.person_id)} doesn't know, but knows who does")
        flow.refer(referrer.id, referrer.person_id, referee, CHAIN_NOTE)
        sandbox.advance(timedelta(minutes=20))
    answering = next(
        a
        for a in flow.lc.asks_of_question(question_id)
        if a.person_id == referee and a.state == "pending"
    )
    step(f"{name(referee)} answers")
    answer_id = flow.answer(answering.id, referee, CHAIN_ANSWER).answer_id
    assert answer_id is not None
    sandbox.run()
    others = [
        a.person_id
        for a in flow.lc.asks_of_question(question_id)
        if a.person_id not in (referee, referrer.person_id)
    ]
    confirmer = others[0] if others else referrer.person_id
    step(f"{name(confirmer)}, who was asked too, confirms the answer")
    flow.confirm(answer_id, confirmer)
    sandbox.advance(timedelta(minutes=5))
    step(f"{name(CHAIN_ASKER)} accepts the answer")
    flow.accept(answer_id, CHAIN_ASKER)
    sandbox.run()
    q = flow.question(question_id)
    console.print(f"\nQuestion #{q.id} is {q.state}: {q.outcome}", markup=False)
    sandbox.store.close()
