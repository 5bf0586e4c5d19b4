"""nginx in front of gunicorn (`deploy/nginx/kura.conf`), proved with Debian's nginx on loopback.

gunicorn runs with the repository's configuration (sync workers) against the test database as the runtime role.
1,000 slow clients (half trickling their headers, half their body) hold connections open while ordinary
requests are sent: through nginx they are answered; straight to gunicorn they are not (the control). The
requests are only required to finish within the client's timeout, no timing is asserted. nginx also applies
Kura's body limits and refusals in Kura's error shape, passes the request id through, and serves /static/.

Slow integration tests (a gunicorn, an nginx, a thousand sockets each), but part of the suite.
"""

from __future__ import annotations

import contextlib
import json
import re
import resource
import select
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from django.conf import settings

from apps.patients.models import Patient
from tests.conftest import as_key, issue_key, make_organization
from tests.edge import Answer, chunked, host_and_port, nginx_in_front, raw_request, render_nginx_config
from tests.factories import PatientFactory
from tests.live import ROOT, key_headers, serving

pytestmark = pytest.mark.slow

SLOW_CLIENTS = 1_000
CLIENT_TIMEOUT = 5  # seconds an ordinary client waits for an answer
ORDINARY_ROUNDS = 5


@pytest.fixture(scope="module")
def servers(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A gunicorn trusting the proxy's request id, and nginx in front of it."""
    directory = tmp_path_factory.mktemp("edge")
    with (
        serving(directory, API_KEY_RATE="1000000/min", KURA_TRUST_REQUEST_ID="true") as gunicorn,
        nginx_in_front(gunicorn.url, directory / "nginx") as nginx,
    ):
        yield {"gunicorn": gunicorn.url, "nginx": nginx}


@pytest.fixture
def clinics(committed: None) -> dict[str, Any]:
    """Two clinics, each with one patient and a partner key."""
    data: dict[str, Any] = {}
    for slug in ("org-a", "org-b"):
        org = make_organization(slug)
        key = issue_key(org, phi_access=True)
        with as_key(org, key):
            patient = PatientFactory()
        data[slug] = {"org": org, "key": key, "patient_id": str(patient.pk)}
    return data


class SlowClients:
    """`count` connections that send a request slowly: half trickle their headers, half (complete headers
    announcing a body) their body, one byte per connection every `interval` seconds, until closed."""

    def __init__(self, url: str, count: int, *, interval: float = 1.0) -> None:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < count + 1_024:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 4_096), hard))
        self.interval = interval
        self.stop = threading.Event()
        self.sockets: list[socket.socket] = []
        for index in range(count):
            connection = socket.create_connection(host_and_port(url), timeout=10)
            if index % 2:
                connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
            else:
                connection.sendall(
                    b"POST /api/v1/patients/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 100000\r\n\r\n{"
                )
            connection.setblocking(False)
            self.sockets.append(connection)
        self.trickler = threading.Thread(target=self._trickle, daemon=True)
        self.trickler.start()

    def _trickle(self) -> None:
        while not self.stop.wait(self.interval):
            for connection in self.sockets:
                with contextlib.suppress(OSError):  # closed by the server: `closed_by_server` reports it
                    connection.send(b"a")

    def closed_by_server(self) -> int:
        """How many of the connections the server has closed or answered (readable: an answer or end of file)."""
        closed = 0
        for start in range(0, len(self.sockets), 500):
            readable, _, _ = select.select(self.sockets[start : start + 500], [], [], 0)
            closed += len(readable)
        return closed

    def close(self) -> None:
        self.stop.set()
        self.trickler.join()
        for connection in self.sockets:
            connection.close()


def ordinary_requests(url: str, clinics: dict[str, Any]) -> list[tuple[int, Any]]:
    """/healthz and an authenticated API read, answered within the client's timeout (else Timeout is raised)."""
    answers = []
    with requests.Session() as session:
        for _ in range(ORDINARY_ROUNDS):
            health = session.get(f"{url}/healthz", timeout=CLIENT_TIMEOUT)
            answers.append((health.status_code, health.json()))
            patients = session.get(
                f"{url}/api/v1/patients/", headers=key_headers(clinics["org-a"]["key"]), timeout=CLIENT_TIMEOUT
            )
            answers.append((patients.status_code, [row["id"] for row in patients.json()["results"]]))
    return answers


def test_the_repository_config_keeps_kuras_body_limits() -> None:
    text = render_nginx_config(listen="8080", upstream="127.0.0.1:8000", static_root=ROOT, log_dir=ROOT)
    assert re.findall(r"client_max_body_size (\d+);", text) == [
        str(settings.KURA_MAX_BODY_BYTES),
        str(settings.KURA_MAX_BATCH_BODY_BYTES),
    ]
    assert "proxy_request_buffering on;" in text
    assert "proxy_buffering on;" in text


def test_behind_nginx_1000_slow_clients_do_not_block_other_requests(servers, clinics):
    slow = SlowClients(servers["nginx"], SLOW_CLIENTS)
    try:
        answers = ordinary_requests(servers["nginx"], clinics)
        still_open = SLOW_CLIENTS - slow.closed_by_server()
    finally:
        slow.close()
    # Only org-a's patient: the key's clinic, never org-b's.
    assert answers == [(200, {"status": "ok"}), (200, [clinics["org-a"]["patient_id"]])] * ORDINARY_ROUNDS
    assert still_open == SLOW_CLIENTS  # they were all still trickling while the others were served


def test_without_nginx_1000_slow_clients_block_gunicorn(django_db_setup, clinics, tmp_path: Path):
    """The control: the same slow clients straight to gunicorn's sync workers hold every worker."""
    with serving(tmp_path, API_KEY_RATE="1000000/min") as gunicorn:
        slow = SlowClients(gunicorn.url, SLOW_CLIENTS)
        try:
            with pytest.raises(requests.exceptions.Timeout):
                requests.get(f"{gunicorn.url}/healthz", timeout=CLIENT_TIMEOUT)
            with pytest.raises(requests.exceptions.Timeout):
                requests.get(
                    f"{gunicorn.url}/api/v1/patients/",
                    headers=key_headers(clinics["org-a"]["key"]),
                    timeout=CLIENT_TIMEOUT,
                )
        finally:
            slow.close()
        # Once they are gone, gunicorn serves again (no restart).
        assert requests.get(f"{gunicorn.url}/healthz", timeout=60).status_code == 200


def error_of(answer: Answer) -> dict[str, Any]:
    assert answer.headers["content-type"] == "application/json"
    error = dict(json.loads(answer.body)["error"])
    assert error.pop("request_id") == answer.headers["x-request-id"]
    return error


def test_nginx_refuses_oversized_and_chunked_bodies_as_kura_does(servers, clinics):
    nginx, key = servers["nginx"], clinics["org-a"]["key"]
    api_head = f"POST /api/v1/patients/ HTTP/1.1\r\nHost: localhost\r\nAuthorization: Api-Key {key}"
    over = raw_request(nginx, f"{api_head}\r\nContent-Length: {settings.KURA_MAX_BODY_BYTES + 1}")
    assert over.status == 413
    assert error_of(over) == {"status": 413, "code": "too_large", "message": "The request body is too large."}
    page = raw_request(
        nginx, f"POST /admin/login/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: {settings.KURA_MAX_BODY_BYTES + 1}"
    )
    assert (page.status, page.headers["content-type"]) == (413, "text/plain; charset=utf-8")
    assert page.body == b"The request body is too large.\n"
    body = json.dumps({"mrn": "MRN-9", "given_name": "Ada", "family_name": "L", "date_of_birth": "1980-02-03"})
    streamed = raw_request(
        nginx, f"{api_head}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked", chunked(body.encode())
    )
    assert streamed.status == 411
    assert error_of(streamed)["code"] == "length_required"
    for slug, clinic in clinics.items():
        with as_key(clinic["org"], clinic["key"]):
            assert Patient.objects.count() == 1, slug
    # A bulk endpoint's larger limit holds behind nginx too: read and parsed by Kura (an empty batch is a 400).
    batch = json.dumps({"readings": [], "padding": "x" * settings.KURA_MAX_BODY_BYTES}).encode()
    read = raw_request(
        nginx,
        f"POST /api/v1/biomarkers/readings/ HTTP/1.1\r\nHost: localhost\r\nAuthorization: Api-Key {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(batch)}",
        batch,
    )
    assert read.status == 400
    assert error_of(read)["fields"] == {"readings": ["This list may not be empty."]}


def test_nginx_passes_the_request_id_and_serves_static_files(servers, clinics):
    nginx = servers["nginx"]
    chosen = "0123456789abcdef0123456789abcdef"
    passed = requests.get(f"{nginx}/api/v1/patients/?limit=1", headers={"X-Request-ID": chosen}, timeout=30)
    assert passed.headers["X-Request-ID"] == chosen  # Kura (trusting its proxy) used the client's id
    made = requests.get(f"{nginx}/api/v1/patients/", headers={"X-Request-ID": "not an id"}, timeout=30)
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-ID"])  # nginx's own $request_id
    assert made.json()["error"]["request_id"] == made.headers["X-Request-ID"]
    static = requests.get(f"{nginx}/static/kura/admin.js", timeout=30)
    assert static.status_code == 200
    assert static.content == (ROOT / "static" / "kura" / "admin.js").read_bytes()
