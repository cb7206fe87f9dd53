"""The outbox: dead letters never block later deliveries and can be listed and retried;
a message is checked, when it is sent, against the state it announces."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.lifecycle.intents import Intent, Notice, intent_from
from bot.lifecycle.scheduler import MAX_ATTEMPTS
from bot.lifecycle.stats import org_stats
from data.lifecycle_store import LifecycleStore
from data.models import Person
from data.store import Store
from tests.lifecycle_org import OOM_QUESTION, Recorder, make_world

runner = CliRunner()


@dataclass
class Unreachable:
    """A deliverer that cannot reach some people (their platform account is gone, say)
    and hands everything else to the recorder."""

    recorder: Recorder
    down: set[str] = field(default_factory=set)

    def deliver(self, intent: Intent, key: str, message_ref: str | None) -> str:
        if intent.recipient in self.down:
            raise ConnectionError(f"{intent.recipient} cannot be reached")
        return self.recorder.deliver(intent, key, message_ref)

    def find_delivered(self, key: str) -> str | None:
        return self.recorder.find_delivered(key)


@pytest.fixture
def world(encoder):
    world = make_world(encoder)
    world.scheduler.deliverer = Unreachable(world.sent)
    return world


def notify(world, person: str, text: str) -> int:
    with world.store.transaction():
        return world.flow.lc.enqueue(
            Notice.kind,
            person,
            None,
            None,
            Notice(0, person, text).payload(),
            world.clock.now(),
            world.clock.now(),
        )


# ------------------------------------------------------------------ dead letters


def test_150_dead_letters_do_not_stop_a_fresh_message(world):
    world.scheduler.deliverer.down = {"hal"}
    for n in range(150):
        notify(world, "hal", f"message {n}")
    lc = world.flow.lc
    for _ in range(40):  # retries back off up to about 8.5 hours
        world.advance(hours=9)
        if lc.dead_letter_count() == 150:
            break
    dead = lc.dead_letters()
    assert len(dead) == 150
    assert all(r.attempts == MAX_ATTEMPTS and r.sent_at is None for r in dead)
    assert all(r.last_error == "ConnectionError: hal cannot be reached" for r in dead)
    assert all(r.dead_at is not None and r.next_attempt_at is None for r in dead)
    assert lc.outbox_due(world.clock.now()) == []  # no longer due

    fresh = notify(world, "ann", "still delivered")
    report = world.scheduler.run_once()

    assert (report.delivered, report.failed) == (1, 0)
    assert [i.text for i in world.sent.of_kind("notice", "ann")] == ["still delivered"]
    assert lc.outbox_row(fresh).sent_at is not None
    stats = org_stats(lc)
    assert stats.dead_letters == 150
    assert stats.lines()[-1].startswith("Undelivered messages: 150")


def test_the_last_failed_attempt_makes_a_dead_letter(world):
    world.scheduler.deliverer.down = {"hal"}
    row = notify(world, "hal", "hello")
    reports = []
    for _ in range(MAX_ATTEMPTS):
        reports.append(world.scheduler.run_once())
        world.clock.advance(hours=9)
    assert [r.dead for r in reports] == [0] * (MAX_ATTEMPTS - 1) + [1]
    assert sum(r.failed for r in reports) == MAX_ATTEMPTS
    dead = world.flow.lc.outbox_row(row)
    assert dead.dead_at is not None and dead.attempts == MAX_ATTEMPTS
    assert world.scheduler.run_once().failed == 0  # never tried again by itself


def test_rows_waiting_for_a_retry_do_not_starve_a_fresh_message(world):
    world.scheduler.deliverer.down = {"hal"}
    for n in range(150):
        notify(world, "hal", f"message {n}")
    world.run()
    world.run()  # 100 rows a run: every one of the 150 has failed once and waits
    assert all(r.attempts == 1 for r in world.flow.lc.outbox())
    notify(world, "ann", "not behind the others")
    assert world.scheduler.run_once().delivered == 1
    assert len(world.sent.of_kind("notice", "ann")) == 1


def test_a_retried_dead_letter_is_delivered_once_it_can_be(world):
    world.scheduler.deliverer.down = {"hal"}
    row = notify(world, "hal", "hello again")
    for _ in range(MAX_ATTEMPTS):
        world.advance(hours=9)
    assert world.flow.lc.outbox_row(row).dead_at is not None
    world.scheduler.deliverer.down = set()
    with world.store.transaction():
        assert world.flow.lc.retry_dead([row, 999], world.clock.now()) == [row]
    assert world.flow.lc.outbox_row(row).attempts == 0
    world.run()
    assert [i.text for i in world.sent.of_kind("notice", "hal")] == ["hello again"]
    assert world.flow.lc.dead_letter_count() == 0


# ----------------------------------------------------------------- the commands


def whoknows(*args: str | Path):
    return runner.invoke(app, [str(a) for a in args], env={"COLUMNS": "250"})


@pytest.fixture
def dead_db(tmp_path) -> tuple[Path, list[int]]:
    """A database with two dead letters and one message still being tried."""
    path = tmp_path / "whoknows.db"
    store = Store(path)
    store.upsert_people([Person(id="dan", name="Dan Ek")])
    lc = LifecycleStore(store)
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    ids = []
    with store.transaction():
        for text in ("one", "two", "three"):
            ids.append(lc.enqueue("notice", "dan", None, None, {"text": text}, now, now))
        for outbox_id in ids[:2]:
            for _ in range(MAX_ATTEMPTS):
                lc.claim(outbox_id, now)
            lc.mark_dead(outbox_id, "SlackApiError: account_inactive", now + timedelta(hours=1))
        lc.claim(ids[2], now)
        lc.mark_failed(ids[2], "TimeoutError: slow", now + timedelta(minutes=1))
    store.close()
    return path, ids


def test_outbox_dead_lists_the_dead_letters(dead_db):
    path, ids = dead_db
    listed = whoknows("outbox", "dead", "--json", "--db", path)
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [r["id"] for r in rows] == ids[:2]
    assert rows[0] == {
        "id": ids[0],
        "kind": "notice",
        "recipient": "dan",
        "question_id": None,
        "ask_id": None,
        "attempts": MAX_ATTEMPTS,
        "last_error": "SlackApiError: account_inactive",
        "dead_at": "2026-03-02T10:00:00.000000Z",
        "created_at": "2026-03-02T09:00:00.000000Z",
    }
    table = whoknows("outbox", "dead", "--db", path)
    assert table.exit_code == 0
    assert "account_inactive" in table.stdout and "2026-03-02 10:00 UTC" in table.stdout
    assert "2 dead letter(s)" in table.stdout


def test_outbox_retry_puts_them_back(dead_db):
    path, ids = dead_db
    one = whoknows("outbox", "retry", ids[0], "--db", path)
    assert one.exit_code == 0 and f"1 message(s) back in the queue: {ids[0]}" in one.stdout
    not_dead = whoknows("outbox", "retry", ids[2], 404, "--db", path)
    assert not_dead.exit_code == 1 and f"{ids[2]}, 404" in not_dead.stderr
    assert whoknows("outbox", "retry", "--db", path).exit_code == 2  # ids or --all
    everything = whoknows("outbox", "retry", "--all", "--db", path)
    assert everything.exit_code == 0 and f": {ids[1]}" in everything.stdout

    store = Store(path)
    rows = {r.id: r for r in LifecycleStore(store).outbox()}
    store.close()
    assert all(rows[i].dead_at is None and rows[i].attempts == 0 for i in ids[:2])
    assert rows[ids[2]].attempts == 1  # the one still being tried is left alone
    assert "no dead letters" in whoknows("outbox", "dead", "--db", path).stdout


# ------------------------------------------ sending only what is still true


def test_a_referral_into_quiet_hours_is_not_delivered_after_the_question_closed(encoder):
    world = make_world(encoder, first_wave=1)
    world.clock.advance(hours=5)  # 14:00 UTC is 23:00 in Tokyo, where Fay lives
    qid = world.flow.ask("ann", OOM_QUESTION).question_id
    world.run()
    first = world.pending(qid)[0]
    assert first.person_id != "fay"
    assert world.flow.refer(first.id, first.person_id, "fay").ok
    world.run()
    assert world.sent.of_kind("ask_expert", "fay") == []  # asleep: held until morning
    world.advance(hours=1)
    assert world.flow.resolve(qid, "ann").ok  # solved before Fay wakes up
    world.run()

    world.advance(hours=8)  # 23:00 UTC: 08:00 in Tokyo

    assert [i for _, i in world.sent.sent if i.recipient == "fay"] == []
    request = next(
        r for r in world.flow.lc.outbox(qid) if r.kind == "ask_expert" and r.recipient == "fay"
    )
    assert request.skipped and request.result == "skipped: ask closed"
    assert request.attempts == 0 and request.dead_at is None
    assert all(r.sent_at is not None for r in world.flow.lc.outbox(qid))  # nothing left due


def test_the_update_of_a_request_that_never_went_out_is_not_sent(world):
    world.scheduler.deliverer.down = {"fay"}  # Fay's request fails and waits for a retry
    qid = world.flow.ask("ann", OOM_QUESTION).question_id
    world.run()
    assert len(world.sent.of_kind("ask_expert", "dan")) == 1
    assert world.sent.of_kind("ask_expert", "fay") == []
    dan = next(a for a in world.pending(qid) if a.person_id == "dan")
    world.flow.answer(dan.id, "dan", "helm rollback fleet-api 41")
    world.scheduler.deliverer.down = set()  # Fay could be reached again now

    world.advance(minutes=5)

    assert [i for _, i in world.sent.sent if i.recipient == "fay"] == []
    results = {r.kind: r.result for r in world.flow.lc.outbox(qid) if r.recipient == "fay"}
    assert results == {
        "ask_expert": "skipped: ask closed",
        "ask_closed": "skipped: request never sent",
    }
    assert [i.outcome for i in world.sent.of_kind("ask_closed", "dan")] == ["answered"]


def test_a_request_that_went_out_is_still_updated_in_place(world):
    qid = world.flow.ask("ann", OOM_QUESTION).question_id
    world.run()
    dan = next(a for a in world.pending(qid) if a.person_id == "dan")
    world.flow.answer(dan.id, "dan", "helm rollback fleet-api 41")
    world.run()
    closed = {i.recipient: i.outcome for i in world.sent.of_kind("ask_closed")}
    assert closed == {"dan": "answered", "fay": "closed"}


def test_a_request_in_doubt_that_did_go_out_is_recorded_and_then_updated(world):
    qid = world.flow.ask("ann", OOM_QUESTION).question_id
    fay_request = next(
        r for r in world.flow.lc.outbox(qid) if r.kind == "ask_expert" and r.recipient == "fay"
    )
    # A crash after the platform took Fay's request but before it was recorded as sent.
    with world.store.transaction():
        world.flow.lc.claim(fay_request.id, world.clock.now())
    delivered = intent_from(fay_request.kind, fay_request.payload)
    world.sent.sent.append((f"whoknows-{fay_request.id}", delivered))
    dan = next(a for a in world.pending(qid) if a.person_id == "dan")
    world.flow.answer(dan.id, "dan", "helm rollback fleet-api 41")  # while it was down

    world.run()

    assert world.flow.lc.outbox_row(fay_request.id).result == "msg-1"  # found, not skipped
    assert [i.outcome for i in world.sent.of_kind("ask_closed", "fay")] == ["closed"]
