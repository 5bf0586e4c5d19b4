"""The PHI access log of admin record pages, shared by the apps whose records show a patient's clinical data."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from . import services


class PHIAccessLoggedChangeView:
    """Opening a record's admin page is a read of the patient's data: the page is logged in the PHI access log.

    `phi_rows_only`: log only a record classified CLINICAL_PHI (patient-reported and device data, whose wellness
    rows are not PHI); otherwise every record of the model (the clinical record: encounters, clinical events)."""

    record_type: str
    phi_rows_only: bool = False

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        obj = self.get_object(request, object_id)  # type: ignore[attr-defined]
        if obj is not None:
            if self.phi_rows_only:
                services.phi_rows_access_record(request=request, record_type=self.record_type, rows=[obj])
            else:
                services.phi_access_record(request=request, record_type=self.record_type, patient_ids=[obj.patient_id])
        return super().change_view(request, object_id, form_url, extra_context)  # type: ignore[misc]
