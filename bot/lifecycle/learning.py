"""What the bot learns from each question: who knows what, and who connects whom.

- An answer that was accepted or confirmed becomes knowledge of its author (kind
  "answer"), so the next similar question finds them; `whoknows index` (or the running
  bot's scheduler) embeds it.
- A referral that led to an answer strengthens the tie between referrer and answerer, and
  every answer adds a "helped" tie from answerer to asker.
- Passes and expiries are recorded by the flow (`declines`); the ask policy tries people
  who recently declined a similar question last.
"""

from __future__ import annotations

from datetime import datetime

from data.lifecycle_store import AnswerRow, AskRow, LifecycleStore, QuestionRow
from data.models import KnowledgeItem
from data.store import Store


def answer_item_id(answer_id: int) -> str:
    """The knowledge item id of an answer given through the bot."""
    return f"answer:{answer_id}"


def answer_id_of(item_id: str) -> int | None:
    """The answer id behind an `answer_item_id`, or None for any other item."""
    prefix, _, rest = item_id.partition(":")
    return int(rest) if prefix == "answer" and rest.isdigit() else None


class Learning:
    """Feeds lifecycle outcomes back into the directory's knowledge and ties."""

    def __init__(self, store: Store, lifecycle: LifecycleStore) -> None:
        self.store = store
        self.lifecycle = lifecycle

    def answered(self, question: QuestionRow, ask: AskRow, now: datetime) -> None:
        """An answer arrived through `ask`: strengthen the ties that carried it."""
        at = now.date().isoformat()
        self.store.strengthen_contact(ask.person_id, question.asker_id, "helped", 1.0, at)
        if ask.via_id:
            self.store.strengthen_contact(ask.via_id, ask.person_id, "contact", 1.0, at)

    def vouched(self, question: QuestionRow, answer: AnswerRow, now: datetime) -> None:
        """An answer was accepted or confirmed: it becomes its author's knowledge."""
        self.store.upsert_knowledge(
            [
                KnowledgeItem(
                    id=answer_item_id(answer.id),
                    person_id=answer.person_id,
                    title=question.text[:200],
                    text=answer.text,
                    kind="answer",
                    source="whoknows",
                    created_at=now.isoformat(timespec="seconds"),
                )
            ]
        )
