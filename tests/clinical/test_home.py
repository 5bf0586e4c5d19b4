"""Each role's home: the clinician's visits of the day (in the clinic's zone), their patients' flags to review and
their notes to sign; the coach's own sessions with no clinical content; the owner's whole clinic and the list of
what may be opened; billing's links; the front desk's today board. The other organization never appears."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.clinical.notes import services as note_services
from apps.clinical.timeline import services as timeline_services
from apps.organizations.home import ROLE_HOMES, home_url_name
from apps.organizations.roles import STAFF_ROLES, Role
from apps.patients.models import Patient, PHIAccessLog
from apps.scheduling.models import Appointment, AppointmentReason, AppointmentStatus
from tests.conftest import add_member, as_tenant, logged_in, phi_access_log
from tests.factories import PatientFactory
from tests.scheduling.factories import Clinic, make_clinic, provider_for

pytestmark = pytest.mark.usefixtures("committed")

PHQ9_ITEM9 = [1, 1, 2, 1, 0, 1, 0, 0, 2]  # total 8, item 9 answered "more than half the days"


@dataclass
class Day:
    clinic: Clinic
    own: Patient  # the clinician's patient: a visit today, a flag, a draft note
    other: Patient  # another clinician's patient: a visit today, a flag, their draft
    coached: Patient  # the coach's session today
    other_user: Any
    own_flag: Any
    other_flag: Any
    own_note: Any
    other_note: Any


def visit(clinic: Clinic, patient: Patient, provider: Any, at: dt.datetime, **fields: Any) -> Appointment:
    return Appointment.objects.create(
        patient=patient,
        provider=provider,
        appointment_type=clinic.therapy,
        starts_at=at,
        ends_at=at + dt.timedelta(minutes=50),
        **fields,
    )


def make_day(org: Any, tag: str, zone_name: str) -> Day:
    """A clinic whose patients' family names carry `tag`; the clinician's first visit is at 00:30 local time
    (the day before in UTC for a zone east of it), and one visit of yesterday at 23:30 local is not today's."""
    clinic = make_clinic(org, zone_name=zone_name)
    colleague, colleague_user = provider_for(org, Role.CLINICIAN, f"Dr. Other {tag}")
    today = timezone.localdate(timezone=clinic.zone)
    with as_tenant(org):
        own = PatientFactory(family_name=f"Own{tag}", given_name="Ada")
        other = PatientFactory(family_name=f"Other{tag}", given_name="Ben")
        coached = PatientFactory(family_name=f"Coached{tag}", given_name="Cy")
        yesterday = PatientFactory(family_name=f"Yesterday{tag}", given_name="Dee")
        first = visit(clinic, own, clinic.provider, clinic.at(today, 0, 30))
        AppointmentReason.objects.create(appointment=first, text=f"Panic attacks {tag}")
        visit(
            clinic,
            yesterday,
            clinic.provider,
            clinic.at(today - dt.timedelta(days=1), 23, 30) - dt.timedelta(minutes=60),
        )
        visit(clinic, own, clinic.provider, clinic.at(today, 15), status=AppointmentStatus.CANCELLED)
        visit(clinic, other, colleague, clinic.at(today, 10))
        visit(clinic, coached, clinic.coach, clinic.at(today, 11))
        own_flag = timeline_services.assessment_complete(patient=own, instrument="phq9", answers=PHQ9_ITEM9).flags.get()
        other_flag = timeline_services.assessment_complete(
            patient=other, instrument="phq9", answers=PHQ9_ITEM9
        ).flags.get()
    with as_tenant(org, Role.CLINICIAN, user_id=clinic.provider_user.pk):
        own_note = note_services.clinical_note_create(
            author=clinic.provider_user, patient=own, template="free_text", sections={"text": f"Seen {tag}."}
        )
    with as_tenant(org, Role.CLINICIAN, user_id=colleague_user.pk):
        other_note = note_services.clinical_note_create(
            author=colleague_user, patient=other, template="soap", sections={"plan": f"Plan {tag}."}
        )
    return Day(clinic, own, other, coached, colleague_user, own_flag, other_flag, own_note, other_note)


@pytest.fixture
def day(org_a, org_b) -> Day:
    make_day(org_b, "Bee", "Europe/Berlin")
    return make_day(org_a, "Aye", "Pacific/Kiritimati")  # UTC+14: local midnight is the day before in UTC


def home(user: Any) -> str:
    response = logged_in(user).get("/admin/")
    assert response.status_code == 200
    return response.content.decode()


def test_the_clinicians_home_shows_their_visits_of_the_clinics_day_their_patients_flags_and_notes_to_sign(day):
    page = home(day.clinic.provider_user)

    assert "Your visits today" in page
    assert page.count("OwnAye, Ada") == 3  # the visit, the flag and the note
    assert "<strong>00:30</strong>" in page  # the clinic's local time
    assert "YesterdayAye" not in page  # yesterday in the clinic's zone, though today in UTC
    assert "OtherAye" not in page  # a colleague's visit, flag and draft
    assert "CoachedAye" not in page
    assert "Panic attacks" not in page  # a visit's reason stays on the calendar
    assert reverse("admin:clinical_assessmentflag_review", args=[day.own_flag.pk]) in page
    assert reverse("admin:clinical_assessmentflag_review", args=[day.other_flag.pk]) not in page
    assert reverse("admin:clinical_note_sign", args=[day.own_note.pk]) in page
    assert reverse("admin:clinical_clinicalnote_change", args=[day.other_note.pk]) not in page
    assert "PHQ-9 item 9 (thoughts of self-harm) answered above 0" in page
    assert "Bee" not in page  # the other organization's patients


def test_a_new_flag_of_a_clinicians_patient_shows_on_their_home_and_leaves_it_once_reviewed(day):
    clinician = day.clinic.provider_user
    with as_tenant(day.clinic.org):
        timeline_services.assessment_flag_review(
            flag=day.own_flag, user_id=clinician.pk, action="contacted_patient", comment="Called; safe."
        )
    assert "No flags to review." in home(clinician)

    with as_tenant(day.clinic.org):
        response = timeline_services.assessment_complete(patient=day.own, instrument="phq9", answers=PHQ9_ITEM9)
        new_flag = response.flags.get()
    page = home(clinician)
    assert reverse("admin:clinical_assessmentflag_review", args=[new_flag.pk]) in page
    assert "No flags to review." not in page


def test_the_clinicians_home_logs_the_reads_of_the_patients_it_names(day):
    before = len(phi_access_log(day.clinic.org))
    home(day.clinic.provider_user)
    logged = {(patient, kind, count) for patient, kind, count, path in phi_access_log(day.clinic.org)[before:]}
    assert logged == {
        (day.own.pk, PHIAccessLog.RecordType.APPOINTMENT, 1),
        (day.own.pk, PHIAccessLog.RecordType.ASSESSMENT, 1),
        (day.own.pk, PHIAccessLog.RecordType.CLINICAL_NOTE, 1),
    }


def test_the_coachs_home_shows_their_own_sessions_and_no_clinical_content(day):
    page = home(day.clinic.coach_user)

    assert "CoachedAye, Cy" in page
    assert "Your visits today" in page
    for hidden in ("OwnAye", "OtherAye", "Flags to review", "Notes to sign", "Unsigned notes", "PHQ-9", "Panic"):
        assert hidden not in page, hidden
    assert "Bee" not in page


def test_the_owners_home_shows_the_whole_clinic_and_everything_they_may_open(day):
    page = home(add_member(day.clinic.org, Role.OWNER))

    for shown in ("OwnAye, Ada", "OtherAye, Ben", "CoachedAye, Cy", "Dr. Other Aye"):
        assert shown in page, shown
    assert reverse("admin:clinical_assessmentflag_review", args=[day.own_flag.pk]) in page
    assert reverse("admin:clinical_assessmentflag_review", args=[day.other_flag.pk]) in page
    assert reverse("admin:clinical_clinicalnote_change", args=[day.own_note.pk]) in page
    assert reverse("admin:clinical_clinicalnote_change", args=[day.other_note.pk]) in page
    assert reverse("admin:clinical_note_sign", args=[day.own_note.pk]) not in page  # only its author signs
    assert "Unsigned notes" in page
    assert reverse("admin:patients_patient_changelist") in page  # the model list
    assert reverse("admin:billing_dashboard") in page
    assert reverse("admin:billing_desk") in page
    assert "YesterdayAye" not in page
    assert "Bee" not in page


def test_billing_starts_on_the_billing_desk_which_shows_no_visits_flags_or_notes(day):
    billing = logged_in(add_member(day.clinic.org, Role.BILLING))
    response = billing.get("/admin/")
    assert (response.status_code, response["Location"]) == (302, reverse("admin:billing_desk"))

    page = billing.get(reverse("admin:billing_desk")).content.decode()
    assert "Claims ready to send" in page
    for hidden in ("OwnAye", "OtherAye", "CoachedAye", "Flags to review", "Unsigned notes", "Bee"):
        assert hidden not in page, hidden


def test_the_front_desk_starts_on_the_today_board(day):
    desk = logged_in(add_member(day.clinic.org, Role.FRONT_DESK))
    response = desk.get("/admin/")
    assert (response.status_code, response["Location"]) == (302, reverse("admin:scheduling_today"))


def test_every_staff_role_has_a_home_that_exists():
    assert set(ROLE_HOMES) == set(STAFF_ROLES)
    assert {role: reverse(home_url_name(role)) for role in STAFF_ROLES} == {
        "owner": "/admin/",
        "clinician": "/admin/",
        "coach": "/admin/",
        "billing": "/admin/billing/ledgerentry/desk/",
        "front_desk": "/admin/scheduling/appointment/today/",
    }
