"""A patient's chart: the header (who the patient is, what needs attention) and the sections the apps add
(`panels.py`). The chart is what opening a patient shows; demographics and consents have their own page."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

from django.utils import timezone

from apps.organizations.admin_base import may
from apps.organizations.local_dates import format_local_date

from . import phi_reads
from .models import Consent, PHIAccessLog
from .panels import ChartAlert, PatientPanel, patient_panels
from .permissions import CONSENT

if TYPE_CHECKING:
    from django.http import HttpRequest

    from .models import Patient


@dataclass(frozen=True)
class ChartHeader:
    name: str
    facts: list[tuple[str, str]]
    alerts: list[ChartAlert] = field(default_factory=list)


@dataclass(frozen=True)
class Chart:
    patient: Patient
    header: ChartHeader
    sections: list[PatientPanel]


def age_on(born: date, day: date) -> int:
    """Whole years from `born` to `day`."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def treatment_consent_alert(patient: Patient) -> ChartAlert | None:
    """An alert when the patient has no treatment consent valid today: missing, expired or revoked (one query)."""
    now = timezone.now()
    latest = (
        Consent.objects.for_current_organization()
        .filter(patient=patient, consent_type=Consent.Type.TREATMENT, deleted_at__isnull=True)
        .with_validity(now)
        .order_by("-is_valid", "-granted_at")
        .first()
    )
    if latest is not None:
        phi_reads.mark(record_type=PHIAccessLog.RecordType.CONSENT, patient_ids=[patient.pk])
    if latest is not None and getattr(latest, "is_valid", False):
        return None
    if latest is None or not latest.granted:
        text = "No treatment consent on file."
    elif latest.revoked_at is not None and latest.revoked_at <= now:
        text = f"Treatment consent revoked on {format_local_date(timezone.localtime(latest.revoked_at).date())}."
    elif latest.expires_at is not None and latest.expires_at <= now:
        text = f"Treatment consent expired on {format_local_date(timezone.localtime(latest.expires_at).date())}."
    else:
        text = "No treatment consent valid today."
    return ChartAlert(text=text, urgent=True)


def chart_header(request: HttpRequest, patient: Patient, sections: list[PatientPanel]) -> ChartHeader:
    """Name, age, sex and gender identity, MRN, then what the sections add (allergies) and the alerts."""
    born = patient.date_of_birth
    facts = [
        ("Age", f"{age_on(born, timezone.localdate())} (born {format_local_date(born)})"),
        ("Sex at birth", patient.get_sex_at_birth_display()),
        ("Gender identity", patient.gender_identity or "Not recorded"),
        ("MRN", patient.mrn),
    ]
    if patient.preferred_name:
        facts.insert(0, ("Preferred name", patient.preferred_name))
    alerts: list[ChartAlert] = []
    if patient.deleted_at is not None:
        alerts.append(ChartAlert(text="This record is deleted (restorable until the retention purge).", urgent=True))
    if may(request, CONSENT, "read"):
        consent = treatment_consent_alert(patient)
        if consent is not None:
            alerts.append(consent)
    for section in sections:
        if section.header is not None:
            facts.extend(section.header.facts)
            alerts.extend(section.header.alerts)
    name = f"{patient.family_name}, {patient.given_name}"
    return ChartHeader(name=name, facts=facts, alerts=sorted(alerts, key=lambda alert: not alert.urgent))


def patient_chart(request: HttpRequest, patient: Patient) -> Chart:
    """The chart of `patient` as the caller's role may see it."""
    sections = patient_panels(request, patient)
    return Chart(patient=patient, header=chart_header(request, patient, sections), sections=sections)
