"""The calendar pages: free slots booked in two clicks, the database refusing a double booking as a form error,
the today board with check-in, completing with charge capture, the coach's view and the other clinic's."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.billing.models import LedgerEntry
from apps.clinical.models import Encounter
from apps.organizations.roles import Role
from apps.patients.models import Consent
from apps.scheduling import services
from apps.scheduling.models import Appointment, AppointmentReason, AppointmentStatus
from tests.conftest import add_member, as_tenant, logged_in

from .factories import Clinic, make_clinic, next_weekday

CALENDAR = "/admin/scheduling/appointment/calendar/"
TODAY = "/admin/scheduling/appointment/today/"
BOOK = "/admin/scheduling/appointment/book/"


@pytest.fixture
def clinic(org_a) -> Clinic:
    return make_clinic(org_a)


@pytest.fixture
def other(org_b) -> Clinic:
    return make_clinic(org_b, zone_name="Europe/Berlin")


def booking_post(clinic: Clinic, day: dt.date, time: str, **changes):
    data = {
        "patient": str(clinic.patient.pk),
        "provider": str(clinic.provider.pk),
        "kind": str(clinic.therapy.pk),
        "room": str(clinic.room.pk),
        "starts_at_0": day.isoformat(),
        "starts_at_1": time,
        "reason": "Follow-up: panic attacks",
    }
    data.update(changes)
    return data


def test_front_desk_books_from_a_free_slot_in_two_clicks_and_cannot_double_book(clinic):
    desk = logged_in(add_member(clinic.org, Role.FRONT_DESK))
    day = next_weekday(1, zone_name=clinic.zone_name)

    shown = {"date": day.isoformat(), "provider": str(clinic.provider.pk), "type": str(clinic.therapy.pk)}
    page = desk.get(CALENDAR, shown).content.decode()
    slot = clinic.at(day, 9, 50)
    link = f"{BOOK}?provider={clinic.provider.pk}&amp;type={clinic.therapy.pk}&amp;starts_at="
    assert link in page
    assert ">09:50</a>" in page  # local time of the slot
    form = desk.get(
        BOOK, {"provider": str(clinic.provider.pk), "type": str(clinic.therapy.pk), "starts_at": slot.isoformat()}
    )
    html = form.content.decode()
    assert 'value="09:50:00"' in html
    assert f'<option value="{clinic.provider.pk}" selected>' in html

    booked = desk.post(BOOK, booking_post(clinic, day, "09:50"))
    assert booked.status_code == 302
    again = desk.post(BOOK, booking_post(clinic, day, "10:00"))
    assert again.status_code == 200
    assert "The provider already has an appointment at this time." in again.content.decode()
    past = desk.post(BOOK, booking_post(clinic, day - dt.timedelta(days=14), "10:00"))
    assert "An appointment cannot be booked in the past." in past.content.decode()
    no_such_patient = desk.post(BOOK, {**booking_post(clinic, day, "11:00"), "patient": "not-an-id"})
    assert no_such_patient.status_code == 200
    assert "patient" in no_such_patient.context["form"].errors
    with as_tenant(clinic.org):
        assert list(Appointment.objects.values_list("starts_at", flat=True)) == [slot]
    after = desk.get(CALENDAR, {"date": day.isoformat()}).content.decode()
    assert "09:50–10:40" in after
    assert "Follow-up: panic attacks" in after


def today_appointment(clinic: Clinic, provider=None, kind=None) -> Appointment:
    """An appointment that starts now (always today in the clinic's zone), written directly."""
    start = timezone.now().replace(microsecond=0)
    with as_tenant(clinic.org):
        appointment = Appointment.objects.create(
            patient=clinic.patient,
            provider=provider or clinic.provider,
            appointment_type=kind or clinic.therapy,
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=1),
        )
        AppointmentReason.objects.create(appointment=appointment, text="Insomnia review")
    return appointment


def test_the_today_board_checks_a_patient_in_showing_consents_and_insurance(clinic, other):
    appointment = today_appointment(clinic)
    with as_tenant(clinic.org):
        Consent.objects.create(
            patient=clinic.patient, consent_type=Consent.Type.TREATMENT, granted=True, granted_at=timezone.now()
        )
    desk = logged_in(add_member(clinic.org, Role.FRONT_DESK))
    board = desk.get(TODAY).content.decode()
    assert "Expected (1)" in board
    assert f"/admin/scheduling/appointment/{appointment.pk}/check-in/" in board

    page = desk.get(f"/admin/scheduling/appointment/{appointment.pk}/check-in/").content.decode()
    assert "Treatment consent</th><td>valid" in page
    assert "Data-sharing consent</th><td><strong>missing or expired" in page
    assert "Insurance</th><td><strong>none on file" in page
    done = desk.post(f"/admin/scheduling/appointment/{appointment.pk}/check-in/")
    assert done.status_code == 200
    assert "the visit's encounter</a>" in done.content.decode()
    board = desk.get(TODAY).content.decode()
    assert "Arrived (1)" in board
    assert "Expected (0)" in board
    with as_tenant(clinic.org):
        assert Appointment.objects.get().status == AppointmentStatus.CHECKED_IN
        assert Encounter.objects.get().appointment_id == appointment.pk

    other_desk = logged_in(add_member(other.org, Role.FRONT_DESK))
    assert other_desk.get(f"/admin/scheduling/appointment/{appointment.pk}/check-in/").status_code == 404
    assert (
        other_desk.post(f"/admin/scheduling/appointment/{appointment.pk}/cancel/", {"reason": "x"}).status_code == 404
    )
    other_board = other_desk.get(TODAY).content.decode()
    assert clinic.patient.family_name not in other_board
    assert "Arrived (0)" in other_board


def test_a_coach_sees_own_sessions_without_the_clinical_reason(clinic):
    today_appointment(clinic)
    today_appointment(clinic, provider=clinic.coach, kind=clinic.coaching)
    coach = logged_in(clinic.coach_user)
    calendar = coach.get(CALENDAR).content.decode()
    assert "Insomnia review" not in calendar
    assert calendar.count("kura-appointment ") == 1
    assert "Dr. Dana Reyes" in calendar  # the column is there, empty for the coach
    desk = logged_in(add_member(clinic.org, Role.FRONT_DESK)).get(CALENDAR).content.decode()
    assert desk.count("Insomnia review") == 2
    assert logged_in(clinic.coach_user).get(CALENDAR, {"date": "9999-12-31", "view": "week"}).status_code == 200
    billing = logged_in(add_member(clinic.org, Role.BILLING))
    assert billing.get(CALENDAR).status_code == 403


def test_cancel_and_no_show_are_recorded_with_a_reason(clinic):
    desk_user = add_member(clinic.org, Role.FRONT_DESK)
    desk = logged_in(desk_user)
    day = next_weekday(1, zone_name=clinic.zone_name)
    with as_tenant(clinic.org, Role.FRONT_DESK):
        appointment = services.appointment_book(
            patient=clinic.patient,
            provider=clinic.provider,
            appointment_type=clinic.therapy,
            starts_at=clinic.at(day, 10),
        )
    url = f"/admin/scheduling/appointment/{appointment.pk}/cancel/"
    assert "This field is required." in desk.post(url, {"reason": ""}).content.decode()
    assert desk.post(url, {"reason": "Patient called", "no_show": ""}).status_code == 302
    with as_tenant(clinic.org):
        stored = Appointment.objects.get()
    assert (stored.status, stored.cancellation_reason, stored.cancelled_by_id) == (
        AppointmentStatus.CANCELLED,
        "Patient called",
        desk_user.pk,
    )


def test_reschedule_page_moves_and_reports_a_taken_time(clinic):
    desk = logged_in(add_member(clinic.org, Role.FRONT_DESK))
    day = next_weekday(1, zone_name=clinic.zone_name)
    with as_tenant(clinic.org, Role.FRONT_DESK):
        first = services.appointment_book(
            patient=clinic.patient,
            provider=clinic.provider,
            appointment_type=clinic.therapy,
            starts_at=clinic.at(day, 10),
        )
        second = services.appointment_book(
            patient=clinic.patient,
            provider=clinic.provider,
            appointment_type=clinic.therapy,
            starts_at=clinic.at(day, 14),
        )
    url = f"/admin/scheduling/appointment/{second.pk}/reschedule/"
    taken = desk.post(url, {"starts_at_0": day.isoformat(), "starts_at_1": "10:30"})
    assert "The provider already has an appointment at this time." in taken.content.decode()
    assert desk.post(url, {"starts_at_0": day.isoformat(), "starts_at_1": "15:00"}).status_code == 302
    with as_tenant(clinic.org):
        assert Appointment.objects.get(pk=second.pk).starts_at == clinic.at(day, 15)
        assert Appointment.objects.get(pk=first.pk).starts_at == clinic.at(day, 10)


def test_completing_a_visit_records_its_charge_when_the_clinic_captures_charges(clinic):
    with as_tenant(clinic.org):
        clinic.org.charge_capture = True
        clinic.org.save()
    appointment = today_appointment(clinic)
    with as_tenant(clinic.org, Role.FRONT_DESK):
        services.appointment_check_in(appointment=appointment)
        services.appointment_transition(appointment=appointment, status=AppointmentStatus.IN_SESSION)
        with pytest.raises(ValidationError) as refused:
            services.appointment_transition(appointment=appointment, status=AppointmentStatus.COMPLETED)
        assert set(refused.value.message_dict) == {"diagnosis_codes"}
        assert Appointment.objects.get().status == AppointmentStatus.IN_SESSION
        services.appointment_transition(
            appointment=appointment, status=AppointmentStatus.COMPLETED, diagnosis_codes=["F41.1"]
        )
        charge = LedgerEntry.objects.get()
        encounter = Encounter.objects.get()
    assert (charge.amount_cents, charge.metadata["cpt_code"], charge.metadata["diagnosis_codes"]) == (
        15000,
        "90834",
        ["F41.1"],
    )
    assert charge.encounter_id == encounter.pk
    assert encounter.ended_at is not None


def test_completing_without_charge_capture_records_no_charge(clinic):
    appointment = today_appointment(clinic)
    with as_tenant(clinic.org, Role.FRONT_DESK):
        services.appointment_check_in(appointment=appointment)
        services.appointment_transition(appointment=appointment, status=AppointmentStatus.IN_SESSION)
        services.appointment_transition(appointment=appointment, status=AppointmentStatus.COMPLETED)
        assert LedgerEntry.objects.count() == 0
        assert Appointment.objects.get().status == AppointmentStatus.COMPLETED


def test_the_front_desk_starts_on_the_today_board_and_other_roles_on_the_index(clinic):
    desk = logged_in(add_member(clinic.org, Role.FRONT_DESK))
    home = desk.get("/admin/")
    assert home.status_code == 302
    assert home["Location"] == "/admin/scheduling/appointment/today/"
    assert desk.get(home["Location"]).status_code == 200
    owner = logged_in(add_member(clinic.org, Role.OWNER))
    assert owner.get("/admin/").status_code == 200
