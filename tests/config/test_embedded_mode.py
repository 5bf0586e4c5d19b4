"""A web process never starts the embedded PostgreSQL: with the server stopped, loading the WSGI application
stops with one configuration line (it cannot check the keys against the stored data) and no server is started
(`kura.py` and management commands start it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.live import ROOT

WEB_PROCESS = """
import json
import config.wsgi
from django.test import Client

print(json.dumps({"status": Client().get("/api/v1/me/", HTTP_HOST="localhost").status_code}))
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

    assert finished.returncode == 2, finished.stderr
    assert (
        "Kura configuration error: FIELD_ENCRYPTION_KEYS cannot be checked: the database did not answer "
        "(OperationalError); check DATABASE_URL and run manage.py migrate."
    ) in finished.stderr.splitlines()
    assert "Traceback" not in finished.stderr
    assert not data_dir.exists()  # no server was made, let alone started


def stop_server_started_in(data_dir: Path) -> None:
    """Should the web process have started a server after all, stop it (fast shutdown) rather than leave it."""
    pid_file = data_dir / "postmaster.pid"
    if pid_file.exists():
        os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)


WHILE_STARTING = """
from config import embedded_db

embedded_db.never_start()
try:
    embedded_db.address_for_connection()
except embedded_db.ServerNotRunningError:
    print("not running")
"""


def test_a_server_still_writing_its_pid_file_is_not_running_for_a_web_process(tmp_path: Path) -> None:
    # PostgreSQL writes postmaster.pid a line at a time while it starts (and rewrites its status while it stops):
    # a request arriving then must see an unavailable database (503), not an assertion error (500).
    data_dir = tmp_path / "pgdata"
    data_dir.mkdir()
    (data_dir / "postmaster.pid").write_text(f"{os.getpid()}\n{data_dir}\n1796546384\n5432\n")
    env = {**os.environ, "KURA_EMBEDDED_DATA_DIR": str(data_dir), "PYTHONDONTWRITEBYTECODE": "1"}
    finished = subprocess.run(
        [sys.executable, "-c", WHILE_STARTING], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert (finished.returncode, finished.stdout) == (0, "not running\n"), finished.stderr
