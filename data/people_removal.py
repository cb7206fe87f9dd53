"""Forgetting a person: what `whoknows people remove` (and `import directory
--remove-missing`) takes out of the store.

The person's row stays as a **tombstone**: same id, every identifying column cleared, the
name `REMOVED_NAME`, opted out. Why not delete the row: the lifecycle's history of other
people's questions (an answer they gave, a request they once had) refers to it by foreign
key, and a running bot's router, which never hears of deleted people, learns at its next
sync from the changed row that they may not be asked; a deleted row would be a person it
still thinks it can ask but cannot read. Everything that says who they were or what they
knew is deleted: knowledge items (their vectors go with them, and the deletion is logged so
every router drops them), the full-text rows (by the store's trigger), contacts and
chat ties, the chat messages they wrote (their words are what is being forgotten, and a
thread rebuilt later must not bring them back), private-channel memberships, preferences,
addresses, declines and confirmations, and every outbox message addressed to them. Their
reports lose their manager until the next directory import says who it is, so no path runs
through the tombstone.

The lifecycle's part (requests re-routed, their questions cancelled) is
`bot.lifecycle.flow.Flow.drop_person`; the caller runs both in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from data.models import Person
from data.store import Store

# The name a removed person's tombstone shows wherever history names them.
REMOVED_NAME = "a former colleague"


@dataclass(frozen=True)
class RemovalPlan:
    """What removing one person forgets (counted before, or as it is done)."""

    person_id: str
    name: str
    items: int  # knowledge items
    ties: int  # contacts and chat ties
    pending_asks: int  # requests still waiting for them, to go to the next candidate
    open_questions: int  # their own questions still open, to be cancelled
    chat_messages: int
    reports: int  # people who report to them, left without a manager

    @property
    def needs_lifecycle(self) -> bool:
        """Whether the question lifecycle has work to do (and so needs the router)."""
        return bool(self.pending_asks or self.open_questions)

    def summary(self) -> str:
        """One line for the confirmation prompt and the report."""
        return (
            f"{self.name} ({self.person_id}): {self.items} knowledge item(s), {self.ties} "
            f"tie(s), {self.chat_messages} chat message(s), {self.pending_asks} pending "
            f"request(s) to pass on, {self.open_questions} open question(s) to cancel"
            + (f", {self.reports} report(s) left without a manager" if self.reports else "")
        )


def is_removed(person: Person) -> bool:
    """Whether a stored person is the tombstone of someone removed."""
    return (
        person.opted_out
        and person.name == REMOVED_NAME
        and not (person.email or person.slack_id or person.teams_id)
    )


def removed_ids(store: Store) -> set[str]:
    """The ids of every tombstone."""
    cur = store.db.execute(
        "SELECT id FROM people WHERE name = ? AND opted_out = 1 AND email IS NULL "
        "AND slack_id IS NULL AND teams_id IS NULL",
        (REMOVED_NAME,),
    )
    return {row[0] for row in cur}


def removal_plan(store: Store, person_id: str) -> RemovalPlan:
    """What `forget_person(store, person_id)` would take away (KeyError if unknown)."""
    person = store.get_person(person_id)
    if person is None:
        raise KeyError(person_id)
    db = store.db

    def one(sql: str, *args: object) -> int:
        return int(db.execute(sql, args).fetchone()[0])

    pid = person_id
    return RemovalPlan(
        person_id=pid,
        name=person.name,
        items=one("SELECT count(*) FROM knowledge WHERE person_id = ?", pid),
        ties=one("SELECT count(*) FROM contacts WHERE a = ? OR b = ?", pid, pid)
        + one("SELECT count(*) FROM chat_ties WHERE a = ? OR b = ?", pid, pid),
        pending_asks=one(
            "SELECT count(*) FROM asks WHERE person_id = ? AND state = 'pending'", pid
        ),
        open_questions=one(
            "SELECT count(*) FROM questions WHERE asker_id = ? "
            "AND state IN ('waiting', 'checking', 'routing')",
            pid,
        ),
        chat_messages=one(
            f"SELECT count(*) FROM chat_messages WHERE {_AUTHORED}",
            person.slack_id,
            person.teams_id,
        ),
        reports=one("SELECT count(*) FROM people WHERE manager_id = ?", pid),
    )


# A chat message's author is the platform's user id (see data.chat_store).
_AUTHORED = "(platform = 'slack' AND author = ?) OR (platform = 'teams' AND author = ?)"


def forget_person(store: Store, person_id: str) -> RemovalPlan:
    """Forget everything the store knows about a person but the tombstone (see the
    module docstring), in one transaction (the caller's, if one is open). Returns what
    was forgotten. Call `Flow.drop_person` in the same transaction for their requests
    and questions. KeyError if the person is unknown."""
    with store.transaction():
        plan = removal_plan(store, person_id)
        person = store.get_person(person_id)
        assert person is not None
        db = store.db
        pid = person_id
        items = [
            row[0] for row in db.execute("SELECT id FROM knowledge WHERE person_id = ?", (pid,))
        ]
        store.delete_knowledge(items)  # vectors, FTS rows, and the log routers read
        db.execute("DELETE FROM contacts WHERE a = ? OR b = ?", (pid, pid))
        db.execute("DELETE FROM chat_ties WHERE a = ? OR b = ?", (pid, pid))
        db.execute("DELETE FROM chat_members WHERE person_id = ?", (pid,))
        accounts = (person.slack_id, person.teams_id)
        db.execute(f"DELETE FROM chat_messages WHERE {_AUTHORED}", accounts)
        db.execute(
            "UPDATE chat_messages SET parent_author = NULL "
            "WHERE (platform = 'slack' AND parent_author = ?) "
            "OR (platform = 'teams' AND parent_author = ?)",
            accounts,
        )
        for table, column in _PERSONAL_ROWS:
            db.execute(f"DELETE FROM {table} WHERE {column} = ?", (pid,))
        # Their reports, then the tombstone: each a changed row, so routers re-read them.
        reports = [r[0] for r in db.execute("SELECT id FROM people WHERE manager_id = ?", (pid,))]
        for report in reports:
            db.execute(
                "UPDATE people SET manager_id = NULL, seq = ? WHERE id = ?",
                (store._next_seq(), report),
            )
        db.execute(
            "UPDATE people SET name = ?, email = NULL, title = NULL, department = NULL, "
            "team = NULL, manager_id = NULL, location = NULL, timezone = NULL, "
            "slack_id = NULL, teams_id = NULL, skills = '[]', opted_out = 1, seq = ? "
            "WHERE id = ?",
            (REMOVED_NAME, store._next_seq(), pid),
        )
    return plan


# Rows that are only about the person, deleted outright: (table, column naming them).
_PERSONAL_ROWS = (
    ("preferences", "person_id"),
    ("addresses", "person_id"),
    ("declines", "person_id"),
    ("confirmations", "person_id"),
    ("outbox", "recipient"),
)
