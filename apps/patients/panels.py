"""The sections other apps add to a patient's chart (problems, notes, timeline, biomarker trends, balances...),
and what they add to its header (allergies, alerts).

An app contributes by defining, in `<app>.patient_panels`, `panels(request, patient) -> list[PatientPanel]`; a
section may add to the header what it found (the allergies section its allergies, the review flags their
alerts), so nothing is queried twice. The queries run inside the
request's tenant context, so row-level security decides which rows each role sees; whether a section is offered
at all is the permission map's answer (each app asks `may(request, RESOURCE, "read")`), and a section that
shows only CLINICAL_PHI is declared `phi=True`: a caller without PHI access (a coach) never gets it, not even
empty. A panel that finds nothing to show returns no panel. Each app marks the PHI rows it shows
(`apps.patients.phi_reads`). Every section's query count is fixed (a slice, one query per relation), whatever
the patient's data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from apps.organizations.discovery import kura_app_modules

from . import phi_reads

if TYPE_CHECKING:
    from django.http import HttpRequest

    from .models import Patient


@dataclass(frozen=True)
class ChartAlert:
    """A line of the chart header that asks for attention, linking to where it is dealt with."""

    text: str
    anchor: str = ""  # a section of the chart
    url: str = ""  # or another page
    urgent: bool = False


@dataclass(frozen=True)
class ChartHeaderPart:
    facts: list[tuple[str, str]] = field(default_factory=list)  # (label, text), e.g. ("Allergies", "Penicillin")
    alerts: list[ChartAlert] = field(default_factory=list)


@dataclass(frozen=True)
class PatientPanel:
    title: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    order: int = 100
    # The section's id on the chart: the fragment its own links (a chart period) come back to.
    anchor: str = ""
    # Only CLINICAL_PHI in it: left out for callers without PHI access.
    phi: bool = False
    # What the section adds to the chart header.
    header: ChartHeaderPart | None = None


def patient_panels(request: HttpRequest, patient: Patient) -> list[PatientPanel]:
    """Every installed app's sections for this patient as the caller may see them, in `order`."""
    phi = phi_reads.phi_visible()
    found: list[PatientPanel] = []
    for module in kura_app_modules("patient_panels"):
        found.extend(panel for panel in module.panels(request, patient) if phi or not panel.phi)
    return sorted(found, key=lambda panel: panel.order)
