"""835 posting against an independent computation: random remittances that pay, adjust, deny and reverse claims,
each built by the app's builder and checked with pyx12, leave the balances and claim statuses the plain Python
model below says; importing every file again changes nothing; two imports of one file at once post it once."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest
from django.db import connections, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.billing import selectors, x12, x12_answers
from apps.billing.models import (
    Claim,
    ClaimStatus,
    ClearinghouseFile,
    Denial,
    EntryKind,
    LedgerEntry,
    RemittanceLine,
    TransactionType,
    UnmatchedRemittance,
)
from apps.billing.x12_builder import ClaimRemit, LineRemit, build_835
from apps.organizations.roles import Role
from tests.billing import factories as bf
from tests.billing.x12_validation import assert_valid_835
from tests.conftest import as_tenant, make_organization
from tests.factories import PatientFactory

CLINICAL = TransactionType.CLINICAL_SERVICE
SECOND_LINE = {"cpt_code": "96127", "units": 2, "diagnosis_codes": ["F41.1"], "diagnosis_pointers": [1]}
# The claims of the clinic: K000000001 with two lines, K000000002 and K000000003 with one; (procedure, cents).
CLAIM_LINES = [[("90837:95", 15_000), ("96127", 4_550)], [("90837:95", 9_000)], [("90837:95", 9_000)]]
ANSWERABLE = {ClaimStatus.SUBMITTED, ClaimStatus.ACCEPTED, ClaimStatus.PARTLY_PAID, ClaimStatus.DENIED}


def _clinic() -> list:
    bf.provider()
    payer = bf.payer()
    patients = []
    for lines in CLAIM_LINES:
        patient = PatientFactory()
        policy = bf.policy(patient, payer)
        visit = bf.encounter(patient)
        for procedure, cents in lines:
            metadata = SECOND_LINE if procedure == "96127" else bf.CLINICAL_METADATA
            bf.charge(
                patient, cents, transaction_type=CLINICAL, insurance_policy=policy, encounter=visit, metadata=metadata
            )
        patients.append(patient)
    assert x12.claim_batch_export() is not None
    return patients


# --- the independent model -----------------------------------------------------------------------------------


@dataclass
class ModelLine:
    charge: int
    posted: tuple[int, int, int] | None = None  # paid, adjusted (CO/OA/PI), patient (PR)
    denied: bool = False


@dataclass
class ModelClaim:
    lines: list[ModelLine]
    status: str = ClaimStatus.SUBMITTED

    def settle(self) -> None:
        posted = [line.posted is not None for line in self.lines]
        if all(posted):
            self.status = ClaimStatus.PAID
        elif any(posted):
            self.status = ClaimStatus.PARTLY_PAID
        elif any(line.denied for line in self.lines):
            self.status = ClaimStatus.DENIED

    def balance(self) -> tuple[int, int]:
        """(insurance pending, patient due): a posted line leaves the patient's share; any other waits."""
        pending = sum(line.charge for line in self.lines if line.posted is None)
        patient = sum(line.posted[2] for line in self.lines if line.posted is not None)
        return pending, patient


@dataclass
class Split:
    """How the payer answers one line: a share paid, a share adjusted (of what is left), the rest the patient's."""

    paid_percent: int
    adjusted_percent: int
    group: str
    patient_reason: str

    def amounts(self, charge: int, *, no_denial: bool) -> tuple[int, int, int]:
        paid = charge * self.paid_percent // 100
        adjusted = (charge - paid) * self.adjusted_percent // 100
        if no_denial and paid == 0:
            adjusted = 0
        return paid, adjusted, charge - paid - adjusted


@dataclass
class Answer:
    claim: int
    action: str  # pay, deny, reverse (and pay again)
    splits: list[Split] = field(default_factory=list)


splits = st.builds(
    Split,
    paid_percent=st.sampled_from([0, 0, 40, 80, 100]),
    adjusted_percent=st.sampled_from([0, 50, 100]),
    group=st.sampled_from(["CO", "OA", "PI"]),
    patient_reason=st.sampled_from(["1", "2", "3"]),
)
answers = st.builds(
    Answer,
    claim=st.integers(0, 2),
    action=st.sampled_from(["pay", "pay", "deny", "reverse"]),
    splits=st.lists(splits, min_size=2, max_size=2),
)
files = st.lists(st.lists(answers, min_size=1, max_size=3), min_size=1, max_size=4)


def _line_remit(index: int, number: int, charge: int, amounts: tuple[int, int, int], split: Split) -> LineRemit:
    procedure = CLAIM_LINES[index][number][0]
    paid, adjusted, patient = amounts
    adjustments = [(split.group, "45" if split.group == "CO" else "23", adjusted)] if adjusted else []
    if patient:
        adjustments.append(("PR", split.patient_reason, patient))
    return LineRemit(f"K00000000{index + 1}-{number + 1}", procedure, charge, paid, adjustments)


def _apply(model: list[ModelClaim], answer: Answer) -> list[ClaimRemit]:
    """The remittance claims of one answer, and what they do to the model."""
    claim = model[answer.claim]
    claim_id = f"K00000000{answer.claim + 1}"
    remits: list[ClaimRemit] = []
    if answer.action == "reverse":
        posted = [(n, line) for n, line in enumerate(claim.lines) if line.posted is not None]
        reversal = ClaimRemit(
            claim_id,
            "22",
            "ICN",
            [
                LineRemit(
                    f"{claim_id}-{n + 1}",
                    CLAIM_LINES[answer.claim][n][0],
                    -line.charge,
                    -p,
                    [(g, r, -c) for g, r, c in adj],
                )
                for n, line in posted
                for p, adj in [(line.posted[0], _posted_adjustments(line))]
            ],
            charge_cents_if_no_lines=0,
        )
        remits.append(reversal)
        reversible = claim.status in (ClaimStatus.PAID, ClaimStatus.PARTLY_PAID, ClaimStatus.DENIED)
        if reversible and (posted or any(line.denied for line in claim.lines)):
            for line in claim.lines:
                line.posted, line.denied = None, False
            claim.status = ClaimStatus.ACCEPTED
    denial = answer.action == "deny"
    lines = []
    for n, (line, split) in enumerate(zip(claim.lines, answer.splits, strict=False)):
        amounts = (0, line.charge, 0) if denial else split.amounts(line.charge, no_denial=answer.action == "reverse")
        remit_line = _line_remit(answer.claim, n, line.charge, amounts, split)
        if denial:
            remit_line.adjustments = [("CO", "50", line.charge)]
        lines.append(remit_line)
        if claim.status in ANSWERABLE and line.posted is None:
            if denial or (amounts[0] == 0 and amounts[1] > 0):
                line.denied = True
            else:
                line.posted, line.denied = amounts, False
    if claim.status in ANSWERABLE:
        if claim.status == ClaimStatus.SUBMITTED:
            claim.status = ClaimStatus.ACCEPTED
        claim.settle()
    remits.append(ClaimRemit(claim_id, "4" if denial else "1", "ICN", lines))
    return remits


def _posted_adjustments(line: ModelLine) -> list[tuple[str, str, int]]:
    assert line.posted is not None
    _, adjusted, patient = line.posted
    # What the reversal negates: only the amounts matter to the posting (the codes are the payer's).
    return [*([("CO", "45", adjusted)] if adjusted else []), *([("PR", "1", patient)] if patient else [])]


def _stored() -> tuple:
    return (
        sorted((e.kind, e.payment_status, e.amount_cents, e.applied_cents) for e in LedgerEntry.objects.all()),
        ClearinghouseFile.objects.count(),
        RemittanceLine.objects.count(),
        Denial.objects.count(),
        UnmatchedRemittance.objects.count(),
        sorted(Claim.objects.values_list("submitter_claim_id", "status")),
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=files)
def test_random_remittances_match_an_independent_computation(org_a, history):
    with as_tenant(org_a), transaction.atomic():
        patients = _clinic()
        model = [ModelClaim([ModelLine(cents) for _, cents in lines]) for lines in CLAIM_LINES]
        contents = []
        for number, answers_of_file in enumerate(history):
            claims = [remit for answer in answers_of_file for remit in _apply(model, answer)]
            content = build_835(claims, trace_number=f"EFT{number}", control_number=800 + number)
            assert_valid_835(content)
            x12_answers.clearinghouse_file_import(content=content.encode("ascii"))
            contents.append(content)
            statuses = dict(Claim.objects.values_list("submitter_claim_id", "status"))
            assert statuses == {f"K00000000{i + 1}": claim.status for i, claim in enumerate(model)}
            for patient, claim in zip(patients, model, strict=True):
                balance = selectors.patient_balance(patient_id=patient.pk)
                assert (balance.insurance_pending, balance.patient_due, balance.credit) == (*claim.balance(), 0)
        # The open denials are exactly the model's denied lines.
        assert sorted(
            Denial.objects.filter(resolved_at=None).values_list("claim_line__control_number", flat=True)
        ) == sorted(
            f"K00000000{i + 1}-{n + 1}"
            for i, claim in enumerate(model)
            for n, line in enumerate(claim.lines)
            if line.denied
        )
        before = _stored()
        for content in contents:
            assert x12_answers.clearinghouse_file_import(content=content.encode("ascii")).created is False
        assert _stored() == before
        transaction.set_rollback(True)


@pytest.mark.usefixtures("committed")
def test_two_concurrent_imports_of_one_835_post_it_once():
    org = make_organization("remit-race-org")
    with as_tenant(org):
        _clinic()
    content = build_835(
        [
            ClaimRemit(
                "K000000002", "1", "ICN2", [LineRemit("K000000002-1", "90837:95", 9_000, 7_000, [("CO", "45", 2_000)])]
            )
        ]
    ).encode("ascii")
    results: list[bool] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        try:
            barrier.wait()
            with as_tenant(org, Role.BILLING):
                results.append(x12_answers.clearinghouse_file_import(content=content).created)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, True]
    with as_tenant(org):
        assert ClearinghouseFile.objects.count() == 1
        assert RemittanceLine.objects.count() == 1
        assert sorted(LedgerEntry.objects.exclude(kind=EntryKind.CHARGE).values_list("kind", "amount_cents")) == [
            (EntryKind.ADJUSTMENT, 2_000),
            (EntryKind.INSURANCE_PAYMENT, 7_000),
        ]
        assert Claim.objects.get(submitter_claim_id="K000000002").status == ClaimStatus.PAID
