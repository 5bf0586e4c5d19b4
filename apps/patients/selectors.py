from django.db.models import QuerySet

from .models import Patient


def patient_list() -> QuerySet[Patient]:
    """The active organization's patients that are not soft-deleted."""
    return Patient.objects.active().for_current_organization()
