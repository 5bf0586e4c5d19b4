"""Lists a person reads name patients (*Family, Given · date of birth · MRN*) and say what a row is in words:
flags, assessment responses and timeline rows, never a UUID or a Python repr; the other organization's rows
never show."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.clinical.timeline import services
from apps.clinical.timeline.wording import event_summary
from apps.organizations.roles import Role
from tests.conftest import add_member, as_tenant, logged_in
from tests.factories import PatientFactory

from .timeline_support import ago

PHQ9_ITEM9 = [2, 2, 1, 1, 1, 1, 1, 2, 3]  # total 14, moderate; item 9 "nearly every day"


@pytest.fixture
def records(org_a, org_b):
    found = {}
    for org, family in ((org_a, "Okafor"), (org_b, "Zabrowski")):
        with as_tenant(org):
            patient = PatientFactory(family_name=family, given_name="Mateo", mrn=f"{family[:3].upper()}-7")
            symptom = services.health_event_record(
                patient=patient,
                event_type="symptom",
                event_subtype="side_effect",
                event_data={"symptoms": ["bloating", "nausea"], "severity": 4},
                occurred_at=ago(hours=2),
            )
            response = services.assessment_complete(patient=patient, instrument="phq9", answers=PHQ9_ITEM9)
            flag = response.flags.get()
            found[org.slug] = {
                "patient": patient,
                "name": patient.display_name,
                "symptom": symptom,
                "response": response,
                "flag": flag,
                "titles": (str(symptom), str(response), str(flag)),
            }
    found["owner"] = add_member(org_a, Role.OWNER)
    return found


def test_titles_name_the_patient_and_the_content_not_an_id(records):
    a = records["org-a"]
    symptom, response, flag = a["titles"]
    day = f"{timezone.localdate():%Y-%m-%d}"
    occurred = timezone.localtime(a["symptom"].occurred_at)
    assert symptom == f"Side effect: bloating, nausea, severity 4/10, {occurred:%Y-%m-%d %H:%M}"
    assert response == f"PHQ-9 total 14 (moderate), {day} · {a['name']}"
    assert flag == f"Flag {day} · {a['name']}"
    for title, obj in zip(a["titles"], (a["symptom"], a["response"], a["flag"]), strict=True):
        assert str(obj.pk) not in title


def test_timeline_responses_and_flags_lists_read_in_words_with_names(records):
    client = logged_in(records["owner"])
    a, b = records["org-a"], records["org-b"]

    events = client.get(reverse("admin:clinical_healthevent_changelist")).content.decode()
    assert "Side effect: bloating, nausea, severity 4/10" in events
    assert "PHQ-9 total 14 (moderate)" in events
    assert "[&#x27;bloating&#x27;" not in events
    assert a["name"] in events

    responses = client.get(reverse("admin:clinical_assessmentresponse_changelist")).content.decode()
    assert "PHQ-9 total 14 (moderate)" in responses
    assert a["name"] in responses

    flags = client.get(reverse("admin:clinical_assessmentflag_changelist")).content.decode()
    assert a["name"] in flags
    assert "PHQ-9 total 14 (moderate)" in flags
    review = client.get(reverse("admin:clinical_assessmentflag_change", args=[a["flag"].pk])).content.decode()
    assert f"Flag {timezone.localdate():%Y-%m-%d} · {a['name']}" in review
    assert f"Review flag {a['flag'].pk}" not in review

    for page in (events, responses, flags):
        assert b["name"] not in page
        assert "Zabrowski" not in page


@pytest.mark.parametrize(
    ("event_type", "subtype", "data", "words"),
    [
        (
            "mood",
            "daily_checkin",
            {"mood": "anxious", "confidence": 7, "anxiety_level": 3},
            "Mood: anxious, confidence 7/10, anxiety 3/10",
        ),
        (
            "medication",
            "scheduled",
            {
                "medication_id": "0b8f0c3e-6d7a-4f0e-9a57-3c1de2f1a0b4",
                "medication_name": "Sertraline 50 mg",
                "status": "late",
                "time": "08:40",
            },
            "Medication: Sertraline 50 mg late at 08:40",
        ),
        ("vital", "blood_pressure", {"systolic": 128, "diastolic": 82}, "Blood pressure: 128/82 mmHg"),
        ("vital", "weight", {"value": 70.5, "unit": "kg"}, "Weight: 70.5 kg"),
        (
            "assessment",
            "gad7",
            {"response_id": "x", "instrument": "gad7", "total": 9, "severity": "mild"},
            "GAD-7 total 9 (mild)",
        ),
        (
            "treatment",
            "therapy",
            {"name": "CBT session", "note": "Homework set"},
            "Therapy: CBT session: Homework set",
        ),
    ],
)
def test_each_event_type_reads_in_plain_words(event_type, subtype, data, words):
    assert event_summary(event_type, subtype, data) == words
