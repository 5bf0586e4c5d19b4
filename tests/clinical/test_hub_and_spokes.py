"""The hub-and-spoke rules of seed 002, enforced by PostgreSQL and by the services."""

import json
import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.clinical import services
from apps.clinical.models import SPOKES, ClinicalEvent, MedicalCodeAssignment, Medication, Vital
from apps.organizations.roles import DataClassification
from tests.conftest import as_tenant
from tests.factories import ClinicalEventFactory, PatientFactory

NOW = timezone.now()


def vital_row(**overrides):
    row = {
        "vital_type": "blood_pressure",
        "measurement_value": {"systolic": 120, "diastolic": 80},
        "unit": "mmHg",
        "measurement_date": NOW - timedelta(hours=1),
    }
    return {**row, **overrides}


def event_fields(**overrides):
    fields = {
        "activity_type": "observation",
        "clinical_purposes": ["monitoring"],
        "event_name": "Blood pressure check",
        "event_date": NOW - timedelta(hours=1),
    }
    return {**fields, **overrides}


@pytest.fixture
def clinic(org_a, org_b):
    """Two patients in org A, one in org B, and an event for each."""
    with as_tenant(org_a):
        first, second = PatientFactory(), PatientFactory()
        event_first, event_second = ClinicalEventFactory(patient=first), ClinicalEventFactory(patient=second)
    with as_tenant(org_b):
        other = PatientFactory()
        event_other = ClinicalEventFactory(patient=other)
    return {
        "first": first,
        "second": second,
        "other": other,
        "event": event_first,
        "event_second": event_second,
        "event_other": event_other,
    }


def insert_vital(cursor, *, organization_id, event_id, patient_id):
    cursor.execute(
        "INSERT INTO clinical_vital (id, organization_id, created_at, updated_at, data_classification, event_id,"
        " patient_id, vital_type, measurement_value, unit, measurement_date)"
        " VALUES (%s, %s, now(), now(), 'CLINICAL_PHI', %s, %s, 'heart_rate', %s, 'bpm', now())",
        [uuid.uuid4(), organization_id, event_id, patient_id, json.dumps({"value": 70})],
    )


def test_a_spoke_naming_another_patient_than_its_event_is_rejected_by_postgres(clinic, org_a):
    with (
        as_tenant(org_a),
        pytest.raises(IntegrityError, match="vital_event_same_patient_fk"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        insert_vital(cursor, organization_id=org_a.id, event_id=clinic["event"].pk, patient_id=clinic["second"].pk)


def test_a_spoke_without_an_event_is_rejected_by_postgres(clinic, org_a):
    with (
        as_tenant(org_a),
        pytest.raises(IntegrityError, match="event_id"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        insert_vital(cursor, organization_id=org_a.id, event_id=None, patient_id=clinic["first"].pk)


def test_a_spoke_in_another_organization_than_its_patient_is_rejected_by_postgres(clinic, org_b):
    # Org B's row passes RLS's WITH CHECK and its (event, patient) pair exists; only the composite key
    # (organization_id, patient_id) stops it (foreign-key checks do not go through RLS).
    with (
        as_tenant(org_b),
        pytest.raises(IntegrityError, match="vital_patient_same_org_fk"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        insert_vital(cursor, organization_id=org_b.id, event_id=clinic["event"].pk, patient_id=clinic["first"].pk)


def test_a_hub_event_in_another_organization_than_its_patient_is_rejected_by_postgres(clinic, org_b):
    with (
        as_tenant(org_b),
        pytest.raises(IntegrityError, match="clinicalevent_patient_same_org_fk"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO clinical_clinicalevent (id, organization_id, created_at, updated_at, data_classification,"
            " patient_id, activity_type, clinical_purposes, event_name, method, body_site, performed_by,"
            " facility_name, event_date, source_document, is_synthetic, clinical_identity_key)"
            " VALUES (%s, %s, now(), now(), 'CLINICAL_PHI', %s, 'observation', ARRAY['monitoring'], 'x', '', '',"
            " '', '', now(), '', false, '')",
            [uuid.uuid4(), org_b.id, clinic["first"].pk],
        )


def test_an_event_cannot_point_at_another_patients_encounter(clinic, org_a):
    with as_tenant(org_a):
        encounter = services.encounter_create(
            patient=clinic["second"], encounter_type="outpatient", started_at=NOW - timedelta(days=1)
        )
    with (
        as_tenant(org_a),
        pytest.raises(IntegrityError, match="clinicalevent_encounter_same_patient_fk"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "UPDATE clinical_clinicalevent SET encounter_id = %s WHERE id = %s", [encounter.pk, clinic["event"].pk]
        )


def test_a_code_cannot_be_attached_to_another_organizations_event(clinic, org_a):
    with (
        as_tenant(org_a),
        pytest.raises(IntegrityError, match="medicalcodeassignment_event_same_org_fk"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO clinical_medicalcodeassignment (id, organization_id, created_at, updated_at,"
            " data_classification, event_id, code_system, code, display, is_primary)"
            " VALUES (%s, %s, now(), now(), 'CLINICAL_PHI', %s, 'cpt', '99214', '', false)",
            [uuid.uuid4(), org_a.id, clinic["event_other"].pk],
        )


@pytest.mark.parametrize("spoke_type", sorted(SPOKES))
def test_every_spoke_table_holds_both_composite_keys(db, spoke_type):
    table = SPOKES[spoke_type]._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = %s::regclass AND contype = 'f'",
            [table],
        )
        definitions = dict(cursor.fetchall())
    model = SPOKES[spoke_type]._meta.model_name
    assert definitions[f"{model}_event_same_patient_fk"] == (
        "FOREIGN KEY (event_id, patient_id) REFERENCES clinical_clinicalevent(id, patient_id) ON DELETE CASCADE"
    )
    assert definitions[f"{model}_patient_same_org_fk"] == (
        "FOREIGN KEY (organization_id, patient_id) REFERENCES patients_patient(organization_id, id) ON DELETE CASCADE"
    )


def test_an_event_and_its_details_are_created_together(clinic, org_a):
    with as_tenant(org_a):
        event = services.clinical_event_create(
            patient=clinic["first"],
            event=event_fields(),
            details={"vitals": [vital_row()], "medications": [{"medication_name": "Sertraline", "strength": "50 mg"}]},
            codes=[{"code_system": "loinc", "code": "85354-9", "display": "Blood pressure panel"}],
        )
        assert [(v.patient_id, v.event_id) for v in Vital.objects.all()] == [(clinic["first"].pk, event.pk)]
        assert Medication.objects.get().organization_id == org_a.id
        assert MedicalCodeAssignment.objects.get().code == "85354-9"


@pytest.mark.parametrize(
    ("details", "codes", "field"),
    [
        ({"vitals": [vital_row(), vital_row(unit="kg")]}, [], "details.vitals[1].unit"),
        (
            {"vitals": [vital_row()], "medications": [{"strength": "50 mg"}]},
            [],
            "details.medications[0].medication_name",
        ),
        ({"vitals": [vital_row()], "tattoos": [{"ink": "blue"}]}, [], "details.tattoos"),
        (
            {"vitals": [vital_row(measurement_value={"systolic": 80, "diastolic": 120})]},
            [],
            "details.vitals[0].measurement_value",
        ),
        ({"vitals": [vital_row()]}, [{"code_system": "icd10cm", "code": "F32-1"}], "codes[0].code"),
        ({"vitals": [vital_row()]}, [{"code_system": "snomed", "code": "35489008"}], "codes[0].code"),
    ],
)
def test_one_invalid_detail_or_code_stores_nothing(clinic, org_a, details, codes, field):
    with as_tenant(org_a):
        before = ClinicalEvent.objects.count()
        with pytest.raises(ValidationError) as raised:
            services.clinical_event_create(patient=clinic["first"], event=event_fields(), details=details, codes=codes)
        assert field in raised.value.message_dict
        assert ClinicalEvent.objects.count() == before
        assert not Vital.objects.exists()
        assert not Medication.objects.exists()
        assert not MedicalCodeAssignment.objects.exists()


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (event_fields(event_date=NOW + timedelta(days=2)), "event.event_date"),
        (event_fields(event_date=NOW.replace(year=1970)), "event.event_date"),  # the patient was born in 1980
        (event_fields(clinical_purposes=[]), "event.clinical_purposes"),
    ],
)
def test_bad_event_dates_and_missing_purposes_are_refused(clinic, org_a, event, field):
    with as_tenant(org_a), pytest.raises(ValidationError) as raised:
        services.clinical_event_create(patient=clinic["first"], event=event, details={"vitals": [vital_row()]})
    assert field in raised.value.message_dict


def test_manual_entry_creates_a_synthetic_self_monitoring_event_in_the_same_transaction(clinic, org_a):
    with as_tenant(org_a):
        event = services.clinical_entry_record_manual(
            patient=clinic["first"],
            spoke_type="vitals",
            fields=vital_row(vital_type="heart_rate", unit="bpm", measurement_value={"value": 64}),
        )
        assert (event.is_synthetic, event.clinical_purposes) == (True, ["self_monitoring"])
        assert event.vitals.get().measurement_value == {"value": 64}
        before = ClinicalEvent.objects.count()
        with pytest.raises(ValidationError):
            services.clinical_entry_record_manual(
                patient=clinic["first"], spoke_type="vitals", fields=vital_row(unit="x")
            )
        assert ClinicalEvent.objects.count() == before  # no orphan synthetic hub either


def test_hard_deleting_an_event_cascades_to_its_details_and_history_keeps_both(clinic, org_a):
    with as_tenant(org_a):
        event = services.clinical_event_create(
            patient=clinic["first"], event=event_fields(), details={"vitals": [vital_row()]}
        )
        event_id, vital_id = event.pk, event.vitals.get().pk
        services.clinical_event_delete(event=event)
        assert not Vital.objects.filter(pk=vital_id).exists()
        assert list(ClinicalEvent.history.filter(id=event_id).values_list("history_type", flat=True)) == ["-", "+"]
        assert list(Vital.history.filter(id=vital_id).values_list("history_type", flat=True)) == ["-", "+"]


def test_postgres_cascades_spokes_even_when_the_hub_is_deleted_with_raw_sql(clinic, org_a):
    with as_tenant(org_a):
        event = services.clinical_event_create(
            patient=clinic["first"], event=event_fields(), details={"vitals": [vital_row()]}
        )
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM clinical_clinicalevent WHERE id = %s", [event.pk])
        assert not Vital.objects.filter(event_id=event.pk).exists()


def test_details_inherit_the_events_classification(clinic, org_a):
    with as_tenant(org_a):
        event = services.clinical_event_create(
            patient=clinic["first"],
            event=event_fields(data_classification=DataClassification.GENERAL_WELLNESS),
            details={"vitals": [vital_row()]},
            codes=[{"code_system": "cpt", "code": "99214"}],
        )
        assert event.vitals.get().data_classification == DataClassification.GENERAL_WELLNESS
        assert event.codes.get().data_classification == DataClassification.GENERAL_WELLNESS


def test_org_b_cannot_attach_details_to_org_a_events(clinic, org_b):
    # Org B's context cannot see org A's event, and the keys refuse the reference outright.
    with as_tenant(org_b), pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        insert_vital(cursor, organization_id=org_b.id, event_id=clinic["event"].pk, patient_id=clinic["first"].pk)
