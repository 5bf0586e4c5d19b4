"""Signing test clients in: fully (password and second factor, as every staff page needs) or with the
password only, and computing a device's current TOTP code as an authenticator app would."""

from __future__ import annotations

import time
from typing import Any

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

PASSWORD = "correct-horse-battery"  # UserFactory's password


def confirmed_totp_device(user: Any) -> TOTPDevice:
    """The user's authenticator, set up on first call."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="Test authenticator", confirmed=True)


def totp_code(device: TOTPDevice) -> str:
    """The code the device's app shows now, or the next one if this one was already used (a code works once)."""
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    step = max(totp.t(), device.last_t + 1)
    while step > totp.t() + device.tolerance:
        time.sleep(1)  # only when the same user signs in three times within one 30-second step
    totp.time = device.t0 + step * device.step
    return f"{totp.token():0{device.digits}d}"


def password_only(user: Any) -> Client:
    """A client whose session has passed the password but not the second factor."""
    client = Client()
    client.force_login(user)
    return client


def verify_session(client: Client, device: TOTPDevice) -> Client:
    """Mark the client's session as verified by `device`, as `django_otp.login` does after a good code."""
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def fully_logged_in(user: Any) -> Client:
    """A client signed in with password and second factor."""
    return verify_session(password_only(user), confirmed_totp_device(user))


def sign_in(client: Client, username: str, password: str) -> None:
    """Sign in through the login pages as a person would: password, then the authenticator's code."""
    response = client.post("/admin/login/?next=/admin/", {"username": username, "password": password})
    assert response.status_code == 302
    assert response["Location"].startswith("/account/second-factor/")
    device = TOTPDevice.objects.get(user__username=username, confirmed=True)
    response = client.post("/account/second-factor/", {"code": totp_code(device), "next": "/admin/"})
    assert (response.status_code, response["Location"]) == (302, "/admin/")
