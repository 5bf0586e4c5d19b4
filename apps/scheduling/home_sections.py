"""The home page's visits of the day (`apps.organizations.home`): the member's own sessions, or the whole clinic's
for a role that oversees it; cancelled visits and no-shows left out. A visit shows its patient, time, type and
room, never its (clinical) reason."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils import timezone

from apps.organizations.admin_base import may, request_staff_context
from apps.organizations.home import HomeSection, oversees_clinic
from apps.organizations.time_zones import organization_zone
from apps.patients import phi_reads
from apps.patients.models import PHIAccessLog
from apps.patients.permissions import PATIENT

from . import selectors
from .permissions import CALENDAR


def sections(request: HttpRequest) -> list[HomeSection]:
    ctx = request_staff_context(request)
    if ctx is None or ctx.user_id is None or not may(request, CALENDAR, "read"):
        return []
    whole_clinic = oversees_clinic(ctx.role)
    visits = selectors.day_visits(user_id=ctx.user_id, whole_clinic=whole_clinic)
    # Names and birth dates of the patients shown: a read of their records, as on the calendar.
    phi_reads.mark(record_type=PHIAccessLog.RecordType.APPOINTMENT, patient_ids={v.patient_id for v in visits})
    zone = organization_zone()
    today = timezone.localdate(timezone=zone)
    return [
        HomeSection(
            title=f"{'Today' if whole_clinic else 'Your visits today'}, {today:%A %d %B}",
            template="admin/scheduling/home_visits.html",
            context={
                "visits": visits,
                "zone": zone,
                "whole_clinic": whole_clinic,
                "may_open_patient": may(request, PATIENT, "view"),
            },
            order=10,
        )
    ]
