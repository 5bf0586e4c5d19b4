"""The hybrid billing ledger (seed 000): charges and the payments, insurance payments, adjustments and refunds
applied to them; payers, insurance policies, the billing provider, installment plans, and claims with their
lines, lifecycle and 837P batches.

Design of settlement: money that settles a charge is its own immutable `LedgerEntry` (kind payment,
insurance_payment, adjustment or refund) and a separate immutable `LedgerApplication` row says how many cents
of which credit went to which charge. An application table rather than an `applies_to` column on the entry
because (a) one payment may settle several charges (posting a payment to chosen charges) and a charge is
settled by several payments, (b) a payment may keep an unapplied remainder, which is the patient's credit, and
(c) each application has its own timestamp, so a balance or aging report *as of* a past date only needs
`created_at <= as_of` on entries and applications, never the current status. A refund is applied to the
payment whose unapplied credit it returns. The database refuses over-application, currency mixing and
cross-patient applications in a trigger (see migration 0002) that locks the charge row, so concurrent
payments serialise on it.

`payment_status` on a charge mirrors what has been applied (and is recorded in the history at every
change); amounts, currencies and patients are never updated: the runtime role may UPDATE only the status-like
columns of ledger tables and may not DELETE from them at all.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import F, Q

from apps.organizations.audit import TenantHistoricalRecords
from apps.organizations.encryption import UNAVAILABLE, EncryptedTextField, is_unavailable
from apps.organizations.models import TenantModel, TenantQuerySet
from apps.patients.models import PatientScopedManager, PatientScopedTenantManager

from . import sftp
from .codes import validate_currency, validate_npi, validate_tax_id, validate_taxonomy

CURRENCY_FIELD_KWARGS: dict[str, Any] = {"max_length": 3, "default": "USD", "validators": [validate_currency]}


class TransactionType(models.TextChoices):
    CLINICAL_SERVICE = "clinical_service", "Clinical service"
    RETAIL_PRODUCT = "retail_product", "Retail product"
    PROGRAM_ENROLLMENT = "program_enrollment", "Program enrollment"


class PaymentStatus(models.TextChoices):
    PENDING_INSURANCE = "pending_insurance", "Pending insurance"
    PATIENT_DUE = "patient_due", "Patient due"
    PAID = "paid", "Paid"
    FAILED = "failed", "Failed"


class EntryKind(models.TextChoices):
    CHARGE = "charge", "Charge"
    PAYMENT = "payment", "Patient payment"
    INSURANCE_PAYMENT = "insurance_payment", "Insurance payment"
    ADJUSTMENT = "adjustment", "Adjustment (write-off)"
    REFUND = "refund", "Refund"


CREDIT_KINDS = (EntryKind.PAYMENT, EntryKind.INSURANCE_PAYMENT, EntryKind.ADJUSTMENT)
PAYMENT_KINDS = (EntryKind.PAYMENT, EntryKind.INSURANCE_PAYMENT)


class PaymentMethod(models.TextChoices):
    """How money was received (kept in a credit's `metadata["method"]`)."""

    CHECK = "check", "Check"
    CARD = "card", "Card"
    CASH = "cash", "Cash"
    EFT = "eft", "EFT (bank transfer)"
    INSURANCE = "insurance", "Insurance remittance"


INSURANCE_KINDS = (EntryKind.INSURANCE_PAYMENT, EntryKind.ADJUSTMENT)


class InsuranceType(models.TextChoices):
    """The kind of coverage, as 837P SBR09 (claim filing indicator code) names it."""

    COMMERCIAL = "CI", "Commercial insurance"
    BLUE_CROSS_BLUE_SHIELD = "BL", "Blue Cross/Blue Shield"
    MEDICARE_PART_B = "MB", "Medicare Part B"
    MEDICARE_PART_A = "MA", "Medicare Part A"
    MEDICAID = "MC", "Medicaid"
    HMO = "HM", "Health maintenance organization (HMO)"
    HMO_MEDICARE_RISK = "16", "HMO Medicare risk (Medicare Advantage)"
    PPO = "12", "Preferred provider organization (PPO)"
    POS = "13", "Point of service (POS)"
    EPO = "14", "Exclusive provider organization (EPO)"
    INDEMNITY = "15", "Indemnity insurance"
    TRICARE = "CH", "TRICARE (CHAMPUS)"
    VETERANS_AFFAIRS = "VA", "Veterans Affairs plan"
    FEDERAL_EMPLOYEES = "FI", "Federal Employees Program"
    WORKERS_COMPENSATION = "WC", "Workers' compensation"
    AUTOMOBILE_MEDICAL = "AM", "Automobile medical"
    OTHER_NON_FEDERAL = "11", "Other non-federal program"
    OTHER_FEDERAL = "OF", "Other federal program"
    UNKNOWN = "ZZ", "Mutually defined (unknown)"


def mask_identifier(value: str) -> str:
    """All but the last four characters hidden ("XJ1234567" -> "*****4567"); short values fully hidden."""
    if is_unavailable(value):
        return UNAVAILABLE
    if len(value) <= 4:
        return "*" * len(value)
    return "*" * (len(value) - 4) + value[-4:]


class Payer(TenantModel):
    """An insurance company claims are sent to; `payer_id` is its electronic id (837P NM109 of loop 2010BB)."""

    name = models.CharField(max_length=60)
    insurance_type = models.CharField(
        max_length=2,
        choices=InsuranceType.choices,
        default=InsuranceType.COMMERCIAL,
        help_text="What its claims say the coverage is (837P SBR09), unless a policy says otherwise.",
    )
    payer_id = models.CharField(
        "payer id", max_length=80, validators=[RegexValidator(r"^[A-Za-z0-9]{2,80}$", "Use 2-80 letters or digits.")]
    )

    history = TenantHistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "payer_id"], name="payer_unique_id_per_org"),
            models.UniqueConstraint(fields=["organization", "id"], name="payer_org_id_key"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.payer_id})"


class InsurancePolicy(TenantModel):
    """A patient's coverage with a payer. The member id is encrypted at rest (rotated by `rotate_field_keys`)."""

    class Relationship(models.TextChoices):
        # Values are the X12 individual relationship codes used in SBR02 / PAT01.
        SELF = "18", "Self"
        SPOUSE = "01", "Spouse"
        CHILD = "19", "Child"
        OTHER = "G8", "Other relationship"

    class Priority(models.TextChoices):
        PRIMARY = "P", "Primary"
        SECONDARY = "S", "Secondary"
        TERTIARY = "T", "Tertiary"

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="insurance_policies", db_constraint=False
    )
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, related_name="policies", db_constraint=False)
    member_id = EncryptedTextField("member id")
    group_number = models.CharField(max_length=50, blank=True)
    subscriber_relationship = models.CharField(max_length=2, choices=Relationship.choices, default=Relationship.SELF)
    subscriber_given_name = models.CharField(max_length=100, blank=True)
    subscriber_family_name = models.CharField(max_length=100, blank=True)
    priority = models.CharField(max_length=1, choices=Priority.choices, default=Priority.PRIMARY)
    insurance_type = models.CharField(
        max_length=2,
        choices=InsuranceType.choices,
        blank=True,
        help_text="Leave empty for the payer's (a payer may sell Medicare Advantage and commercial plans alike).",
    )
    # The subscriber's address as on the card (837P loops 2010BA and 2010CA: claims need one).
    address_line1 = models.CharField(max_length=55)
    city = models.CharField(max_length=30)
    state = models.CharField(max_length=2, validators=[RegexValidator(r"^[A-Z]{2}$", "Use a 2-letter state code.")])
    postal_code = models.CharField(
        max_length=9, validators=[RegexValidator(r"^\d{5}(?:\d{4})?$", "Use a 5- or 9-digit ZIP code.")]
    )
    is_active = models.BooleanField(default=True)

    objects: ClassVar[PatientScopedTenantManager] = PatientScopedTenantManager()  # type: ignore[assignment]  # consent-gated (PatientScopedManager)
    history = TenantHistoricalRecords()

    class Meta:
        verbose_name_plural = "insurance policies"
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "patient", "priority"],
                condition=Q(is_active=True),
                name="policy_one_active_per_priority",
            ),
            models.UniqueConstraint(fields=["organization", "id"], name="policy_org_id_key"),
        ]

    def __str__(self) -> str:
        return f"{self.get_priority_display()} policy, {self.payer.name} · {self.patient.display_name}"

    @property
    def member_id_masked(self) -> str:
        """The member id as responses and printed documents show it (`mask_identifier`)."""
        return mask_identifier(self.member_id)

    @property
    def claim_filing_indicator(self) -> str:
        """837P SBR09: the policy's own insurance type, else its payer's."""
        return self.insurance_type or self.payer.insurance_type


class BillingProvider(TenantModel):
    """The organization's billing provider (837P loop 2010AA) and its EDI identifiers. One per organization."""

    legal_name = models.CharField(max_length=60)
    npi = models.CharField("NPI", max_length=10, validators=[validate_npi])
    tax_id = models.CharField("tax id (EIN)", max_length=9, validators=[validate_tax_id])
    taxonomy_code = models.CharField(max_length=10, validators=[validate_taxonomy])
    address_line1 = models.CharField(max_length=55)
    address_line2 = models.CharField(max_length=55, blank=True)
    city = models.CharField(max_length=30)
    state = models.CharField(max_length=2, validators=[RegexValidator(r"^[A-Z]{2}$", "Use a 2-letter state code.")])
    postal_code = models.CharField(
        max_length=9, validators=[RegexValidator(r"^\d{9}$", "Use the 9-digit ZIP+4 without a hyphen.")]
    )
    phone = models.CharField(max_length=10, validators=[RegexValidator(r"^\d{10}$", "Use 10 digits.")])
    contact_name = models.CharField(max_length=60)
    rendering_given_name = models.CharField(max_length=35, blank=True)
    rendering_family_name = models.CharField(max_length=60, blank=True)
    rendering_npi = models.CharField("rendering NPI", max_length=10, blank=True, validators=[validate_npi])
    rendering_taxonomy_code = models.CharField(
        max_length=10,
        blank=True,
        validators=[validate_taxonomy],
        help_text="The rendering clinician's own taxonomy; leave empty for the billing provider's.",
    )
    submitter_id = models.CharField(
        max_length=15, validators=[RegexValidator(r"^[A-Z0-9]{2,15}$", "Use 2-15 capital letters or digits.")]
    )
    receiver_id = models.CharField(
        max_length=15, validators=[RegexValidator(r"^[A-Z0-9]{2,15}$", "Use 2-15 capital letters or digits.")]
    )
    receiver_name = models.CharField(max_length=60)
    # Until the clearinghouse has certified the organization, every file it sends is test data (ISA15 "T"); the
    # claims go through the same lifecycle either way, so the whole cycle can be rehearsed on its test system.
    is_live = models.BooleanField(
        "live with the clearinghouse",
        default=False,
        help_text="Send claim files as production data (ISA15 P) rather than test data (T).",
    )

    history = TenantHistoricalRecords()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization"], name="billingprovider_one_per_org")]

    @property
    def usage_indicator(self) -> str:
        """ISA15 of the files sent now: P once live, T (test) until then."""
        return "P" if self.is_live else "T"

    def __str__(self) -> str:
        return f"Billing provider {self.npi}"


SFTP_FOLDER = RegexValidator(
    r"^/?[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*/?$|^/$",
    "Use a folder path of letters, digits, dots, hyphens and underscores separated by slashes.",
)
_NO_PARENT_FOLDER = RegexValidator(r"(^|/)\.\.(/|$)", "A folder may not climb with '..'.", inverse_match=True)


class ClearinghouseConnection(TenantModel):
    """Where the organization exchanges files with its clearinghouse: an SFTP account, its private key (encrypted
    at rest like other identifiers, never shown back) and the server's host key, pinned: a server that presents
    another key is refused before anything is sent or read.

    Claim files are written into `outbound_folder`; the clearinghouse's answers (999, 277CA, 835) are read from
    `inbound_folder` and, once imported, moved into `processed_folder` (or removed when it is empty).
    Whether files are production or test data is the billing provider's `is_live`.
    """

    host = models.CharField(
        max_length=253,
        validators=[
            RegexValidator(
                r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$|^[0-9A-Fa-f:]+$",
                "Enter a host name or an IP address.",
            )
        ],
    )
    port = models.PositiveIntegerField(default=22)
    username = models.CharField(
        max_length=64, validators=[RegexValidator(r"^[A-Za-z0-9._-]{1,64}$", "Use letters, digits, dots, - or _.")]
    )
    private_key = EncryptedTextField(
        validators=[sftp.validate_private_key],
        help_text="The account's private key (OpenSSH or PEM, without a passphrase).",
    )
    host_key = models.TextField(
        validators=[sftp.validate_host_key],
        help_text='The server\'s public host key as the clearinghouse gives it (e.g. "ssh-ed25519 AAAA...").',
    )
    outbound_folder = models.CharField(
        max_length=200,
        default="inbound",
        validators=[SFTP_FOLDER, _NO_PARENT_FOLDER],
        help_text="Where claim files (837P) are put: the clearinghouse's inbound folder.",
    )
    inbound_folder = models.CharField(
        max_length=200,
        default="outbound",
        validators=[SFTP_FOLDER, _NO_PARENT_FOLDER],
        help_text="Where the clearinghouse leaves its answers (999, 277CA, 835): its outbound folder.",
    )
    processed_folder = models.CharField(
        max_length=200,
        blank=True,
        validators=[SFTP_FOLDER, _NO_PARENT_FOLDER],
        help_text="Where imported answers are moved; leave empty to remove them from the server once imported.",
    )
    is_active = models.BooleanField(default=True, help_text="Check for answers every few minutes.")

    # The key's older values are not kept in the history: one encrypted copy of the secret, not one per change.
    history = TenantHistoricalRecords(excluded_fields=["private_key"])

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="clearinghouseconnection_one_per_org"),
            models.CheckConstraint(condition=Q(port__gte=1, port__lte=65535), name="clearinghouseconnection_port"),
        ]

    def __str__(self) -> str:
        return f"SFTP {self.username}@{self.host}"


class InterchangeCounter(TenantModel):
    """The last interchange control number (ISA13, and GS06) of the organization's outbound X12 files: 837P
    batches and 270 eligibility requests draw from this one counter (`x12.interchange_control_number`), so no two
    files the organization sends share a number. One row per organization, locked while a number is drawn."""

    last_number = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization"], name="interchangecounter_one_per_org"),
            models.CheckConstraint(
                condition=Q(last_number__gte=0, last_number__lte=999_999_999), name="interchangecounter_range"
            ),
        ]

    def __str__(self) -> str:
        return f"Interchange control number {self.last_number:09d}"


class InstallmentPlan(TenantModel):
    """A program enrollment paid in installments; each installment is a ledger charge created with the plan."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="installment_plans", db_constraint=False
    )
    program = models.CharField(max_length=200)
    total_cents = models.BigIntegerField()
    currency = models.CharField(**CURRENCY_FIELD_KWARGS)
    installment_count = models.PositiveSmallIntegerField()
    first_due_date = models.DateField()
    interval_days = models.PositiveSmallIntegerField(default=30)
    external_reference = models.CharField(
        max_length=100, blank=True, help_text="The card processor's subscription id (stored, never called)."
    )

    objects: ClassVar[PatientScopedTenantManager] = PatientScopedTenantManager()  # type: ignore[assignment]  # consent-gated (PatientScopedManager)
    history = TenantHistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(total_cents__gt=0), name="plan_total_positive"),
            models.CheckConstraint(condition=Q(installment_count__gte=1), name="plan_count_positive"),
            models.UniqueConstraint(fields=["organization", "id"], name="plan_org_id_key"),
        ]

    def __str__(self) -> str:
        return f"{self.program} · {self.patient.display_name}"


class ClaimBatch(TenantModel):
    """One exported 837P file: its interchange/group/transaction control numbers."""

    interchange_control_number = models.PositiveIntegerField()
    file_name = models.CharField(max_length=200, blank=True)
    content = models.TextField(editable=False)
    usage_indicator = models.CharField(
        "usage", max_length=1, choices=[("T", "Test"), ("P", "Production")], default="P", editable=False
    )
    # The clearinghouse's 999 verdict on the file: empty until it answers.
    acknowledgement = models.CharField(
        max_length=10, choices=[("accepted", "Accepted"), ("rejected", "Rejected")], blank=True, editable=False
    )
    # When the file was put on the clearinghouse's server (empty for a file written or downloaded by hand).
    uploaded_at = models.DateTimeField(null=True, blank=True, editable=False)

    history = TenantHistoricalRecords(excluded_fields=["content"])

    class Meta:
        ordering = ["-interchange_control_number"]
        verbose_name_plural = "claim batches"
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "interchange_control_number"], name="claimbatch_unique_control_number"
            ),
            models.CheckConstraint(
                condition=Q(interchange_control_number__gte=1, interchange_control_number__lte=999_999_999),
                name="claimbatch_control_number_range",
            ),
        ]

    def __str__(self) -> str:
        return f"837P batch {self.interchange_control_number:09d}"

    def file_bytes(self) -> bytes:
        """The file as sent: ASCII (X12's character set), whichever way it is written or downloaded."""
        return self.content.encode("ascii")


class ClaimStatus(models.TextChoices):
    READY = "ready", "Ready to send"
    SUBMITTED = "submitted", "Submitted"
    ACCEPTED = "accepted", "Accepted"
    REJECTED = "rejected", "Rejected"
    PAID = "paid", "Paid"
    PARTLY_PAID = "partly_paid", "Partly paid"
    DENIED = "denied", "Denied"
    CORRECTED = "corrected", "Corrected (replaced)"
    VOIDED = "voided", "Voided"


# The claim lifecycle: status -> the statuses it may move to. Sent claims are accepted or rejected by the
# clearinghouse or payer (999, 277CA); accepted ones are adjudicated (835); an adjudicated or accepted claim is
# replaced by a corrected claim (frequency 7) or cancelled by a void (frequency 8). A rejected claim never
# reached the payer: it is fixed and sent again as it is.
# A payer's reversal (835 CLP02 22) takes an adjudication back: the claim is accepted (with the payer) again.
CLAIM_TRANSITIONS: dict[str, frozenset[str]] = {
    ClaimStatus.READY: frozenset({ClaimStatus.SUBMITTED}),
    ClaimStatus.SUBMITTED: frozenset({ClaimStatus.ACCEPTED, ClaimStatus.REJECTED}),
    ClaimStatus.REJECTED: frozenset({ClaimStatus.READY}),
    ClaimStatus.ACCEPTED: frozenset(
        {ClaimStatus.PAID, ClaimStatus.PARTLY_PAID, ClaimStatus.DENIED, ClaimStatus.CORRECTED, ClaimStatus.VOIDED}
    ),
    ClaimStatus.PARTLY_PAID: frozenset(
        {ClaimStatus.PAID, ClaimStatus.ACCEPTED, ClaimStatus.CORRECTED, ClaimStatus.VOIDED}
    ),
    ClaimStatus.DENIED: frozenset(
        {ClaimStatus.PAID, ClaimStatus.PARTLY_PAID, ClaimStatus.ACCEPTED, ClaimStatus.CORRECTED, ClaimStatus.VOIDED}
    ),
    ClaimStatus.PAID: frozenset({ClaimStatus.ACCEPTED, ClaimStatus.CORRECTED, ClaimStatus.VOIDED}),
    ClaimStatus.CORRECTED: frozenset(),
    ClaimStatus.VOIDED: frozenset(),
}


# A claim the payer has answered (an 835 paid, partly paid or denied it): what a secondary claim may follow.
ADJUDICATED_STATUSES = (ClaimStatus.PAID, ClaimStatus.PARTLY_PAID, ClaimStatus.DENIED)
# A claim out with its payer, not answered yet: made, sent, or accepted for adjudication.
AWAITING_PAYER_STATUSES = (ClaimStatus.READY, ClaimStatus.SUBMITTED, ClaimStatus.ACCEPTED)


class ClaimFrequency(models.TextChoices):
    """837P CLM05-3, the claim frequency type code."""

    ORIGINAL = "1", "Original"
    REPLACEMENT = "7", "Replacement (corrected claim)"
    VOID = "8", "Void"


class Claim(TenantModel):
    """One claim: the charges of one encounter (or patient + service date) billed to one payer, with its status.

    A corrected or void claim is a new claim (frequency 7 or 8) naming the `original_claim` it replaces; its file
    carries the payer's claim control number of the original (REF*F8).
    """

    # The file the claim was last sent in; none while it is ready.
    batch = models.ForeignKey(ClaimBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="claims")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+", db_constraint=False)
    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, related_name="claims", db_constraint=False)
    policy = models.ForeignKey(InsurancePolicy, on_delete=models.PROTECT, related_name="claims", db_constraint=False)
    # Same patient's encounter: composite key (encounter_id, patient_id) -> encounter (id, patient_id) in 0003.
    encounter = models.ForeignKey(
        "clinical.Encounter",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="claims",
        db_constraint=False,
    )
    service_date = models.DateField()
    # CLM01, the patient control number the payer echoes back (835 CLP01): K + a number per organization.
    submitter_claim_id = models.CharField(max_length=20)
    number = models.PositiveIntegerField(null=True, blank=True, editable=False)
    total_cents = models.BigIntegerField()
    currency = models.CharField(max_length=3, default="USD")
    status = models.CharField(max_length=20, choices=ClaimStatus.choices, default=ClaimStatus.READY)
    frequency_code = models.CharField(max_length=1, choices=ClaimFrequency.choices, default=ClaimFrequency.ORIGINAL)
    original_claim = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="replacements", db_constraint=False
    )
    # A secondary claim (billed to the patient's secondary policy once the primary payer has adjudicated) names
    # the primary claim whose 835 answer its file carries as the other payer's (loops 2320, 2330 and 2430).
    primary_claim = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="secondary_claims",
        db_constraint=False,
        editable=False,
    )
    # The payer's own number for the claim (its ICN/DCN, from the 277CA or 835 CLP07): what corrections name.
    payer_claim_control_number = models.CharField(max_length=50, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[PatientScopedTenantManager] = PatientScopedTenantManager()  # type: ignore[assignment]  # consent-gated (PatientScopedManager)
    history = TenantHistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "submitter_claim_id"], name="claim_unique_submitter_id"),
            models.UniqueConstraint(fields=["organization", "number"], name="claim_unique_number"),
            models.UniqueConstraint(fields=["organization", "id"], name="claim_org_id_key"),
            models.CheckConstraint(condition=Q(status__in=ClaimStatus.values), name="claim_status_valid"),
            models.CheckConstraint(condition=Q(frequency_code__in=ClaimFrequency.values), name="claim_frequency_valid"),
            # Corrected and void claims name what they replace; originals replace nothing.
            models.CheckConstraint(
                condition=Q(frequency_code=ClaimFrequency.ORIGINAL, original_claim__isnull=True)
                | (~Q(frequency_code=ClaimFrequency.ORIGINAL) & Q(original_claim__isnull=False)),
                name="claim_original_iff_replacement",
            ),
            models.CheckConstraint(
                condition=Q(status=ClaimStatus.READY) | Q(batch__isnull=False), name="claim_sent_in_a_batch"
            ),
        ]
        indexes = [models.Index(fields=["organization", "status"])]

    def __str__(self) -> str:
        return f"Claim {self.submitter_claim_id}"

    def may_become(self, status: str) -> bool:
        """Whether the lifecycle lets the claim move from its status to `status`."""
        return status in CLAIM_TRANSITIONS[self.status]


class ClaimLine(TenantModel):
    """One service line (837P loop 2400) of a claim: a charge, with the line item control number (REF*6R) the
    payer echoes back on its remittance line."""

    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="lines", db_constraint=False)
    charge = models.ForeignKey(
        "billing.LedgerEntry", on_delete=models.PROTECT, related_name="claim_lines", db_constraint=False
    )
    line_number = models.PositiveSmallIntegerField()
    control_number = models.CharField(max_length=30)

    history = TenantHistoricalRecords()

    class Meta:
        ordering = ["claim", "line_number"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "control_number"], name="claimline_unique_control_number"),
            models.UniqueConstraint(fields=["claim", "line_number"], name="claimline_unique_number_per_claim"),
            models.UniqueConstraint(fields=["claim", "charge"], name="claimline_charge_once_per_claim"),
            models.CheckConstraint(condition=Q(line_number__gte=1, line_number__lte=50), name="claimline_number_range"),
        ]

    def __str__(self) -> str:
        return f"Claim line {self.control_number}"

    @staticmethod
    def awaiting_secondary_payer(charge_id: Any) -> Q:
        """The lines of a charge on a secondary claim still out with its payer (made, sent or accepted; a void
        claim claims nothing): the charge waits for that payer again (as `selectors._POSITIONS_SQL` counts it)."""
        return Q(
            charge_id=charge_id,
            claim__primary_claim__isnull=False,
            claim__status__in=AWAITING_PAYER_STATUSES,
        ) & ~Q(claim__frequency_code=ClaimFrequency.VOID)


class ClearinghouseFile(TenantModel):
    """An answer received from the clearinghouse or a payer (999, 277CA, 835), imported once: the same file (by
    its SHA-256) and the same remittance (by its check or EFT trace number) are never applied twice, held by
    unique constraints."""

    class Kind(models.TextChoices):
        ACKNOWLEDGEMENT_999 = "999", "999 implementation acknowledgement"
        CLAIM_ACKNOWLEDGEMENT_277CA = "277CA", "277CA claim acknowledgement"
        REMITTANCE_835 = "835", "835 remittance advice"
        ELIGIBILITY_271 = "271", "271 eligibility answer"

    kind = models.CharField(max_length=5, choices=Kind.choices)
    sha256 = models.CharField(max_length=64, editable=False)
    # An 835's check or EFT trace number (TRN02) and the payer that issued it (TRN03).
    trace_number = models.CharField(max_length=50, blank=True)
    trace_originator = models.CharField(max_length=10, blank=True)
    # An 835's payment: the payer (N1*PR), the total paid (BPR02, cents) and the date it was paid (BPR16).
    payer_name = models.CharField(max_length=60, blank=True)
    payment_cents = models.BigIntegerField(null=True, blank=True)
    paid_on = models.DateField(null=True, blank=True)
    interchange_control_number = models.CharField(max_length=9)
    content = models.TextField(editable=False)
    # What the import did: claims accepted, rejected and not found (by claim id), batches acknowledged.
    outcome = models.JSONField(default=dict, editable=False)

    history = TenantHistoricalRecords(excluded_fields=["content"])

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "sha256"], name="clearinghousefile_once_per_org"),
            models.CheckConstraint(
                condition=Q(kind__in=["999", "277CA", "835", "271"]), name="clearinghousefile_kind_valid"
            ),
            models.UniqueConstraint(
                fields=["organization", "trace_originator", "trace_number"],
                condition=~Q(trace_number=""),
                name="clearinghousefile_remittance_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.interchange_control_number}"


class RemittanceLineKind(models.TextChoices):
    POSTING = "posting", "Posted"
    REVERSAL = "reversal", "Reversed"


class RemittanceLine(TenantModel):
    """What an 835 did to one service line of a claim.

    A posting (CLP02 1, 2, 3, 19, 20, 21) records what the payer paid, adjusted (CO, OA, PI) and left to the
    patient (PR) on the line; the insurance payment and adjustments themselves are ledger entries applied to the
    line's charge (and to the debits of earlier reversals of it). A reversal (CLP02 22) takes an earlier posting
    back: the ledger is immutable, so it posts a debit (`debit`, a charge of the claim's policy, waiting for
    insurance again) of what that posting settled (none when it settled nothing, only left the patient's share),
    and marks the posting `reversed_by` it. A posting adjudicates its charge until it is reversed; a reversal's
    debit is adjudicated from `reposted_at` on, when a later remittance answers the line again.
    """

    file = models.ForeignKey(ClearinghouseFile, on_delete=models.PROTECT, related_name="remittance_lines")
    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="remittance_lines", db_constraint=False)
    claim_line = models.ForeignKey(
        ClaimLine, on_delete=models.PROTECT, related_name="remittance_lines", db_constraint=False
    )
    charge = models.ForeignKey(
        "billing.LedgerEntry", on_delete=models.PROTECT, related_name="remittance_lines", db_constraint=False
    )
    kind = models.CharField(max_length=10, choices=RemittanceLineKind.choices, default=RemittanceLineKind.POSTING)
    claim_status_code = models.CharField("CLP02", max_length=2)
    paid_cents = models.BigIntegerField(default=0)
    adjusted_cents = models.BigIntegerField(default=0)
    patient_cents = models.BigIntegerField(default=0)
    # The payer's adjustments as it sent them, [group, CARC, cents] each ("CO", "45", 3000): the line's CAS and
    # the claim-level CAS of the same answer (CLP), which a secondary claim passes on to the next payer.
    adjustments = models.JSONField(default=list, blank=True, editable=False)
    claim_adjustments = models.JSONField(default=list, blank=True, editable=False)
    debit = models.ForeignKey(
        "billing.LedgerEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_constraint=False
    )
    reversed_by = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_constraint=False
    )
    reposted_at = models.DateTimeField(null=True, blank=True)

    history = TenantHistoricalRecords()

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(paid_cents__gte=0, adjusted_cents__gte=0, patient_cents__gte=0),
                name="remittanceline_amounts_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(kind=RemittanceLineKind.REVERSAL) | Q(debit__isnull=True),
                name="remittanceline_debit_only_reversal",
            ),
        ]
        indexes = [models.Index(fields=["claim_line", "created_at"])]

    def __str__(self) -> str:
        return f"Remittance line {self.pk}"

    @staticmethod
    def adjudicating(charge_id: Any) -> Q:
        """The remittance lines that make a charge adjudicated: a posting not reversed, a reversal's debit answered
        again (as the balance reports' SQL counts them, see `selectors._POSITIONS_SQL`)."""
        return Q(kind=RemittanceLineKind.POSTING, charge_id=charge_id, reversed_by__isnull=True) | Q(
            kind=RemittanceLineKind.REVERSAL, debit_id=charge_id, reposted_at__isnull=False
        )


class Denial(TenantModel):
    """A claim line the payer denied (no payment), in the billing desk's denial queue with its adjustment reason
    codes (group and CARC, "CO-50") and remark codes (RARC, "N130"); described by `adjustment_codes`."""

    file = models.ForeignKey(ClearinghouseFile, on_delete=models.PROTECT, related_name="denials")
    claim = models.ForeignKey(Claim, on_delete=models.PROTECT, related_name="denials", db_constraint=False)
    claim_line = models.ForeignKey(ClaimLine, on_delete=models.PROTECT, related_name="denials", db_constraint=False)
    amount_cents = models.BigIntegerField(help_text="What was billed for the line and not paid.")
    reason_codes = models.JSONField(default=list)
    remark_codes = models.JSONField(default=list)
    # As on `RemittanceLine`: the line's and the claim's adjustments with their amounts, [group, CARC, cents] each.
    adjustments = models.JSONField(default=list, blank=True, editable=False)
    claim_adjustments = models.JSONField(default=list, blank=True, editable=False)
    resolved_at = models.DateTimeField(null=True, blank=True)

    history = TenantHistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=Q(amount_cents__gte=0), name="denial_amount_not_negative")]
        indexes = [models.Index(fields=["organization", "resolved_at"])]

    def __str__(self) -> str:
        return f"Denial {self.pk}"


class UnmatchedRemittance(TenantModel):
    """A claim or service line of an 835 that Kura could not post: in the unmatched work queue, nothing posted."""

    class Reason(models.TextChoices):
        NO_CLAIM = "no_claim", "No claim of the organization has this claim id"
        NO_LINE = "no_line", "No line of the claim matches"
        ALREADY_ANSWERED = "already_answered", "The line was answered by an earlier remittance"
        CLAIM_CLOSED = "claim_closed", "The claim cannot take a remittance now"
        NOTHING_TO_REVERSE = "nothing_to_reverse", "A reversal of a claim with no posting to reverse"
        REVERSAL_DIFFERS = "reversal_differs", "A reversal of other amounts than were posted"
        CLAIM_ADJUSTMENT = "claim_adjustment", "Claim-level adjustments on a paid claim (post them by hand)"

    file = models.ForeignKey(ClearinghouseFile, on_delete=models.PROTECT, related_name="unmatched")
    claim = models.ForeignKey(
        Claim, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_constraint=False
    )
    submitter_claim_id = models.CharField("claim id (CLP01)", max_length=38)
    control_number = models.CharField("line control number (REF*6R)", max_length=50, blank=True)
    procedure = models.CharField(max_length=60, blank=True)
    service_date = models.DateField(null=True, blank=True)
    charge_cents = models.BigIntegerField(default=0)
    paid_cents = models.BigIntegerField(default=0)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    resolved_at = models.DateTimeField(null=True, blank=True)

    history = TenantHistoricalRecords()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "unmatched remittance line"
        indexes = [models.Index(fields=["organization", "resolved_at"])]

    def __str__(self) -> str:
        return f"Unmatched {self.submitter_claim_id}"


class ProviderAdjustment(TenantModel):
    """A provider-level adjustment of an 835 (PLB): money the payer withholds (positive) or adds (negative) on the
    whole payment, not on a claim: an overpayment recovery (WO), interest (L6), a forwarding balance (FB)..."""

    file = models.ForeignKey(ClearinghouseFile, on_delete=models.PROTECT, related_name="provider_adjustments")
    provider_identifier = models.CharField(max_length=50)
    fiscal_period_end = models.DateField()
    reason_code = models.CharField(max_length=2)
    reference = models.CharField(max_length=50, blank=True)
    amount_cents = models.BigIntegerField()

    history = TenantHistoricalRecords()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Provider adjustment {self.reason_code}"


# Metadata keys of a clinical charge that name or point at its diagnoses (ICD-10-CM): PHI. A clinical charge's
# description (e.g. "Psychotherapy for generalized anxiety") and its encounter link are PHI too.
PHI_METADATA_KEYS = frozenset({"diagnosis_codes", "diagnosis_pointers"})


class LedgerEntryQuerySet(TenantQuerySet):
    def charges(self) -> LedgerEntryQuerySet:
        """Charges only (what is owed)."""
        return self.filter(kind=EntryKind.CHARGE)

    def credits(self) -> LedgerEntryQuerySet:
        """Payments, insurance payments and adjustments (what settles charges)."""
        return self.filter(kind__in=CREDIT_KINDS)

    def unclaimed_insurance_charges(self) -> LedgerEntryQuerySet:
        """Clinical charges waiting for insurance that have not been sent on a claim yet."""
        return self.filter(
            kind=EntryKind.CHARGE,
            transaction_type=TransactionType.CLINICAL_SERVICE,
            payment_status=PaymentStatus.PENDING_INSURANCE,
            insurance_policy__isnull=False,
            claim__isnull=True,
        )


LedgerEntryManager = PatientScopedManager.from_queryset(LedgerEntryQuerySet)


class LedgerEntry(TenantModel):
    """One immutable line of the ledger (seed 000's `financial_ledger_entries`)."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="ledger_entries", db_constraint=False
    )
    kind = models.CharField(max_length=20, choices=EntryKind.choices)
    transaction_type = models.CharField(max_length=20, choices=TransactionType.choices)
    payment_status = models.CharField(max_length=20, choices=PaymentStatus.choices)
    amount_cents = models.BigIntegerField()
    currency = models.CharField(**CURRENCY_FIELD_KWARGS)
    metadata = models.JSONField(default=dict, blank=True)
    description = models.CharField(max_length=200, blank=True)
    # Service date for clinical charges, sale date for retail, due date for installments, received date for
    # payments: what aging counts days from.
    service_date = models.DateField()
    # The visit a clinical charge was for (claims group charges by it); none for retail, programs, payments.
    # The database holds the composite key (encounter_id, patient_id) -> encounter (id, patient_id): a charge
    # can only name its own patient's encounter, so never another organization's (migration 0003).
    encounter = models.ForeignKey(
        "clinical.Encounter",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="ledger_entries",
        db_constraint=False,
    )
    insurance_policy = models.ForeignKey(
        InsurancePolicy, on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_constraint=False
    )
    installment_plan = models.ForeignKey(
        InstallmentPlan, on_delete=models.PROTECT, null=True, blank=True, related_name="entries", db_constraint=False
    )
    claim = models.ForeignKey(
        Claim, on_delete=models.PROTECT, null=True, blank=True, related_name="charges", db_constraint=False
    )
    # A payment's processor or check reference: the same payment is posted once (unique constraints below).
    external_reference = models.CharField(max_length=100, blank=True)
    # Who paid an insurance payment. The database holds (organization_id, payer_id) -> payer (migration 0012).
    payer = models.ForeignKey(
        Payer, on_delete=models.PROTECT, null=True, blank=True, related_name="payments", db_constraint=False
    )
    # Everything applied so far to this entry on either side of an application (to a charge: what settled it; of
    # a payment: what it paid plus what was refunded of it). Kept in the database by the application triggers
    # (migration 0005); the runtime role cannot write it: `amount_cents - applied_cents` is what is still owed
    # on a charge, or the unapplied credit of a payment. Derived from the applications, so not in the history.
    applied_cents = models.BigIntegerField(default=0, db_default=0, editable=False)

    objects: ClassVar[LedgerEntryManager] = LedgerEntryManager()  # type: ignore[assignment]  # consent-gated (PatientScopedManager)
    history = TenantHistoricalRecords(excluded_fields=["applied_cents"])

    # The only columns the runtime role may UPDATE (column-level GRANT in migration 0002).
    MUTABLE_FIELDS = ("payment_status", "claim", "updated_at")

    class Meta:
        ordering = ["created_at"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.CheckConstraint(condition=Q(amount_cents__gt=0), name="ledgerentry_amount_positive"),
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="ledgerentry_currency_iso"),
            models.CheckConstraint(condition=Q(kind__in=EntryKind.values), name="ledgerentry_kind_valid"),
            models.CheckConstraint(
                condition=Q(transaction_type__in=TransactionType.values), name="ledgerentry_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(payment_status__in=PaymentStatus.values), name="ledgerentry_status_valid"
            ),
            # Only charges wait for insurance; only clinical charges are billed to a policy or claimed.
            models.CheckConstraint(
                condition=Q(kind=EntryKind.CHARGE) | ~Q(payment_status=PaymentStatus.PENDING_INSURANCE),
                name="ledgerentry_pending_insurance_only_charges",
            ),
            models.CheckConstraint(
                condition=Q(insurance_policy__isnull=True)
                | Q(kind=EntryKind.CHARGE, transaction_type=TransactionType.CLINICAL_SERVICE),
                name="ledgerentry_policy_only_clinical_charges",
            ),
            models.CheckConstraint(
                condition=Q(applied_cents__gte=0, applied_cents__lte=F("amount_cents")),
                name="ledgerentry_applied_within_amount",
            ),
            models.UniqueConstraint(fields=["organization", "id"], name="ledgerentry_org_id_key"),
            models.CheckConstraint(
                condition=Q(payer__isnull=True) | Q(kind=EntryKind.INSURANCE_PAYMENT),
                name="ledgerentry_payer_only_insurance",
            ),
            # A patient's card or check reference names one payment of the organization; a payer's check may pay
            # several patients (one entry each), so its reference is unique per payer and patient. A failed card
            # attempt settles nothing and may be retried under the same reference.
            models.UniqueConstraint(
                fields=["organization", "external_reference"],
                condition=Q(kind=EntryKind.PAYMENT)
                & ~Q(external_reference="")
                & ~Q(payment_status=PaymentStatus.FAILED),
                name="ledgerentry_payment_reference_once",
            ),
            models.UniqueConstraint(
                fields=["organization", "payer", "patient", "external_reference"],
                condition=Q(kind=EntryKind.INSURANCE_PAYMENT) & ~Q(external_reference=""),
                nulls_distinct=False,
                name="ledgerentry_insurance_reference_once",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "patient", "created_at"]),
            models.Index(fields=["organization", "kind", "payment_status"]),
            # The open items: entries with something still owed or unapplied, with every column the balance and
            # aging reports read, so those reports scan this index alone (an index-only scan) and take time in
            # proportion to what is open, not to the whole history of the ledger.
            models.Index(
                fields=["organization", "created_at"],
                include=[
                    "kind",
                    "payment_status",
                    "transaction_type",
                    "currency",
                    "service_date",
                    "amount_cents",
                    "applied_cents",
                ],
                condition=Q(amount_cents__gt=F("applied_cents")),
                name="ledgerentry_open_items",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount_cents / 100:.2f} {self.currency}"

    @property
    def carries_phi(self) -> bool:
        """Whether the entry shows PHI: a charge's diagnoses (`PHI_METADATA_KEYS`, its description) or its link
        to an encounter. Such entries are logged when read, and redacted for callers without PHI access."""
        if self.encounter_id is not None:
            return True
        return self.transaction_type == TransactionType.CLINICAL_SERVICE and (
            bool(PHI_METADATA_KEYS & self.metadata.keys()) or bool(self.description)
        )

    def redacted(self) -> dict[str, Any]:
        """The PHI fields as a caller without PHI access sees them: diagnoses, description and encounter withheld."""
        if not self.carries_phi:
            return {"metadata": self.metadata, "description": self.description, "encounter_id": self.encounter_id}
        return {
            "metadata": {key: value for key, value in self.metadata.items() if key not in PHI_METADATA_KEYS},
            "description": "" if self.transaction_type == TransactionType.CLINICAL_SERVICE else self.description,
            "encounter_id": None,
        }

    @property
    def open_cents(self) -> int:
        """What is left of the entry as loaded (owed on a charge, unapplied of a payment); see `remaining_cents`."""
        return self.amount_cents - self.applied_cents


class LedgerApplication(TenantModel):
    """`amount_cents` of a credit (`source`) applied to a charge (`target`); for a refund, to the payment."""

    source = models.ForeignKey(LedgerEntry, on_delete=models.PROTECT, related_name="applied_to", db_constraint=False)
    target = models.ForeignKey(LedgerEntry, on_delete=models.PROTECT, related_name="applied_from", db_constraint=False)
    amount_cents = models.BigIntegerField()

    history = TenantHistoricalRecords()

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_cents__gt=0), name="ledgerapplication_amount_positive"),
            models.CheckConstraint(condition=~Q(source=models.F("target")), name="ledgerapplication_not_self"),
        ]
        indexes = [
            models.Index(fields=["target", "created_at"]),
            models.Index(fields=["source", "created_at"]),
            # Reports for a past date look up what was applied after it.
            models.Index(fields=["organization", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"Application {self.amount_cents / 100:.2f}"


class EligibilityStatus(models.TextChoices):
    PENDING = "pending", "Waiting for the payer's answer"
    ACTIVE = "active", "Active coverage"
    INACTIVE = "inactive", "Inactive coverage"
    UNKNOWN = "unknown", "Unknown (the payer could not say)"


class EligibilityCheck(TenantModel):
    """One question to a payer about a policy (a 270 sent through the clearinghouse) and its answer (the 271
    whose TRN echoes the question's trace number). Money in cents; coinsurance as a percentage (20 = 20 %)."""

    policy = models.ForeignKey(
        InsurancePolicy, on_delete=models.PROTECT, related_name="eligibility_checks", db_constraint=False
    )
    # Per organization 1, 2, 3...: as "E<number>", the 270's trace.
    number = models.PositiveIntegerField(editable=False)
    # The 270's interchange and group control number, from the organization's one outbound counter (empty on
    # checks asked before there was one: their number was their control number).
    interchange_control_number = models.PositiveIntegerField(null=True, blank=True, editable=False)
    trace_number = models.CharField(max_length=50, editable=False)
    asked_at = models.DateTimeField(editable=False)
    request_content = models.TextField(editable=False)
    # When the 270 was put on the clearinghouse's server (empty until the send job has run).
    uploaded_at = models.DateTimeField(null=True, blank=True, editable=False)
    answered_at = models.DateTimeField(null=True, blank=True, editable=False)
    answer_file = models.ForeignKey(
        ClearinghouseFile,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="eligibility_checks",
        db_constraint=False,
        editable=False,
    )
    status = models.CharField(
        max_length=10, choices=EligibilityStatus.choices, default=EligibilityStatus.PENDING, editable=False
    )
    copay_cents = models.BigIntegerField(null=True, blank=True, editable=False)
    coinsurance_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True, editable=False)
    deductible_remaining_cents = models.BigIntegerField(null=True, blank=True, editable=False)

    history = TenantHistoricalRecords(excluded_fields=["request_content"])

    class Meta:
        ordering = ["-asked_at", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "number"], name="eligibilitycheck_number_once"),
            models.UniqueConstraint(fields=["organization", "trace_number"], name="eligibilitycheck_trace_once"),
            models.UniqueConstraint(
                fields=["organization", "interchange_control_number"], name="eligibilitycheck_control_number_once"
            ),
            models.CheckConstraint(
                condition=Q(number__gte=1, number__lte=999_999_999), name="eligibilitycheck_number_range"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "active", "inactive", "unknown"]),
                name="eligibilitycheck_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(copay_cents__isnull=True) | Q(copay_cents__gte=0), name="eligibilitycheck_copay_positive"
            ),
            models.CheckConstraint(
                condition=Q(deductible_remaining_cents__isnull=True) | Q(deductible_remaining_cents__gte=0),
                name="eligibilitycheck_deductible_positive",
            ),
            models.CheckConstraint(
                condition=Q(coinsurance_percent__isnull=True)
                | Q(coinsurance_percent__gte=0, coinsurance_percent__lte=100),
                name="eligibilitycheck_coinsurance_range",
            ),
        ]

    def __str__(self) -> str:
        return f"Eligibility check {self.trace_number}"
