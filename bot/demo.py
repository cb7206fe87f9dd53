"""`whoknows demo`: the sample org, imported, indexed and asked a handful of questions."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from rich.console import Console

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
        encoder = Encoder(settings.model_path, settings.embed_batch_size, settings.max_seq_length)
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
        if db:
            console.print(f"demo database kept at {db}")
