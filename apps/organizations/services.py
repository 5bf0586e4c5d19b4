"""Writes for organizations, memberships, partners and API keys."""

from __future__ import annotations

import logging
import smtplib
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from . import context, keys, selectors
from .models import APIKey, Invitation, Membership, Organization, Partner
from .roles import Role, Scope

logger = logging.getLogger(__name__)


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


class InvitationUnavailableError(Exception):
    """The invitation cannot be accepted; `state` says why (accepted, revoked, expired, or unknown)."""

    def __init__(self, state: str) -> None:
        super().__init__(state)
        self.state = state


class AlreadyMemberError(Exception):
    """The person accepting an invitation is already an active member of its organization."""


UNKNOWN_INVITATION = "unknown"


def invitation_create(*, email: str, role: str, invited_by: User) -> tuple[Invitation, str]:
    """Invite a person to the active organization; returns the invitation and its token, which is never stored.

    A new invitation replaces one still open for the same address (its link stops working)."""
    raw_token = keys.generate_token()
    invitation = Invitation(
        email=email.strip().lower(),
        role=role,
        invited_by=invited_by,
        token_hash=keys.hash_key(raw_token),
        expires_at=timezone.now() + settings.KURA_INVITATION_TTL,
    )
    invitation.full_clean(exclude=["organization", "invited_by", "token_hash"])
    with transaction.atomic():
        for previous in selectors.invitations().filter(
            email=invitation.email, accepted_at__isnull=True, revoked_at__isnull=True
        ):
            invitation_revoke(invitation=previous)
        invitation.save()
    return invitation, raw_token


def invitation_send(*, invitation: Invitation, accept_url: str) -> None:
    """E-mail the invitation's link once the invitation is committed."""
    organization = invitation.organization
    message = {
        "organization": organization.name,
        "role": invitation.get_role_display(),
        "accept_url": accept_url,
        "expires_at": invitation.expires_at,
    }
    subject = f"Invitation to {organization.name} on Kura"
    body = render_to_string("organizations/invitation_email.txt", message)
    recipient, invitation_id = invitation.email, invitation.pk

    def deliver() -> None:
        try:
            send_mail(subject, body, None, [recipient])
        except (OSError, smtplib.SMTPException) as error:
            # The invitation is saved either way; inviting the address again sends a new link.
            logger.warning("Invitation %s: the e-mail could not be sent (%s).", invitation_id, type(error).__name__)

    transaction.on_commit(deliver)


def invitation_revoke(*, invitation: Invitation) -> Invitation:
    """Revoke an open invitation: its link no longer works."""
    if invitation.accepted_at is None and invitation.revoked_at is None:
        invitation.revoked_at = timezone.now()
        with transaction.atomic():
            invitation.save(update_fields=["revoked_at", "updated_at"])
    return invitation


def invitation_accept(*, raw_token: str, user: User) -> Membership:
    """Accept an invitation as `user`, who keeps one identity with a membership in each organization.

    Raises InvitationUnavailableError when the invitation is unknown, accepted, revoked or expired, and
    AlreadyMemberError when the user is an active member already."""
    ticket = selectors.invitation_ticket(raw_token=raw_token)
    if ticket is None:
        raise InvitationUnavailableError(UNKNOWN_INVITATION)
    with context.tenant_context(ticket.organization_id, ticket.role, user_id=int(user.pk)):
        invitation = Invitation.objects.select_for_update().get(pk=ticket.id)
        if invitation.state != Invitation.State.PENDING:
            raise InvitationUnavailableError(invitation.state)
        membership = Membership.objects.filter(organization_id=ticket.organization_id, user=user).first()
        if membership is None:
            membership = membership_create(user=user, role=invitation.role)
        elif membership.is_active:
            raise AlreadyMemberError
        else:
            membership.role, membership.is_active = invitation.role, True
            membership.save(update_fields=["role", "is_active", "updated_at"])
        invitation.accepted_at, invitation.accepted_by = timezone.now(), user
        invitation.save(update_fields=["accepted_at", "accepted_by", "updated_at"])
    if not user.is_staff:  # the admin site is open to staff users only
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    return membership


def invitation_accept_as_new_user(
    *, raw_token: str, username: str, first_name: str, last_name: str, password: str
) -> User:
    """Create the invited person's identity (staff, never superuser; the invitation's e-mail) and accept."""
    ticket = selectors.invitation_ticket(raw_token=raw_token)
    if ticket is None or ticket.state != Invitation.State.PENDING:
        raise InvitationUnavailableError(UNKNOWN_INVITATION if ticket is None else ticket.state)
    user = User(
        username=username,
        first_name=first_name,
        last_name=last_name,
        email=ticket.email,
        is_staff=True,
        is_superuser=False,
    )
    password_validation.validate_password(password, user)
    user.set_password(password)
    user.full_clean()
    with transaction.atomic():
        user.save()
        invitation_accept(raw_token=raw_token, user=user)
    return user


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
