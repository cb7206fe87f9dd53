"""Personal settings and the admins' numbers, in the 1:1 chat: `settings` replies with a card
(my questions and requests, what whoknows thinks I know, opt-out, asks per day, quiet
hours) whose Save applies to whoever clicks it; `stats` replies, to admins only, with the
org's numbers (the admin check is repeated on the card's Refresh).

The person a save applies to is always the sender of the invoke (Bot Framework
authenticates the activity; Teams sets `from`). The card also names its owner, and a save
from anyone else is refused, so a forwarded card cannot change its owner's settings nor
copy them onto the clicker.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from typing import Any

from microsoft_agents.hosting.core import TurnContext

from bot.teams import cards, views
from bot.teams.conversations import message
from bot.teams.handlers.common import core
from bot.teams.handlers.services import Services
from data.lifecycle_store import Preferences
from data.models import Person

log = logging.getLogger(__name__)

SETTINGS_COMMAND, STATS_COMMAND = "settings", "stats"
NOT_YOURS = "This settings card belongs to someone else. Type `settings` for yours."
SAVED = "Saved."


@dataclass(frozen=True)
class Submitted:
    """The settings card's inputs as typed. `problems` lists what can't be saved."""

    skills: list[str]
    opted_out: bool
    max_asks_per_day: int | None
    quiet_start: int | None
    quiet_end: int | None
    problems: tuple[str, ...] = ()


def _whole(value: Any) -> tuple[int | None, bool]:
    """(the whole number, True) from an input's value; (None, True) if empty; (None or the
    number, False) if it isn't a whole number."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, True
    if isinstance(value, bool):
        return None, False
    try:
        number = float(str(value).strip())
    except ValueError:
        return None, False
    if not number.is_integer():
        return None, False
    return int(number), True


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"true", "1", "yes", "on"}
    return bool(value)


def read_settings(data: dict[str, Any]) -> Submitted:
    """The settings from a Save click's data (the card's inputs), checked."""
    raw_skills = str(data.get(cards.SKILLS_INPUT) or "")
    skills = [s.strip() for s in re.split(r"[,;\n]", raw_skills) if s.strip()]
    problems: list[str] = []
    per_day, ok = _whole(data.get(cards.MAX_ASKS_INPUT))
    if not ok or (per_day is not None and not 0 <= per_day <= cards.MAX_ASKS_LIMIT):
        limit = cards.MAX_ASKS_LIMIT
        problems.append(f"Requests per day must be a whole number from 0 to {limit}.")
    hours = []
    for key in (cards.QUIET_START_INPUT, cards.QUIET_END_INPUT):
        hour, ok = _whole(data.get(key))
        if not ok or (hour is not None and not 0 <= hour <= 23):
            problems.append("Quiet hours are whole hours from 0 to 23.")
        hours.append(hour)
    if (hours[0] is None) != (hours[1] is None) and not problems:
        problems.append("Set both ends of quiet hours, or neither.")
    return Submitted(
        skills=skills,
        opted_out=_truthy(data.get(cards.OPTED_OUT_INPUT)),
        max_asks_per_day=per_day,
        quiet_start=hours[0],
        quiet_end=hours[1],
        problems=tuple(dict.fromkeys(problems)),
    )


class SettingsCommands:
    """The `settings` and `stats` commands and their cards' buttons."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.runtime = services.runtime

    def is_admin(self, person: Person) -> bool:
        """Whether `person` is a whoknows admin (by person id, from the settings)."""
        return person.id in set(self.services.teams.admin_ids)

    # ------------------------------------------------------------------- commands

    async def show_settings(self, context: TurnContext, person: Person) -> None:
        """Reply with the person's settings card."""
        data = await core(views.settings_data, self.runtime, person.id)
        await context.send_activity(message(card=cards.settings_card(data)))

    async def show_stats(self, context: TurnContext, person: Person) -> None:
        """Reply with the org's numbers, or a refusal for a non-admin."""
        if not self.is_admin(person):
            log.info("%s asked for the stats but is not an admin", person.id)
            await context.send_activity(message(text=cards.ADMINS_ONLY))
            return
        stats = await core(self.runtime.stats)
        await context.send_activity(message(card=cards.stats_card(stats.lines())))

    # -------------------------------------------------------------------- buttons

    async def save(self, person: Person, data: dict[str, Any]) -> dict[str, Any]:
        """Save the card's inputs for `person` (the sender) and redraw the card: "Saved", or
        what is wrong (then nothing is saved)."""
        owner = str(data.get("person_id") or person.id)
        if owner != person.id:
            log.warning("%s clicked Save on %s's settings card; refused", person.id, owner)
            return cards.message_response(NOT_YOURS)
        submitted = read_settings(data)
        if submitted.problems:
            current = await core(views.settings_data, self.runtime, person.id)
            typed = replace(
                current,
                skills=submitted.skills,
                opted_out=submitted.opted_out,
                max_asks_per_day=submitted.max_asks_per_day,
                quiet_start=submitted.quiet_start,
                quiet_end=submitted.quiet_end,
            )
            error = " ".join(submitted.problems) + " Nothing was saved."
            return cards.card_response(cards.settings_card(typed, error=error))
        try:
            await core(self._apply, person.id, submitted)
        except ValueError as problem:  # the core's own checks
            current = await core(views.settings_data, self.runtime, person.id)
            return cards.card_response(
                cards.settings_card(current, error=f"{problem}. Nothing was saved.")
            )
        log.info("%s saved their settings", person.id)
        fresh = await core(views.settings_data, self.runtime, person.id)
        return cards.card_response(cards.settings_card(fresh, notice=SAVED))

    def _apply(self, person_id: str, submitted: Submitted) -> None:
        """All of the settings, or none of them."""
        accounts = self.runtime.accounts
        with self.runtime.store.transaction():
            accounts.set_preferences(
                Preferences(
                    person_id,
                    submitted.max_asks_per_day,
                    submitted.quiet_start,
                    submitted.quiet_end,
                )
            )
            accounts.set_skills(person_id, submitted.skills)
            accounts.set_opted_out(person_id, submitted.opted_out)

    async def refresh_stats(self, person: Person) -> dict[str, Any]:
        """The stats card's Refresh: admins only, checked again here."""
        if not self.is_admin(person):
            log.warning("%s clicked Refresh on the stats card but is not an admin", person.id)
            return cards.message_response(cards.ADMINS_ONLY)
        stats = await core(self.runtime.stats)
        return cards.card_response(cards.stats_card(stats.lines()))
