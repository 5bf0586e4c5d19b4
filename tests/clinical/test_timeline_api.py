"""The timeline API: newest first, filters, cursor pages stable under inserts, day summary, access, bad input."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.clinical.models import HealthEvent
from apps.clinical.timeline import services
from tests.conftest import api_client, as_tenant, logged_in, phi_access_log

from .timeline_support import MEDICATION_A, ago, clinics_fixture, dose, mood, symptom  # noqa: F401


def url(patient, suffix=""):
    return f"/api/v1/patients/{patient.pk}/health-events/{suffix}"


def adherence_url(patient):
    return f"/api/v1/patients/{patient.pk}/medication-adherence/"


def ids(response):
    return [e["id"] for e in response.json()["results"]]


def count(org):
    with as_tenant(org):
        return HealthEvent.objects.count()


def test_timeline_is_newest_first_and_filters_by_type_and_time(clinics):
    a = clinics["org-a"]
    events = a["events"]
    client = logged_in(a["clinician"])
    with as_tenant(a["org"]):
        old = mood(a["patient"], ago(days=10))
    assessment = str(a["response"].health_event_id)

    everything = client.get(url(a["patient"]))
    moods_and_symptoms = client.get(url(a["patient"]), {"type": "mood,symptom"})
    repeated = client.get(url(a["patient"]) + "?type=mood&type=medication")
    recent = client.get(url(a["patient"]), {"since": ago(days=1).isoformat()})
    older = client.get(url(a["patient"]), {"until": ago(days=1).isoformat()})

    newest = [assessment, str(events["medication"].pk), str(events["symptom"].pk), str(events["mood"].pk)]
    assert ids(everything) == [*newest, str(old.pk)]
    assert everything.json()["next_cursor"] is None
    assert ids(moods_and_symptoms) == [str(events["symptom"].pk), str(events["mood"].pk), str(old.pk)]
    assert ids(repeated) == [str(events["medication"].pk), str(events["mood"].pk), str(old.pk)]
    assert ids(recent) == newest
    assert ids(older) == [str(old.pk)]
    first = everything.json()["results"][1]
    assert first == {
        "id": str(events["medication"].pk),
        "patient_id": str(a["patient"].pk),
        "event_type": "medication",
        "event_subtype": "scheduled",
        "event_data": {"medication_id": MEDICATION_A, "status": "taken"},
        "occurred_at": first["occurred_at"],
        "recorded_at": first["recorded_at"],
        "source": "staff",
        "data_classification": "CLINICAL_PHI",
        "supersedes_id": None,
    }


def test_cursor_pages_neither_repeat_nor_skip_when_events_arrive_meanwhile(clinics):
    a = clinics["org-a"]
    client = logged_in(a["clinician"])
    same_moment = ago(days=2)
    with as_tenant(a["org"]):
        for hours in range(1, 6):
            mood(a["patient"], ago(days=1, hours=hours))
        for _ in range(3):
            mood(a["patient"], same_moment)  # ties on occurred_at are ordered by id
        expected = [
            str(pk)
            for pk in HealthEvent.objects.filter(patient=a["patient"])
            .order_by("-occurred_at", "-id")
            .values_list("id", flat=True)
        ]

    seen = []
    page = client.get(url(a["patient"]), {"page_size": 3})
    while True:
        seen += ids(page)
        with as_tenant(a["org"]):
            # Concurrent writers: a new event now and one at the moment the pages are crossing.
            mood(a["patient"], timezone.now())
            mood(a["patient"], same_moment)
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
        assert page.json()["next"].endswith(f"cursor={cursor}")
        page = client.get(url(a["patient"]), {"page_size": 3, "cursor": cursor})

    assert len(seen) == len(set(seen))
    assert [pk for pk in seen if pk in expected] == expected


def test_day_summary_counts_types_and_gives_the_latest_mood(clinics):
    a = clinics["org-a"]
    client = logged_in(a["clinician"])
    today_noon = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)
    with as_tenant(a["org"]):
        mood(a["patient"], today_noon + timedelta(hours=8), "sad", 3)
        mood(a["patient"], today_noon + timedelta(hours=20), "hopeful", 8)
        symptom(a["patient"], today_noon + timedelta(hours=9))
        dose(a["patient"], today_noon + timedelta(hours=7), "skipped")
        mood(a["patient"], today_noon - timedelta(days=30), "anxious")  # outside the window

    response = client.get(url(a["patient"], "summary/"), {"days": 7})

    assert response.status_code == 200
    day = next(d for d in response.json()["results"] if d["date"] == today_noon.date().isoformat())
    assert day["counts"] == {"mood": 2, "symptom": 1, "medication": 1}
    assert (day["latest_mood"]["mood"], day["latest_mood"]["confidence"]) == ("hopeful", 8)
    assert [d["date"] for d in response.json()["results"]] == sorted(
        (d["date"] for d in response.json()["results"]), reverse=True
    )
    assert all(d["date"] >= (timezone.now() - timedelta(days=8)).date().isoformat() for d in response.json()["results"])


def test_recording_an_event_and_correcting_it(clinics):
    a = clinics["org-a"]
    client = logged_in(a["clinician"])
    body = {
        "event_type": "symptom",
        "event_subtype": "side_effect",
        "event_data": {"symptoms": ["headache"], "severity": 6, "triggers": ["injection"]},
        "occurred_at": ago(minutes=30).isoformat(),
    }

    created = client.post(url(a["patient"]), body, content_type="application/json")
    corrected = client.post(
        url(a["patient"]),
        body | {"event_data": {"symptoms": ["headache"], "severity": 4}, "supersedes": created.json()["id"]},
        content_type="application/json",
    )

    assert (created.status_code, corrected.status_code) == (201, 201)
    assert created.json()["data_classification"] == "GENERAL_WELLNESS"
    assert corrected.json()["supersedes_id"] == created.json()["id"]
    current = ids(client.get(url(a["patient"]), {"type": "symptom"}))
    everything = ids(client.get(url(a["patient"]), {"type": "symptom", "include_superseded": "true"}))
    assert current == [corrected.json()["id"], str(a["events"]["symptom"].pk)]
    # Both carry the same occurred_at, so their order is by id; the older symptom comes last.
    assert set(everything[:2]) == {created.json()["id"], corrected.json()["id"]}
    assert everything[2:] == [str(a["events"]["symptom"].pk)]


GOOD = {
    "event_type": "mood",
    "event_subtype": "daily_checkin",
    "event_data": {"mood": "calm", "confidence": 6, "note": "slept well"},
}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"event_type": "dream"}, "event_type"),
        ({"event_subtype": "monthly_checkin"}, "event_subtype"),
        ({"event_type": "medication", "event_subtype": "daily_checkin"}, "event_subtype"),
        ({"event_data": {"mood": "calm", "confidence": 12}}, "event_data.confidence"),
        ({"event_data": {"mood": "calm"}}, "event_data.confidence"),
        ({"event_data": {"mood": "calm", "confidence": 6, "extra": 1}}, "event_data.extra"),
        ({"event_data": "calm"}, "event_data"),
        ({"occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at"),
        ({"occurred_at": "yesterday"}, "occurred_at"),
        ({"occurred_at": None}, "occurred_at"),
        ({"source": "fax"}, "source"),
        ({"data_classification": "SECRET"}, "data_classification"),
        ({"supersedes": "00000000-0000-4000-8000-000000000000"}, "supersedes"),
    ],
)
def test_bad_event_input_is_a_400_naming_the_field_and_stores_nothing(clinics, change, field):
    a = clinics["org-a"]
    body = GOOD | {"occurred_at": ago(minutes=5).isoformat()} | change
    if change.get("occurred_at", "") is None:
        del body["occurred_at"]
    before = count(a["org"])

    response = logged_in(a["clinician"]).post(url(a["patient"]), body, content_type="application/json")

    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]
    assert field in response.json()["error"]["message"]
    assert count(a["org"]) == before


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"type": "dream"}, "type"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": 1000}, "page_size"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "until"),
        ({"since": "soon"}, "since"),
    ],
)
def test_bad_timeline_query_is_a_400_naming_the_parameter(clinics, params, field):
    a = clinics["org-a"]
    response = logged_in(a["clinician"]).get(url(a["patient"]), params)
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == [field]


@pytest.mark.parametrize("path", ["health-events/summary/", "medication-adherence/"])
@pytest.mark.parametrize("days", [0, 366, "week"])
def test_bad_window_is_a_400_naming_days(clinics, path, days):
    a = clinics["org-a"]
    response = logged_in(a["clinician"]).get(f"/api/v1/patients/{a['patient'].pk}/{path}", {"days": days})
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["days"]


def test_coach_sees_and_records_wellness_only(clinics):
    a = clinics["org-a"]
    client = logged_in(a["coach"])
    before = count(a["org"])

    listing = client.get(url(a["patient"]))
    wellness = client.post(
        url(a["patient"]), GOOD | {"occurred_at": ago(minutes=1).isoformat()}, content_type="application/json"
    )
    phi = client.post(
        url(a["patient"]),
        {
            "event_type": "medication",
            "event_subtype": "scheduled",
            "event_data": {"medication_id": MEDICATION_A, "status": "taken"},
            "occurred_at": ago(minutes=1).isoformat(),
        },
        content_type="application/json",
    )

    assert ids(listing) == [str(a["events"]["symptom"].pk), str(a["events"]["mood"].pk)]
    assert wellness.status_code == 201
    assert phi.status_code == 403
    assert count(a["org"]) == before + 1
    assert client.get(adherence_url(a["patient"])).status_code == 403


def test_partners_by_scope_and_phi_access(clinics):
    a = clinics["org-a"]
    wellness = {str(a["events"]["symptom"].pk), str(a["events"]["mood"].pk)}

    plain = api_client(a["key"]).get(url(a["patient"]))
    phi = api_client(a["phi_key"]).get(url(a["patient"]))
    unscoped = api_client(a["patients_key"]).get(url(a["patient"]))
    posted = api_client(a["key"]).post(
        url(a["patient"]), GOOD | {"occurred_at": ago(minutes=1).isoformat()}, content_type="application/json"
    )

    assert set(ids(plain)) == wellness
    assert len(ids(phi)) == 4
    assert unscoped.status_code == 403
    assert (posted.status_code, posted.json()["source"]) == (201, "partner")


def test_billing_has_no_timeline_access(clinics):
    a = clinics["org-a"]
    assert logged_in(a["billing"]).get(url(a["patient"])).status_code == 403


def test_another_organizations_patient_is_404_and_untouched(clinics):
    a, b = clinics["org-a"], clinics["org-b"]
    before = count(b["org"])
    client = logged_in(a["owner"])

    assert client.get(url(b["patient"])).status_code == 404
    assert client.get(url(b["patient"], "summary/")).status_code == 404
    assert client.get(adherence_url(b["patient"])).status_code == 404
    posted = client.post(
        url(b["patient"]), GOOD | {"occurred_at": ago(minutes=1).isoformat()}, content_type="application/json"
    )
    correcting_b = client.post(
        url(a["patient"]),
        GOOD | {"occurred_at": ago(minutes=1).isoformat(), "supersedes": str(b["events"]["mood"].pk)},
        content_type="application/json",
    )
    assert posted.status_code == 404
    assert correcting_b.status_code == 400
    assert count(b["org"]) == before


def test_timeline_and_assessment_lists_use_a_fixed_number_of_queries(clinics):
    a = clinics["org-a"]
    client = logged_in(a["clinician"])
    with as_tenant(a["org"]):
        for hours in range(1, 30):
            mood(a["patient"], ago(days=1, hours=hours))

    def queries(path, params):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(path, params).status_code == 200
        return len(captured)

    assert queries(url(a["patient"]), {"page_size": 2}) == queries(url(a["patient"]), {"page_size": 30})
    small = queries(f"/api/v1/patients/{a['patient'].pk}/assessments/", {})
    with as_tenant(a["org"]):
        for _ in range(5):
            services.assessment_complete(patient=a["patient"], instrument="phq9", answers=[1] * 9)
    assert queries(f"/api/v1/patients/{a['patient'].pk}/assessments/", {}) == small


def test_reading_clinical_timeline_data_writes_the_phi_access_log(clinics):
    a, b = clinics["org-a"], clinics["org-b"]
    client, patient = logged_in(a["clinician"]), a["patient"]
    assessments = f"/api/v1/patients/{patient.pk}/assessments/"
    for path in (url(patient), adherence_url(patient), assessments, "/api/v1/assessment-flags/"):
        assert client.get(path).status_code == 200
    # The page shows four events, two of them clinical (the dose and the PHQ-9's event); the adherence one
    # medication; the assessment list the PHQ-9, which also raised the open flag.
    assert phi_access_log(a["org"]) == [
        (patient.pk, "health_event", 2, url(patient)),
        (patient.pk, "health_event", 1, adherence_url(patient)),
        (patient.pk, "assessment", 1, assessments),
        (patient.pk, "assessment", 1, "/api/v1/assessment-flags/"),
    ]
    assert phi_access_log(b["org"]) == []


def test_reading_wellness_timeline_data_writes_no_phi_access_log(clinics):
    a = clinics["org-a"]
    assert len(ids(logged_in(a["coach"]).get(url(a["patient"])))) == 2
    assert len(ids(api_client(a["key"]).get(url(a["patient"])))) == 2
    assert phi_access_log(a["org"]) == []


def test_admin_pages_of_clinical_timeline_records_write_the_phi_access_log(clinics):
    a, b = clinics["org-a"], clinics["org-b"]
    client, patient = logged_in(a["clinician"]), a["patient"]
    with as_tenant(a["org"]):
        flag = a["response"].flags.get()
    pages = {
        "medication": f"/admin/clinical/healthevent/{a['events']['medication'].pk}/change/",
        "mood": f"/admin/clinical/healthevent/{a['events']['mood'].pk}/change/",
        "response": f"/admin/clinical/assessmentresponse/{a['response'].pk}/change/",
        "flag": f"/admin/clinical/assessmentflag/{flag.pk}/change/",
    }
    for path in pages.values():
        assert client.get(path).status_code == 200
    # The mood is wellness data: its page is not a PHI read.
    assert phi_access_log(a["org"]) == [
        (patient.pk, "health_event", 1, pages["medication"]),
        (patient.pk, "assessment", 1, pages["response"]),
        (patient.pk, "assessment", 1, pages["flag"]),
    ]
    assert phi_access_log(b["org"]) == []


def test_admin_lists_and_history_of_clinical_timeline_records_write_the_phi_access_log(clinics):
    a, b = clinics["org-a"], clinics["org-b"]
    client, patient = logged_in(a["clinician"]), a["patient"]
    medication = a["events"]["medication"]
    with as_tenant(a["org"]):
        version = medication.history.get()
    pages = {
        "list": "/admin/clinical/healthevent/",
        "history": f"/admin/clinical/healthevent/{medication.pk}/history/",
        "version": f"/admin/clinical/healthevent/{medication.pk}/history/{version.history_id}/",
        "mood history": f"/admin/clinical/healthevent/{a['events']['mood'].pk}/history/",
    }
    for path in pages.values():
        assert client.get(path).status_code == 200
    # The list shows four events, two of them PHI (the dose and the PHQ-9's event); the mood is wellness.
    assert phi_access_log(a["org"]) == [
        (patient.pk, "health_event", 2, pages["list"]),
        (patient.pk, "health_event", 1, pages["history"]),
        (patient.pk, "health_event", 1, pages["version"]),
    ]
    assert phi_access_log(b["org"]) == []


def test_admin_pages_refused_or_of_another_organization_leave_no_phi_access_log(clinics):
    a, b = clinics["org-a"], clinics["org-b"]
    other = f"/admin/clinical/assessmentresponse/{b['response'].pk}/change/"
    assert logged_in(a["clinician"]).get(other).status_code == 302  # not found in this organization
    own = f"/admin/clinical/assessmentresponse/{a['response'].pk}/change/"
    assert logged_in(a["billing"]).get(own).status_code == 403  # billing staff read no assessments
    assert phi_access_log(a["org"]) == []
    assert phi_access_log(b["org"]) == []


def test_the_day_summary_logs_a_mood_recorded_as_phi(clinics):
    a = clinics["org-a"]
    client, patient = logged_in(a["clinician"]), a["patient"]
    summary = url(patient, "summary/")
    assert client.get(summary).json()["results"][0]["latest_mood"]["data_classification"] == "GENERAL_WELLNESS"
    assert phi_access_log(a["org"]) == []
    with as_tenant(a["org"]):
        services.health_event_record(
            patient=patient,
            event_type="mood",
            event_subtype="daily_checkin",
            event_data={"mood": "sad", "confidence": 3},
            occurred_at=ago(minutes=5),
            data_classification="CLINICAL_PHI",
        )
    latest = client.get(summary).json()["results"][0]["latest_mood"]
    assert (latest["mood"], latest["data_classification"]) == ("sad", "CLINICAL_PHI")
    assert phi_access_log(a["org"]) == [(patient.pk, "health_event", 1, summary)]
    assert phi_access_log(clinics["org-b"]["org"]) == []
