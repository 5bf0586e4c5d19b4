"""The chart's timeline, adherence and assessment panels (with the score trend), admin lists, demo data."""

import io
import uuid

import pytest
from django.core.management import call_command

from apps.clinical.models import AssessmentFlag, AssessmentResponse, HealthEvent
from apps.clinical.timeline import scoring, services
from apps.clinical.timeline.trend import score_trend_svg
from apps.organizations import context
from apps.organizations.management.commands.seed_demo import DEMO_NAMESPACE
from apps.organizations.roles import Role
from apps.patients.demo import DEMO_PATIENTS
from apps.patients.models import Patient
from tests.conftest import as_tenant, logged_in

from .timeline_support import ago, clinics_fixture  # noqa: F401


def page(user, patient):
    response = logged_in(user).get(f"/admin/patients/patient/{patient.pk}/change/")
    assert response.status_code == 200
    return response.content.decode()


def test_clinician_sees_timeline_adherence_and_assessment_history_with_a_trend_picture(clinics):
    a = clinics["org-a"]
    with as_tenant(a["org"]):
        services.assessment_complete(
            patient=a["patient"], instrument="gad7", answers=[2] * 7, completed_at=ago(days=14)
        )
        services.assessment_complete(patient=a["patient"], instrument="gad7", answers=[1] * 7, completed_at=ago(days=7))

    html = page(a["clinician"], a["patient"])

    assert "Health timeline" in html
    assert "Medication adherence, last 7 days" in html
    assert "<strong>100.0%</strong>" in html
    assert "Mood: calm, confidence 7/10" in html
    assert "Medication: dose taken" in html
    assert "Assessments" in html
    assert html.count("<polyline") == 2  # one line per instrument: GAD-7 and PHQ-9
    assert "GAD-7 (latest 7)" in html
    assert "moderately severe" not in html
    assert "needs review" in html  # the fixture's PHQ-9 has item 9 above 0


def test_coach_sees_wellness_events_only_and_no_assessments(clinics):
    a = clinics["org-a"]
    html = page(a["coach"], a["patient"])
    assert "Health timeline" in html
    assert "Mood: calm, confidence 7/10" in html
    assert "Symptoms: fatigue, severity 4/10" in html
    assert "Medication:" not in html
    assert "Medication adherence" not in html
    assert "Assessments" not in html
    assert "Needs review" not in html


def test_billing_and_front_desk_get_no_timeline_panels(clinics):
    a = clinics["org-a"]
    html = page(a["billing"], a["patient"])
    assert "Health timeline" not in html
    assert "Assessments" not in html
    assert "Needs review" not in html


def test_flags_are_reviewed_from_the_admin_list_with_an_action_and_a_comment(clinics):
    a, b = clinics["org-a"], clinics["org-b"]
    with as_tenant(a["org"]):
        flag = AssessmentFlag.objects.get()
    with as_tenant(b["org"]):
        b_flag = AssessmentFlag.objects.get()
    client = logged_in(a["clinician"])
    review_url = f"/admin/clinical/assessmentflag/{flag.pk}/review/"
    assert review_url in client.get("/admin/clinical/assessmentflag/").content.decode()

    refused = client.post(review_url, {"action": "contacted_patient", "comment": ""})
    assert refused.status_code == 200
    assert list(refused.context["form"].errors) == ["comment"]
    other = client.post(
        f"/admin/clinical/assessmentflag/{b_flag.pk}/review/", {"action": "safety_plan", "comment": "x"}
    )
    assert other.status_code == 404
    response = client.post(review_url, {"action": "contacted_patient", "comment": "Called; safe."})

    assert response.status_code == 302
    with as_tenant(a["org"]):
        flag.refresh_from_db()
        assert (flag.reviewed_at is not None, flag.reviewed_by_id) == (True, a["clinician"].pk)
        assert (flag.review_action, flag.review_comment) == ("contacted_patient", "Called; safe.")
    with as_tenant(b["org"]):
        b_flag.refresh_from_db()
        assert b_flag.reviewed_at is None
    assert "· SAME-1<" not in client.get("/admin/clinical/assessmentflag/").content.decode()
    assert "· SAME-1<" in client.get("/admin/clinical/assessmentflag/?status=reviewed").content.decode()


def test_the_trend_picture_scales_each_score_to_its_instrument_maximum():
    svg = score_trend_svg(
        [("phq9", ago(days=2), 27, scoring.PHQ9.max_total), ("phq9", ago(days=1), 0, scoring.PHQ9.max_total)],
        title="Scores",
    )
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" role="img"')
    # Plot area runs from y=15 (maximum) to y=190 (zero); x from 40 to 510.
    assert '<polyline points="40.0,15.0 510.0,190.0"' in svg
    assert score_trend_svg([], title="Scores") == ""


def test_health_event_admin_is_read_only_and_filtered_by_role(clinics):
    a = clinics["org-a"]
    clinician = logged_in(a["clinician"]).get("/admin/clinical/healthevent/").content.decode()
    coach = logged_in(a["coach"]).get("/admin/clinical/healthevent/").content.decode()
    event = a["events"]["mood"]

    assert "/admin/clinical/healthevent/add/" not in clinician
    assert 'field-event_type">Medication<' in clinician
    assert 'field-event_type">Medication<' not in coach
    assert 'field-event_type">Mood<' in coach
    assert logged_in(a["clinician"]).post(f"/admin/clinical/healthevent/{event.pk}/delete/").status_code == 403
    assert logged_in(a["coach"]).get("/admin/clinical/assessmentflag/").status_code == 403


@pytest.mark.usefixtures("committed")
def test_seed_demo_adds_weeks_of_timeline_and_assessments():
    call_command("seed_demo", "--json", stdout=io.StringIO())
    call_command("seed_demo", "--json", stdout=io.StringIO())  # idempotent: nothing is added twice
    with context.tenant_context(uuid.uuid5(DEMO_NAMESPACE, "harbor"), Role.OWNER):
        patients = Patient.objects.count()
        moods = HealthEvent.objects.filter(event_type="mood").count()
        doses = HealthEvent.objects.filter(event_type="medication").count()
        responses = set(AssessmentResponse.objects.values_list("instrument", flat=True))
        flags = AssessmentFlag.objects.count()
        span = HealthEvent.objects.order_by("occurred_at").first(), HealthEvent.objects.order_by("-occurred_at").first()
    assert patients == len(DEMO_PATIENTS)
    assert moods == len(DEMO_PATIENTS) * 42
    assert doses == len(DEMO_PATIENTS) * 42 * 2
    assert responses == {"phq4", "gad7", "phq9"}
    assert flags == 1
    assert (span[1].occurred_at - span[0].occurred_at).days >= 41
