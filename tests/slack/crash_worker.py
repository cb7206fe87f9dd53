"""A real `whoknows serve slack` process for the crash tests: the Slack app over HTTP on a
loopback port, against the Web API double of the test process, routing channel questions
at once (no wait), so a SIGKILL can land anywhere in intake, routing and delivery.

Usage: python -m tests.slack.crash_worker DB API_URL [--socket]
Prints `ready PORT` once it serves (after replaying what an earlier run left unfinished).
With `--socket` it connects to Socket Mode instead (the Web API double names the socket),
prints `ready 0`, and stops gracefully on SIGTERM, giving its queued jobs one second.
"""

from __future__ import annotations

import logging
import socket
import sys
from pathlib import Path

import uvicorn

from bot.runtime import Runtime
from bot.settings import LifecycleSettings, Settings, SlackSettings
from bot.slack.app import SlackBot
from bot.slack.server import create_asgi_app
from bot.slack.socket import DurableSocketModeHandler, run_until_terminated
from tests.slack.double import APP_TOKEN, BOT_TOKEN
from tests.slack.harness import SIGNING_SECRET


def settings_for(db: Path, api_url: str) -> Settings:
    """Questions in channels are routed at once; nobody is ever in quiet hours or capped,
    so every question asks people (and the kill can land during routing)."""
    limits = LifecycleSettings(
        channel_wait_minutes=0,
        quiet_start_hour=0,
        quiet_end_hour=0,
        quiet_weekends=False,
        daily_ask_cap=10_000,
        max_open_asks=10_000,
        tick_seconds=0.2,
        delivery_retry_seconds=1,
    )
    slack = SlackSettings(
        bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET, app_token=APP_TOKEN, api_url=api_url
    )
    return Settings(_env_file=None, db_path=db, lifecycle=limits, slack=slack)


def main_socket(db: Path, api_url: str) -> None:
    """Socket Mode until SIGTERM; then what is queued is left in the intake table."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    settings = settings_for(db, api_url)
    bot = SlackBot(Runtime(settings), settings.slack, socket_mode=True)
    bot.start()
    print("ready 0", flush=True)
    try:
        run_until_terminated(DurableSocketModeHandler(bot, APP_TOKEN), drain_seconds=1)
    finally:
        bot.stop(timeout=1)
    print("stopped", flush=True)


def main(db: Path, api_url: str) -> None:
    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(threadName)s %(name)s %(message)s",
    )
    settings = settings_for(db, api_url)
    bot = SlackBot(Runtime(settings), settings.slack)
    bot.start()  # replays unfinished intake rows before serving
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)  # connections wait in the backlog until uvicorn accepts them
    config = uvicorn.Config(
        create_asgi_app(bot), log_level="warning", lifespan="off", access_log=False
    )
    server = uvicorn.Server(config)
    print(f"ready {sock.getsockname()[1]}", flush=True)
    try:
        server.run(sockets=[sock])
    finally:
        bot.stop()


if __name__ == "__main__":
    if "--socket" in sys.argv[3:]:
        main_socket(Path(sys.argv[1]), sys.argv[2])
    else:
        main(Path(sys.argv[1]), sys.argv[2])
