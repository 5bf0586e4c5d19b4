"""Payments at the billing desk: date received, method, reference (posted once), payer, charges of every kind;
partly paid failed installments stay in follow-up."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.billing import selectors, services
from apps.billing.models import EntryKind, LedgerApplication, LedgerEntry, PaymentStatus, TransactionType
from apps.billing.services import Allocation
from apps.organizations.roles import Role
from tests.billing import factories as bf
from tests.billing.factories import post
from tests.conftest import add_member, api_client, as_tenant, issue_key, logged_in
from tests.factories import PatientFactory

CLINICAL = TransactionType.CLINICAL_SERVICE
PROGRAM = TransactionType.PROGRAM_ENROLLMENT


@pytest.fixture
def desk(org_a, org_b):
    """Org A: a patient with a visit, a product and a program charge; org B: a patient with a payment "1001"."""
    with as_tenant(org_b):
        theirs = PatientFactory(family_name="Okonkwo")
        their_charge = bf.charge(theirs, 9_900)
        their_payment = services.payment_post(
            patient=theirs,
            amount_cents=9_900,
            allocations=[Allocation(their_charge, 9_900)],
            metadata={"method": "check"},
            external_reference="1001",
        )
    with as_tenant(org_a):
        patient = PatientFactory(family_name="Quillfeather", given_name="Alma")
        visit = bf.charge(patient, 15_000, transaction_type=CLINICAL, description="Psychotherapy")
        product = bf.charge(patient, 4_500, description="Magnesium")
        program = bf.charge(patient, 20_000, transaction_type=PROGRAM, description="Retreat")
        payer = bf.payer()
    return {
        "patient": patient,
        "visit": visit,
        "product": product,
        "program": program,
        "payer": payer,
        "their_payment": their_payment,
    }


def test_one_payment_settles_charges_of_every_kind(desk, org_a):
    """Finding: "must share a transaction type" refused one check paying a visit, a product and a program."""
    with as_tenant(org_a):
        payment = services.payment_post(
            patient=desk["patient"],
            amount_cents=15_000 + 4_500 + 5_000,
            allocations=[
                Allocation(desk["visit"], 15_000),
                Allocation(desk["product"], 4_500),
                Allocation(desk["program"], 5_000),
            ],
            metadata={"method": "check"},
            external_reference="2044",
            received_on=dt.date(2025, 1, 20),
        )
        applied = dict(LedgerApplication.objects.filter(source=payment).values_list("target_id", "amount_cents"))
        statuses = {
            charge.description: charge.payment_status
            for charge in LedgerEntry.objects.charges().filter(patient=desk["patient"])
        }
        balance = selectors.patient_balance(patient_id=desk["patient"].pk)

    assert applied == {desk["visit"].pk: 15_000, desk["product"].pk: 4_500, desk["program"].pk: 5_000}
    assert statuses == {
        "Psychotherapy": PaymentStatus.PAID,
        "Magnesium": PaymentStatus.PAID,
        "Retreat": PaymentStatus.PATIENT_DUE,
    }
    # Filed under the kind it pays most of; what settled each charge is in the applications.
    assert (payment.transaction_type, payment.service_date, payment.metadata) == (
        CLINICAL,
        dt.date(2025, 1, 20),
        {"method": "check"},
    )
    assert (balance.patient_due, balance.credit) == (15_000, 0)


def test_credit_of_one_kind_is_applied_to_a_charge_of_another(desk, org_a):
    with as_tenant(org_a):
        prepayment = services.payment_post(
            patient=desk["patient"],
            amount_cents=3_000,
            allow_credit=True,
            transaction_type=TransactionType.RETAIL_PRODUCT,
        )
        services.credit_apply(credit=prepayment, allocations=[Allocation(desk["visit"], 3_000)])
        assert selectors.remaining_cents(desk["visit"]) == 12_000


def test_a_payment_reference_is_posted_once_per_organization(desk, org_a):
    with as_tenant(org_a):
        patient = desk["patient"]
        services.payment_post(
            patient=patient,
            amount_cents=4_500,
            allocations=[Allocation(desk["product"], 4_500)],
            external_reference="1001",  # org B's check number too: unique per organization
        )
        with pytest.raises(ValidationError) as refused:
            services.payment_post(
                patient=patient,
                amount_cents=1_000,
                allocations=[Allocation(desk["visit"], 1_000)],
                external_reference="1001",
            )
        assert refused.value.message_dict == {
            "external_reference": ["A payment with this reference has already been posted."]
        }
        assert LedgerEntry.objects.filter(kind=EntryKind.PAYMENT).count() == 1
        assert selectors.remaining_cents(desk["visit"]) == 15_000


def test_the_database_refuses_a_second_payment_with_the_same_reference(desk, org_a):
    """The constraint holds even when the service's check is bypassed (two desks posting at once)."""
    with as_tenant(org_a):
        fields = {
            "patient": desk["patient"],
            "kind": EntryKind.PAYMENT,
            "transaction_type": TransactionType.RETAIL_PRODUCT,
            "payment_status": PaymentStatus.PAID,
            "amount_cents": 500,
            "service_date": dt.date(2025, 1, 2),
            "external_reference": "ch_777",
        }
        LedgerEntry.objects.create(**fields)
        with pytest.raises(IntegrityError, match="ledgerentry_payment_reference_once"), transaction.atomic():
            LedgerEntry.objects.create(**fields)
        # A failed card attempt may be retried under its reference.
        LedgerEntry.objects.create(**{**fields, "external_reference": "pi_9", "payment_status": PaymentStatus.FAILED})
        LedgerEntry.objects.create(**{**fields, "external_reference": "pi_9"})
        assert LedgerEntry.objects.filter(kind=EntryKind.PAYMENT).count() == 3


def test_an_insurance_check_names_its_payer_and_pays_several_patients_once_each(desk, org_a):
    with as_tenant(org_a):
        other = PatientFactory()
        other_visit = bf.charge(other, 8_000, transaction_type=CLINICAL)
        first = services.payment_post(
            patient=desk["patient"],
            kind=EntryKind.INSURANCE_PAYMENT,
            amount_cents=9_000,
            allocations=[Allocation(desk["visit"], 9_000)],
            payer=desk["payer"],
            metadata={"method": "check"},
            external_reference="EOB-55",
        )
        services.payment_post(
            patient=other,
            kind=EntryKind.INSURANCE_PAYMENT,
            amount_cents=6_000,
            allocations=[Allocation(other_visit, 6_000)],
            payer=desk["payer"],
            external_reference="EOB-55",
        )
        with pytest.raises(ValidationError) as twice:
            services.payment_post(
                patient=desk["patient"],
                kind=EntryKind.INSURANCE_PAYMENT,
                amount_cents=1_000,
                allocations=[Allocation(desk["visit"], 1_000)],
                payer=desk["payer"],
                external_reference="EOB-55",
            )
        with pytest.raises(ValidationError) as patient_payer:
            services.payment_post(
                patient=desk["patient"],
                amount_cents=1_000,
                allocations=[Allocation(desk["visit"], 1_000)],
                payer=desk["payer"],
            )
        first.refresh_from_db()
        assert first.payer_id == desk["payer"].pk
        assert LedgerEntry.objects.filter(kind=EntryKind.INSURANCE_PAYMENT).count() == 2
    assert list(twice.value.message_dict) == ["external_reference"]
    assert patient_payer.value.message_dict == {"payer": ["Only an insurance payment names a payer."]}


def _form(desk, **overrides):
    data = {
        "kind": "payment",
        "method": "check",
        "external_reference": "3051",
        "received_on": "2025-01-20",
        f"charge_{desk['visit'].pk}": "150.00",
        f"charge_{desk['product'].pk}": "45.00",
    }
    return {**data, **overrides}


def test_desk_posts_a_check_across_two_kinds_and_shows_method_and_number(desk, org_a, org_b):
    client = logged_in(add_member(org_a, Role.BILLING))
    patient = desk["patient"]

    response = client.post(f"/admin/billing/ledgerentry/patient/{patient.pk}/pay/", _form(desk))

    assert response.status_code == 302
    assert response["Location"] == f"/admin/billing/ledgerentry/patient/{patient.pk}/"
    with as_tenant(org_a):
        payment = LedgerEntry.objects.get(kind=EntryKind.PAYMENT)
        assert (payment.amount_cents, payment.service_date, payment.metadata, payment.external_reference) == (
            19_500,
            dt.date(2025, 1, 20),
            {"method": "check"},
            "3051",
        )
    page = client.get(f"/admin/billing/ledgerentry/payment/{payment.pk}/").content.decode()
    assert '<td id="method">Check</td>' in page
    assert '<td id="reference">3051</td>' in page
    assert '<td id="received">2025-01-20</td>' in page
    assert '<td id="amount">195.00 USD</td>' in page
    assert "Quillfeather, Alma" in page
    ledger = client.get(f"/admin/billing/ledgerentry/patient/{patient.pk}/").content.decode()
    assert "Check 3051" in ledger
    listing = client.get("/admin/billing/ledgerentry/payments/").content.decode()
    assert "Quillfeather, Alma" in listing
    assert "195.00 USD" in listing
    assert "Okonkwo" not in listing
    # Org B's payment is not a page of org A's desk.
    assert client.get(f"/admin/billing/ledgerentry/payment/{desk['their_payment'].pk}/").status_code == 404


def test_a_duplicate_check_at_the_desk_is_a_form_error_said_once_and_stores_nothing(desk, org_a):
    client = logged_in(add_member(org_a, Role.BILLING))
    url = f"/admin/billing/ledgerentry/patient/{desk['patient'].pk}/pay/"
    assert client.post(url, _form(desk)).status_code == 302

    again = client.post(
        url,
        _form(
            desk,
            **{
                f"charge_{desk['visit'].pk}": "",
                f"charge_{desk['product'].pk}": "",
                f"charge_{desk['program'].pk}": "9",
            },
        ),
    )

    form = again.context["form"]
    assert form.errors == {"external_reference": ["A payment with this reference has already been posted."]}
    assert again.content.decode().count("A payment with this reference has already been posted.") == 1
    with as_tenant(org_a):
        assert LedgerEntry.objects.filter(kind=EntryKind.PAYMENT).count() == 1
        assert selectors.remaining_cents(desk["program"]) == 20_000


def test_mixed_kinds_at_the_desk_are_no_longer_refused_with_an_internal_field_name(desk, org_a):
    client = logged_in(add_member(org_a, Role.FRONT_DESK))
    url = f"/admin/billing/ledgerentry/patient/{desk['patient'].pk}/pay/"
    response = client.post(url, _form(desk, method="cash", external_reference=""))
    assert response.status_code == 302
    with as_tenant(org_a):
        assert selectors.patient_balance(patient_id=desk["patient"].pk).patient_due == 20_000


@pytest.mark.parametrize(
    ("overrides", "errors"),
    [
        ({"kind": "insurance_payment"}, {"payer": ["Name the insurer that paid."]}),
        ({"external_reference": ""}, {"external_reference": ["Give the check number or reference of this payment."]}),
        ({"received_on": "2025-02-30"}, {"received_on": ["Enter a valid date."]}),
        ({"received_on": "9999-12-31"}, {"received_on": ["Must not be in the future."]}),
    ],
)
def test_bad_payment_input_is_a_form_error_and_stores_nothing(desk, org_a, overrides, errors):
    client = logged_in(add_member(org_a, Role.BILLING))
    response = client.post(f"/admin/billing/ledgerentry/patient/{desk['patient'].pk}/pay/", _form(desk, **overrides))
    assert response.status_code == 200
    assert response.context["form"].errors == errors
    with as_tenant(org_a):
        assert LedgerEntry.objects.exclude(kind=EntryKind.CHARGE).count() == 0


def test_an_insurance_payment_at_the_desk_names_the_payer(desk, org_a):
    client = logged_in(add_member(org_a, Role.BILLING))
    data = _form(desk, kind="insurance_payment", payer=str(desk["payer"].pk), method="eft", external_reference="EFT9")
    data.pop(f"charge_{desk['product'].pk}")
    response = client.post(f"/admin/billing/ledgerentry/patient/{desk['patient'].pk}/pay/", data)
    assert response.status_code == 302
    with as_tenant(org_a):
        payment = LedgerEntry.objects.get(kind=EntryKind.INSURANCE_PAYMENT)
    page = client.get(f"/admin/billing/ledgerentry/payment/{payment.pk}/").content.decode()
    assert "Acme Health (ACME1)" in page
    assert '<td id="method">EFT (bank transfer)</td>' in page


def test_a_partly_paid_failed_installment_stays_in_follow_up_until_settled(org_a, org_b):
    """Finding: a failed installment that was partly paid dropped off the follow-up list."""
    with as_tenant(org_a):
        plan = services.installment_plan_create(
            patient=PatientFactory(),
            program="Spring retreat",
            total_cents=30_000,
            installment_count=2,
            first_due_date=timezone.localdate() - dt.timedelta(days=10),
        )
        first = plan.entries.order_by("service_date").first()
        services.installment_payment_record(charge=first, succeeded=False, external_reference="pi_fail")
        services.installment_payment_record(
            charge=first, succeeded=True, external_reference="pi_part", amount_cents=5_000
        )
        first.refresh_from_db()
        assert first.payment_status == PaymentStatus.FAILED
        follow_up = selectors.installment_outstanding(selectors.failed_installments())
        assert [(c.pk, c.outstanding_cents) for c in follow_up] == [(first.pk, 10_000)]
    desk_page = logged_in(add_member(org_a, Role.BILLING)).get("/admin/billing/ledgerentry/desk/")
    section = next(s for s in desk_page.context["sections"] if s.key == "failed_installments")
    assert (section.count, [item.amount_cents for item in section.items]) == (1, [10_000])

    with as_tenant(org_a):
        services.installment_payment_record(charge=first, succeeded=True, external_reference="pi_rest")
        first.refresh_from_db()
        assert first.payment_status == PaymentStatus.PAID
        assert list(selectors.failed_installments()) == []


def test_a_partner_posting_the_same_payment_reference_twice_gets_a_400_naming_the_field(org_a, org_b):
    with as_tenant(org_a):
        patient = PatientFactory()
        charge = bf.charge(patient, 10_000)
    client = api_client(issue_key(org_a, scopes=["billing:read", "billing:write"]))
    body = {
        "patient_id": str(patient.pk),
        "amount_cents": 4_000,
        "allocations": [{"charge_id": str(charge.pk), "amount_cents": 4_000}],
        "metadata": {"method": "card"},
        "external_reference": "ch_3PqX",
    }

    first = post(client, "/api/v1/billing/payments/", body, key="first")
    again = post(client, "/api/v1/billing/payments/", body, key="second")

    assert first.status_code == 201
    assert again.status_code == 400
    error = again.json()["error"]
    assert list(error["fields"]) == ["external_reference"]
    assert "ch_3PqX" not in again.content.decode()
    with as_tenant(org_a):
        assert LedgerEntry.objects.filter(kind=EntryKind.PAYMENT).count() == 1
        assert selectors.remaining_cents(charge) == 6_000
