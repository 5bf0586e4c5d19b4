"""The clinician's and the coach's day in the browser: log in to the home page (today's visits, the flag to
review, the note to sign), open the note and sign it; the coach's home holds their own session and no clinical
content. The other clinic's patients never show."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from apps.clinical.models import ClinicalNote
from apps.clinical.notes import services as note_services
from apps.clinical.timeline import services as timeline_services
from apps.organizations.models import Membership
from apps.organizations.roles import Role
from apps.organizations.time_zones import local_datetime, organization_zone
from apps.scheduling.models import Appointment, AppointmentType, Provider
from tests.conftest import as_tenant

from .conftest import Clinic

PHQ9_ITEM9 = [1, 1, 1, 1, 1, 1, 0, 0, 1]


def _day(clinic: Clinic) -> dict[str, Any]:
    """The clinician sees the clinic's first patient at 09:00 (a PHQ-9 with item 9 above 0, a draft note); the
    coach sees the second at 11:00."""
    clinician, coach = clinic.users[Role.CLINICIAN], clinic.users[Role.COACH]
    with as_tenant(clinic.org):
        zone = organization_zone()
        today = timezone.localdate(timezone=zone)
        providers = {
            user.pk: Provider.objects.create(
                membership=Membership.objects.get(user=user), display_name=f"{user.username} provider"
            )
            for user in (clinician, coach)
        }
        therapy = AppointmentType.objects.create(name="Psychotherapy 50 min", duration_minutes=50)
        coaching = AppointmentType.objects.create(name="Wellness coaching", duration_minutes=30)
        for patient, user, kind, hour in (
            (clinic.patient, clinician, therapy, 9),
            (clinic.other_patient, coach, coaching, 11),
        ):
            starts_at = local_datetime(today, dt.time(hour), zone)
            Appointment.objects.create(
                patient=patient,
                provider=providers[user.pk],
                appointment_type=kind,
                starts_at=starts_at,
                ends_at=starts_at + dt.timedelta(minutes=kind.duration_minutes),
            )
        timeline_services.assessment_complete(patient=clinic.patient, instrument="phq9", answers=PHQ9_ITEM9)
    with as_tenant(clinic.org, Role.CLINICIAN, user_id=clinician.pk):
        note = note_services.clinical_note_create(
            author=clinician,
            patient=clinic.patient,
            template="soap",
            sections={"subjective": "Sleeping poorly.", "plan": "Safety plan reviewed; CBT weekly."},
        )
    return {"note": note}


@pytest.fixture
def days(clinics: dict[str, Clinic]) -> dict[str, dict[str, Any]]:
    return {slug: _day(clinic) for slug, clinic in clinics.items()}


def test_clinician_logs_in_to_their_day_and_signs_the_note_left_to_sign(clinics, days, open_page, screenshot):
    clinic = clinics["org-a"]
    page = open_page(clinic.users[Role.CLINICIAN])
    screenshot(page, "home")

    visits = page.locator("section.kura-home-section", has=page.locator("h2", has_text="Your visits today"))
    assert visits.locator("li").all_inner_texts() == [
        f"09:00 {clinic.patient.display_name} · Psychotherapy 50 min · Booked"
    ]
    flags = page.locator("section.kura-home-section", has=page.locator("h2", has_text="Flags to review"))
    flag_text = flags.locator("li").inner_text()
    assert clinic.patient.display_name in flag_text
    assert "PHQ-9 item 9 (thoughts of self-harm) answered above 0" in flag_text
    assert "PHQ-9 total 7 (mild)" in flag_text
    notes = page.locator("section.kura-home-section", has=page.locator("h2", has_text="Notes to sign"))
    assert clinic.patient.display_name in notes.locator("li").inner_text()
    for absent in (clinic.other_patient.family_name, "Zabrowski", "Okonkwo-B"):
        assert absent not in page.content()

    notes.locator("a", has_text="Sign").click()
    page.wait_for_url(f"**/admin/clinical/clinicalnote/{days['org-a']['note'].pk}/sign/")
    screenshot(page, "sign")
    assert "Sleeping poorly." in page.inner_text("#content")
    page.locator("button", has_text="Sign note").click()
    page.wait_for_url(f"**/admin/clinical/clinicalnote/{days['org-a']['note'].pk}/change/")
    screenshot(page, "signed")
    assert "Note signed." in page.inner_text(".messagelist")
    with as_tenant(clinic.org):
        assert ClinicalNote.objects.get().status == ClinicalNote.Status.SIGNED
    with as_tenant(clinics["org-b"].org):
        assert ClinicalNote.objects.get().status == ClinicalNote.Status.DRAFT  # the other clinic's draft stays

    page.goto("/admin/")
    assert "No notes left to sign." in page.inner_text("#content")


def test_coach_home_holds_their_own_session_and_no_clinical_content(clinics, days, open_page, screenshot):
    clinic = clinics["org-a"]
    page = open_page(clinic.users[Role.COACH])
    screenshot(page, "home")

    visits = page.locator("section.kura-home-section", has=page.locator("h2", has_text="Your visits today"))
    assert visits.locator("li").all_inner_texts() == [
        f"11:00 {clinic.other_patient.display_name} · Wellness coaching · Booked"
    ]
    headings = page.locator("section.kura-home-section h2").all_inner_texts()
    assert len(headings) == 1
    content = page.content()
    for absent in (
        "Flags to review",
        "Notes to sign",
        "PHQ-9",
        "Sleeping poorly",
        clinic.patient.family_name,
        "Zabrowski",
    ):
        assert absent not in content, absent
