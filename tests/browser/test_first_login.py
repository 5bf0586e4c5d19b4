"""First login of a staff member without a second factor: password, enrolment of an authenticator (secret read
from the page, code computed as an app would), recovery codes, then the clinic's patient chart."""

from __future__ import annotations

import base64

from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.organizations.roles import Role
from tests.logins import PASSWORD


def authenticator_code(secret: str) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    return f"{TOTP(key).token():06d}"


def test_first_login_enrols_the_second_factor_then_the_chart_shows(clinics, open_page, screenshot, live_url):
    clinic = clinics["org-a"]
    user = clinic.users[Role.CLINICIAN]
    assert not TOTPDevice.objects.filter(user=user).exists()
    page = open_page(None)
    external_requests: list[str] = []
    page.on(
        "request", lambda request: None if request.url.startswith(live_url) else external_requests.append(request.url)
    )

    page.goto(f"/admin/patients/patient/{clinic.patient.pk}/change/")
    page.wait_for_url("**/admin/login/**")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")

    page.wait_for_url("**/account/second-factor/enrol/**")
    screenshot(page, "enrol")
    assert page.locator("#totp-qr-code svg").count() == 1
    assert "Set up your second factor" in page.inner_text("h1")
    secret = page.inner_text("#totp-secret").strip()
    assert len(secret) == 32

    page.fill("#id_code", authenticator_code(secret))
    page.click("input[type=submit]")
    page.wait_for_selector("#recovery-codes")
    screenshot(page, "recovery-codes")
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    assert TOTPDevice.objects.get(user=user).confirmed is True

    page.click("#continue")
    page.wait_for_url(f"**/admin/patients/patient/{clinic.patient.pk}/change/")
    screenshot(page, "chart")
    assert page.inner_text(".kura-chart-header h1") == "Quillfeather, Alma"
    assert page.inner_text("#kura-organization") == "Clinic org-a · Clinician"
    panels = page.locator("section.kura-panel h2").all_inner_texts()
    assert {"Clinical summary", "Billing", "Biomarkers"} <= set(panels)
    assert clinic.phi_event_name in page.inner_text("body")
    body = page.inner_text("body")
    assert "Zabrowski" not in body
    assert external_requests == []
