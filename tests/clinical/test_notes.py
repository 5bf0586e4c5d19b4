"""Clinical notes in the database: templates, signing by the author only, the PostgreSQL lock on signed notes,
addenda, ICD-10-CM diagnoses, tenant isolation and the coach."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import ProgrammingError, connection, transaction
from django.utils import timezone

from apps.clinical.models import ClinicalNote, NoteAddendum
from apps.clinical.notes import selectors, services
from apps.clinical.services import encounter_create
from apps.events.models import DomainEvent
from apps.organizations.roles import Role
from tests.conftest import add_member, as_tenant
from tests.factories import PatientFactory

SOAP = {"subjective": "Sleeping poorly.", "objective": "Calm, oriented.", "assessment": "GAD.", "plan": "CBT weekly."}


@pytest.fixture
def clinic(org_a, org_b):
    """Org A: a patient with an encounter, two clinicians and a coach; org B: its own clinician."""
    reyes, other = add_member(org_a, Role.CLINICIAN), add_member(org_a, Role.CLINICIAN)
    with as_tenant(org_a):
        patient = PatientFactory()
        encounter = encounter_create(
            patient=patient, encounter_type="outpatient", started_at=timezone.now() - dt.timedelta(hours=1)
        )
    return {
        "org": org_a,
        "org_b": org_b,
        "reyes": reyes,
        "other": other,
        "coach": add_member(org_a, Role.COACH),
        "b_clinician": add_member(org_b, Role.CLINICIAN),
        "patient": patient,
        "encounter": encounter,
    }


def as_user(clinic, user, role=Role.CLINICIAN, org=None):
    return as_tenant(org or clinic["org"], role, user_id=user.pk)


def write_note(clinic, *, sign=False, **overrides):
    fields = {"template": "soap", "sections": SOAP, "diagnosis_codes": ["F41.1"], "encounter": clinic["encounter"]}
    fields.update(overrides)
    with as_user(clinic, clinic["reyes"]):
        note = services.clinical_note_create(author=clinic["reyes"], patient=clinic["patient"], **fields)
        if sign:
            note = services.clinical_note_sign(note=note, signer=clinic["reyes"])
    return note


def note_state(clinic, note):
    with as_tenant(clinic["org"]):
        row = ClinicalNote.objects.get(pk=note.pk)
        return (row.status, row.sections, row.diagnosis_codes, row.signed_at, row.history.count())


def test_a_note_is_written_from_its_template_and_signed_by_its_author(clinic):
    note = write_note(clinic, template="dap", sections={"data": "Reports panic at work.", "plan": "Follow up."})
    with as_tenant(clinic["org"]):
        stored = ClinicalNote.objects.get(pk=note.pk)
        assert stored.section_rows() == [("Data", "Reports panic at work."), ("Assessment", ""), ("Plan", "Follow up.")]
        assert (stored.status, stored.signed_at, stored.author_id) == ("draft", None, clinic["reyes"].pk)
    signed = write_note(clinic, sign=True)
    with as_tenant(clinic["org"]):
        stored = ClinicalNote.objects.get(pk=signed.pk)
        assert stored.status == "signed"
        assert stored.signed_at is not None
        assert [row.status for row in stored.history.order_by("history_date")] == ["draft", "signed"]
        # Signing, and only signing, publishes an event (clinical PHI, like the note).
        events = DomainEvent.objects.filter(event_type="note.signed")
        assert [(e.subject_id, e.data_classification, e.data["template"]) for e in events] == [
            (signed.pk, "CLINICAL_PHI", signed.template)
        ]


def test_a_standalone_note_has_no_encounter(clinic):
    note = write_note(clinic, encounter=None, template="free_text", sections={"text": "Phone call: doing better."})
    with as_tenant(clinic["org"]):
        assert ClinicalNote.objects.get(pk=note.pk).encounter_id is None


def test_the_runtime_role_cannot_update_a_signed_note(clinic):
    note = write_note(clinic, sign=True)
    before = note_state(clinic, note)
    with as_user(clinic, clinic["reyes"]):
        with pytest.raises(ProgrammingError, match="A signed note cannot be changed"), transaction.atomic():
            ClinicalNote.objects.filter(pk=note.pk).update(sections={"text": "rewritten"})
        for statement in (
            "UPDATE clinical_clinicalnote SET sections = '{}'::jsonb WHERE id = %s",
            "UPDATE clinical_clinicalnote SET status = 'draft', signed_at = NULL WHERE id = %s",
        ):
            with (
                pytest.raises(ProgrammingError, match="A signed note cannot be changed"),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(statement, [note.pk])
    assert note_state(clinic, note) == before


def test_the_runtime_role_cannot_delete_or_truncate_a_signed_note(clinic):
    note = write_note(clinic, sign=True)
    with as_user(clinic, clinic["reyes"]):
        with pytest.raises(ProgrammingError, match="A signed note cannot be changed or deleted"), transaction.atomic():
            ClinicalNote.objects.filter(pk=note.pk).delete()
        with (
            pytest.raises(ProgrammingError, match="A signed note cannot be changed or deleted"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute("DELETE FROM clinical_clinicalnote WHERE id = %s", [note.pk])
        with pytest.raises(ProgrammingError, match="permission denied"), transaction.atomic():
            connection.cursor().execute("TRUNCATE clinical_clinicalnote CASCADE")
        assert ClinicalNote.objects.filter(pk=note.pk).exists()


def test_a_draft_stays_editable_and_deletable(clinic):
    note = write_note(clinic)
    with as_user(clinic, clinic["reyes"]):
        edited = services.clinical_note_update(
            note=note, editor=clinic["reyes"], sections={**SOAP, "plan": "CBT biweekly."}, diagnosis_codes=["F41.1"]
        )
        assert ClinicalNote.objects.get(pk=note.pk).sections["plan"] == "CBT biweekly."
        ClinicalNote.objects.filter(pk=edited.pk).delete()
        assert not ClinicalNote.objects.filter(pk=note.pk).exists()


def test_signing_someone_elses_note_is_refused_and_changes_nothing(clinic):
    note = write_note(clinic)
    before = note_state(clinic, note)
    with as_user(clinic, clinic["other"]):
        with pytest.raises(ValidationError) as refused:
            services.clinical_note_sign(note=note, signer=clinic["other"])
        assert refused.value.message_dict == {"author": ["Only the author of a note can sign or edit it."]}
        # PostgreSQL refuses it too, whatever path the write takes.
        with (
            pytest.raises(ProgrammingError, match="Only the author of a note can sign it"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(
                "UPDATE clinical_clinicalnote SET status = 'signed', signed_at = now() WHERE id = %s", [note.pk]
            )
    assert note_state(clinic, note) == before


def test_signing_an_already_signed_note_is_refused(clinic):
    note = write_note(clinic, sign=True)
    before = note_state(clinic, note)
    with as_user(clinic, clinic["reyes"]), pytest.raises(ValidationError) as refused:
        services.clinical_note_sign(note=note, signer=clinic["reyes"])
    assert refused.value.message_dict == {"status": ["This note is already signed: add an addendum instead."]}
    assert note_state(clinic, note) == before


def test_an_addendum_keeps_both_the_note_and_the_correction(clinic):
    note = write_note(clinic, sign=True)
    before = note_state(clinic, note)
    with as_user(clinic, clinic["other"]):
        addendum = services.note_addendum_create(note=note, author=clinic["other"], text="Plan: CBT biweekly.")
    with as_tenant(clinic["org"]):
        stored = selectors.clinical_note_list().get(pk=note.pk)
        assert [(a.text, a.author_id) for a in stored.addenda.all()] == [("Plan: CBT biweekly.", clinic["other"].pk)]
        assert stored.sections == SOAP
        for statement in ("UPDATE clinical_noteaddendum SET text = 'x'", "DELETE FROM clinical_noteaddendum"):
            with (
                pytest.raises(ProgrammingError, match="permission denied"),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(statement)
        assert NoteAddendum.objects.get(pk=addendum.pk).text == "Plan: CBT biweekly."
    assert note_state(clinic, note) == before


def test_an_addendum_to_a_draft_is_refused(clinic):
    note = write_note(clinic)
    with as_user(clinic, clinic["reyes"]):
        with pytest.raises(ValidationError) as refused:
            services.note_addendum_create(note=note, author=clinic["reyes"], text="More.")
        assert refused.value.message_dict == {"note": ["A draft is edited, not amended: addenda are for signed notes."]}
        assert NoteAddendum.objects.count() == 0


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        (
            {"diagnosis_codes": ["F41.1", "Z99.99"]},
            {"diagnosis_codes[1]": ["Not a code of the ICD-10-CM code set (e.g. F41.1)."]},
        ),
        ({"diagnosis_codes": ["F41"]}, {}),  # a category is a code of the set
        ({"diagnosis_codes": ["41.1"]}, {"diagnosis_codes[0]": ["Not an ICD-10-CM code"]}),
        ({"sections": {"subjective": "x", "mood": "y"}}, {"sections.mood": ["Not a section of this template"]}),
        ({"sections": {"subjective": " "}}, {"sections": ["Write at least one section."]}),
        ({"template": "narrative"}, {"template": ["Use one of: soap, dap, birp, free_text."]}),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(clinic, fields, errors):
    if not errors:
        write_note(clinic, **fields)
        return
    with pytest.raises(ValidationError) as refused:
        write_note(clinic, **fields)
    got = refused.value.message_dict
    assert sorted(got) == sorted(errors)
    for field, (message,) in errors.items():
        assert got[field][0].startswith(message)
    with as_tenant(clinic["org"]):
        assert ClinicalNote.objects.count() == 0


def test_diagnoses_are_stored_normalised(clinic):
    note = write_note(clinic, diagnosis_codes=["f41.1", "U07.1"])
    with as_tenant(clinic["org"]):
        assert ClinicalNote.objects.get(pk=note.pk).diagnosis_codes == ["F41.1", "U07.1"]


def test_another_organization_sees_no_note(clinic):
    note = write_note(clinic, sign=True)
    with as_user(clinic, clinic["b_clinician"], org=clinic["org_b"]):
        assert ClinicalNote.objects.count() == 0
        assert not ClinicalNote.objects.filter(pk=note.pk).exists()
        with connection.cursor() as cursor:
            cursor.execute("UPDATE clinical_clinicalnote SET sections = '{}'::jsonb WHERE id = %s", [note.pk])
            assert cursor.rowcount == 0
    assert note_state(clinic, note)[1] == SOAP


def test_a_coach_sees_no_note_and_cannot_write_one(clinic):
    write_note(clinic, sign=True)
    with as_user(clinic, clinic["coach"], role=Role.COACH):
        assert ClinicalNote.objects.count() == 0
        assert NoteAddendum.objects.count() == 0
        with pytest.raises(PermissionDenied):
            services.clinical_note_create(
                author=clinic["coach"], patient=clinic["patient"], template="free_text", sections={"text": "Hi"}
            )
    with as_tenant(clinic["org"]):
        assert ClinicalNote.objects.count() == 1
