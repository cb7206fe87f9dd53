"""Cards rebuilt from the lifecycle's records (read only), for updates in place, and the
personal settings card gathered from the core.

An expert's card is re-drawn when its request ends (closed, with the outcome) or is snoozed
(still open, with a banner). The request as it was sent is the `AskExpert` intent in the
outbox, so the card looks the same as the one the expert got.
"""

from __future__ import annotations

from typing import Any

from bot.lifecycle.flow import Flow
from bot.lifecycle.intents import AskExpert, intent_from
from bot.lifecycle.overview import open_questions, org_defaults, waiting_requests
from bot.runtime import Runtime
from bot.teams import cards


def expert_request(flow: Flow, ask_id: int) -> AskExpert | None:
    """The request as it was sent to the expert, if it exists."""
    ask = flow.lc.ask(ask_id)
    if ask is None:
        return None
    for row in flow.lc.outbox(ask.question_id):
        if row.kind == AskExpert.kind and row.ask_id == ask_id:
            intent = intent_from(row.kind, row.payload)
            return intent if isinstance(intent, AskExpert) else None
    return None


def closed_request_card(flow: Flow, ask_id: int, outcome: str, detail: str) -> dict[str, Any]:
    """The card of a request that is over."""
    request = expert_request(flow, ask_id)
    if request is None:
        return cards.closed_card(ask_id, "", "", outcome, detail)
    return cards.closed_card(ask_id, request.question, request.asker_name, outcome, detail)


def snoozed_request_card(flow: Flow, ask_id: int, detail: str) -> dict[str, Any]:
    """The card of a snoozed request: still answerable, with when it comes back."""
    request = expert_request(flow, ask_id)
    if request is None:
        return cards.closed_card(ask_id, "", "", "snoozed", detail)
    return cards.ask_card(request, banner=f"⏰ {detail}")


def settings_data(runtime: Runtime, person_id: str) -> cards.SettingsData:
    """What the settings card shows a person (KeyError if not in the directory): their
    questions still going, requests waiting for them, their profile and limits."""
    flow, store = runtime.flow, runtime.store
    with store.transaction():  # one consistent snapshot
        profile = runtime.accounts.profile(person_id)
        questions = open_questions(flow, person_id)
        requests = waiting_requests(flow, person_id)
    prefs = profile.preferences
    defaults = org_defaults(flow.limits) + " Leave a field empty to use the default."
    return cards.SettingsData(
        person_id=person_id,
        name=profile.person.name,
        opted_out=profile.person.opted_out,
        skills=profile.skills,
        topics=profile.topics,
        answers_given=profile.answers_given,
        asks_last_day=profile.asks_last_day,
        max_asks_per_day=prefs.max_asks_per_day,
        quiet_start=prefs.quiet_start,
        quiet_end=prefs.quiet_end,
        defaults=defaults,
        questions=questions,
        requests=requests,
    )
