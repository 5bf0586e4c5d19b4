"""The front desk in the browser, at tablet width: books from a free slot, checks a patient in from the today
board; a coach sees no clinical reason; the other clinic's calendar never appears."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from apps.organizations.roles import Role
from apps.scheduling.models import Appointment, AppointmentReason, AppointmentStatus
from tests.conftest import add_member, as_tenant, make_organization
from tests.scheduling.factories import Clinic, make_clinic, next_weekday

TABLET = {"width": 768, "height": 1024}


@pytest.fixture
def two_clinics(committed: None) -> tuple[Clinic, Clinic]:
    clinic = make_clinic(make_organization("org-a"))
    other = make_clinic(make_organization("org-b"), zone_name="Europe/Berlin")
    with as_tenant(clinic.org):
        clinic.patient.family_name, clinic.patient.given_name = "Okafor", "Mateo"
        clinic.patient.save()
    with as_tenant(other.org):
        other.patient.family_name = "Zabrowski"
        other.patient.save()
    return clinic, other


def arriving_now(clinic: Clinic, provider=None, kind=None, reason: str = "Panic attacks, review") -> Appointment:
    start = timezone.now().replace(microsecond=0)
    with as_tenant(clinic.org):
        appointment = Appointment.objects.create(
            patient=clinic.patient,
            provider=provider or clinic.provider,
            appointment_type=kind or clinic.therapy,
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=1),
        )
        AppointmentReason.objects.create(appointment=appointment, text=reason)
    return appointment


def test_front_desk_books_from_a_free_slot_and_checks_a_patient_in(two_clinics, open_page, screenshot):
    clinic, _other_clinic = two_clinics
    desk = add_member(clinic.org, Role.FRONT_DESK)
    arriving = arriving_now(clinic)
    page = open_page(desk)
    page.set_viewport_size(TABLET)
    day = next_weekday(1, zone_name=clinic.zone_name)

    page.goto(
        f"/admin/scheduling/appointment/calendar/?date={day:%Y-%m-%d}&provider={clinic.provider.pk}"
        f"&type={clinic.therapy.pk}"
    )
    screenshot(page, "calendar")
    assert page.evaluate("document.documentElement.scrollWidth") <= TABLET["width"]
    page.click("a.kura-slot >> text=11:30")  # click 1: the free slot
    page.click(".select2-selection--single")
    page.fill(".select2-search__field", clinic.patient.mrn)
    page.click(f".select2-results__option >> text={clinic.patient.mrn}")
    page.fill("#id_reason", "Follow-up")
    screenshot(page, "booking-form")
    page.click("button:has-text('Book')")  # click 2: book
    screenshot(page, "booked")
    assert "Booked" in page.inner_text(".messagelist")
    assert "11:30–12:20" in page.inner_text("#content")
    with as_tenant(clinic.org):
        booked = Appointment.objects.exclude(pk=arriving.pk).get()
    assert booked.starts_at == clinic.at(day, 11, 30)

    page.goto("/admin/scheduling/appointment/today/")
    screenshot(page, "today")
    assert "Expected (1)" in page.inner_text("#content")
    page.click("a.button:has-text('Check in')")
    assert "missing or expired" in page.inner_text(".kura-check-in")
    page.click("button:has-text('Check in and open the encounter')")
    screenshot(page, "checked-in")
    assert "Encounter opened" in page.inner_text("#content")
    page.goto("/admin/scheduling/appointment/today/")
    board = page.inner_text("#content")
    assert "Arrived (1)" in board
    assert "Okafor, Mateo" in board
    assert "Zabrowski" not in board
    with as_tenant(clinic.org):
        assert Appointment.objects.get(pk=arriving.pk).status == AppointmentStatus.CHECKED_IN


def test_a_coach_sees_no_clinical_reason_and_the_other_clinic_sees_nothing(two_clinics, open_page, screenshot):
    clinic, other = two_clinics
    arriving_now(clinic, reason="Panic attacks, review")
    own = arriving_now(clinic, provider=clinic.coach, kind=clinic.coaching, reason="Sleep plan")
    page = open_page(clinic.coach_user)
    page.goto("/admin/scheduling/appointment/calendar/")
    screenshot(page, "coach-calendar")
    content = page.inner_text("#content")
    assert "Okafor, Mateo" in content  # the coach's own session
    assert "Panic attacks" not in page.content()
    assert "Sleep plan" not in page.content()
    assert page.locator(".kura-appointment").count() == 1

    other_desk = open_page(add_member(other.org, Role.FRONT_DESK))
    other_desk.goto("/admin/scheduling/appointment/calendar/")
    screenshot(other_desk, "other-clinic-calendar")
    assert "Okafor" not in other_desk.content()
    response = other_desk.goto(f"/admin/scheduling/appointment/{own.pk}/check-in/")
    assert response.status == 404
