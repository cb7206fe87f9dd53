"""`whoknows serve teams` as a process: it refuses to run without credentials while auth is
on, and otherwise serves /healthz and rejects unauthenticated activities."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from data.store import Store
from tests.teams.activities import APP_ID

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment(tmp_path: Path, **teams: str) -> dict[str, str]:
    """The server's environment, with an (empty) whoknows database to serve."""
    Store(tmp_path / "serve.db").close()  # `serve` refuses a missing database
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHOKNOWS_")}
    env["WHOKNOWS_DB_PATH"] = str(tmp_path / "serve.db")
    env["PYTHONPATH"] = str(ROOT)
    for key, value in teams.items():
        env[f"WHOKNOWS_TEAMS__{key.upper()}"] = value
    return env


def serve(tmp_path: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve", "teams"],
        cwd=tmp_path,  # no .env is read
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_serving_with_auth_on_needs_credentials(tmp_path):
    process = serve(tmp_path, environment(tmp_path))
    output, _ = process.communicate(timeout=120)
    assert process.returncode != 0
    assert "WHOKNOWS_TEAMS__APP_ID" in output


def test_serve_teams_answers_health_checks_and_rejects_anonymous_activities(tmp_path):
    port = free_port()
    env = environment(
        tmp_path,
        app_id=APP_ID,
        app_password="secret",
        port=str(port),
        openid_metadata_url="http://127.0.0.1:9/none",
        login_url="http://127.0.0.1:9",
    )
    process = serve(tmp_path, env)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert json.loads(r.read()) == {"ok": True}
                    break
            except (urllib.error.URLError, ConnectionError):
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.5)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/messages",
            data=json.dumps({"type": "message", "conversation": {"id": "x"}}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            urllib.request.urlopen(request, timeout=10)
            raise AssertionError("an activity without a token was accepted")
        except urllib.error.HTTPError as error:
            assert error.code == 401
    finally:
        process.terminate()
        process.wait(timeout=60)
