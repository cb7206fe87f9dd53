"""What people set about themselves, and how the bot reaches them: platform-neutral.

Adapters (Slack's App Home, Teams' settings card, the console) call these; none of them
touches the store directly.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.lifecycle.clock import Clock
from data.importers.knowledge import skill_items
from data.lifecycle_store import LifecycleStore, Preferences
from data.models import Person
from data.store import Store


@dataclass(frozen=True)
class Profile:
    """What whoknows knows about a person and their settings."""

    person: Person
    skills: list[str]  # declared, editable
    topics: list[str]  # learned from what they wrote and answered, most frequent first
    answers_given: int
    asks_last_day: int
    preferences: Preferences


class Accounts:
    """People's own settings, their expertise as whoknows sees it, their addresses."""

    def __init__(self, store: Store, lifecycle: LifecycleStore, clock: Clock) -> None:
        self.store = store
        self.lifecycle = lifecycle
        self.clock = clock

    def person(self, ref: str) -> Person | None:
        """A person by id, email, Slack id or Teams id."""
        return self.store.find_person(ref)

    def profile(self, person_id: str, topics: int = 8) -> Profile:
        """A person's profile (KeyError if not in the directory)."""
        person = self.store.get_person(person_id)
        if person is None:
            raise KeyError(person_id)
        items = self.store.knowledge_of(person_id)
        tags = Counter(tag for item in items if item.kind != "skill" for tag in item.tags)
        answers = sum(1 for item in items if item.kind == "answer")
        since = self.clock.now() - timedelta(days=1)
        return Profile(
            person=person,
            skills=list(person.skills),
            topics=[tag for tag, _ in tags.most_common(topics)],
            answers_given=answers,
            asks_last_day=self.lifecycle.asks_since(person_id, since),
            preferences=self.lifecycle.preferences(person_id),
        )

    def set_skills(self, person_id: str, skills: list[str]) -> Person:
        """Replace a person's declared skills; their searchable skills item follows."""
        person = self._require(person_id)
        clean = list(dict.fromkeys(s.strip() for s in skills if s.strip()))
        updated = person.model_copy(update={"skills": clean})
        with self.store.transaction():
            self.store.upsert_people([updated])
            if clean:
                self.store.upsert_knowledge(skill_items([updated]))
            else:
                self.store.delete_knowledge([f"skill:{person_id}"])
        return updated

    def set_opted_out(self, person_id: str, opted_out: bool) -> None:
        """Stop (or resume) being asked."""
        self._require(person_id)
        self.store.set_opted_out(person_id, opted_out)

    def set_preferences(self, preferences: Preferences) -> None:
        """Save a person's limits: asks per day, quiet hours (None = the org default)."""
        self._require(preferences.person_id)
        for hour in (preferences.quiet_start, preferences.quiet_end):
            if hour is not None and not 0 <= hour <= 23:
                raise ValueError("quiet hours are whole hours from 0 to 23")
        if preferences.max_asks_per_day is not None and preferences.max_asks_per_day < 0:
            raise ValueError("asks per day can't be negative")
        with self.store.transaction():
            self.lifecycle.set_preferences(preferences)

    def save_address(self, person_id: str, platform: str, address: dict[str, Any]) -> None:
        """Remember how to reach someone on a platform (a DM channel, a conversation ref)."""
        with self.store.transaction():
            self.lifecycle.save_address(person_id, platform, address, self.clock.now())

    def address(self, person_id: str, platform: str) -> dict[str, Any] | None:
        """How to reach someone on a platform, if known."""
        return self.lifecycle.address(person_id, platform)

    def forget_address(self, person_id: str, platform: str) -> bool:
        """Forget how to reach someone on a platform (the app was uninstalled for them);
        whether an address was known."""
        with self.store.transaction():
            return self.lifecycle.forget_address(person_id, platform)

    def forget_addresses_with(self, platform: str, key: str, value: str) -> list[str]:
        """Forget every address on a platform whose `key` is `value` (e.g. those learned in
        a team the app was removed from); the ids of the people forgotten."""
        with self.store.transaction():
            return self.lifecycle.forget_addresses_with(platform, key, value)

    def channel_settings(self, platform: str, channel_id: str) -> tuple[bool, float | None]:
        """(enabled, wait minutes or None) for a channel."""
        return self.lifecycle.channel_settings(platform, channel_id)

    def set_channel_settings(
        self, platform: str, channel_id: str, enabled: bool, wait_minutes: float | None = None
    ) -> None:
        """Turn routing of unanswered questions in a channel on or off, with its wait."""
        if wait_minutes is not None and wait_minutes < 0:
            raise ValueError("the wait can't be negative")
        with self.store.transaction():
            self.lifecycle.set_channel_settings(platform, channel_id, enabled, wait_minutes)

    def _require(self, person_id: str) -> Person:
        person = self.store.get_person(person_id)
        if person is None:
            raise KeyError(f"{person_id!r} is not in the directory")
        return person
