"""Each role logs in through the real login page; the patient list and page show only the own clinic's data."""

from __future__ import annotations

import pytest

from apps.organizations.roles import Role

ROLES = [Role.OWNER, Role.CLINICIAN, Role.BILLING, Role.COACH]


@pytest.mark.parametrize("role", ROLES)
def test_each_role_logs_in_and_sees_its_own_organization(clinics, open_page, screenshot, role):
    page = open_page(clinics["org-a"].users[role])
    screenshot(page, "index")
    body = page.inner_text("body")
    assert "Clinic administration" in body
    assert "Clinic org-a" in body
    assert "Clinic org-b" not in body
