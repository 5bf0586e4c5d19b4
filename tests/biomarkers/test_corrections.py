"""Corrections (a known reading id with a new value supersedes the old, history kept) and voiding a reading."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from apps.biomarkers.models import BiomarkerLog
from apps.events.models import DomainEvent
from apps.organizations.roles import Role, Scope
from tests.biomarkers.factories import depression_reading, reading
from tests.conftest import add_member, api_client, as_tenant, issue_key, logged_in, phi_access_log
from tests.factories import PatientFactory

URL = "/api/v1/biomarkers/readings/"
SCOPES = [Scope.BIOMARKERS_READ, Scope.BIOMARKERS_WRITE]


@pytest.fixture
def clinic(org_a, org_b):
    with as_tenant(org_a):
        patient, other_patient = PatientFactory(), PatientFactory()
    with as_tenant(org_b):
        b_patient = PatientFactory()
    return {
        "org": org_a,
        "other_org": org_b,
        "patient": patient,
        "other_patient": other_patient,
        "b_patient": b_patient,
        "partner": api_client(issue_key(org_a, scopes=SCOPES)),
        "phi_partner": api_client(issue_key(org_a, scopes=SCOPES, phi_access=True)),
        "reader": api_client(issue_key(org_a, scopes=[Scope.BIOMARKERS_READ], phi_access=True)),
        "b_partner": api_client(issue_key(org_b, scopes=SCOPES, phi_access=True)),
    }


def post(client, body, url=URL):
    return client.post(url, data=json.dumps(body), content_type="application/json")


def state(org):
    """(source_reading_id, value, voided) of every reading, and (id, history type, value, voided, reason) of every
    history row, as the organization's owner sees them."""
    with as_tenant(org):
        readings = sorted(
            (r.source_reading_id, r.value_numeric, r.voided_at is not None) for r in BiomarkerLog.objects.all()
        )
        history = sorted(
            (h.source_reading_id, h.history_type, h.value_numeric, h.voided_at is not None, h.history_change_reason)
            for h in BiomarkerLog.history.all()
        )
    return readings, history


def events(org, event_type):
    with as_tenant(org):
        return list(DomainEvent.objects.filter(event_type=event_type).order_by("id").values("data", "patient_id"))


def test_a_known_reading_with_a_new_value_supersedes_the_old_and_history_keeps_it(clinic):
    first = reading(clinic["patient"].pk, source="fitbit", source_reading_id="fb-1", value_numeric=6500.0)
    assert post(clinic["partner"], {"readings": [first]}).status_code == 201
    when = (timezone.now() - dt.timedelta(minutes=30)).isoformat()

    corrected = post(clinic["partner"], {"readings": [{**first, "value_numeric": 7200.0, "captured_at": when}]})

    assert corrected.status_code == 200
    assert corrected.json() == {"received": 1, "created": 0, "duplicates": 0, "corrected": 1}
    readings, history = state(clinic["org"])
    assert readings == [("fb-1", 7200.0, False)]
    assert history == [("fb-1", "+", 6500.0, False, None), ("fb-1", "~", 7200.0, False, "Corrected by the source")]
    with as_tenant(clinic["org"]):
        stored = BiomarkerLog.objects.get()
    assert stored.captured_at == dt.datetime.fromisoformat(when)

    series = (
        clinic["partner"]
        .get(f"/api/v1/biomarkers/patients/{clinic['patient'].pk}/series/", {"metric_type": "steps"})
        .json()
    )
    assert [p["value_numeric"] for p in series["points"]] == [7200.0]
    versions = clinic["partner"].get(f"/api/v1/biomarkers/readings/{stored.pk}/history/").json()["versions"]
    assert [(v["value_numeric"], v["change"], v["reason"]) for v in versions] == [
        (6500.0, "stored", None),
        (7200.0, "corrected", "Corrected by the source"),
    ]
    assert events(clinic["org"], "biomarker_batch.corrected") == [
        {
            "data": {
                "patient_ids": [str(clinic["patient"].pk)],
                "metric_types": ["steps"],
                "readings": 1,
                "reading_ids": [str(stored.pk)],
            },
            "patient_id": clinic["patient"].pk,
        }
    ]


def test_the_same_correction_sent_again_is_a_duplicate(clinic):
    first = reading(clinic["patient"].pk, source_reading_id="hk-9", value_numeric=6500.0)
    post(clinic["partner"], {"readings": [first]})
    post(clinic["partner"], {"readings": [{**first, "value_numeric": 6600.0}]})

    again = post(clinic["partner"], {"readings": [{**first, "value_numeric": 6600.0}]})

    assert again.json() == {"received": 1, "created": 0, "duplicates": 1, "corrected": 0}
    assert len(state(clinic["org"])[1]) == 2
    assert len(events(clinic["org"], "biomarker_batch.corrected")) == 1


def test_a_batch_of_new_unchanged_and_corrected_readings_counts_each(clinic):
    old = [reading(clinic["patient"].pk, source="garmin", source_reading_id=f"g-{i}") for i in range(2)]
    post(clinic["partner"], {"readings": old})
    batch = [old[0], {**old[1], "value_numeric": 9000.0}, reading(clinic["patient"].pk, source_reading_id="g-new")]

    response = post(clinic["partner"], {"readings": batch})

    assert response.status_code == 201
    assert response.json() == {"received": 3, "created": 1, "duplicates": 1, "corrected": 1}
    assert state(clinic["org"])[0] == [("g-0", 6500.0, False), ("g-1", 9000.0, False), ("g-new", 6500.0, False)]


def test_another_organizations_reading_with_the_same_id_is_never_superseded(clinic):
    post(clinic["partner"], {"readings": [reading(clinic["patient"].pk, source_reading_id="same", value_numeric=100)]})
    before_a = state(clinic["org"])

    from_b = post(
        clinic["b_partner"],
        {"readings": [reading(clinic["b_patient"].pk, source_reading_id="same", value_numeric=900)]},
    )

    assert from_b.json() == {"received": 1, "created": 1, "duplicates": 0, "corrected": 0}
    assert state(clinic["org"]) == before_a
    assert state(clinic["other_org"])[0] == [("same", 900.0, False)]
    assert events(clinic["org"], "biomarker_batch.corrected") == []


def test_a_known_id_sent_for_another_patient_or_metric_stores_nothing_and_names_the_row(clinic):
    known = reading(clinic["patient"].pk, source_reading_id="k-1")
    post(clinic["partner"], {"readings": [known]})
    before = state(clinic["org"])
    moved = {**known, "patient_id": str(clinic["other_patient"].pk), "value_numeric": 1.0}
    other_metric = {**known, "metric_type": "heart_rate", "unit": "bpm", "value_numeric": 70.0}

    for wrong in (moved, other_metric):
        response = post(clinic["partner"], {"readings": [reading(clinic["patient"].pk), wrong]})

        assert response.status_code == 400
        assert response.json()["error"]["fields"] == {
            "readings[1].source_reading_id": ["Already stored for another patient or metric type."]
        }
        assert state(clinic["org"]) == before


# --- void ------------------------------------------------------------------------------------------------------


def _void_url(reading_id):
    return f"/api/v1/biomarkers/readings/{reading_id}/void/"


def _stored(org, source_reading_id):
    with as_tenant(org):
        return BiomarkerLog.objects.get(source_reading_id=source_reading_id)


def test_a_voided_reading_leaves_every_result_and_stays_in_its_history(clinic):
    low = reading(clinic["patient"].pk, source="withings", source_reading_id="w-low", value_numeric=1200.0)
    kept = reading(clinic["patient"].pk, source="withings", source_reading_id="w-kept", value_numeric=800.0)
    post(clinic["partner"], {"readings": [low, kept]})
    target = _stored(clinic["org"], "w-low")

    response = post(clinic["partner"], {"reason": "Worn by someone else"}, url=_void_url(target.pk))

    assert response.status_code == 200
    assert response.json()["id"] == str(target.pk)
    assert response.json()["voided_at"] is not None
    patient = clinic["patient"].pk
    series = clinic["partner"].get(f"/api/v1/biomarkers/patients/{patient}/series/", {"metric_type": "steps"})
    day = clinic["partner"].get(
        f"/api/v1/biomarkers/patients/{patient}/series/", {"metric_type": "steps", "bucket": "day"}
    )
    latest = clinic["partner"].get(f"/api/v1/biomarkers/patients/{patient}/latest/")
    flagged = clinic["partner"].get("/api/v1/biomarkers/out-of-reference/")
    assert [p["source_reading_id"] for p in series.json()["points"]] == ["w-kept"]
    assert [(b["count"], b["sum"]) for b in day.json()["buckets"]] == [(1, 800.0)]
    assert [r["source_reading_id"] for r in latest.json()] == ["w-kept"]
    assert [r["source_reading_id"] for r in flagged.json()["results"]] == ["w-kept"]
    readings, history = state(clinic["org"])
    assert readings == [("w-kept", 800.0, False), ("w-low", 1200.0, True)]
    assert ("w-low", "~", 1200.0, True, "Worn by someone else") in history
    versions = clinic["partner"].get(f"/api/v1/biomarkers/readings/{target.pk}/history/").json()
    assert versions["reading"]["id"] == str(target.pk)
    assert [(v["change"], v["reason"]) for v in versions["versions"]] == [
        ("stored", None),
        ("voided", "Worn by someone else"),
    ]
    assert events(clinic["org"], "biomarker_reading.voided") == [
        {
            "data": {"metric_type": "steps", "source": "withings", "source_reading_id": "w-low"},
            "patient_id": clinic["patient"].pk,
        }
    ]


def test_a_voided_reading_is_voided_once_and_a_retried_batch_does_not_bring_it_back(clinic):
    sent = reading(clinic["patient"].pk, source_reading_id="v-1", value_numeric=6000.0)
    post(clinic["partner"], {"readings": [sent]})
    target = _stored(clinic["org"], "v-1")
    post(clinic["partner"], {"reason": "Duplicate device"}, url=_void_url(target.pk))
    after_void = state(clinic["org"])

    again = post(clinic["partner"], {"reason": "Again"}, url=_void_url(target.pk))
    retried = post(clinic["partner"], {"readings": [sent]})
    changed = post(clinic["partner"], {"readings": [{**sent, "value_numeric": 6100.0}]})

    assert again.status_code == 409
    assert again.json()["error"]["message"] == "This reading is already voided."
    assert retried.json() == changed.json() == {"received": 1, "created": 0, "duplicates": 1, "corrected": 0}
    assert state(clinic["org"]) == after_void
    assert len(events(clinic["org"], "biomarker_reading.voided")) == 1


def test_void_refused_to_other_organizations_callers_without_phi_or_write_changes_nothing(clinic):
    post(clinic["phi_partner"], {"readings": [reading(clinic["patient"].pk, source_reading_id="steps-1")]})
    post(clinic["phi_partner"], {"readings": [depression_reading(clinic["patient"].pk, source_reading_id="dep-1")]})
    steps, depression = _stored(clinic["org"], "steps-1"), _stored(clinic["org"], "dep-1")
    coach = logged_in(add_member(clinic["org"], Role.COACH))
    front_desk = logged_in(add_member(clinic["org"], Role.FRONT_DESK))
    before = state(clinic["org"])
    body = {"reason": "Not mine"}

    assert post(clinic["b_partner"], body, url=_void_url(steps.pk)).status_code == 404
    assert post(clinic["partner"], body, url=_void_url(depression.pk)).status_code == 404  # no PHI access
    assert post(coach, body, url=_void_url(depression.pk)).status_code == 404
    assert post(clinic["reader"], body, url=_void_url(steps.pk)).status_code == 403  # no biomarkers:write
    assert post(front_desk, body, url=_void_url(steps.pk)).status_code == 403
    assert clinic["b_partner"].get(f"/api/v1/biomarkers/readings/{steps.pk}/history/").status_code == 404
    missing_reason = post(clinic["partner"], {}, url=_void_url(steps.pk))
    assert missing_reason.status_code == 400
    assert list(missing_reason.json()["error"]["fields"]) == ["reason"]
    assert state(clinic["org"]) == before
    assert events(clinic["org"], "biomarker_reading.voided") == []
    assert events(clinic["other_org"], "biomarker_reading.voided") == []


def test_the_history_of_a_phi_reading_is_a_logged_read_and_hidden_from_callers_without_phi(clinic):
    post(clinic["phi_partner"], {"readings": [depression_reading(clinic["patient"].pk, source_reading_id="dep-1")]})
    post(
        clinic["phi_partner"],
        {"readings": [depression_reading(clinic["patient"].pk, source_reading_id="dep-1", value_numeric=16.0)]},
    )
    depression = _stored(clinic["org"], "dep-1")
    url = f"/api/v1/biomarkers/readings/{depression.pk}/history/"
    coach = logged_in(add_member(clinic["org"], Role.COACH))

    assert coach.get(url).status_code == 404
    assert clinic["partner"].get(url).status_code == 404
    answer = clinic["phi_partner"].get(url)

    assert answer.status_code == 200
    assert [(v["value_numeric"], v["change"]) for v in answer.json()["versions"]] == [
        (14.0, "stored"),
        (16.0, "corrected"),
    ]
    assert phi_access_log(clinic["org"]) == [(clinic["patient"].pk, "biomarker_reading", 1, url)]
    assert phi_access_log(clinic["other_org"]) == []
