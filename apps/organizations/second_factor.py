"""The second factor: one rule for whether a session may act for an organization, and the writes behind
enrolment (a TOTP device plus one-time recovery codes), verification and an owner's reset.

Devices live in django-otp's tables, which are global like the users they belong to; no admin page lists
them, and every read here is keyed on the signed-in user.
"""

from __future__ import annotations

import base64

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.http import HttpRequest
from django_otp import devices_for_user, match_token
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import Membership

TOTP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"


def session_is_verified(request: HttpRequest) -> bool:
    """Whether the session's user passed the second factor (always true when the setting turns it off).

    The tenant middleware (and with it the admin and every staff page) and the API's session
    authentication both ask this, so an unverified session gets no organization anywhere.
    """
    if not settings.KURA_REQUIRE_SECOND_FACTOR:
        return True
    is_verified = getattr(request.user, "is_verified", None)
    return bool(is_verified is not None and is_verified())


def user_has_second_factor(*, user: AbstractBaseUser) -> bool:
    """Whether the user has a confirmed authenticator (otherwise they enrol at their next login)."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def totp_secret(device: TOTPDevice) -> str:
    """The device's key as authenticator apps take it (base32, no padding)."""
    return base64.b32encode(device.bin_key).decode().rstrip("=")


def totp_device_for_enrolment(*, user: AbstractBaseUser) -> TOTPDevice:
    """The user's unconfirmed authenticator, created on first call so reloading the page keeps its secret."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
    return device


def second_factor_enrol(*, user: AbstractBaseUser, device: TOTPDevice, token: str) -> list[str] | None:
    """Confirm the user's new authenticator with a code from it; returns fresh recovery codes, or None if
    the code is wrong."""
    with transaction.atomic():
        locked = TOTPDevice.objects.select_for_update().filter(pk=device.pk, user=user, confirmed=False).first()
        if locked is None or not locked.verify_token(token):  # None: confirmed meanwhile (another tab)
            return None
        device = locked
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        return recovery_codes_replace(user=user)


def recovery_codes_replace(*, user: AbstractBaseUser) -> list[str]:
    """New recovery codes (each works once), replacing any the user had."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(settings.KURA_RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def second_factor_verify(*, user: AbstractBaseUser, token: str) -> Device | None:
    """The confirmed device (authenticator or recovery codes) that accepts the code; a recovery code is
    used up. Wrong codes count towards django-otp's per-device throttling."""
    token = token.strip().replace(" ", "")
    if not token:
        return None
    return match_token(user, token)


def second_factor_reset(*, membership: Membership) -> None:
    """Remove the member's authenticator and recovery codes: they enrol again at their next login, and
    sessions verified with the old device lose their organization. Recorded in the membership's history."""
    with transaction.atomic():
        for device in devices_for_user(membership.user, confirmed=None):
            device.delete()
        membership._change_reason = "second factor reset"  # type: ignore[attr-defined]
        membership.save()


def totp_device_install(*, user: AbstractBaseUser, key: str) -> TOTPDevice:
    """A confirmed authenticator with a given hex key (demo data), created once."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=True, key=key)
    return device
