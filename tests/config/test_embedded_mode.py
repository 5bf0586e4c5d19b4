"""A web process never starts the embedded PostgreSQL: with the server stopped, the WSGI application's requests
fail and no server is started (`kura.py` and management commands start it)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.live import ROOT

WEB_PROCESS = """
import json
import config.wsgi
from django.db import OperationalError, connection
from django.test import Client

response = Client(raise_request_exception=False).get("/api/v1/me/", HTTP_HOST="localhost")
try:
    connection.ensure_connection()
    outcome = "connected"
except OperationalError as error:
    outcome = type(error.__cause__).__name__
print(json.dumps({"status": response.status_code, "outcome": outcome}))
"""


def test_a_web_process_does_not_start_a_stopped_embedded_server(tmp_path: Path) -> None:
    data_dir = tmp_path / "pgdata"
    env = {name: value for name, value in os.environ.items() if name not in ("DATABASE_URL", "DATABASE_OWNER_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.local",
        KURA_EMBEDDED_DATA_DIR=str(data_dir),
        KURA_LOG_FORMAT="json",
        PYTHONDONTWRITEBYTECODE="1",
    )

    try:
        finished = subprocess.run(
            [sys.executable, "-c", WEB_PROCESS], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
    finally:
        stop_server_started_in(data_dir)

    assert finished.returncode == 0, finished.stderr
    answer = json.loads(finished.stdout.splitlines()[-1])
    # The request fails (a 503 once outages answer one); the connection reports the stopped server.
    assert answer["status"] in (500, 503)
    assert answer["outcome"] == "ServerNotRunningError"
    assert not data_dir.exists()  # no server was made, let alone started


def stop_server_started_in(data_dir: Path) -> None:
    """Should the web process have started a server after all, stop it (fast shutdown) rather than leave it."""
    pid_file = data_dir / "postmaster.pid"
    if pid_file.exists():
        os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)
