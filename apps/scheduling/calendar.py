"""The calendar pages inside the admin: day and week views per provider or for the whole clinic (in its zone),
free slots that book in two clicks, moving and cancelling, and the today board with check-in.

Pages are thin: parse, call a selector or service, render. What a role may do is the map's (`CALENDAR`)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from apps.billing import eligibility, tasks
from apps.billing import selectors as billing_selectors
from apps.billing.permissions import ELIGIBILITY
from apps.organizations.access import object_or_404
from apps.organizations.admin_base import guarded_view, may, request_organization_id
from apps.organizations.time_zones import organization_zone
from apps.patients import phi_reads
from apps.patients.admin_mixins import patient_picker
from apps.patients.models import PHIAccessLog
from apps.patients.selectors import patient_list

from . import selectors, services
from .models import Appointment, AppointmentReason
from .permissions import CALENDAR

# The calendar shows days up to five years either side of today.
CALENDAR_REACH_DAYS = 5 * 366
# Service fields -> form fields, so a service's error lands beside the field it is about.
FORM_FIELDS = {"patient_id": "patient", "provider_id": "provider", "room_id": "room", "appointment_type_id": "kind"}


def _add_errors(form: forms.Form, error: ValidationError) -> None:
    for field, messages_ in error.message_dict.items():
        name = FORM_FIELDS.get(field, field)
        form.add_error(name if name in form.fields else None, messages_)


class BookingForm(forms.Form):
    patient = forms.ModelChoiceField(queryset=patient_list())
    provider = forms.ModelChoiceField(queryset=selectors.provider_list())
    kind = forms.ModelChoiceField(label="Appointment type", queryset=selectors.appointment_type_list())
    room = forms.ModelChoiceField(queryset=selectors.room_list(), required=False)
    starts_at = forms.SplitDateTimeField(label="Starts at", help_text="The clinic's local time.")
    reason = forms.CharField(max_length=500, required=False, help_text="Clinical: seen by clinical staff only.")
    override_availability = forms.BooleanField(
        required=False, label="Book outside the provider's hours", help_text="Only when you mean to."
    )

    def __init__(self, *args: Any, admin_site: admin.AdminSite, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["patient"] = patient_picker(Appointment, admin_site)


class CancelForm(forms.Form):
    reason = forms.CharField(max_length=200, help_text="Not clinical: e.g. patient called, no answer.")
    no_show = forms.BooleanField(required=False, label="The patient did not come (no-show)")


class RescheduleForm(forms.Form):
    starts_at = forms.SplitDateTimeField(label="New start", help_text="The clinic's local time.")
    override_availability = forms.BooleanField(required=False, label="Outside the provider's hours")


def _day(request: HttpRequest) -> dt.date:
    """The day asked for (today when none, or one the calendar does not reach)."""
    today = timezone.localdate(timezone=organization_zone())
    try:
        day = dt.date.fromisoformat(request.GET.get("date", ""))
    except ValueError:
        return today
    return day if abs((day - today).days) <= CALENDAR_REACH_DAYS else today


def _aware(value: str) -> dt.datetime | None:
    """An ISO time with its offset (a slot's start), else None."""
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if timezone.is_aware(parsed) else None


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


class CalendarPages:
    """The pages, mounted on the appointment admin's URLs."""

    def __init__(self, admin_site: admin.AdminSite) -> None:
        self.admin_site = admin_site

    def urls(self) -> list[URLPattern]:
        def view(page: Any, action: str) -> Any:
            return guarded_view(self.admin_site, page, CALENDAR, action)

        return [
            path("calendar/", view(self.calendar, "read"), name="scheduling_calendar"),
            path("today/", view(self.today, "read"), name="scheduling_today"),
            path("book/", view(self.book, "write"), name="scheduling_book"),
            path("<uuid:appointment_id>/check-in/", view(self.check_in, "check_in"), name="scheduling_check_in"),
            path(
                "<uuid:appointment_id>/eligibility/",
                guarded_view(self.admin_site, self.eligibility_ask, ELIGIBILITY, "ask"),
                name="scheduling_eligibility_ask",
            ),
            path("<uuid:appointment_id>/cancel/", view(self.cancel, "write"), name="scheduling_cancel"),
            path("<uuid:appointment_id>/reschedule/", view(self.reschedule, "write"), name="scheduling_reschedule"),
            path("<uuid:appointment_id>/status/", view(self.status, "write"), name="scheduling_status"),
        ]

    def _render(self, request: HttpRequest, template: str, title: str, **extra: Any) -> TemplateResponse:
        context = {**self.admin_site.each_context(request), "title": title, **extra}
        return TemplateResponse(request, f"admin/scheduling/{template}", context)

    @staticmethod
    def _appointments(start: dt.datetime, end: dt.datetime, provider_id: uuid.UUID | None) -> list[Appointment]:
        appointments = list(
            selectors.appointment_list(provider_id=provider_id, starts_from=start, starts_before=end).prefetch_related(
                Prefetch("reason", queryset=AppointmentReason.objects.all())
            )
        )
        # Names and birth dates of the patients shown: a read of their records.
        phi_reads.mark(
            record_type=PHIAccessLog.RecordType.APPOINTMENT, patient_ids={a.patient_id for a in appointments}
        )
        return appointments

    # --- day and week ----------------------------------------------------------------------------------------

    def calendar(self, request: HttpRequest) -> HttpResponse:
        zone = organization_zone()
        day = _day(request)
        week = request.GET.get("view") == "week"
        first = day - dt.timedelta(days=day.weekday()) if week else day
        last = first + dt.timedelta(days=6) if week else day
        providers = list(selectors.provider_list())
        chosen = _uuid(request.GET.get("provider"))
        shown = [p for p in providers if chosen is None or p.pk == chosen]
        kinds = list(selectors.appointment_type_list())
        kind = next((k for k in kinds if k.pk == _uuid(request.GET.get("type"))), kinds[0] if kinds else None)
        start, _ = selectors.day_bounds(first, zone)
        _, end = selectors.day_bounds(last, zone)
        appointments = self._appointments(start, end, chosen)
        slots = (
            selectors.free_slots(providers=shown, appointment_type=kind, first_day=first, last_day=last)
            if kind and may(request, CALENDAR, "write")
            else []
        )
        days = []
        for offset in range((last - first).days + 1):
            current = first + dt.timedelta(days=offset)
            columns = []
            for provider in shown:
                columns.append(
                    {
                        "provider": provider,
                        "appointments": [
                            a
                            for a in appointments
                            if a.provider_id == provider.pk and a.starts_at.astimezone(zone).date() == current
                        ],
                        "slots": [
                            s
                            for s in slots
                            if s.provider_id == provider.pk and s.starts_at.astimezone(zone).date() == current
                        ],
                    }
                )
            days.append({"date": current, "columns": columns})
        step = dt.timedelta(days=7 if week else 1)
        return self._render(
            request,
            "calendar.html",
            f"Calendar, {'week of ' if week else ''}{first:%A %d %B %Y}",
            days=days,
            providers=providers,
            chosen=chosen,
            kinds=kinds,
            kind=kind,
            week=week,
            day=day,
            previous=day - step,
            following=day + step,
            zone=zone,
            may_book=may(request, CALENDAR, "write"),
        )

    # --- the today board -------------------------------------------------------------------------------------

    def today(self, request: HttpRequest) -> HttpResponse:
        board = selectors.today_board()
        phi_reads.mark(
            record_type=PHIAccessLog.RecordType.APPOINTMENT,
            patient_ids={a.patient_id for column in board.values() for a in column},
        )
        now = timezone.now()
        late = {a.pk for a in board["expected"] if a.starts_at < now}
        columns = [
            ("Expected", board["expected"]),
            ("Arrived", board["arrived"]),
            ("In session", board["in_session"]),
            ("Done", board["done"]),
        ]
        return self._render(
            request,
            "today.html",
            f"Today, {timezone.localdate(timezone=organization_zone()):%A %d %B %Y}",
            columns=columns,
            late=late,
            may_check_in=may(request, CALENDAR, "check_in"),
            may_book=may(request, CALENDAR, "write"),
        )

    # --- booking, moving, cancelling ---------------------------------------------------------------------------

    def book(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST":
            form = BookingForm(request.POST, admin_site=self.admin_site)
            if form.is_valid():
                fields = form.cleaned_data
                try:
                    appointment = services.appointment_book(
                        patient=fields["patient"],
                        provider=fields["provider"],
                        appointment_type=fields["kind"],
                        room=fields["room"],
                        starts_at=fields["starts_at"],
                        reason=fields["reason"],
                        override_availability=fields["override_availability"],
                    )
                except services.SlotTakenError as taken:
                    form.add_error(FORM_FIELDS.get(taken.field), taken.message)
                except ValidationError as error:
                    _add_errors(form, error)
                else:
                    local = appointment.starts_at.astimezone(organization_zone())
                    messages.success(request, f"Booked {local:%A %d %B, %H:%M} with {appointment.provider}.")
                    day = f"?date={local:%Y-%m-%d}&type={appointment.appointment_type_id}"
                    return redirect(f"{reverse('admin:scheduling_calendar')}{day}")
        else:
            initial: dict[str, Any] = {
                "provider": _uuid(request.GET.get("provider")),
                "kind": _uuid(request.GET.get("type")),
            }
            initial["starts_at"] = _aware(request.GET.get("starts_at", ""))
            form = BookingForm(initial=initial, admin_site=self.admin_site)
        return self._render(request, "form_page.html", "Book an appointment", form=form, submit_label="Book")

    def _appointment(self, appointment_id: uuid.UUID) -> Appointment:
        return object_or_404(selectors.appointment_list(), appointment_id)

    def cancel(self, request: HttpRequest, appointment_id: uuid.UUID) -> HttpResponse:
        appointment = self._appointment(appointment_id)
        form = CancelForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.appointment_cancel(
                    appointment=appointment, reason=form.cleaned_data["reason"], no_show=form.cleaned_data["no_show"]
                )
            except ValidationError as error:
                _add_errors(form, error)
            else:
                messages.success(request, "Recorded as a no-show." if form.cleaned_data["no_show"] else "Cancelled.")
                return self._back_to_day(appointment)
        return self._render(
            request,
            "form_page.html",
            "Cancel an appointment",
            form=form,
            appointment=appointment,
            submit_label="Record",
        )

    def reschedule(self, request: HttpRequest, appointment_id: uuid.UUID) -> HttpResponse:
        appointment = self._appointment(appointment_id)
        form = RescheduleForm(request.POST or None, initial={"starts_at": appointment.starts_at})
        if request.method == "POST" and form.is_valid():
            try:
                moved = services.appointment_reschedule(
                    appointment=appointment,
                    starts_at=form.cleaned_data["starts_at"],
                    override_availability=form.cleaned_data["override_availability"],
                )
            except services.SlotTakenError as taken:
                form.add_error("starts_at", taken.message)
            except ValidationError as error:
                _add_errors(form, error)
            else:
                messages.success(request, "Moved.")
                return self._back_to_day(moved)
        return self._render(
            request, "form_page.html", "Move an appointment", form=form, appointment=appointment, submit_label="Move"
        )

    def status(self, request: HttpRequest, appointment_id: uuid.UUID) -> HttpResponse:
        appointment = self._appointment(appointment_id)
        if request.method == "POST":
            try:
                services.appointment_transition(appointment=appointment, status=request.POST.get("status", ""))
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
        return redirect("admin:scheduling_today")

    def _back_to_day(self, appointment: Appointment) -> HttpResponseRedirect:
        local = appointment.starts_at.astimezone(organization_zone())
        return redirect(f"{reverse('admin:scheduling_calendar')}?date={local:%Y-%m-%d}")

    # --- check-in ----------------------------------------------------------------------------------------------

    def check_in(self, request: HttpRequest, appointment_id: uuid.UUID) -> HttpResponse:
        appointment = self._appointment(appointment_id)
        phi_reads.mark(record_type=PHIAccessLog.RecordType.APPOINTMENT, patient_ids=[appointment.patient_id])
        encounter = None
        if request.method == "POST":
            try:
                encounter = services.appointment_check_in(appointment=appointment).encounter
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
            else:
                messages.success(request, "Checked in; the visit's encounter is open.")
            appointment = self._appointment(appointment_id)
        return self._render(
            request,
            "check_in.html",
            "Check in",
            appointment=appointment,
            status=selectors.check_in_status(patient=appointment.patient),
            encounter=encounter,
            may_check_in=appointment.status in services.NOT_YET_ARRIVED,
            eligibility=(
                billing_selectors.eligibility_at_check_in(patient_id=appointment.patient_id)
                if may(request, ELIGIBILITY, "read")
                else None
            ),
            may_ask_eligibility=may(request, ELIGIBILITY, "ask"),
        )

    def eligibility_ask(self, request: HttpRequest, appointment_id: uuid.UUID) -> HttpResponse:
        """Ask the payer again whether the patient's policy is active (a 270 sent by the send job)."""
        appointment = self._appointment(appointment_id)
        if request.method == "POST":
            policy = billing_selectors.eligibility_at_check_in(patient_id=appointment.patient_id).policy
            if policy is None:
                messages.error(request, "No active insurance policy is on file to ask about.")
            else:
                try:
                    eligibility.eligibility_check_request(policy=policy)
                except ValidationError as error:
                    messages.error(request, " ".join(error.messages))
                else:
                    tasks.eligibility_send_request(organization_id=request_organization_id(request))
                    messages.success(request, "Eligibility asked; the payer's answer shows here when it arrives.")
        return redirect("admin:scheduling_check_in", appointment_id)


def calendar_urls(admin_site: admin.AdminSite) -> list[URLPattern]:
    return CalendarPages(admin_site).urls()
