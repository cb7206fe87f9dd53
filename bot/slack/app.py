"""The Slack adapter wired together: Web API client, job queue, Bolt app, deliverer."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient
from slack_sdk.http_retry import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    RetryHandler,
)
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

from bot.runtime import Runtime
from bot.settings import SlackSettings
from bot.slack.deliverer import SlackDeliverer
from bot.slack.intake import SlackIntake
from bot.slack.jobs import Jobs
from bot.slack.listeners import register_listeners
from bot.slack.services import CONTEXT_KEY, Services

log = logging.getLogger(__name__)

SLACK_API = "https://slack.com/api/"


def retry_handlers() -> list[RetryHandler]:
    """How every Slack call is retried: HTTP 429 after its Retry-After (up to 3 times),
    dropped connections and 5xx errors twice with backoff."""
    return [
        RateLimitErrorRetryHandler(max_retry_count=3),
        ConnectionErrorRetryHandler(max_retry_count=2),
        ServerErrorRetryHandler(max_retry_count=2),
    ]


def make_client(settings: SlackSettings, token: str | None = None) -> WebClient:
    """A Web API client for the configured workspace (`api_url` points it elsewhere, e.g.
    at a local double in tests)."""
    base = settings.api_url or SLACK_API
    return WebClient(
        token=settings.bot_token if token is None else token,
        base_url=base if base.endswith("/") else base + "/",
        timeout=15,
        retry_handlers=retry_handlers(),
    )


def _listener_failed(error: Exception, body: dict[str, Any]) -> BoltResponse:
    """A listener raised while answering a verified request. A field missing or of the
    wrong kind is the request's fault: 400 and one line (Slack would resend a 500 for
    ever). Anything else is ours: logged with its traceback, 500, and retried."""
    kind = body.get("type") or body.get("command") or "request"
    if isinstance(error, KeyError | TypeError | ValueError | AttributeError):
        log.warning("refused a Slack %s the listeners cannot read (400): %r", kind, error)
        return BoltResponse(status=400, body="malformed request")
    log.error("listener failed on a Slack %s", kind, exc_info=error)
    return BoltResponse(status=500, body="")


class SlackBot:
    """Everything the Slack adapter runs: Bolt app, services for listeners, job queue and
    the deliverer the core's scheduler sends through."""

    def __init__(
        self,
        runtime: Runtime,
        settings: SlackSettings,
        client: WebClient | None = None,
        socket_mode: bool = False,
        workers: int = 1,
    ) -> None:
        self.runtime = runtime
        self.settings = settings
        self.client = client or make_client(settings)
        self.jobs = Jobs(workers)
        identity = self.client.auth_test()  # checks the token; tells the bot's own user id
        self.services = Services(
            runtime,
            settings,
            self.client,
            self.jobs,
            bot_user_id=identity.get("user_id"),
            auth=identity.data if isinstance(identity.data, dict) else {},
        )
        self.app = App(
            name="whoknows",
            client=self.client,
            signing_secret=settings.signing_secret,
            token_verification_enabled=False,  # auth.test above did it
            # HTTP requests are verified by the server on the raw bytes, before anything
            # parses them (bot.slack.server); Socket Mode has no signatures. Replays of
            # stored requests (bot.slack.intake) must not be checked again either.
            request_verification_enabled=False,
            # Listeners only acknowledge and queue work, so Bolt may answer Slack after they
            # return: the ack then reflects everything the listener decided.
            process_before_response=True,
        )
        self.app.use(self._attach_services)
        self.app.error(_listener_failed)
        register_listeners(self.app)
        self.intake = SlackIntake(self.app, runtime.intake, self.jobs, runtime.clock)
        self.deliverer = SlackDeliverer(self.client, runtime)

    def _attach_services(self, context: Any, next: Callable[[], Any]) -> Any:
        context[CONTEXT_KEY] = self.services
        return next()

    def start(self) -> None:
        """Start the job queue, replay what was accepted but not handled before the last
        stop, and start the core's scheduler (timers and deliveries). Call before
        serving requests, so replayed inputs keep their place in the order."""
        self.jobs.start()
        self.intake.replay()
        self.runtime.start(self.deliverer)

    def stop(self, timeout: float = 30) -> None:
        """Finish queued work (within `timeout`; what is left stays in the intake table
        for the next start) and stop the scheduler."""
        self.jobs.stop(timeout)
        self.runtime.stop()
