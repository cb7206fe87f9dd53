"""Socket Mode with durable intake: Bolt's built-in handler, except that every envelope
is written to the intake table before its acknowledgement goes back over the socket.

An envelope Slack sent but we never acknowledged is redelivered by Slack; one we
acknowledged is on disk. On SIGTERM the handler stops reading, lets the queued jobs finish
for a while, and leaves whatever is still unfinished in the intake table for the next
start.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from typing import Any

from slack_bolt import BoltRequest
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.socket_mode.internals import build_headers, send_response
from slack_sdk.socket_mode.request import SocketModeRequest

from bot.slack.app import SlackBot

log = logging.getLogger(__name__)


class DurableSocketModeHandler(SocketModeHandler):
    """Bolt's SocketModeHandler through `SlackIntake.dispatch`."""

    def __init__(self, bot: SlackBot, app_token: str, **kwargs: Any) -> None:
        super().__init__(bot.app, app_token=app_token, **kwargs)
        self.bot = bot

    def handle(self, client: Any, req: SocketModeRequest) -> None:  # type: ignore[override]
        """Persist the envelope's payload, dispatch it, then acknowledge it."""
        start = time.time()
        request = BoltRequest(mode="socket_mode", body=req.payload, headers=build_headers(req))
        response = self.bot.intake.dispatch(request, json.dumps(req.payload))
        if response.status == 503:
            return  # not written down: no ack, so Slack delivers the envelope again
        send_response(client, req, response, start)


def run_until_terminated(handler: DurableSocketModeHandler, drain_seconds: float = 20) -> None:
    """Connect and serve until SIGTERM or SIGINT; then stop reading new envelopes and
    give the queued jobs `drain_seconds` to finish (the rest are replayed next start)."""
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        log.info("signal %d: stopping Socket Mode", signum)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        handler.connect()
        log.info("whoknows: Socket Mode connected")
        stop.wait()
    finally:
        handler.close()  # no new envelopes; unacknowledged ones are redelivered by Slack
        handler.bot.jobs.stop(drain_seconds)
        left = handler.bot.jobs.waiting()
        if left:
            log.info("%d jobs not finished; they stay in the intake table for the next start", left)
        for sig, old in previous.items():
            signal.signal(sig, old)
