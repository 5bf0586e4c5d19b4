"""The billing desk in the browser: from the work queue, billing staff record one check across a clinical visit
and a product, find its method and number on the ledger and the payment's page, and print the statement."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from apps.billing import selectors
from apps.billing.models import EntryKind, LedgerEntry
from apps.organizations.roles import Role
from tests.conftest import as_tenant

ALMA = "Quillfeather, Alma · 05/17/1980 · ORG-A-001"


def test_billing_records_a_check_across_two_kinds_and_prints_a_statement(clinics, open_page, screenshot):
    clinic = clinics["org-a"]
    visit, product = clinic.charges["clinical"], clinic.charges["0_30"]
    today = timezone.localdate()
    page = open_page(clinic.users[Role.BILLING])

    # The desk's home: what is to work, counted; both of the clinic's patients owe something themselves.
    page.goto("/admin/billing/ledgerentry/desk/")
    screenshot(page, "desk")
    assert page.inner_text("#queue-counts tr[data-queue='statements_due'] td.num") == "2"
    statements_due = page.locator("table.queue[data-queue='statements_due'] tbody tr")
    assert [row.split("\t") for row in statements_due.all_inner_texts()] == [
        ["", ALMA, "Statement", "Patient due", "430.00 USD"],
        ["", "Marchetti, Bruno · 05/17/1980 · ORG-A-002", "Statement", "Patient due", "25.00 USD"],
    ]
    page.get_by_role("link", name=ALMA).click()
    page.wait_for_url(f"**/admin/billing/ledgerentry/patient/{clinic.patient.pk}/")

    # One check, dated the day it came in, paying the visit and the product.
    page.get_by_role("link", name="Post a payment").click()
    page.wait_for_url("**/pay/")
    page.select_option("#id_kind", "payment")
    page.fill("#id_received_on", (today - dt.timedelta(days=1)).isoformat())
    page.select_option("#id_method", "check")
    page.fill("#id_external_reference", "4417")
    page.fill(f"#id_charge_{visit.pk}", "150.00")
    page.fill(f"#id_charge_{product.pk}", "100.00")
    screenshot(page, "payment-form")
    page.get_by_role("button", name="Post payment").click()
    page.wait_for_url(f"**/admin/billing/ledgerentry/patient/{clinic.patient.pk}/")
    screenshot(page, "ledger-after")

    assert page.inner_text(".messagelist") == "Payment of 250.00 USD posted."
    newest = page.locator("#ledger-entries tbody tr").first.locator("td").all_inner_texts()
    assert newest[2:8] == ["Patient payment", "Clinical service", "", "Check 4417", "Paid", "-250.00 USD"]
    assert page.locator("h2:has-text('Balance') + table tbody tr td").all_inner_texts() == [
        "USD",
        "0.00",
        "180.00",
        "0.00",
        "180.00",
    ]

    # The payment's own page says how and when it came in, and what it settled.
    page.locator("#ledger-entries tbody tr").first.get_by_role("link", name="Payment").click()
    page.wait_for_url("**/admin/billing/ledgerentry/payment/**")
    screenshot(page, "payment")
    assert page.inner_text("#method") == "Check"
    assert page.inner_text("#reference") == "4417"
    assert page.inner_text("#received") == (today - dt.timedelta(days=1)).isoformat()
    assert page.inner_text("#amount") == "250.00 USD"
    settled = [row.split("\t")[1:] for row in page.locator("#applications tbody tr").all_inner_texts()]
    assert sorted(settled) == [
        ["Clinical service", "Psychotherapy, 60 minutes", "150.00 USD", "150.00 USD"],
        ["Retail product", "Essential oil kit", "120.00 USD", "100.00 USD"],
    ]

    # The statement for a chosen period: what the patient owes now, apart from insurance, with its slip.
    page.goto(f"/admin/billing/ledgerentry/patient/{clinic.patient.pk}/")
    page.get_by_role("link", name="Statement", exact=True).click()
    page.wait_for_url("**/statement/")
    page.fill("#id_from", (today - dt.timedelta(days=200)).isoformat())
    page.fill("#id_to", today.isoformat())
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/statement/?from=*")
    screenshot(page, "statement")
    assert page.inner_text("h1") == "Patient statement"
    assert page.inner_text("#opening") == "0.00"
    assert page.inner_text("#closing") == "180.00"
    assert page.inner_text("#patient-due") == "180.00 USD"
    assert page.inner_text("#insurance-pending") == "0.00 USD"
    due = today + dt.timedelta(days=30)
    assert page.inner_text("#slip-due-date") == due.isoformat()
    assert page.inner_text("#slip-amount") == "180.00 USD"
    assert page.get_by_role("link", name="Print").count() == 1
    pdf_link = page.get_by_role("link", name="Download PDF").get_attribute("href")
    pdf = page.request.get(page.url.split("?")[0] + pdf_link)
    assert (pdf.status, pdf.headers["content-type"]) == (200, "application/pdf")
    assert pdf.body().startswith(b"%PDF")

    body = page.inner_text("body")
    assert "Zabrowski" not in body
    with as_tenant(clinic.org, Role.BILLING):
        payment = LedgerEntry.objects.get(kind=EntryKind.PAYMENT)
        assert (payment.external_reference, payment.metadata, payment.amount_cents) == (
            "4417",
            {"method": "check"},
            25_000,
        )
        assert selectors.patient_balance(patient_id=clinic.patient.pk).patient_due == 18_000
    with as_tenant(clinics["org-b"].org, Role.BILLING):
        assert not LedgerEntry.objects.filter(kind=EntryKind.PAYMENT).exists()
