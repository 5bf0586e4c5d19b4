"""Twenty requests booking the same slot at once, with real commits: exactly one is booked, the others are told
409, and the database holds one appointment."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connections

from apps.organizations.roles import Scope
from apps.scheduling.models import Appointment
from tests.conftest import api_client, as_tenant, issue_key, make_organization

from .factories import make_clinic, next_weekday

pytestmark = pytest.mark.usefixtures("committed")

THREADS = 20


def test_twenty_concurrent_bookings_of_one_slot_one_wins_the_rest_get_409():
    clinic = make_clinic(make_organization("org-a"))
    make_clinic(make_organization("org-b"))
    raw = issue_key(clinic.org, scopes=[Scope.SCHEDULING_READ, Scope.SCHEDULING_WRITE])
    day = next_weekday(2, zone_name=clinic.zone_name)
    payload = json.dumps(
        {
            "patient_id": str(clinic.patient.pk),
            "provider_id": str(clinic.provider.pk),
            "appointment_type_id": str(clinic.therapy.pk),
            "starts_at": clinic.at(day, 10).isoformat(),
        }
    )
    start = threading.Barrier(THREADS)
    responses: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def book(number: int) -> None:
        client = api_client(raw)
        try:
            start.wait()
            response = client.post(
                "/api/v1/appointments/", payload, content_type="application/json", HTTP_IDEMPOTENCY_KEY=f"race-{number}"
            )
            with lock:
                responses.append((response.status_code, response.json()))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=book, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    statuses = sorted(status for status, _ in responses)
    assert statuses == [201] + [409] * (THREADS - 1)
    conflicts = [body["error"] for status, body in responses if status == 409]
    assert {(e["code"], e["message"]) for e in conflicts} == {
        ("conflict", "The provider already has an appointment at this time.")
    }
    with as_tenant(clinic.org):
        assert Appointment.objects.count() == 1
