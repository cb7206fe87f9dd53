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
from bot.lifecycle.overview import person_overview
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
    with runtime.store.transaction():  # one consistent snapshot
        return person_overview(runtime.flow, runtime.accounts, person_id)
