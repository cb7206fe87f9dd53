"""A small org for lifecycle tests, and a recording deliverer."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from bot.lifecycle.clock import ManualClock
from bot.lifecycle.flow import Flow
from bot.lifecycle.intents import Intent
from bot.lifecycle.scheduler import Scheduler
from bot.router import Router
from bot.settings import LifecycleSettings, Settings
from data.models import Contact, KnowledgeItem, Person
from data.store import Store
from embeddings.encoder import Encoder
from embeddings.indexer import index_pending

# Ann asks. Mia manages the platform team (Ann, Bo, Cy). Dan and Fay know Kubernetes,
# Eve knows Postgres, Gus knows payroll, Hal knows nothing written down.
PEOPLE = [
    Person(id="mia", name="Mia Stone", team="platform"),
    Person(id="ann", name="Ann Lee", team="platform", manager_id="mia"),
    Person(id="bo", name="Bo Chan", team="platform", manager_id="mia"),
    Person(id="cy", name="Cy Diaz", team="platform", manager_id="mia"),
    Person(id="dan", name="Dan Ek", team="sre"),
    Person(id="fay", name="Fay Ito", team="sre", timezone="Asia/Tokyo"),
    Person(id="eve", name="Eve Park", team="data"),
    Person(id="gus", name="Gus Roy", team="finance"),
    Person(id="hal", name="Hal Ode", team="sales"),
]
CONTACTS = [Contact(a="bo", b="dan"), Contact(a="cy", b="eve"), Contact(a="dan", b="fay")]
KNOWLEDGE = [
    (
        "dan",
        "Kubernetes OOMKilled pods",
        "Raise the memory limit in the Helm values and roll "
        "back with helm rollback when pods are OOM killed after a deploy.",
    ),
    ("dan", "Helm rollback runbook", "helm history then helm rollback <release> <revision>."),
    (
        "fay",
        "Kubernetes autoscaling",
        "The HPA scales pods on CPU; memory limits matter for OOM kills in Kubernetes.",
    ),
    (
        "eve",
        "Postgres replication lag",
        "Replica lag grows during vacuum; check pg_stat_replication and long-running queries.",
    ),
    ("gus", "Expense reimbursement", "Submit receipts in the expense tool within 30 days."),
    ("bo", "Frontend build", "The web app builds with Vite; run npm ci first."),
]

OOM_QUESTION = "Our pods keep getting OOM killed in Kubernetes after the deploy. Who can help?"


@dataclass
class Recorder:
    """A deliverer that keeps what it was asked to deliver."""

    sent: list[tuple[str, Intent]] = field(default_factory=list)
    fail_next: int = 0

    def deliver(self, intent: Intent, key: str, message_ref: str | None) -> str:
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("platform unavailable")
        self.sent.append((key, intent))
        return f"msg-{len(self.sent)}"

    def find_delivered(self, key: str) -> str | None:
        return next((f"msg-{n}" for n, (k, _) in enumerate(self.sent, 1) if k == key), None)

    def of_kind(self, kind: str, to: str | None = None) -> list[Intent]:
        return [i for _, i in self.sent if i.kind == kind and (to is None or i.recipient == to)]


@dataclass
class World:
    """A flow on the small org, its clock, scheduler and recorder."""

    store: Store
    flow: Flow
    clock: ManualClock
    scheduler: Scheduler
    sent: Recorder
    encoder: Encoder

    def run(self) -> None:
        self.scheduler.run_once()

    def advance(self, **delta: float) -> None:
        self.clock.advance(**delta)
        self.scheduler.run_once()

    def pending(self, question_id: int) -> list:
        return [a for a in self.flow.lc.asks_of_question(question_id) if a.state == "pending"]


def make_world(encoder: Encoder, **limits: object) -> World:
    """A fresh in-memory org with a flow whose lifecycle settings are overridden by `limits`."""
    store = Store(":memory:")
    store.upsert_people(PEOPLE)
    store.upsert_contacts(CONTACTS)
    store.upsert_knowledge(
        KnowledgeItem(id=f"k{n}", person_id=p, title=t, text=x)
        for n, (p, t, x) in enumerate(KNOWLEDGE)
    )
    index_pending(store, encoder)
    base = {"quiet_weekends": False, "quiet_start_hour": 22, "quiet_end_hour": 7}
    settings = Settings(_env_file=None, lifecycle=LifecycleSettings(**{**base, **limits}))
    clock = ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))  # Monday 09:00 UTC
    flow = Flow(store, Router(store, encoder, settings), settings, clock)
    recorder = Recorder()
    scheduler = Scheduler(flow, recorder, indexer=lambda: index_pending(store, encoder))
    return World(store, flow, clock, scheduler, recorder, encoder)
