"""The one PHI-read hook: rows are marked where they are rendered, and the marks of a successful response are
written once, at its end; an error response, or a block that fails, logs nothing."""

from __future__ import annotations

import pytest

from apps.organizations.roles import Role
from apps.patients import phi_reads
from apps.patients.models import PHIAccessLog
from tests.conftest import add_member, as_tenant, logged_in, phi_access_log
from tests.factories import ClinicalEventFactory, PatientFactory

PATIENT = {"mrn": "R-1", "given_name": "Ada", "family_name": "Stone", "date_of_birth": "1980-02-03"}


def test_the_answer_of_a_write_is_a_read_too(org_a, org_b):
    client = logged_in(add_member(org_a, Role.FRONT_DESK))
    created = client.post("/api/v1/patients/", PATIENT, content_type="application/json")
    assert created.status_code == 201
    patient_id = created.json()["id"]
    changed = client.patch(f"/api/v1/patients/{patient_id}/", {"city": "Bend"}, content_type="application/json")
    assert changed.status_code == 200
    assert [(str(p), t, n, path) for p, t, n, path in phi_access_log(org_a)] == [
        (patient_id, "patient", 1, "/api/v1/patients/"),
        (patient_id, "patient", 1, f"/api/v1/patients/{patient_id}/"),
    ]
    assert phi_access_log(org_b) == []


def test_an_error_answer_logs_nothing(org_a, org_b):
    with as_tenant(org_a):
        patient = PatientFactory()
    client = logged_in(add_member(org_a, Role.CLINICIAN))
    refused = client.patch(
        f"/api/v1/patients/{patient.pk}/", {"date_of_birth": "1800-01-01"}, content_type="application/json"
    )
    assert refused.status_code == 400
    assert client.get(f"/api/v1/clinical-events/?patient={patient.pk}&date_from=nonsense").status_code == 400
    assert phi_access_log(org_a) == []
    assert phi_access_log(org_b) == []


def test_a_list_logs_one_row_per_patient_counting_its_rows(org_a, org_b):
    with as_tenant(org_a):
        ada, bo = PatientFactory(), PatientFactory()
        ClinicalEventFactory.create_batch(2, patient=ada)
        ClinicalEventFactory(patient=bo)
    with as_tenant(org_b):
        ClinicalEventFactory()
    client = logged_in(add_member(org_a, Role.CLINICIAN))
    assert client.get("/api/v1/clinical-events/").status_code == 200
    assert sorted(phi_access_log(org_a)) == sorted(
        [
            (ada.pk, "clinical_event", 2, "/api/v1/clinical-events/"),
            (bo.pk, "clinical_event", 1, "/api/v1/clinical-events/"),
        ]
    )
    assert phi_access_log(org_b) == []


def test_outside_a_request_a_block_collects_and_writes_once_unless_it_fails(org_a, org_b):
    with as_tenant(org_a):
        patient = PatientFactory()
    with as_tenant(org_a, Role.BILLING), phi_reads.logged_reads(method="COMMAND", path="manage.py job"):
        for _ in range(3):
            phi_reads.mark(record_type=PHIAccessLog.RecordType.LEDGER_ENTRY, patient_ids=[patient.pk])
    assert phi_access_log(org_a) == [(patient.pk, "ledger_entry", 3, "manage.py job")]

    def failing_job() -> None:
        with as_tenant(org_a), phi_reads.logged_reads(method="COMMAND", path="failed"):
            phi_reads.mark(record_type=PHIAccessLog.RecordType.LEDGER_ENTRY, patient_ids=[patient.pk])
            raise RuntimeError

    with pytest.raises(RuntimeError):
        failing_job()
    assert len(phi_access_log(org_a)) == 1
    assert phi_access_log(org_b) == []
