"""The clinical API end to end (real commits): nested creation, PHI visibility per role and scope, query counts,
PHI access logging and bad input."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.clinical import services
from apps.clinical.models import ClinicalEvent, Vital
from apps.organizations.roles import DataClassification, Role, Scope
from apps.patients.models import PHIAccessLog
from tests.conftest import add_member, api_client, as_tenant, issue_key, logged_in, make_organization
from tests.factories import PatientFactory

pytestmark = pytest.mark.usefixtures("committed")
NOW = timezone.now()


def bp(systolic=120, diastolic=80):
    return {
        "vital_type": "blood_pressure",
        "measurement_value": {"systolic": systolic, "diastolic": diastolic},
        "unit": "mmHg",
        "measurement_date": (NOW - timedelta(hours=2)).isoformat(),
    }


def payload(patient_id, **overrides):
    body = {
        "patient_id": str(patient_id),
        "event": {
            "activity_type": "observation",
            "clinical_purposes": ["monitoring"],
            "event_name": "BP check",
            "event_date": (NOW - timedelta(hours=2)).isoformat(),
        },
        "details": {"vitals": [bp()], "conditions": [{"condition_name": "Hypertension", "clinical_status": "active"}]},
        "codes": [{"code_system": "icd10cm", "code": "I10", "is_primary": True}],
    }
    return {**body, **overrides}


def make_events(patient, count, classification=DataClassification.CLINICAL_PHI):
    for index in range(count):
        services.clinical_event_create(
            patient=patient,
            event={
                "activity_type": "observation",
                "clinical_purposes": ["monitoring"],
                "event_name": f"Visit {index}",
                "event_date": NOW - timedelta(days=index + 1),
                "data_classification": classification,
            },
            details={
                "vitals": [
                    {
                        "vital_type": "heart_rate",
                        "measurement_value": {"value": 70},
                        "unit": "bpm",
                        "measurement_date": NOW - timedelta(days=index + 1),
                    }
                ],
                "medications": [{"medication_name": "Sertraline"}],
            },
            codes=[{"code_system": "cpt", "code": "99214"}],
        )


@pytest.fixture
def clinics():
    data = {}
    for slug in ("org-a", "org-b"):
        org = make_organization(slug)
        with as_tenant(org):
            patient = PatientFactory(family_name=f"Family-{slug}")
            make_events(patient, 1, DataClassification.CLINICAL_PHI)
            make_events(patient, 1, DataClassification.GENERAL_WELLNESS)
        data[slug] = {"org": org, "patient": patient}
    return data


def test_an_event_with_nested_details_is_created_in_one_request(clinics):
    clinician = add_member(clinics["org-a"]["org"], Role.CLINICIAN)
    response = logged_in(clinician).post(
        "/api/v1/clinical-events/", payload(clinics["org-a"]["patient"].pk), content_type="application/json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["details"]["vitals"][0]["measurement_value"] == {"systolic": 120, "diastolic": 80}
    assert body["details"]["conditions"][0]["condition_name"] == "Hypertension"
    assert body["codes"][0]["code"] == "I10"
    assert body["codes"][0]["display"] == "Essential (primary) hypertension"
    assert body["details"]["medications"] == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"details": {"vitals": [bp(), bp(systolic=20)]}}, "details.vitals[1].measurement_value"),
        ({"details": {"vitals": [bp()], "spaceships": [{}]}}, "details.spaceships"),
        ({"codes": [{"code_system": "cpt", "code": "ABCDE"}]}, "codes[0].code"),
        ({"codes": [{"code_system": "loinc", "code": "2345-6"}]}, "codes[0].code"),
        # Well-formed but not a code of the ICD-10-CM code set.
        ({"codes": [{"code_system": "icd10cm", "code": "Z99.99"}]}, "codes[0].code"),
        (
            {
                "event": {
                    "activity_type": "observation",
                    "clinical_purposes": ["monitoring"],
                    "event_name": "x",
                    "event_date": "1950-01-01T00:00:00Z",
                }
            },
            "event.event_date",
        ),
        (
            {
                "event": {
                    "activity_type": "observation",
                    "clinical_purposes": ["monitoring"],
                    "event_name": "x",
                    "event_date": (NOW + timedelta(days=3)).isoformat(),
                }
            },
            "event.event_date",
        ),
        (
            {
                "event": {
                    "activity_type": "guessing",
                    "clinical_purposes": ["monitoring"],
                    "event_name": "x",
                    "event_date": NOW.isoformat(),
                }
            },
            "event.activity_type",
        ),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(clinics, change, field):
    org = clinics["org-a"]["org"]
    clinician = add_member(org, Role.CLINICIAN)
    with as_tenant(org):
        before = (ClinicalEvent.objects.count(), Vital.objects.count())
    response = logged_in(clinician).post(
        "/api/v1/clinical-events/", payload(clinics["org-a"]["patient"].pk, **change), content_type="application/json"
    )
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    with as_tenant(org):
        assert (ClinicalEvent.objects.count(), Vital.objects.count()) == before


def test_an_oversized_body_is_refused_before_parsing(clinics, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    clinician = add_member(clinics["org-a"]["org"], Role.CLINICIAN)
    body = payload(clinics["org-a"]["patient"].pk)
    body["event"]["event_name"] = "x" * 20_000
    response = logged_in(clinician).post("/api/v1/clinical-events/", body, content_type="application/json")
    assert response.status_code == 400
    with as_tenant(clinics["org-a"]["org"]):
        assert ClinicalEvent.objects.count() == 2


def test_an_event_for_another_organizations_patient_is_a_404_and_stores_nothing(clinics):
    clinician = add_member(clinics["org-a"]["org"], Role.CLINICIAN)
    response = logged_in(clinician).post(
        "/api/v1/clinical-events/", payload(clinics["org-b"]["patient"].pk), content_type="application/json"
    )
    assert response.status_code == 404
    with as_tenant(clinics["org-b"]["org"]):
        assert ClinicalEvent.objects.count() == 2


def _names(response):
    assert response.status_code == 200, response.content
    return sorted(event["data_classification"] for event in response.json()["results"])


@pytest.mark.parametrize(
    ("who", "sees_phi"),
    [("clinician", True), ("coach", False), ("partner_phi", True), ("partner", False)],
)
def test_phi_rows_reach_only_roles_and_keys_allowed_to_read_them(clinics, who, sees_phi):
    org, patient = clinics["org-a"]["org"], clinics["org-a"]["patient"]
    if who.startswith("partner"):
        client = api_client(issue_key(org, phi_access=who == "partner_phi"))
    else:
        client = logged_in(add_member(org, who))
    with as_tenant(org):
        phi_event = ClinicalEvent.objects.get(data_classification=DataClassification.CLINICAL_PHI)
    expected = ["CLINICAL_PHI", "GENERAL_WELLNESS"] if sees_phi else ["GENERAL_WELLNESS"]
    assert _names(client.get("/api/v1/clinical-events/")) == expected
    assert _names(client.get(f"/api/v1/clinical-events/?patient={patient.pk}&detail_type=vitals")) == expected
    assert client.get(f"/api/v1/clinical-events/{phi_event.pk}/").status_code == (200 if sees_phi else 404)
    encounters_or_details = client.get("/api/v1/clinical-events/").json()["results"]
    vital_classes = {v["data_classification"] for e in encounters_or_details for v in e["details"]["vitals"]}
    assert ("CLINICAL_PHI" in vital_classes) is sees_phi
    # Org B's events never appear, whoever asks.
    with as_tenant(clinics["org-b"]["org"]):
        other = ClinicalEvent.objects.first()
    assert client.get(f"/api/v1/clinical-events/{other.pk}/").status_code == 404


def test_staff_history_and_search_views_in_the_admin_hide_phi_from_coaches(clinics):
    org = clinics["org-a"]["org"]
    with as_tenant(org):
        phi_event = ClinicalEvent.objects.get(data_classification=DataClassification.CLINICAL_PHI)
    coach, clinician = logged_in(add_member(org, Role.COACH)), logged_in(add_member(org, Role.CLINICIAN))
    history_url = f"/admin/clinical/clinicalevent/{phi_event.pk}/history/"
    assert clinician.get(history_url).status_code == 200
    assert coach.get(history_url).status_code in (302, 404)
    search = "/admin/clinical/clinicalevent/?q=Visit"
    assert b"Visit 0" in clinician.get(search).content
    coach_page = coach.get(search)
    assert coach_page.status_code == 200
    assert coach_page.content.count(b"Visit 0") == 1  # the wellness event only (both are named "Visit 0")
    assert clinician.get(search).content.count(b"Visit 0") == 2


def test_partner_without_the_clinical_scope_is_refused(clinics):
    client = api_client(issue_key(clinics["org-a"]["org"], scopes=[Scope.PATIENTS_READ], phi_access=True))
    assert client.get("/api/v1/clinical-events/").status_code == 403


def test_listing_events_with_their_details_takes_the_same_queries_for_5_and_50(clinics):
    org, patient = clinics["org-a"]["org"], clinics["org-a"]["patient"]
    client = logged_in(add_member(org, Role.CLINICIAN))
    client.get("/api/v1/clinical-events/")  # session and permission lookups warmed up

    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/api/v1/clinical-events/?limit=50")
        assert response.status_code == 200
        return len(queries), len(response.json()["results"])

    with as_tenant(org):
        make_events(patient, 3)
    small = count_queries()
    with as_tenant(org):
        make_events(patient, 45)
    large = count_queries()
    assert (small[1], large[1]) == (5, 50)
    assert small[0] == large[0]


def test_listing_patients_takes_the_same_queries_for_5_and_50(clinics):
    org = clinics["org-a"]["org"]
    client = api_client(issue_key(org))
    client.get("/api/v1/patients/")

    def count_queries():
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/api/v1/patients/?limit=50")
        return len(queries), response.json()["count"]

    with as_tenant(org):
        PatientFactory.create_batch(4)
    small = count_queries()
    with as_tenant(org):
        PatientFactory.create_batch(45)
    large = count_queries()
    assert (small[1], large[1]) == (5, 50)
    assert small[0] == large[0]


def test_each_read_writes_exactly_one_access_log_row_per_patient(clinics):
    org, patient = clinics["org-a"]["org"], clinics["org-a"]["patient"]
    user = add_member(org, Role.CLINICIAN)
    client = logged_in(user)
    with as_tenant(org):
        event = ClinicalEvent.objects.first()
    client.get(f"/api/v1/clinical-events/{event.pk}/")
    client.get("/api/v1/clinical-events/?limit=50")
    with as_tenant(org):
        rows = list(
            PHIAccessLog.objects.order_by("id").values("user_id", "patient_id", "record_type", "path", "record_count")
        )
    assert rows == [
        {
            "user_id": user.pk,
            "patient_id": patient.pk,
            "record_type": "clinical_event",
            "path": f"/api/v1/clinical-events/{event.pk}/",
            "record_count": 1,
        },
        {
            "user_id": user.pk,
            "patient_id": patient.pk,
            "record_type": "clinical_event",
            "path": "/api/v1/clinical-events/",
            "record_count": 2,
        },
    ]
    with as_tenant(clinics["org-b"]["org"]):
        assert not PHIAccessLog.objects.exists()


def test_manual_entry_endpoint_creates_a_synthetic_event(clinics):
    client = logged_in(add_member(clinics["org-a"]["org"], Role.FRONT_DESK))
    response = client.post(
        f"/api/v1/patients/{clinics['org-a']['patient'].pk}/manual-entries/",
        {"detail_type": "vitals", "values": bp()},
        content_type="application/json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["is_synthetic"] is True
    assert response.json()["clinical_purposes"] == ["self_monitoring"]
    bad = client.post(
        f"/api/v1/patients/{clinics['org-a']['patient'].pk}/manual-entries/",
        {"detail_type": "horoscope", "values": {}},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert "detail_type" in bad.json()["error"]["fields"]


def test_the_admin_event_page_shows_its_detail_rows_inline_editable_only_by_clinical_roles(clinics):
    org = clinics["org-a"]["org"]
    with as_tenant(org):
        wellness = ClinicalEvent.objects.get(data_classification=DataClassification.GENERAL_WELLNESS)
    url = f"/admin/clinical/clinicalevent/{wellness.pk}/change/"
    clinician_page = logged_in(add_member(org, Role.CLINICIAN)).get(url)
    assert clinician_page.status_code == 200
    assert b'name="vitals-0-vital_type"' in clinician_page.content  # an editable inline row
    coach_page = logged_in(add_member(org, Role.COACH)).get(url)
    assert coach_page.status_code == 200
    assert b"Heart rate" in coach_page.content  # the row is shown...
    assert b'name="vitals-0-vital_type"' not in coach_page.content  # ...read-only
