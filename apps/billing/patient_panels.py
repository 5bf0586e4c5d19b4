"""The billing panel on the admin patient page: balance and links to ledger and documents."""

from __future__ import annotations

from typing import TYPE_CHECKING

from apps.organizations.admin_base import request_role
from apps.patients.panels import PatientPanel

from . import selectors
from .admin import VIEW_ROLES

if TYPE_CHECKING:
    from django.http import HttpRequest

    from apps.patients.models import Patient


def panels(request: HttpRequest, patient: Patient) -> list[PatientPanel]:
    """A balance panel for roles that see billing."""
    if request_role(request) not in VIEW_ROLES:
        return []
    balances = list(selectors.balances(patient_id=patient.pk).values())
    return [
        PatientPanel(
            title="Billing",
            template="billing/patient_panel.html",
            context={"balances": balances, "patient": patient},
            order=50,
        )
    ]
