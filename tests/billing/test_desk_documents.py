"""Statements and superbills from the desk: a period picker with sensible defaults, what the patient owes now
apart from what insurance still owes, a due date and a remittance slip, the statement run for every patient with
a balance, diagnosis descriptions and insurance with the member id masked."""

import datetime as dt

import pytest
from django.utils import timezone

from apps.billing import documents, services
from apps.billing.models import EntryKind, TransactionType
from apps.billing.services import Allocation
from apps.organizations.roles import Role
from tests.billing import factories as bf
from tests.conftest import add_member, as_tenant, logged_in
from tests.factories import PatientFactory

CLINICAL = TransactionType.CLINICAL_SERVICE
JAN = dt.date(2025, 1, 15)


@pytest.fixture
def patients(org_a, org_b):
    """Org A: Quillfeather owes 45.00 herself and has 200.00 with insurance; Marchetti has only insurance pending;
    Ferreira paid everything. Org B: Okonkwo owes 999.00."""
    with as_tenant(org_b):
        bf.charge(PatientFactory(family_name="Okonkwo"), 99_900, service_date=JAN)
    with as_tenant(org_a):
        bf.provider()
        payer = bf.payer()
        owing = PatientFactory(family_name="Quillfeather", given_name="Alma")
        policy = bf.policy(owing, payer, member_id="XJ1234567")
        bf.charge(
            owing,
            20_000,
            transaction_type=CLINICAL,
            insurance_policy=policy,
            service_date=JAN,
            metadata={"cpt_code": "90837", "diagnosis_codes": ["F41.1", "F43.10"], "diagnosis_pointers": [1, 2]},
        )
        bf.charge(owing, 4_500, service_date=JAN, description="Magnesium")
        insured = PatientFactory(family_name="Marchetti")
        bf.charge(
            insured, 8_000, transaction_type=CLINICAL, insurance_policy=bf.policy(insured, payer), service_date=JAN
        )
        settled = PatientFactory(family_name="Ferreira")
        paid = bf.charge(settled, 3_000, service_date=JAN)
        services.payment_post(patient=settled, amount_cents=3_000, allocations=[Allocation(paid, 3_000)])
    return {"owing": owing, "insured": insured, "settled": settled}


def test_a_statement_separates_what_the_patient_owes_now_from_what_insurance_still_owes(patients, org_a):
    """Finding: the statement asked the patient for what insurance still owed, with no due date."""
    with as_tenant(org_a):
        statement = documents.statement(
            patient=patients["owing"], date_from=dt.date(2025, 1, 1), date_to=timezone.localdate(), issued_on=JAN
        )
    assert (statement["patient_due_cents"], statement["insurance_pending_cents"], statement["closing_cents"]) == (
        4_500,
        20_000,
        24_500,
    )
    assert statement["due_date"] == dt.date(2025, 2, 14)

    client = logged_in(add_member(org_a, Role.BILLING))
    html = client.get(f"/admin/billing/ledgerentry/patient/{patients['owing'].pk}/statement/").content.decode()
    assert 'id="patient-due">45.00 USD<' in html
    assert 'id="insurance-pending">200.00 USD<' in html
    assert "Remittance slip" in html
    assert 'id="slip-amount">45.00 USD<' in html
    due = timezone.localdate() + dt.timedelta(days=documents.STATEMENT_TERMS_DAYS)
    assert f'id="slip-due-date">{due:%Y-%m-%d}<' in html


def test_a_patients_credit_lowers_what_they_owe_now(patients, org_a):
    with as_tenant(org_a):
        services.payment_post(
            patient=patients["owing"], amount_cents=1_000, allow_credit=True, transaction_type=CLINICAL
        )
        statement = documents.statement(
            patient=patients["owing"], date_from=dt.date(2025, 1, 1), date_to=timezone.localdate()
        )
    assert (statement["patient_due_cents"], statement["insurance_pending_cents"], statement["credit_cents"]) == (
        3_500,
        20_000,
        0,
    )


def test_the_statement_run_covers_every_patient_who_owes_something_themselves_and_no_one_else(patients, org_a):
    client = logged_in(add_member(org_a, Role.BILLING))

    response = client.get("/admin/billing/ledgerentry/statements/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "1 statement for" in html
    assert html.count("Remittance slip") == 1
    assert "Quillfeather, Alma" in html
    for absent in ("Marchetti", "Ferreira", "Okonkwo"):
        assert absent not in html
    pdf = client.get("/admin/billing/ledgerentry/statements/?format=pdf")
    assert (pdf.status_code, pdf["Content-Type"]) == (200, "application/pdf")
    assert pdf.content.startswith(b"%PDF")


def test_the_statement_run_is_for_the_people_who_post(patients, org_a):
    for role, status in ((Role.CLINICIAN, 403), (Role.COACH, 403), (Role.FRONT_DESK, 200), (Role.OWNER, 200)):
        client = logged_in(add_member(org_a, role))
        assert client.get("/admin/billing/ledgerentry/statements/").status_code == status


def test_a_superbill_has_diagnosis_descriptions_and_insurance_with_the_member_id_masked(patients, org_a):
    client = logged_in(add_member(org_a, Role.BILLING))
    url = f"/admin/billing/ledgerentry/patient/{patients['owing'].pk}/superbill/?from=2025-01-01&to=2025-01-31"

    html = client.get(url).content.decode()

    assert "<td>F41.1</td><td>Generalized anxiety disorder</td>" in html
    assert "<td>F43.10</td><td>Post-traumatic stress disorder, unspecified</td>" in html
    assert "Acme Health (ACME1)" in html
    assert '<td class="member-id">*****4567</td>' in html
    assert "XJ1234567" not in html


def test_documents_open_on_last_month_and_this_one_with_a_period_picker(patients, org_a):
    """Finding: superbills and statements opened on "this month" with no period picker."""
    today = timezone.localdate()
    first_of_last_month = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    assert documents.default_period(dt.date(2025, 3, 5)) == (dt.date(2025, 2, 1), dt.date(2025, 3, 5))
    assert documents.default_period(dt.date(2025, 1, 31)) == (dt.date(2024, 12, 1), dt.date(2025, 1, 31))
    client = logged_in(add_member(org_a, Role.BILLING))

    html = client.get(f"/admin/billing/ledgerentry/patient/{patients['owing'].pk}/superbill/").content.decode()

    assert f'name="from" value="{first_of_last_month:%Y-%m-%d}"' in html
    assert f'name="to" value="{today:%Y-%m-%d}"' in html
    assert f"Period {first_of_last_month:%Y-%m-%d} to {today:%Y-%m-%d}" in html


@pytest.mark.parametrize("document", ["superbill", "statement"])
@pytest.mark.parametrize(
    ("query", "field"),
    [("from=2025-13-01", "from"), ("to=yesterday", "to"), ("from=2025-02-01&to=2025-01-01", "from")],
)
def test_a_malformed_period_is_a_form_error_never_a_404_or_500(patients, org_a, document, query, field):
    client = logged_in(add_member(org_a, Role.BILLING))
    response = client.get(f"/admin/billing/ledgerentry/patient/{patients['owing'].pk}/{document}/?{query}")
    assert response.status_code == 400
    assert list(response.context["form"].errors) == [field]


def test_the_statement_run_with_a_malformed_period_is_a_form_error(patients, org_a):
    client = logged_in(add_member(org_a, Role.BILLING))
    response = client.get("/admin/billing/ledgerentry/statements/?to=2025-02-31")
    assert response.status_code == 400
    assert list(response.context["form"].errors) == ["to"]


def test_a_malformed_as_of_is_a_form_error_not_a_404(patients, org_a):
    """Finding: a malformed `as_of` was a 404 page."""
    client = logged_in(add_member(org_a, Role.BILLING))
    response = client.get("/admin/billing/ledgerentry/dashboard/?as_of=2025-02-30")
    assert response.status_code == 400
    assert response.context["form"].errors == {"as_of": ["Enter a valid date."]}
    csv_refused = client.get("/admin/billing/ledgerentry/dashboard/?as_of=nope&format=csv")
    assert (csv_refused.status_code, csv_refused["Content-Type"].split(";")[0]) == (400, "text/html")


def test_the_payment_kinds_are_the_only_ones_with_a_payment_page(patients, org_a):
    with as_tenant(org_a):
        charge = patients["owing"].ledger_entries.filter(kind=EntryKind.CHARGE).first()
    client = logged_in(add_member(org_a, Role.BILLING))
    assert client.get(f"/admin/billing/ledgerentry/payment/{charge.pk}/").status_code == 404
