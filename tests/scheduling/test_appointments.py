"""Booking, overlaps refused by PostgreSQL, the status flow, cancellation, series across DST, and isolation."""

import datetime as dt
import itertools

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from apps.events.models import DomainEvent
from apps.organizations.roles import Role
from apps.scheduling import selectors, services
from apps.scheduling.models import Appointment, AppointmentReason, AppointmentStatus, RecurringSeries
from tests.conftest import as_tenant

from .factories import Clinic, make_clinic, next_weekday


@pytest.fixture
def clinic(org_a) -> Clinic:
    return make_clinic(org_a)


@pytest.fixture
def other(org_b) -> Clinic:
    return make_clinic(org_b, zone_name="Europe/Berlin")


def book(clinic: Clinic, hour: int, **kwargs):
    day = kwargs.pop("day", None) or next_weekday(1, zone_name=clinic.zone_name)
    fields = {
        "patient": clinic.patient,
        "provider": clinic.provider,
        "appointment_type": clinic.therapy,
        "starts_at": clinic.at(day, hour),
    }
    fields.update(kwargs)
    with as_tenant(clinic.org, Role.FRONT_DESK):
        return services.appointment_book(**fields)


def test_booking_takes_the_type_duration_and_stores_the_reason_apart(clinic):
    appointment = book(clinic, 10, room=clinic.room, reason="Follow-up for anxiety")
    with as_tenant(clinic.org):
        stored = Appointment.objects.get()
        assert stored.ends_at - stored.starts_at == dt.timedelta(minutes=50)
        assert stored.starts_at.astimezone(clinic.zone).hour == 10
        assert stored.status == AppointmentStatus.BOOKED
        assert AppointmentReason.objects.get().appointment_id == appointment.pk
        assert stored.history.count() == 1


def test_postgresql_refuses_an_overlapping_insert_as_the_runtime_role(clinic):
    first = book(clinic, 10, room=clinic.room)
    statement = """
        INSERT INTO scheduling_appointment (id, organization_id, patient_id, provider_id, room_id,
            appointment_type_id, starts_at, ends_at, status, outside_availability, cancellation_reason,
            created_at, updated_at)
        VALUES (gen_random_uuid(), %s, %s, %s, %s, %s, %s, %s, 'booked', false, '', now(), now())
    """
    with as_tenant(clinic.org, Role.FRONT_DESK), connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, (SELECT rolbypassrls OR rolsuper FROM pg_roles WHERE rolname = current_user)"
        )
        assert cursor.fetchone()[1] is False
        for provider, room, code in (
            (clinic.provider.pk, None, "appointment_provider_no_overlap"),
            (clinic.coach.pk, clinic.room.pk, "appointment_room_no_overlap"),
        ):
            values = [clinic.org.pk, clinic.patient.pk, provider, room, clinic.therapy.pk]
            values += [first.starts_at + dt.timedelta(minutes=20), first.ends_at + dt.timedelta(minutes=20)]
            with pytest.raises(IntegrityError) as refused, transaction.atomic():
                cursor.execute(statement, values)
            assert refused.value.__cause__.diag.constraint_name == code
        # Back to back is fine: the periods are half-open.
        cursor.execute(statement, [*values[:3], None, values[4], first.ends_at, first.ends_at + dt.timedelta(hours=1)])
        assert Appointment.objects.count() == 2


def test_a_cancelled_or_no_show_appointment_frees_its_time(clinic):
    first = book(clinic, 10)
    with pytest.raises(services.SlotTakenError) as taken:
        book(clinic, 10)
    assert taken.value.field == "provider_id"
    with as_tenant(clinic.org, Role.FRONT_DESK, user_id=clinic.provider_user.pk):
        services.appointment_cancel(appointment=first, reason="Patient called")
    second = book(clinic, 10)
    with as_tenant(clinic.org, Role.FRONT_DESK):
        services.appointment_cancel(appointment=second, reason="No answer", no_show=True)
        cancelled = Appointment.objects.get(pk=first.pk)
        assert (cancelled.status, cancelled.cancellation_reason) == (AppointmentStatus.CANCELLED, "Patient called")
        assert cancelled.cancelled_by_id == clinic.provider_user.pk
        assert cancelled.cancelled_at is not None
        assert Appointment.objects.get(pk=second.pk).status == AppointmentStatus.NO_SHOW
    book(clinic, 10)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"ends_at": "before"}, "ends_at"),
        ({"hour": 7}, "starts_at"),  # before the provider's 9:00
        ({"past": True}, "starts_at"),
        ({"saturday": True}, "starts_at"),
    ],
)
def test_bad_times_are_refused_naming_the_field_and_store_nothing(clinic, change, field):
    day = next_weekday(1, zone_name=clinic.zone_name)
    kwargs = {}
    hour = change.get("hour", 10)
    if change.get("past"):
        day = day - dt.timedelta(days=14)
    if change.get("saturday"):
        day = next_weekday(5, zone_name=clinic.zone_name)
    if change.get("ends_at"):
        kwargs["ends_at"] = clinic.at(day, hour) - dt.timedelta(minutes=5)
    with pytest.raises(ValidationError) as refused:
        book(clinic, hour, day=day, **kwargs)
    assert set(refused.value.message_dict) == {field}
    with as_tenant(clinic.org):
        assert Appointment.objects.count() == 0


def test_outside_availability_is_booked_only_with_an_explicit_override_and_time_off_blocks(clinic):
    appointment = book(clinic, 18, override_availability=True)
    assert appointment.outside_availability is True
    day = next_weekday(2, zone_name=clinic.zone_name)
    with as_tenant(clinic.org, Role.OWNER):
        clinic.provider.time_off.create(starts_at=clinic.at(day, 12), ends_at=clinic.at(day, 15))
    with pytest.raises(ValidationError) as refused:
        book(clinic, 13, day=day)
    assert set(refused.value.message_dict) == {"starts_at"}
    assert book(clinic, 15, day=day).outside_availability is False


def test_status_flow_check_in_opens_the_encounter_and_wrong_steps_are_refused(clinic):
    appointment = book(clinic, 10)
    with as_tenant(clinic.org, Role.FRONT_DESK):
        services.appointment_transition(appointment=appointment, status=AppointmentStatus.CONFIRMED)
        with pytest.raises(ValidationError) as refused:
            services.appointment_transition(appointment=appointment, status=AppointmentStatus.COMPLETED)
        assert set(refused.value.message_dict) == {"status"}
        checked_in = services.appointment_check_in(appointment=appointment)
        assert checked_in.encounter.appointment_id == appointment.pk
        assert checked_in.encounter.provider_name == "Dr. Dana Reyes"
        assert checked_in.status == selectors.CheckInStatus(False, False, False)
        services.appointment_transition(appointment=appointment, status=AppointmentStatus.IN_SESSION)
        done = services.appointment_transition(appointment=appointment, status=AppointmentStatus.COMPLETED)
        assert done.completed_at is not None
        with pytest.raises(ValidationError):
            services.appointment_cancel(appointment=appointment, reason="Too late")
        assert Appointment.objects.get().status == AppointmentStatus.COMPLETED
    with as_tenant(clinic.org, Role.OWNER):
        # One outbox event per booking and change (none for the refused steps), without the reason.
        events = DomainEvent.objects.filter(subject_id=appointment.pk).order_by("transaction_id", "id")
        assert [(e.event_type, e.data["status"]) for e in events] == [
            ("appointment.booked", "booked"),
            ("appointment.changed", "confirmed"),
            ("appointment.changed", "checked_in"),
            ("appointment.changed", "in_session"),
            ("appointment.changed", "completed"),
        ]
        assert set(events[0].data) == {"status", "starts_at", "ends_at", "provider_id"}


def test_reschedule_moves_one_occurrence_and_an_overlap_moves_nothing(clinic):
    day = next_weekday(0, zone_name=clinic.zone_name)
    with as_tenant(clinic.org, Role.FRONT_DESK):
        series = services.series_book(
            patient=clinic.patient,
            provider=clinic.provider,
            appointment_type=clinic.therapy,
            first_starts_at=clinic.at(day, 9),
            frequency="biweekly",
            occurrences=3,
        )
        occurrences = list(series.appointments.order_by("starts_at"))
        assert [a.starts_at.astimezone(clinic.zone).date() for a in occurrences] == [
            day + dt.timedelta(days=14 * n) for n in range(3)
        ]
        services.appointment_reschedule(appointment=occurrences[1], starts_at=clinic.at(day + dt.timedelta(14), 11))
        blocker = services.appointment_book(
            patient=clinic.patient,
            provider=clinic.provider,
            appointment_type=clinic.coaching,
            starts_at=clinic.at(day, 13),
        )
        with pytest.raises(services.SlotTakenError):
            services.appointment_reschedule(appointment=occurrences[2], starts_at=blocker.starts_at)
        hours = [a.starts_at.astimezone(clinic.zone).hour for a in series.appointments.order_by("starts_at")]
        assert hours == [9, 11, 9]


def _monday_before_a_dst_change(zone) -> dt.date:
    monday = next_weekday(0, zone_name=str(zone))
    for _ in range(40):
        noon = dt.datetime.combine(monday, dt.time(12), tzinfo=zone)
        if noon.utcoffset() != (noon + dt.timedelta(weeks=2)).utcoffset():
            return monday
        monday += dt.timedelta(weeks=1)
    raise AssertionError("no DST change within 40 weeks")


def test_a_weekly_series_across_a_dst_change_stays_at_the_same_local_time(org_a):
    clinic = make_clinic(org_a, zone_name="America/New_York")
    first = _monday_before_a_dst_change(clinic.zone)
    with as_tenant(clinic.org, Role.FRONT_DESK):
        series = services.series_book(
            patient=clinic.patient,
            provider=clinic.provider,
            appointment_type=clinic.therapy,
            first_starts_at=clinic.at(first, 9, 30),
            frequency="weekly",
            occurrences=4,
        )
        starts = list(series.appointments.order_by("starts_at").values_list("starts_at", flat=True))
    local = [(s.astimezone(clinic.zone).hour, s.astimezone(clinic.zone).minute) for s in starts]
    assert local == [(9, 30)] * 4
    assert len({s.astimezone(dt.UTC).hour for s in starts}) == 2  # the UTC hour moved with the clock change
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert gaps.count(dt.timedelta(hours=168)) == 2
    assert {dt.timedelta(hours=167), dt.timedelta(hours=169)} & set(gaps)  # the week with the clock change


def test_a_series_with_one_taken_occurrence_books_nothing(clinic):
    day = next_weekday(0, zone_name=clinic.zone_name)
    book(clinic, 9, day=day + dt.timedelta(days=7))
    with as_tenant(clinic.org, Role.FRONT_DESK), pytest.raises(services.SlotTakenError) as taken:
        services.series_book(
            patient=clinic.patient,
            provider=clinic.provider,
            appointment_type=clinic.therapy,
            first_starts_at=clinic.at(day, 9),
            frequency="weekly",
            occurrences=3,
        )
    assert taken.value.message.startswith("Occurrence 2:")
    with as_tenant(clinic.org):
        assert Appointment.objects.count() == 1
        assert RecurringSeries.objects.count() == 0


def test_free_slots_are_availability_minus_bookings_in_the_clinic_zone(clinic):
    day = next_weekday(1, zone_name=clinic.zone_name)
    book(clinic, 10)
    with as_tenant(clinic.org, Role.FRONT_DESK):
        slots = selectors.free_slots(
            providers=[clinic.provider], appointment_type=clinic.therapy, first_day=day, last_day=day
        )
    local = [(s.starts_at.astimezone(clinic.zone).strftime("%H:%M")) for s in slots]
    # 9:00-17:00 in 50-minute steps; 9:50 and 10:40 overlap the 10:00-10:50 booking.
    assert local == ["09:00", "11:30", "12:20", "13:10", "14:00", "14:50", "15:40"]


def test_a_coach_sees_their_own_sessions_and_no_reason_org_b_sees_nothing(clinic, other):
    book(clinic, 10, reason="Panic attacks")
    book(clinic, 11, provider=clinic.coach, appointment_type=clinic.coaching, reason="Sleep goals")
    with as_tenant(clinic.org, Role.COACH, user_id=clinic.coach_user.pk):
        mine = list(Appointment.objects.values_list("provider_id", flat=True))
        assert mine == [clinic.coach.pk]
        assert AppointmentReason.objects.count() == 0
    with as_tenant(clinic.org, Role.CLINICIAN, user_id=clinic.provider_user.pk):
        assert Appointment.objects.count() == 2
        assert AppointmentReason.objects.count() == 2
    with as_tenant(other.org, Role.OWNER):
        assert Appointment.objects.count() == 0
        assert AppointmentReason.objects.count() == 0
        assert (
            selectors.free_slots(
                providers=[other.provider],
                appointment_type=other.therapy,
                first_day=next_weekday(1),
                last_day=next_weekday(1),
            )
            != []
        )


def test_the_other_organizations_rows_cannot_be_linked(clinic, other):
    with as_tenant(other.org, Role.FRONT_DESK), pytest.raises(IntegrityError), transaction.atomic():
        Appointment.objects.create(
            patient=clinic.patient,  # org A's patient, from org B's context
            provider=other.provider,
            appointment_type=other.therapy,
            starts_at=other.at(next_weekday(1), 10),
            ends_at=other.at(next_weekday(1), 11),
        )
    with as_tenant(other.org):
        assert Appointment.objects.count() == 0
