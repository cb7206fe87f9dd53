"""What every listener needs: the core, the Slack client, the job queue, and the few
adapter rules (who is who, who is an admin, how to tell the actor something).

Bolt hands it to listeners through the request context (`services(context)`), put there by
a middleware in `bot.slack.app`.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.learning.chat import ChatLearner
from bot.lifecycle.flow import FlowError, Outcome
from bot.runtime import Runtime
from bot.settings import SlackSettings
from bot.slack import ids
from bot.slack.jobs import Jobs
from bot.slack.said import workspace_links
from data.models import Person

log = logging.getLogger(__name__)

CONTEXT_KEY = "whoknows"
UNKNOWN_PERSON = (
    "Sorry, I don't know you yet: your Slack account isn't in the whoknows directory. "
    "An admin can add everyone with `whoknows import slack`."
)
SOMETHING_WRONG = "Sorry, something went wrong on my side; please try again in a moment."
MODAL_FAILED = "Sorry, Slack didn't open the form in time; please click again."


@dataclass(frozen=True)
class ReplyTo:
    """How to reach the person who did something: the interaction's response_url (works
    in any conversation, ephemeral), else an ephemeral message in a channel, else a DM."""

    user: str
    response_url: str | None = None
    channel: str | None = None
    thread_ts: str | None = None


class RecentIds:
    """The last few thousand platform event ids seen by this process (a fast path for
    Slack's retries; the core's event table is the durable guard)."""

    def __init__(self, size: int = 10_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def first_sight(self, event_id: str | None) -> bool:
        """True the first time an id is seen (and for None)."""
        if not event_id:
            return True
        with self._lock:
            if event_id in self._ids:
                return False
            self._ids[event_id] = None
            if len(self._ids) > self._size:
                self._ids.popitem(last=False)
            return True


class Services:
    """The adapter's shared state and helpers."""

    def __init__(
        self,
        runtime: Runtime,
        settings: SlackSettings,
        client: WebClient,
        jobs: Jobs,
        bot_user_id: str | None = None,
        auth: Mapping[str, Any] | None = None,
    ) -> None:
        self.runtime = runtime
        self.flow = runtime.flow
        self.accounts = runtime.accounts
        self.settings = settings
        self.client = client
        self.jobs = jobs
        self.bot_user_id = bot_user_id
        self.recent = RecentIds()
        # What people write in channels becomes knowledge (bot.learning.chat).
        links = workspace_links(auth or {})  # auth.test's answer: the workspace's site
        self.learner = ChatLearner(runtime.store, ids.PLATFORM, links)
        # Modals open inside the listener, before the ack goes back: this client never
        # waits out a 429 or a slow Slack (a trigger id is dead after 3 s anyway).
        self.modal_client = WebClient(
            token=client.token, base_url=client.base_url, timeout=2, retry_handlers=[]
        )

    # ---------------------------------------------------------------- people

    def person(self, slack_user_id: str | None) -> Person | None:
        """The directory person behind a Slack user id, if any."""
        return self.accounts.person(slack_user_id) if slack_user_id else None

    def name_of(self, slack_user_id: str) -> str | None:
        """A Slack user's name in the directory (for turning mentions into words)."""
        person = self.person(slack_user_id)
        return person.name if person else None

    def is_admin(self, slack_user_id: str | None) -> bool:
        """Whether a Slack user is one of the configured admins."""
        return bool(slack_user_id) and slack_user_id in self.settings.admin_ids

    # -------------------------------------------------------------- replying

    def open_modal(self, trigger_id: str, view: dict[str, Any], to: ReplyTo) -> None:
        """Open a modal for the interaction `trigger_id` (quickly, or not at all: the
        person is told to try again). Not when replaying an input after a restart: its
        trigger expired long ago, and the person has clicked again if they still want it."""
        if self.jobs.replaying():
            log.info("not reopening %s for %s after a restart", view.get("callback_id"), to.user)
            return
        try:
            self.modal_client.views_open(trigger_id=trigger_id, view=view)
        except (SlackApiError, OSError) as error:
            log.warning("could not open %s for %s: %s", view.get("callback_id"), to.user, error)
            self.jobs.submit("modal failed", self.tell, to, MODAL_FAILED)

    def tell(self, to: ReplyTo, text: str) -> None:
        """Say something to one person only (never fails the caller: errors are logged)."""
        try:
            if to.response_url:
                hook = WebhookClient(to.response_url, retry_handlers=self.client.retry_handlers)
                sent = hook.send(text=text, response_type="ephemeral", replace_original=False)
                if sent.status_code != 200:
                    log.warning("response_url refused a reply: %s %s", sent.status_code, sent.body)
            elif to.channel and not to.channel.startswith("D"):
                self.client.chat_postEphemeral(
                    channel=to.channel, user=to.user, text=text, thread_ts=to.thread_ts
                )
            else:  # a DM: the app's own conversation with the person
                self.client.chat_postMessage(channel=to.user, text=text)
        except (SlackApiError, OSError) as error:
            log.warning("could not tell %s %r: %s", to.user, text[:80], error)

    def run(
        self,
        what: str,
        to: ReplyTo,
        action: Callable[[Person], Any],
        say_ok: bool = False,
        say_refusal: bool = True,
        after: Callable[[Person], None] | None = None,
    ) -> Future:
        """Queue `attempt(...)` to run after the ack; returns its future."""
        return self.jobs.submit(what, self.attempt, what, to, action, say_ok, say_refusal, after)

    def attempt(
        self,
        what: str,
        to: ReplyTo,
        action: Callable[[Person], Any],
        say_ok: bool = False,
        say_refusal: bool = True,
        after: Callable[[Person], None] | None = None,
    ) -> Any:
        """Run `action(person)` for the person behind `to.user`, now.

        An unknown person and a core error (FlowError, or ValueError/KeyError from account
        settings) are told to them; so is a refusal (`Outcome.ok` False) when
        `say_refusal`, and success when `say_ok`. A repeated input (`Outcome.duplicate`)
        says nothing. `after(person)` runs last (e.g. to refresh App Home)."""
        person = self.person(to.user)
        if person is None:
            self.tell(to, UNKNOWN_PERSON)
            return None
        try:
            result = action(person)
        except (FlowError, ValueError, KeyError) as problem:
            self.tell(to, _problem_text(problem))
            result = None
        except Exception:
            log.exception("%s failed for %s", what, to.user)
            self.tell(to, SOMETHING_WRONG)
            return None
        said = isinstance(result, Outcome) and not result.duplicate
        if said and ((not result.ok and say_refusal) or (result.ok and say_ok)):
            self.tell(to, result.message)
        if after is not None:
            try:
                after(person)
            except Exception:
                log.exception("%s: follow-up work failed for %s", what, to.user)
        return result


def services(context: Any) -> Services:
    """The Services a listener runs with (from Bolt's context)."""
    return context[CONTEXT_KEY]


def _problem_text(problem: Exception) -> str:
    text = str(problem.args[0]) if problem.args else str(problem)
    return text.strip("'\"") or SOMETHING_WRONG
