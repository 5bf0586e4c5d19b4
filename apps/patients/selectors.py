"""Reads for patients and consents (rows are filtered by PostgreSQL; these add what the planner needs)."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from django.db.models import Q, QuerySet

from .models import Consent, Patient, PatientQuerySet, PHIAccessLog


# The patient lists leave the organization to the tenant policy alone. An explicit `organization_id = X` beside
# the policy's `organization_id = (SELECT kura_current_org())` makes PostgreSQL check "X equals the policy's
# value" in a gating node that every row of the scan passes through: +20% on counting a 20,000-patient
# organization, for the same plan (bench/README.md, "patient list page").
def patient_list() -> PatientQuerySet:
    """The active organization's patients that are not soft-deleted."""
    return Patient.objects.active()


def patient_deleted_list() -> PatientQuerySet:
    """Soft-deleted patients of the active organization (the restore path)."""
    return Patient.objects.deleted()


def patient_mrn_in_use(mrn: str, *, exclude_id: UUID | None = None) -> bool:
    """Whether a patient of the active organization (soft-deleted ones too) has this MRN. Through the base
    manager: an MRN is taken even by a patient a consent-gated partner cannot see."""
    return Patient._base_manager.filter(mrn=mrn).exclude(pk=exclude_id).exists()


def patient_same_person_list(
    *, given_name: str, family_name: str, date_of_birth: date, exclude_id: UUID | None = None
) -> PatientQuerySet:
    """Patients of the active organization with this family name, given name and birth date: most likely the
    same person registered twice (soft-deleted ones included: restoring is the better answer)."""
    return Patient.objects.filter(
        family_name__iexact=family_name.strip(), given_name__iexact=given_name.strip(), date_of_birth=date_of_birth
    ).exclude(pk=exclude_id)


def patient_search_condition(term: str) -> Q:
    """Name, MRN or an ISO date of birth (YYYY-MM-DD), as staff type them into one search box."""
    term = term.strip()
    try:
        born = date.fromisoformat(term)
    except ValueError:
        born = None
    condition = Q(mrn__iexact=term) | Q(family_name__icontains=term) | Q(given_name__icontains=term)
    if born is not None:
        condition |= Q(date_of_birth=born)
    return condition


def consent_list(*, at: datetime | None = None) -> QuerySet[Consent]:
    """Consents of the active organization with `is_valid` at `at` (default now)."""
    return Consent.objects.for_current_organization().filter(deleted_at__isnull=True).with_validity(at)


def phi_access_log() -> QuerySet[PHIAccessLog]:
    """The organization's PHI access log, newest first."""
    return PHIAccessLog.objects.select_related("user", "api_key", "patient")
