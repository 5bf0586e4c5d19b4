"""Logs carry no patient value: requests with a canary patient name (registration, searches, bad input, database
errors) are sent to gunicorn (Kura's configuration, request lines on) and to the development server, and the canary
appears nowhere in what they logged.
"""

from __future__ import annotations

import io
import json
import logging
import os
import random
import socket
import string
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from django.db import DatabaseError, connection, transaction

from apps.organizations.roles import Role
from config.log_filters import strip_query_strings
from tests.conftest import as_tenant, issue_key, make_organization
from tests.factories import PatientFactory
from tests.live import ROOT, LiveServer, _free_port, _wait_until_serving, key_headers

# Letters only, so it is a valid name; random, so no other test's output can contain it by chance.
CANARY = "Qz" + "".join(random.choices(string.ascii_lowercase, k=12)).capitalize()


def send_canary_requests(url: str, headers: dict[str, str]) -> list[int]:
    """Requests a clinic's integration could send, each carrying the canary; returns their status codes."""
    api = f"{url}/api/v1"
    patient = {"mrn": "CANARY-1", "given_name": CANARY, "family_name": CANARY, "date_of_birth": "1980-02-03"}
    codes = []
    with requests.Session() as session:
        session.headers.update(headers)
        created = session.post(f"{api}/patients/", json=patient, timeout=60)
        codes.append(created.status_code)
        patient_id = created.json().get("id", "00000000-0000-0000-0000-000000000000")
        for params in ({"search": CANARY}, {"status": CANARY}, {"date_of_birth": CANARY}):
            codes.append(session.get(f"{api}/patients/", params=params, timeout=60).status_code)
        # The same MRN again (the database's unique constraint), and a birth date that is the canary.
        codes.append(session.post(f"{api}/patients/", json=patient, timeout=60).status_code)
        bad_birth_date = {**patient, "mrn": "CANARY-2", "date_of_birth": CANARY}
        codes.append(session.post(f"{api}/patients/", json=bad_birth_date, timeout=60).status_code)
        # Free text the database cannot store: a lone surrogate after the canary in a note, and NaN and a
        # 400-digit number after it in a reading's payload (PostgreSQL quotes the JSON up to the bad token).
        note = {"event_type": "mood", "event_subtype": "daily_checkin"}
        note["event_data"] = {"mood": "calm", "confidence": 6, "note": f"{CANARY} \ud800"}  # type: ignore[assignment]
        codes.append(session.post(f"{api}/patients/{patient_id}/health-events/", json=note, timeout=60).status_code)
        reading = {
            "patient_id": patient_id,
            "source": "apple_health_kit",
            "source_reading_id": f"r-{CANARY}",
            "metric_type": "steps",
            "value_numeric": 6500.0,
            "unit": "count",
            "captured_at": "2024-03-10T08:00:00+00:00",
        }
        for bad_number in ("NaN", "1" * 400):
            body = json.dumps({"readings": [{**reading, "raw_payload": {"note": CANARY, "x": 0}}]})
            body = body.replace('"x": 0', f'"x": {bad_number}')
            codes.append(
                session.post(
                    f"{api}/biomarkers/readings/",
                    data=body,
                    headers={"Content-Type": "application/json"},
                    timeout=60,
                ).status_code
            )
    codes.append(send_raw_request_line(url, f"GET /api/v1/patients/?search={CANARY}\u00fc HTTP/1.1"))
    return codes


def send_raw_request_line(url: str, line: str) -> int:
    """A request line as a naive client sends it: the query's UTF-8 not percent-encoded (an HTTP server refuses
    it, and says so in its error log). Returns the status code."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as connection_:
        connection_.sendall(line.encode() + b"\r\nHost: " + host.encode() + b"\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := connection_.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1])


@pytest.fixture
def partner_key() -> str:
    return issue_key(make_organization("org-a"), phi_access=True)


def wait_for_log(log: Path, text: str) -> str:
    """The log once `text` shows up in it (servers write asynchronously), or as it is after 10 seconds."""
    deadline = time.monotonic() + 10
    content = log.read_text(errors="replace")
    while text not in content and time.monotonic() < deadline:
        time.sleep(0.2)
        content = log.read_text(errors="replace")
    return content


@pytest.mark.usefixtures("committed")
def test_gunicorn_logs_no_patient_value(gunicorn_server: LiveServer, partner_key: str) -> None:
    codes = send_canary_requests(gunicorn_server.url, key_headers(partner_key))

    log = wait_for_log(gunicorn_server.log, '"message": "GET patient-list 400 ')
    assert codes[0] == 201
    assert '"message": "POST patient-list 201 ' in log  # one line per request: the application's
    assert '"message": "GET patient-list 200 ' in log
    assert CANARY not in log
    assert CANARY.lower() not in log.lower()


@pytest.fixture
def development_server(django_db_setup: None, tmp_path: Path) -> Iterator[LiveServer]:
    """`manage.py runserver` (its `django.server` request log included) on the test database."""
    port = _free_port()
    log = tmp_path / "runserver.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.live_settings",
        "KURA_LIVE_DATABASE_NAME": connection.settings_dict["NAME"],
        "API_KEY_RATE": "1000000/min",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    command = [sys.executable, "manage.py", "runserver", "--noreload", "--skip-checks", f"127.0.0.1:{port}"]
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        _wait_until_serving(f"http://127.0.0.1:{port}", process, log)
        yield LiveServer(url=f"http://127.0.0.1:{port}", log=log)
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.usefixtures("committed")
def test_the_development_server_logs_no_patient_value(development_server: LiveServer, partner_key: str) -> None:
    codes = send_canary_requests(development_server.url, key_headers(partner_key))

    log = wait_for_log(development_server.log, '"GET /api/v1/patients/ HTTP/1.1" 400')
    assert codes[0] == 201
    assert '"GET /api/v1/patients/ HTTP/1.1" 200' in log  # request lines are logged, without query strings
    assert CANARY not in log
    assert CANARY.lower() not in log.lower()


@pytest.fixture
def console_output() -> Iterator[io.StringIO]:
    """What the configured `console` handler (the root's, which Django's loggers propagate to) writes."""
    handler = next(h for h in logging.getLogger().handlers if h.name == "console")
    assert isinstance(handler, logging.StreamHandler)
    output = io.StringIO()
    previous = handler.setStream(output)
    yield output
    handler.setStream(previous)


def test_a_database_error_is_logged_by_sqlstate_and_constraint_never_its_detail(
    org_a: Any, console_output: io.StringIO
) -> None:
    with as_tenant(org_a, Role.OWNER):
        patient = PatientFactory(given_name=CANARY, mrn="CANARY-3")
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                # The row's CHECK constraint fails: PostgreSQL's DETAIL quotes the whole row, canary included.
                cursor.execute(
                    "UPDATE patients_patient SET date_of_birth = '1800-01-01', family_name = %s WHERE id = %s",
                    [CANARY, patient.pk],
                )
        except DatabaseError:
            logging.getLogger("django.request").exception("Internal Server Error: %s", "/api/v1/patients/")

    logged = console_output.getvalue()
    assert "Failing row" not in logged
    assert CANARY not in logged
    assert "django.db.utils.IntegrityError (SQLSTATE 23514 CheckViolation, constraint " in logged
    assert "patient_birth_date_plausible, table patients_patient)" in logged
    assert "Traceback (most recent call last):" in logged
    assert "The above exception was the direct cause of the following exception:" in logged


def test_any_other_exception_is_logged_by_type_and_traceback_without_its_message(console_output) -> None:
    try:
        int(CANARY)
    except ValueError:
        logging.getLogger("django.request").exception("Internal Server Error: %s", "/api/v1/patients/")

    logged = console_output.getvalue()
    assert CANARY not in logged
    assert "builtins.ValueError (message withheld)" in logged
    assert "int(CANARY)" in logged  # the traceback's code line names the variable, never its value


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('"GET /api/v1/patients/?search=Ada HTTP/1.1" 200 52', '"GET /api/v1/patients/ HTTP/1.1" 200 52'),
        ("Not Found: /admin/?q=Ada&o=1", "Not Found: /admin/"),
        ("Is it done? Yes.", "Is it done? Yes."),
    ],
)
def test_query_strings_are_stripped_from_logged_lines(line: str, expected: str) -> None:
    assert strip_query_strings(line) == expected
