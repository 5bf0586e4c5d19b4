"""An 835 is posted set-based: the statements one import sends do not grow with the claims it answers (a file of
20 claims costs what a file of 2 costs), and the bulk writes keep the audit trail and the outbox: a history row
for every row written or changed, an event for every ledger entry and claim status change."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.billing import x12, x12_answers
from apps.billing.models import (
    Claim,
    ClaimStatus,
    Denial,
    EntryKind,
    LedgerApplication,
    LedgerEntry,
    PaymentStatus,
    RemittanceLine,
    TransactionType,
)
from apps.billing.x12_builder import ClaimRemit, LineRemit, build_835
from apps.events import types as event_types
from apps.events.models import DomainEvent
from tests.billing import factories as bf
from tests.conftest import as_tenant
from tests.factories import PatientFactory

FEE = 9_000
CLAIMS = 22  # K000000001 ... K000000022, one line each


def _clinic() -> None:
    bf.provider()
    payer = bf.payer()
    for _ in range(CLAIMS):
        patient = PatientFactory()
        policy = bf.policy(patient, payer)
        bf.charge(
            patient,
            FEE,
            transaction_type=TransactionType.CLINICAL_SERVICE,
            insurance_policy=policy,
            encounter=bf.encounter(patient),
        )
    assert x12.claim_batch_export() is not None


def _remittance(numbers: range, trace: str) -> str:
    """Every claim paid 70 %, 20 % written off (CO-45), 10 % coinsurance, but the last, denied (CO-50)."""
    remits = []
    for number in numbers:
        claim_id = f"K{number:09d}"
        if number == numbers[-1]:
            remits.append(
                ClaimRemit(
                    claim_id, "4", f"P{number}", [LineRemit(f"{claim_id}-1", "90837:95", FEE, 0, [("CO", "50", FEE)])]
                )
            )
        else:
            adjustments = [("CO", "45", FEE * 2 // 10), ("PR", "2", FEE // 10)]
            remits.append(
                ClaimRemit(
                    claim_id,
                    "1",
                    f"P{number}",
                    [LineRemit(f"{claim_id}-1", "90837:95", FEE, FEE * 7 // 10, adjustments)],
                )
            )
    return build_835(remits, trace_number=trace)


def _statements(content: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        result = x12_answers.clearinghouse_file_import(content=content.encode("ascii"))
    assert result.created is True
    return len(queries.captured_queries)


def test_the_statements_of_an_835_import_do_not_grow_with_its_claims(org_a):
    with as_tenant(org_a):
        _clinic()
        two = _statements(_remittance(range(1, 3), "CHK2"))
        twenty = _statements(_remittance(range(3, 23), "CHK20"))
        # Posted claim by claim, these files cost 83 and 1,055 statements (54 more per claim); set-based, a few dozen.
        assert twenty == two
        assert two <= 60
        statuses = dict(Claim.objects.values_list("submitter_claim_id", "status"))
        assert [statuses[f"K{n:09d}"] for n in (1, 2, 3, 21, 22)] == [
            ClaimStatus.PAID,
            ClaimStatus.DENIED,
            ClaimStatus.PAID,
            ClaimStatus.PAID,
            ClaimStatus.DENIED,
        ]
        charges = LedgerEntry.objects.charges()
        assert sorted({(c.payment_status, c.open_cents) for c in charges}) == [
            (PaymentStatus.PATIENT_DUE, FEE // 10),
            (PaymentStatus.PENDING_INSURANCE, FEE),
        ]
        assert charges.filter(payment_status=PaymentStatus.PATIENT_DUE).count() == 20
        assert Denial.objects.count() == 2


def test_the_bulk_posting_keeps_the_history_and_the_outbox(org_a):
    with as_tenant(org_a):
        _clinic()
        models = (LedgerEntry, LedgerApplication, RemittanceLine, Denial)
        before = {model: model.history.filter(history_type="+").count() for model in models}
        _statements(_remittance(range(1, 6), "CHK5"))
        credits = LedgerEntry.objects.exclude(kind=EntryKind.CHARGE)
        # Four paid claims: a payment and a CO-45 adjustment each, both applied to the claim's charge; one denial.
        assert (
            sorted(credits.values_list("kind", flat=True))
            == [EntryKind.ADJUSTMENT] * 4 + [EntryKind.INSURANCE_PAYMENT] * 4
        )
        created = {model: model.history.filter(history_type="+").count() - before[model] for model in models}
        assert created == {LedgerEntry: 8, LedgerApplication: 8, RemittanceLine: 4, Denial: 1}
        # The four paid charges changed status (pending insurance -> patient due), each with its history row.
        assert LedgerEntry.history.filter(history_type="~", payment_status=PaymentStatus.PATIENT_DUE).count() == 4
        # Each claim: submitted -> accepted -> paid or denied, every step in its history and in the outbox.
        claim = Claim.objects.get(submitter_claim_id="K000000005")
        assert [h.status for h in claim.history.order_by("history_id")][-2:] == [
            ClaimStatus.ACCEPTED,
            ClaimStatus.DENIED,
        ]
        events = DomainEvent.objects.filter(event_type=event_types.CLAIM_STATUS_CHANGED, subject_id=claim.pk)
        assert [e.data["status"] for e in events.order_by("id")][-2:] == [ClaimStatus.ACCEPTED, ClaimStatus.DENIED]
        entry_events = DomainEvent.objects.filter(event_type=event_types.LEDGER_ENTRY_CREATED)
        assert entry_events.filter(subject_id__in=list(credits.values_list("pk", flat=True))).count() == 8
