"""Patients, their consents, and the log of who read their clinical data (seeds 004 and 003)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection
from datetime import date, datetime
from typing import Any, ClassVar, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.organizations import context
from apps.organizations.audit import TenantHistoricalRecords
from apps.organizations.clock import is_in_the_future
from apps.organizations.encryption import UNAVAILABLE, EncryptedTextField, is_unavailable
from apps.organizations.local_dates import format_local_date
from apps.organizations.models import TenantModel, TenantQuerySet, organization_field

MRN_VALIDATOR = RegexValidator(r"^[A-Za-z0-9-]{1,32}$", "Use 1-32 letters, digits and hyphens.")
PHONE_VALIDATOR = RegexValidator(r"^\+[1-9]\d{7,14}$", "Enter a phone number in international form, e.g. +15551234567.")
COUNTRY_VALIDATOR = RegexValidator(r"^[A-Z]{2}$", "Use a two-letter ISO 3166 country code, e.g. US.")
POSTAL_CODE_VALIDATOR = RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9 -]{1,9}$", "Enter a valid postal code.")
# Area 000, 666 and 900-999, group 00 and serial 0000 are never issued.
SSN_PATTERN = re.compile(r"^(?!000|666|9\d\d)(\d{3})-?(?!00)(\d{2})-?(?!0000)(\d{4})$")
EARLIEST_BIRTH_DATE = date(1900, 1, 1)


# Who may reveal a patient's full SSN, one logged reveal at a time (values of `TenantContext.database_role`):
# the staff who register patients and file claims, and partners with PHI access. Every screen and answer shows
# only `ssn_masked`; clinicians and coaches have no use for the number, so they never see it.
def normalize_phone(value: str) -> str:
    """`(555) 123-4567` style separators dropped; a bare 10-digit number is taken as North American."""
    digits = re.sub(r"[\s().-]", "", value)
    if re.fullmatch(r"\d{10}", digits):
        digits = f"+1{digits}"
    return digits


def normalize_ssn(value: str) -> str:
    """`123456789` or `123-45-6789` as `123-45-6789`; raises ValidationError for anything not issuable."""
    match = SSN_PATTERN.match(value.strip())
    if match is None:
        # The message must not echo the value.
        raise ValidationError({"ssn": "Enter a valid US Social Security number (###-##-####)."})
    return "-".join(match.groups())


_M = TypeVar("_M", bound=models.Model)


class PatientScopedManager(models.Manager[_M]):
    """The default manager of every model that holds a patient's data (the patient included): the one place where
    a partner whose patients must consent (`Partner.requires_patient_consent`) is kept to the patients with a
    valid data-sharing consent. Every read, every lookup by id and every check that a named patient exists goes
    through a default manager, so a patient without consent is as absent as a missing one: 404, or "Unknown
    patient". Staff and exempt partners are not narrowed."""

    def get_queryset(self) -> models.QuerySet[_M]:
        queryset = super().get_queryset()
        ctx = context.current()
        if ctx is None or not ctx.patient_consent_required:
            return queryset
        lookup = "id__in" if issubclass(self.model, Patient) else "patient_id__in"
        return queryset.filter(**{lookup: consented_patient_ids()})


def consented_patient_ids(at: datetime | None = None) -> models.QuerySet[Any]:
    """Ids of the patients with a data-sharing consent valid at `at` (default now), as a sub-query. Through the
    base manager: the consents themselves are patient data, gated by the default one."""
    consents = Consent._base_manager.filter(
        ConsentQuerySet.validity_condition(at or timezone.now()), consent_type=Consent.Type.DATA_SHARING
    )
    return consents.values("patient_id")


def reachable_patient_ids() -> list[uuid.UUID] | None:
    """For raw SQL that cannot start from a default manager: the ids of the patients the caller may reach, or
    None when the caller is not narrowed to consenting patients."""
    ctx = context.current()
    if ctx is None or not ctx.patient_consent_required:
        return None
    return list(Patient.objects.values_list("id", flat=True))


# For models with no queryset of their own.
PatientScopedTenantManager = PatientScopedManager.from_queryset(TenantQuerySet)


class PatientQuerySet(TenantQuerySet):
    def active(self) -> PatientQuerySet:
        """Patients that are not soft-deleted."""
        return self.filter(deleted_at__isnull=True)

    def deleted(self) -> PatientQuerySet:
        """Soft-deleted patients (restorable until the retention purge)."""
        return self.filter(deleted_at__isnull=False)


PatientManager = PatientScopedManager.from_queryset(PatientQuerySet)


class Patient(TenantModel):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"
        DECEASED = "deceased", "Deceased"

    class SexAtBirth(models.TextChoices):
        FEMALE = "female", "Female"
        MALE = "male", "Male"
        INTERSEX = "intersex", "Intersex"
        UNKNOWN = "unknown", "Unknown"

    mrn = models.CharField("MRN", max_length=32, validators=[MRN_VALIDATOR])
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    preferred_name = models.CharField(max_length=100, blank=True)
    date_of_birth = models.DateField()
    sex_at_birth = models.CharField(max_length=10, choices=SexAtBirth.choices, default=SexAtBirth.UNKNOWN)
    gender_identity = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=16, blank=True, validators=[PHONE_VALIDATOR])
    address_line1 = models.CharField(max_length=200, blank=True)
    address_line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField("state / region", max_length=100, blank=True)
    postal_code = models.CharField(max_length=10, blank=True, validators=[POSTAL_CODE_VALIDATOR])
    country = models.CharField(max_length=2, default="US", validators=[COUNTRY_VALIDATOR])
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    reminder_opt_out = models.BooleanField(
        "no appointment reminders", default=False, help_text="The patient asked not to get appointment reminders."
    )
    # Encrypted at rest (Fernet); the column, its history and backups hold only ciphertext.
    ssn = EncryptedTextField("SSN", blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects: ClassVar[PatientManager] = PatientManager()  # type: ignore[assignment]  # consent-gated (PatientScopedManager)
    history = TenantHistoricalRecords()

    class Meta:
        ordering = ["family_name", "given_name"]
        constraints = [
            # Per organization: another clinic's MRNs neither collide with nor are revealed by ours.
            models.UniqueConstraint(
                fields=["organization", "mrn"],
                name="patient_mrn_unique_per_org",
                violation_error_message="A patient with this MRN already exists in this organization.",
            ),
            # Target of composite foreign keys (organization_id, patient_id) from clinical tables.
            models.UniqueConstraint(fields=["organization", "id"], name="patient_org_id_key"),
            models.CheckConstraint(
                condition=Q(date_of_birth__gte=EARLIEST_BIRTH_DATE), name="patient_birth_date_plausible"
            ),
        ]
        indexes = [
            # Active patients by name: the list's order, and its count as an index-only scan (2.3 ms against
            # 6.7 ms for an organization of 20,000 patients). Soft-deleted patients have their own, short list.
            models.Index(
                fields=["organization", "family_name", "given_name"],
                condition=Q(deleted_at__isnull=True),
                name="patient_active_name_idx",
            ),
            models.Index(fields=["organization", "date_of_birth"]),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        """*Family, Given · date of birth · MRN*: how every list, picker, message, title and document names a
        patient, so that staff confirm who it is before acting. Names and birth dates are demographics every
        member may read (coaches included); they stay out of logs (Django's admin LogEntry is off for tenant
        models, and logged exceptions lose their messages: `config/log_filters.py`)."""
        born = format_local_date(self.date_of_birth) if self.date_of_birth else "?"
        return f"{self.family_name}, {self.given_name} · {born} · {self.mrn}"

    @property
    def ssn_masked(self) -> str:
        """`***-**-1234`, for screens that confirm an SSN is on file without showing it (`unavailable` when the
        stored value cannot be decrypted)."""
        if is_unavailable(self.ssn):
            return UNAVAILABLE
        return f"***-**-{self.ssn[-4:]}" if self.ssn else ""

    def clean_fields(self, exclude: Collection[str] | None = None) -> None:
        # Normalize before the field validators see the values: "(503) 555-0142" is a fine phone number.
        if self.phone:
            self.phone = normalize_phone(self.phone)
        if self.country:
            self.country = self.country.upper()
        super().clean_fields(exclude=exclude)

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.date_of_birth and self.date_of_birth > timezone.localdate():
            errors["date_of_birth"] = "Date of birth cannot be in the future."
        elif self.date_of_birth and self.date_of_birth < EARLIEST_BIRTH_DATE:
            errors["date_of_birth"] = "Date of birth must be in 1900 or later."
        if self.ssn and not is_unavailable(self.ssn):
            try:
                self.ssn = normalize_ssn(self.ssn)
            except ValidationError as error:
                errors.update({key: value[0] for key, value in error.message_dict.items()})
        if errors:
            raise ValidationError(errors)


class MRNCounter(models.Model):
    """The last MRN number an organization assigned: one row per organization, advanced by one atomic upsert
    (`services.patient_mrn_next`), so concurrent registrations queue on the row and never draw the same number.
    Under row-level security like every tenant table; no history (the patients' own history shows each MRN)."""

    organization = models.OneToOneField(
        "organizations.Organization", on_delete=models.PROTECT, primary_key=True, related_name="+"
    )
    last_number = models.PositiveBigIntegerField(default=0)

    class Meta:
        verbose_name = "MRN counter"

    def __str__(self) -> str:
        return f"MRN counter at {self.last_number}"


class ConsentQuerySet(TenantQuerySet):
    @staticmethod
    def validity_condition(at: datetime) -> Q:
        """The one definition of a valid consent: granted, in force at `at`, not revoked or withdrawn by then."""
        return (
            Q(granted=True, granted_at__lte=at, deleted_at__isnull=True)
            & (Q(expires_at__isnull=True) | Q(expires_at__gt=at))
            & (Q(revoked_at__isnull=True) | Q(revoked_at__gt=at))
        )

    def valid_at(self, at: datetime | None = None) -> ConsentQuerySet:
        """Consents valid at `at` (default now)."""
        return self.filter(self.validity_condition(at or timezone.now()))

    def with_validity(self, at: datetime | None = None) -> ConsentQuerySet:
        """Annotate each consent with `is_valid` (valid at `at`, default now), computed by the database."""
        condition = self.validity_condition(at or timezone.now())
        return self.annotate(is_valid=models.ExpressionWrapper(condition, output_field=models.BooleanField()))


ConsentManager = PatientScopedManager.from_queryset(ConsentQuerySet)


class Consent(TenantModel):
    class Type(models.TextChoices):
        TREATMENT = "treatment", "Treatment"
        TELEHEALTH = "telehealth", "Telehealth"
        DATA_SHARING = "data_sharing", "Data sharing with partners"
        RESEARCH = "research", "Research"
        COMMUNICATIONS = "communications", "Communications"

    patient = models.ForeignKey(
        Patient,
        on_delete=models.CASCADE,
        related_name="consents",
        # Enforced by the composite key (organization_id, patient_id) added in the migration.
        db_constraint=False,
    )
    consent_type = models.CharField(max_length=20, choices=Type.choices)
    granted = models.BooleanField()
    granted_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    document_reference = models.CharField(max_length=500, blank=True, help_text="Signed form: file id or URL.")
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects: ClassVar[ConsentManager] = ConsentManager()  # type: ignore[assignment]  # consent-gated (PatientScopedManager)
    history = TenantHistoricalRecords()

    class Meta:
        ordering = ["-granted_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__isnull=True) | Q(expires_at__gt=models.F("granted_at")),
                name="consent_expires_after_granted",
                violation_error_message="A consent must expire after it was granted.",
            ),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | Q(revoked_at__gte=models.F("granted_at")),
                name="consent_revoked_after_granted",
                violation_error_message="A consent cannot be revoked before it was granted.",
            ),
        ]
        indexes = [models.Index(fields=["organization", "patient", "consent_type"])]

    def __str__(self) -> str:
        return f"{self.get_consent_type_display()} consent"

    def clean(self) -> None:
        if self.granted_at and is_in_the_future(self.granted_at):
            raise ValidationError({"granted_at": "A consent cannot be granted in the future."})


class PHIAccessLog(models.Model):
    """Who read which patient's clinical data, when, and through which path. Append-only for the app.

    The patient link has no database constraint on purpose: the log outlives a purged patient. The path is
    stored without its query string, which could carry a searched name.
    """

    class RecordType(models.TextChoices):
        PATIENT = "patient", "Patient record"
        CONSENT = "consent", "Consent"
        ENCOUNTER = "encounter", "Encounter"
        CLINICAL_EVENT = "clinical_event", "Clinical event"
        HEALTH_EVENT = "health_event", "Health event"
        ASSESSMENT = "assessment", "Assessment"
        BIOMARKER_READING = "biomarker_reading", "Biomarker reading"
        SSN = "ssn", "SSN revealed"
        LEDGER_ENTRY = "ledger_entry", "Ledger entry (diagnoses)"
        BILLING_DOCUMENT = "billing_document", "Superbill or statement"
        CLAIM_FILE = "claim_file", "837P claim file"
        CLINICAL_NOTE = "clinical_note", "Clinical note"
        APPOINTMENT = "appointment", "Appointment (patient, time, reason)"

    id = models.BigAutoField(primary_key=True)
    # No single-column indexes on the organization or the patient: the two composite indexes below lead with
    # them, and every read of the log is within one organization. Each logged row writes two index entries
    # fewer (a 50-patient page's log insert: 1.24 -> 1.08 ms).
    organization = organization_field(db_index=False)
    accessed_at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    api_key = models.ForeignKey(
        "organizations.APIKey", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    role = models.CharField(max_length=20)
    patient = models.ForeignKey(
        Patient, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+", null=True
    )
    record_type = models.CharField(max_length=20, choices=RecordType.choices)
    record_count = models.PositiveIntegerField(default=1)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)

    class Meta:
        ordering = ["-accessed_at", "-id"]
        verbose_name = "PHI access"
        verbose_name_plural = "PHI access log"
        indexes = [
            models.Index(fields=["organization", "patient", "-accessed_at"]),
            models.Index(fields=["organization", "user", "-accessed_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_record_type_display()} read at {self.accessed_at:%Y-%m-%d %H:%M}"
