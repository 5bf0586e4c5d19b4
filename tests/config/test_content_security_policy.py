"""Content-Security-Policy on every page: the admin, the API and its docs, error pages; nothing inline."""

from __future__ import annotations

import re
import uuid

from django.test import Client

from apps.organizations.roles import Role
from tests.conftest import add_member, api_client, as_tenant, issue_key, logged_in
from tests.conftest import csp_directives as policy
from tests.factories import PatientFactory

POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}


def assert_nothing_inline(html: str) -> None:
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "an inline <script>"
    assert not re.search(r"<style\b", html), "an inline <style>"
    assert not re.search(r"\sstyle=\"", html), "a style attribute"
    assert not re.search(r"\son[a-z]+=", html), "an event-handler attribute"
    assert "javascript:" not in html


def test_the_admin_login_page_has_the_strict_policy(db):
    response = Client().get("/admin/login/")

    assert response.status_code == 200
    assert policy(response) == POLICY
    assert_nothing_inline(response.content.decode())


def test_admin_pages_have_the_strict_policy_and_nothing_inline(org_a, org_b):
    owner = add_member(org_a, Role.OWNER)
    with as_tenant(org_a):
        patient = PatientFactory()
    with as_tenant(org_b):
        add_member(org_b, Role.OWNER, username=f"x-{uuid.uuid4().hex[:6]}")
    client = logged_in(owner)

    for url in (
        "/admin/",
        "/admin/patients/patient/",
        f"/admin/patients/patient/{patient.pk}/change/",
        "/admin/billing/ledgerentry/dashboard/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert policy(response) == POLICY, url
        assert_nothing_inline(response.content.decode())


def test_the_organization_switcher_works_without_inline_script(org_a, org_b):
    user = add_member(org_a, Role.OWNER)
    with as_tenant(org_b):
        from apps.organizations import services

        services.membership_create(user=user, role=Role.COACH)

    html = logged_in(user).get("/admin/").content.decode()

    assert "data-kura-submit-on-change" in html
    assert '<script src="/static/kura/admin.js" defer></script>' in html


def test_api_responses_and_error_pages_have_the_policy(org_a, db):
    key = issue_key(org_a)

    ok = api_client(key).get("/api/v1/patients/")
    missing_api = api_client(key).get(f"/api/v1/patients/{uuid.uuid4()}/")
    missing_page = Client().get("/no-such-page/")
    unauthenticated = Client().get("/api/v1/patients/")

    for response in (ok, missing_api, missing_page, unauthenticated):
        assert policy(response) == POLICY, response.status_code
    assert (ok.status_code, missing_api.status_code, missing_page.status_code) == (200, 404, 404)
    assert unauthenticated.status_code in (401, 403)


def test_swagger_ui_loads_everything_from_static_files_and_its_script_from_its_own_url(db):
    page = Client().get("/api/v1/docs/")
    script = Client().get("/api/v1/docs/?script=")

    html = page.content.decode()
    assert page.status_code == 200
    assert policy(page) == POLICY
    assert_nothing_inline(html)
    assert '<script src="/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"></script>' in html
    assert '<link rel="stylesheet" href="/static/kura/swagger.css">' in html
    assert '<script src="/api/v1/docs/?script="></script>' in html
    assert "http://" not in html.replace("http://www.w3.org", "")
    assert "https://" not in html
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle(" in script.content.decode()
