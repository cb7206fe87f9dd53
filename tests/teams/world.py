"""The real Teams app (aiohttp + the Agents SDK + whoknows' core) on a loopback port, the
sample org, a hand-moved clock and the Bot Connector double."""

from __future__ import annotations

import json
import shutil
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.lifecycle.clock import ManualClock
from bot.lifecycle.scheduler import TickReport
from bot.runtime import Runtime
from bot.settings import LifecycleSettings, Settings, TeamsSettings
from bot.teams.retry import RetryPolicy
from bot.teams.server import BOT_KEY, DELIVERER_KEY, create_app
from data.models import Person
from data.store import Store
from embeddings.encoder import Encoder
from tests.teams.activities import APP_ID, CHANNEL_ID, TEAM_ID, TENANT
from tests.teams.double import ConnectorDouble, LoopThread, start_site

MONDAY_AFTERNOON = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 10:00 in Boston
# The Bot Connector retries of the tests: the production shape, with short waits.
FAST_RETRIES = RetryPolicy(tries=4, base=0.01, max_wait=2.0, budget=5.0, timeout=30.0)


class TeamsWorld:
    """Everything a Teams test needs, started; `close()` stops it."""

    def __init__(
        self, encoder: Encoder, tmp_path: Path, template: Path, auth: bool = False
    ) -> None:
        self.double = ConnectorDouble().start()
        # The sample team: its General channel (unnamed, as Teams lists it) and #Platform.
        self.double.channels[TEAM_ID] = [{"id": TEAM_ID}, {"id": CHANNEL_ID, "name": "Platform"}]
        self.settings = Settings(
            _env_file=None,
            db_path=tmp_path / "whoknows.db",
            lifecycle=LifecycleSettings(quiet_weekends=False),
            teams=TeamsSettings(
                app_id=APP_ID,
                app_password="double-secret",
                tenant_id=TENANT,
                auth_enabled=auth,
                openid_metadata_url=self.double.openid_url,
                login_url=self.double.login_url,
            ),
        )
        shutil.copyfile(template, self.settings.db_path)  # the indexed sample org
        self.store = Store(self.settings.db_path)
        self.clock = ManualClock(MONDAY_AFTERNOON)
        self.runtime = Runtime(self.settings, clock=self.clock, encoder=encoder, store=self.store)
        self.flow = self.runtime.flow
        self.app = create_app(self.runtime, self.settings)
        self.bot = self.app[BOT_KEY]
        self.bot.client_factory.proactive = FAST_RETRIES
        self.bot.client_factory.in_turn = FAST_RETRIES
        self.deliverer = self.app[DELIVERER_KEY]
        self.scheduler = self.runtime.scheduler(self.deliverer)
        self._server = LoopThread("teams-app")
        self._runner, self.url = self._server.run(start_site(self.app))

    def close(self) -> None:
        self._server.run(self._runner.cleanup())
        self._server.stop()
        self.double.stop()
        self.store.close()

    # ------------------------------------------------------------------ helpers

    @property
    def service_url(self) -> str:
        return self.double.service_url

    def person(self, ref: str) -> Person:
        person = self.store.find_person(ref)
        assert person is not None, ref
        return person

    def post(
        self, activity: dict[str, Any], token: str | None = None, path: str = "/api/messages"
    ) -> tuple[int, Any]:
        """POST an activity to the running app; returns (status, JSON body or None)."""
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(activity).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        return status, (json.loads(raw) if raw.strip() else None)

    def post_raw(
        self, data: bytes, token: str | None = None, content_type: str = "application/json"
    ) -> tuple[int, bytes]:
        """POST raw bytes to /api/messages; returns (status, body bytes)."""
        request = urllib.request.Request(
            self.url + "/api/messages",
            data=data,
            headers={"Content-Type": content_type},
            method="POST",
        )
        if token is not None:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def token(self, **changes: Any) -> str:
        """A Bot Connector token for this app and the double's service URL, signed by the
        double's key; `changes` replace (or, with None, remove) claims."""
        valid = {
            "iss": "https://api.botframework.com",
            "aud": APP_ID,
            "serviceurl": self.service_url,
        }
        return self.double.sign({**valid, **changes})

    def get(self, path: str) -> tuple[int, Any]:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return response.status, json.loads(response.read())

    def run(self) -> TickReport:
        """Fire due timers and deliver the outbox, as the scheduler thread would."""
        return self.scheduler.run_once()

    def advance(self, **delta: float) -> TickReport:
        self.clock.advance(**delta)
        return self.run()

    def asks(self, question_id: int) -> list:
        return self.flow.lc.asks_of_question(question_id)

    def texts(self, calls) -> list[str]:
        """The text of each posted message and of its cards, one string per message."""
        return [message_text(c.body) for c in calls]


def message_text(body: dict[str, Any]) -> str:
    """All the words of a message: its text and every TextBlock/fact of its cards."""
    parts = [body.get("text") or ""]
    for attachment in body.get("attachments") or []:
        parts.append(json.dumps(attachment.get("content"), ensure_ascii=False))
    return "\n".join(parts)


def card_of(body: dict[str, Any]) -> dict[str, Any]:
    """The Adaptive Card of a posted message."""
    attachments = body.get("attachments") or []
    assert attachments, f"no card in {body}"
    assert attachments[0]["contentType"] == "application/vnd.microsoft.card.adaptive"
    return attachments[0]["content"]


def verbs(card: dict[str, Any]) -> list[str]:
    """The verbs of a card's Action.Execute buttons, unfolded ShowCards included."""
    found = []
    for action in card.get("actions") or []:
        if action["type"] == "Action.Execute":
            found.append(action["verb"])
        elif action["type"] == "Action.ShowCard":
            found += verbs(action["card"])
    return found


def action_data(card: dict[str, Any], verb: str) -> dict[str, Any]:
    """The data of the button with `verb`."""
    for action in card.get("actions") or []:
        if action["type"] == "Action.Execute" and action["verb"] == verb:
            return dict(action["data"])
        if action["type"] == "Action.ShowCard":
            try:
                return action_data(action["card"], verb)
            except KeyError:
                continue
    raise KeyError(verb)
