"""Each role logs in through the real login page; the patient list and page show only the own clinic's data."""

from __future__ import annotations

import pytest

from apps.organizations.roles import Role

from .conftest import ROLES

ORG_B_NAMES = ("Zabrowski", "Okonkwo-B")


@pytest.mark.parametrize("role", ROLES)
def test_each_role_logs_in_and_sees_its_own_organization_only(clinics, open_page, screenshot, role):
    page = open_page(clinics["org-a"].users[role])
    screenshot(page, "index")

    body = page.inner_text("body")
    assert "Kura clinic administration" in body  # the header of every page, the home of each role below it
    assert page.inner_text("#kura-organization") == f"Clinic org-a · {Role(role).label}"
    assert "Clinic org-b" not in body
    # The billing section is offered to the roles that may see billing and to nobody else.
    assert (page.get_by_role("link", name="Ledger entries").count() > 0) == (role != Role.COACH)


@pytest.mark.parametrize("role", [Role.OWNER, Role.CLINICIAN])
def test_patient_list_shows_the_clinics_patients_and_search_narrows_it(clinics, open_page, screenshot, role):
    page = open_page(clinics["org-a"].users[role])
    page.locator('#content-main a[href="/admin/patients/patient/"]').first.click()
    page.wait_for_url("**/admin/patients/patient/")
    screenshot(page, "list")

    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 2
    assert "Quillfeather" in rows.filter(has_text="ORG-A-001").inner_text()
    assert "Marchetti" in rows.filter(has_text="ORG-A-002").inner_text()
    listing = page.inner_text("body")
    assert not any(name in listing for name in ORG_B_NAMES)

    page.fill("#searchbar", "Quillfeather")
    page.press("#searchbar", "Enter")
    page.wait_for_url("**/admin/patients/patient/?q=Quillfeather")
    screenshot(page, "search")
    assert page.locator("#result_list tbody tr").count() == 1
    assert "ORG-A-001" in page.locator("#result_list tbody tr").inner_text()


def test_patient_page_shows_the_chart_with_every_panel_then_the_demographics(clinics, open_page, screenshot):
    clinic = clinics["org-a"]
    page = open_page(clinic.users[Role.OWNER])
    page.goto("/admin/patients/patient/")
    # The list leads with the family name; the row is the one of MRN ORG-A-001.
    page.locator("#result_list tbody tr", has_text="ORG-A-001").locator("th a").click()
    page.wait_for_url(f"**/admin/patients/patient/{clinic.patient.pk}/change/")
    screenshot(page, "patient")

    assert page.inner_text(".kura-chart-header h1") == "Quillfeather, Alma"
    panels = page.locator("section.kura-panel h2").all_inner_texts()
    assert {"Clinical summary", "Billing", "Biomarkers"} <= set(panels)

    summary = page.locator("section.kura-panel", has=page.locator("h2", has_text="Clinical summary")).inner_text()
    assert clinic.phi_event_name in summary
    assert clinic.wellness_event_name in summary
    billing = page.locator("section.kura-panel", has=page.locator("h2", has_text="Billing"))
    # 120 + 80 + 50 + 30 retail and 150 clinical, nothing paid: net 430.00 USD.
    assert billing.locator("tbody tr").inner_text().split("\t") == ["USD", "0.00", "430.00", "0.00", "430.00"]
    assert not any(name in page.content() for name in ORG_B_NAMES)

    # Demographics are one click away.
    page.locator(".kura-chart-links a", has_text="Demographics and consents").click()
    page.wait_for_url(f"**/admin/patients/patient/{clinic.patient.pk}/demographics/")
    screenshot(page, "demographics")
    assert page.input_value("#id_family_name") == "Quillfeather"
    assert page.input_value("#id_given_name") == "Alma"


def test_another_organizations_patient_page_is_not_shown(clinics, open_page, screenshot):
    page = open_page(clinics["org-a"].users[Role.OWNER])
    other = clinics["org-b"].patient
    response = page.goto(f"/admin/patients/patient/{other.pk}/change/")
    screenshot(page, "other-org-patient")

    # Answered as for a missing record: not found, no data of org-b.
    assert response.status == 404
    assert not any(name in page.content() for name in (*ORG_B_NAMES, "ORG-B-001"))
