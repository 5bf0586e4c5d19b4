"""Superbills, receipts and statements: totals equal the SQL balance; HTML and PDF render; tenant-private."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from apps.billing import documents, selectors, services
from apps.billing.models import EntryKind, TransactionType
from apps.billing.services import Allocation
from apps.organizations.roles import Role
from tests.billing import factories as bf
from tests.conftest import add_member, as_tenant, csp_directives, logged_in
from tests.factories import PatientFactory

CLINICAL = TransactionType.CLINICAL_SERVICE


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=12, tzinfo=dt.UTC)


@pytest.fixture
def ledger(org_a, org_b):
    with as_tenant(org_b):
        bf.charge(PatientFactory(), 99_900, recorded_at=at("2025-02-05"))
    with as_tenant(org_a):
        bf.provider()
        patient = PatientFactory()
        policy = bf.policy(patient, bf.payer())
        jan = bf.charge(
            patient, 15_000, transaction_type=CLINICAL, service_date=dt.date(2025, 1, 20), recorded_at=at("2025-01-20")
        )
        feb1 = bf.charge(
            patient,
            20_000,
            transaction_type=CLINICAL,
            insurance_policy=policy,
            service_date=dt.date(2025, 2, 3),
            recorded_at=at("2025-02-03"),
            metadata={"cpt_code": "90791", "diagnosis_codes": ["F41.1", "F43.10"], "diagnosis_pointers": [2, 1]},
        )
        feb2 = bf.charge(
            patient, 12_000, transaction_type=CLINICAL, service_date=dt.date(2025, 2, 17), recorded_at=at("2025-02-17")
        )
        retail = bf.charge(
            patient, 4_500, service_date=dt.date(2025, 2, 10), recorded_at=at("2025-02-10"), description="Magnesium"
        )
        services.payment_post(
            patient=patient, amount_cents=15_000, allocations=[Allocation(jan, 15_000)], recorded_at=at("2025-01-25")
        )
        services.payment_post(
            patient=patient,
            kind=EntryKind.INSURANCE_PAYMENT,
            amount_cents=14_000,
            allocations=[Allocation(feb1, 14_000)],
            recorded_at=at("2025-02-20"),
        )
        receipt_payment = services.payment_post(
            patient=patient,
            amount_cents=7_000,
            allocations=[Allocation(retail, 4_500)],
            allow_credit=True,
            recorded_at=at("2025-02-11"),
            external_reference="ch_123",
        )
        services.payment_post(
            patient=patient, amount_cents=5_000, allocations=[Allocation(feb2, 5_000)], recorded_at=at("2025-03-02")
        )
    return {"patient": patient, "receipt_payment": receipt_payment, "retail": retail}


def test_superbill_totals_equal_sql_balance_for_period(ledger, org_a):
    with as_tenant(org_a):
        patient = ledger["patient"]
        bill = documents.superbill(patient=patient, date_from=dt.date(2025, 2, 1), date_to=dt.date(2025, 2, 28))
        sql = selectors.patient_balance(
            patient_id=patient.pk,
            transaction_type=CLINICAL,
            date_from=dt.date(2025, 2, 1),
            date_to=dt.date(2025, 2, 28),
        )
        assert [line["cpt_code"] for line in bill["lines"]] == ["90791", "90837"]
        assert bill["diagnoses"] == ["F41.1", "F43.10"]
        assert bill["lines"][0]["pointers"] == [2, 1]
        assert (bill["total_fee_cents"], bill["total_paid_cents"]) == (32_000, 19_000)
        assert bill["balance_cents"] == sql.outstanding == 13_000
        html = documents.render_html(bill)
        assert '<td class="num" id="balance">130.00</td>' in html
        assert documents.render_pdf(bill).startswith(b"%PDF")


def test_statement_closing_equals_sql_balance_and_opening_the_prior_one(ledger, org_a):
    with as_tenant(org_a):
        patient = ledger["patient"]
        stmt = documents.statement(patient=patient, date_from=dt.date(2025, 2, 1), date_to=dt.date(2025, 2, 28))
        assert (
            stmt["opening_cents"]
            == selectors.patient_balance(patient_id=patient.pk, as_of=dt.date(2025, 1, 31)).net
            == 0
        )
        closing = selectors.patient_balance(patient_id=patient.pk, as_of=dt.date(2025, 2, 28))
        assert stmt["closing_cents"] == closing.net == 20_000 + 12_000 + 4_500 - 14_000 - 7_000
        assert [row["amount_cents"] for row in stmt["activity"]] == [20_000, 4_500, -7_000, 12_000, -14_000]
        assert 'id="closing">155.00<' in documents.render_html(stmt)


def test_receipt_lists_what_was_paid_and_credit(ledger, org_a):
    with as_tenant(org_a):
        doc = documents.receipt(payment=ledger["receipt_payment"])
        assert [(line["applied_cents"], line["remaining_cents"]) for line in doc["lines"]] == [(4_500, 0)]
        assert (doc["total_cents"], doc["credit_cents"]) == (7_000, 2_500)
        assert documents.render_pdf(doc).startswith(b"%PDF")


def test_admin_documents_render_for_billing_and_hide_other_tenant(ledger, org_a, org_b):
    client = logged_in(add_member(org_a, Role.BILLING))
    patient = ledger["patient"]
    base = f"/admin/billing/ledgerentry/patient/{patient.pk}"
    page = client.get(f"{base}/superbill/?from=2025-02-01&to=2025-02-28")
    assert page.status_code == 200
    assert 'id="balance">130.00<' in page.content.decode()
    pdf = client.get(f"{base}/superbill/?from=2025-02-01&to=2025-02-28&format=pdf")
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert client.get(f"/admin/billing/ledgerentry/receipt/{ledger['receipt_payment'].pk}/").status_code == 200
    other = logged_in(add_member(org_b, Role.BILLING))
    assert other.get(f"{base}/superbill/").status_code == 404
    assert other.get(f"/admin/billing/ledgerentry/receipt/{ledger['receipt_payment'].pk}/").status_code == 404


@pytest.mark.parametrize("document", ["superbill", "statement"])
@pytest.mark.parametrize("period", ["from=0001-01-01&to=2025-02-28", "from=2025-02-01&to=9999-12-31"])
def test_a_period_at_the_ends_of_the_calendar_is_a_form_error_not_a_500(ledger, org_a, document, period):
    client = logged_in(add_member(org_a, Role.BILLING))
    url = f"/admin/billing/ledgerentry/patient/{ledger['patient'].pk}/{document}/?{period}"
    response = client.get(url)
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["from" if "0001" in period else "to"]


def test_coach_gets_no_billing_pages(ledger, org_a):
    client = logged_in(add_member(org_a, Role.COACH))
    patient = ledger["patient"]
    assert client.get(f"/admin/billing/ledgerentry/patient/{patient.pk}/superbill/").status_code == 403
    assert client.get("/admin/billing/ledgerentry/dashboard/").status_code == 403
    assert client.get("/admin/billing/ledgerentry/").status_code == 403


def test_a_document_page_allows_only_its_own_style_by_the_requests_nonce(ledger, org_a):
    client = logged_in(add_member(org_a, Role.BILLING))
    url = f"/admin/billing/ledgerentry/patient/{ledger['patient'].pk}/superbill/?from=2025-02-01&to=2025-02-28"

    page = client.get(url)
    again = client.get(url)

    header = page["Content-Security-Policy"]
    directives = csp_directives(page)  # the header's directive order is not fixed
    nonce = directives["style-src"][1].removeprefix("'nonce-").removesuffix("'")
    html = page.content.decode()
    assert directives["style-src"] == ["'self'", f"'nonce-{nonce}'"]
    assert f'<style nonce="{nonce}">' in html
    assert nonce not in again.content.decode()  # a new nonce per response
    assert "'unsafe-inline'" not in header
    assert directives["script-src"] == ["'self'", f"'nonce-{nonce}'"]  # only Kura's origin or with the nonce
    assert "javascript:" not in html
    assert '<a href="#" data-kura-print>Print</a>' in html


def test_a_statement_dates_activity_by_the_clinics_day(org_a, org_b):
    """A charge recorded at 21:00 in Chicago on February 28 (03:00 UTC on March 1) is February's."""
    late_evening = dt.datetime(2025, 3, 1, 3, 0, tzinfo=dt.UTC)
    with as_tenant(org_b):
        bf.charge(PatientFactory(), 99_900, recorded_at=late_evening)
    with as_tenant(org_a), timezone.override(ZoneInfo("America/Chicago")):
        patient = PatientFactory()
        bf.charge(patient, 8_000, recorded_at=late_evening)
        february = documents.statement(patient=patient, date_from=dt.date(2025, 2, 1), date_to=dt.date(2025, 2, 28))
        march = documents.statement(patient=patient, date_from=dt.date(2025, 3, 1), date_to=dt.date(2025, 3, 31))

    assert [(row["date"], row["amount_cents"]) for row in february["activity"]] == [(dt.date(2025, 2, 28), 8_000)]
    assert february["closing_cents"] == 8_000
    assert march["activity"] == []
    assert march["opening_cents"] == 8_000
