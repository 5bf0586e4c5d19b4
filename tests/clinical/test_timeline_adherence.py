"""Medication adherence over a window, computed in SQL: a hand-computed case, the empty window, isolation."""

from datetime import timedelta

from django.utils import timezone

from apps.clinical.timeline import selectors, services
from apps.organizations.roles import Role
from tests.conftest import as_tenant, logged_in
from tests.factories import PatientFactory

from .timeline_support import MEDICATION_A, MEDICATION_B, clinics_fixture, dose  # noqa: F401


def test_adherence_matches_a_hand_computed_case(clinics):
    a = clinics["org-a"]
    end = timezone.now() - timedelta(days=1)
    start = end - timedelta(days=7)
    with as_tenant(a["org"]):
        patient = PatientFactory()
        # Medication A (scheduled): taken, taken, late, taken, and a skipped dose later corrected to taken.
        for days_before, status in [(1, "taken"), (2, "taken"), (3, "late"), (4, "taken")]:
            dose(patient, end - timedelta(days=days_before), status)
        skipped = dose(patient, end - timedelta(days=5), "skipped")
        services.health_event_record(
            patient=patient,
            event_type="medication",
            event_subtype="scheduled",
            event_data={"medication_id": MEDICATION_A, "status": "taken"},
            occurred_at=skipped.occurred_at,
            supersedes=skipped,
        )
        dose(patient, end - timedelta(days=6), "skipped")
        # Medication B (injection): taken, skipped, and a skipped dose exactly at the window's start (included).
        dose(patient, end - timedelta(days=2), "taken", MEDICATION_B, "injection")
        dose(patient, end - timedelta(days=3), "skipped", MEDICATION_B, "injection")
        dose(patient, start, "skipped", MEDICATION_B, "injection")
        # Not counted: as-needed doses, doses at the window's end or before its start.
        dose(patient, end - timedelta(days=1), "taken", subtype="as_needed")
        dose(patient, end, "taken")
        dose(patient, start - timedelta(seconds=1), "taken")

        adherence = selectors.medication_adherence(patient=patient, days=7, end=end)

    # A: 4 taken of 6 scheduled (the corrected dose counts once, as taken; "late" is not "taken", as in seed 001).
    # B: 1 of 3. Overall: 5 of 9.
    assert (adherence.taken, adherence.total, adherence.rate) == (5, 9, 55.6)
    assert (adherence.start, adherence.end, adherence.days) == (start, end, 7)
    assert adherence.medications == [
        {"medication_id": MEDICATION_A, "medication_name": None, "taken": 4, "total": 6, "rate": 66.7},
        {"medication_id": MEDICATION_B, "medication_name": None, "taken": 1, "total": 3, "rate": 33.3},
    ]


def test_an_empty_window_has_no_rate_rather_than_zero(clinics):
    a = clinics["org-a"]
    with as_tenant(a["org"]):
        adherence = selectors.medication_adherence(
            patient=a["patient"], days=7, end=timezone.now() - timedelta(days=30)
        )
        nothing_ever = selectors.medication_adherence(patient=PatientFactory())
    assert (adherence.taken, adherence.total, adherence.rate, adherence.medications) == (0, 0, None, [])
    assert (nothing_ever.taken, nothing_ever.total, nothing_ever.rate, nothing_ever.medications) == (0, 0, None, [])


def test_adherence_api_default_window_names_and_rates(clinics):
    a = clinics["org-a"]
    with as_tenant(a["org"]):
        services.health_event_record(
            patient=a["patient"],
            event_type="medication",
            event_subtype="scheduled",
            event_data={"medication_id": MEDICATION_B, "medication_name": "Sertraline 50 mg", "status": "skipped"},
            occurred_at=timezone.now() - timedelta(days=3),
        )
        dose(a["patient"], timezone.now() - timedelta(days=8), "skipped")  # outside the default 7 days
    client = logged_in(a["clinician"])

    week = client.get(f"/api/v1/patients/{a['patient'].pk}/medication-adherence/").json()
    fortnight = client.get(f"/api/v1/patients/{a['patient'].pk}/medication-adherence/", {"days": 14}).json()

    assert (week["days"], week["taken"], week["total"], week["rate"]) == (7, 1, 2, 50.0)
    assert [(m["medication_name"], m["taken"], m["total"], m["rate"]) for m in week["medications"]] == [
        ("Sertraline 50 mg", 0, 1, 0.0),
        (None, 1, 1, 100.0),
    ]
    assert (fortnight["days"], fortnight["taken"], fortnight["total"], fortnight["rate"]) == (14, 1, 3, 33.3)


def test_adherence_counts_only_this_organizations_rows_and_only_for_phi_roles(clinics):
    a, b = clinics["org-a"], clinics["org-b"]
    with as_tenant(a["org"]):
        other_org = selectors.medication_adherence(patient=b["patient"])
        own = selectors.medication_adherence(patient=a["patient"])
    with as_tenant(a["org"], Role.COACH):
        as_coach = selectors.medication_adherence(patient=a["patient"])
    assert (own.taken, own.total, own.rate) == (1, 1, 100.0)
    assert (other_org.total, other_org.rate) == (0, None)
    assert (as_coach.total, as_coach.rate) == (0, None)
