"""Request-level isolation, with real commits (no wrapping test transaction).

These run under the `committed` fixture: if the middleware set the context outside the request's
transaction, `set_config(..., true)` would do nothing and these requests would see no rows at all.
"""

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.biomarkers.models import BiomarkerLog
from apps.clinical.models import ClinicalEvent, HealthEvent
from apps.organizations.middleware import ACTIVE_ORGANIZATION_SESSION_KEY
from apps.organizations.roles import DataClassification, Role
from apps.patients.models import Patient
from tests.biomarkers.factories import reading
from tests.conftest import add_member, api_client, as_tenant, issue_key, logged_in, make_organization
from tests.factories import ClinicalEventFactory, PatientFactory

pytestmark = pytest.mark.usefixtures("committed")


@pytest.fixture
def clinics():
    """Two organizations with a patient each (same MRN), PHI and wellness events, staff and keys."""
    data = {}
    for slug in ("org-a", "org-b"):
        org = make_organization(slug)
        with as_tenant(org):
            patient = PatientFactory(mrn="SAME-MRN", family_name=f"Family-{slug}")
            phi = ClinicalEventFactory(patient=patient, event_name=f"PHI event {slug}")
            wellness = ClinicalEventFactory(
                patient=patient,
                event_name=f"Wellness event {slug}",
                data_classification=DataClassification.GENERAL_WELLNESS,
            )
        data[slug] = {
            "org": org,
            "patient": patient,
            "phi": phi,
            "wellness": wellness,
            "owner": add_member(org, Role.OWNER),
            "coach": add_member(org, Role.COACH),
            "key": issue_key(org),
        }
    return data


def snapshot(org):
    """Org B's data as the owner role sees it from a separate transaction."""
    with as_tenant(org):
        return (
            sorted(Patient.objects.values_list("id", "mrn", "family_name", "deleted_at")),
            ClinicalEvent.objects.count(),
        )


def clients(clinics, slug):
    return [logged_in(clinics[slug]["owner"]), api_client(clinics[slug]["key"])]


@pytest.mark.parametrize("kind", ["session", "api_key"])
def test_list_and_detail_show_only_the_requesting_organization(clinics, kind):
    client = clients(clinics, "org-a")[0 if kind == "session" else 1]
    response = client.get("/api/v1/patients/")
    assert response.status_code == 200
    assert [p["id"] for p in response.json()["results"]] == [str(clinics["org-a"]["patient"].pk)]

    b_patient = clinics["org-b"]["patient"]
    assert client.get(f"/api/v1/patients/{b_patient.pk}/").status_code == 404
    assert client.get(f"/api/v1/patients/{clinics['org-a']['patient'].pk}/").status_code == 200


@pytest.mark.parametrize("kind", ["session", "api_key"])
def test_update_and_delete_of_another_organizations_row_is_404_and_changes_nothing(clinics, kind):
    client = clients(clinics, "org-a")[0 if kind == "session" else 1]
    b_patient = clinics["org-b"]["patient"]
    before = snapshot(clinics["org-b"]["org"])

    patch = client.patch(
        f"/api/v1/patients/{b_patient.pk}/", data={"family_name": "Hijacked"}, content_type="application/json"
    )
    delete = client.delete(f"/api/v1/patients/{b_patient.pk}/")

    assert (patch.status_code, delete.status_code) == (404, 404)
    assert patch.json() == {
        "error": {"status": 404, "code": "not_found", "message": "Not found.", "request_id": patch["X-Request-ID"]}
    }
    assert snapshot(clinics["org-b"]["org"]) == before


def test_requests_commit_their_writes(clinics):
    client = api_client(clinics["org-a"]["key"])
    response = client.post(
        "/api/v1/patients/",
        data={"mrn": "NEW-1", "given_name": "New", "family_name": "Patient", "date_of_birth": "1990-02-03"},
        content_type="application/json",
    )
    assert response.status_code == 201
    with as_tenant(clinics["org-a"]["org"]):
        created = Patient.objects.get(mrn="NEW-1")
        assert created.history.get().history_api_key_id is not None
    with as_tenant(clinics["org-b"]["org"]):
        assert not Patient.objects.filter(mrn="NEW-1").exists()


def test_same_mrn_as_another_organization_is_accepted_and_duplicate_error_reveals_nothing(clinics):
    client = api_client(clinics["org-a"]["key"])
    body = {"mrn": "ONLY-IN-B", "given_name": "X", "family_name": "Y", "date_of_birth": "1990-02-03"}
    api_client(clinics["org-b"]["key"]).post("/api/v1/patients/", data=body, content_type="application/json")

    first = client.post("/api/v1/patients/", data=body, content_type="application/json")
    # Another person with the same MRN (the same person again would also be asked to confirm).
    again = client.post("/api/v1/patients/", data={**body, "given_name": "Z"}, content_type="application/json")

    assert first.status_code == 201
    assert again.status_code == 400
    assert again.json()["error"]["fields"] == {"mrn": ["A patient with this MRN already exists in this organization."]}
    assert "org-b" not in again.content.decode()


def test_a_reused_connection_serves_org_b_right_after_org_a(clinics, settings):
    assert settings.DATABASES["default"]["CONN_MAX_AGE"] > 0
    first = api_client(clinics["org-a"]["key"]).get("/api/v1/patients/")
    backend_after_first = connection.connection
    second = api_client(clinics["org-b"]["key"]).get("/api/v1/patients/")

    assert connection.connection is backend_after_first  # the same physical connection served both
    assert [p["id"] for p in first.json()["results"]] == [str(clinics["org-a"]["patient"].pk)]
    assert [p["id"] for p in second.json()["results"]] == [str(clinics["org-b"]["patient"].pk)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(current_setting('app.current_org', true), '')")
        assert cursor.fetchone() == ("",)  # the context died with the request's transaction


def test_the_request_transaction_sets_the_context_once_and_its_commit_clears_it(clinics):
    with CaptureQueriesContext(connection) as queries:
        response = api_client(clinics["org-a"]["key"]).get("/api/v1/patients/")
    assert response.status_code == 200
    statements = [q["sql"] for q in queries.captured_queries]
    # Set once after the key lookup; not written back before the COMMIT, which discards it anyway.
    assert sum("set_config('app.current_org'" in sql for sql in statements) == 1
    assert statements[-1] == "COMMIT"
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(current_setting('app.current_org', true), '')")
        assert cursor.fetchone() == ("",)


def test_admin_pages_show_only_the_active_organization(clinics):
    client = logged_in(clinics["org-a"]["owner"])
    listing = client.get("/admin/patients/patient/")
    assert listing.status_code == 200
    assert "Family-org-a" in listing.content.decode()
    assert "Family-org-b" not in listing.content.decode()

    b_patient = clinics["org-b"]["patient"]
    # The other organization's patient is absent: its chart and its demographics page alike.
    for page in ("change", "demographics"):
        response = client.get(f"/admin/patients/patient/{b_patient.pk}/{page}/")
        assert response.status_code == 404
        assert "Family-org-b" not in response.content.decode()


def test_coach_sees_wellness_events_but_gets_404_on_a_phi_event(clinics):
    client = logged_in(clinics["org-a"]["coach"])
    listing = client.get("/api/v1/clinical-events/")
    names = [e["event_name"] for e in listing.json()["results"]]
    phi = client.get(f"/api/v1/clinical-events/{clinics['org-a']['phi'].pk}/")

    assert names == ["Wellness event org-a"]
    assert phi.status_code == 404
    owner_names = {
        e["event_name"] for e in logged_in(clinics["org-a"]["owner"]).get("/api/v1/clinical-events/").json()["results"]
    }
    assert owner_names == {"Wellness event org-a", "PHI event org-a"}


def test_coach_gets_404_on_a_phi_row_in_the_admin_too(clinics):
    client = logged_in(clinics["org-a"]["coach"])
    listing = client.get("/admin/clinical/clinicalevent/")
    detail = client.get(f"/admin/clinical/clinicalevent/{clinics['org-a']['phi'].pk}/change/", follow=True)
    assert "PHI event org-a" not in listing.content.decode()
    assert "Wellness event org-a" in listing.content.decode()
    assert "PHI event org-a" not in detail.content.decode()


HOSTILE_SELECTORS = [
    "'; DROP TABLE patients_patient; --",
    "' OR '1'='1",
    "",
    "org-unknown",
    "ORG-B",
    "x" * 200,
]


@pytest.mark.parametrize("selector", HOSTILE_SELECTORS)
def test_hostile_organization_selector_gets_4xx_and_changes_nothing(clinics, selector):
    client = logged_in(clinics["org-a"]["owner"])
    before = snapshot(clinics["org-b"]["org"])

    form = client.post("/account/organization/", {"organization": selector})
    api = client.post("/api/v1/me/organization/", data={"organization": selector}, content_type="application/json")

    assert 400 <= form.status_code < 500
    assert 400 <= api.status_code < 500
    assert "error" in api.json()
    assert ACTIVE_ORGANIZATION_SESSION_KEY not in client.session
    assert client.get("/api/v1/me/").json()["organization"]["slug"] == "org-a"
    assert snapshot(clinics["org-b"]["org"]) == before


def test_another_organizations_uuid_or_slug_is_not_a_valid_selection(clinics):
    client = logged_in(clinics["org-a"]["owner"])
    for selector in (str(clinics["org-b"]["org"].id), "org-b"):
        response = client.post(
            "/api/v1/me/organization/", data={"organization": selector}, content_type="application/json"
        )
        assert 400 <= response.status_code < 500
    assert client.get("/api/v1/me/").json()["organization"]["slug"] == "org-a"


def test_a_member_of_two_organizations_switches_between_them(clinics):
    user = clinics["org-a"]["owner"]
    with as_tenant(clinics["org-b"]["org"]):
        from apps.organizations.services import membership_create

        membership_create(user=user, role=Role.COACH)
    client = logged_in(user)
    switched = client.post("/api/v1/me/organization/", data={"organization": "org-b"}, content_type="application/json")
    me = client.get("/api/v1/me/").json()
    listing = client.get("/api/v1/patients/").json()

    assert switched.status_code == 200
    assert (me["organization"]["slug"], me["role"]) == ("org-b", "coach")
    assert [p["id"] for p in listing["results"]] == [str(clinics["org-b"]["patient"].pk)]


def _well_formed_unknown_key():
    return "kura_0123456789ab_" + "A" * 43


@pytest.mark.parametrize(
    "raw_key",
    [
        "",
        "'; DROP TABLE organizations_apikey; --",
        "kura_' OR 1=1 --",
        "x" * 5000,
        _well_formed_unknown_key(),
    ],
)
def test_hostile_api_keys_get_401_and_change_nothing(clinics, raw_key):
    before = snapshot(clinics["org-b"]["org"])
    response = api_client(raw_key).get("/api/v1/patients/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"
    assert snapshot(clinics["org-b"]["org"]) == before


def test_a_key_with_a_valid_prefix_but_wrong_secret_is_refused(clinics):
    raw = clinics["org-a"]["key"]
    forged = raw[:-4] + ("AAAA" if not raw.endswith("AAAA") else "BBBB")
    assert api_client(forged).get("/api/v1/patients/").status_code == 401


def test_a_revoked_key_is_refused(clinics):
    from apps.organizations.models import APIKey
    from apps.organizations.services import api_key_revoke

    client = api_client(clinics["org-a"]["key"])
    assert client.get("/api/v1/patients/").status_code == 200
    with as_tenant(clinics["org-a"]["org"]):
        for key in APIKey.objects.all():
            api_key_revoke(api_key=key)
    assert client.get("/api/v1/patients/").status_code == 401


def test_key_use_is_recorded_at_most_once_a_minute(clinics):
    from apps.organizations.models import APIKey

    def last_used(slug):
        with as_tenant(clinics[slug]["org"]):
            return APIKey.objects.get().last_used_at

    client = api_client(clinics["org-a"]["key"])
    assert client.get("/api/v1/patients/").status_code == 200
    first = last_used("org-a")
    assert first is not None
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/patients/").status_code == 200
    assert last_used("org-a") == first  # within the minute: no write, and no statement sent for it
    assert not [q for q in queries.captured_queries if "organizations_apikey" in q["sql"]]
    with as_tenant(clinics["org-a"]["org"]):
        APIKey.objects.update(last_used_at=first - timedelta(minutes=2))
    assert client.get("/api/v1/patients/").status_code == 200
    assert last_used("org-a") > first
    assert last_used("org-b") is None


def test_partner_without_scope_is_forbidden(clinics):
    raw = issue_key(clinics["org-a"]["org"], scopes=["billing:read"])
    response = api_client(raw).get("/api/v1/patients/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_partner_read_scope_does_not_allow_writes(clinics):
    raw = issue_key(clinics["org-a"]["org"], scopes=["patients:read"])
    response = api_client(raw).post(
        "/api/v1/patients/",
        data={"mrn": "W-1", "given_name": "A", "family_name": "B", "date_of_birth": "1990-01-01"},
        content_type="application/json",
    )
    assert response.status_code == 403
    with as_tenant(clinics["org-a"]["org"]):
        assert not Patient.objects.filter(mrn="W-1").exists()


def test_api_keys_are_throttled_per_key(clinics, settings):
    settings.API_KEY_RATE = "3/min"
    client = api_client(clinics["org-a"]["key"])
    codes = [client.get("/api/v1/patients/").status_code for _ in range(4)]
    other = api_client(clinics["org-b"]["key"]).get("/api/v1/patients/").status_code
    assert codes == [200, 200, 200, 429]
    assert other == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        # A missing MRN is assigned; one too long is refused.
        ({"mrn": "M" * 33, "given_name": "A", "family_name": "B", "date_of_birth": "1990-01-01"}, "mrn"),
        ({"mrn": "bad mrn!", "given_name": "A", "family_name": "B", "date_of_birth": "1990-01-01"}, "mrn"),
        (
            {"mrn": "OK-1", "given_name": "A", "family_name": "B", "date_of_birth": "2999-01-01"},
            "date_of_birth",
        ),
        (
            {"mrn": "OK-1", "given_name": "A", "family_name": "B", "date_of_birth": "not a date"},
            "date_of_birth",
        ),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(clinics, body, field):
    response = api_client(clinics["org-a"]["key"]).post("/api/v1/patients/", data=body, content_type="application/json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert field in error["fields"]
    assert field in error["message"]
    with as_tenant(clinics["org-a"]["org"]):
        assert Patient.objects.count() == 1


def test_malformed_json_is_a_400(clinics):
    response = api_client(clinics["org-a"]["key"]).post(
        "/api/v1/patients/", data="{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_unknown_api_path_is_a_json_404(clinics):
    response = api_client(clinics["org-a"]["key"]).get("/api/v1/nope/")
    assert response.status_code == 404
    assert json.loads(response.content)["error"]["code"] == "not_found"


def test_anonymous_requests_see_nothing(clinics):
    from django.test import Client

    response = Client().get("/api/v1/patients/")
    assert response.status_code == 401
    assert Client().get("/admin/patients/patient/").status_code == 302


def test_admin_header_offers_only_the_users_own_organizations(clinics):
    user = clinics["org-a"]["owner"]
    with as_tenant(clinics["org-b"]["org"]):
        from apps.organizations.services import membership_create

        membership_create(user=user, role=Role.CLINICIAN)
    client = logged_in(user)
    page = client.get("/admin/").content.decode()
    assert 'value="org-a" selected' in page
    assert 'value="org-b"' in page

    switched = client.post("/account/organization/", {"organization": "org-b", "next": "/admin/"})
    assert switched.status_code == 302
    assert switched["Location"] == "/admin/"
    assert 'value="org-b" selected' in client.get("/admin/").content.decode()

    coach_page = logged_in(clinics["org-a"]["coach"]).get("/admin/").content.decode()
    assert "Clinic org-a" in coach_page
    assert "Clinic org-b" not in coach_page


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        # Free text inside JSON objects, which no DRF text field checks: it used to reach PostgreSQL and fail there.
        (
            "health-events",
            {"event_data": {"mood": "calm", "confidence": 6, "note": "slept\u0000well"}},
            "event_data.note",
        ),
        ("readings", {"raw_payload": {"device": "ring\u0000"}}, "readings[0].raw_payload.device"),
        ("readings", {"source_reading_id": "r-\u00001"}, "readings[0].source_reading_id"),
    ],
)
def test_a_nul_character_anywhere_in_a_json_body_is_a_400_naming_it_and_stores_nothing(clinics, path, body, field):
    org, patient = clinics["org-a"]["org"], clinics["org-a"]["patient"]
    client = api_client(clinics["org-a"]["key"])
    if path == "health-events":
        url = f"/api/v1/patients/{patient.pk}/health-events/"
        payload = {
            "event_type": "mood",
            "event_subtype": "daily_checkin",
            "occurred_at": "2025-03-01T10:00:00Z",
            **body,
        }
    else:
        url = "/api/v1/biomarkers/readings/"
        payload = {"readings": [reading(patient.pk, **body)]}

    response = client.post(url, json.dumps(payload), content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert response.json()["error"]["fields"] == {field: ["Text must not contain the NUL character (U+0000)."]}
    with as_tenant(org):
        assert HealthEvent.objects.count() == 0
        assert BiomarkerLog.objects.count() == 0


def test_the_text_backslash_u0000_is_not_a_nul_and_is_stored_as_sent(clinics):
    org, patient = clinics["org-a"]["org"], clinics["org-a"]["patient"]
    payload = {"readings": [reading(patient.pk, raw_payload={"note": "literally \\u0000"})]}

    response = api_client(clinics["org-a"]["key"]).post(
        "/api/v1/biomarkers/readings/", json.dumps(payload), content_type="application/json"
    )

    assert response.status_code == 201
    with as_tenant(org):
        assert BiomarkerLog.objects.get().raw_payload == {"note": "literally \\u0000"}
