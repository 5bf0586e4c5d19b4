"""835 remittances, built by the app's own builder and checked with pyx12, posted to claims and lines: insurance
payments named by payer, trace number and date; CO adjustments with their CARC codes; patient responsibility;
denials into the denial queue; reversals; provider-level adjustments; unmatched claims and lines into the
unmatched work queue; applied once per file and per check trace number; another organization's claims untouched.
"""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from apps.billing import selectors, x12, x12_answers
from apps.billing.models import (
    Claim,
    ClaimStatus,
    ClearinghouseFile,
    Denial,
    EntryKind,
    LedgerEntry,
    PaymentStatus,
    ProviderAdjustment,
    RemittanceLine,
    TransactionType,
    UnmatchedRemittance,
)
from apps.billing.x12_builder import ClaimRemit, LineRemit, ProviderAdjustmentRemit, build_835
from apps.organizations.roles import Role
from tests.billing import factories as bf
from tests.billing.x12_validation import assert_valid_835
from tests.conftest import add_member, as_tenant, logged_in
from tests.factories import PatientFactory

CLINICAL = TransactionType.CLINICAL_SERVICE
TWO_LINES = {"cpt_code": "96127", "units": 2, "diagnosis_codes": ["F41.1"], "diagnosis_pointers": [1]}
PAID_ON = dt.date(2025, 3, 1)


def _clinic(extra: int = 0) -> list:
    """Three patients: a two-line visit (claim K000000001) and two one-line visits (K000000002, K000000003), and
    `extra` more one-line visits (K000000004, ...)."""
    bf.provider()
    payer = bf.payer()
    patients = [PatientFactory() for _ in range(3 + extra)]
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


def _k1(paid: tuple[int, int] = (10_000, 4_550), adjust: int = 3_000, coinsurance: int = 2_000) -> ClaimRemit:
    return ClaimRemit(
        "K000000001",
        "1",
        "ICN0001",
        [
            LineRemit("K000000001-1", "90837:95", 15_000, paid[0], [("CO", "45", adjust), ("PR", "2", coinsurance)]),
            LineRemit("K000000001-2", "96127", 4_550, paid[1], []),
        ],
    )


REMITTANCE = [
    _k1(),
    ClaimRemit(
        "K000000002",
        "4",
        "ICN0002",
        [LineRemit("K000000002-1", "90837:95", 9_000, 0, [("CO", "50", 9_000)], remarks=["N130"])],
        remarks=["MA01"],
    ),
    ClaimRemit("K000000003", "1", "ICN0003", [LineRemit("K000000003-1", "90837:95", 9_000, 0, [("PR", "1", 9_000)])]),
    ClaimRemit("K000000099", "1", "ICN0099", [LineRemit("K000000099-1", "90837", 5_000, 5_000, [])]),
]


@pytest.fixture
def sent(org_a, org_b):
    with as_tenant(org_b):
        _clinic(extra=1)
    with as_tenant(org_a):
        return _clinic()


def _import(text: str) -> x12_answers.ImportResult:
    assert_valid_835(text)
    return x12_answers.clearinghouse_file_import(content=text.encode("ascii"))


def _ledger() -> list[tuple[str, str, int, int]]:
    return sorted(
        (e.kind, e.payment_status, e.amount_cents, e.applied_cents) for e in LedgerEntry.objects.order_by("id")
    )


def _stored() -> tuple:
    """Everything a remittance can store, to show a refused or repeated one stored nothing."""
    return (
        _ledger(),
        ClearinghouseFile.objects.count(),
        RemittanceLine.objects.count(),
        Denial.objects.count(),
        UnmatchedRemittance.objects.count(),
        ProviderAdjustment.objects.count(),
        sorted(Claim.objects.values_list("submitter_claim_id", "status")),
    )


def _statuses() -> dict[str, str]:
    return dict(Claim.objects.values_list("submitter_claim_id", "status"))


def _balance(patient) -> tuple[int, int]:
    balance = selectors.patient_balance(patient_id=patient.pk)
    return balance.insurance_pending, balance.patient_due


@pytest.mark.parametrize(
    "claims",
    [
        REMITTANCE,
        [_k1().reversed(), _k1(paid=(12_000, 4_550), adjust=1_000)],
        [
            ClaimRemit(
                "K000000002", "4", "I2", [], [("CO", "50", 9_000)], ["N130", "M15"], charge_cents_if_no_lines=9_000
            )
        ],
        [_k1().reversed()],  # more taken back than paid: the rest forwarded (PLB FB), BPR02 zero
        [ClaimRemit("K000000001", "1", "I1", [LineRemit("", "90837:95", 15_000, 15_000, [])])],
    ],
)
def test_the_builder_writes_835s_pyx12_accepts(claims):
    assert_valid_835(build_835(claims, provider_adjustments=[ProviderAdjustmentRemit("L6", "INT1", -125)]))


def test_835_posts_payments_adjustments_patient_responsibility_and_denials(sent, org_a, org_b):
    first, second, third = sent
    with as_tenant(org_a):
        result = _import(build_835(REMITTANCE, payer_name="ACME HEALTH", paid_on=PAID_ON))
        assert result.created is True
        file = result.file
        assert (file.trace_number, file.payer_name, file.payment_cents, file.paid_on) == (
            "CHK10001",
            "ACME HEALTH",
            19_550,  # what the payer paid, the unmatched claim's 50 included
            PAID_ON,
        )
        assert file.outcome == {
            "paid": ["K000000001", "K000000003"],
            "partly_paid": [],
            "denied": ["K000000002"],
            "reversed": [],
            "unmatched_claims": ["K000000099"],
            "unmatched_lines": [],
            "posted_cents": {"paid": 14_550, "CO": 3_000, "PR": 11_000},
        }
        assert {c.submitter_claim_id: (c.status, c.payer_claim_control_number) for c in Claim.objects.all()} == {
            "K000000001": (ClaimStatus.PAID, "ICN0001"),
            "K000000002": (ClaimStatus.DENIED, "ICN0002"),
            "K000000003": (ClaimStatus.PAID, "ICN0003"),
        }
        charges = {
            (c.patient_id, c.amount_cents): (c.payment_status, c.open_cents) for c in LedgerEntry.objects.charges()
        }
        # Line 1: 150 - 100 paid - 30 CO leaves the 20 coinsurance to the patient; line 2 paid in full; the denied
        # line posts nothing and waits (in the denial queue); the deductible all the patient's.
        assert charges == {
            (first.pk, 15_000): (PaymentStatus.PATIENT_DUE, 2_000),
            (first.pk, 4_550): (PaymentStatus.PAID, 0),
            (second.pk, 9_000): (PaymentStatus.PENDING_INSURANCE, 9_000),
            (third.pk, 9_000): (PaymentStatus.PATIENT_DUE, 9_000),
        }
        # The balance reports say the same: the deductible is the patient's although nothing was applied to it.
        assert [_balance(p) for p in sent] == [(0, 2_000), (9_000, 0), (0, 9_000)]
        payment = LedgerEntry.objects.get(kind=EntryKind.INSURANCE_PAYMENT)
        assert (payment.amount_cents, payment.external_reference, payment.service_date, payment.metadata) == (
            14_550,
            "CHK10001/K000000001",
            PAID_ON,
            {"method": "insurance", "note": "835 CHK10001 from ACME HEALTH, claim K000000001"},
        )
        adjustment = LedgerEntry.objects.get(kind=EntryKind.ADJUSTMENT)
        assert (adjustment.patient_id, adjustment.amount_cents, adjustment.metadata["reason_code"]) == (
            first.pk,
            3_000,
            "CO-45",
        )
        denial = Denial.objects.get()
        assert (denial.claim.submitter_claim_id, denial.amount_cents, denial.reason_codes, denial.remark_codes) == (
            "K000000002",
            9_000,
            ["CO-50"],
            ["N130", "MA01"],
        )
        assert denial.resolved_at is None
        unmatched = UnmatchedRemittance.objects.get()
        assert (unmatched.submitter_claim_id, unmatched.control_number, unmatched.reason, unmatched.paid_cents) == (
            "K000000099",
            "K000000099-1",
            UnmatchedRemittance.Reason.NO_CLAIM,
            5_000,
        )
        assert unmatched.claim is None
    with as_tenant(org_b):
        assert set(Claim.objects.values_list("status", flat=True)) == {ClaimStatus.SUBMITTED}
        assert LedgerEntry.objects.exclude(kind=EntryKind.CHARGE).count() == 0
        assert (Denial.objects.count(), UnmatchedRemittance.objects.count(), RemittanceLine.objects.count()) == (
            0,
            0,
            0,
        )


def test_claims_of_another_organization_go_to_the_unmatched_queue_and_post_nothing_there(sent, org_a, org_b):
    # Only org B has a fourth claim; org A's remittance names it.
    remit = [ClaimRemit("K000000004", "1", "ICN4", [LineRemit("K000000004-1", "90837:95", 9_000, 9_000, [])])]
    with as_tenant(org_b):
        before_b = _stored()
    with as_tenant(org_a):
        result = _import(build_835(remit, trace_number="CHK4"))
        assert result.file.outcome["unmatched_claims"] == ["K000000004"]
        assert list(UnmatchedRemittance.objects.values_list("submitter_claim_id", "reason")) == [
            ("K000000004", UnmatchedRemittance.Reason.NO_CLAIM)
        ]
        assert LedgerEntry.objects.exclude(kind=EntryKind.CHARGE).count() == 0
    with as_tenant(org_b):
        assert _stored() == before_b


def test_same_file_or_same_trace_number_posts_nothing_twice(sent, org_a):
    with as_tenant(org_a):
        first = _import(build_835(REMITTANCE))
        before = _stored()
        again = _import(build_835(REMITTANCE))
        # Another file (a new interchange) for the same check.
        same_check = _import(build_835(REMITTANCE, control_number=702))
        assert (first.created, again.created, same_check.created) == (True, False, False)
        assert same_check.file.pk == first.file.pk
        assert _stored() == before


def test_a_paid_claim_with_claim_level_and_line_level_adjustments_waits_whole_in_the_unmatched_queue(
    sent, org_a, org_b
):
    """A claim-level write-off (CO-253 in loop 2100) names no line, so Kura does not guess which charge it
    reduces: the claim goes whole, its lines with it, to the unmatched queue for billing to post by hand; the
    line-level CO-45 and coinsurance of that claim are not posted either (half a claim would misstate what the
    patient owes); the other claims of the file post as usual."""
    with as_tenant(org_b):
        b_before = _stored()
    with as_tenant(org_a):
        mixed = _k1()
        mixed.adjustments = [("CO", "253", 200)]
        other = ClaimRemit("K000000002", "1", "ICN0002", [LineRemit("K000000002-1", "90837:95", 9_000, 9_000, [])])
        result = _import(build_835([mixed, other], trace_number="CHK9"))
        assert result.file.outcome["unmatched_claims"] == ["K000000001"]
        assert result.file.outcome["paid"] == ["K000000002"]
        rows = UnmatchedRemittance.objects.order_by("control_number")
        assert [(r.control_number, r.reason, r.paid_cents) for r in rows] == [
            ("K000000001-1", UnmatchedRemittance.Reason.CLAIM_ADJUSTMENT, 10_000),
            ("K000000001-2", UnmatchedRemittance.Reason.CLAIM_ADJUSTMENT, 4_550),
        ]
        k1 = Claim.objects.get(submitter_claim_id="K000000001")
        assert k1.status == ClaimStatus.SUBMITTED
        assert not RemittanceLine.objects.filter(claim=k1).exists()
        assert list(LedgerEntry.objects.exclude(kind=EntryKind.CHARGE).values_list("kind", "amount_cents")) == [
            (EntryKind.INSURANCE_PAYMENT, 9_000)
        ]
        assert (
            sorted(LedgerEntry.objects.filter(patient=k1.patient).values_list("payment_status", "applied_cents"))
            == [(PaymentStatus.PENDING_INSURANCE, 0)] * 2
        )
    with as_tenant(org_b):
        assert _stored() == b_before


def test_unknown_line_goes_to_the_unmatched_queue_and_the_claim_is_partly_paid(sent, org_a):
    remit = [
        ClaimRemit(
            "K000000001",
            "1",
            "ICN0001",
            [
                LineRemit("K000000001-1", "90837:95", 15_000, 15_000, []),
                LineRemit("K000000001-9", "99213", 4_550, 4_550, []),
            ],
        )
    ]
    with as_tenant(org_a):
        result = _import(build_835(remit, trace_number="CHK2"))
        assert result.file.outcome["unmatched_lines"] == ["K000000001-9"]
        assert result.file.outcome["partly_paid"] == ["K000000001"]
        assert LedgerEntry.objects.get(kind=EntryKind.INSURANCE_PAYMENT).amount_cents == 15_000
        row = UnmatchedRemittance.objects.get()
        assert (row.claim.submitter_claim_id, row.control_number, row.procedure, row.reason) == (
            "K000000001",
            "K000000001-9",
            "99213",
            UnmatchedRemittance.Reason.NO_LINE,
        )
        # The rest of the claim comes in a later remittance: paid; the line already paid is not paid twice.
        rest = [
            ClaimRemit(
                "K000000001",
                "1",
                "ICN0001",
                [
                    LineRemit("K000000001-1", "90837:95", 15_000, 15_000, []),
                    LineRemit("K000000001-2", "96127", 4_550, 4_550, []),
                ],
            )
        ]
        later = _import(build_835(rest, trace_number="CHK3"))
        assert later.file.outcome["paid"] == ["K000000001"]
        assert later.file.outcome["unmatched_lines"] == ["K000000001-1"]
        assert UnmatchedRemittance.objects.get(file=later.file).reason == UnmatchedRemittance.Reason.ALREADY_ANSWERED
        assert sorted(
            LedgerEntry.objects.filter(kind=EntryKind.INSURANCE_PAYMENT).values_list("amount_cents", flat=True)
        ) == [
            4_550,
            15_000,
        ]
        assert _statuses()["K000000001"] == ClaimStatus.PAID


def test_lines_without_control_number_match_by_procedure_modifiers_and_date(sent, org_a):
    first = sent[0]
    remit = [
        ClaimRemit(
            "K000000001",
            "1",
            "ICN0001",
            [
                # Listed in the other order and without REF*6R: matched by procedure, modifiers and date.
                LineRemit("", "96127", 4_550, 4_000, [("CO", "45", 550)]),
                LineRemit("", "90837:95", 15_000, 12_000, [("PR", "3", 3_000)]),
            ],
        )
    ]
    with as_tenant(org_a):
        _import(build_835(remit, trace_number="CHK5"))
        assert sorted(
            (line.claim_line.control_number, line.paid_cents, line.adjusted_cents, line.patient_cents)
            for line in RemittanceLine.objects.select_related("claim_line")
        ) == [("K000000001-1", 12_000, 0, 3_000), ("K000000001-2", 4_000, 550, 0)]
        assert _balance(first) == (0, 3_000)
        # A line of another date or modifier matches nothing.
        other = [
            ClaimRemit(
                "K000000003", "1", "ICN3", [LineRemit("", "90837", 9_000, 9_000, [], service_date=dt.date(2025, 1, 16))]
            )
        ]
        result = _import(build_835(other, trace_number="CHK6"))
        assert result.file.outcome["unmatched_lines"] == ["K000000003"]
        assert _statuses()["K000000003"] == ClaimStatus.SUBMITTED


def test_reversal_takes_back_a_posting_and_the_corrected_payment_posts_anew(sent, org_a):
    first = sent[0]
    with as_tenant(org_a):
        _import(build_835([_k1()], trace_number="CHK7"))
        assert _balance(first) == (0, 2_000)
        # The payer takes the payment back and pays again: 120 and 45.50, 10 contractual, 20 coinsurance.
        result = _import(build_835([_k1().reversed(), _k1(paid=(12_000, 4_550), adjust=1_000)], trace_number="CHK8"))
        assert result.file.outcome["reversed"] == ["K000000001"]
        assert result.file.outcome["paid"] == ["K000000001"]
        assert result.file.outcome["posted_cents"] == {"reversed": 17_550, "paid": 16_550, "CO": 1_000, "PR": 2_000}
        assert _statuses()["K000000001"] == ClaimStatus.PAID
        # What is owed: 195.50 charged - 165.50 paid - 10 written off = the 20 coinsurance, the patient's.
        assert _balance(first) == (0, 2_000)
        debits = LedgerEntry.objects.charges().filter(description__startswith="Insurance reversal")
        assert sorted((d.amount_cents, d.payment_status, d.claim.submitter_claim_id) for d in debits) == [
            (4_550, PaymentStatus.PAID, "K000000001"),
            (13_000, PaymentStatus.PAID, "K000000001"),
        ]
        history = [h.status for h in Claim.objects.get(submitter_claim_id="K000000001").history.order_by("history_id")]
        assert history[-3:] == [ClaimStatus.PAID, ClaimStatus.ACCEPTED, ClaimStatus.PAID]
        # A reversal alone leaves what insurance paid owed by insurance again.
        _import(build_835([_k1(paid=(12_000, 4_550), adjust=1_000).reversed()], trace_number="CHK9"))
        assert _statuses()["K000000001"] == ClaimStatus.ACCEPTED
        assert _balance(first) == (16_550 + 1_000, 2_000)


def test_reversals_that_do_not_match_a_posting_go_to_the_unmatched_queue(sent, org_a):
    with as_tenant(org_a):
        nothing = _import(build_835([_k1().reversed()], trace_number="CHK10"))
        assert nothing.file.outcome["unmatched_claims"] == ["K000000001"]
        _import(build_835([_k1()], trace_number="CHK11"))
        before = _ledger()
        differs = _import(build_835([_k1(paid=(9_000, 4_550)).reversed()], trace_number="CHK12"))
        assert differs.file.outcome["unmatched_claims"] == ["K000000001"]
        assert sorted(UnmatchedRemittance.objects.values_list("reason", flat=True)) == sorted(
            [UnmatchedRemittance.Reason.NOTHING_TO_REVERSE] * 2 + [UnmatchedRemittance.Reason.REVERSAL_DIFFERS] * 2
        )
        assert _ledger() == before
        assert _statuses()["K000000001"] == ClaimStatus.PAID


def test_a_denial_paid_on_appeal_leaves_the_queue(sent, org_a):
    second = sent[1]
    with as_tenant(org_a):
        _import(build_835(REMITTANCE, trace_number="CHK13"))
        assert _balance(second) == (9_000, 0)
        paid = [
            ClaimRemit(
                "K000000002",
                "1",
                "ICN0002",
                [LineRemit("K000000002-1", "90837:95", 9_000, 7_000, [("CO", "45", 2_000)])],
            )
        ]
        _import(build_835(paid, trace_number="CHK14"))
        assert _statuses()["K000000002"] == ClaimStatus.PAID
        assert Denial.objects.get().resolved_at is not None
        assert _balance(second) == (0, 0)


def test_a_claim_denied_whole_puts_each_line_in_the_queue(sent, org_a):
    denied = ClaimRemit(
        "K000000001", "4", "ICN1", [], [("CO", "29", 19_550)], ["N130"], charge_cents_if_no_lines=19_550
    )
    with as_tenant(org_a):
        _import(build_835([denied], trace_number="CHK15"))
        assert sorted(
            (d.claim_line.control_number, d.amount_cents, d.reason_codes, d.remark_codes) for d in Denial.objects.all()
        ) == [("K000000001-1", 15_000, ["CO-29"], ["N130"]), ("K000000001-2", 4_550, ["CO-29"], ["N130"])]
        assert _statuses()["K000000001"] == ClaimStatus.DENIED
        assert LedgerEntry.objects.exclude(kind=EntryKind.CHARGE).count() == 0


def test_provider_level_adjustments_are_recorded(sent, org_a):
    plb = [ProviderAdjustmentRemit("WO", "OVP77", 1_500), ProviderAdjustmentRemit("L6", "INT", -120)]
    with as_tenant(org_a):
        result = _import(build_835([_k1()], trace_number="CHK16", provider_adjustments=plb))
        assert result.file.payment_cents == 14_550 - 1_500 + 120
        assert sorted(ProviderAdjustment.objects.values_list("reason_code", "reference", "amount_cents")) == [
            ("L6", "INT", -120),
            ("WO", "OVP77", 1_500),
        ]
        assert result.file.outcome["posted_cents"]["PLB"] == 1_380


@pytest.mark.parametrize(
    ("content", "errors"),
    [
        # More paid than the charge: refused by the ledger.
        (
            build_835([ClaimRemit("K000000002", "1", "I2", [LineRemit("K000000002-1", "90837:95", 9_000, 9_500, [])])]),
            {"allocations": ["More than what is owed on a charge."]},
        ),
        # A payment total that is not the claims' payments less the provider-level adjustments.
        (
            build_835([_k1()]).replace("BPR*I*145.5*", "BPR*I*145.4*"),
            {"file": ["The payment total (BPR02) is not the claims' payments less the provider-level adjustments."]},
        ),
        # A negative payment outside a reversal.
        (
            build_835(
                [ClaimRemit("K000000002", "1", "I2", [LineRemit("K000000002-1", "90837:95", 9_000, 1_000, [])])]
            ).replace("SVC*HC:90837:95*90*10**1", "SVC*HC:90837:95*90*-10**1"),
            {"file": ["The line payment amount is negative, has more than two decimals or is too large."]},
        ),
        # An amount beyond any clinic's bill.
        (
            build_835(
                [ClaimRemit("K000000002", "1", "I2", [LineRemit("K000000002-1", "90837:95", 9_000, 1_000, [])])]
            ).replace("CLP*K000000002*1*90*", "CLP*K000000002*1*900000000000*"),
            {"file": ["The claim charge amount is negative, has more than two decimals or is too large."]},
        ),
    ],
)
def test_remittances_refused_store_nothing(sent, org_a, content, errors):
    with as_tenant(org_a):
        before = _stored()
        with pytest.raises(ValidationError) as refused:
            x12_answers.clearinghouse_file_import(content=content.encode("ascii"))
        assert refused.value.message_dict == errors
        assert _stored() == before


def test_denial_and_unmatched_queues_are_admin_lists_for_billing_of_the_organization(sent, org_a, org_b):
    with as_tenant(org_a):
        _import(build_835(REMITTANCE, trace_number="CHK17"))
    client = logged_in(add_member(org_a, Role.BILLING))
    denials = client.get("/admin/billing/denial/")
    assert denials.status_code == 200
    page = denials.content.decode()
    assert "K000000002" in page
    assert "CO-50 Contractual obligation: Non-covered service: not deemed a medical necessity by the payer" in page
    assert "N130 Consult plan benefit documents" in page
    assert "90.00 USD" in page
    unmatched = client.get("/admin/billing/unmatchedremittance/")
    assert unmatched.status_code == 200
    assert "K000000099" in unmatched.content.decode()
    assert "No claim of the organization has this claim id" in unmatched.content.decode()
    # Org B's billing sees none of it; front desk is not let in.
    other = logged_in(add_member(org_b, Role.BILLING)).get("/admin/billing/denial/")
    assert other.status_code == 200
    assert "K000000002" not in other.content.decode()
    assert logged_in(add_member(org_a, Role.FRONT_DESK)).get("/admin/billing/denial/").status_code == 403


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        # pyx12 finds what the posting never reads: the posting runs through, the commit waits and refuses it.
        (
            lambda f: f.replace("N1*PE*HARBOR FAMILY CLINIC LLC*XX*1234567893~\n", ""),
            'Segment N1 at line 11: Mandatory loop "Payee Identification" (1000B) missing (error code 3)',
        ),
        # The posting stumbles first (a service date that is no date): pyx12's errors are the answer all the same.
        (
            lambda f: f.replace("DTM*472*20250115", "DTM*472*2025011", 1),
            'Segment DTM at line 16, element DTM02: Data element "Service Date" (DTM02) is too short: its length = 7',
        ),
    ],
)
def test_a_large_file_validated_apart_is_refused_with_pyx12s_errors_storing_nothing(
    sent, org_a, settings, broken, expected
):
    settings.KURA_X12_VALIDATE_APART_BYTES = 0  # every file is large enough to be validated in its own process
    content = broken(build_835(REMITTANCE, payer_name="ACME HEALTH", paid_on=PAID_ON))
    with as_tenant(org_a):
        before = _stored()
        with pytest.raises(ValidationError) as refused:
            x12_answers.clearinghouse_file_import(content=content.encode("ascii"))
        messages = refused.value.message_dict["file"]
        assert any(m.startswith(expected) for m in messages), messages
        assert "2025011" not in " ".join(messages)  # the offending value is never echoed
        assert _stored() == before


def test_a_large_file_validated_apart_posts_as_one_validated_first(sent, org_a, settings):
    settings.KURA_X12_VALIDATE_APART_BYTES = 0
    with as_tenant(org_a):
        result = _import(build_835(REMITTANCE, payer_name="ACME HEALTH", paid_on=PAID_ON))
        assert result.created is True
        assert result.file.outcome == {
            "paid": ["K000000001", "K000000003"],
            "partly_paid": [],
            "denied": ["K000000002"],
            "reversed": [],
            "unmatched_claims": ["K000000099"],
            "unmatched_lines": [],
            "posted_cents": {"paid": 14_550, "CO": 3_000, "PR": 11_000},
        }
        assert [_balance(p) for p in sent] == [(0, 2_000), (9_000, 0), (0, 9_000)]
