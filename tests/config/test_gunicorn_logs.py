"""gunicorn's own log lines are in Kura's format: gunicorn is started with the committed configuration, serves
a few requests, is stopped, and everything it wrote is read back: every line one JSON object (`KURA_LOG_FORMAT`
json, the default), gunicorn's start, worker boot and exit lines among them, one application request line per
request and no access log of gunicorn's own; with `KURA_LOG_FORMAT=plain`, the plain lines instead."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import issue_key, make_organization
from tests.edge import raw_request
from tests.live import WORKERS, key_headers, serving

pytestmark = pytest.mark.slow


def lines_of(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if line.strip()]


def test_gunicorn_writes_its_own_lines_as_json_and_no_access_log(committed: None, tmp_path: Path) -> None:
    org_a, org_b = make_organization("org-a"), make_organization("org-b")
    key_a, key_b = issue_key(org_a), issue_key(org_b)
    with serving(tmp_path, log_level="info", KURA_LOG_FORMAT="json") as server:
        answered = [
            requests.get(f"{server.url}/api/v1/patients/", headers=key_headers(key_a), timeout=30),
            requests.get(f"{server.url}/api/v1/patients/", headers=key_headers(key_b), timeout=30),
            requests.get(f"{server.url}/api/v1/no-such-endpoint/?search=Ada", headers=key_headers(key_a), timeout=30),
        ]
        # A request line gunicorn refuses itself (the query's UTF-8 not encoded): its error log says so.
        refused = raw_request(server.url, "GET /api/v1/patients/?search=Ad\u00e4 HTTP/1.1\r\nHost: localhost")
    assert [answer.status_code for answer in answered] == [200, 200, 404]
    assert refused.status == 400

    entries: list[dict[str, Any]] = [json.loads(line) for line in lines_of(server.log)]  # every line is JSON
    assert {entry["logger"] for entry in entries} <= {"gunicorn.error", "kura.request", "py.warnings"}
    assert all(set(entry) >= {"time", "level", "logger", "message", "request_id"} for entry in entries)
    messages = [entry["message"] for entry in entries if entry["logger"] == "gunicorn.error"]
    assert any(message.startswith("Starting gunicorn ") for message in messages)
    assert any(message.startswith("Listening at: http://127.0.0.1:") for message in messages)
    assert len([m for m in messages if re.fullmatch(r"Booting worker with pid: \d+", m)]) == WORKERS
    assert len([m for m in messages if re.fullmatch(r"Worker exiting \(pid: \d+\)", m)]) == WORKERS
    assert "Shutting down: Master" in messages
    [invalid] = [entry for entry in entries if "Invalid request" in entry["message"]]
    assert "search" not in invalid["message"]  # no query string in gunicorn's line either

    # The application's line is the one line per request (gunicorn's access log is off).
    requests_logged = [entry for entry in entries if entry["logger"] == "kura.request"]
    assert [(entry["route"], entry["status"], entry["request_id"]) for entry in requests_logged[1:]] == [
        ("patient-list", 200, answered[0].headers["X-Request-ID"]),
        ("patient-list", 200, answered[1].headers["X-Request-ID"]),
        (None, 404, answered[2].headers["X-Request-ID"]),
    ]
    assert (requests_logged[0]["route"], requests_logged[0]["status"]) == ("me", 401)  # the start-up probe
    assert [entry["organization_id"] for entry in requests_logged[1:3]] == [str(org_a.pk), str(org_b.pk)]
    assert "search" not in server.log.read_text()


def test_gunicorn_writes_plain_lines_when_the_log_format_is_plain(django_db_setup: None, tmp_path: Path) -> None:
    with serving(tmp_path, log_level="info", KURA_LOG_FORMAT="plain") as server:
        pass
    lines = lines_of(server.log)
    booted = [line for line in lines if "Booting worker with pid" in line]
    assert len(booted) == WORKERS
    for line in booted:
        assert re.fullmatch(r"\S+ \S+ INFO gunicorn\.error \[-\] Booting worker with pid: \d+", line), line
    assert not any(line.startswith("{") for line in lines)
