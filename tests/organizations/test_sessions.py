"""Session lifetimes: 30 idle minutes, 12 hours at most (timestamps moved back, no sleeping)."""

from __future__ import annotations

import time

import pytest

from apps.organizations.roles import Role
from apps.organizations.sessions import SESSION_LAST_SEEN_KEY, SESSION_STARTED_KEY
from tests.conftest import add_member, as_tenant, logged_in
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(org_a):
    with as_tenant(org_a):
        PatientFactory(family_name="Quillfeather")
    return logged_in(add_member(org_a, Role.CLINICIAN))


def age_session(client, *, started_ago: float, idle_for: float) -> None:
    now = int(time.time())
    session = client.session
    session[SESSION_STARTED_KEY] = now - int(started_ago)
    session[SESSION_LAST_SEEN_KEY] = now - int(idle_for)
    session.save()


def assert_signed_out(client) -> None:
    response = client.get("/api/v1/patients/")
    assert response.status_code == 401
    assert b"Quillfeather" not in response.content
    assert "_auth_user_id" not in client.session
    # Signed out, not merely unverified: the admin asks for the password again.
    assert client.get("/admin/")["Location"] == "/admin/login/?next=/admin/"
    assert client.get("/admin/login/").status_code == 200


def test_a_session_idle_for_29_minutes_goes_on_and_its_activity_is_recorded(client):
    age_session(client, started_ago=11 * 3600, idle_for=29 * 60)
    assert client.get("/api/v1/patients/").status_code == 200
    assert int(time.time()) - client.session[SESSION_LAST_SEEN_KEY] <= 5


def test_a_session_idle_for_more_than_30_minutes_ends(client):
    age_session(client, started_ago=31 * 60 + 1, idle_for=30 * 60 + 1)
    assert_signed_out(client)


def test_a_session_ends_12_hours_after_login_however_active(client):
    age_session(client, started_ago=12 * 3600 + 1, idle_for=10)
    assert_signed_out(client)


def test_the_timeouts_are_settings(client, settings):
    from datetime import timedelta

    settings.KURA_SESSION_IDLE_TIMEOUT = timedelta(minutes=5)
    age_session(client, started_ago=6 * 60, idle_for=6 * 60)
    assert_signed_out(client)


def test_the_session_cookie_lasts_no_longer_than_the_absolute_limit(settings):
    assert settings.SESSION_COOKIE_AGE == 12 * 3600
