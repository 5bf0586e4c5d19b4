"""Patients: validation, soft delete and restore, consents, encrypted identifiers, access log, retention."""

import json
import logging
from datetime import date, timedelta
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import ProgrammingError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.clinical import services as clinical_services
from apps.clinical.models import AssessmentFlag, AssessmentResponse, ClinicalEvent, HealthEvent, Vital
from apps.clinical.timeline import services as timeline
from apps.organizations import keys
from apps.organizations.models import APIKey
from apps.organizations.roles import Role
from apps.patients import services
from apps.patients.models import Consent, Patient, PHIAccessLog
from tests.conftest import add_member, api_client, as_tenant, issue_key, logged_in, make_organization, phi_access_log
from tests.factories import ClinicalEventFactory, PatientFactory

NOW = timezone.now()
VALID = {"mrn": "A-1", "given_name": "Ada", "family_name": "Quill", "date_of_birth": "1980-02-03"}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"date_of_birth": (date.today() + timedelta(days=1)).isoformat()}, "date_of_birth"),
        ({"date_of_birth": "1850-01-01"}, "date_of_birth"),
        ({"date_of_birth": "03/02/1980"}, "date_of_birth"),
        ({"email": "not-an-email"}, "email"),
        ({"phone": "call me"}, "phone"),
        ({"ssn": "000-12-3456"}, "ssn"),
        ({"sex_at_birth": "unsure"}, "sex_at_birth"),
        ({"country": "USA"}, "country"),
        ({"mrn": "bad mrn!"}, "mrn"),
    ],
)
@pytest.mark.usefixtures("committed")
def test_bad_patient_input_is_a_400_naming_the_field_and_stores_nothing(change, field):
    org = make_organization("org-a")
    client = api_client(issue_key(org))
    response = client.post("/api/v1/patients/", {**VALID, **change}, content_type="application/json")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]
    assert "000-12-3456" not in response.content.decode()
    with as_tenant(org):
        assert not Patient.objects.exists()


@pytest.mark.usefixtures("committed")
def test_duplicate_mrn_is_a_400_in_one_org_but_allowed_in_another():
    org_a, org_b = make_organization("org-a"), make_organization("org-b")
    client_a, client_b = api_client(issue_key(org_a)), api_client(issue_key(org_b))
    assert client_a.post("/api/v1/patients/", VALID, content_type="application/json").status_code == 201
    another_person = {**VALID, "given_name": "Bea"}
    duplicate = client_a.post("/api/v1/patients/", another_person, content_type="application/json")
    assert duplicate.status_code == 400
    assert duplicate.json()["error"]["fields"] == {
        "mrn": ["A patient with this MRN already exists in this organization."]
    }
    assert client_b.post("/api/v1/patients/", VALID, content_type="application/json").status_code == 201


@pytest.mark.usefixtures("committed")
def test_phone_and_ssn_are_normalized_and_the_api_returns_only_the_masked_ssn():
    org = make_organization("org-a")
    client = api_client(issue_key(org))
    body = {**VALID, "phone": "(503) 555-0142", "ssn": "078051121"}
    created = client.post("/api/v1/patients/", body, content_type="application/json").json()
    assert created["phone"] == "+15035550142"
    assert created["ssn_masked"] == "***-**-1121"
    assert "ssn" not in created


@pytest.mark.usefixtures("committed")
def test_soft_delete_hides_and_restore_brings_back_but_not_across_organizations():
    org_a, org_b = make_organization("org-a"), make_organization("org-b")
    client_a, client_b = api_client(issue_key(org_a)), api_client(issue_key(org_b))
    patient_id = client_a.post("/api/v1/patients/", VALID, content_type="application/json").json()["id"]
    assert client_a.delete(f"/api/v1/patients/{patient_id}/").status_code == 204
    assert client_a.get(f"/api/v1/patients/{patient_id}/").status_code == 404
    assert client_b.post(f"/api/v1/patients/{patient_id}/restore/").status_code == 404
    assert client_a.post(f"/api/v1/patients/{patient_id}/restore/").status_code == 200
    assert client_a.get(f"/api/v1/patients/{patient_id}/").status_code == 200


@pytest.mark.usefixtures("committed")
def test_search_by_name_mrn_and_birth_date():
    org_a, org_b = make_organization("org-a"), make_organization("org-b")
    with as_tenant(org_a):
        # Given names fixed: a made-up one such as "Linda" is a near match for "lindq", as it should be.
        PatientFactory(mrn="H-77", family_name="Lindqvist", given_name="Astrid", date_of_birth=date(1984, 3, 14))
        PatientFactory(mrn="H-78", family_name="Okafor", given_name="Mateo", date_of_birth=date(1991, 11, 2))
    with as_tenant(org_b):
        PatientFactory(mrn="H-77", family_name="Lindqvist", date_of_birth=date(1984, 3, 14))
    client = api_client(issue_key(org_a))
    for term in ("lindq", "H-77", "1984-03-14"):
        results = client.get("/api/v1/patients/", {"search": term}).json()["results"]
        assert [r["mrn"] for r in results] == ["H-77"]
    admin = logged_in(add_member(org_a, Role.FRONT_DESK)).get("/admin/patients/patient/", {"q": "1991-11-02"})
    assert b"H-78" in admin.content
    assert b"H-77" not in admin.content


@pytest.mark.parametrize(
    ("fields", "valid"),
    [
        ({"granted": True}, True),
        ({"granted": False}, False),
        ({"granted": True, "expires_at": NOW - timedelta(days=1), "granted_at": NOW - timedelta(days=30)}, False),
        ({"granted": True, "expires_at": NOW + timedelta(days=1)}, True),
        ({"granted": True, "granted_at": NOW + timedelta(days=1), "expires_at": NOW + timedelta(days=9)}, False),
        ({"granted": True, "revoked_at": NOW - timedelta(minutes=1), "granted_at": NOW - timedelta(days=2)}, False),
    ],
)
def test_consent_validity_is_answered_by_one_rule_in_filters_and_annotations(org_a, org_b, fields, valid):
    with as_tenant(org_a):
        patient = PatientFactory()
        consent = Consent.objects.create(
            patient=patient, consent_type="treatment", **{"granted_at": NOW - timedelta(days=1), **fields}
        )
        assert Consent.objects.valid_at(NOW).filter(pk=consent.pk).exists() is valid
        assert Consent.objects.with_validity(NOW).get(pk=consent.pk).is_valid is valid
    with as_tenant(org_b):
        assert not Consent.objects.exists()


@pytest.mark.usefixtures("committed")
def test_consents_are_recorded_and_revoked_through_the_api():
    org = make_organization("org-a")
    client = logged_in(add_member(org, Role.FRONT_DESK))
    patient_id = client.post("/api/v1/patients/", VALID, content_type="application/json").json()["id"]
    created = client.post(
        f"/api/v1/patients/{patient_id}/consents/",
        {"consent_type": "telehealth", "granted": True, "document_reference": "forms/telehealth.pdf"},
        content_type="application/json",
    ).json()
    assert created["valid_now"] is True
    revoked = client.post(f"/api/v1/consents/{created['id']}/revoke/").json()
    assert revoked["valid_now"] is False
    listed = client.get(f"/api/v1/patients/{patient_id}/consents/", {"valid": "false"}).json()["results"]
    assert [c["id"] for c in listed] == [created["id"]]
    bad = client.post(
        f"/api/v1/patients/{patient_id}/consents/",
        {
            "consent_type": "telehealth",
            "granted": True,
            "granted_at": "2026-01-02T00:00:00Z",
            "expires_at": "2026-01-01T00:00:00Z",
        },
        content_type="application/json",
    )
    assert bad.status_code == 400


@pytest.mark.usefixtures("committed")
def test_ssn_is_ciphertext_in_the_table_and_history_and_rotation_reencrypts_everything(settings):
    org = make_organization("org-a")
    with as_tenant(org):
        patient = services.patient_create(**{**VALID, "date_of_birth": date(1980, 2, 3)}, ssn="078-05-1121")
        services.patient_update(patient=patient, city="Portland")

    def stored():
        with connections["owner"].cursor() as cursor:
            cursor.execute("SELECT ssn FROM patients_patient UNION ALL SELECT ssn FROM patients_historicalpatient")
            return [row[0] for row in cursor.fetchall()]

    before = stored()
    assert len(before) == 3
    assert all("078" not in value and "1121" not in value for value in before)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *settings.FIELD_ENCRYPTION_KEYS]
    out = StringIO()
    call_command("rotate_field_keys", stdout=out)
    assert "Re-encrypted 3 value(s)" in out.getvalue()
    after = stored()
    assert all(new != old for new, old in zip(after, before, strict=True))
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]  # old key retired
    with as_tenant(org):
        assert Patient.objects.get().ssn == "078-05-1121"
        assert {h.ssn for h in Patient.history.all()} == {"078-05-1121"}


def test_the_access_log_is_append_only_for_the_runtime_role(org_a):
    with as_tenant(org_a):
        PHIAccessLog.objects.create(
            role="owner", patient=PatientFactory(), record_type="patient", method="GET", path="/"
        )
        for statement in ("UPDATE patients_phiaccesslog SET path = '/forged'", "DELETE FROM patients_phiaccesslog"):
            with (
                pytest.raises(ProgrammingError, match="permission denied"),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(statement)
        assert PHIAccessLog.objects.get().path == "/"


def test_a_partner_list_page_logs_one_row_per_patient_shown_with_the_key_and_role(org_a, org_b):
    raw_key = issue_key(org_a, phi_access=True)
    with as_tenant(org_a):
        shown = {p.pk for p in PatientFactory.create_batch(3)}
    with as_tenant(org_b):
        PatientFactory()
    before = timezone.now()
    assert api_client(raw_key).get("/api/v1/patients/?limit=10").status_code == 200
    with as_tenant(org_a):
        rows = list(
            PHIAccessLog.objects.values(
                "organization_id", "patient_id", "api_key_id", "user_id", "role", "method", "path", "record_count",
                "record_type", "accessed_at",
            )
        )  # fmt: skip
        key_id = APIKey.objects.get(prefix=keys.parse_prefix(raw_key)).pk
    assert len(rows) == 3
    assert {row["patient_id"] for row in rows} == shown
    for row in rows:
        assert before <= row.pop("accessed_at") <= timezone.now()
        assert row | {"patient_id": None} == {
            "organization_id": org_a.pk,
            "patient_id": None,
            "api_key_id": key_id,
            "user_id": None,
            "role": "partner_phi",
            "method": "GET",
            "path": "/api/v1/patients/",
            "record_count": 1,
            "record_type": "patient",
        }
    with as_tenant(org_b):
        assert not PHIAccessLog.objects.exists()


@pytest.mark.usefixtures("committed")
def test_the_admin_patient_page_logs_the_read_and_shows_consents_and_clinical_summary():
    org_a, org_b = make_organization("org-a"), make_organization("org-b")
    owner = add_member(org_a, Role.OWNER)
    with as_tenant(org_a):
        patient = PatientFactory()
        services.consent_record(patient=patient, consent_type="treatment", granted=True)
        ClinicalEventFactory(patient=patient, event_name="Initial psychiatric evaluation")
    with as_tenant(org_b):
        other = PatientFactory()
    client = logged_in(owner)
    chart_path = f"/admin/patients/patient/{patient.pk}/change/"
    demographics_path = f"/admin/patients/patient/{patient.pk}/demographics/"
    chart = client.get(chart_path)
    demographics = client.get(demographics_path)
    assert (chart.status_code, demographics.status_code) == (200, 200)
    assert b"Clinical summary" in chart.content
    assert b"Initial psychiatric evaluation" in chart.content
    assert b"Treatment" in demographics.content  # the consents
    for page in ("change", "demographics"):
        assert client.get(f"/admin/patients/patient/{other.pk}/{page}/").status_code == 404  # not found here
    with as_tenant(org_a):
        logged = PHIAccessLog.objects.values_list("patient_id", "record_type", "user_id", "path")
        # The chart logs each kind of record it shows (the demographics, the consent its header checks, the
        # clinical event); the demographics page its patient record.
        assert sorted(logged) == sorted(
            [
                (patient.pk, "patient", owner.pk, chart_path),
                (patient.pk, "clinical_event", owner.pk, chart_path),
                (patient.pk, "consent", owner.pk, chart_path),
                (patient.pk, "patient", owner.pk, demographics_path),
            ]
        )
    log_page = client.get("/admin/patients/phiaccesslog/", {"patient__id__exact": str(patient.pk)})
    assert log_page.status_code == 200
    assert f"/admin/patients/patient/{patient.pk}/change/".encode() in log_page.content
    coach = logged_in(add_member(org_a, Role.COACH))
    assert coach.get("/admin/patients/phiaccesslog/").status_code == 403


@pytest.mark.usefixtures("committed")
def test_purge_is_a_dry_run_by_default_and_removes_only_records_past_retention():
    org_a, org_b = make_organization("org-a"), make_organization("org-b")
    long_ago = NOW - timedelta(days=8 * 365)
    with as_tenant(org_a):
        expired = PatientFactory(mrn="OLD-1")
        clinical_services.clinical_entry_record_manual(
            patient=expired,
            spoke_type="vitals",
            fields={
                "vital_type": "heart_rate",
                "measurement_value": {"value": 60},
                "unit": "bpm",
                "measurement_date": NOW - timedelta(days=1),
            },
        )
        # The timeline hangs on the patient by database-only cascading keys: its history must go too.
        timeline.health_event_record(
            patient=expired,
            event_type="mood",
            event_subtype="daily_checkin",
            event_data={"mood": "calm", "confidence": 7},
            occurred_at=NOW - timedelta(days=2),
        )
        timeline.assessment_complete(patient=expired, instrument="phq9", answers=[1] * 9)
        recent = PatientFactory(mrn="NEW-1")
        kept_active = PatientFactory(mrn="LIVE-1")
    with as_tenant(org_b):
        other_expired = PatientFactory(mrn="OLD-B")
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "UPDATE patients_patient SET deleted_at = %s WHERE id = ANY(%s)", [long_ago, [expired.pk, other_expired.pk]]
        )
        cursor.execute(
            "UPDATE patients_patient SET deleted_at = %s WHERE id = %s", [NOW - timedelta(days=30), recent.pk]
        )

    out = StringIO()
    call_command("purge_expired_records", "--org", "org-a", stdout=out)
    assert "Would remove 1 patients.patient record(s)" in out.getvalue()
    assert "Would remove 1 clinical.vital record(s)" in out.getvalue()
    assert "Would remove 2 clinical.healthevent record(s)" in out.getvalue()
    assert "Would remove 1 clinical.assessmentresponse record(s)" in out.getvalue()
    assert "Would remove 1 clinical.assessmentflag record(s)" in out.getvalue()
    assert "OLD-1" not in out.getvalue()
    with as_tenant(org_a):
        assert Patient.objects.filter(pk=expired.pk).exists()

    call_command("purge_expired_records", "--org", "org-a", "--apply", stdout=StringIO())
    with as_tenant(org_a):
        assert sorted(Patient.objects.values_list("mrn", flat=True)) == ["LIVE-1", "NEW-1"]
        assert not ClinicalEvent.objects.filter(patient_id=expired.pk).exists()
        assert not Vital.history.filter(patient_id=expired.pk).exists()
        assert not Patient.history.filter(id=expired.pk).exists()
        assert not HealthEvent.history.filter(patient_id=expired.pk).exists()
        assert not AssessmentResponse.history.filter(patient_id=expired.pk).exists()
        assert not AssessmentFlag.history.filter(patient_id=expired.pk).exists()
        assert Patient.objects.filter(pk=kept_active.pk).exists()
    with as_tenant(org_b):
        assert Patient.objects.filter(pk=other_expired.pk).exists()  # another organization: not in this run


def test_no_identifier_reaches_the_logs(org_a, caplog):
    caplog.set_level(logging.DEBUG)
    with as_tenant(org_a):
        services.patient_create(**{**VALID, "date_of_birth": date(1980, 2, 3)}, ssn="078-05-1121")
    assert "078-05-1121" not in caplog.text
    assert "Quill" not in caplog.text


@pytest.mark.parametrize(("as_of", "message"), [("2999-01-01", "must not be in the future"), ("soon", "ISO date")])
def test_purge_refuses_an_as_of_date_in_the_future_or_unreadable(db, as_of, message):
    with pytest.raises(CommandError, match=message):
        call_command("purge_expired_records", "--as-of", as_of, "--apply", stdout=StringIO())


@pytest.mark.usefixtures("committed")
def test_the_patient_list_counts_and_orders_active_patients_from_the_partial_name_index():
    """With real statistics (committed rows, VACUUM ANALYZE by the owner), as the runtime role under RLS."""
    org_a, org_b = make_organization("org-a"), make_organization("org-b")
    for organization, size in ((org_a, 3000), (org_b, 500)):
        with as_tenant(organization):
            Patient.objects.bulk_create(
                Patient(mrn=f"P{i:05d}", given_name="Ada", family_name=f"F{i % 97:02d}", date_of_birth=date(1980, 1, 1))
                for i in range(size)
            )
    with as_tenant(org_a):
        Patient.objects.filter(mrn__lt="P00100").update(deleted_at=timezone.now())
    with connections["owner"].cursor() as cursor:
        cursor.execute("VACUUM ANALYZE patients_patient")

    client = logged_in(add_member(org_a, Role.OWNER))
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/patients/?limit=20")
    assert response.status_code == 200
    assert response.json()["count"] == 2900
    count_sql, page_sql = (q["sql"] for q in queries.captured_queries if 'FROM "patients_patient"' in q["sql"])
    assert count_sql.startswith("SELECT COUNT(*)")
    with as_tenant(org_a), connection.cursor() as cursor:
        plans = {}
        for name, statement in (("count", count_sql), ("page", page_sql)):
            cursor.execute("EXPLAIN (FORMAT JSON) " + statement)
            plans[name] = json.dumps(cursor.fetchone()[0])
    assert '"Node Type": "Index Only Scan"' in plans["count"]
    for plan in plans.values():
        assert '"Index Name": "patient_active_name_idx"' in plan
        assert '"Node Type": "Seq Scan"' not in plan
        # The organization comes from the tenant policy alone, as the index condition: no second, explicit
        # organization filter, whose equality with the policy's value PostgreSQL would check in a gating
        # node every counted row passes through.
        assert '"Index Cond": "(organization_id = (InitPlan 1).col1)"' in plan
        assert "One-Time Filter" not in plan


def test_admin_patient_list_page_and_history_write_the_phi_access_log(org_a, org_b):
    with as_tenant(org_a):
        ada, bo = PatientFactory(family_name="Adams"), PatientFactory(family_name="Baker")
    with as_tenant(org_b):
        PatientFactory(family_name="Adams")
    client = logged_in(add_member(org_a, Role.FRONT_DESK))
    with as_tenant(org_a):
        version = ada.history.get()
    pages = {
        "list": "/admin/patients/patient/",
        "page": f"/admin/patients/patient/{ada.pk}/change/",
        "history": f"/admin/patients/patient/{ada.pk}/history/",
        "version": f"/admin/patients/patient/{ada.pk}/history/{version.history_id}/",
    }
    for path in pages.values():
        assert client.get(path).status_code == 200
    logged = phi_access_log(org_a)
    # The list names both patients of this organization, each once; then one row per page of Ada's record.
    assert sorted(logged[:2]) == sorted([(ada.pk, "patient", 1, pages["list"]), (bo.pk, "patient", 1, pages["list"])])
    assert logged[2:] == [(ada.pk, "patient", 1, pages[name]) for name in ("page", "history", "version")]
    assert phi_access_log(org_b) == []
