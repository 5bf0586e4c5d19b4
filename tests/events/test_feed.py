"""The event feed: commit-safe order under concurrent writers, scopes and PHI access, and bad input."""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import json
import random
import threading
from typing import Any

import pytest
from django.db import connections

from apps.billing import services as billing_services
from apps.biomarkers import services as biomarker_services
from apps.clinical.timeline import services as timeline_services
from apps.events.selectors import FeedPosition
from apps.organizations.models import Organization
from apps.organizations.roles import Role, Scope
from apps.patients import services as patient_services
from tests.biomarkers.factories import depression_reading, reading
from tests.concurrency import owner_connection
from tests.conftest import (
    add_member,
    api_client,
    as_tenant,
    issue_key,
    logged_in,
    make_organization,
    phi_access_log,
)

pytestmark = pytest.mark.usefixtures("committed")

URL = "/api/v1/events/"
WELLNESS_READER_SCOPES = [
    Scope.EVENTS_READ,
    Scope.PATIENTS_READ,
    Scope.TIMELINE_READ,
    Scope.BILLING_READ,
    Scope.BIOMARKERS_READ,
]
_mrns = itertools.count(1)


def _new_patient(org: Organization) -> Any:
    with as_tenant(org):
        return patient_services.patient_create(
            mrn=f"M-{(n := next(_mrns))}",
            given_name=f"Test {n}",
            family_name="Person",
            date_of_birth=dt.date(1990, 1, 1),
        )


def _committed_events(org: Organization) -> list[tuple[str, str, str]]:
    """(public id, type, classification) of the organization's events in feed order, read as the owner role."""
    with owner_connection() as owner:
        rows = owner.execute(
            "SELECT public_id::text, event_type, data_classification FROM events_domainevent "
            "WHERE organization_id = %s ORDER BY transaction_id, id",
            [org.pk],
        ).fetchall()
    return [tuple(row) for row in rows]


def _page(client: Any, cursor: str | None, limit: int = 7, **params: str) -> dict[str, Any]:
    query = {"limit": str(limit), **params}
    if cursor is not None:
        query["after"] = cursor
    response = client.get(URL, query)
    assert response.status_code == 200, response.content
    return json.loads(response.content)


def _write_one(org: Organization, patient: Any, rng: random.Random, step: int) -> None:
    """One real change through a service, in its own transaction; some roll back, some commit late."""
    kind = step % 5
    with as_tenant(org):
        if kind == 0:
            patient_services.patient_create(
                mrn=f"M-{(n := next(_mrns))}",
                given_name=f"New {n}",
                family_name="Person",
                date_of_birth=dt.date(1985, 3, 4),
            )
        elif kind == 1:
            timeline_services.assessment_complete(patient=patient, instrument="phq9", answers=[1] * 8 + [1])
        elif kind == 2:
            billing_services.charge_create(
                patient=patient, transaction_type="retail_product", amount_cents=1200, metadata={"sku": "TEA-1"}
            )
        elif kind == 3:
            biomarker_services.biomarker_readings_ingest(readings=[reading(patient.pk), depression_reading(patient.pk)])
        else:
            patient_services.patient_update(patient=patient, city=f"City {step}")
        # Hold the transaction open a little: transactions commit in another order than they began writing.
        threading.Event().wait(rng.uniform(0, 0.02))
        if rng.random() < 0.1:
            raise RolledBackError


class RolledBackError(Exception):
    pass


def _writer(org: Organization, patient: Any, seed: int, steps: int, errors: list[BaseException]) -> None:
    rng = random.Random(seed)
    try:
        for step in range(steps):
            with contextlib.suppress(RolledBackError):
                _write_one(org, patient, rng, step + seed)
    except BaseException as error:  # reported by the test
        errors.append(error)
    finally:
        connections.close_all()


def test_under_eight_concurrent_writers_every_visible_event_is_read_once_in_order():
    org_a, org_b = make_organization("org-a"), make_organization("org-b")
    patient_a, patient_b = _new_patient(org_a), _new_patient(org_b)
    client = api_client(issue_key(org_a, scopes=WELLNESS_READER_SCOPES, phi_access=False))
    start = _page(client, None)
    assert [event["type"] for event in start["results"]] == ["patient.created"]

    errors: list[BaseException] = []
    writers = [
        threading.Thread(
            target=_writer, args=(org_a if n < 6 else org_b, patient_a if n < 6 else patient_b, n, 25, errors)
        )
        for n in range(8)
    ]
    for writer in writers:
        writer.start()
    seen = [event["id"] for event in start["results"]]
    cursor = start["next_cursor"]
    pages_while_writing = 0
    while any(writer.is_alive() for writer in writers):
        page = _page(client, cursor)
        seen += [event["id"] for event in page["results"]]
        cursor = page["next_cursor"]
        pages_while_writing += 1
    for writer in writers:
        writer.join()
    assert errors == []
    while True:
        page = _page(client, cursor)
        seen += [event["id"] for event in page["results"]]
        cursor = page["next_cursor"]
        if not page["results"]:
            break

    committed_a = _committed_events(org_a)
    expected = [public_id for public_id, _type, classification in committed_a if classification == "GENERAL_WELLNESS"]
    assert seen == expected  # each visible event once, in feed order
    assert len(set(seen)) == len(seen)
    assert pages_while_writing > 1
    # The run did write what the key must not see: PHI events of its organization, and org B's events.
    assert {t for _id, t, c in committed_a if c == "CLINICAL_PHI"} == {
        "assessment.completed",
        "flag.raised",
        "biomarker_batch.stored",
    }
    assert len(_committed_events(org_b)) > 40
    assert not set(seen) & {public_id for public_id, _t, _c in _committed_events(org_b)}


def test_a_transaction_that_began_writing_first_but_commits_last_is_not_skipped():
    """A plain sequence would serve the later writer's event and move the cursor past the earlier one's."""
    org = make_organization("org-a")
    client = api_client(issue_key(org, scopes=[Scope.EVENTS_READ, Scope.PATIENTS_READ]))
    cursor = _page(client, None)["next_cursor"]
    written, release = threading.Event(), threading.Event()

    def slow_writer() -> None:
        try:
            with as_tenant(org):
                patient_services.patient_create(
                    mrn="SLOW", given_name="Slow", family_name="Writer", date_of_birth=dt.date(1990, 1, 1)
                )
                written.set()
                release.wait(20)
        finally:
            connections.close_all()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert written.wait(20)
    fast = _new_patient(org)  # commits while the slow writer's transaction is still open

    held_back = _page(client, cursor)
    release.set()
    thread.join()
    after_commit = _page(client, held_back["next_cursor"])

    assert held_back["results"] == []
    assert held_back["next_cursor"] == cursor
    assert [(e["type"], e["subject_id"] == str(fast.pk)) for e in after_commit["results"]] == [
        ("patient.created", False),
        ("patient.created", True),
    ]


def test_a_key_sees_only_the_types_its_scopes_read_and_phi_only_with_phi_access():
    org = make_organization("org-a")
    patient = _new_patient(org)
    with as_tenant(org):
        timeline_services.assessment_complete(patient=patient, instrument="gad7", answers=[1] * 7)
        billing_services.charge_create(
            patient=patient, transaction_type="retail_product", amount_cents=900, metadata={"sku": "MAT-1"}
        )

    def types(scopes: list[str], phi: bool, **params: str) -> list[str]:
        client = api_client(issue_key(org, scopes=scopes, phi_access=phi))
        return [event["type"] for event in _page(client, None, limit=50, **params)["results"]]

    everything = [*WELLNESS_READER_SCOPES]
    assert types(everything, phi=True) == ["patient.created", "assessment.completed", "ledger_entry.created"]
    # The PHI event says which patient took an assessment: a logged read of that patient's assessments.
    assert phi_access_log(org) == [(patient.pk, "assessment", 1, URL)]
    assert types(everything, phi=False) == ["patient.created", "ledger_entry.created"]
    assert len(phi_access_log(org)) == 1
    assert types([Scope.EVENTS_READ, Scope.PATIENTS_READ], phi=True) == ["patient.created"]
    assert types(everything, phi=True, types="assessment.completed,ledger_entry.created") == [
        "assessment.completed",
        "ledger_entry.created",
    ]
    # Without events:read the feed is closed, whatever else the key reads.
    no_feed = api_client(issue_key(org, scopes=[Scope.PATIENTS_READ], phi_access=True))
    assert no_feed.get(URL).status_code == 403
    # Staff: the coach sees the patient event only; the owner sees all three.
    coach, owner = add_member(org, Role.COACH), add_member(org, Role.OWNER)
    assert [e["type"] for e in json.loads(logged_in(coach).get(URL).content)["results"]] == ["patient.created"]
    assert len(json.loads(logged_in(owner).get(URL).content)["results"]) == 3


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"after": "not-a-cursor"}, "after"),
        ({"after": FeedPosition(1, 2).encode() + "!"}, "after"),
        ({"after": "MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMi4x"}, "after"),  # 22 digits: beyond a transaction id
        ({"types": "patient.created,patient.deleted"}, "types"),
        ({"limit": "9999"}, "limit"),
    ],
)
def test_bad_feed_parameters_are_a_400_naming_the_parameter(params, field):
    org = make_organization("org-a")
    client = api_client(issue_key(org, scopes=[Scope.EVENTS_READ, Scope.PATIENTS_READ]))

    response = client.get(URL, params)

    body = json.loads(response.content)
    assert response.status_code == 400
    assert list(body["error"]["fields"]) == [field]
    assert next(iter(params.values())) not in response.content.decode()  # the value is never echoed
