"""The isolation-under-load scenario, run against a served app: threads send interleaved requests for two
organizations and two roles, then `check` shows

* every list a request got back held only its own organization's rows;
* the coach's lists held no CLINICAL_PHI row;
* concurrent writes (patients, vitals) all landed, each in its own organization: count after = count before +
  successes.

No timing is asserted. The server's database connections are shared by requests of both organizations and both
roles, which is exactly what must not leak a tenant context. `tests/load` runs it against gunicorn on the
database itself; the pooler tests run it through PgBouncer in transaction mode.
"""

from __future__ import annotations

import itertools
import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests

from apps.clinical.models import ClinicalEvent, Vital
from apps.organizations.roles import DataClassification, Role
from apps.patients.models import Patient
from tests.conftest import add_member, as_tenant, make_organization
from tests.factories import ClinicalEventFactory, PatientFactory
from tests.live import LiveServer, session_headers

WRITES = ("create", "vital")
PATIENTS_PER_ORG = 4


@dataclass
class Outcome:
    """What the threads saw, checked after the run (assertions in worker threads would be lost)."""

    reads: list[tuple[str, str, str, list[dict[str, Any]]]] = field(default_factory=list)
    created: dict[str, list[str]] = field(default_factory=lambda: {"a": [], "b": []})
    vitals: dict[str, list[str]] = field(default_factory=lambda: {"a": [], "b": []})
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def make_clinics() -> dict[str, Any]:
    """Two organizations with patients, PHI and wellness events, and a logged-in clinician and coach each."""
    data: dict[str, Any] = {}
    for name in ("a", "b"):
        org = make_organization(f"org-{name}")
        with as_tenant(org):
            patients = [PatientFactory() for _ in range(PATIENTS_PER_ORG)]
            for patient in patients:
                ClinicalEventFactory(patient=patient, event_name=f"phi {name}")
                ClinicalEventFactory(
                    patient=patient,
                    event_name=f"wellness {name}",
                    data_classification=DataClassification.GENERAL_WELLNESS,
                )
        data[name] = {
            "org": org,
            "patient_ids": [str(patient.pk) for patient in patients],
            "headers": {
                Role.CLINICIAN: session_headers(add_member(org, Role.CLINICIAN)),
                Role.COACH: session_headers(add_member(org, Role.COACH)),
            },
        }
    return data


def org_rows(org: Any) -> tuple[set[str], set[str], set[str]]:
    """Patient ids, clinical event ids and PHI event ids of one organization, read in its own context."""
    with as_tenant(org):
        patients = {str(pk) for pk in Patient.objects.values_list("pk", flat=True)}
        events = {str(pk) for pk in ClinicalEvent.objects.values_list("pk", flat=True)}
        phi = {
            str(pk)
            for pk in ClinicalEvent.objects.filter(data_classification=DataClassification.CLINICAL_PHI).values_list(
                "pk", flat=True
            )
        }
    return patients, events, phi


def write_counts(org: Any) -> tuple[int, int]:
    """Patients and vitals of one organization."""
    with as_tenant(org):
        return Patient.objects.count(), Vital.objects.count()


def plan(total: int) -> list[tuple[str, str, str]]:
    """(organization, role, operation) for `total` requests, interleaved in a fixed pseudo-random order."""
    steps = [
        *itertools.product("ab", [Role.CLINICIAN, Role.COACH], ["events"]),
        *itertools.product("ab", [Role.CLINICIAN], ["patients", "create", "vital"]),
    ]
    rng = random.Random(7)
    return [rng.choice(steps) for _ in range(total)]


def run_thread(
    server: LiveServer, clinics: dict[str, Any], steps: list[tuple[str, str, str]], thread: int, outcome: Outcome
) -> None:
    session = requests.Session()
    for number, (name, role, operation) in enumerate(steps):
        headers = clinics[name]["headers"][role]
        if operation == "create":
            body = {
                "mrn": f"L{thread}-{number}-{name}",
                # One person per registration: the same name and birth date again would be asked to confirm.
                "given_name": f"Load {thread}-{number}",
                "family_name": "Test",
                "date_of_birth": "1980-05-17",
            }
            response = session.post(f"{server.url}/api/v1/patients/", json=body, headers=headers, timeout=60)
            with outcome.lock:
                outcome.statuses[(operation, response.status_code)] += 1
                if response.status_code == 201:
                    outcome.created[name].append(response.json()["id"])
            continue
        if operation == "vital":
            patient_id = clinics[name]["patient_ids"][number % PATIENTS_PER_ORG]
            vital = {
                "detail_type": "vitals",
                "values": {
                    "vital_type": "blood_pressure",
                    "measurement_value": {"systolic": 100 + number % 60, "diastolic": 70},
                    "unit": "mmHg",
                    "measurement_date": "2026-01-05T08:30:00Z",
                },
            }
            response = session.post(
                f"{server.url}/api/v1/patients/{patient_id}/manual-entries/", json=vital, headers=headers, timeout=60
            )
            with outcome.lock:
                outcome.statuses[(operation, response.status_code)] += 1
                if response.status_code == 201:
                    outcome.vitals[name].append(response.json()["id"])
            continue
        path = "/api/v1/clinical-events/?limit=100" if operation == "events" else "/api/v1/patients/?limit=200"
        response = session.get(f"{server.url}{path}", headers=headers, timeout=60)
        with outcome.lock:
            outcome.statuses[(operation, response.status_code)] += 1
            if response.status_code == 200:
                outcome.reads.append((name, role, operation, response.json()["results"]))


def run(server: LiveServer, clinics: dict[str, Any], *, threads: int, requests_per_thread: int) -> None:
    """The whole scenario: `threads` threads of `requests_per_thread` requests each, then every check."""
    before = {name: write_counts(clinics[name]["org"]) for name in "ab"}
    steps = plan(threads * requests_per_thread)
    outcome = Outcome()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [
            pool.submit(
                run_thread,
                server,
                clinics,
                steps[t * requests_per_thread : (t + 1) * requests_per_thread],
                t,
                outcome,
            )
            for t in range(threads)
        ]
        for future in futures:
            future.result()
    check(clinics, steps, outcome, before)


def check(
    clinics: dict[str, Any],
    steps: list[tuple[str, str, str]],
    outcome: Outcome,
    before: dict[str, tuple[int, int]],
) -> None:
    # Every request was answered as it should be: reads 200, writes 201, nothing else (no 5xx, no conflict).
    expected = Counter((operation, 201 if operation in WRITES else 200) for _, _, operation in steps)
    assert outcome.statuses == expected

    rows = {name: org_rows(clinics[name]["org"]) for name in "ab"}
    for name, role, operation, results in outcome.reads:
        patients, events, phi = rows[name]
        ids = {row["id"] for row in results}
        if operation == "events":
            assert ids, "each organization has events this role may see"
            assert ids <= events, f"{role} of org {name} saw another organization's events"
            if role == Role.COACH:
                assert not ids & phi, f"coach of org {name} saw PHI"
                assert {row["data_classification"] for row in results} == {DataClassification.GENERAL_WELLNESS}
            else:
                assert ids & phi, f"clinician of org {name} saw no PHI"
        else:
            assert ids <= patients, f"org {name} saw another organization's patients"

    for name in "ab":
        created, vitals = outcome.created[name], outcome.vitals[name]
        assert len(created) == sum(1 for n, _, op in steps if n == name and op == "create")
        assert len(vitals) == sum(1 for n, _, op in steps if n == name and op == "vital")
        assert write_counts(clinics[name]["org"]) == (before[name][0] + len(created), before[name][1] + len(vitals))
        other = "b" if name == "a" else "a"
        assert set(created) <= rows[name][0]
        assert not set(created) & rows[other][0]
        # Each vital's hub event belongs to the organization that posted it, none to the other.
        assert set(vitals) <= rows[name][1]
        assert not set(vitals) & rows[other][1]
