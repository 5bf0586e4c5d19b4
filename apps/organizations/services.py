"""Writes for organizations, memberships, partners and API keys."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from . import context, keys
from .models import APIKey, Membership, Organization, Partner
from .roles import Role, Scope


def organization_create(*, name: str, slug: str, organization_id: uuid.UUID | None = None) -> Organization:
    """Create an organization; runs inside its own tenant context (the policy checks the id)."""
    organization = Organization(id=organization_id or uuid.uuid4(), name=name, slug=slug)
    organization.full_clean()
    with context.tenant_context(organization.id, Role.OWNER):
        organization.save()
    return organization


def membership_create(*, user: User, role: str, organization_id: uuid.UUID | None = None) -> Membership:
    """Add a user to the active (or given) organization with a role."""
    membership = Membership(user=user, role=role)
    if organization_id is not None:
        membership.organization_id = organization_id
    membership.full_clean(exclude=["organization"])
    with transaction.atomic():
        membership.save()
    return membership


def partner_create(*, name: str, kind: str = Partner.Kind.OTHER, requires_patient_consent: bool = True) -> Partner:
    """Register a partner of the active organization (by default kept to patients who consented to sharing)."""
    partner = Partner(name=name, kind=kind, requires_patient_consent=requires_patient_consent)
    partner.full_clean(exclude=["organization"])
    with transaction.atomic():
        partner.save()
    return partner


def api_key_create(
    *,
    partner: Partner,
    name: str,
    scopes: Iterable[str],
    phi_access: bool = False,
    created_by: User | None = None,
    expires_at: datetime | None = None,
    raw_key: str | None = None,
) -> tuple[APIKey, str]:
    """Issue a key for a partner; returns the stored row and the key, which is never retrievable again."""
    scope_list = sorted(set(scopes))
    unknown = [s for s in scope_list if s not in Scope.values]
    if unknown:
        raise ValidationError({"scopes": f"Unknown scopes: {', '.join(unknown)}."})
    if raw_key is None:
        prefix, raw_key = keys.generate_key()
    else:
        prefix = keys.parse_prefix(raw_key) or ""
        if not prefix:
            raise ValidationError({"key": "Malformed API key."})
    api_key = APIKey(
        organization_id=partner.organization_id,
        partner=partner,
        name=name,
        prefix=prefix,
        hashed_key=keys.hash_key(raw_key),
        scopes=scope_list,
        phi_access=phi_access,
        created_by=created_by,
        expires_at=expires_at,
    )
    api_key.full_clean(exclude=["organization", "partner", "created_by"])
    with transaction.atomic():
        api_key.save()
    return api_key, raw_key


def api_key_revoke(*, api_key: APIKey) -> APIKey:
    """Revoke a key; requests using it are refused from now on."""
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        with transaction.atomic():
            api_key.save(update_fields=["revoked_at", "updated_at"])
    return api_key


# How precisely "last used" is kept: to the minute, so a busy key costs one write a minute, not one a request.
API_KEY_USAGE_RESOLUTION = timedelta(minutes=1)


def api_key_touch(*, api_key_id: uuid.UUID, last_used_at: datetime | None) -> None:
    """Record that a key was used (telemetry outside the audit trail, hence a plain update).

    The row is written only when the recorded time is older than the resolution: a read-only request then
    writes nothing, and its commit does not wait for the write-ahead log. `last_used_at` is the time the key's
    lookup read; when that is recent, no statement is sent at all.
    """
    now = timezone.now()
    if last_used_at is not None and last_used_at >= now - API_KEY_USAGE_RESOLUTION:
        return
    recently = Q(last_used_at__gte=now - API_KEY_USAGE_RESOLUTION)
    APIKey.objects.filter(pk=api_key_id).exclude(recently).update(last_used_at=now)
