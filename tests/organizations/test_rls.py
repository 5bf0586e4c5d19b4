"""Row-level security at the database: ORM, raw SQL, writes, composite keys, PHI, history."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, ProgrammingError, connection, transaction

from apps.clinical.models import ClinicalEvent
from apps.organizations import context
from apps.organizations.models import APIKey, Membership, Organization
from apps.organizations.roles import DataClassification, Role
from apps.patients import services as patient_services
from apps.patients.models import Patient
from tests.conftest import add_member, as_tenant, issue_key
from tests.factories import ClinicalEventFactory, PatientFactory


@pytest.fixture
def two_clinics(org_a, org_b):
    """Org A and org B, each with a patient, a PHI event, a wellness event, a member and an API key."""
    data = {}
    for org in (org_a, org_b):
        add_member(org, Role.CLINICIAN)
        issue_key(org)
        with as_tenant(org):
            patient = PatientFactory(mrn="SHARED-1")
            phi = ClinicalEventFactory(patient=patient)
            wellness = ClinicalEventFactory(patient=patient, data_classification=DataClassification.GENERAL_WELLNESS)
        data[org.slug] = {"patient": patient, "phi": phi, "wellness": wellness}
    return data


TENANT_MODELS = [
    Patient,
    ClinicalEvent,
    Membership,
    APIKey,
    Patient.history.model,
    ClinicalEvent.history.model,
]


@pytest.mark.parametrize("model", TENANT_MODELS, ids=lambda m: m.__name__)
def test_without_context_tenant_tables_return_no_rows(two_clinics, model):
    with transaction.atomic():
        assert model.objects.count() == 0


def test_without_context_raw_sql_sees_no_rows_and_no_organizations(two_clinics):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM patients_patient), (SELECT count(*) FROM organizations_organization)"
        )
        assert cursor.fetchone() == (0, 0)


@pytest.mark.parametrize("model", TENANT_MODELS, ids=lambda m: m.__name__)
def test_context_of_a_shows_only_a_rows(two_clinics, org_a, model):
    with as_tenant(org_a):
        organizations = set(model.objects.values_list("organization_id", flat=True))
    assert organizations == {org_a.id}


def test_raw_sql_under_a_sees_only_a(two_clinics, org_a):
    with as_tenant(org_a), connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT organization_id FROM patients_patient")
        assert cursor.fetchall() == [(org_a.id,)]
        cursor.execute("SELECT id FROM organizations_organization")
        assert cursor.fetchall() == [(org_a.id,)]


def test_updates_and_deletes_under_a_cannot_touch_b(two_clinics, org_a, org_b):
    b_patient = two_clinics["org-b"]["patient"]
    with as_tenant(org_a):
        assert Patient.objects.filter(pk=b_patient.pk).update(family_name="Changed") == 0
        with connection.cursor() as cursor:
            cursor.execute("UPDATE patients_patient SET family_name = 'Changed' WHERE id = %s", [b_patient.pk])
            assert cursor.rowcount == 0
            cursor.execute("DELETE FROM clinical_clinicalevent WHERE patient_id = %s", [b_patient.pk])
            assert cursor.rowcount == 0
    with as_tenant(org_b):
        b_patient.refresh_from_db()
        assert b_patient.family_name != "Changed"
        assert ClinicalEvent.objects.filter(patient=b_patient).count() == 2


def test_inserting_a_row_for_b_under_a_context_is_rejected_by_the_database(org_a, org_b):
    with as_tenant(org_a), pytest.raises(ProgrammingError, match="row-level security"), transaction.atomic():
        Patient.objects.create(
            organization_id=org_b.id, mrn="X-1", given_name="A", family_name="B", date_of_birth="1990-01-01"
        )
    with as_tenant(org_b):
        assert not Patient.objects.filter(mrn="X-1").exists()


def test_moving_a_row_to_another_organization_is_rejected(two_clinics, org_a, org_b):
    with (
        as_tenant(org_a),
        pytest.raises(ProgrammingError),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE patients_patient SET organization_id = %s", [org_b.id])


def test_an_event_of_a_cannot_reference_a_patient_of_b(two_clinics, org_a):
    b_patient = two_clinics["org-b"]["patient"]
    with as_tenant(org_a), pytest.raises(IntegrityError), transaction.atomic():
        ClinicalEvent.objects.create(
            organization_id=org_a.id,
            patient_id=b_patient.pk,
            activity_type="observation",
            event_name="cross-tenant",
            event_date="2026-01-01T00:00:00Z",
        )


def test_same_mrn_is_allowed_in_both_organizations_and_duplicates_name_only_our_org(two_clinics, org_a):
    assert two_clinics["org-a"]["patient"].mrn == two_clinics["org-b"]["patient"].mrn == "SHARED-1"
    with as_tenant(org_a):
        with pytest.raises(ValidationError) as error:
            patient_services.patient_create(mrn="SHARED-1", given_name="X", family_name="Y", date_of_birth="1990-01-01")
        assert error.value.message_dict == {"mrn": ["A patient with this MRN already exists in this organization."]}
        created = patient_services.patient_create(
            mrn="ONLY-A", given_name="X", family_name="Y", date_of_birth="1990-01-01"
        )
    assert created.organization_id == org_a.id


@pytest.mark.parametrize(
    ("role", "phi_access", "sees_phi"),
    [
        (Role.CLINICIAN, False, True),
        (Role.OWNER, False, True),
        (Role.COACH, False, False),
        (Role.PARTNER, False, False),
        (Role.PARTNER, True, True),
    ],
)
def test_phi_rows_are_visible_only_to_roles_allowed_phi(two_clinics, org_a, role, phi_access, sees_phi):
    expected = {DataClassification.GENERAL_WELLNESS}
    if sees_phi:
        expected.add(DataClassification.CLINICAL_PHI)
    with as_tenant(org_a, role, phi_access=phi_access):
        classes = set(ClinicalEvent.objects.values_list("data_classification", flat=True))
        history_classes = set(ClinicalEvent.history.values_list("data_classification", flat=True))
    assert classes == expected
    assert history_classes == expected


def test_coach_cannot_write_phi_rows(two_clinics, org_a):
    patient = two_clinics["org-a"]["patient"]
    with as_tenant(org_a, Role.COACH), pytest.raises(ProgrammingError), transaction.atomic():
        ClinicalEventFactory(patient=patient)


def test_context_outside_a_transaction_is_refused():
    with pytest.raises(RuntimeError, match="inside a transaction"):
        context._write_settings(None, "default")


def test_context_set_inside_atomic_is_gone_after_it(org_a):
    with as_tenant(org_a):
        pass
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(current_setting('app.current_org', true), '')")
        # Still inside pytest's wrapping transaction: the nested context restored the empty outer one.
        assert cursor.fetchone() == ("",)


def test_nested_context_restores_the_outer_one(org_a, org_b):
    with as_tenant(org_a):
        with as_tenant(org_b):
            assert set(Organization.objects.values_list("id", flat=True)) == {org_b.id}
        assert set(Organization.objects.values_list("id", flat=True)) == {org_a.id}


def test_history_rows_carry_organization_and_acting_user(org_a):
    user = add_member(org_a, Role.CLINICIAN)
    with as_tenant(org_a, Role.CLINICIAN, user_id=user.pk):
        patient = PatientFactory()
        patient_services.patient_update(patient=patient, family_name="Renamed")
        records = list(patient.history.order_by("history_date"))
    assert [r.history_type for r in records] == ["+", "~"]
    assert {r.organization_id for r in records} == {org_a.id}
    assert {r.history_user_id for r in records} == {user.pk}


def test_history_rows_record_the_partner_key(org_a):
    issue_key(org_a)
    with as_tenant(org_a):
        key = APIKey.objects.get()
    with as_tenant(org_a, Role.PARTNER, api_key_id=key.pk):
        patient = PatientFactory()
        record = patient.history.get()
    assert record.history_api_key_id == key.pk
    assert record.history_user_id is None


def test_history_cannot_be_rewritten_by_the_runtime_role(org_a):
    with as_tenant(org_a):
        PatientFactory()
        with pytest.raises(ProgrammingError, match="permission denied"), transaction.atomic():
            Patient.history.update(family_name="Forged")
