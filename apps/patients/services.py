"""Writes for patients, consents and the PHI access log."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from uuid import UUID

from django.core.exceptions import NON_FIELD_ERRORS, ImproperlyConfigured, PermissionDenied, ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.http import HttpRequest
from django.utils import timezone

from apps.events import types as event_types
from apps.events.services import event_record
from apps.organizations import context
from apps.organizations.context import TenantContext
from apps.organizations.rls import ddl
from apps.organizations.roles import DataClassification

from .models import Consent, MRNCounter, Patient, PHIAccessLog
from .permissions import PATIENT
from .selectors import patient_mrn_in_use, patient_same_person_list

SSN_REVEAL_FORBIDDEN = "This role may not reveal a Social Security number."
DUPLICATE_MRN = "A patient with this MRN already exists in this organization."
LIKELY_DUPLICATE = (
    "A patient with the same name and date of birth is already registered. Check that this is a different "
    "person, then confirm to register them."
)
# Assigned MRNs are the counter's number, zero-padded: 000001, 000002, ...
MRN_NUMBER_WIDTH = 6
# Fields staff may set on a patient through services (everything but identity, status bookkeeping and tenancy).
PATIENT_FIELDS = frozenset(
    {
        "mrn",
        "given_name",
        "family_name",
        "preferred_name",
        "date_of_birth",
        "sex_at_birth",
        "gender_identity",
        "email",
        "phone",
        "address_line1",
        "address_line2",
        "city",
        "region",
        "postal_code",
        "country",
        "status",
        "ssn",
    }
)


def _unknown_fields_error(changes: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be set."))


# One statement takes the next number: the first registration creates the organization's row, later ones add
# one to it. The row stays locked until the registering transaction ends, so concurrent registrations queue.
_MRN_NEXT = ddl(
    "INSERT INTO {table} (organization_id, last_number) VALUES (%s, 1) "
    "ON CONFLICT (organization_id) DO UPDATE SET last_number = {table}.last_number + 1 RETURNING last_number",
    table=MRNCounter._meta.db_table,
)


def patient_mrn_next() -> str:
    """The next MRN of the active organization from its counter; a number already typed in by hand as some
    patient's MRN is skipped."""
    with connection.cursor() as cursor:
        while True:
            cursor.execute(_MRN_NEXT, [context.current_organization_id()])
            (number,) = cursor.fetchone()
            mrn = f"{number:0{MRN_NUMBER_WIDTH}d}"
            if not patient_mrn_in_use(mrn):
                return mrn


def patient_registration_check(
    *,
    mrn: str,
    given_name: str,
    family_name: str,
    date_of_birth: date | None,
    confirm_duplicate: bool,
    exclude_id: UUID | None = None,
) -> None:
    """Refuse an MRN another patient of the organization has (`mrn`), and, unless `confirm_duplicate`, the same
    family name, given name and birth date as a patient already registered (`confirm_duplicate`)."""
    errors: dict[str, str] = {}
    if mrn and patient_mrn_in_use(mrn, exclude_id=exclude_id):
        errors["mrn"] = DUPLICATE_MRN
    if not confirm_duplicate and given_name and family_name and date_of_birth:
        same_person = patient_same_person_list(
            given_name=given_name, family_name=family_name, date_of_birth=date_of_birth, exclude_id=exclude_id
        )
        if same_person.exists():
            errors["confirm_duplicate"] = LIKELY_DUPLICATE
    if errors:
        raise ValidationError(errors)


def _patient_event(patient: Patient, *, created: bool, fields: list[str]) -> None:
    """The outbox event of a patient change; it names the changed fields, never their values."""
    event_record(
        event_type=event_types.PATIENT_CREATED if created else event_types.PATIENT_CHANGED,
        subject_id=patient.pk,
        patient_id=patient.pk,
        # Demographics are not CLINICAL_PHI (every member, the coach included, sees the patient list).
        data_classification=DataClassification.GENERAL_WELLNESS,
        data={} if created else {"fields": sorted(fields)},
    )


def _save_patient(patient: Patient, *, changed: list[str] | None = None) -> Patient:
    created = patient._state.adding
    try:
        # Uniqueness is checked under RLS, so only this organization's MRNs are visible to the check.
        patient.full_clean(exclude=["organization"])
    except ValidationError as error:
        if DUPLICATE_MRN in error.message_dict.get(NON_FIELD_ERRORS, []):
            raise ValidationError({"mrn": DUPLICATE_MRN}) from None
        raise
    try:
        with transaction.atomic():
            patient.save()
            _patient_event(patient, created=created, fields=changed or [])
    except IntegrityError as error:
        # A concurrent insert of the same MRN in this organization.
        if "patient_mrn_unique_per_org" in str(error):
            raise ValidationError({"mrn": DUPLICATE_MRN}) from None
        raise
    return patient


def patient_create(
    *,
    given_name: str,
    family_name: str,
    date_of_birth: date,
    mrn: str = "",
    confirm_duplicate: bool = False,
    **details: Any,
) -> Patient:
    """Register a patient in the active organization (details: contact, sex at birth, SSN, ...). An empty `mrn`
    takes the organization's next one; the same name and birth date as a registered patient needs
    `confirm_duplicate`."""
    _unknown_fields_error(details, PATIENT_FIELDS)
    with transaction.atomic():
        patient_registration_check(
            mrn=mrn,
            given_name=given_name,
            family_name=family_name,
            date_of_birth=date_of_birth,
            confirm_duplicate=confirm_duplicate,
        )
        patient = Patient(
            mrn=mrn or patient_mrn_next(), given_name=given_name, family_name=family_name, date_of_birth=date_of_birth
        )
        for name, value in details.items():
            setattr(patient, name, value)
        return _save_patient(patient)


def patient_update(*, patient: Patient, **changes: Any) -> Patient:
    """Change a patient's demographics or contact details."""
    _unknown_fields_error(changes, PATIENT_FIELDS)
    for name, value in changes.items():
        setattr(patient, name, value)
    return _save_patient(patient, changed=list(changes))


def patient_save(*, patient: Patient, changed_fields: list[str]) -> Patient:
    """Save a patient a form has already set and validated (the admin's), with the outbox event."""
    return _save_patient(patient, changed=changed_fields)


def patient_soft_delete(*, patient: Patient) -> Patient:
    """Hide a patient from lists; the row and its history stay until the retention purge."""
    if patient.deleted_at is None:
        patient.deleted_at = timezone.now()
        with transaction.atomic():
            patient.save(update_fields=["deleted_at", "updated_at"])
            _patient_event(patient, created=False, fields=["deleted_at"])
    return patient


def patient_restore(*, patient: Patient) -> Patient:
    """Undo a soft delete (possible until the retention purge removes the record)."""
    if patient.deleted_at is not None:
        patient.deleted_at = None
        # Another patient may have taken the MRN meanwhile: validate before bringing it back.
        return _save_patient(patient, changed=["deleted_at"])
    return patient


def consent_record(
    *,
    patient: Patient,
    consent_type: str,
    granted: bool,
    granted_at: datetime | None = None,
    expires_at: datetime | None = None,
    document_reference: str = "",
) -> Consent:
    """Record a patient's consent decision (a refusal is recorded too, with granted=False)."""
    consent = Consent(
        patient=patient,
        consent_type=consent_type,
        granted=granted,
        granted_at=granted_at or timezone.now(),
        expires_at=expires_at,
        document_reference=document_reference,
    )
    consent.full_clean(exclude=["organization"])
    with transaction.atomic():
        consent.save()
    return consent


def consent_revoke(*, consent: Consent, revoked_at: datetime | None = None) -> Consent:
    """Withdraw a consent from `revoked_at` (default now); the grant stays in the history."""
    if consent.revoked_at is None:
        consent.revoked_at = revoked_at or timezone.now()
        consent.full_clean(exclude=["organization", "patient"])
        with transaction.atomic():
            consent.save(update_fields=["revoked_at", "updated_at"])
    return consent


def patient_ssn_reveal(*, request: HttpRequest, patient: Patient) -> str:
    """The patient's full SSN for a caller the permission map allows (`reveal_ssn`), logged as one PHI read."""
    ctx: TenantContext | None = getattr(request, "tenant", None)
    if ctx is None or not PATIENT.allows(ctx, "reveal_ssn"):
        raise PermissionDenied(SSN_REVEAL_FORBIDDEN)
    phi_access_write(
        ctx=ctx,
        method=request.method or "POST",
        path=request.path,
        record_type=PHIAccessLog.RecordType.SSN,
        counts={patient.pk: 1},
    )
    return patient.ssn


# The request's details, the same on every row of one access.
PHI_ACCESS_SHARED = ("organization", "accessed_at", "user", "api_key", "role", "record_type", "method", "path")


def _phi_access_insert() -> str:
    """One INSERT for a whole response: the request's details once, the patients and their counts as arrays.

    Written by hand because it runs on every read of clinical data: `bulk_create` of 50 rows (a patient list
    page) took 4.0 ms against 1.0 ms for this statement (bench/README.md)."""
    fields = {field.name: field for field in PHIAccessLog._meta.concrete_fields}
    unwritten = set(fields) - {*PHI_ACCESS_SHARED, "patient", "record_count", "id"}
    if unwritten:  # a new column would be left to its database default, or refuse every read
        raise ImproperlyConfigured(f"The PHI access INSERT does not write {', '.join(sorted(unwritten))}.")
    shared = [fields[name] for name in PHI_ACCESS_SHARED]
    patient, count = fields["patient"], fields["record_count"]
    columns = ", ".join(field.column for field in [*shared, patient, count])
    # Text for character columns: a cast to varchar(n) would cut a value short instead of refusing it.
    values = ", ".join(
        f"%s::{'text' if isinstance(field, models.CharField) else field.db_type(connection)}" for field in shared
    )
    return (
        f"INSERT INTO {PHIAccessLog._meta.db_table} ({columns}) SELECT {values}, patient, n "  # noqa: S608
        f"FROM unnest(%s::{patient.db_type(connection)}[], %s::int[]) AS t(patient, n)"
    )


_PHI_ACCESS_INSERT = _phi_access_insert()


def phi_access_write(
    *, ctx: TenantContext, method: str, path: str, record_type: str, counts: Mapping[UUID, int]
) -> None:
    """Write one access: a log row per patient with the number of its records shown (one INSERT)."""
    if not counts:
        return
    shared: list[Any] = [
        ctx.organization_id,
        timezone.now(),
        ctx.user_id,
        ctx.api_key_id,
        ctx.database_role,
        record_type,
        method[:10],
        path[:500],
    ]
    with connection.cursor() as cursor:
        cursor.execute(_PHI_ACCESS_INSERT, [*shared, list(counts), list(counts.values())])
