"""The biomarker charts on the patient's chart: each metric's trend over a chosen period, drawn from
bucketed data (one query for every metric), with its reference band. RLS decides which metrics a role sees:
a coach gets the wellness charts and never a CLINICAL_PHI one."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.utils import timezone

from apps.organizations.admin_base import may
from apps.organizations.time_zones import organization_zone
from apps.patients import phi_reads
from apps.patients.models import PHIAccessLog
from apps.patients.panels import PatientPanel

from . import catalog, charts, selectors
from .models import BiomarkerLog
from .permissions import READING

if TYPE_CHECKING:
    from django.http import HttpRequest

    from apps.patients.models import Patient

PERIOD_PARAMETER = "biomarker_days"
# Days shown -> bucket width: every period draws at most a few hundred points.
PERIODS = {7: "hour", 30: "day", 90: "day", 365: "week"}
DEFAULT_DAYS = 90


def chosen_days(request: HttpRequest) -> int:
    try:
        days = int(request.GET.get(PERIOD_PARAMETER, DEFAULT_DAYS))
    except ValueError:
        return DEFAULT_DAYS
    return days if days in PERIODS else DEFAULT_DAYS


def panels(request: HttpRequest, patient: Patient) -> list[PatientPanel]:
    """One panel with a chart per metric that has readings in the chosen period."""
    if not may(request, READING, "read"):
        return []
    days = chosen_days(request)
    end = timezone.now()
    start = end - timedelta(days=days)
    series = selectors.biomarker_patient_buckets(
        patient_id=patient.pk, start=start, end=end, bucket=PERIODS[days], zone=organization_zone()
    )
    if not series and not BiomarkerLog.objects.filter(patient_id=patient.pk, voided_at__isnull=True).exists():
        return []
    # Summaries of a PHI metric are a read of its readings: a row per bucket drawn.
    phi_buckets = [
        b
        for code, buckets in series.items()
        if code in catalog.METRICS and catalog.METRICS[code].is_phi
        for b in buckets
    ]
    phi_reads.mark(record_type=PHIAccessLog.RecordType.BIOMARKER_READING, patient_ids=[patient.pk] * len(phi_buckets))
    drawn = [
        charts.draw(metric, series[code], start, end) for code, metric in catalog.METRICS.items() if code in series
    ]
    context = {
        "charts": drawn,
        "days": days,
        "bucket": PERIODS[days],
        "periods": list(PERIODS),
        "parameter": PERIOD_PARAMETER,
    }
    return [
        PatientPanel(
            title="Biomarkers",
            template="biomarkers/patient_panel.html",
            context=context,
            order=45,
            anchor="biomarkers",
        )
    ]
