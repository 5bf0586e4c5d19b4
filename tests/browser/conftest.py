"""A real server, a real Chromium and clinic data for browser tests of the staff UI.

The server is Django's live-server thread serving the test database; requests run as the runtime role, so RLS
is in force exactly as in production. Data is committed (the `committed` fixture), because the server's
threads only see committed rows. One Chromium runs for the whole package; every test gets a fresh browser
context (its own cookies) and logs in through the real login page.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.db import connections
from django.test.testcases import LiveServerThread
from django.utils import timezone
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

from apps.biomarkers import services as biomarker_services
from apps.organizations.models import Organization
from apps.organizations.roles import DataClassification, Role
from apps.patients.models import Patient
from tests.billing import factories as billing
from tests.biomarkers.factories import depression_reading, reading
from tests.conftest import add_member, as_tenant, make_organization
from tests.factories import ClinicalEventFactory, PatientFactory
from tests.logins import PASSWORD, confirmed_totp_device, totp_code

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
ROLES = (Role.OWNER, Role.CLINICIAN, Role.BILLING, Role.COACH)


def chromium_executable() -> str:
    """Debian's Chromium: `python3 kura.py test` installs it when missing; without it these tests fail."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Chromium is not installed: run `apt-get install -y chromium` (python3 kura.py test does).")
    return path


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    # Playwright's sync API keeps an asyncio loop running in this thread, which Django's ORM guard takes for
    # async code; test code here is plain synchronous code, so the guard is lifted while the browser runs.
    # Django then keeps this thread's connections apart from the ones opened before: close those at the end,
    # or the test database could not be dropped.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path=chromium_executable(), headless=True, args=["--no-sandbox"]
            )
            yield chromium
            connections.close_all()
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="package")
def live_url(django_db_setup: None) -> Iterator[str]:
    """Base URL of a threaded WSGI server running the app (static files included) on the test database."""
    server = LiveServerThread("127.0.0.1", StaticFilesHandler, port=0)
    server.daemon = True
    server.start()
    server.is_ready.wait()
    if server.error:
        raise server.error
    yield f"http://127.0.0.1:{server.port}"
    server.terminate()


@pytest.fixture
def open_page(browser: Browser, live_url: str) -> Iterator[Callable[..., Page]]:
    """`open_page(user)`: a fresh browser context logged in as the user through the admin login page and the
    second factor (a confirmed authenticator is set up for the user if they have none); `open_page(None)`: a
    fresh context not logged in."""
    contexts = []
    # Chromium reports what the Content-Security-Policy blocked on the console; every page must need nothing
    # the policy forbids.
    csp_violations: list[str] = []

    def record_csp_violation(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            csp_violations.append(message.text)

    def login(user: Any | None) -> Page:
        context = browser.new_context(base_url=live_url, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(10_000)
        context.on("console", record_csp_violation)
        contexts.append(context)
        page = context.new_page()
        if user is None:
            return page
        device = confirmed_totp_device(user)
        page.goto("/admin/login/?next=/admin/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        # The second factor: the code the user's authenticator app would show.
        page.wait_for_url("**/account/second-factor/**")
        page.fill("#id_code", totp_code(device))
        page.click("input[type=submit]")
        # The role's home: the home page, the today board for the front desk, the billing desk for billing.
        homes = "(scheduling/appointment/today/|billing/ledgerentry/desk/)?"
        page.wait_for_url(re.compile(rf"^{re.escape(live_url)}/admin/{homes}$"))
        return page

    yield login
    for context in contexts:
        context.close()
    assert csp_violations == []


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[[Page, str], None]:
    """`screenshot(page, "step")` writes artifacts/screenshots/<test>-<step>.png (git-ignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    test_name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name).strip("-")

    def take(page: Page, step: str) -> None:
        page.screenshot(path=str(SCREENSHOTS / f"{test_name}-{step}.png"), full_page=True)

    return take


@dataclass
class Clinic:
    org: Organization
    users: dict[str, Any]
    patient: Patient
    other_patient: Patient
    phi_event_id: Any
    phi_event_name: str
    wellness_event_name: str
    charges: dict[str, Any] = field(default_factory=dict)


def _today() -> dt.date:
    return timezone.now().date()


def _seed_clinic(slug: str, family_name: str, other_family_name: str, scale: int) -> Clinic:
    """Patients, staff of every role, charges in every aging bucket, a superbill line, biomarker readings and a
    PHI and a wellness clinical event. `scale` makes one clinic's amounts differ from the other's."""
    org = make_organization(slug)
    users = {role.value: add_member(org, role, username=f"{slug}-{role.value}") for role in ROLES}
    today = _today()
    with as_tenant(org):
        patient = PatientFactory(given_name="Alma", family_name=family_name, mrn=f"{slug.upper()}-001")
        other = PatientFactory(given_name="Bruno", family_name=other_family_name, mrn=f"{slug.upper()}-002")
        billing.provider()
        charges = {
            # Retail charges, one per aging bucket (aged by service date).
            "0_30": billing.charge(patient, 12_000 * scale, service_date=today, description="Essential oil kit"),
            "31_60": billing.charge(patient, 8_000 * scale, service_date=today - dt.timedelta(days=45)),
            "61_90": billing.charge(patient, 5_000 * scale, service_date=today - dt.timedelta(days=75)),
            "90_plus": billing.charge(patient, 3_000 * scale, service_date=today - dt.timedelta(days=120)),
            # A clinical service this month: the superbill's line (0-30 bucket too).
            "clinical": billing.charge(
                patient,
                15_000 * scale,
                transaction_type="clinical_service",
                service_date=today,
                description="Psychotherapy, 60 minutes",
            ),
            "other": billing.charge(other, 2_500 * scale, service_date=today),
        }
        now = timezone.now()
        steps = [
            reading(patient.pk, captured_at=(now - dt.timedelta(days=day, hours=2)).isoformat(), value_numeric=v)
            for day, v in zip(range(1, 11), [6000.0, 7200, 3100, 8000, 9100, 4000, 6500, 7000, 2000, 5200], strict=True)
        ]
        depression = [
            depression_reading(patient.pk, captured_at=(now - dt.timedelta(days=day, hours=3)).isoformat())
            for day in (2, 9)
        ]
        biomarker_services.biomarker_readings_ingest(readings=steps + depression)
        phi = ClinicalEventFactory(patient=patient, event_name=f"Psychiatric evaluation {slug}")
        wellness = ClinicalEventFactory(
            patient=patient,
            event_name=f"Yoga session {slug}",
            data_classification=DataClassification.GENERAL_WELLNESS,
        )
    return Clinic(
        org=org,
        users=users,
        patient=patient,
        other_patient=other,
        phi_event_id=phi.pk,
        phi_event_name=phi.event_name,
        wellness_event_name=wellness.event_name,
        charges=charges,
    )


@pytest.fixture
def clinics(committed: None) -> dict[str, Clinic]:
    """Two organizations with the same kind of data; org-b's names and amounts differ from org-a's."""
    return {
        "org-a": _seed_clinic("org-a", "Quillfeather", "Marchetti", scale=1),
        "org-b": _seed_clinic("org-b", "Zabrowski", "Okonkwo-B", scale=3),
    }
