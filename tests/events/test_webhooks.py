"""Webhooks against a real HTTP receiver on loopback: signed, retried with backoff, delivered once per event,
logged, replayable, and disabled with a notice after three days of failures. A clock the test advances stands in
for the passing days."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import itertools
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core import mail
from django.db import connections
from django.test import override_settings
from django.utils import timezone

from apps.biomarkers import services as biomarker_services
from apps.events import services, tasks
from apps.events.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from apps.organizations.models import Organization
from apps.organizations.roles import Role, Scope
from apps.patients import services as patient_services
from apps.patients.models import PHIAccessLog
from tests.biomarkers.factories import depression_reading, reading
from tests.conftest import (
    add_member,
    api_client,
    as_tenant,
    issue_key,
    logged_in,
    make_organization,
    phi_access_log,
)
from tests.worker import run_worker

pytestmark = pytest.mark.usefixtures("committed")

ENDPOINTS = "/api/v1/webhook-endpoints/"
PARTNER_SCOPES = [Scope.EVENTS_READ, Scope.PATIENTS_READ, Scope.WEBHOOKS_READ, Scope.WEBHOOKS_WRITE]
_mrns = itertools.count(1)


def verify(secret: str, header: str, body: bytes, now: float, tolerance: int = 300) -> bool:
    """The README's verification snippet, with the receiver's clock passed in."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"]) and abs(now - timestamp) <= tolerance


class Receiver:
    """An HTTP server on 127.0.0.1 that answers every POST with `status` and keeps what it received."""

    def __init__(self) -> None:
        self.status = 500
        self.received: list[tuple[int, dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((receiver.status, dict(self.headers.items()), body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/kura-hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def _register(client: Any, url: str, event_types: list[str]) -> dict[str, Any]:
    response = client.post(ENDPOINTS, {"url": url, "event_types": event_types}, content_type="application/json")
    assert response.status_code == 201, response.content
    return json.loads(response.content)


def _new_patient(org: Organization) -> Any:
    with as_tenant(org):
        return patient_services.patient_create(
            mrn=f"W-{(n := next(_mrns))}",
            given_name=f"Test {n}",
            family_name="Person",
            date_of_birth=dt.date(1990, 1, 1),
        )


def _deliveries(org: Organization) -> list[WebhookDelivery]:
    with as_tenant(org):
        return list(WebhookDelivery.objects.select_related("event").order_by("event__transaction_id", "event__id"))


def _jobs() -> list[tuple[str, str]]:
    """The jobs the test queued (the every-minute tick aside), with their status."""
    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT task_name, status::text FROM procrastinate_jobs WHERE task_name NOT LIKE %s", ["%_tick"])
        return list(cursor.fetchall())


def _attempt_due(org: Organization, now: dt.datetime) -> list[WebhookAttempt]:
    """What the delivery jobs would do at `now`: attempt every due delivery."""
    attempts = []
    for delivery in _deliveries(org):
        with as_tenant(org):
            attempt = services.webhook_attempt(delivery_id=delivery.pk, now=now)
        if attempt is not None:
            attempts.append(attempt)
    return attempts


def test_a_receiver_that_is_down_then_up_gets_each_event_once_signed(receiver):
    org, other = make_organization("org-a"), make_organization("org-b")
    client = api_client(issue_key(org, scopes=PARTNER_SCOPES))
    endpoint = _register(client, receiver.url, ["patient.created", "patient.changed"])
    first, second = _new_patient(org), _new_patient(org)
    with as_tenant(org):
        patient_services.patient_update(patient=first, city="Porto")
    _new_patient(other)  # another organization's event is never delivered

    # A pass of the job runner's worker: the dispatch job fans the events out and queues one delivery job for
    # each (a second dispatch queues none twice); each delivery job attempts its delivery: the receiver is down.
    now = int(timezone.now().timestamp())
    tasks.webhooks_dispatch.defer(organization_id=str(org.pk), timestamp=now)
    tasks.webhooks_dispatch.defer(organization_id=str(org.pk), timestamp=now)
    run_worker()
    jobs = _jobs()
    assert {status for _name, status in jobs} == {"succeeded"}
    # (the every-minute tick, run by the same pass, may add a dispatch that finds nothing new)
    assert [name for name, _status in jobs].count("apps.events.tasks.webhook_deliver") == 3

    deliveries = _deliveries(org)
    assert [(d.event.event_type, d.status, d.attempt_count) for d in deliveries] == [
        ("patient.created", "pending", 1),
        ("patient.created", "pending", 1),
        ("patient.changed", "pending", 1),
    ]
    assert [status for status, _h, _b in receiver.received] == [500, 500, 500]
    failed_at = max(d.next_attempt_at for d in deliveries) - services.RETRY_FIRST_WAIT
    # Not due yet: nothing is sent.
    assert _attempt_due(org, failed_at + dt.timedelta(seconds=10)) == []

    receiver.status = 200
    retried_at = failed_at + services.RETRY_FIRST_WAIT
    assert len(_attempt_due(org, retried_at)) == 3
    assert _attempt_due(org, retried_at + dt.timedelta(hours=1)) == []  # delivered: never sent again

    delivered = [(h, b) for status, h, b in receiver.received if status == 200]
    event_ids = [headers["Kura-Event-Id"] for headers, _body in delivered]
    assert sorted(event_ids) == sorted(str(d.event.public_id) for d in deliveries)  # each event once
    for headers, body in delivered:
        assert verify(endpoint["secret"], headers["Kura-Signature"], body, now=retried_at.timestamp())
        assert not verify("whsec_wrong", headers["Kura-Signature"], body, now=retried_at.timestamp())
        event = json.loads(body)
        assert event["id"] == headers["Kura-Event-Id"]
        assert event["type"] == headers["Kura-Event-Type"]
    assert {json.loads(b)["subject_id"] for _h, b in delivered} >= {str(first.pk), str(second.pk)}

    # The attempts log: status, time and class of failure, never a body.
    log = json.loads(client.get(f"{ENDPOINTS}{endpoint['id']}/deliveries/").content)["results"]
    assert [
        (d["status"], [(a["status_code"], a["error_class"], a["succeeded"]) for a in d["attempts"]]) for d in log
    ] == [("delivered", [(500, "HTTP 500", False), (200, "", True)])] * 3
    # Replaying a delivered event sends it again, with the same event id.
    replayed = client.post(f"/api/v1/webhook-deliveries/{log[0]['id']}/replay/")
    assert replayed.status_code == 200
    assert len(_attempt_due(org, timezone.now())) == 1
    assert receiver.received[-1][1]["Kura-Event-Id"] == log[0]["event_id"]


def test_an_endpoint_failing_for_three_days_is_disabled_and_its_owner_told(receiver):
    org = make_organization("org-a")
    owner = add_member(org, Role.OWNER, email="owner@clinic-a.example")
    client = api_client(issue_key(org, scopes=PARTNER_SCOPES))
    endpoint = _register(client, receiver.url, ["patient.created"])
    _new_patient(org)
    start = timezone.now()
    with as_tenant(org):
        assert services.webhook_fan_out(now=start) == 1

    now, waits = start, []
    while True:
        attempts = _attempt_due(org, now)
        assert len(attempts) == 1
        (delivery,) = _deliveries(org)
        if delivery.status != "pending":
            break
        waits.append(delivery.next_attempt_at - now)
        now = delivery.next_attempt_at  # the clock jumps to the next retry

    assert delivery.status == "failed"
    assert waits[:4] == [dt.timedelta(seconds=s) for s in (30, 60, 120, 240)]
    assert max(waits) == services.RETRY_LONGEST_WAIT
    assert start + dt.timedelta(days=2, hours=18) < now <= start + services.RETRY_WINDOW
    assert delivery.attempt_count == len(receiver.received) == len(waits) + 1
    with as_tenant(org):
        stored = WebhookEndpoint.objects.get(pk=endpoint["id"])
    assert (stored.is_active, stored.disabled_at, stored.disabled_reason) == (False, now, services.GAVE_UP)
    assert [(m.to, m.subject) for m in mail.outbox] == [
        (["owner@clinic-a.example"], "Kura stopped delivering webhooks to one of your endpoints")
    ]
    assert receiver.url in mail.outbox[0].body
    # The owner sees the flag in the admin, and nothing more is sent while the endpoint is disabled.
    page = logged_in(owner).get("/admin/events/webhookendpoint/")
    assert "were disabled after deliveries kept failing" in page.content.decode()
    _new_patient(org)
    with as_tenant(org):
        assert services.webhook_fan_out(now=now) == 0
    refused = client.post(f"/api/v1/webhook-deliveries/{delivery.pk}/replay/")
    assert refused.status_code == 400
    assert list(json.loads(refused.content)["error"]["fields"]) == ["endpoint"]

    # Fixed and activated again, the given-up delivery is replayed and arrives.
    receiver.status = 204
    resumed = client.patch(f"{ENDPOINTS}{endpoint['id']}/", {"is_active": True}, content_type="application/json")
    assert resumed.status_code == 200
    assert client.post(f"/api/v1/webhook-deliveries/{delivery.pk}/replay/").status_code == 200
    assert [a.succeeded for a in _attempt_due(org, timezone.now())] == [True]
    assert _deliveries(org)[0].status == "delivered"


def test_deliveries_follow_the_registering_keys_phi_access(receiver):
    org = make_organization("org-a")
    patient = _new_patient(org)
    client = api_client(issue_key(org, scopes=[*PARTNER_SCOPES, Scope.BIOMARKERS_READ], phi_access=False))
    _register(client, receiver.url, ["biomarker_batch.stored"])
    with as_tenant(org):
        biomarker_services.biomarker_readings_ingest(readings=[reading(patient.pk), depression_reading(patient.pk)])
    with as_tenant(org):
        assert services.webhook_fan_out(now=timezone.now()) == 1
    assert [(d.event.event_type, d.event.data_classification) for d in _deliveries(org)] == [
        ("biomarker_batch.stored", "GENERAL_WELLNESS")
    ]
    assert len(_attempt_due(org, timezone.now())) == 1
    assert phi_access_log(org) == []  # a wellness event sent is no PHI read


def test_a_phi_event_sent_to_a_key_with_phi_access_is_logged_as_its_read(receiver):
    org = make_organization("org-a")
    patient = _new_patient(org)
    client = api_client(issue_key(org, scopes=[*PARTNER_SCOPES, Scope.BIOMARKERS_READ], phi_access=True))
    _register(client, receiver.url, ["biomarker_batch.stored"])
    with as_tenant(org):
        biomarker_services.biomarker_readings_ingest(readings=[depression_reading(patient.pk)])
    with as_tenant(org):
        assert services.webhook_fan_out(now=timezone.now()) == 1

    receiver.status = 200
    assert [a.succeeded for a in _attempt_due(org, timezone.now())] == [True]

    assert phi_access_log(org) == [(patient.pk, "biomarker_reading", 1, "")]
    with as_tenant(org):
        (entry,) = PHIAccessLog.objects.all()
        assert entry.api_key_id is not None


def test_a_partner_sees_and_changes_only_its_own_endpoints(receiver):
    org = make_organization("org-a")
    mine, theirs = api_client(issue_key(org, scopes=PARTNER_SCOPES)), api_client(issue_key(org, scopes=PARTNER_SCOPES))
    endpoint = _register(mine, receiver.url, ["patient.created"])

    assert [e["id"] for e in json.loads(mine.get(ENDPOINTS).content)["results"]] == [endpoint["id"]]
    assert "secret" not in json.loads(mine.get(f"{ENDPOINTS}{endpoint['id']}/").content)
    assert json.loads(theirs.get(ENDPOINTS).content)["results"] == []
    patch = theirs.patch(f"{ENDPOINTS}{endpoint['id']}/", {"is_active": False}, content_type="application/json")
    assert patch.status_code == 404
    with as_tenant(org):
        assert WebhookEndpoint.objects.get(pk=endpoint["id"]).is_active is True


PRODUCTION = {"KURA_WEBHOOK_HTTPS_ONLY": True, "KURA_WEBHOOK_PUBLIC_ADDRESSES_ONLY": True}


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"url": "http://hooks.example.com/kura"}, "url", "Use an https:// URL."),
        ({"url": "ftp://hooks.example.com/kura"}, "url", "Use an https:// URL."),
        ({"url": "https://127.0.0.1/kura"}, "url", "private, loopback or reserved"),
        ({"url": "https://localhost:8443/kura"}, "url", "private, loopback or reserved"),
        ({"url": "https://10.20.30.40/kura"}, "url", "private, loopback or reserved"),
        ({"url": "https://169.254.169.254/latest"}, "url", "private, loopback or reserved"),
        ({"url": "https://[::1]/kura"}, "url", "private, loopback or reserved"),
        ({"url": "https://[::ffff:192.168.1.9]/kura"}, "url", "private, loopback or reserved"),
        ({"url": "not a url at all"}, "url", "Enter a valid URL."),
        ({"event_types": ["patient.created", "patient.deleted"]}, "event_types", "Unknown event type"),
        ({"event_types": ["assessment.completed"]}, "event_types", "may not read"),  # no timeline:read
        ({"event_types": []}, "event_types", ""),
    ],
)
def test_bad_endpoints_are_a_400_naming_the_field_and_store_nothing(body, field, message):
    org = make_organization("org-a")
    client = api_client(issue_key(org, scopes=PARTNER_SCOPES))
    request = {"url": "https://93.184.215.14/kura", "event_types": ["patient.created"], **body}

    with override_settings(**PRODUCTION):
        response = client.post(ENDPOINTS, request, content_type="application/json")

    error = json.loads(response.content)["error"]
    assert response.status_code == 400
    assert list(error["fields"]) == [field]
    assert message in error["message"]
    if field == "url":
        assert body["url"] not in response.content.decode()
    with as_tenant(org):
        assert WebhookEndpoint.objects.count() == 0


def test_a_public_https_endpoint_is_accepted_in_production_settings():
    org = make_organization("org-a")
    client = api_client(issue_key(org, scopes=PARTNER_SCOPES))

    with override_settings(**PRODUCTION):
        response = client.post(
            ENDPOINTS,
            {"url": "https://93.184.215.14/kura", "event_types": ["patient.created"]},
            content_type="application/json",
        )

    assert response.status_code == 201
    assert json.loads(response.content)["secret"].startswith("whsec_")
    with as_tenant(org):
        assert WebhookEndpoint.objects.get().url == "https://93.184.215.14/kura"


def test_an_address_refused_at_delivery_time_is_a_failed_attempt_not_a_request(receiver):
    """A host may resolve to a private address after it was registered: checked again before each attempt."""
    org = make_organization("org-a")
    _register(api_client(issue_key(org, scopes=PARTNER_SCOPES)), receiver.url, ["patient.created"])
    _new_patient(org)
    now = timezone.now()
    with as_tenant(org):
        services.webhook_fan_out(now=now)

    with override_settings(**PRODUCTION):
        (attempt,) = _attempt_due(org, now)

    assert (attempt.succeeded, attempt.status_code, attempt.error_class) == (False, None, "AddressNotAllowed")
    assert receiver.received == []


def test_unknown_event_ids_in_replay_are_404():
    org = make_organization("org-a")
    client = api_client(issue_key(org, scopes=PARTNER_SCOPES))
    assert client.post(f"/api/v1/webhook-deliveries/{uuid.uuid4()}/replay/").status_code == 404
