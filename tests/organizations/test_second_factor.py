"""The second factor: a password-only session acts for no organization; enrolment at first login; codes and
recovery codes; an owner's reset of a member's second factor, in their own organization only."""

from __future__ import annotations

import base64
import importlib
import json
import re
import sys
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.organizations import second_factor
from apps.organizations.models import Membership
from apps.organizations.roles import Role
from tests.conftest import add_member, as_tenant, logged_in
from tests.factories import PatientFactory
from tests.logins import PASSWORD, confirmed_totp_device, password_only, totp_code

pytestmark = pytest.mark.django_db


def code_for_secret(secret: str) -> str:
    """What an authenticator app shows for a base32 secret right now."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    return f"{TOTP(key).token():06d}"


@pytest.fixture
def clinic(org_a, org_b):
    owner = add_member(org_a, Role.OWNER)
    with as_tenant(org_a):
        PatientFactory(given_name="Ingeborg", family_name="Quillfeather")
    with as_tenant(org_b):
        PatientFactory(given_name="Bruno", family_name="Zabrowski")
    return owner


def test_the_second_factor_is_required_by_default_in_every_settings_module(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "x" * 60)
    monkeypatch.setenv("ALLOWED_HOSTS", "kura.example")
    monkeypatch.setenv("FIELD_ENCRYPTION_KEYS", "dGVzdC1vbmx5LWZpZWxkLWVuY3J5cHRpb24ta2V5LTA=")
    monkeypatch.setenv("DATABASE_URL", "postgres://kura_app:pw@db:5432/kura")
    monkeypatch.setenv("DATABASE_OWNER_URL", "postgres://kura_owner:pw@db:5432/kura")
    monkeypatch.delenv("KURA_REQUIRE_SECOND_FACTOR", raising=False)
    for name in ("config.settings.local", "config.settings.test", "config.settings.production"):
        monkeypatch.delitem(sys.modules, name, raising=False)
        assert importlib.import_module(name).KURA_REQUIRE_SECOND_FACTOR is True, name
    assert settings.KURA_REQUIRE_SECOND_FACTOR is True


def test_a_password_only_session_gets_no_organization_in_the_admin_or_the_api(clinic):
    client = password_only(clinic)

    admin_pages = [client.get(path) for path in ("/admin/", "/admin/patients/patient/")]
    assert [(r.status_code, r["Location"]) for r in admin_pages] == [
        (302, "/admin/login/?next=/admin/"),
        (302, "/admin/login/?next=/admin/patients/patient/"),
    ]
    login_page = client.get("/admin/login/?next=/admin/patients/patient/")
    assert (login_page.status_code, login_page["Location"]) == (
        302,
        "/account/second-factor/?next=%2Fadmin%2Fpatients%2Fpatient%2F",
    )
    for response in (
        client.get("/api/v1/patients/"),
        client.get("/api/v1/me/"),
        client.post("/api/v1/me/organization/", {"organization": "org-a"}, content_type="application/json"),
    ):
        assert response.status_code == 403
        assert response.json() == {
            "error": {
                "status": 403,
                "code": "permission_denied",
                "message": "Complete the second factor at /account/second-factor/ first.",
                "request_id": response["X-Request-ID"],
            }
        }
    switch = client.post("/account/organization/", {"organization": "org-a"})
    assert (switch.status_code, switch["Location"]) == (302, "/account/second-factor/")
    assert client.get("/api/v1/patients/").status_code == 403
    for response in admin_pages:
        assert b"Quillfeather" not in response.content

    # The same user, verified, sees the clinic's patients.
    verified = logged_in(clinic)
    assert [p["family_name"] for p in verified.get("/api/v1/patients/").json()["results"]] == ["Quillfeather"]
    assert verified.get("/admin/patients/patient/").status_code == 200


def test_a_wrong_code_is_refused_and_the_right_one_verifies(clinic):
    device = confirmed_totp_device(clinic)
    client = password_only(clinic)
    page = client.get("/account/second-factor/?next=/admin/")
    assert page.status_code == 200
    assert b"Enter the 6-digit code from your authenticator app" in page.content

    right = totp_code(device)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    refused = client.post("/account/second-factor/", {"code": wrong, "next": "/admin/"})
    assert refused.status_code == 200
    assert b"That code is not valid." in refused.content
    assert client.get("/api/v1/patients/").status_code == 403

    device.refresh_from_db()
    device.throttling_failure_timestamp = None  # django-otp delays the next try after a failure
    device.save()
    accepted = client.post("/account/second-factor/", {"code": right, "next": "/admin/patients/patient/"})
    assert (accepted.status_code, accepted["Location"]) == (302, "/admin/patients/patient/")
    assert client.get("/api/v1/patients/").status_code == 200


def test_a_code_is_accepted_once(clinic):
    device = confirmed_totp_device(clinic)
    code = totp_code(device)
    first, second = password_only(clinic), password_only(clinic)
    assert first.post("/account/second-factor/", {"code": code})["Location"] == "/admin/"
    refused = second.post("/account/second-factor/", {"code": code})
    assert refused.status_code == 200
    assert second.get("/api/v1/patients/").status_code == 403


def test_a_recovery_code_works_once(clinic):
    confirmed_totp_device(clinic)
    codes = second_factor.recovery_codes_replace(user=clinic)
    assert len(codes) == 10
    assert len(set(codes)) == 10

    first = password_only(clinic)
    assert first.post("/account/second-factor/", {"code": codes[0]})["Location"] == "/admin/"
    assert first.get("/api/v1/patients/").status_code == 200
    assert StaticToken.objects.filter(device__user=clinic).count() == 9

    second = password_only(clinic)
    refused = second.post("/account/second-factor/", {"code": codes[0]})
    assert refused.status_code == 200
    assert b"That code is not valid." in refused.content
    assert second.get("/api/v1/patients/").status_code == 403


def test_first_login_enrols_an_authenticator_then_shows_recovery_codes_once(clinic):
    client = Client()
    assert not TOTPDevice.objects.filter(user=clinic).exists()

    password = client.post("/admin/login/?next=/admin/", {"username": clinic.username, "password": PASSWORD})
    assert (password.status_code, password["Location"]) == (302, "/account/second-factor/?next=%2Fadmin%2F")
    code_page = client.get(password["Location"])
    assert (code_page.status_code, code_page["Location"]) == (302, "/account/second-factor/enrol/?next=%2Fadmin%2F")
    enrol = client.get(code_page["Location"])
    html = enrol.content.decode()
    assert enrol.status_code == 200
    assert "no-store" in enrol["Cache-Control"]
    assert "<svg" in html
    assert "<img" not in html
    assert "https://" not in html
    assert re.findall(r'(?:src|href)="http', html) == []
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', html).group(1)
    assert secret == second_factor.totp_secret(TOTPDevice.objects.get(user=clinic, confirmed=False))
    assert client.get(code_page["Location"]).content.decode().count(secret) == 1  # a reload keeps the secret
    assert client.get("/api/v1/patients/").status_code == 403

    wrong = client.post("/account/second-factor/enrol/", {"code": "000000", "next": "/admin/"})
    if code_for_secret(secret) != "000000":
        assert wrong.status_code == 200
        assert b"That code is not valid." in wrong.content
        assert TOTPDevice.objects.get(user=clinic).confirmed is False
        device = TOTPDevice.objects.get(user=clinic)
        device.throttling_failure_timestamp = None
        device.save()

    confirmed = client.post("/account/second-factor/enrol/", {"code": code_for_secret(secret), "next": "/admin/"})
    assert confirmed.status_code == 200
    codes = re.findall(r"<li><code>([a-z0-9]+)</code></li>", confirmed.content.decode())
    assert len(codes) == 10
    assert sorted(StaticToken.objects.filter(device__user=clinic).values_list("token", flat=True)) == sorted(codes)
    assert TOTPDevice.objects.get(user=clinic).confirmed is True
    assert client.get("/admin/").status_code == 200
    assert [p["family_name"] for p in client.get("/api/v1/patients/").json()["results"]] == ["Quillfeather"]

    # Enrolment is over: its page now sends the user on, and never shows the codes again.
    again = client.get("/account/second-factor/enrol/?next=/admin/")
    assert (again.status_code, again["Location"]) == (302, "/account/second-factor/?next=%2Fadmin%2F")
    # At the next login a recovery code stands in for the app.
    later = Client()
    later.post("/admin/login/", {"username": clinic.username, "password": PASSWORD})
    assert later.post("/account/second-factor/", {"code": codes[3]})["Location"] == "/admin/"


def test_second_factor_devices_are_not_listed_in_any_clinics_admin(clinic):
    client = logged_in(clinic)
    for path in (
        "/admin/otp_totp/totpdevice/",
        "/admin/otp_static/staticdevice/",
        "/admin/axes/accessattempt/",
        "/admin/axes/accesslog/",
    ):
        assert client.get(path).status_code == 404, path


def reset(client: Client, membership: Membership):
    return client.post(
        "/admin/organizations/membership/",
        {"action": "reset_second_factor", "_selected_action": [str(membership.pk)]},
    )


def membership_of(org, user) -> Membership:
    with as_tenant(org):
        return Membership.objects.get(user=user, organization=org)


def test_an_owner_resets_a_members_second_factor_and_the_member_enrols_again(org_a, org_b):
    owner = add_member(org_a, Role.OWNER)
    member = add_member(org_a, Role.CLINICIAN)
    member_session = logged_in(member)
    second_factor.recovery_codes_replace(user=member)
    assert member_session.get("/api/v1/patients/").status_code == 200

    response = reset(logged_in(owner), membership_of(org_a, member))

    assert response.status_code == 302
    assert TOTPDevice.objects.filter(user=member).count() == 0
    assert StaticDevice.objects.filter(user=member).count() == 0
    with as_tenant(org_a):
        latest = Membership.history.filter(user=member).order_by("-history_id").first()
    assert (latest.history_type, latest.history_change_reason, latest.history_user_id) == (
        "~",
        "second factor reset",
        owner.pk,
    )
    # The session verified with the old device lost its organization; the next login enrols again.
    assert member_session.get("/api/v1/patients/").status_code == 403
    fresh = Client()
    fresh.post("/admin/login/", {"username": member.username, "password": PASSWORD})
    assert fresh.get("/account/second-factor/")["Location"] == "/account/second-factor/enrol/?next=%2Fadmin%2F"


def test_an_owner_cannot_reset_the_second_factor_of_another_organizations_member(org_a, org_b):
    owner = add_member(org_a, Role.OWNER)
    outsider = add_member(org_b, Role.CLINICIAN)
    device = confirmed_totp_device(outsider)
    membership = membership_of(org_b, outsider)
    history_before = _history_count(org_b, outsider)

    reset(logged_in(owner), membership)

    assert list(TOTPDevice.objects.filter(user=outsider).values_list("pk", flat=True)) == [device.pk]
    assert _history_count(org_b, outsider) == history_before


def test_only_an_owner_may_reset_a_second_factor(org_a):
    clinician = add_member(org_a, Role.CLINICIAN)
    colleague = add_member(org_a, Role.COACH)
    device = confirmed_totp_device(colleague)

    reset(logged_in(clinician), membership_of(org_a, colleague))

    assert list(TOTPDevice.objects.filter(user=colleague).values_list("pk", flat=True)) == [device.pk]


def _history_count(org, user) -> int:
    with as_tenant(org):
        return Membership.history.filter(user=user).count()


def test_seed_demo_enrols_every_demo_user_with_a_fixed_authenticator_secret():
    runs = []
    for _ in range(2):
        out = StringIO()
        call_command("seed_demo", "--json", stdout=out)
        runs.append(json.loads(out.getvalue()))
    assert runs[0] == runs[1]
    users = [user for org in runs[0]["organizations"] for user in org["users"]]
    assert len(users) == 10
    assert all(re.fullmatch(r"[A-Z2-7]{32}", user["totp_secret"]) for user in users)
    assert len({user["totp_secret"] for user in users}) == 10
    assert TOTPDevice.objects.filter(user__username__in=[u["username"] for u in users], confirmed=True).count() == 10

    coach = next(user for user in users if user["username"] == "summit-coach")
    client = Client()
    client.post("/admin/login/", {"username": coach["username"], "password": coach["password"]})
    verified = client.post("/account/second-factor/", {"code": code_for_secret(coach["totp_secret"])})
    assert verified["Location"] == "/admin/"
    assert client.get("/api/v1/me/").json()["organization"]["slug"] == "summit"

    text = StringIO()
    call_command("seed_demo", stdout=text)
    assert f"password: {coach['password']}" in text.getvalue()
    assert f"TOTP secret: {coach['totp_secret']}" in text.getvalue()


def test_a_malformed_code_is_refused_without_echoing_it(clinic):
    confirmed_totp_device(clinic)
    client = password_only(clinic)
    # NUL never reaches the form: the request is refused before any view (`input_checks`), naming the field.
    refused = client.post("/account/second-factor/", {"code": "12\x0034"})
    assert refused.status_code == 400
    assert b"code: Text must not contain the NUL character (U+0000)." in refused.content
    assert b"12\x0034" not in refused.content
    for code in ("<b>999999</b>", "1" * 33):
        response = client.post("/account/second-factor/", {"code": code})
        assert response.status_code == 200
        assert code.encode() not in response.content
        assert b"errornote" in response.content
    assert client.get("/api/v1/patients/").status_code == 403
