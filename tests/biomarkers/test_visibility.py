"""Who sees which readings, through real requests with committed transactions: coaches and partners without
PHI access see wellness metrics only, a clinician sees both, another organization sees nothing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from apps.biomarkers import services
from apps.biomarkers.models import BiomarkerLog
from apps.organizations.roles import Role, Scope
from tests.biomarkers.factories import depression_reading, reading
from tests.conftest import add_member, api_client, as_tenant, issue_key, logged_in, make_organization, phi_access_log
from tests.factories import PatientFactory

pytestmark = pytest.mark.usefixtures("committed")

SCOPES = [Scope.BIOMARKERS_READ, Scope.BIOMARKERS_WRITE]


@pytest.fixture
def clinics():
    data = {}
    when = (timezone.now() - dt.timedelta(days=1)).isoformat()
    for slug in ("org-a", "org-b"):
        org = make_organization(slug)
        with as_tenant(org):
            patient = PatientFactory(mrn="SAME-MRN")
            services.biomarker_readings_ingest(
                readings=[
                    reading(patient.pk, source_reading_id=f"{slug}-steps", value_numeric=1200.0, captured_at=when),
                    depression_reading(
                        patient.pk, source_reading_id=f"{slug}-voice", value_numeric=19.0, captured_at=when
                    ),
                ]
            )
        data[slug] = {
            "org": org,
            "patient": patient,
            "clinician": logged_in(add_member(org, Role.CLINICIAN)),
            "coach": logged_in(add_member(org, Role.COACH)),
            "partner": api_client(issue_key(org, scopes=SCOPES)),
            "phi_partner": api_client(issue_key(org, scopes=SCOPES, phi_access=True)),
        }
    return data


def metrics_seen(client, patient):
    latest = client.get(f"/api/v1/biomarkers/patients/{patient.pk}/latest/")
    flagged = client.get("/api/v1/biomarkers/out-of-reference/", {"patient_id": str(patient.pk)})
    series = client.get(f"/api/v1/biomarkers/patients/{patient.pk}/series/", {"metric_type": "voice_depression_score"})
    assert (latest.status_code, flagged.status_code, series.status_code) == (200, 200, 200)
    return (
        sorted(r["metric_type"] for r in latest.json()),
        sorted(r["metric_type"] for r in flagged.json()["results"]),
        [p["value_numeric"] for p in series.json()["points"]],
    )


@pytest.mark.parametrize("who", ["coach", "partner"])
def test_coach_and_partner_without_phi_see_wellness_but_no_phi(clinics, who):
    seen = metrics_seen(clinics["org-a"][who], clinics["org-a"]["patient"])
    assert seen == (["steps"], ["steps"], [])


@pytest.mark.parametrize("who", ["clinician", "phi_partner"])
def test_clinician_and_phi_partner_see_both(clinics, who):
    seen = metrics_seen(clinics["org-a"][who], clinics["org-a"]["patient"])
    assert seen == (["steps", "voice_depression_score"], ["steps", "voice_depression_score"], [19.0])


@pytest.mark.parametrize("who", ["clinician", "phi_partner"])
def test_another_organization_sees_nothing_of_a_patient(clinics, who):
    client = clinics["org-a"][who]
    b_patient = clinics["org-b"]["patient"]
    assert client.get(f"/api/v1/biomarkers/patients/{b_patient.pk}/latest/").status_code == 404
    assert (
        client.get(f"/api/v1/biomarkers/patients/{b_patient.pk}/series/", {"metric_type": "steps"}).status_code == 404
    )
    flagged = client.get("/api/v1/biomarkers/out-of-reference/").json()["results"]
    assert {r["patient_id"] for r in flagged} == {str(clinics["org-a"]["patient"].pk)}
    assert {r["source_reading_id"] for r in flagged} == {"org-a-steps", "org-a-voice"}


def test_patient_page_charts_show_phi_to_a_clinician_only(clinics):
    patient = clinics["org-a"]["patient"]
    url = f"/admin/patients/patient/{patient.pk}/change/"
    clinician_page = clinics["org-a"]["clinician"].get(url, {"biomarker_days": 7})
    coach_page = clinics["org-a"]["coach"].get(url, {"biomarker_days": 7})
    assert clinician_page.status_code == coach_page.status_code == 200
    clinician_html, coach_html = clinician_page.content.decode(), coach_page.content.decode()
    assert clinician_html.count('<svg role="img"') == 2
    assert "Voice depression score (PHQ-9 scale)" in clinician_html
    assert coach_html.count('<svg role="img"') == 1
    assert "Voice depression" not in coach_html
    assert 'class="reference-band"' in coach_html
    # Both readings are outside their reference range (1,200 steps < 5,000; depression 19 > 9).
    assert clinician_html.count('class="out-of-reference"') == 2
    assert "<script" not in clinician_html.split('class="kura-biomarkers"')[1].split("</section>")[0]


@pytest.mark.parametrize("who", ["clinician", "phi_partner"])
def test_reading_phi_readings_writes_the_phi_access_log(clinics, who):
    a, b = clinics["org-a"], clinics["org-b"]
    patient = a["patient"]
    metrics_seen(a[who], patient)  # latest, out-of-reference, raw series of the PHI metric
    day = {"metric_type": "voice_depression_score", "bucket": "day"}
    assert a[who].get(f"/api/v1/biomarkers/patients/{patient.pk}/series/", day).json()["buckets"]
    steps = {"metric_type": "steps", "bucket": "day"}
    assert a[who].get(f"/api/v1/biomarkers/patients/{patient.pk}/series/", steps).json()["buckets"]

    base = "/api/v1/biomarkers"
    series = f"{base}/patients/{patient.pk}/series/"
    # One row per response showing a PHI reading, counting them; the wellness metric's buckets are not logged.
    assert phi_access_log(a["org"]) == [
        (patient.pk, "biomarker_reading", 1, f"{base}/patients/{patient.pk}/latest/"),
        (patient.pk, "biomarker_reading", 1, f"{base}/out-of-reference/"),
        (patient.pk, "biomarker_reading", 1, series),
        (patient.pk, "biomarker_reading", 1, series),
    ]
    assert phi_access_log(b["org"]) == []


@pytest.mark.parametrize("who", ["coach", "partner"])
def test_reading_wellness_readings_only_writes_no_phi_access_log(clinics, who):
    a = clinics["org-a"]
    metrics_seen(a[who], a["patient"])
    day = {"metric_type": "voice_depression_score", "bucket": "day"}
    assert a[who].get(f"/api/v1/biomarkers/patients/{a['patient'].pk}/series/", day).json()["buckets"] == []
    assert phi_access_log(a["org"]) == []


def test_the_admin_page_of_a_phi_reading_writes_the_phi_access_log(clinics):
    a = clinics["org-a"]
    client = logged_in(add_member(a["org"], Role.CLINICIAN))
    with as_tenant(a["org"]):
        readings = {r.metric_type: r for r in BiomarkerLog.objects.all()}
    for metric in ("voice_depression_score", "steps"):
        assert client.get(f"/admin/biomarkers/biomarkerlog/{readings[metric].pk}/change/").status_code == 200
    phi_page = f"/admin/biomarkers/biomarkerlog/{readings['voice_depression_score'].pk}/change/"
    assert phi_access_log(a["org"]) == [(a["patient"].pk, "biomarker_reading", 1, phi_page)]
    assert phi_access_log(clinics["org-b"]["org"]) == []
