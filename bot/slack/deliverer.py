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

A request shows the question as it reads now (the asker may have edited it since the
request was queued), also when it is updated in place.

**Uninstalled.** After `app_uninstalled` or `tokens_revoked` (the bot's token), the store's
meta key `slack:uninstalled` says when and why, and nothing is sent: `deliver` raises
`NotInstalled` (one warning line in the log per uninstall), so every message stays in the
outbox, retried with backoff (a dead letter after the scheduler's last attempt, which an
admin can retry). Nothing is deleted. It ends when Slack accepts the bot token again: the
deliverer calls `auth.test` before the first delivery after a start and at most every
RECHECK_SECONDS after that; on success (the app was reinstalled and its token configured)
the mark is cleared and sending resumes. `/healthz` shows `"sending": false` meanwhile.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime
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
from data.store import Store

log = logging.getLogger(__name__)

# Errors that mean "this conversation can't take the message" (not "try again later"):
# a question's answers then go to the asker's DM instead of its channel thread.
UNREACHABLE = frozenset(
    {"channel_not_found", "not_in_channel", "is_archived", "restricted_action", "thread_not_found"}
)
SEARCH_DEPTH = 200  # messages searched per conversation when checking an in-doubt delivery
# Errors that mean Slack took the token back: the app was uninstalled or the token revoked.
TOKEN_REFUSED = frozenset({"invalid_auth", "token_revoked", "account_inactive", "not_authed"})
UNINSTALLED_KEY = "slack:uninstalled"  # meta: JSON {"at", "why"} while Slack took us away
RECHECK_SECONDS = 300  # while uninstalled, how often auth.test asks whether we are back


class Undeliverable(RuntimeError):
    """Nobody to deliver to on Slack (e.g. a person with no Slack account)."""


class NotInstalled(RuntimeError):
    """The app was uninstalled or its bot token revoked: nothing can be sent until it is
    installed again. The message stays in the outbox."""


def mark_uninstalled(store: Store, why: str, at: datetime) -> bool:
    """Record that Slack took the app away (`why`: "app uninstalled", "bot token
    revoked"). The first mark stands until it is cleared; False if one was there."""
    if uninstalled(store) is not None:
        return False
    store.set_meta(UNINSTALLED_KEY, json.dumps({"at": at.isoformat(), "why": why}))
    return True


def uninstalled(store: Store) -> dict[str, str] | None:
    """{"at": ISO time, "why": ...} while the app is marked uninstalled, else None."""
    value = store.get_meta(UNINSTALLED_KEY)
    if not value:
        return None
    try:
        mark = json.loads(value)
    except ValueError:
        mark = None
    return mark if isinstance(mark, dict) else {"at": "?", "why": str(value)[:200]}


def clear_uninstalled(store: Store) -> None:
    """The app is installed (again): sending may resume."""
    store.set_meta(UNINSTALLED_KEY, "")


def sending_status(store: Store) -> dict[str, Any]:
    """For health checks: {"sending": True}, or False with why ("app uninstalled at ...")."""
    mark = uninstalled(store)
    if mark is None:
        return {"sending": True}
    return {"sending": False, "why": f"{mark.get('why')} at {mark.get('at')}"}


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
        self._lock = threading.Lock()
        self._checked_at: float | None = None  # monotonic time of the last auth.test
        self._warned: str | None = None  # the uninstall mark last warned about

    # ------------------------------------------------------------- Deliverer

    def deliver(self, intent: Intent, key: str, message_ref: str | None) -> str | None:
        """Post (or update) the message for `intent`; returns "channel:ts". Raises
        NotInstalled while the app is uninstalled (see the module's docstring)."""
        self.require_installed()
        try:
            return self._deliver(intent, key, message_ref)
        except SlackApiError as error:
            code = error.response.get("error")
            if code not in TOKEN_REFUSED:
                raise
            # Slack no longer takes the token (the uninstall event may have been missed).
            why, now = f"bot token refused ({code})", self.runtime.clock.now()
            if mark_uninstalled(self.runtime.store, why, now):
                with self._lock:
                    self._checked_at = time.monotonic()
                self._warn(f"{why} at {now.isoformat()}")
            raise NotInstalled(f"Slack app {why}; not sending until it is reinstalled") from error

    def _deliver(self, intent: Intent, key: str, message_ref: str | None) -> str | None:
        if isinstance(intent, AskClosed):
            return self._update_request(intent, message_ref)
        if isinstance(intent, AskExpert):
            ask = self.lc.ask(intent.ask_id)
            if ask is not None and ask.state != AskState.PENDING:
                return None  # closed before it could go out: nothing worth showing
            text, body = blocks.ask_expert(self._as_it_reads_now(intent))
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
        if row is None or uninstalled(self.runtime.store) is not None:
            return None  # unknown, or Slack can't be asked now (deliver will refuse)
        intent = intent_from(row.kind, row.payload)
        if isinstance(intent, AskClosed):
            return None  # an update in place: doing it again changes nothing
        for target in self._targets(intent):
            found = self._search(target, key)
            if found:
                return found
        return None

    # ------------------------------------------------------------- installed?

    def require_installed(self) -> None:
        """Raise NotInstalled while the app is marked uninstalled and Slack still refuses
        its token (asked with `auth.test` at most every RECHECK_SECONDS); clear the mark
        once Slack accepts the token again."""
        store = self.runtime.store
        mark = uninstalled(store)
        if mark is None:
            return
        with self._lock:
            now = time.monotonic()
            due = self._checked_at is None or now - self._checked_at >= RECHECK_SECONDS
            if due:
                self._checked_at = now
        if due and self._token_works():
            clear_uninstalled(store)
            log.warning(
                "Slack accepts the bot token again (the app was reinstalled): sending resumes; "
                "it was marked %s at %s",
                mark.get("why"),
                mark.get("at"),
            )
            self._warned = None
            return
        why = f"{mark.get('why')} at {mark.get('at')}"
        self._warn(why)
        raise NotInstalled(f"Slack app {why}; not sending until it is reinstalled")

    def _warn(self, why: str) -> None:
        """One warning line per uninstall."""
        if self._warned == why:
            return
        self._warned = why
        log.warning(
            "Slack: %s. Not sending anything until the app is installed again; messages stay "
            "in the outbox and nothing is deleted (/healthz shows it).",
            why,
        )

    def _token_works(self) -> bool:
        try:
            self.client.auth_test()
        except SlackApiError as error:
            log.info("auth.test still refused: %s", error.response.get("error"))
            return False
        except OSError as error:
            log.info("auth.test failed: %s", error)
            return False
        return True

    # ------------------------------------------------------------- rendering

    def _as_it_reads_now(self, request: AskExpert) -> AskExpert:
        """The request with the question's current text (the asker may have edited it)."""
        question = self.lc.question(request.question_id)
        if question is None or question.text == request.question:
            return request
        return replace(request, question=question.text)

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
                return self._as_it_reads_now(original)
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
