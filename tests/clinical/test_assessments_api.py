"""Completing assessments: what is stored, the timeline event, the PHQ-9 item 9 flag, access and bad input."""

import pytest

from apps.clinical.models import AssessmentDefinition, AssessmentFlag, AssessmentResponse, HealthEvent
from apps.clinical.timeline import services
from apps.organizations.roles import Role
from tests.conftest import api_client, as_tenant, logged_in
from tests.factories import PatientFactory

from .timeline_support import clinics_fixture  # noqa: F401

PHQ9_MODERATE = [3, 3, 2, 2, 1, 1, 1, 1, 0]  # 14, item 9 = 0


def url(patient):
    return f"/api/v1/patients/{patient.pk}/assessments/"


def counts(org):
    with as_tenant(org):
        return (AssessmentResponse.objects.count(), HealthEvent.objects.count(), AssessmentFlag.objects.count())


def test_completed_phq9_stores_answers_total_severity_and_appears_on_the_timeline(clinics):
    a = clinics["org-a"]
    client = logged_in(a["clinician"])

    response = client.post(
        url(a["patient"]), {"instrument": "phq9", "answers": PHQ9_MODERATE}, content_type="application/json"
    )

    assert response.status_code == 201
    body = response.json()
    assert (
        body["instrument"],
        body["answers"],
        body["total"],
        body["severity"],
        body["subscales"],
        body["flagged"],
    ) == (
        "phq9",
        PHQ9_MODERATE,
        14,
        "moderate",
        {},
        False,
    )
    with as_tenant(a["org"]):
        stored = AssessmentResponse.objects.get(pk=body["id"])
        event = stored.health_event
        assert (stored.answers, stored.total, stored.severity, stored.data_classification) == (
            PHQ9_MODERATE,
            14,
            "moderate",
            "CLINICAL_PHI",
        )
        assert (event.event_type, event.event_subtype, event.data_classification, event.occurred_at) == (
            "assessment",
            "phq9",
            "CLINICAL_PHI",
            stored.completed_at,
        )
        assert event.event_data == {
            "response_id": body["id"],
            "instrument": "phq9",
            "total": 14,
            "severity": "moderate",
        }
        assert not AssessmentFlag.objects.filter(response=stored).exists()
    timeline = client.get(f"/api/v1/patients/{a['patient'].pk}/health-events/?type=assessment").json()
    assert timeline["results"][0]["id"] == str(event.pk)


def test_phq4_response_stores_its_subscales(clinics):
    a = clinics["org-a"]
    with as_tenant(a["org"]):
        stored = services.assessment_complete(patient=a["patient"], instrument="phq4", answers=[2, 1, 1, 0])
    assert (stored.total, stored.severity, stored.subscales) == (
        4,
        "mild",
        {"anxiety": {"score": 3, "band": "positive"}, "depression": {"score": 1, "band": "negative"}},
    )


def test_phq9_item_9_above_zero_raises_a_flag_shown_on_the_patient_page_and_in_the_review_list(clinics):
    a = clinics["org-a"]
    client = logged_in(a["clinician"])
    with as_tenant(a["org"]):
        other = PatientFactory(mrn="FLAG-ME")

    response = client.post(
        url(other), {"instrument": "phq9", "answers": [0, 0, 0, 0, 0, 0, 0, 0, 2]}, content_type="application/json"
    )

    assert response.status_code == 201
    assert response.json()["flagged"] is True
    with as_tenant(a["org"]):
        flag = AssessmentFlag.objects.get(patient=other)
    assert (str(flag.response_id), flag.reason, flag.reviewed_at) == (response.json()["id"], "phq9_item9", None)

    open_flags = client.get("/api/v1/assessment-flags/").json()["results"]
    assert {f["patient_id"] for f in open_flags} == {str(other.pk), str(a["patient"].pk)}  # fixture's PHQ-9 too

    page = client.get(f"/admin/patients/patient/{other.pk}/change/").content.decode()
    assert "Needs review" in page
    assert "PHQ-9 item 9 (thoughts of self-harm) answered above 0" in page
    review_list = client.get("/admin/clinical/assessmentflag/").content.decode()
    assert "· FLAG-ME<" in review_list
    assert "· SAME-1<" in review_list

    review = {"action": "contacted_patient", "comment": "Called; safe, seen tomorrow."}
    reviewed = client.post(f"/api/v1/assessment-flags/{flag.pk}/review/", review, content_type="application/json")
    assert reviewed.status_code == 200
    assert reviewed.json()["reviewed_at"] is not None
    assert reviewed.json()["reviewed_by_id"] == a["clinician"].pk
    assert (reviewed.json()["review_action"], reviewed.json()["review_comment"]) == (
        "contacted_patient",
        "Called; safe, seen tomorrow.",
    )
    assert {f["patient_id"] for f in client.get("/api/v1/assessment-flags/").json()["results"]} == {
        str(a["patient"].pk)
    }
    assert "· FLAG-ME<" not in client.get("/admin/clinical/assessmentflag/").content.decode()
    assert "Needs review" not in client.get(f"/admin/patients/patient/{other.pk}/change/").content.decode()


def test_item_9_at_zero_raises_no_flag_and_gad7_never_flags(clinics):
    a = clinics["org-a"]
    with as_tenant(a["org"]):
        before = AssessmentFlag.objects.count()
        services.assessment_complete(patient=a["patient"], instrument="phq9", answers=[3] * 8 + [0])
        services.assessment_complete(patient=a["patient"], instrument="gad7", answers=[3] * 7)
        assert AssessmentFlag.objects.count() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"instrument": "phq9", "answers": [1] * 8}, "answers"),
        ({"instrument": "phq9", "answers": [1] * 8 + [4]}, "answers"),
        ({"instrument": "gad7", "answers": [1, 1, 1, -1, 1, 1, 1]}, "answers"),
        ({"instrument": "phq4", "answers": [1, 1, "x", 1]}, "answers"),
        ({"instrument": "phq4"}, "answers"),
        ({"instrument": "bdi", "answers": [1, 1, 1, 1]}, "instrument"),
        ({"instrument": "phq4", "answers": [1, 1, 1, 1], "completed_at": "2099-01-01T00:00:00Z"}, "completed_at"),
    ],
)
def test_bad_assessment_input_is_a_400_naming_the_field_and_stores_nothing(clinics, body, field):
    a = clinics["org-a"]
    before = counts(a["org"])

    response = logged_in(a["clinician"]).post(url(a["patient"]), body, content_type="application/json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]
    assert counts(a["org"]) == before


def test_custom_assessment_is_defined_per_organization_and_scored_by_its_bands(clinics):
    a, b = clinics["org-a"], clinics["org-b"]
    client = logged_in(a["clinician"])
    definition = {
        "code": "sleep-check",
        "name": "Sleep check",
        "items": ["Trouble falling asleep", "Waking during the night", "Tired on waking"],
        "min_answer": 0,
        "max_answer": 4,
        "bands": [{"min": 0, "max": 5, "label": "fine"}, {"min": 6, "max": 12, "label": "poor"}],
    }

    created = client.post("/api/v1/assessments/instruments/", definition, content_type="application/json")
    low = client.post(
        url(a["patient"]), {"instrument": "sleep-check", "answers": [2, 2, 1]}, content_type="application/json"
    )
    high = client.post(
        url(a["patient"]), {"instrument": "sleep-check", "answers": [2, 2, 2]}, content_type="application/json"
    )
    in_b = logged_in(b["clinician"]).post(
        url(b["patient"]), {"instrument": "sleep-check", "answers": [2, 2, 2]}, content_type="application/json"
    )

    assert created.status_code == 201
    assert [(r.status_code, r.json().get("total"), r.json().get("severity")) for r in (low, high)] == [
        (201, 5, "fine"),
        (201, 6, "poor"),
    ]
    assert in_b.status_code == 400
    assert in_b.json()["error"]["fields"] == {"instrument": ["Unknown assessment."]}
    codes = [i["code"] for i in client.get("/api/v1/assessments/instruments/").json()["results"]]
    assert codes == ["phq4", "gad7", "phq9", "sleep-check"]
    with as_tenant(a["org"]):
        event = HealthEvent.objects.get(pk=AssessmentResponse.objects.get(pk=high.json()["id"]).health_event_id)
        assert (event.event_subtype, event.event_data["instrument"]) == ("custom", "sleep-check")
    with as_tenant(b["org"]):
        assert not AssessmentDefinition.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"bands": [{"min": 0, "max": 5, "label": "fine"}]}, "bands"),
        ({"code": "phq9"}, "code"),
        ({"items": []}, "items"),
        ({"max_answer": 0}, "max_answer"),
    ],
)
def test_bad_custom_definitions_are_refused_naming_the_field(clinics, change, field):
    a = clinics["org-a"]
    definition = {
        "code": "mine",
        "name": "Mine",
        "items": ["One", "Two"],
        "max_answer": 3,
        "bands": [{"min": 0, "max": 6, "label": "any"}],
    } | change
    response = logged_in(a["clinician"]).post(
        "/api/v1/assessments/instruments/", definition, content_type="application/json"
    )
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]
    with as_tenant(a["org"]):
        assert not AssessmentDefinition.objects.exists()


def test_coach_can_neither_complete_nor_read_assessments(clinics):
    a = clinics["org-a"]
    client = logged_in(a["coach"])
    before = counts(a["org"])

    posted = client.post(
        url(a["patient"]), {"instrument": "phq4", "answers": [0, 0, 0, 0]}, content_type="application/json"
    )

    assert posted.status_code == 403
    assert client.get(url(a["patient"])).status_code == 403
    assert counts(a["org"]) == before
    with as_tenant(a["org"], Role.COACH):
        assert AssessmentResponse.objects.count() == 0
        assert AssessmentFlag.objects.count() == 0
        assert not HealthEvent.objects.filter(event_type="assessment").exists()


def test_partners_read_assessments_only_with_phi_access(clinics):
    a = clinics["org-a"]
    plain = api_client(a["key"]).get(url(a["patient"]))
    phi = api_client(a["phi_key"]).get(url(a["patient"]))
    no_scope = api_client(a["patients_key"]).get(url(a["patient"]))
    written = api_client(a["key"]).post(
        url(a["patient"]), {"instrument": "phq4", "answers": [0] * 4}, content_type="application/json"
    )

    assert (plain.status_code, plain.json()["results"]) == (200, [])
    assert [r["id"] for r in phi.json()["results"]] == [str(a["response"].pk)]
    assert no_scope.status_code == 403
    assert written.status_code == 403


def test_another_organizations_patient_and_flags_are_invisible(clinics):
    a, b = clinics["org-a"], clinics["org-b"]
    client = logged_in(a["clinician"])
    with as_tenant(b["org"]):
        b_flag = AssessmentFlag.objects.get()

    assert client.get(url(b["patient"])).status_code == 404
    assert (
        client.post(
            url(b["patient"]), {"instrument": "phq4", "answers": [0] * 4}, content_type="application/json"
        ).status_code
        == 404
    )
    assert str(b["patient"].pk) not in {
        f["patient_id"] for f in client.get("/api/v1/assessment-flags/").json()["results"]
    }
    review = {"action": "contacted_patient", "comment": "Called."}
    assert (
        client.post(
            f"/api/v1/assessment-flags/{b_flag.pk}/review/", review, content_type="application/json"
        ).status_code
        == 404
    )
    with as_tenant(b["org"]):
        assert AssessmentFlag.objects.get().reviewed_at is None
        assert AssessmentResponse.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "shrugged", "comment": "x"}, "action"),
        ({"action": "contacted_patient"}, "comment"),
        ({"action": "contacted_patient", "comment": "   "}, "comment"),
        ({}, "action"),
    ],
)
def test_a_review_needs_an_action_and_a_comment_and_a_refused_one_changes_nothing(clinics, body, field):
    a = clinics["org-a"]
    with as_tenant(a["org"]):
        flag = AssessmentFlag.objects.get()
    response = logged_in(a["clinician"]).post(
        f"/api/v1/assessment-flags/{flag.pk}/review/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    with as_tenant(a["org"]):
        assert AssessmentFlag.objects.values_list("reviewed_at", "review_action", "review_comment").get() == (
            None,
            "",
            "",
        )


def test_a_flag_is_reviewed_once(clinics):
    a = clinics["org-a"]
    client = logged_in(a["clinician"])
    with as_tenant(a["org"]):
        flag = AssessmentFlag.objects.get()
    review = {"action": "safety_plan", "comment": "Safety plan updated."}
    path = f"/api/v1/assessment-flags/{flag.pk}/review/"
    assert client.post(path, review, content_type="application/json").status_code == 200
    again = client.post(path, {"action": "no_current_risk", "comment": "Later."}, content_type="application/json")
    assert again.status_code == 400
    assert again.json()["error"]["fields"] == {"flag": ["This flag has been reviewed already."]}
    with as_tenant(a["org"]):
        assert AssessmentFlag.objects.values_list("review_action", "review_comment").get() == (
            "safety_plan",
            "Safety plan updated.",
        )
