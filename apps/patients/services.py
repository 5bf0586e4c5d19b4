"""Writes for patients."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import Patient

DUPLICATE_MRN = "A patient with this MRN already exists in this organization."


def _save(patient: Patient) -> Patient:
    try:
        # Uniqueness is checked under RLS, so only this organization's MRNs are visible to the check.
        patient.full_clean(exclude=["organization"])
        patient.validate_constraints()
    except ValidationError as error:
        if "__all__" in error.message_dict or "mrn" in error.message_dict:
            messages = error.message_dict.get("__all__", []) + error.message_dict.get("mrn", [])
            if any("MRN" in m or "mrn" in m.lower() for m in messages):
                raise ValidationError({"mrn": DUPLICATE_MRN}) from None
        raise
    try:
        with transaction.atomic():
            patient.save()
    except IntegrityError as error:
        # A concurrent insert of the same MRN in this organization.
        if "patient_mrn_unique_per_org" in str(error):
            raise ValidationError({"mrn": DUPLICATE_MRN}) from None
        raise
    return patient


def patient_create(*, mrn: str, given_name: str, family_name: str, date_of_birth: date) -> Patient:
    """Register a patient in the active organization."""
    return _save(Patient(mrn=mrn, given_name=given_name, family_name=family_name, date_of_birth=date_of_birth))


def patient_update(*, patient: Patient, **changes: Any) -> Patient:
    """Change a patient's demographics."""
    allowed = {"mrn", "given_name", "family_name", "date_of_birth"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be changed."))
    for name, value in changes.items():
        setattr(patient, name, value)
    return _save(patient)


def patient_soft_delete(*, patient: Patient) -> Patient:
    """Hide a patient from lists; the row and its history stay until the retention purge."""
    if patient.deleted_at is None:
        patient.deleted_at = timezone.now()
        with transaction.atomic():
            patient.save(update_fields=["deleted_at", "updated_at"])
    return patient
