"""The 835 import case (`python -m bench --remittance`): a payer's remittance of 5,000 claims (20,000 lines) for
patients of the load data, built by the app's 835 builder and imported as billing imports one
(`x12_answers.clearinghouse_file_import`: pyx12's validation in a process of its own while the posting runs in
one transaction, payments, contractual adjustments, patient responsibility, denials; the commit waiting for
pyx12's verdict).

The claims it answers are made for the case (a policy per patient, four pending-insurance charges per claim,
the claims submitted), in bulk and unmeasured, and committed: in a clinic the claims exist long before their
payer answers. The case then times pyx12 alone (what validation costs), then the import, counting its
statements, and reads the peak resident memory of this process and of the validating one (tracemalloc would slow
what it measures). The import is rolled back and the claims made for it are deleted (as the owner) at the end,
whatever happened: the load data stays as it was.
"""

from __future__ import annotations

import datetime as dt
import resource
import time
import uuid
from typing import Any, TextIO

from django.db import connection, connections, transaction
from django.db.models import Max
from django.utils import timezone

from apps.billing import pyx12_check, services, x12_answers
from apps.billing.models import (
    BillingProvider,
    Claim,
    ClaimBatch,
    ClaimLine,
    ClaimStatus,
    EntryKind,
    InsurancePolicy,
    LedgerEntry,
    PaymentStatus,
    RemittanceLine,
    TransactionType,
)
from apps.billing.x12_builder import ClaimRemit, LineRemit, build_835
from apps.organizations.context import tenant_context
from apps.organizations.roles import Role

TARGET_SECONDS = 30.0
LINES_PER_CLAIM = 4
FEE_CENTS = 15_000
SERVICE_DATE = dt.date(2025, 1, 15)
PROVIDER = {
    "legal_name": "Load Clinic LLC",
    "npi": "1234567893",
    "tax_id": "123456789",
    "taxonomy_code": "207Q00000X",
    "address_line1": "1 Load Street",
    "city": "Portland",
    "state": "OR",
    "postal_code": "972011234",
    "phone": "5035550100",
    "contact_name": "Billing Office",
    "submitter_id": "KURALOAD",
    "receiver_id": "CLEARHOUSE",
    "receiver_name": "Example Clearinghouse",
}


class _StatementCounter:
    """Counts the statements sent (a `connection.execute_wrapper`)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def _claims(patient_ids: list[uuid.UUID], first_number: int) -> list[Claim]:
    """A submitted claim of four pending-insurance charges for each patient, in bulk (as the 837P export leaves
    them, without writing the 837P file)."""
    payer = services.payer_create(name="Load Payer", payer_id=f"LOAD{uuid.uuid4().hex[:8]}")
    policies = InsurancePolicy.objects.bulk_create(
        InsurancePolicy(
            patient_id=patient_id,
            payer=payer,
            member_id="LOAD0001",
            address_line1="1 Load Street",
            city="Portland",
            state="OR",
            postal_code="97201",
            priority=InsurancePolicy.Priority.TERTIARY,  # beside any policy the load data gives the patient
        )
        for patient_id in patient_ids
    )
    batch = ClaimBatch.objects.create(
        interchange_control_number=999_999_000 + first_number % 1000, content="", usage_indicator="T"
    )
    now = timezone.now()
    claims = Claim.objects.bulk_create(
        (
            Claim(
                batch=batch,
                patient_id=policy.patient_id,
                payer=payer,
                policy=policy,
                service_date=SERVICE_DATE,
                number=first_number + index,
                submitter_claim_id=f"L{first_number + index:09d}",
                total_cents=FEE_CENTS * LINES_PER_CLAIM,
                status=ClaimStatus.SUBMITTED,
                submitted_at=now,
            )
            for index, policy in enumerate(policies)
        ),
        batch_size=1_000,
    )
    # The charges name their claim from the start (one UPDATE of 20,000 charges would outlast the statement
    # timeout of the runtime role).
    charges = LedgerEntry.objects.bulk_create(
        (
            LedgerEntry(
                patient_id=claim.patient_id,
                kind=EntryKind.CHARGE,
                transaction_type=TransactionType.CLINICAL_SERVICE,
                payment_status=PaymentStatus.PENDING_INSURANCE,
                amount_cents=FEE_CENTS,
                metadata={"cpt_code": "90837", "modifiers": [], "units": 1, "diagnosis_codes": ["F41.1"]},
                service_date=SERVICE_DATE,
                insurance_policy_id=claim.policy_id,
                claim=claim,
            )
            for claim in claims
            for _ in range(LINES_PER_CLAIM)
        ),
        batch_size=2_000,
    )
    ClaimLine.objects.bulk_create(
        (
            ClaimLine(
                claim=claim,
                charge=charges[index * LINES_PER_CLAIM + number - 1],
                line_number=number,
                control_number=f"{claim.submitter_claim_id}-{number}",
            )
            for index, claim in enumerate(claims)
            for number in range(1, LINES_PER_CLAIM + 1)
        ),
        batch_size=2_000,
    )
    return claims


def _remittance(claims: list[Claim]) -> str:
    """The payer's answer: most lines paid 70%, written off 20% (CO-45), 10% coinsurance; every 10th claim's
    last line all deductible; every 25th claim denied (CO-50)."""
    remits = []
    for index, claim in enumerate(claims):
        denied = index % 25 == 24
        lines = []
        for number in range(1, LINES_PER_CLAIM + 1):
            if denied:
                paid, adjustments = 0, [("CO", "50", FEE_CENTS)]
            elif index % 10 == 9 and number == LINES_PER_CLAIM:
                paid, adjustments = 0, [("PR", "1", FEE_CENTS)]
            else:
                paid = FEE_CENTS * 7 // 10
                adjustments = [("CO", "45", FEE_CENTS * 2 // 10), ("PR", "2", FEE_CENTS // 10)]
            lines.append(
                LineRemit(f"{claim.submitter_claim_id}-{number}", "90837", FEE_CENTS, paid, adjustments, SERVICE_DATE)
            )
        remits.append(ClaimRemit(claim.submitter_claim_id, "4" if denied else "1", f"P{index:09d}", lines))
    return build_835(remits, trace_number=f"LOAD{uuid.uuid4().hex[:10].upper()}", control_number=777)


def _import(made: list[Claim], result: dict[str, Any]) -> None:
    """Build the 835 answering `made`, time pyx12 alone, then the import; the figures go into `result`."""
    started = time.perf_counter()
    content = _remittance(made)
    result["build_seconds"] = round(time.perf_counter() - started, 2)
    result["lines"] = len(made) * LINES_PER_CLAIM
    result["file_bytes"] = len(content)
    rss_before = _peak_rss_mb()
    # What pyx12 alone costs, in this process (as a file under KURA_X12_VALIDATE_APART_BYTES is validated).
    started = time.perf_counter()
    errors = pyx12_check.pyx12_errors(content)
    result["pyx12_seconds"] = round(time.perf_counter() - started, 1)
    if errors:
        raise AssertionError(f"pyx12 refused the 835: {errors[:3]}")
    # The import as billing runs it: pyx12 in a process of its own while the posting runs, the commit waiting
    # for pyx12's verdict; the statements it sends counted.
    statements = _StatementCounter()
    started = time.perf_counter()
    with connection.execute_wrapper(statements):
        imported = x12_answers.clearinghouse_file_import(content=content.encode("ascii"))
    result["import_seconds"] = round(time.perf_counter() - started, 1)
    result["statements"] = statements.count
    outcome = imported.file.outcome
    result["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    result["peak_rss_growth_mb"] = round(_peak_rss_mb() - rss_before, 1)
    result["validating_process_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    result["posted_cents"] = outcome["posted_cents"]
    result["statuses"] = {key: len(outcome[key]) for key in ("paid", "partly_paid", "denied")}
    result["remittance_lines"] = RemittanceLine.objects.count()


# What `_claims` made, removed as the owner (the runtime role may delete none of it), children first.
_REMOVE_SQL = (
    "DELETE FROM billing_claimline WHERE claim_id IN (SELECT id FROM billing_claim WHERE payer_id = %(payer)s)",
    "DELETE FROM billing_ledgerentry WHERE insurance_policy_id IN "
    "(SELECT id FROM billing_insurancepolicy WHERE payer_id = %(payer)s)",
    "DELETE FROM billing_claim WHERE payer_id = %(payer)s",
    "DELETE FROM billing_claimbatch WHERE id = %(batch)s",
    "DELETE FROM billing_insurancepolicy WHERE payer_id = %(payer)s",
    "DELETE FROM billing_historicalpayer WHERE id = %(payer)s",
    "DELETE FROM events_domainevent WHERE subject_id = %(payer)s",
    "DELETE FROM billing_payer WHERE id = %(payer)s",
)


def _remove(payer_id: uuid.UUID, batch_id: uuid.UUID) -> None:
    with connections["owner"].cursor() as cursor, transaction.atomic(using="owner"):
        for statement in _REMOVE_SQL:
            cursor.execute(statement, {"payer": payer_id, "batch": batch_id})


def run(*, slug: str, claims: int, stream: TextIO) -> dict[str, Any]:
    """Build, validate and post an 835 of `claims` claims for organization `slug`; print and return the times."""
    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT id FROM organizations_organization WHERE slug = %s", [slug])
        row = cursor.fetchone()
        if row is None:
            raise LookupError(f"No organization {slug!r}: run manage.py generate_load_data first.")
        cursor.execute(
            "SELECT id FROM patients_patient WHERE organization_id = %s AND deleted_at IS NULL ORDER BY mrn LIMIT %s",
            [row[0], claims],
        )
        patient_ids = [r[0] for r in cursor.fetchall()]
    result: dict[str, Any] = {"organization": slug, "claims": len(patient_ids)}
    # The claims exist before their payer answers, as in a clinic: made and committed first, removed at the end
    # (posting to rows the same transaction wrote costs PostgreSQL more, and would not measure what billing meets).
    with tenant_context(row[0], Role.OWNER):
        started = time.perf_counter()
        if not BillingProvider.objects.exists():
            services.billing_provider_save(**PROVIDER)
        first = (Claim.objects.aggregate(m=Max("number"))["m"] or 0) + 1
        made = _claims(patient_ids, first)
        result["setup_seconds"] = round(time.perf_counter() - started, 1)
    try:
        with tenant_context(row[0], Role.OWNER):
            _import(made, result)
            transaction.set_rollback(True)  # the tenant transaction ends undoing the import
    finally:
        _remove(made[0].payer_id, made[0].batch_id)
    result["target"] = f"import under {TARGET_SECONDS:.0f} s"
    result["met"] = result["import_seconds"] < TARGET_SECONDS
    stream.write(
        f"835 import on {slug}: {result['claims']:,} claims, {result['lines']:,} lines, "
        f"{result['file_bytes']:,} bytes (setup {result['setup_seconds']} s, build {result['build_seconds']} s)\n"
        f"  pyx12 alone {result['pyx12_seconds']} s; import (pyx12 apart, posting, commit check) "
        f"{result['import_seconds']} s ({'met' if result['met'] else 'NOT met'}: {result['target']}), "
        f"{result['statements']} statements\n"
        f"  peak resident memory {result['peak_rss_mb']} MB (+{result['peak_rss_growth_mb']} MB during pyx12 and "
        f"the import), validating process {result['validating_process_peak_rss_mb']} MB\n"
        f"  claims paid {result['statuses']['paid']:,}, denied {result['statuses']['denied']:,}; "
        f"posted {result['posted_cents']}\n"
        "  (the import rolled back, the claims made for it removed: the load data is unchanged)\n"
    )
    return result
