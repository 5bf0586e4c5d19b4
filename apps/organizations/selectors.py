"""Reads that decide who a request is, before and after the organization is known."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from . import keys
from .models import Invitation, Membership, invitation_state
from .roles import Role, Scope


def user_memberships(*, user_id: int) -> QuerySet[Membership]:
    """The user's active memberships in every organization (visible through the own-memberships policy)."""
    return (
        Membership.objects.filter(user_id=user_id, is_active=True)
        .select_related("organization")
        .order_by("organization__name", "organization__slug")
    )


def membership_for_slug(*, user_id: int, slug: str) -> Membership | None:
    """The user's membership in the organization with this slug, or None (unknown and not-a-member alike)."""
    return user_memberships(user_id=user_id).filter(organization__slug=slug).first()


def organization_users(*, organization_id: uuid.UUID | None) -> QuerySet[AbstractBaseUser]:
    """The people an organization's pages may list or offer: users with an active membership in it.

    Users are global identities outside row-level security, so every user list, picker and filter of a tenant
    page starts here."""
    if organization_id is None:
        return get_user_model()._default_manager.none()
    return (
        get_user_model()
        ._default_manager.filter(memberships__organization_id=organization_id, memberships__is_active=True)
        .order_by("username")
    )


def is_last_active_owner(*, membership: Membership) -> bool:
    """Whether this membership is its organization's only active owner (who must not be demoted, deactivated
    or removed: nobody could manage the organization's people any more)."""
    if not (membership.is_active and membership.role == Role.OWNER):
        return False
    others = Membership.objects.filter(organization=membership.organization, role=Role.OWNER, is_active=True)
    return not others.exclude(pk=membership.pk).exists()


@dataclass(frozen=True)
class InvitationTicket:
    """An invitation as its link shows it, resolved from the token before any tenant is known."""

    id: uuid.UUID
    organization_id: uuid.UUID
    organization_name: str
    email: str
    role: str
    expires_at: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None

    @property
    def state(self) -> str:
        return invitation_state(accepted_at=self.accepted_at, revoked_at=self.revoked_at, expires_at=self.expires_at)

    @property
    def role_label(self) -> str:
        return str(Role(self.role).label)


# A narrow SECURITY DEFINER function owned by the owner role (like `kura_api_key_lookup`): finds the one
# invitation whose token hash matches, without exempting the invitation table from row-level security.
_INVITATION_LOOKUP = (
    "SELECT id, organization_id, organization_name, email, role, expires_at, accepted_at, revoked_at "
    "FROM kura_invitation_lookup(%s)"
)


def invitation_ticket(*, raw_token: str) -> InvitationTicket | None:
    """The invitation a link's token names, in any state, or None for a malformed or unknown token."""
    if not keys.is_token(raw_token):
        return None
    with connection.cursor() as cursor:
        cursor.execute(_INVITATION_LOOKUP, [keys.hash_key(raw_token)])
        row = cursor.fetchone()
    return None if row is None else InvitationTicket(*row)


def invitations() -> QuerySet[Invitation]:
    """The active organization's invitations (row-level security keeps them to it), newest first."""
    return Invitation.objects.for_current_organization().select_related("invited_by", "accepted_by")


@dataclass(frozen=True)
class APIKeyPrincipal:
    """An authenticated partner key, as the request sees it."""

    id: uuid.UUID
    organization_id: uuid.UUID
    partner_id: uuid.UUID
    scopes: frozenset[str]
    phi_access: bool
    last_used_at: datetime | None = None
    requires_patient_consent: bool = True
    role: str = Role.PARTNER.value


class InvalidAPIKeyError(Exception):
    """The presented key is malformed, unknown, revoked or expired (one message for all)."""


# A narrow SECURITY DEFINER function owned by the owner role: finds one key by its exact prefix before any
# tenant is known, without exempting the API key table from row-level security.
_LOOKUP = (
    "SELECT id, organization_id, partner_id, hashed_key, scopes, phi_access, revoked_at, expires_at, last_used_at, "
    "requires_patient_consent FROM kura_api_key_lookup(%s)"
)


# Built once: `Scope.values` makes a new list on every access, and every partner request checks its key's scopes.
KNOWN_SCOPES = frozenset(Scope.values)


def api_key_authenticate(*, raw_key: str) -> APIKeyPrincipal:
    """Resolve a presented key to its principal, or raise InvalidAPIKeyError."""
    prefix = keys.parse_prefix(raw_key)
    if prefix is None:
        raise InvalidAPIKeyError
    with connection.cursor() as cursor:
        cursor.execute(_LOOKUP, [prefix])
        row = cursor.fetchone()
    if row is None:
        raise InvalidAPIKeyError
    key_id, organization_id, partner_id, hashed, scopes, phi_access, revoked_at, expires_at, last_used_at, gated = row
    if not keys.matches(raw_key, hashed):
        raise InvalidAPIKeyError
    now = timezone.now()
    if revoked_at is not None or (expires_at is not None and expires_at <= now):
        raise InvalidAPIKeyError
    valid_scopes = KNOWN_SCOPES.intersection(scopes)
    return APIKeyPrincipal(
        id=key_id,
        organization_id=organization_id,
        partner_id=partner_id,
        scopes=valid_scopes,
        phi_access=bool(phi_access),
        last_used_at=last_used_at,
        requires_patient_consent=bool(gated),
    )
