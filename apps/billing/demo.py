"""Demo billing data for `seed_demo`: months of insurance services sent as claims and answered by the payers'
835 remittances (payments, contractual adjustments, patient responsibility, a denial) and a secondary claim after
one of them, retail sales and a program on installments.

Idempotent: an organization that already has a billing provider is left as it is. Runs inside the
organization's tenant context; entries are back-dated (`recorded_at`) so aging and as-of reports have history.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from apps.clinical import services as clinical_services
from apps.clinical.models import Encounter
from apps.patients.models import Patient

from . import claims, services, x12, x12_answers
from .models import BillingProvider, InsurancePolicy, LedgerEntry, TransactionType
from .services import Allocation
from .x12_builder import ClaimRemit, LineRemit, ProviderAdjustmentRemit, build_835

CLINICAL_VISITS = [
    # (days ago, CPT, modifiers, ICD-10 codes, fee in cents)
    (170, "90791", [], ["F41.1"], 25_000),
    (140, "90837", [], ["F41.1", "F43.10"], 18_000),
    (110, "90834", ["95"], ["F43.10"], 14_000),
    (75, "90837", [], ["F32.1"], 18_000),
    (45, "96127", [], ["F32.1"], 2_500),
    (20, "90834", ["95"], ["F41.1"], 14_000),
    (6, "90837", [], ["F43.10"], 18_000),
]


def _at(days_ago: int) -> dt.datetime:
    return timezone.now().replace(hour=15, minute=0, second=0, microsecond=0) - dt.timedelta(days=days_ago)


def seed(*, slug: str) -> None:
    """Create the organization's billing demo data unless it exists."""
    if BillingProvider.objects.for_current_organization().exists():
        return
    patients = list(Patient.objects.for_current_organization().order_by("mrn")[:4])
    if len(patients) < 3:
        return
    services.billing_provider_save(
        legal_name=f"{slug.title()} Clinical Group LLC",
        npi="1234567893",
        tax_id="123456789",
        taxonomy_code="207Q00000X",
        address_line1="100 Main Street",
        city="Portland",
        state="OR",
        postal_code="972011234",
        phone="5035550100",
        contact_name="Billing Office",
        rendering_given_name="Dana",
        rendering_family_name="Reyes",
        rendering_npi="1245319599",
        submitter_id="KURA" + "".join(c for c in slug.upper() if c.isalnum())[:11],
        receiver_id="CLEARINGHOUSE",
        receiver_name="Example Clearinghouse",
    )
    acme = services.payer_create(name="Acme Health Plan", payer_id="ACME1")
    blue = services.payer_create(name="Blue Ridge Mutual", payer_id="BRM22")
    insured = [
        (patients[0], services.insurance_policy_create(
            patient=patients[0], payer=acme, member_id="ACM10020030", group_number="GRP100",
            address_line1="12 Elm Street", city="Portland", state="OR", postal_code="97201",
        )),
        (patients[1], services.insurance_policy_create(
            patient=patients[1], payer=blue, member_id="BRM55500011", group_number="BR-7",
            address_line1="400 Oak Avenue", city="Salem", state="OR", postal_code="97301",
        )),
    ]  # fmt: skip
    charges: list[tuple[str, list[str], LedgerEntry]] = []
    for index, (days_ago, cpt, modifiers, diagnoses, fee) in enumerate(CLINICAL_VISITS):
        patient, policy = insured[index % 2]
        telehealth = "95" in modifiers
        visit = clinical_services.encounter_create(
            patient=patient,
            encounter_type=Encounter.Type.TELEHEALTH if telehealth else Encounter.Type.OUTPATIENT,
            place_of_service=(
                Encounter.PlaceOfService.TELEHEALTH_HOME if telehealth else Encounter.PlaceOfService.OFFICE
            ),
            started_at=_at(days_ago),
            ended_at=_at(days_ago) + dt.timedelta(minutes=50),
        )
        charge = services.charge_create(
            patient=patient,
            transaction_type=TransactionType.CLINICAL_SERVICE,
            amount_cents=fee,
            service_date=_at(days_ago).date(),
            metadata={"cpt_code": cpt, "modifiers": modifiers, "diagnosis_codes": diagnoses, "units": 1},
            description="Psychotherapy" if cpt.startswith("908") else "Assessment",
            insurance_policy=policy,
            encounter=visit,
            recorded_at=_at(days_ago),
        )
        charges.append((cpt, modifiers, charge))
    _remittances(charges)
    # The second patient also has a secondary plan: the visit her primary payer left to her deductible is billed
    # to it, with the primary's answer (a ready secondary claim).
    services.insurance_policy_create(
        patient=patients[1], payer=acme, member_id="ACM77700042", priority=InsurancePolicy.Priority.SECONDARY,
        address_line1="400 Oak Avenue", city="Salem", state="OR", postal_code="97301",
    )  # fmt: skip
    deductible_visit = charges[3][2]
    deductible_visit.refresh_from_db()
    assert deductible_visit.claim is not None  # sent and answered by `_remittances`
    claims.claim_create_secondary(claim=deductible_visit.claim)
    # Retail sales: most paid at the counter, one still open.
    for days_ago, sku, name, price, paid in [(90, "MAG-400", "Magnesium glycinate", 2_800, True),
                                              (33, "OM3-60", "Omega-3 capsules", 3_600, True),
                                              (12, "JRN-01", "Guided journal", 1_900, False)]:  # fmt: skip
        sale = services.charge_create(
            patient=patients[2],
            transaction_type=TransactionType.RETAIL_PRODUCT,
            amount_cents=price,
            service_date=_at(days_ago).date(),
            metadata={"sku": sku, "product_name": name, "quantity": 1},
            description=name,
            recorded_at=_at(days_ago),
        )
        if paid:
            services.payment_post(
                patient=patients[2],
                amount_cents=price,
                allocations=[Allocation(sale, price)],
                metadata={"method": "card"},
                recorded_at=_at(days_ago),
            )
    # A retreat on four monthly installments: two paid, the third failed (follow-up list), one not yet due.
    plan = services.installment_plan_create(
        patient=patients[2],
        program="Spring mindfulness retreat",
        total_cents=180_000,
        installment_count=4,
        first_due_date=_at(65).date(),
        external_reference="sub_demo_retreat",
        recorded_at=_at(70),
    )
    installments = list(plan.entries.order_by("service_date"))
    services.installment_payment_record(
        charge=installments[0], succeeded=True, external_reference="pi_demo_1", recorded_at=_at(65)
    )
    services.installment_payment_record(
        charge=installments[1], succeeded=True, external_reference="pi_demo_2", recorded_at=_at(35)
    )
    services.installment_payment_record(
        charge=installments[2], succeeded=False, external_reference="pi_demo_3_declined", recorded_at=_at(5)
    )
    # A prepayment kept as credit.
    if len(patients) > 3:
        services.payment_post(
            patient=patients[3],
            amount_cents=5_000,
            allow_credit=True,
            transaction_type=TransactionType.PROGRAM_ENROLLMENT,
            metadata={"method": "card", "note": "Deposit for the autumn program"},
            recorded_at=_at(3),
        )


# How each payer answers the visits older than two months, and the assessment 45 days ago (by visit index):
# (status, paid %, contractual %, patient responsibility CARC); the visits of the last weeks wait for an answer.
ANSWERS = {
    0: ("1", 70, 20, "2"),  # coinsurance
    1: ("1", 70, 20, "3"),  # copay
    2: ("1", 70, 20, "2"),
    3: ("1", 0, 0, "1"),  # all of it the deductible
    4: ("4", 0, 100, ""),  # denied: no precertification
}


def _remittances(charges: list[tuple[str, list[str], LedgerEntry]]) -> None:
    """Send the visits' claims (one 837P batch), then import each payer's 835 for the older ones, built by the
    remittance builder; the patients with a coinsurance pay it afterwards (every other one)."""
    x12.claim_batch_export()
    by_payer: dict[str, list[ClaimRemit]] = {}
    for index, (cpt, modifiers, charge) in enumerate(charges):
        answer = ANSWERS.get(index)
        if answer is None:
            continue
        status, paid_percent, contractual_percent, patient_reason = answer
        charge.refresh_from_db()
        claim = charge.claim
        assert claim is not None  # sent in the batch above
        fee = charge.amount_cents
        paid = fee * paid_percent // 100
        contractual = fee * contractual_percent // 100
        adjustments = [("CO", "197" if status == "4" else "45", contractual)] if contractual else []
        if fee - paid - contractual:
            adjustments.append(("PR", patient_reason, fee - paid - contractual))
        line = LineRemit(
            f"{claim.submitter_claim_id}-1",
            ":".join((cpt, *modifiers)),
            fee,
            paid,
            adjustments,
            service_date=charge.service_date,
            remarks=["N130"] if status == "4" else [],
        )
        by_payer.setdefault(claim.payer.name, []).append(
            ClaimRemit(claim.submitter_claim_id, status, f"DEMO{claim.number:07d}", [line])
        )
    # Blue Ridge still answers a claim of the practice's former billing system (the unmatched work queue), and
    # Acme pays interest on a late claim (a provider-level adjustment).
    by_payer.setdefault("Blue Ridge Mutual", []).append(
        ClaimRemit("OLD-2024-0117", "1", "BRM0117", [LineRemit("", "90834", 14_000, 9_800, [("CO", "45", 4_200)])])
    )
    interest = {"Acme Health Plan": [ProviderAdjustmentRemit("L6", "LATECLAIM", -325)]}
    for number, (payer, remits) in enumerate(sorted(by_payer.items()), start=1):
        content = build_835(
            remits,
            trace_number=f"EFT{number:06d}",
            control_number=900 + number,
            payer_name=payer.upper(),
            paid_on=_at(30).date(),
            provider_adjustments=interest.get(payer),
        )
        x12_answers.clearinghouse_file_import(content=content.encode("ascii"))
    for index, (_, _, charge) in enumerate(charges):
        charge.refresh_from_db()
        if index in ANSWERS and index % 2 == 0 and ANSWERS[index][0] == "1" and charge.open_cents:
            services.payment_post(
                patient=charge.patient,
                amount_cents=charge.open_cents,
                allocations=[Allocation(charge, charge.open_cents)],
                metadata={"method": "card"},
            )
