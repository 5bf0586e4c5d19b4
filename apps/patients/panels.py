"""Sections other apps add to the patient page in the admin (timeline, biomarker charts, balances...).

An app contributes by defining `<app>.patient_panels.panels(request, patient) -> list[PatientPanel]`. The
queries run inside the request's tenant context, so row-level security decides what each role sees; a panel
that finds nothing to show returns no panel.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.apps import apps

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
    for app_config in apps.get_app_configs():
        module_name = f"{app_config.name}.patient_panels"
        if app_config.name.startswith("apps.") and importlib.util.find_spec(module_name) is not None:
            found.extend(importlib.import_module(module_name).panels(request, patient))
    return sorted(found, key=lambda panel: panel.order)
