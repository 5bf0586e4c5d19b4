"""Tenants, memberships, partners and API keys, plus the abstract base every tenant table builds on."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Self

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from . import context
from .audit import TenantHistoricalRecords
from .roles import MEMBER_ROLE_CHOICES, MEMBER_ROLES, DataClassification, Scope
from .time_zones import validate_time_zone

SLUG_VALIDATOR = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$",
    "Use 1-50 lowercase letters, digits and hyphens (not at either end).",
)


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class TenantQuerySet(models.QuerySet[Any]):
    """Row-level security is the guarantee; this adds the organization where the planner can use it."""

    def for_current_organization(self) -> Self:
        """Filter on the active context's organization (a no-op without context: RLS then shows nothing)."""
        organization_id = context.current_organization_id()
        if organization_id is None:
            return self
        return self.filter(organization_id=organization_id)


def organization_field(**options: Any) -> models.ForeignKey[Any, Any]:
    """The tenant column of every tenant row: its organization, filled from the tenant context. A model may
    pass `options` (e.g. `db_constraint=False` where a composite key already proves the organization)."""
    return models.ForeignKey(
        "organizations.Organization",
        on_delete=models.PROTECT,
        related_name="+",
        default=context.current_organization_id,
        editable=False,
        **options,
    )


class TenantModel(TimeStampedModel):
    """A row that belongs to one organization. Its table gets RLS through `EnableTenantRLS`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = organization_field()

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


class ClassifiedTenantModel(TenantModel):
    """A tenant row holding clinical content: coaches and partners without PHI scope never read PHI rows."""

    data_classification = models.CharField(
        max_length=20, choices=DataClassification.choices, default=DataClassification.CLINICAL_PHI
    )

    class Meta:
        abstract = True


class Organization(TimeStampedModel):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    slug = models.CharField(max_length=50, unique=True, validators=[SLUG_VALIDATOR])
    # Times are stored in UTC and shown, entered and bucketed by day in this zone.
    time_zone = models.CharField(
        max_length=64, default="UTC", validators=[validate_time_zone], help_text="IANA zone, e.g. America/Chicago."
    )
    address = models.TextField(blank=True)
    # Opening hours, local time: the calendar's day runs from opening to closing.
    opens_at = models.TimeField(default=dt.time(8, 0))
    closes_at = models.TimeField(default=dt.time(18, 0))
    # Completing a visit records its charge from the appointment type's service code.
    charge_capture = models.BooleanField(
        default=False, help_text="Completing an appointment records its charge from the appointment type."
    )

    history = TenantHistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(closes_at__gt=models.F("opens_at")),
                name="organization_closes_after_opening",
                violation_error_message="The clinic must close after it opens.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(TenantModel):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=MEMBER_ROLE_CHOICES)
    is_active = models.BooleanField(default=True)

    history = TenantHistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="membership_unique_user_per_org"),
            # Target of composite foreign keys (organization_id, membership_id), e.g. from scheduling's providers.
            models.UniqueConstraint(fields=["organization", "id"], name="membership_org_id_key"),
            models.CheckConstraint(condition=models.Q(role__in=MEMBER_ROLES), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()})"


class Invitation(TenantModel):
    """An owner's invitation of a person, by e-mail, to join the organization with a role.

    The link carries a random token; only its SHA-256 is stored. The person accepts once, before it expires
    and unless it was revoked, with a new identity or the one they already have elsewhere."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        REVOKED = "revoked", "Revoked"
        EXPIRED = "expired", "Expired"

    email = models.EmailField()
    role = models.CharField(max_length=20, choices=MEMBER_ROLE_CHOICES)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    # Random and generated by Kura, never chosen by a user: a global unique on it tells nobody anything.
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    expires_at = models.DateTimeField(editable=False)
    accepted_at = models.DateTimeField(null=True, blank=True, editable=False)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    history = TenantHistoricalRecords(excluded_fields=["token_hash"])

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(role__in=MEMBER_ROLES), name="invitation_role_valid"),
            models.UniqueConstraint(
                fields=["organization", "email"],
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.get_role_display()})"

    @property
    def state(self) -> str:
        """Pending, accepted, revoked or expired (the first that applies)."""
        return invitation_state(accepted_at=self.accepted_at, revoked_at=self.revoked_at, expires_at=self.expires_at)


def invitation_state(*, accepted_at: Any, revoked_at: Any, expires_at: Any) -> str:
    """One answer to "may this invitation still be accepted?", for the row and for its token lookup alike."""
    if accepted_at is not None:
        return Invitation.State.ACCEPTED
    if revoked_at is not None:
        return Invitation.State.REVOKED
    if expires_at <= timezone.now():
        return Invitation.State.EXPIRED
    return Invitation.State.PENDING


class Partner(TenantModel):
    class Kind(models.TextChoices):
        WEARABLE = "wearable", "Wearable vendor"
        VOICE_ANALYSIS = "voice_analysis", "Voice-analysis vendor"
        BILLING_SERVICE = "billing_service", "Billing service"
        OTHER = "other", "Other"

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.OTHER)
    requires_patient_consent = models.BooleanField(
        default=True,
        help_text="Reaches only patients with a valid data-sharing consent. Turn off only for the clinic's own "
        "services (e.g. its billing service), which need no consent.",
    )

    history = TenantHistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="partner_unique_name_per_org"),
            models.UniqueConstraint(fields=["organization", "id"], name="partner_org_id_key"),
        ]

    def __str__(self) -> str:
        return self.name


class APIKey(TenantModel):
    """A partner's credential: only a SHA-256 of the key is stored; the key itself is shown once."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="api_keys", db_constraint=False)
    name = models.CharField(max_length=100)
    # Random and generated by Kura, never chosen by a user: a global unique on it tells nobody anything.
    prefix = models.CharField(max_length=12, unique=True, editable=False)
    hashed_key = models.CharField(max_length=64, editable=False)
    scopes = ArrayField(models.CharField(max_length=32, choices=Scope.choices), default=list, blank=True)
    phi_access = models.BooleanField(
        default=False, help_text="May read rows classified CLINICAL_PHI (within its scopes)."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Usage telemetry, not an audited change: excluded from history and written with update().
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    history = TenantHistoricalRecords(excluded_fields=["last_used_at"])

    class Meta:
        verbose_name = "API key"
        constraints = [
            models.CheckConstraint(condition=models.Q(prefix__regex=r"^[0-9a-f]{12}$"), name="apikey_prefix_hex"),
        ]

    def __str__(self) -> str:
        return f"{self.name} (kura_{self.prefix}_…)"

    @property
    def is_active(self) -> bool:
        now = timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


def current_actor() -> str:
    """The acting caller of the tenant context (`TenantContext.actor`), `''` outside one."""
    ctx = context.current()
    return "" if ctx is None else ctx.actor


class IdempotencyRecord(ClassifiedTenantModel):
    """A POST that creates money or data, seen under an `Idempotency-Key` from one actor: its response is
    replayed for the same request and the key refused for another (`apps.organizations.idempotency`).

    Keys are the client's and scoped to it (one staff user, or one API key: a partner that rotates its key
    starts afresh): two actors may use the same key without meeting. The stored response may show anything
    the actor could see, so row-level security keeps a record to its own actor (`app.actor`), and a record
    is CLINICAL_PHI unless its actor cannot read PHI, so it is hidden again if the actor loses PHI access.
    Infrastructure, not a domain record: no change history.
    """

    organization = organization_field(db_index=False)  # the unique key below starts with it
    actor = models.CharField(max_length=60, default=current_actor, editable=False)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "actor", "key"], name="idempotency_actor_key_unique")
        ]

    def __str__(self) -> str:
        return f"Idempotency record {self.pk}"


class RateLimitWindow(models.Model):
    """The current rate-limit window of one caller (e.g. one API key): shared by every worker and server.

    One row per caller, counted and reset by one atomic statement (`throttling.rate_limit_hit`). It holds no
    tenant data (the key is an opaque id), so it has no row-level security.
    """

    key = models.CharField(max_length=100, primary_key=True)
    window_started_at = models.DateTimeField()
    hits = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.key}: {self.hits} since {self.window_started_at:%Y-%m-%d %H:%M:%S}"


class FieldKeyCanary(models.Model):
    """One known value encrypted under the field-encryption keys, so a process can tell, before it serves a
    request, whether its `FIELD_ENCRYPTION_KEYS` can decrypt what is stored (`key_canary`).

    Written by the owner role after `migrate` (under the newest key), re-encrypted by `rotate_field_keys` with
    every other encrypted value; the runtime role may only read it. It holds no tenant data: no row-level
    security.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    token = models.TextField()

    def __str__(self) -> str:
        return "Field-encryption key canary"
