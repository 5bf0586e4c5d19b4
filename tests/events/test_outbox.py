"""Domain events written by the services in the transaction of their change, and who sees them."""

from __future__ import annotations

import datetime as dt

import pytest

from apps.billing import services as billing_services
from apps.biomarkers import services as biomarker_services
from apps.clinical import services as clinical_services
from apps.clinical.timeline import services as timeline_services
from apps.events.models import DomainEvent
from apps.events.services import event_record
from apps.organizations.roles import Role
from apps.patients import services as patient_services
from tests.biomarkers.factories import depression_reading, reading
from tests.conftest import as_tenant


def _events(org: object) -> list[tuple[str, str, str]]:
    with as_tenant(org):  # type: ignore[arg-type]
        return list(
            DomainEvent.objects.order_by("transaction_id", "id").values_list(
                "event_type", "subject_type", "data_classification"
            )
        )


def test_each_service_writes_its_event_in_its_own_transaction(org_a, org_b):
    with as_tenant(org_a):
        patient = patient_services.patient_create(
            mrn="A-1", given_name="Mateo", family_name="Okafor", date_of_birth=dt.date(1991, 2, 11)
        )
        patient_services.patient_update(patient=patient, phone="+15555550100", city="Lisbon")
        clinical_services.encounter_create(
            patient=patient, encounter_type="outpatient", started_at=dt.datetime.now(dt.UTC)
        )
        timeline_services.assessment_complete(patient=patient, instrument="phq9", answers=[0] * 8 + [1])
        billing_services.charge_create(
            patient=patient, transaction_type="retail_product", amount_cents=2500, metadata={"sku": "MUG-1"}
        )
        biomarker_services.biomarker_readings_ingest(
            readings=[reading(patient.pk), reading(patient.pk), depression_reading(patient.pk)]
        )

    assert _events(org_a) == [
        ("patient.created", "patient", "GENERAL_WELLNESS"),
        ("patient.changed", "patient", "GENERAL_WELLNESS"),
        ("encounter.created", "encounter", "CLINICAL_PHI"),
        ("assessment.completed", "assessment", "CLINICAL_PHI"),
        ("flag.raised", "assessment_flag", "CLINICAL_PHI"),
        ("ledger_entry.created", "ledger_entry", "GENERAL_WELLNESS"),
        ("biomarker_batch.stored", "biomarker_batch", "CLINICAL_PHI"),
        ("biomarker_batch.stored", "biomarker_batch", "GENERAL_WELLNESS"),
    ]
    with as_tenant(org_a):
        changed = DomainEvent.objects.get(event_type="patient.changed")
        assert changed.data == {"fields": ["city", "phone"]}
        assert changed.patient_id == patient.pk
        wellness = DomainEvent.objects.get(event_type="biomarker_batch.stored", data_classification="GENERAL_WELLNESS")
        assert wellness.data == {"patient_ids": [str(patient.pk)], "metric_types": ["steps"], "readings": 2}
    assert _events(org_b) == []


def _register_then_fail(org: object) -> None:
    with as_tenant(org):  # type: ignore[arg-type]
        patient_services.patient_create(
            mrn="A-1", given_name="Ana", family_name="Lima", date_of_birth=dt.date(1990, 1, 1)
        )
        raise RuntimeError("the request failed after the change")


def test_a_change_rolled_back_leaves_no_event(org_a):
    with pytest.raises(RuntimeError):
        _register_then_fail(org_a)

    assert _events(org_a) == []


def test_a_coach_never_reads_phi_events(org_a):
    with as_tenant(org_a):
        patient = patient_services.patient_create(
            mrn="A-1", given_name="Ana", family_name="Lima", date_of_birth=dt.date(1990, 1, 1)
        )
        timeline_services.assessment_complete(patient=patient, instrument="gad7", answers=[1] * 7)
    with as_tenant(org_a, Role.COACH):
        # PostgreSQL itself hides the PHI rows, whatever the query asks for.
        assert list(DomainEvent.objects.values_list("event_type", flat=True)) == ["patient.created"]
    with as_tenant(org_a, Role.CLINICIAN):
        assert sorted(DomainEvent.objects.values_list("event_type", flat=True)) == [
            "assessment.completed",
            "patient.created",
        ]


def test_an_undeclared_event_type_is_refused(org_a):
    with pytest.raises(ValueError, match="Unknown event type"), as_tenant(org_a):
        event_record(
            event_type="patient.deleted", subject_id=org_a.pk, patient_id=None, data_classification="GENERAL_WELLNESS"
        )
