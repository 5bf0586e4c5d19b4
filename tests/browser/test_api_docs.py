"""Swagger UI under the Content-Security-Policy: served from local static files, it renders every operation and
the browser reports nothing blocked (the `open_page` fixture fails the test on any CSP violation)."""

from __future__ import annotations

import pytest

from apps.organizations.roles import Role
from tests.conftest import add_member, make_organization

pytestmark = pytest.mark.usefixtures("committed")


def test_swagger_ui_renders_under_the_policy(open_page, screenshot):
    page = open_page(add_member(make_organization("org-a"), Role.OWNER))
    external = []
    page.on("request", lambda request: external.append(request.url) if "127.0.0.1" not in request.url else None)

    page.goto("/api/v1/docs/")
    page.wait_for_selector(".swagger-ui .info .title")
    screenshot(page, "docs")

    assert "Kura API" in page.inner_text(".swagger-ui .info .title")
    assert page.locator(".opblock-summary-path", has_text="/api/v1/patients/").count() > 0
    assert external == []
