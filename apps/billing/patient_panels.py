"""The billing panel on the admin patient page: balance and links to ledger and documents."""

from __future__ import annotations

from typing import TYPE_CHECKING

from apps.organizations.admin_base import may
from apps.patients.panels import PatientPanel

from . import selectors
from .permissions import LEDGER

if TYPE_CHECKING:
    from django.http import HttpRequest

    from apps.patients.models import Patient


def panels(request: HttpRequest, patient: Patient) -> list[PatientPanel]:
    """A balance panel for roles that see billing."""
    if not may(request, LEDGER, "read"):
        return []
    balances = list(selectors.balances(patient_id=patient.pk).values())
    return [
        PatientPanel(
            title="Billing",
            template="billing/patient_panel.html",
            context={"balances": balances, "patient": patient},
            order=60,
            anchor="billing",
        )
    ]
