"""Brute force: login lockout per username and per address, password rules, and the throttle on failed
API-key attempts per address."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client

from apps.organizations.management.commands.seed_demo import STAFF_ROLES, demo_password
from apps.organizations.roles import Role
from tests.conftest import add_member, as_tenant, issue_key, logged_in
from tests.factories import PatientFactory
from tests.logins import PASSWORD

pytestmark = pytest.mark.django_db

LOCKOUT_MESSAGE = b"Too many failed login attempts for this username or from this address."


@pytest.fixture(autouse=True)
def empty_cache():
    caches["default"].clear()
    yield
    caches["default"].clear()


def log_in(username: str, password: str, address: str) -> tuple[Client, object]:
    client = Client(REMOTE_ADDR=address)
    response = client.post("/admin/login/?next=/admin/", {"username": username, "password": password})
    return client, response


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_thirty_wrong_passwords_lock_the_username_out_even_with_the_right_password(org_a):
    user = add_member(org_a, Role.OWNER)
    statuses = [log_in(user.username, f"wrong-password-{n}", "10.0.0.1")[1].status_code for n in range(30)]
    # Four failures re-show the form; the fifth trips the lockout, and so does every later attempt.
    assert statuses == [200] * 4 + [429] * 26

    client, response = log_in(user.username, PASSWORD, "10.0.0.1")
    assert response.status_code == 429
    assert LOCKOUT_MESSAGE in response.content
    assert b"locked for 15 minutes" in response.content
    assert response["Retry-After"] == "900"
    assert not signed_in(client)

    # Per username: another address does not help.
    client, response = log_in(user.username, PASSWORD, "10.0.0.2")
    assert (response.status_code, signed_in(client)) == (429, False)


def test_failures_from_one_address_lock_that_address_out_for_every_username(org_a):
    guessed = [add_member(org_a, Role.CLINICIAN) for _ in range(5)]
    bystander = add_member(org_a, Role.COACH)
    for user in guessed:
        log_in(user.username, "not-the-password", "10.0.0.7")

    client, response = log_in(bystander.username, PASSWORD, "10.0.0.7")
    assert (response.status_code, signed_in(client)) == (429, False)
    assert LOCKOUT_MESSAGE in response.content

    # The same person from elsewhere is not locked out.
    client, response = log_in(bystander.username, PASSWORD, "10.0.0.8")
    assert (response.status_code, response["Location"]) == (302, "/account/second-factor/?next=%2Fadmin%2F")
    assert signed_in(client)


def test_a_few_failures_then_the_right_password_signs_in(org_a):
    user = add_member(org_a, Role.OWNER)
    for _ in range(3):
        assert log_in(user.username, "not-the-password", "10.0.0.3")[1].status_code == 200
    client, response = log_in(user.username, PASSWORD, "10.0.0.3")
    assert response.status_code == 302
    assert signed_in(client)


def test_passwords_shorter_than_twelve_characters_are_refused(org_a):
    user = add_member(org_a, Role.OWNER)
    with pytest.raises(ValidationError) as refused:
        validate_password("Tr0ub4dor&3", user)  # 11 characters
    assert refused.value.messages == ["This password is too short. It must contain at least 12 characters."]
    validate_password("Tr0ub4dor&3x", user)

    client = logged_in(user)
    response = client.post(
        "/admin/password_change/",
        {"old_password": PASSWORD, "new_password1": "Tr0ub4dor&3", "new_password2": "Tr0ub4dor&3"},
    )
    assert response.status_code == 200
    assert b"It must contain at least 12 characters." in response.content
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_demo_and_factory_passwords_pass_the_validators(org_a):
    user_model = get_user_model()
    for slug in ("harbor", "summit"):
        for role in STAFF_ROLES:
            validate_password(demo_password(role), user_model(username=f"{slug}-{role.replace('_', '-')}"))
    validate_password(PASSWORD, add_member(org_a, Role.OWNER))


@pytest.fixture
def few_key_failures(settings):
    settings.KURA_API_KEY_FAILURE_LIMIT = 3


def keyed(raw_key: str, address: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Api-Key {raw_key}", REMOTE_ADDR=address)


@pytest.mark.usefixtures("few_key_failures")
def test_failed_api_key_attempts_throttle_the_address_even_for_a_correct_key(org_a):
    raw_key = issue_key(org_a)
    with as_tenant(org_a):
        PatientFactory(family_name="Quillfeather")
    wrong = raw_key[:-4] + ("aaaa" if not raw_key.endswith("aaaa") else "bbbb")

    failures = [keyed(wrong, "192.0.2.10").get("/api/v1/patients/") for _ in range(3)]
    assert [r.status_code for r in failures] == [401, 401, 401]
    # Counted in PostgreSQL like every rate limit, so every worker sees them; the address only as a hash.
    with connection.cursor() as cursor:
        cursor.execute("SELECT key, hits FROM organizations_ratelimitwindow WHERE key LIKE 'api_key_failures:%%'")
        [(key, hits)] = cursor.fetchall()
    assert hits == 3
    assert "192.0.2.10" not in key

    throttled = keyed(raw_key, "192.0.2.10").get("/api/v1/patients/")
    assert throttled.status_code == 429
    assert throttled.json() == {
        "error": {
            "status": 429,
            "code": "throttled",
            "message": "Too many failed API-key attempts from this address; try again later.",
            "request_id": throttled["X-Request-ID"],
        }
    }
    assert 1 <= int(throttled["Retry-After"]) <= 300
    assert b"Quillfeather" not in throttled.content

    # Per address: the key works from another one.
    elsewhere = keyed(raw_key, "192.0.2.11").get("/api/v1/patients/")
    assert elsewhere.status_code == 200
    assert [p["family_name"] for p in elsewhere.json()["results"]] == ["Quillfeather"]


@pytest.mark.usefixtures("few_key_failures")
def test_successful_api_key_requests_do_not_count_as_failures(org_a):
    raw_key = issue_key(org_a)
    statuses = [keyed(raw_key, "192.0.2.20").get("/api/v1/patients/").status_code for _ in range(6)]
    assert statuses == [200] * 6


def test_a_username_with_a_nul_character_is_a_clear_400_not_a_server_error(org_a):
    client, response = log_in("harbor\x00owner", "not-the-password", "10.0.0.9")
    assert response.status_code == 400
    assert b"username: Text must not contain the NUL character (U+0000)." in response.content
    assert not signed_in(client)
