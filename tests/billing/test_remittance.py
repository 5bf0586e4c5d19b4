"""835 remittances, built by the tests' own builder and checked with pyx12, posted to claims and lines: insurance
payments, CO adjustments with their CARC codes, patient responsibility, denials; applied once per file and per
check trace number; another organization's claims untouched."""

import pytest
from django.core.exceptions import ValidationError

from apps.billing import x12, x12_answers
from apps.billing.models import (
    Claim,
    ClaimStatus,
    ClearinghouseFile,
    EntryKind,
    LedgerEntry,
    PaymentStatus,
    TransactionType,
)
from tests.billing import factories as bf
from tests.billing.x12_builders import ClaimRemit, LineRemit, build_835
from tests.billing.x12_validation import validate_x12
from tests.conftest import as_tenant
from tests.factories import PatientFactory

CLINICAL = TransactionType.CLINICAL_SERVICE
TWO_LINES = {"cpt_code": "96127", "units": 2, "diagnosis_codes": ["F41.1"], "diagnosis_pointers": [1]}


def _clinic() -> list:
    """Three patients: a two-line visit (claim K000000001) and two one-line visits (K000000002, K000000003)."""
    bf.provider()
    payer = bf.payer()
    patients = [PatientFactory() for _ in range(3)]
    policies = [bf.policy(p, payer) for p in patients]
    visit = bf.encounter(patients[0])
    bf.charge(patients[0], 15_000, transaction_type=CLINICAL, insurance_policy=policies[0], encounter=visit)
    bf.charge(
        patients[0], 4_550, transaction_type=CLINICAL, insurance_policy=policies[0], encounter=visit, metadata=TWO_LINES
    )
    for patient, policy in zip(patients[1:], policies[1:], strict=True):
        bf.charge(patient, 9_000, transaction_type=CLINICAL, insurance_policy=policy, encounter=bf.encounter(patient))
    assert x12.claim_batch_export() is not None
    return patients


REMITTANCE = [
    ClaimRemit(
        "K000000001",
        "1",
        "ICN0001",
        [
            LineRemit("K000000001-1", "90837:95", 15_000, 10_000, [("CO", "45", 3_000), ("PR", "2", 2_000)]),
            LineRemit("K000000001-2", "96127", 4_550, 4_550, []),
        ],
    ),
    ClaimRemit("K000000002", "4", "ICN0002", [LineRemit("K000000002-1", "90837:95", 9_000, 0, [("CO", "50", 9_000)])]),
    ClaimRemit("K000000003", "1", "ICN0003", [LineRemit("K000000003-1", "90837:95", 9_000, 0, [("PR", "1", 9_000)])]),
    ClaimRemit("K000000099", "1", "ICN0099", [LineRemit("K000000099-1", "90837", 5_000, 5_000, [])]),
]


@pytest.fixture
def sent(org_a, org_b):
    with as_tenant(org_b):
        _clinic()
    with as_tenant(org_a):
        return _clinic()


def _import(text: str) -> x12_answers.ImportResult:
    return x12_answers.clearinghouse_file_import(content=text.encode("ascii"))


def _ledger() -> list[tuple[str, str, int, int]]:
    return sorted(
        (e.kind, e.payment_status, e.amount_cents, e.applied_cents) for e in LedgerEntry.objects.order_by("id")
    )


def test_the_builder_writes_an_835_pyx12_accepts():
    assert validate_x12(build_835(REMITTANCE))[:2] == (True, [])


def test_835_posts_payments_adjustments_and_patient_responsibility(sent, org_a, org_b):
    with as_tenant(org_a):
        result = _import(build_835(REMITTANCE))
        assert result.created is True
        assert result.file.trace_number == "CHK10001"
        assert result.file.outcome == {
            "paid": ["K000000001", "K000000003"],
            "partly_paid": [],
            "denied": ["K000000002"],
            "unmatched_claims": ["K000000099"],
            "unmatched_lines": [],
            "not_applied": [],
            "posted_cents": {"paid": 14_550, "CO": 12_000, "PR": 11_000},
        }
        assert {c.submitter_claim_id: (c.status, c.payer_claim_control_number) for c in Claim.objects.all()} == {
            "K000000001": (ClaimStatus.PAID, "ICN0001"),
            "K000000002": (ClaimStatus.DENIED, "ICN0002"),
            "K000000003": (ClaimStatus.PAID, "ICN0003"),
        }
        first, second, third = sent
        charges = {
            (c.patient_id, c.amount_cents): (c.payment_status, c.open_cents) for c in LedgerEntry.objects.charges()
        }
        # Line 1: 150 - 100 paid - 30 CO leaves the 20 coinsurance to the patient; line 2 paid in full; the
        # denied claim written off (CO 50); the deductible all the patient's.
        assert charges == {
            (first.pk, 15_000): (PaymentStatus.PATIENT_DUE, 2_000),
            (first.pk, 4_550): (PaymentStatus.PAID, 0),
            (second.pk, 9_000): (PaymentStatus.PAID, 0),
            (third.pk, 9_000): (PaymentStatus.PATIENT_DUE, 9_000),
        }
        payment = LedgerEntry.objects.get(kind=EntryKind.INSURANCE_PAYMENT)
        assert (payment.amount_cents, payment.external_reference) == (14_550, "CHK10001/K000000001")
        adjustments = sorted(
            (e.patient_id == first.pk, e.amount_cents, e.metadata["reason_code"], e.metadata["note"])
            for e in LedgerEntry.objects.filter(kind=EntryKind.ADJUSTMENT)
        )
        assert adjustments == [
            (False, 9_000, "CO-50", "835 CHK10001, claim K000000002"),
            (True, 3_000, "CO-45", "835 CHK10001, claim K000000001"),
        ]
    with as_tenant(org_b):
        assert set(Claim.objects.values_list("status", flat=True)) == {ClaimStatus.SUBMITTED}
        assert LedgerEntry.objects.exclude(kind=EntryKind.CHARGE).count() == 0


def test_same_file_or_same_trace_number_posts_nothing_twice(sent, org_a):
    with as_tenant(org_a):
        first = _import(build_835(REMITTANCE))
        before = _ledger()
        again = _import(build_835(REMITTANCE))
        # Another file (a new interchange) for the same check.
        same_check = _import(build_835(REMITTANCE, control_number=702))
        assert (first.created, again.created, same_check.created) == (True, False, False)
        assert same_check.file.pk == first.file.pk
        assert _ledger() == before
        assert ClearinghouseFile.objects.count() == 1


def test_unknown_line_goes_to_the_outcome_and_the_claim_is_partly_paid(sent, org_a):
    remit = [
        ClaimRemit(
            "K000000001",
            "1",
            "ICN0001",
            [
                LineRemit("K000000001-1", "90837:95", 15_000, 15_000, []),
                LineRemit("K000000001-9", "96127", 4_550, 4_550, []),
            ],
        )
    ]
    with as_tenant(org_a):
        result = _import(build_835(remit, trace_number="CHK2"))
        assert result.file.outcome["unmatched_lines"] == ["K000000001-9"]
        assert result.file.outcome["partly_paid"] == ["K000000001"]
        assert LedgerEntry.objects.get(kind=EntryKind.INSURANCE_PAYMENT).amount_cents == 15_000


@pytest.mark.parametrize(
    ("remit", "errors"),
    [
        # More paid than the charge: refused by the ledger, nothing posted.
        (
            [ClaimRemit("K000000002", "1", "I2", [LineRemit("K000000002-1", "90837:95", 9_000, 9_500, [])])],
            {"allocations": ["More than what is owed on a charge."]},
        ),
    ],
)
def test_remittance_the_ledger_refuses_stores_nothing(sent, org_a, remit, errors):
    with as_tenant(org_a):
        before = _ledger()
        with pytest.raises(ValidationError) as refused:
            _import(build_835(remit, trace_number="CHK3"))
        assert refused.value.message_dict == errors
        assert _ledger() == before
        assert ClearinghouseFile.objects.count() == 0
        assert set(Claim.objects.values_list("status", flat=True)) == {ClaimStatus.SUBMITTED}


def test_negative_amount_is_refused(sent, org_a):
    content = build_835(
        [ClaimRemit("K000000002", "1", "I2", [LineRemit("K000000002-1", "90837:95", 9_000, 1_000, [])])]
    ).replace("SVC*HC:90837:95*90*10**1", "SVC*HC:90837:95*90*-10**1")
    with as_tenant(org_a):
        with pytest.raises(ValidationError) as refused:
            _import(content)
        assert refused.value.message_dict == {
            "file": ["The line payment amount is negative, has more than two decimals or is too large."]
        }
        assert ClearinghouseFile.objects.count() == 0
