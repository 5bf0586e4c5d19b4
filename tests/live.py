"""The app served by a real WSGI server (gunicorn) for the fuzzing and isolation-under-load tests.

`gunicorn_server` starts gunicorn once per test session with Kura's gunicorn configuration, two sync workers and
persistent database connections (CONN_MAX_AGE), against this session's test database and as the runtime role,
like production. `throttled_gunicorn_server` is the same with a small per-key rate limit.
Tests that talk to it must commit their data first (use the `committed` fixture): the server's workers see
only what another connection has committed.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db import connections
from django.middleware.csrf import get_token
from django.test import RequestFactory

from tests.logins import fully_logged_in

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 2
STARTUP_SECONDS = 60


@dataclass(frozen=True)
class LiveServer:
    url: str
    log: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_serving(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/api/v1/me/", timeout=5):  # noqa: S310 - our own local server
                return
        except urllib.error.HTTPError:
            return  # any HTTP answer (here 401/403) means a worker is serving
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer within {STARTUP_SECONDS}s:\n{log.read_text()}")


@contextmanager
def serving(
    directory: Path, *, workers: int = WORKERS, log_level: str = "warning", **environment: str
) -> Iterator[LiveServer]:
    """gunicorn with Kura's configuration (`config/gunicorn.conf.py`) on a free port, its environment completed
    by `environment` (e.g. DATABASE_URL to reach the test database another way); its output (the application's
    request lines and gunicorn's error log at `log_level`) in `LiveServer.log`."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = directory / "gunicorn.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.live_settings",
        "KURA_LIVE_DATABASE_NAME": connections["default"].settings_dict["NAME"],
        "CONN_MAX_AGE": "600",
        "PYTHONDONTWRITEBYTECODE": "1",
        **environment,
    }
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config=config/gunicorn.conf.py",
        f"--workers={workers}",
        f"--bind=127.0.0.1:{port}",
        "--timeout=120",
        "--graceful-timeout=10",
        f"--log-level={log_level}",
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        _wait_until_serving(url, process, log)
        yield LiveServer(url=url, log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def gunicorn_server(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # The load test sends thousands of requests per key; throttling has its own server below.
    with serving(tmp_path_factory.mktemp("gunicorn"), API_KEY_RATE="1000000/min") as server:
        yield server


THROTTLED_RATE = 20


@pytest.fixture(scope="session")
def throttled_gunicorn_server(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The same, with partner keys limited to `THROTTLED_RATE` requests a minute."""
    with serving(tmp_path_factory.mktemp("gunicorn-throttled"), API_KEY_RATE=f"{THROTTLED_RATE}/min") as server:
        yield server


def session_headers(user: Any) -> dict[str, str]:
    """Headers that make the live server see `user` logged in, with a CSRF token for unsafe methods.

    The session is created (and committed) through Django's own login, as the admin login page would, and has
    passed the second factor.
    """
    client = fully_logged_in(user)
    request = RequestFactory().get("/")
    get_token(request)
    csrf = request.META["CSRF_COOKIE"]  # the secret itself is a valid token too
    return {
        "Cookie": f"sessionid={client.cookies['sessionid'].value}; csrftoken={csrf}",
        "X-CSRFToken": csrf,
    }


def key_headers(raw_key: str) -> dict[str, str]:
    return {"Authorization": f"Api-Key {raw_key}"}
