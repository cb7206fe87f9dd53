"""The core's `Deliverer` for Slack: renders each intent with `blocks` and posts it.

- AskExpert -> a DM to the expert with the four buttons; its reference "channel:ts" is kept
  on the ask so that AskClosed can `chat.update` the same message in place.
- AnswerPosted, FollowUpAnswered, AnswerConfirmed, SimilarFound, StatusUpdate -> the asker's
  thread (`place`), or their DM when the question is private. A private question's messages
  go only to the asker's own DM channel, whatever its place says.
- Notice, FollowUpAsked -> a DM.

Every posted message carries the outbox key in its metadata (event_type
`whoknows_delivery`), so after a crash `find_delivered` finds a message that went out but
was not recorded, in the recent history of the conversation it would be in, and it is not
sent twice. A failed Slack call raises: the scheduler retries it later with backoff, and the
question stays in the outbox meanwhile.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.lifecycle.intents import (
    AnswerConfirmed,
    AnswerPosted,
    AskClosed,
    AskExpert,
    FollowUpAnswered,
    FollowUpAsked,
    Intent,
    Notice,
    SimilarFound,
    StatusUpdate,
    intent_from,
)
from bot.lifecycle.scheduler import outbox_id_of
from bot.lifecycle.states import AskState
from bot.runtime import Runtime
from bot.slack import blocks, ids

log = logging.getLogger(__name__)

# Errors that mean "this conversation can't take the message" (not "try again later"):
# a question's answers then go to the asker's DM instead of its channel thread.
UNREACHABLE = frozenset(
    {"channel_not_found", "not_in_channel", "is_archived", "restricted_action", "thread_not_found"}
)
SEARCH_DEPTH = 200  # messages searched per conversation when checking an in-doubt delivery


class Undeliverable(RuntimeError):
    """Nobody to deliver to on Slack (e.g. a person with no Slack account)."""


@dataclass(frozen=True)
class Target:
    """Where a message goes: a conversation and, optionally, a thread in it."""

    channel: str
    thread_ts: str | None = None


class SlackDeliverer:
    """Renders and posts the core's intents with a Slack WebClient."""

    def __init__(self, client: WebClient, runtime: Runtime) -> None:
        self.client = client
        self.runtime = runtime
        self.lc = runtime.flow.lc
        self.accounts = runtime.accounts

    # ------------------------------------------------------------- Deliverer

    def deliver(self, intent: Intent, key: str, message_ref: str | None) -> str | None:
        """Post (or update) the message for `intent`; returns "channel:ts"."""
        if isinstance(intent, AskClosed):
            return self._update_request(intent, message_ref)
        if isinstance(intent, AskExpert):
            ask = self.lc.ask(intent.ask_id)
            if ask is not None and ask.state != AskState.PENDING:
                return None  # closed before it could go out: nothing worth showing
            text, body = blocks.ask_expert(intent)
            return self._post(self._dm(intent.expert_id), text, body, key)
        if isinstance(intent, Notice):
            text, body = blocks.notice(intent)
            return self._post(self._dm(intent.person_id), text, body, key)
        if isinstance(intent, FollowUpAsked):
            text, body = blocks.follow_up_asked(intent)
            return self._post(self._dm(intent.answerer_id), text, body, key)
        text, body = self._render_for_asker(intent)
        return self._post_for_asker(intent, text, body, key)

    def find_delivered(self, key: str) -> str | None:
        """Search the conversation(s) a message for `key` would be in for one that carries
        the key in its metadata; its "channel:ts" if found."""
        outbox_id = outbox_id_of(key)
        row = self.lc.outbox_row(outbox_id) if outbox_id is not None else None
        if row is None:
            return None
        intent = intent_from(row.kind, row.payload)
        if isinstance(intent, AskClosed):
            return None  # an update in place: doing it again changes nothing
        for target in self._targets(intent):
            found = self._search(target, key)
            if found:
                return found
        return None

    # ------------------------------------------------------------- rendering

    def _render_for_asker(self, intent: Intent) -> blocks.Message:
        asker = getattr(intent, "asker_id", None)
        mention = None if getattr(intent, "private", False) else self._slack_id(asker)
        match intent:
            case AnswerPosted():
                return blocks.answer_posted(intent, mention)
            case SimilarFound():
                return blocks.similar_found(intent, mention)
            case AnswerConfirmed():
                return blocks.answer_confirmed(intent)
            case FollowUpAnswered():
                return blocks.follow_up_answered(intent)
            case StatusUpdate():
                return blocks.status(intent)
        raise Undeliverable(f"no Slack rendering for {intent.kind}")

    def _update_request(self, intent: AskClosed, message_ref: str | None) -> str | None:
        if not message_ref:
            return None  # the request never went out, so there is nothing to update
        channel, _, ts = message_ref.partition(":")
        original = self._original_request(intent)
        text, body = blocks.ask_closed(original, intent)
        self.client.chat_update(channel=channel, ts=ts, text=text, blocks=body)
        return message_ref

    def _original_request(self, intent: AskClosed) -> AskExpert | None:
        for row in self.lc.outbox(intent.question_id):
            if row.kind == AskExpert.kind and row.ask_id == intent.ask_id:
                original = intent_from(row.kind, row.payload)
                assert isinstance(original, AskExpert)
                return original
        return None

    # ------------------------------------------------------------- addressing

    def _slack_id(self, person_id: str | None) -> str | None:
        person = self.runtime.store.get_person(person_id) if person_id else None
        return person.slack_id if person else None

    def _dm(self, person_id: str) -> Target:
        """The person's DM channel with the app (opened once, then remembered)."""
        slack_id = self._slack_id(person_id)
        if not slack_id:
            raise Undeliverable(f"{person_id} has no Slack account in the directory")
        known = self.accounts.address(person_id, ids.PLATFORM)
        if known and known.get("user") == slack_id and known.get("channel"):
            return Target(known["channel"])
        opened = self.client.conversations_open(users=slack_id)
        channel = opened["channel"]["id"]
        self.accounts.save_address(person_id, ids.PLATFORM, {"user": slack_id, "channel": channel})
        return Target(channel)

    def _targets(self, intent: Intent) -> list[Target]:
        """Where `intent` goes, best first (a thread, then the asker's DM as a fallback)."""
        if isinstance(intent, AskExpert):
            return [self._dm(intent.expert_id)]
        if isinstance(intent, Notice):
            return [self._dm(intent.person_id)]
        if isinstance(intent, FollowUpAsked):
            return [self._dm(intent.answerer_id)]
        asker = str(getattr(intent, "asker_id", ""))
        place: dict[str, Any] = getattr(intent, "place", {}) or {}
        channel = place.get("channel")
        if getattr(intent, "private", False) or place.get("platform") != ids.PLATFORM:
            # Private: only ever the asker's own DM (in the question's thread if it was
            # asked there), never the channel its place names.
            dm = self._dm(asker)
            thread = place.get("thread_ts") if channel == dm.channel else None
            return [Target(dm.channel, thread)]
        if not channel:
            return [self._dm(asker)]
        targets = [Target(channel, place.get("thread_ts"))]
        with contextlib.suppress(Undeliverable):  # the DM, if the channel won't take it
            targets.append(self._dm(asker))
        return targets

    # ---------------------------------------------------------------- posting

    def _post_for_asker(self, intent: Intent, text: str, body: list, key: str) -> str:
        targets = self._targets(intent)
        for n, target in enumerate(targets):
            try:
                return self._post(target, text, body, key)
            except SlackApiError as error:
                code = error.response.get("error")
                if code not in UNREACHABLE or n == len(targets) - 1:
                    raise
                log.warning(
                    "question %s: can't post in %s (%s); sending to the asker's DM",
                    intent.question_id,
                    target.channel,
                    code,
                )
        raise Undeliverable("no conversation to deliver to")  # pragma: no cover

    def _post(self, target: Target, text: str, body: list, key: str) -> str:
        response = self.client.chat_postMessage(
            channel=target.channel,
            thread_ts=target.thread_ts,
            text=text,
            blocks=body,
            metadata={"event_type": ids.DELIVERY_EVENT, "event_payload": {"key": key}},
            unfurl_links=False,
            unfurl_media=False,
        )
        return f"{response['channel']}:{response['ts']}"

    def _search(self, target: Target, key: str) -> str | None:
        try:
            if target.thread_ts:
                response = self.client.conversations_replies(
                    channel=target.channel,
                    ts=target.thread_ts,
                    include_all_metadata=True,
                    limit=SEARCH_DEPTH,
                )
            else:
                response = self.client.conversations_history(
                    channel=target.channel, include_all_metadata=True, limit=SEARCH_DEPTH
                )
        except SlackApiError as error:
            if error.response.get("error") in UNREACHABLE:
                return None  # nothing can have been posted there
            raise
        for message in response.get("messages") or []:
            meta = message.get("metadata") or {}
            payload = meta.get("event_payload") or {}
            if meta.get("event_type") == ids.DELIVERY_EVENT and payload.get("key") == key:
                return f"{target.channel}:{message['ts']}"
        return None
