"""The scheduling API: booking with Idempotency-Key, bad input naming the field and storing nothing, 409 for a
taken slot, filters, status changes, check-in, free slots in the clinic's zone, and the other organization."""

import datetime as dt
import json
import uuid

import pytest

from apps.organizations.roles import Role, Scope
from apps.scheduling.models import Appointment, AppointmentStatus
from tests.conftest import api_client, as_tenant, issue_key, logged_in, phi_access_log

from .factories import Clinic, make_clinic, next_weekday

URL = "/api/v1/appointments/"
SCOPES = [Scope.SCHEDULING_READ.value, Scope.SCHEDULING_WRITE.value, Scope.PATIENTS_READ.value]


@pytest.fixture
def clinic(org_a) -> Clinic:
    return make_clinic(org_a)


@pytest.fixture
def other(org_b) -> Clinic:
    return make_clinic(org_b, zone_name="Europe/Berlin")


def body(clinic: Clinic, hour: int = 10, day: dt.date | None = None, **changes):
    day = day or next_weekday(1, zone_name=clinic.zone_name)
    data = {
        "patient_id": str(clinic.patient.pk),
        "provider_id": str(clinic.provider.pk),
        "appointment_type_id": str(clinic.therapy.pk),
        "room_id": str(clinic.room.pk),
        "starts_at": clinic.at(day, hour).isoformat(),
        "reason": "Follow-up: insomnia",
    }
    data.update(changes)
    return data


def post(client, url, data, **headers):
    return client.post(url, json.dumps(data), content_type="application/json", **headers)


def count(clinic: Clinic) -> int:
    with as_tenant(clinic.org):
        return Appointment.objects.count()


def test_front_desk_books_with_an_idempotency_key_once_and_sees_local_times(clinic):
    client = logged_in(add_desk(clinic))
    first = post(client, URL, body(clinic), HTTP_IDEMPOTENCY_KEY="book-1")
    again = post(client, URL, body(clinic), HTTP_IDEMPOTENCY_KEY="book-1")

    assert first.status_code == 201, first.content
    assert again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    data = first.json()
    day = next_weekday(1, zone_name=clinic.zone_name)
    assert data["starts_at"] == clinic.at(day, 10).isoformat()  # Chicago offset, not UTC
    assert data["ends_at"] == clinic.at(day, 10, 50).isoformat()
    assert (data["status"], data["reason"], data["outside_availability"]) == ("booked", "Follow-up: insomnia", False)
    assert count(clinic) == 1


def add_desk(clinic: Clinic):
    from tests.conftest import add_member

    return add_member(clinic.org, Role.FRONT_DESK)


def test_a_taken_slot_is_a_409_naming_whose_time_and_nothing_is_stored(clinic):
    client = logged_in(add_desk(clinic))
    assert post(client, URL, body(clinic)).status_code == 201
    provider_taken = post(client, URL, body(clinic, 10, starts_at=None) | {"starts_at": body(clinic, 10)["starts_at"]})
    assert provider_taken.status_code == 409
    assert provider_taken.json()["error"]["code"] == "conflict"
    assert provider_taken.json()["error"]["message"] == "The provider already has an appointment at this time."
    room_taken = post(
        client, URL, body(clinic, provider_id=str(clinic.coach.pk), appointment_type_id=str(clinic.coaching.pk))
    )
    assert room_taken.status_code == 409
    assert room_taken.json()["error"]["message"] == "The room is already booked at this time."
    assert count(clinic) == 1


def _bad_inputs(clinic: Clinic, other: Clinic):
    day = next_weekday(1, zone_name=clinic.zone_name)
    return {
        "end before start": (body(clinic, ends_at=clinic.at(day, 9).isoformat()), "ends_at"),
        "before opening": (body(clinic, 7), "starts_at"),
        "in the past": (body(clinic, day=day - dt.timedelta(days=14)), "starts_at"),
        "unknown provider": (body(clinic, provider_id=str(uuid.uuid4())), "provider_id"),
        "other clinic's provider": (body(clinic, provider_id=str(other.provider.pk)), "provider_id"),
        "other clinic's room": (body(clinic, room_id=str(other.room.pk)), "room_id"),
        "other clinic's patient": (body(clinic, patient_id=str(other.patient.pk)), "patient_id"),
        "other clinic's type": (body(clinic, appointment_type_id=str(other.therapy.pk)), "appointment_type_id"),
        "not a uuid": (body(clinic, room_id="room-one"), "room_id"),
        "no offset": (body(clinic, starts_at="not a time"), "starts_at"),
        "far future": (body(clinic, starts_at="9999-12-31T23:59:00+00:00"), "starts_at"),
    }


def test_bad_input_is_a_400_naming_the_field_never_the_value_and_stores_nothing(clinic, other):
    client = logged_in(add_desk(clinic))
    wrong = {}
    for name, (data, field) in _bad_inputs(clinic, other).items():
        response = post(client, URL, data)
        error = response.json()["error"]
        if response.status_code != 400 or set(error.get("fields", {})) != {field}:
            wrong[name] = (response.status_code, error)
        assert str(other.patient.pk) not in response.content.decode()
    assert wrong == {}
    assert count(clinic) == 0
    assert count(other) == 0


def test_outside_availability_books_with_the_explicit_override(clinic):
    client = logged_in(add_desk(clinic))
    response = post(client, URL, body(clinic, 18, override_availability=True))
    assert response.status_code == 201
    assert response.json()["outside_availability"] is True


def test_filters_by_provider_and_period_and_the_other_clinic_sees_none(clinic, other):
    desk = logged_in(add_desk(clinic))
    day = next_weekday(1, zone_name=clinic.zone_name)
    for hour, provider, kind in ((10, clinic.provider, clinic.therapy), (11, clinic.coach, clinic.coaching)):
        data = body(clinic, hour, provider_id=str(provider.pk), appointment_type_id=str(kind.pk), room_id=None)
        assert post(desk, URL, data).status_code == 201
    assert post(desk, URL, body(clinic, 10, day=day + dt.timedelta(days=1))).status_code == 201

    by_provider = desk.get(URL, {"provider": str(clinic.coach.pk)}).json()
    in_period = desk.get(
        URL, {"starts_from": clinic.at(day, 0).isoformat(), "starts_before": clinic.at(day, 23).isoformat()}
    ).json()
    other_desk = logged_in(add_desk(other))

    assert [a["provider_id"] for a in by_provider["results"]] == [str(clinic.coach.pk)]
    assert [a["starts_at"] for a in in_period["results"]] == [
        clinic.at(day, 10).isoformat(),
        clinic.at(day, 11).isoformat(),
    ]
    assert other_desk.get(URL).json()["results"] == []
    some_id = by_provider["results"][0]["id"]
    assert other_desk.get(f"{URL}{some_id}/").status_code == 404
    assert post(other_desk, f"{URL}{some_id}/check-in/", {}).status_code == 404
    assert desk.get(URL, {"starts_from": "yesterday"}).status_code == 400


def test_status_changes_and_check_in_through_the_api(clinic):
    client = logged_in(add_desk(clinic))
    appointment = post(client, URL, body(clinic)).json()
    base = f"{URL}{appointment['id']}/"

    confirmed = post(client, f"{base}transitions/", {"status": "confirmed"})
    checked_in = post(client, f"{base}check-in/", {})
    again = post(client, f"{base}check-in/", {})
    cancel_late = post(client, f"{base}transitions/", {"status": "cancelled", "reason": "Left"})

    assert confirmed.json()["status"] == "confirmed"
    assert checked_in.status_code == 200
    result = checked_in.json()
    assert result["appointment"]["status"] == "checked_in"
    assert (result["treatment_consent"], result["data_sharing_consent"], result["insurance_on_file"]) == (
        False,
        False,
        False,
    )
    from apps.clinical.models import Encounter

    with as_tenant(clinic.org):
        assert Encounter.objects.get(pk=result["encounter_id"]).appointment_id == uuid.UUID(appointment["id"])
    assert again.status_code == 400
    assert set(again.json()["error"]["fields"]) == {"status"}
    assert cancel_late.status_code == 400
    with as_tenant(clinic.org):
        assert Appointment.objects.get().status == AppointmentStatus.CHECKED_IN


def test_cancel_needs_a_reason_and_records_it(clinic):
    client = logged_in(add_desk(clinic))
    appointment = post(client, URL, body(clinic)).json()
    url = f"{URL}{appointment['id']}/transitions/"
    missing = post(client, url, {"status": "cancelled"})
    cancelled = post(client, url, {"status": "cancelled", "reason": "Patient called"})
    assert missing.status_code == 400
    assert set(missing.json()["error"]["fields"]) == {"reason"}
    assert (cancelled.json()["status"], cancelled.json()["cancellation_reason"]) == ("cancelled", "Patient called")


def test_reschedule_and_series_through_the_api(clinic):
    client = logged_in(add_desk(clinic))
    appointment = post(client, URL, body(clinic)).json()
    day = next_weekday(1, zone_name=clinic.zone_name)
    moved = post(client, f"{URL}{appointment['id']}/reschedule/", {"starts_at": clinic.at(day, 14).isoformat()})
    assert moved.status_code == 200
    assert moved.json()["starts_at"] == clinic.at(day, 14).isoformat()

    series = post(
        client,
        "/api/v1/appointment-series/",
        body(clinic, 9, day=next_weekday(0, zone_name=clinic.zone_name), frequency="weekly", occurrences=3),
    )
    assert series.status_code == 201, series.content
    assert [a["starts_at"][11:16] for a in series.json()["appointments"]] == ["09:00", "09:00", "09:00"]


def test_a_coach_sees_own_sessions_without_reason_and_a_key_without_phi_sees_no_reason(clinic):
    desk = logged_in(add_desk(clinic))
    assert post(desk, URL, body(clinic)).status_code == 201
    coaching = body(clinic, 11, provider_id=str(clinic.coach.pk), appointment_type_id=str(clinic.coaching.pk))
    assert post(desk, URL, coaching | {"reason": "Stress at work"}).status_code == 201

    coach_view = logged_in(clinic.coach_user).get(URL).json()["results"]
    key_view = api_client(issue_key(clinic.org, scopes=SCOPES)).get(URL).json()["results"]

    assert [(a["provider_id"], a["reason"]) for a in coach_view] == [(str(clinic.coach.pk), None)]
    assert [a["reason"] for a in key_view] == [None, None]
    assert "Stress" not in json.dumps(coach_view)


def test_free_slots_in_the_clinic_zone_and_bad_days(clinic):
    client = logged_in(add_desk(clinic))
    day = next_weekday(1, zone_name=clinic.zone_name)
    assert post(client, URL, body(clinic, 10)).status_code == 201
    slots = client.get(
        "/api/v1/free-slots/",
        {
            "appointment_type_id": str(clinic.therapy.pk),
            "provider_id": str(clinic.provider.pk),
            "first_day": day.isoformat(),
            "last_day": day.isoformat(),
        },
    )
    assert slots.status_code == 200
    assert [s["starts_at"] for s in slots.json()][:2] == [
        clinic.at(day, 9).isoformat(),
        clinic.at(day, 11, 30).isoformat(),
    ]
    backwards = client.get(
        "/api/v1/free-slots/",
        {
            "appointment_type_id": str(clinic.therapy.pk),
            "first_day": day.isoformat(),
            "last_day": (day - dt.timedelta(days=1)).isoformat(),
        },
    )
    assert backwards.status_code == 400
    assert set(backwards.json()["error"]["fields"]) == {"last_day"}
    far = client.get(
        "/api/v1/free-slots/",
        {"appointment_type_id": str(clinic.therapy.pk), "first_day": "9999-12-31", "last_day": "9999-12-31"},
    )
    assert far.status_code == 400
    assert set(far.json()["error"]["fields"]) == {"first_day"}


def test_the_schema_documents_the_scheduling_operations(db):
    from django.test import Client

    schema = Client().get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    for path in (
        "/api/v1/appointments/",
        "/api/v1/appointments/{appointment_id}/check-in/",
        "/api/v1/appointments/{appointment_id}/transitions/",
        "/api/v1/free-slots/",
        "/api/v1/appointment-types/",
        "/api/v1/appointment-series/",
    ):
        assert path in schema["paths"]
    parameters = [p["name"] for p in schema["paths"]["/api/v1/appointments/"]["post"]["parameters"]]
    assert "Idempotency-Key" in parameters


def test_reading_appointments_is_logged_as_a_read_of_the_patients_record(clinic, other):
    client = logged_in(add_desk(clinic))
    created = post(client, URL, body(clinic))
    assert created.status_code == 201
    client.get(URL)
    logged_in(add_desk(other)).get(URL)
    calendar = client.get(
        "/admin/scheduling/appointment/calendar/", {"date": next_weekday(1, zone_name=clinic.zone_name)}
    )
    assert calendar.status_code == 200

    assert phi_access_log(clinic.org) == [
        (clinic.patient.pk, "appointment", 1, URL),
        (clinic.patient.pk, "appointment", 1, URL),
        (clinic.patient.pk, "appointment", 1, "/admin/scheduling/appointment/calendar/"),
    ]
    assert phi_access_log(other.org) == []
