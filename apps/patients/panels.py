"""Sections other apps add to the patient page in the admin (timeline, biomarker charts, balances...).

An app contributes by defining `<app>.patient_panels.panels(request, patient) -> list[PatientPanel]`. The
queries run inside the request's tenant context, so row-level security decides what each role sees; a panel
that finds nothing to show returns no panel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from apps.organizations.discovery import kura_app_modules

if TYPE_CHECKING:
    from django.http import HttpRequest

    from .models import Patient


@dataclass(frozen=True)
class PatientPanel:
    title: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    order: int = 100


def patient_panels(request: HttpRequest, patient: Patient) -> list[PatientPanel]:
    """Every installed app's panels for this patient, in `order`."""
    found: list[PatientPanel] = []
    for module in kura_app_modules("patient_panels"):
        found.extend(module.panels(request, patient))
    return sorted(found, key=lambda panel: panel.order)
