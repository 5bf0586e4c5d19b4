"""The patient's chart: header and sections, each as the role may see it; another organization's patient is
absent; the number of queries does not grow with the patient's record; the timeline reads in plain words."""

from __future__ import annotations

import re
import uuid
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apps.clinical.models import HealthEvent
from apps.clinical.timeline.wording import health_event_words
from apps.organizations.roles import Role
from apps.patients.models import Patient
from apps.patients.services import consent_record
from tests.conftest import add_member, as_tenant, logged_in, phi_access_log
from tests.factories import PatientFactory
from tests.scheduling.factories import make_clinic

from .chart_support import ago, fill_chart

CLINICAL_SECTIONS = {"problems", "medications", "allergies", "vitals", "notes", "assessments", "flags"}


def chart_url(patient: Patient) -> str:
    return reverse("admin:patients_patient_change", args=[patient.pk])


def section_ids(html: str) -> list[str]:
    return re.findall(r'<section class="kura-panel kura-chart-section module" id="([a-z-]+)"', html)


def section(html: str, anchor: str) -> str:
    start = html.index(f'id="{anchor}"')
    return html[start : html.index("</section>", start)]


@pytest.fixture
def clinic(org_a):
    return make_clinic(org_a)


@pytest.fixture
def other_clinic(org_b):
    return make_clinic(org_b, zone_name="Europe/Berlin")


def test_a_clinician_opens_the_chart_with_header_and_every_section(clinic):
    data = fill_chart(clinic, size=2, given_name="Mateo", date_of_birth=ago(days=365 * 40 + 20).date())
    page = logged_in(clinic.provider_user).get(chart_url(data.patient))
    html = page.content.decode()

    assert page.status_code == 200
    assert section_ids(html) == [
        "flags",
        "problems",
        "medications",
        "allergies",
        "vitals",
        "notes",
        "clinical-summary",
        "appointments",
        "timeline",
        "assessments",
        "biomarkers",
        "billing",
    ]
    start = html.index('<header class="kura-chart-header"')
    header = html[start : html.index("</header>", start)]
    assert "<h1>Okafor, Mateo</h1>" in header
    assert "<dt>Age</dt><dd>40 (born" in header
    assert "<dt>Gender identity</dt><dd>Non-binary</dd>" in header
    assert f"<dt>MRN</dt><dd>{data.patient.mrn}</dd>" in header
    assert "<dt>Allergies</dt><dd>Penicillin 0 (Severe); Penicillin 1 (Severe)</dd>" in header
    assert "PHQ-9 item 9 (thoughts of self-harm) answered above 0" in header
    assert 'href="#flags"' in header
    assert reverse("admin:patients_patient_demographics", args=[data.patient.pk]) in header
    assert "F41.1</strong> Generalized anxiety disorder" in section(html, "problems")
    assert "Sertraline 0 50 mg" in section(html, "medications")
    vitals = section(html, "vitals")
    assert "<strong>120/80 mmHg</strong>" in vitals
    assert "121/81 mmHg" in vitals
    assert vitals.count('<svg class="kura-sparkline"') == 2  # blood pressure and heart rate
    notes = section(html, "notes")
    assert notes.count("SOAP note</a>") == 2
    assert "Signed " in notes
    assert "+ 1 addendum" in notes
    assert "Panic attacks, review" in section(html, "appointments")
    assessments = section(html, "assessments")
    assert "<strong>PHQ-9</strong>: score 9 of 27, mild" in assessments
    assert (
        "Thoughts that you would be better off dead, or of hurting yourself in some way"
        " — <strong>1</strong> (Several days)" in assessments
    )
    assert "14.0000" not in html
    assert "Mood: anxious, confidence 7/10: Busy week" in section(html, "timeline")
    assert "Symptoms: bloating, nausea, severity 3/10" in section(html, "timeline")
    assert "[&#x27;bloating&#x27;" not in html


def test_the_chart_logs_each_kind_of_phi_record_it_shows(clinic, org_b):
    data = fill_chart(clinic, size=1)
    user = clinic.provider_user
    logged_in(user).get(chart_url(data.patient))

    path = chart_url(data.patient)
    logged = {(row[1], row[2]) for row in phi_access_log(clinic.org) if row[0] == data.patient.pk and row[3] == path}
    # Clinical record rows: a problem, a medication, two vitals (blood pressure, heart rate), an allergy, and the
    # two PHI events of the summary (the wellness one is not PHI). Timeline: the PHQ-9's event alone (mood and
    # symptom check-ins are wellness). Biomarkers: the one day of voice depression scores (steps are wellness).
    assert logged == {
        ("patient", 1),
        ("consent", 1),
        ("clinical_event", 7),
        ("encounter", 1),
        ("clinical_note", 1),
        ("appointment", 2),
        ("health_event", 1),
        ("assessment", 1),
        ("biomarker_reading", 1),
    }
    assert phi_access_log(org_b) == []


def test_a_coach_gets_wellness_sections_only(clinic):
    data = fill_chart(clinic, size=2)
    html = logged_in(clinic.coach_user).get(chart_url(data.patient)).content.decode()

    assert set(section_ids(html)) & CLINICAL_SECTIONS == set()
    assert set(section_ids(html)) == {"clinical-summary", "timeline", "biomarkers"}
    for hidden in (
        "Penicillin",
        "Allergies",
        "Sertraline",
        "F41.1",
        "PHQ-9",
        "SOAP",
        "Panic attacks",
        "Voice depression",
    ):
        assert hidden not in html, hidden
    assert "Diagnostic assessment" not in html
    assert data.wellness_event_name in section(html, "clinical-summary")
    assert "Mood: anxious, confidence 7/10" in section(html, "timeline")
    assert "Steps" in section(html, "biomarkers")


def test_billing_and_front_desk_see_what_their_permissions_allow(clinic):
    data = fill_chart(clinic, size=1)
    billing = logged_in(add_member(clinic.org, Role.BILLING)).get(chart_url(data.patient)).content.decode()
    desk = logged_in(add_member(clinic.org, Role.FRONT_DESK)).get(chart_url(data.patient)).content.decode()

    # The clinical record yes (both may read it), notes, the timeline and assessments no (clinicians' alone).
    clinical_record = ["problems", "medications", "allergies", "vitals", "clinical-summary", "appointments"]
    assert section_ids(billing) == [*clinical_record, "biomarkers", "billing"]
    assert section_ids(desk) == [*clinical_record, "biomarkers", "billing"]
    assert "PHQ-9 item 9" not in billing


def test_another_organizations_patient_is_a_404_and_nothing_of_it_appears(clinic, other_clinic, org_b):
    mine = fill_chart(clinic, size=1)
    theirs = fill_chart(other_clinic, size=1, family_name="Zabrowski")
    client = logged_in(clinic.provider_user)

    for url in (
        chart_url(theirs.patient),
        reverse("admin:patients_patient_demographics", args=[theirs.patient.pk]),
        chart_url(Patient(pk=uuid.uuid4())),
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert b"Zabrowski" not in response.content
    own = client.get(chart_url(mine.patient)).content.decode()
    assert "Zabrowski" not in own
    assert phi_access_log(org_b) == []


def test_the_chart_takes_as_many_queries_for_a_dense_patient_as_for_a_sparse_one(clinic):
    sparse = fill_chart(clinic, size=1, family_name="Sparse")
    dense = fill_chart(clinic, size=8, family_name="Dense")
    client = logged_in(clinic.provider_user)
    client.get(chart_url(sparse.patient))  # warm caches (sessions, code set)

    counts = []
    for data in (sparse, dense):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(chart_url(data.patient)).status_code == 200
        counts.append(len(queries.captured_queries))

    assert counts[0] == counts[1]


def test_demographics_and_consents_have_their_own_page_that_returns_to_the_chart(clinic):
    data = fill_chart(clinic, size=1)
    client = logged_in(add_member(clinic.org, Role.FRONT_DESK))
    url = reverse("admin:patients_patient_demographics", args=[data.patient.pk])

    page = client.get(url).content.decode()
    chart = client.get(chart_url(data.patient)).content.decode()

    assert 'name="family_name"' in page
    assert "Treatment" in page  # the consents inline
    assert f'href="{chart_url(data.patient)}"' in page
    assert 'name="family_name"' not in chart


def test_chart_period_links_come_back_to_their_section(clinic):
    data = fill_chart(clinic, size=1)
    html = logged_in(clinic.provider_user).get(chart_url(data.patient), {"biomarker_days": "30"}).content.decode()
    biomarkers = section(html, "biomarkers")
    assert '<a href="?biomarker_days=7#biomarkers">7 days</a>' in biomarkers
    assert "<strong>30 days</strong>" in biomarkers


def test_a_missing_or_lapsed_treatment_consent_is_an_alert(clinic):
    client = logged_in(clinic.provider_user)
    with as_tenant(clinic.org):
        none = PatientFactory()
        lapsed = PatientFactory()
        consent_record(
            patient=lapsed, consent_type="treatment", granted=True, granted_at=ago(days=400), expires_at=ago(days=3)
        )
        valid = PatientFactory()
        consent_record(patient=valid, consent_type="treatment", granted=True, granted_at=ago(days=1))

    def alerts(patient: Patient) -> list[str]:
        html = client.get(chart_url(patient)).content.decode()
        return re.findall(r'<li class="kura-chart-alert[^"]*">\s*(.*?)\s*</li>', html, re.S)

    expires = ago(days=3).astimezone(ZoneInfo(clinic.zone_name)).strftime("%m/%d/%Y")
    assert alerts(none) == ["No treatment consent on file."]
    assert alerts(lapsed) == [f"Treatment consent expired on {expires}."]
    assert alerts(valid) == []


@pytest.mark.parametrize(
    ("event_type", "subtype", "data", "words"),
    [
        (
            "mood",
            "daily_checkin",
            {"mood": "anxious", "confidence": 7, "note": "Busy"},
            "Mood: anxious, confidence 7/10: Busy",
        ),
        (
            "symptom",
            "general",
            {"symptoms": ["bloating", "nausea"], "severity": 4},
            "Symptoms: bloating, nausea, severity 4/10",
        ),
        (
            "medication",
            "scheduled",
            {"medication_id": str(uuid.uuid4()), "medication_name": "Sertraline", "status": "taken", "time": "08:00"},
            "Medication: Sertraline taken at 08:00",
        ),
        (
            "assessment",
            "phq9",
            {"response_id": str(uuid.uuid4()), "instrument": "phq9", "total": 14, "severity": "moderate"},
            "PHQ-9 total 14 (moderate)",
        ),
        ("vital", "blood_pressure", {"systolic": 128, "diastolic": 82}, "Blood pressure: 128/82 mmHg"),
        ("treatment", "therapy_session", {"name": "CBT"}, "Therapy session: CBT"),
        ("note", "general", {"text": "Called back"}, "Note: Called back"),
    ],
)
def test_timeline_events_read_in_plain_words(event_type, subtype, data, words):
    event = HealthEvent(event_type=event_type, event_subtype=subtype, event_data=data)
    assert health_event_words(event) == words
    assert "response_id" not in health_event_words(event)


def test_saving_the_demographics_returns_to_the_chart_and_another_clinics_patient_is_untouched(clinic, other_clinic):
    with as_tenant(clinic.org):
        patient = PatientFactory(family_name="Okafor", given_name="Mateo")
    with as_tenant(other_clinic.org):
        theirs = PatientFactory(family_name="Zabrowski")
    client = logged_in(add_member(clinic.org, Role.FRONT_DESK))
    form = {
        "mrn": patient.mrn,
        "status": "active",
        "given_name": "Mateo",
        "family_name": "Okafor",
        "preferred_name": "Teo",
        "date_of_birth": "1980-05-17",
        "sex_at_birth": "male",
        "gender_identity": "",
        "country": "US",
        "consents-TOTAL_FORMS": "0",
        "consents-INITIAL_FORMS": "0",
        "consents-MIN_NUM_FORMS": "0",
        "consents-MAX_NUM_FORMS": "1000",
    }

    saved = client.post(reverse("admin:patients_patient_demographics", args=[patient.pk]), form)
    refused = client.post(reverse("admin:patients_patient_demographics", args=[theirs.pk]), form)

    assert (saved.status_code, saved["Location"]) == (302, chart_url(patient))
    assert refused.status_code == 404
    with as_tenant(clinic.org):
        patient.refresh_from_db()
    with as_tenant(other_clinic.org):
        theirs.refresh_from_db()
    assert patient.preferred_name == "Teo"
    assert (theirs.family_name, theirs.preferred_name) == ("Zabrowski", "")
    chart = client.get(saved["Location"]).content.decode()
    assert "<dt>Preferred name</dt><dd>Teo</dd>" in chart
