"""Socket Mode smoke test: the same app behind Bolt's built-in SocketModeHandler, connected
to a local WebSocket double that speaks Socket Mode's envelopes (hello, events_api,
slash_commands, acknowledgements by envelope_id)."""

from __future__ import annotations

from pathlib import Path

from bot.slack.app import SlackBot, make_client
from bot.slack.socket import DurableSocketModeHandler
from embeddings.encoder import Encoder
from tests.slack.double import APP_TOKEN, BOT_USER, TEAM, SocketModeDouble
from tests.slack.harness import CHANNEL, SlackWorld, event_callback

OOM = "Our pods keep getting OOM killed in Kubernetes after the deploy. Who can help?"


def test_socket_mode_acks_envelopes_and_routes_questions(
    tmp_path: Path, sample_db: Path, encoder: Encoder
) -> None:
    world = SlackWorld(tmp_path, sample_db, encoder)
    try:
        with SocketModeDouble() as socket:
            world.double.socket_url = socket.url
            settings = world.settings.slack.model_copy(update={"app_token": APP_TOKEN})
            bot = SlackBot(world.runtime, settings, make_client(settings), socket_mode=True)
            bot.jobs.start()
            handler = DurableSocketModeHandler(bot, app_token=APP_TOKEN)
            handler.connect()
            try:
                socket.wait_connected()
                assert world.double.calls_to("apps.connections.open")
                asker = world.slack_id("sofia.lindqvist")
                message = world.double.post_as_user(CHANNEL, asker, f"<@{BOT_USER}> {OOM}")
                event = {
                    "type": "app_mention",
                    "user": asker,
                    "text": f"<@{BOT_USER}> {OOM}",
                    "ts": message["ts"],
                    "channel": CHANNEL,
                    "event_ts": message["ts"],
                }
                envelope = socket.send("events_api", event_callback(event, "EvSOCKET01"))
                assert socket.wait_ack(envelope) == {"envelope_id": envelope}
                # A redelivery of the same event (retry_attempt 1) is acknowledged, not re-asked.
                again = socket.send("events_api", event_callback(event, "EvSOCKET01"), 1)
                socket.wait_ack(again)

                command = {
                    "token": "x",
                    "team_id": TEAM,
                    "channel_id": CHANNEL,
                    "user_id": asker,
                    "command": "/ask",
                    "text": "Who approves travel expenses over 500 euros?",
                    "response_url": world.double.response_url(),
                    "trigger_id": "1.2.socket",
                }
                ack = socket.wait_ack(socket.send("slash_commands", command))
                assert "looking for someone" in ack["payload"]["text"]
                assert bot.jobs.join(60)
                questions = world.runtime.flow.lc.questions()
                assert sorted(q.origin for q in questions) == ["ask", "mention"]
                assert all(q.state == "routing" for q in questions)
            finally:
                handler.close()
                bot.jobs.stop()
    finally:
        world.close()
