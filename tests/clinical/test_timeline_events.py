"""Health events in the database: append-only, corrections, classification, RLS by role, tenant isolation."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, ProgrammingError, connection, transaction
from django.utils import timezone

from apps.clinical.models import HealthEvent
from apps.clinical.timeline import selectors, services
from apps.organizations.roles import Role
from tests.conftest import as_tenant
from tests.factories import PatientFactory

from .timeline_support import MEDICATION_A, ago, clinics_fixture, dose, mood  # noqa: F401


def test_runtime_role_cannot_update_a_health_event(clinics):
    a = clinics["org-a"]
    event = a["events"]["mood"]
    with as_tenant(a["org"]):
        with pytest.raises(ProgrammingError, match="permission denied"), transaction.atomic():
            HealthEvent.objects.filter(pk=event.pk).update(event_data={"mood": "sad", "confidence": 1})
        with (
            pytest.raises(ProgrammingError, match="permission denied"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute("UPDATE clinical_healthevent SET occurred_at = now() WHERE id = %s", [event.pk])
        assert HealthEvent.objects.get(pk=event.pk).event_data == {"mood": "calm", "confidence": 7}


def test_runtime_role_cannot_delete_or_truncate_health_events(clinics):
    a = clinics["org-a"]
    with as_tenant(a["org"]):
        before = HealthEvent.objects.count()
        with pytest.raises(ProgrammingError, match="permission denied"), transaction.atomic():
            HealthEvent.objects.filter(pk=a["events"]["symptom"].pk).delete()
        statements = (
            "DELETE FROM clinical_healthevent",
            "TRUNCATE clinical_healthevent CASCADE",
            "DELETE FROM clinical_assessmentresponse",
        )
        for statement in statements:
            with (
                pytest.raises(ProgrammingError, match="permission denied"),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(statement)
        assert HealthEvent.objects.count() == before == 4


def test_a_correction_is_a_new_event_that_supersedes_the_old_one(clinics):
    a = clinics["org-a"]
    original = a["events"]["mood"]
    with as_tenant(a["org"]):
        correction = services.health_event_record(
            patient=a["patient"],
            event_type="mood",
            event_subtype="daily_checkin",
            event_data={"mood": "anxious", "confidence": 4},
            occurred_at=original.occurred_at,
            supersedes=original,
        )
        current = list(selectors.health_event_list(patient=a["patient"], types=["mood"]))
        everything = list(selectors.health_event_list(patient=a["patient"], types=["mood"], include_superseded=True))
        original.refresh_from_db()
        with pytest.raises(ValidationError) as again:
            services.health_event_record(
                patient=a["patient"],
                event_type="mood",
                event_subtype="daily_checkin",
                event_data={"mood": "sad", "confidence": 4},
                occurred_at=original.occurred_at,
                supersedes=original,
            )
    assert current == [correction]
    assert set(everything) == {correction, original}
    assert original.event_data == {"mood": "calm", "confidence": 7}  # untouched
    assert again.value.message_dict == {"supersedes": ["This event has already been corrected."]}


def test_the_database_refuses_a_correction_for_another_patient_or_organization_and_a_second_one(clinics):
    a, b = clinics["org-a"], clinics["org-b"]
    original = a["events"]["mood"]

    def correction(patient, **extra):
        return HealthEvent.objects.create(
            patient=patient,
            event_type="mood",
            event_subtype="daily_checkin",
            event_data={},
            occurred_at=original.occurred_at,
            source="staff",
            supersedes_id=original.pk,
            **extra,
        )

    with as_tenant(a["org"]):
        other_patient = PatientFactory()
        with pytest.raises(IntegrityError, match="healthevent_supersedes_same_patient_fk"), transaction.atomic():
            correction(other_patient)
    with (
        as_tenant(b["org"]),
        pytest.raises(IntegrityError, match="healthevent_supersedes_same_patient_fk"),
        transaction.atomic(),
    ):
        correction(b["patient"])
    with as_tenant(a["org"]):
        correction(a["patient"])
        with pytest.raises(IntegrityError, match="healthevent_superseded_once"), transaction.atomic():
            correction(a["patient"])


def test_an_event_cannot_reference_another_organizations_patient(clinics):
    a, b = clinics["org-a"], clinics["org-b"]
    with as_tenant(a["org"]), pytest.raises(IntegrityError), transaction.atomic():
        HealthEvent.objects.create(
            organization_id=a["org"].id,
            patient_id=b["patient"].pk,
            event_type="note",
            event_subtype="general",
            event_data={"text": "x"},
            occurred_at=ago(hours=1),
            source="staff",
        )


@pytest.mark.parametrize(
    ("event_type", "subtype", "data", "classification"),
    [
        ("mood", "quick_checkin", {"mood": "calm", "confidence": 5}, "GENERAL_WELLNESS"),
        ("symptom", "side_effect", {"symptoms": ["nausea"], "severity": 3}, "GENERAL_WELLNESS"),
        ("medication", "injection", {"medication_id": MEDICATION_A, "status": "late"}, "CLINICAL_PHI"),
        ("vital", "blood_pressure", {"systolic": 120, "diastolic": 80}, "CLINICAL_PHI"),
        ("treatment", "procedure", {"name": "Egg retrieval"}, "CLINICAL_PHI"),
        ("appointment", "attended", {"with": "Dr. Demo"}, "CLINICAL_PHI"),
        ("note", "clinical", {"text": "Discussed sleep."}, "CLINICAL_PHI"),
    ],
)
def test_default_classification_wellness_for_mood_and_symptom_phi_otherwise(
    clinics, event_type, subtype, data, classification
):
    a = clinics["org-a"]
    with as_tenant(a["org"]):
        event = services.health_event_record(
            patient=a["patient"],
            event_type=event_type,
            event_subtype=subtype,
            event_data=data,
            occurred_at=ago(minutes=5),
        )
    assert (event.data_classification, event.source) == (classification, "staff")


def test_a_mood_may_be_tightened_to_phi_but_a_medication_never_loosened(clinics):
    a = clinics["org-a"]
    with as_tenant(a["org"]):
        tightened = services.health_event_record(
            patient=a["patient"],
            event_type="mood",
            event_subtype="daily_checkin",
            event_data={"mood": "sad", "confidence": 3},
            occurred_at=ago(minutes=1),
            data_classification="CLINICAL_PHI",
        )
        with pytest.raises(ValidationError) as error:
            services.health_event_record(
                patient=a["patient"],
                event_type="medication",
                event_subtype="scheduled",
                event_data={"medication_id": MEDICATION_A, "status": "taken"},
                occurred_at=ago(minutes=1),
                data_classification="GENERAL_WELLNESS",
            )
    assert tightened.data_classification == "CLINICAL_PHI"
    assert error.value.message_dict == {"data_classification": ["A medication event is always CLINICAL_PHI."]}


@pytest.mark.parametrize(
    ("role", "phi_access", "visible"),
    [
        (Role.OWNER, False, {"mood", "symptom", "medication", "assessment"}),
        (Role.CLINICIAN, False, {"mood", "symptom", "medication", "assessment"}),
        (Role.COACH, False, {"mood", "symptom"}),
        (Role.PARTNER, False, {"mood", "symptom"}),
        (Role.PARTNER, True, {"mood", "symptom", "medication", "assessment"}),
    ],
)
def test_coach_and_partners_without_phi_see_only_wellness_events(clinics, role, phi_access, visible):
    a = clinics["org-a"]
    with as_tenant(a["org"], role, phi_access=phi_access):
        types = {e.event_type for e in selectors.health_event_list(patient=a["patient"])}
        history_types = set(HealthEvent.history.values_list("event_type", flat=True))
    assert types == visible
    assert history_types == visible


def test_coach_records_wellness_but_is_refused_phi_before_the_database(clinics):
    a = clinics["org-a"]
    with as_tenant(a["org"], Role.COACH):
        wellness = mood(a["patient"], ago(minutes=2))
        with pytest.raises(PermissionDenied):
            dose(a["patient"], ago(minutes=2), "taken")
        with pytest.raises(ProgrammingError, match="row-level security"), transaction.atomic():
            HealthEvent.objects.create(
                patient=a["patient"],
                event_type="note",
                event_subtype="general",
                event_data={"text": "x"},
                occurred_at=ago(minutes=2),
                source="staff",
            )
    with as_tenant(a["org"]):
        assert HealthEvent.objects.filter(patient=a["patient"]).count() == 5
        assert wellness.data_classification == "GENERAL_WELLNESS"


def test_organizations_see_only_their_own_events(clinics):
    a, b = clinics["org-a"], clinics["org-b"]
    with as_tenant(a["org"]):
        assert set(HealthEvent.objects.values_list("organization_id", flat=True)) == {a["org"].id}
        assert list(selectors.health_event_list(patient=b["patient"])) == []
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM clinical_healthevent WHERE patient_id = %s", [b["patient"].pk])
            assert cursor.fetchone() == (0,)
    with transaction.atomic():
        assert HealthEvent.objects.count() == 0  # no context, no rows


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"event_type": "sleep"}, "event_type"),
        ({"event_subtype": "weekly_checkin"}, "event_subtype"),
        ({"event_type": "assessment", "event_subtype": "phq4"}, "event_type"),
        ({"event_data": {"mood": "calm"}}, "event_data.confidence"),
        ({"event_data": {"mood": "calm", "confidence": 11}}, "event_data.confidence"),
        ({"event_data": {"mood": "calm", "confidence": 0}}, "event_data.confidence"),
        ({"event_data": {"mood": "calm", "confidence": True}}, "event_data.confidence"),
        ({"event_data": {"mood": "ecstatic", "confidence": 5}}, "event_data.mood"),
        ({"event_data": {"mood": "calm", "confidence": 5, "moood": "x"}}, "event_data.moood"),
        ({"event_data": ["calm"]}, "event_data"),
        ({"occurred_at": ago(minutes=-30)}, "occurred_at"),
        ({"source": "partner"}, "source"),
    ],
)
def test_bad_events_are_refused_naming_the_field_and_nothing_is_stored(clinics, fields, error):
    a = clinics["org-a"]
    arguments = {
        "patient": a["patient"],
        "event_type": "mood",
        "event_subtype": "daily_checkin",
        "event_data": {"mood": "calm", "confidence": 5},
        "occurred_at": ago(minutes=1),
    } | fields
    with as_tenant(a["org"]):
        before = HealthEvent.objects.count()
        with pytest.raises(ValidationError) as raised:
            services.health_event_record(**arguments)
        assert list(raised.value.message_dict) == [error]
        assert HealthEvent.objects.count() == before


@pytest.mark.parametrize(
    ("event_type", "subtype", "data", "error"),
    [
        ("medication", "scheduled", {"medication_id": "aspirin", "status": "taken"}, "event_data.medication_id"),
        ("medication", "scheduled", {"medication_id": MEDICATION_A, "status": "forgot"}, "event_data.status"),
        (
            "medication",
            "scheduled",
            {"medication_id": MEDICATION_A, "status": "taken", "time": "25:00"},
            "event_data.time",
        ),
        (
            "medication",
            "scheduled",
            {"medication_id": MEDICATION_A, "status": "taken", "side_effects": "x"},
            "event_data.side_effects",
        ),
        ("symptom", "general", {"symptoms": [], "severity": 3}, "event_data.symptoms"),
        ("symptom", "general", {"symptoms": ["ache"], "severity": 11}, "event_data.severity"),
        ("symptom", "general", {"symptoms": ["ache"], "severity": 2, "triggers": [1]}, "event_data.triggers"),
        ("vital", "blood_pressure", {"systolic": 120}, "event_data.diastolic"),
        ("vital", "weight", {"value": 70}, "event_data.unit"),
        ("note", "general", {"text": ""}, "event_data.text"),
    ],
)
def test_each_type_has_its_schema(clinics, event_type, subtype, data, error):
    a = clinics["org-a"]
    with as_tenant(a["org"]), pytest.raises(ValidationError) as raised:
        services.health_event_record(
            patient=a["patient"],
            event_type=event_type,
            event_subtype=subtype,
            event_data=data,
            occurred_at=ago(minutes=1),
        )
    assert list(raised.value.message_dict) == [error]


def test_str_is_the_event_in_plain_words_and_names_no_patient(clinics):
    event = clinics["org-a"]["events"]["mood"]
    assert str(event) == f"Mood: calm, confidence 7/10, {timezone.localtime(event.occurred_at):%Y-%m-%d %H:%M}"
