"""Slack inputs made durable: written to the intake table before Bolt acknowledges them,
replayed on the next start if the process died before handling them.

Both transports go through `SlackIntake.dispatch`: HTTP (`bot.slack.server`, after the
signature check on the raw bytes) and Socket Mode (`bot.slack.socket`). The row is
written, then Bolt runs the listeners, which acknowledge and queue jobs tied to the row
(`Jobs.for_input`); the row is marked done when the last of those jobs has finished.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse

from bot.lifecycle.clock import Clock
from bot.slack.jobs import Jobs
from data.intake_store import IntakeBusy, IntakeStore

log = logging.getLogger(__name__)

PLATFORM = "slack"
# Requests that only check the endpoint: nothing to keep.
_NOTHING_TO_KEEP = frozenset({"url_verification", "ssl_check"})


def dedup_key(body: dict[str, Any]) -> str | None:
    """The platform's own id for a request, so a redelivery is recognised: the event id
    of an Events API callback, else the trigger id of an interaction or slash command."""
    if body.get("event_id"):
        return f"event:{body['event_id']}"
    if body.get("trigger_id"):
        return f"trigger:{body['trigger_id']}"
    return None


class SlackIntake:
    """Writes each request down before it is acknowledged, and replays the unfinished."""

    def __init__(self, app: App, store: IntakeStore, jobs: Jobs, clock: Clock) -> None:
        self.app = app
        self.store = store
        self.jobs = jobs
        self.clock = clock
        jobs.on_settled = self._settled

    def dispatch(self, request: BoltRequest, raw: str) -> BoltResponse:
        """Persist `request` (its body as received: `raw`), then let Bolt handle it.

        A redelivery of a request already accepted is acknowledged without running the
        listeners again. If the database cannot take the row, the request is refused with
        503 (Slack retries it) rather than acknowledged and lost."""
        body = request.body if isinstance(request.body, dict) else {}
        if body.get("type") in _NOTHING_TO_KEEP:
            return self.app.dispatch(request)
        meta = {"mode": request.mode, "content_type": _content_type(request)}
        try:
            intake_id = self.store.accept(PLATFORM, dedup_key(body), raw, meta, self.clock.now())
        except IntakeBusy as problem:
            log.warning("could not write a Slack request down, refused it (503): %s", problem)
            return BoltResponse(status=503, body="busy, try again")
        if intake_id is None:
            return BoltResponse(status=200, body="")  # accepted before: Slack's retry
        return self._run(intake_id, request, replay=False)

    def replay(self) -> int:
        """Hand every input accepted but never handled (a crash, a kill) to Bolt again,
        oldest first; returns how many. Call before new requests are served."""
        rows = self.store.unfinished(PLATFORM)
        for row in rows:
            request = _request_of(row.body, row.meta)
            if request is None:
                log.warning("intake row %d cannot be read back; marked failed", row.id)
                self.store.fail(row.id, "unreadable body", self.clock.now())
                continue
            self._run(row.id, request, replay=True)
        if rows:
            log.info("replayed %d Slack inputs accepted before the last stop", len(rows))
        return len(rows)

    def _run(self, intake_id: int, request: BoltRequest, replay: bool) -> BoltResponse:
        self.store.started(intake_id)
        with self.jobs.for_input(intake_id, replay=replay) as entry:
            response = self.app.dispatch(request)
            if response.status >= 500:  # a listener failed: Slack retries, we run it again
                entry.error = f"listener failed (HTTP {response.status})"
        return response

    def _settled(self, intake_id: int, error: str | None) -> None:
        if error is None:
            self.store.finish(intake_id, self.clock.now())
        else:
            self.store.fail(intake_id, error, self.clock.now())


def _content_type(request: BoltRequest) -> str:
    values = request.headers.get("content-type") or [""]
    return values[0] if isinstance(values, list | tuple) else str(values)


def _request_of(body: str, meta: dict[str, Any]) -> BoltRequest | None:
    """A Bolt request rebuilt from an intake row (no signature: it was checked when the
    row was written)."""
    mode = meta.get("mode", "http")
    try:
        if mode == "socket_mode":
            payload = json.loads(body)
            if not isinstance(payload, dict):
                return None
            return BoltRequest(body=payload, mode="socket_mode")
        headers = {"content-type": [meta.get("content_type") or "application/json"]}
        return BoltRequest(body=body, headers=headers)
    except (ValueError, TypeError):
        return None
