"""Pages under the Content-Security-Policy: what used to be inline works from static files, and the browser
reports nothing blocked (the `open_page` fixture fails a test on any CSP violation Chromium reports)."""

from __future__ import annotations

import pytest

from apps.organizations import services
from apps.organizations.roles import Role
from tests.conftest import add_member, as_tenant, make_organization

pytestmark = pytest.mark.usefixtures("committed")


def test_swagger_ui_renders_from_local_static_files(open_page, screenshot):
    page = open_page(add_member(make_organization("org-a"), Role.OWNER))
    external = []
    page.on("request", lambda request: external.append(request.url) if "127.0.0.1" not in request.url else None)

    page.goto("/api/v1/docs/")
    page.wait_for_selector(".swagger-ui .info .title")
    screenshot(page, "docs")

    assert "Kura API" in page.inner_text(".swagger-ui .info .title")
    assert page.locator(".opblock-summary-path", has_text="/api/v1/patients/").count() > 0
    assert external == []


def test_the_organization_switcher_submits_on_change_from_its_static_script(open_page, screenshot):
    org_a, org_b = make_organization("org-a"), make_organization("org-b")
    user = add_member(org_a, Role.OWNER)
    with as_tenant(org_b):
        services.membership_create(user=user, role=Role.CLINICIAN)
    page = open_page(user)
    assert "Clinic org-a" in page.inner_text("#kura-org-select option:checked")

    with page.expect_navigation():
        page.select_option("#kura-org-select", "org-b")
    screenshot(page, "switched")

    assert page.inner_text("#kura-org-select option:checked") == "Clinic org-b (Clinician)"
