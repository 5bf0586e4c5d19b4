"""Billing in the browser: the dashboard's aging buckets, posting a payment, printing a superbill."""

from __future__ import annotations

import pytest

from apps.billing import selectors
from apps.billing.templatetags.billing_format import cents
from apps.organizations.roles import Role
from tests.conftest import as_tenant

AGING_COLUMNS = ["Currency", "Not yet due", "0-30", "31-60", "61-90", "90+", "Total", "Unapplied credit"]


def _aging_table(page):
    table = page.locator("h2:has-text('Aging') + table")
    header = table.locator("thead th").all_text_contents()
    rows = [row.locator("td").all_inner_texts() for row in table.locator("tbody tr").all()]
    return header, rows


# Seeded for org-a: 120 + 150 (clinical) + 25 (today), 80 (45 days), 50 (75 days), 30 (120 days) USD, nothing
# paid. A clinician's database view holds the clinical charges only.
EXPECTED_DASHBOARD = {
    Role.OWNER: (
        ["USD", "0.00", "295.00", "80.00", "50.00", "30.00", "455.00", "0.00"],
        [
            ["Quillfeather, Alma · 05/17/1980 · ORG-A-001", "430.00 USD"],
            ["Marchetti, Bruno · 05/17/1980 · ORG-A-002", "25.00 USD"],
        ],
    ),
    Role.BILLING: (
        ["USD", "0.00", "295.00", "80.00", "50.00", "30.00", "455.00", "0.00"],
        [
            ["Quillfeather, Alma · 05/17/1980 · ORG-A-001", "430.00 USD"],
            ["Marchetti, Bruno · 05/17/1980 · ORG-A-002", "25.00 USD"],
        ],
    ),
    Role.CLINICIAN: (
        ["USD", "0.00", "150.00", "0.00", "0.00", "0.00", "150.00", "0.00"],
        [["Quillfeather, Alma · 05/17/1980 · ORG-A-001", "150.00 USD"]],
    ),
}


@pytest.mark.parametrize("role", list(EXPECTED_DASHBOARD))
def test_dashboard_aging_buckets_equal_the_sql_report(clinics, open_page, screenshot, role):
    clinic = clinics["org-a"]
    page = open_page(clinic.users[role])
    page.goto("/admin/billing/ledgerentry/dashboard/")
    screenshot(page, "dashboard")

    header, rows = _aging_table(page)
    expected_aging, expected_largest = EXPECTED_DASHBOARD[role]
    assert header == AGING_COLUMNS
    assert rows == [expected_aging]
    with as_tenant(clinic.org, role):
        report = selectors.aging()["USD"]
    shown = [cents(report.buckets[b]) for b in selectors.AGING_BUCKETS] + [cents(report.total), cents(report.credit)]
    assert rows[0][1:] == shown
    largest = page.locator("h2:has-text('Largest balances') + table tbody tr").all_inner_texts()
    assert [row.split("\t") for row in largest] == expected_largest

    body = page.inner_text("body")
    # The other clinic's amounts (three times as large) and patients never appear.
    assert "885.00" not in body
    assert "1,365.00" not in body
    assert "Zabrowski" not in body


def test_posting_a_payment_lowers_the_balance_and_the_aging(clinics, open_page, screenshot):
    clinic = clinics["org-a"]
    oldest = clinic.charges["90_plus"]
    page = open_page(clinic.users[Role.BILLING])
    page.goto("/admin/billing/ledgerentry/dashboard/")
    page.get_by_role("link", name="ORG-A-001").first.click()
    page.wait_for_url(f"**/admin/billing/ledgerentry/patient/{clinic.patient.pk}/")
    screenshot(page, "ledger-before")
    balance = page.locator("h2:has-text('Balance') + table tbody tr")
    assert balance.locator("td").all_inner_texts() == ["USD", "0.00", "430.00", "0.00", "430.00"]

    page.get_by_role("link", name="Post a payment").click()
    page.wait_for_url("**/pay/")
    page.select_option("#id_kind", "payment")
    page.select_option("#id_method", "cash")
    page.fill(f"#id_charge_{oldest.pk}", "30.00")
    screenshot(page, "payment-form")
    page.get_by_role("button", name="Post payment").click()
    page.wait_for_url(f"**/admin/billing/ledgerentry/patient/{clinic.patient.pk}/")
    screenshot(page, "ledger-after")

    assert page.inner_text(".messagelist") == "Payment of 30.00 USD posted."
    assert balance.locator("td").all_inner_texts() == ["USD", "0.00", "400.00", "0.00", "400.00"]
    with as_tenant(clinic.org, Role.BILLING):
        assert selectors.balances(patient_id=clinic.patient.pk)["USD"].net == 40_000
    with as_tenant(clinics["org-b"].org, Role.BILLING):
        assert selectors.balances(patient_id=clinics["org-b"].patient.pk)["USD"].net == 3 * 43_000

    page.goto("/admin/billing/ledgerentry/dashboard/")
    _, rows = _aging_table(page)
    assert rows == [["USD", "0.00", "295.00", "80.00", "50.00", "0.00", "425.00", "0.00"]]


def test_posting_more_than_is_owed_is_refused_and_changes_nothing(clinics, open_page, screenshot):
    clinic = clinics["org-a"]
    field = f"#id_charge_{clinic.charges['90_plus'].pk}"
    page = open_page(clinic.users[Role.BILLING])
    page.goto(f"/admin/billing/ledgerentry/patient/{clinic.patient.pk}/pay/")
    page.fill(field, "31.00")
    page.get_by_role("button", name="Post payment").click()
    # The browser itself holds the form back (the field carries the amount owed as its maximum).
    assert "30" in page.eval_on_selector(field, "input => input.validationMessage")
    assert page.url.endswith("/pay/")

    # Sent anyway (browser checks switched off), the server refuses it too and names the field.
    page.eval_on_selector("#content form", "form => { form.noValidate = true; }")
    page.get_by_role("button", name="Post payment").click()
    page.wait_for_load_state()
    screenshot(page, "refused")
    assert "Ensure this value is less than or equal to 30" in page.inner_text("#content form")
    with as_tenant(clinic.org, Role.BILLING):
        assert selectors.balances(patient_id=clinic.patient.pk)["USD"].net == 43_000


def test_superbill_page_lists_the_clinical_lines_and_its_pdf_link_responds(clinics, open_page, screenshot):
    clinic = clinics["org-a"]
    page = open_page(clinic.users[Role.BILLING])
    page.goto(f"/admin/billing/ledgerentry/patient/{clinic.patient.pk}/")
    page.get_by_role("link", name="Superbill", exact=True).click()
    page.wait_for_url(f"**/patient/{clinic.patient.pk}/superbill/")
    screenshot(page, "superbill")

    assert page.inner_text("h1") == "Superbill"
    assert "Quillfeather, Alma · 05/17/1980 · ORG-A-001" in page.inner_text("body")
    services = page.locator("h2:has-text('Services') + table tr")
    assert services.count() == 3  # header, one clinical line, total
    line = services.nth(1).locator("td").all_inner_texts()
    assert line[1:] == ["90837", "95", "1", "1", "150.00", "0.00", "150.00"]
    assert page.inner_text("#total-fee") == "150.00"
    assert page.inner_text("#balance") == "150.00"
    assert page.locator("h2:has-text('Diagnoses') + table td").all_inner_texts() == [
        "1",
        "F43.10",
        "Post-traumatic stress disorder, unspecified",
    ]

    pdf_link = page.get_by_role("link", name="Download PDF")
    response = page.request.get(page.url.split("?")[0] + pdf_link.get_attribute("href"))
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF")


def test_a_clinician_may_read_the_ledger_but_is_offered_no_payment_posting(clinics, open_page, screenshot):
    clinic = clinics["org-a"]
    page = open_page(clinic.users[Role.CLINICIAN])
    page.goto(f"/admin/billing/ledgerentry/patient/{clinic.patient.pk}/")
    screenshot(page, "ledger")

    # The clinician's view holds the clinical charge only, and no button to post a payment.
    balance = page.locator("h2:has-text('Balance') + table tbody tr")
    assert balance.locator("td").all_inner_texts() == ["USD", "0.00", "150.00", "0.00", "150.00"]
    assert page.get_by_role("link", name="Post a payment").count() == 0
    assert page.get_by_role("link", name="Superbill", exact=True).count() == 1
    response = page.goto(f"/admin/billing/ledgerentry/patient/{clinic.patient.pk}/pay/")
    assert response.status == 403
