"""The billing desk's home: the work queue (claims ready, rejections, denials, unmatched remittance lines, failed
installments, statements due), claim batches downloadable again, and money shown as currency in the lists."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.billing import claims, services, work_queue, x12, x12_answers
from apps.billing.models import Claim, ClaimStatus, TransactionType
from apps.billing.x12_builder import ClaimRemit, LineRemit, build_835
from apps.organizations.roles import Role
from apps.patients.models import Patient
from tests.billing import factories as bf
from tests.conftest import add_member, as_tenant, logged_in
from tests.factories import PatientFactory

CLINICAL = TransactionType.CLINICAL_SERVICE
NOW = dt.datetime(2025, 3, 1, 9, 30, tzinfo=dt.UTC)


def _visit(payer, family_name: str):
    patient = PatientFactory(family_name=family_name)
    policy = bf.policy(patient, payer)
    bf.charge(patient, 15_000, transaction_type=CLINICAL, insurance_policy=policy, encounter=bf.encounter(patient))
    return patient


def _remittance(denied: Claim, prefix: str) -> None:
    """The payer's 835: the claim's one line denied (CO-50), and a claim K999 of two lines that is not ours."""
    line = denied.lines.get()
    unknown = [LineRemit(f"L{n}", "90837", 5_000, 4_000, [("CO", "45", 1_000)]) for n in (1, 2)]
    text = build_835(
        [
            ClaimRemit(
                denied.submitter_claim_id,
                "4",
                f"{prefix}ICN1",
                [LineRemit(line.control_number, "90837:95", 15_000, 0, [("CO", "50", 15_000)], remarks=["N130"])],
            ),
            ClaimRemit("K999", "1", f"{prefix}ICN9", unknown),
        ],
        trace_number=f"{prefix}CHK1",
    )
    x12_answers.clearinghouse_file_import(content=text.encode("ascii"))


def _clinic(family_prefix: str) -> dict:
    """Five claims: two sent and rejected or denied, one sent and waiting, two ready; an 835 with unmatched lines;
    a failed installment; a patient owing a product."""
    bf.provider()
    payer = bf.payer()
    for name in ("Rejected", "Denied", "Waiting"):
        _visit(payer, f"{family_prefix}{name}")
    claims.claims_prepare()
    batch = x12.claim_batch_export(now=NOW)
    sent = {claim.patient.family_name: claim for claim in batch.claims.select_related("patient")}
    claims.claim_status_set(claim=sent[f"{family_prefix}Rejected"], status=ClaimStatus.REJECTED)
    claims.claim_status_set(claim=sent[f"{family_prefix}Denied"], status=ClaimStatus.ACCEPTED)
    _remittance(sent[f"{family_prefix}Denied"], family_prefix)
    for name in ("ReadyOne", "ReadyTwo"):
        _visit(payer, f"{family_prefix}{name}")
    claims.claims_prepare()
    plan = services.installment_plan_create(
        patient=PatientFactory(family_name=f"{family_prefix}Installment"),
        program="Retreat",
        total_cents=20_000,
        installment_count=2,
        first_due_date=timezone.localdate(),
    )
    services.installment_payment_record(
        charge=plan.entries.order_by("service_date").first(), succeeded=False, external_reference="pi_fail"
    )
    bf.charge(PatientFactory(family_name=f"{family_prefix}Owing"), 25_000, description="Massage chair")
    return {"batch": batch}


@pytest.fixture
def desks(org_a, org_b):
    with as_tenant(org_b):
        theirs = _clinic("Other")
        # Org B has more to do than org A: none of it may show or count on org A's desk.
        bf.charge(PatientFactory(family_name="OtherOwingMore"), 1_000)
    with as_tenant(org_a):
        ours = _clinic("Our")
    return {"a": ours, "b": theirs}


def test_the_work_queue_counts_and_lists_each_source_of_the_organization_only(desks, org_a):
    client = logged_in(add_member(org_a, Role.BILLING))

    page = client.get(reverse("admin:billing_desk"))

    assert page.status_code == 200
    sections = {section.key: section for section in page.context["sections"]}
    assert {key: section.count for key, section in sections.items()} == {
        "claims_ready": 2,
        "rejections": 1,
        # No patient of the denied claim has a secondary policy (tests/billing/test_secondary_claims.py).
        "secondary": 0,
        "denials": 1,
        "unmatched": 2,
        "failed_installments": 1,
        # The owing patient, the failed installment's patient (its first installment is due now).
        "statements_due": 2,
    }
    assert sorted(item.patient.family_name for item in sections["claims_ready"].items) == ["OurReadyOne", "OurReadyTwo"]
    assert [item.patient.family_name for item in sections["rejections"].items] == ["OurRejected"]
    assert [item.patient.family_name for item in sections["denials"].items] == ["OurDenied"]
    assert [item.title for item in sections["unmatched"].items] == ["Claim K999 line L1", "Claim K999 line L2"]
    assert [item.amount_cents for item in sections["denials"].items] == [15_000]
    assert sections["denials"].items[0].detail.startswith("CO-50")
    assert [item.amount_cents for item in sections["failed_installments"].items] == [10_000]
    assert [(i.patient.family_name, i.amount_cents) for i in sections["statements_due"].items] == [
        ("OurOwing", 25_000),
        ("OurInstallment", 20_000),
    ]
    html = page.content.decode()
    assert "250.00 USD" in html
    assert "Other" not in html


def test_each_queue_source_is_one_function_in_the_desks_order():
    assert [source.key for source in work_queue.SOURCES] == [
        "claims_ready",
        "rejections",
        "secondary",
        "denials",
        "unmatched",
        "failed_installments",
        "statements_due",
    ]
    assert work_queue.SOURCES[2].items is work_queue.claims_for_secondary
    assert work_queue.SOURCES[3].items is work_queue.denials
    assert work_queue.SOURCES[4].items is work_queue.unmatched_remittance_lines


def test_front_desk_sees_the_sources_it_may_work(desks, org_a):
    page = logged_in(add_member(org_a, Role.FRONT_DESK)).get(reverse("admin:billing_desk"))
    sections = {section.key: section.count for section in page.context["sections"]}
    # Clearinghouse files, and the denials and unmatched lines read from them, are for owner and billing.
    assert sections == {
        "claims_ready": 2,
        "rejections": 1,
        "failed_installments": 1,
        "statements_due": 2,
    }


def test_the_desk_is_for_the_people_who_work_the_money(desks, org_a):
    for role, status in (
        (Role.OWNER, 200),
        (Role.BILLING, 200),
        (Role.FRONT_DESK, 200),
        (Role.CLINICIAN, 403),
        (Role.COACH, 403),
    ):
        assert logged_in(add_member(org_a, role)).get(reverse("admin:billing_desk")).status_code == status


def test_claim_batches_are_listed_on_the_desk_and_download_again_unchanged(desks, org_a):
    """Finding: a claim batch could not be downloaded again."""
    batch = desks["a"]["batch"]
    client = logged_in(add_member(org_a, Role.BILLING))
    download = reverse("admin:billing_claimbatch_download", args=[batch.pk])

    desk = client.get(reverse("admin:billing_desk")).content.decode()
    first, second = client.get(download), client.get(download)

    assert f'href="{download}"' in desk
    assert first.status_code == second.status_code == 200
    assert first.content == second.content == batch.file_bytes()
    assert first["Content-Disposition"] == f'attachment; filename="{batch.file_name}"'
    assert client.get(reverse("admin:billing_claimbatch_download", args=[desks["b"]["batch"].pk])).status_code == 404
    # Front desk works the queue but does not download claim files.
    front_desk = logged_in(add_member(org_a, Role.FRONT_DESK))
    assert f'href="{download}"' not in front_desk.get(reverse("admin:billing_desk")).content.decode()
    assert front_desk.get(download).status_code == 403


def test_lists_show_money_as_currency_and_the_patient_newest_first(desks, org_a):
    """Finding: lists showed "AMOUNT CENTS 25000" and no patient."""
    client = logged_in(add_member(org_a, Role.BILLING))

    ledger = client.get(reverse("admin:billing_ledgerentry_changelist")).content.decode()
    claim_list = client.get(reverse("admin:billing_claim_changelist")).content.decode()
    plans = client.get(reverse("admin:billing_installmentplan_changelist")).content.decode()

    for html in (ledger, claim_list, plans):
        assert "AMOUNT CENTS" not in html.upper().replace("_", " ")
        assert "TOTAL CENTS" not in html.upper().replace("_", " ")
    assert "250.00 USD" in ledger
    assert "150.00 USD" in claim_list
    assert "200.00 USD" in plans
    with as_tenant(org_a):
        owing = Patient.objects.get(family_name="OurOwing")
    assert owing.display_name in ledger
    # Newest first: the last charge recorded (the massage chair) comes before the first visit's.
    assert ledger.index("250.00 USD") < ledger.index("150.00 USD")
    assert "Other" not in ledger + claim_list + plans
