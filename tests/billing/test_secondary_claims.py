"""Secondary claims: once an 835 has adjudicated a primary claim, the secondary policy is billed with the primary
payer's answer (837P loops 2320, 2330A/B and 2430), every file passing pyx12; refused, storing nothing, before
adjudication, without a secondary policy, twice, or for another organization's claim."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.exceptions import ValidationError

from apps.billing import claims, selectors, work_queue, x12, x12_answers
from apps.billing.models import (
    Claim,
    ClaimLine,
    ClaimStatus,
    Denial,
    InsurancePolicy,
    LedgerEntry,
    PaymentStatus,
    RemittanceLine,
    TransactionType,
)
from apps.billing.selectors import claims_ready_for_secondary
from apps.organizations.roles import Role
from tests.billing import factories as bf
from tests.billing.x12_builders import ClaimRemit, LineRemit, build_835
from tests.billing.x12_validation import assert_valid_835, assert_valid_x12
from tests.conftest import add_member, as_tenant, logged_in
from tests.factories import PatientFactory

CLINICAL = TransactionType.CLINICAL_SERVICE
TWO_LINES = {"cpt_code": "96127", "units": 2, "diagnosis_codes": ["F41.1"], "diagnosis_pointers": [1]}
PAID_ON = dt.date(2025, 3, 1)
# Line 1 paid with a contractual adjustment and coinsurance; line 2 denied (CO-50).
LINE_LEVEL = ClaimRemit(
    "K000000001",
    "1",
    "ICN0001",
    [
        LineRemit("K000000001-1", "90837:95", 15_000, 10_000, [("CO", "45", 3_000), ("PR", "2", 2_000)]),
        LineRemit("K000000001-2", "96127", 4_550, 0, [("CO", "50", 4_550)], remarks=["N130"]),
    ],
)
# The claim denied whole, the adjustment at claim level only.
CLAIM_LEVEL = ClaimRemit(
    "K000000001", "4", "ICN0001", [], [("CO", "50", 19_550)], ["MA01"], charge_cents_if_no_lines=19_550
)


def _clinic(*, secondary: bool = True, dependent: bool = False) -> Claim:
    """Lucía Núñez's two-line visit billed to Acme Health (K000000001, sent); her secondary policy with Blue
    Shield, held by her spouse Zoë Çelik. With `dependent`, her primary policy is her parent's."""
    bf.provider()
    acme, blue = bf.payer("Acme Health", "ACME1"), bf.payer("Blue Shield", "BS123")
    patient = PatientFactory(
        given_name="Lucía", family_name="Núñez", sex_at_birth="female", date_of_birth=dt.date(1990, 5, 17)
    )
    parent = (
        {"subscriber_relationship": "19", "subscriber_given_name": "Jörg", "subscriber_family_name": "Núñez"}
        if dependent
        else {}
    )
    primary = bf.policy(patient, acme, group_number="GRP-1", member_id="PRI112233", **parent)
    if secondary:
        bf.policy(
            patient,
            blue,
            member_id="SEC998877",
            priority=InsurancePolicy.Priority.SECONDARY,
            insurance_type="BL",
            subscriber_relationship=InsurancePolicy.Relationship.SPOUSE,
            subscriber_given_name="Zoë",
            subscriber_family_name="Çelik",
        )
    visit = bf.encounter(patient)
    bf.charge(patient, 15_000, transaction_type=CLINICAL, insurance_policy=primary, encounter=visit)
    bf.charge(patient, 4_550, transaction_type=CLINICAL, insurance_policy=primary, encounter=visit, metadata=TWO_LINES)
    assert x12.claim_batch_export() is not None
    return Claim.objects.get(submitter_claim_id="K000000001")


def _remit(remit: ClaimRemit, trace: str = "CHK1") -> None:
    content = build_835([remit], trace_number=trace, paid_on=PAID_ON)
    assert_valid_835(content)
    x12_answers.clearinghouse_file_import(content=content.encode("ascii"))


def _segments(content: str) -> list[str]:
    return [raw.strip() for raw in content.split("~") if raw.strip()]


def _claim_loop(content: str, claim_id: str) -> list[str]:
    """The segments of one claim, from its CLM to the end of its last line (before SE or the next HL)."""
    segments = _segments(content)
    start = next(i for i, s in enumerate(segments) if s.startswith(f"CLM*{claim_id}*"))
    end = next(i for i, s in enumerate(segments[start:], start) if s.startswith(("HL*", "SE*")))
    return segments[start:end]


def _stored() -> tuple:
    return (
        sorted(Claim.objects.values_list("submitter_claim_id", "status")),
        ClaimLine.objects.count(),
        sorted(LedgerEntry.objects.values_list("kind", "payment_status", "amount_cents", "applied_cents")),
    )


def test_a_secondary_claim_carries_the_primary_payers_line_answers_and_passes_pyx12(org_a, org_b):
    with as_tenant(org_a, Role.BILLING):
        primary = _clinic()
        _remit(LINE_LEVEL)
        primary.refresh_from_db()
        assert primary.status == ClaimStatus.PARTLY_PAID
        # What the posting kept for the secondary payer: each line's adjustments with group, CARC and amount.
        assert [r.adjustments for r in RemittanceLine.objects.all()] == [[["CO", "45", 3_000], ["PR", "2", 2_000]]]
        assert [d.adjustments for d in Denial.objects.all()] == [[["CO", "50", 4_550]]]

        secondary = claims.claim_create_secondary(claim=primary)
        assert (secondary.submitter_claim_id, secondary.status, secondary.frequency_code) == (
            "K000000002",
            "ready",
            "1",
        )
        assert (secondary.primary_claim, secondary.policy.priority, secondary.payer.payer_id) == (primary, "S", "BS123")
        assert secondary.total_cents == 19_550
        assert list(secondary.lines.values_list("control_number", flat=True)) == ["K000000002-1", "K000000002-2"]
        # The charges stay with the primary claim.
        assert set(LedgerEntry.objects.filter(kind="charge").values_list("claim_id", flat=True)) == {primary.pk}

        batch = x12.claim_batch_export()
        assert batch is not None
        assert_valid_x12(batch.content)
        segments = _segments(batch.content)
        subscriber = segments.index("HL*2*1*22*1")
        assert segments[subscriber + 1 : subscriber + 7] == [
            "SBR*S********BL",
            "NM1*IL*1*CELIK*ZOE****MI*SEC998877",
            "N3*12 ELM STREET",
            "N4*PORTLAND*OR*97201",
            "NM1*PR*2*BLUE SHIELD*****PI*BS123",
            "HL*3*2*23*0",
        ]
        assert segments[subscriber + 7 : subscriber + 9] == ["PAT*01", "NM1*QC*1*NUNEZ*LUCIA"]
        loop = _claim_loop(batch.content, "K000000002")
        assert loop[0] == "CLM*K000000002*195.5***11:B:1*Y*A*Y*Y"
        other_payer = loop.index("SBR*P*18*GRP-1******CI")
        assert loop[other_payer:] == [
            "SBR*P*18*GRP-1******CI",
            "AMT*D*100",
            "OI***Y***Y",
            "NM1*IL*1*NUNEZ*LUCIA****MI*PRI112233",
            "NM1*PR*2*ACME HEALTH*****PI*ACME1",
            "LX*1",
            "SV1*HC:90837:95*150*UN*1***1",
            "DTP*472*D8*20250115",
            "REF*6R*K000000002-1",
            "SVD*ACME1*100*HC:90837:95**1",
            "CAS*CO*45*30",
            "CAS*PR*2*20",
            "DTP*573*D8*20250301",
            "LX*2",
            "SV1*HC:96127*45.5*UN*2***2",
            "DTP*472*D8*20250115",
            "REF*6R*K000000002-2",
            "SVD*ACME1*0*HC:96127**2",
            "CAS*CO*50*45.5",
            "DTP*573*D8*20250301",
        ]
        secondary.refresh_from_db()
        assert (secondary.status, secondary.batch_id) == (ClaimStatus.SUBMITTED, batch.pk)
        assert claims_ready_for_secondary().count() == 0
    with as_tenant(org_b, Role.BILLING):
        assert Claim.objects.count() == 0


def test_the_secondary_payers_835_posts_to_the_secondary_claim_through_the_same_lifecycle(org_a):
    with as_tenant(org_a, Role.BILLING):
        primary = _clinic()
        _remit(LINE_LEVEL)
        secondary = claims.claim_create_secondary(claim=primary)
        assert x12.claim_batch_export() is not None
        _remit(
            ClaimRemit(
                "K000000002",
                "2",
                "BS0002",
                [
                    LineRemit("K000000002-1", "90837:95", 15_000, 2_000, [("OA", "23", 13_000)]),
                    LineRemit("K000000002-2", "96127", 4_550, 0, [("CO", "50", 4_550)]),
                ],
            ),
            trace="CHK2",
        )
        secondary.refresh_from_db()
        primary.refresh_from_db()
        assert (secondary.status, secondary.payer_claim_control_number) == (ClaimStatus.PARTLY_PAID, "BS0002")
        assert primary.status == ClaimStatus.PARTLY_PAID
        line_one = LedgerEntry.objects.get(kind="charge", amount_cents=15_000)
        # Acme paid 100.00 and wrote off 30.00; Blue Shield paid the 20.00 coinsurance left.
        assert (line_one.applied_cents, line_one.payment_status) == (15_000, "paid")
        assert sorted(Denial.objects.filter(resolved_at=None).values_list("claim__submitter_claim_id", flat=True)) == [
            "K000000001",
            "K000000002",
        ]
        # A corrected secondary claim is billed to the secondary payer again, with the primary's answer.
        corrected = claims.claim_correct(claim=secondary)
        assert (corrected.frequency_code, corrected.primary_claim, corrected.policy.priority) == ("7", primary, "S")
        assert set(LedgerEntry.objects.filter(kind="charge").values_list("claim_id", flat=True)) == {primary.pk}
        batch = x12.claim_batch_export()
        assert batch is not None
        assert_valid_x12(batch.content)
        loop = _claim_loop(batch.content, corrected.submitter_claim_id)
        assert loop[0] == f"CLM*{corrected.submitter_claim_id}*195.5***11:B:7*Y*A*Y*Y"
        assert loop[1] == "REF*F8*BS0002"
        assert loop[loop.index("SBR*P*18*GRP-1******CI") :][:2] == ["SBR*P*18*GRP-1******CI", "AMT*D*100"]
        assert [s for s in loop if s.startswith("SVD*")] == ["SVD*ACME1*100*HC:90837:95**1", "SVD*ACME1*0*HC:96127**2"]


def test_a_claim_denied_whole_passes_its_claim_level_adjustments_on(org_a):
    with as_tenant(org_a, Role.BILLING):
        primary = _clinic()
        _remit(CLAIM_LEVEL)
        primary.refresh_from_db()
        assert primary.status == ClaimStatus.DENIED
        assert {tuple(map(tuple, d.claim_adjustments)) for d in Denial.objects.all()} == {(("CO", "50", 19_550),)}
        claims.claim_create_secondary(claim=primary)
        batch = x12.claim_batch_export()
        assert batch is not None
        assert_valid_x12(batch.content)
        loop = _claim_loop(batch.content, "K000000002")
        other_payer = loop.index("SBR*P*18*GRP-1******CI")
        assert loop[other_payer : other_payer + 7] == [
            "SBR*P*18*GRP-1******CI",
            "CAS*CO*50*195.5",
            "AMT*D*0",
            "OI***Y***Y",
            "NM1*IL*1*NUNEZ*LUCIA****MI*PRI112233",
            "NM1*PR*2*ACME HEALTH*****PI*ACME1",
            "DTP*573*D8*20250301",
        ]
        assert not any(s.startswith("SVD*") for s in loop)


def test_a_dependents_secondary_claim_names_the_parent_as_the_other_subscriber(org_a):
    with as_tenant(org_a, Role.BILLING):
        primary = _clinic(dependent=True)
        _remit(LINE_LEVEL)
        claims.claim_create_secondary(claim=primary)
        batch = x12.claim_batch_export()
        assert batch is not None
        assert_valid_x12(batch.content)
        loop = _claim_loop(batch.content, "K000000002")
        assert "SBR*P*19*GRP-1******CI" in loop
        assert "NM1*IL*1*NUNEZ*JORG****MI*PRI112233" in loop


def test_a_claim_not_yet_adjudicated_is_refused_and_nothing_is_stored(org_a):
    with as_tenant(org_a, Role.BILLING):
        primary = _clinic()
        before = _stored()
        with pytest.raises(ValidationError) as refused:
            claims.claim_create_secondary(claim=primary)
        assert refused.value.message_dict == {
            "claim": [
                "Claim K000000001 is submitted: the primary payer's remittance (835) is needed before the secondary "
                "payer is billed."
            ]
        }
        assert _stored() == before


def test_a_patient_without_a_secondary_policy_is_refused_and_nothing_is_stored(org_a):
    with as_tenant(org_a, Role.BILLING):
        primary = _clinic(secondary=False)
        _remit(LINE_LEVEL)
        assert claims_ready_for_secondary().count() == 0
        before = _stored()
        with pytest.raises(ValidationError) as refused:
            claims.claim_create_secondary(claim=primary)
        assert refused.value.message_dict == {"policy": ["The patient has no active secondary policy."]}
        assert _stored() == before


def test_a_second_secondary_claim_and_a_secondary_of_a_secondary_are_refused(org_a):
    with as_tenant(org_a, Role.BILLING):
        primary = _clinic()
        _remit(LINE_LEVEL)
        secondary = claims.claim_create_secondary(claim=primary)
        before = _stored()
        with pytest.raises(ValidationError) as twice:
            claims.claim_create_secondary(claim=primary)
        assert twice.value.message_dict == {"claim": ["Claim K000000001 has a secondary claim already (K000000002)."]}
        with pytest.raises(ValidationError) as of_secondary:
            claims.claim_create_secondary(claim=secondary)
        assert of_secondary.value.message_dict == {
            "claim": ["Only a claim billed to the patient's primary policy has a secondary claim."]
        }
        assert _stored() == before


def test_another_organizations_claim_cannot_be_used(org_a, org_b):
    with as_tenant(org_a, Role.BILLING):
        primary = _clinic()
        _remit(LINE_LEVEL)
        before_a = _stored()
    with as_tenant(org_b, Role.BILLING):
        bf.provider()
        with pytest.raises(ValidationError) as refused:
            claims.claim_create_secondary(claim=primary)
        assert refused.value.message_dict == {"claim": ["No such claim."]}
        assert Claim.objects.count() == 0
        assert claims_ready_for_secondary().count() == 0
    with as_tenant(org_a, Role.BILLING):
        assert _stored() == before_a


def test_the_desk_lists_claims_ready_for_secondary_until_one_is_made(org_a, org_b):
    with as_tenant(org_a, Role.BILLING):
        primary = _clinic()
        assert claims_ready_for_secondary().count() == 0
        _remit(LINE_LEVEL)
        count, items = work_queue.claims_for_secondary()
        assert (count, [item.title for item in items]) == (1, ["K000000001"])
    with as_tenant(org_b, Role.BILLING):
        assert work_queue.claims_for_secondary() == (0, [])
    with as_tenant(org_a, Role.BILLING):
        claims.claim_create_secondary(claim=primary)
        assert work_queue.claims_for_secondary() == (0, [])


def test_admin_action_makes_the_secondary_claim_and_front_desk_may_not(org_a):
    with as_tenant(org_a, Role.BILLING):
        primary = _clinic()
        _remit(LINE_LEVEL)
    body = {"action": "create_secondary_claims", "_selected_action": [str(primary.pk)]}
    front_desk = logged_in(add_member(org_a, Role.FRONT_DESK))
    front_desk.post("/admin/billing/claim/", body)
    with as_tenant(org_a, Role.BILLING):
        assert Claim.objects.count() == 1
    billing = logged_in(add_member(org_a, Role.BILLING))
    response = billing.post("/admin/billing/claim/", body)
    assert response.status_code == 302
    with as_tenant(org_a, Role.BILLING):
        assert list(Claim.objects.filter(primary_claim=primary).values_list("submitter_claim_id", "status")) == [
            ("K000000002", "ready")
        ]
    # The patient's ledger shows both charges waiting for the secondary payer.
    ledger = billing.get(f"/admin/billing/ledgerentry/patient/{primary.patient_id}/").content.decode()
    charge_rows = re.findall(r"<td>Charge</td>.*?<td>(Pending insurance|Patient due|Paid)</td>", ledger, re.S)
    assert charge_rows == ["Pending insurance", "Pending insurance"]
    # Asked again, the action says why not and makes nothing.
    again = billing.post("/admin/billing/claim/", body, follow=True)
    assert "has a secondary claim already (K000000002)" in again.content.decode()
    with as_tenant(org_a, Role.BILLING):
        assert Claim.objects.count() == 2


def test_a_secondary_claim_waits_while_its_primarys_answer_is_reversed_and_goes_with_the_new_one(org_a):
    with as_tenant(org_a, Role.BILLING):
        primary = _clinic()
        _remit(LINE_LEVEL)
        secondary = claims.claim_create_secondary(claim=primary)
        _remit(LINE_LEVEL.reversed(), trace="CHK2")
        primary.refresh_from_db()
        assert primary.status == ClaimStatus.ACCEPTED
        patient = primary.patient
        other_visit = bf.encounter(patient)
        bf.charge(patient, 9_000, transaction_type=CLINICAL, insurance_policy=primary.policy, encounter=other_visit)
        batch = x12.claim_batch_export()
        assert batch is not None
        assert_valid_x12(batch.content)
        assert [s.split("*")[1] for s in _segments(batch.content) if s.startswith("CLM*")] == ["K000000003"]
        secondary.refresh_from_db()
        assert secondary.status == ClaimStatus.READY
        # The payer's new answer: line 1 paid 120.00 this time, line 2 still denied.
        _remit(
            ClaimRemit(
                "K000000001",
                "1",
                "ICN0001",
                [
                    LineRemit("K000000001-1", "90837:95", 15_000, 12_000, [("CO", "45", 1_000), ("PR", "2", 2_000)]),
                    LineRemit("K000000001-2", "96127", 4_550, 0, [("CO", "50", 4_550)]),
                ],
            ),
            trace="CHK3",
        )
        batch = x12.claim_batch_export()
        assert batch is not None
        assert_valid_x12(batch.content)
        loop = _claim_loop(batch.content, "K000000002")
        assert loop[loop.index("SBR*P*18*GRP-1******CI") + 1] == "AMT*D*120"
        assert loop[loop.index("SVD*ACME1*120*HC:90837:95**1") + 1] == "CAS*CO*45*10"


def _owed(patient_id) -> tuple[int, int]:
    """(insurance pending, patient due) of the patient's balance: what a statement separates."""
    balance = selectors.patient_balance(patient_id=patient_id)
    return balance.insurance_pending, balance.patient_due


def test_a_statement_holds_back_what_the_secondary_payer_may_still_pay(org_a, org_b):
    with as_tenant(org_a, Role.BILLING):
        primary = _clinic()
        _remit(LINE_LEVEL)
        # Acme answered: the 20.00 coinsurance of line 1 is the patient's; line 2 (denied) waits on insurance.
        assert _owed(primary.patient_id) == (4_550, 2_000)
        assert _charge_statuses(primary) == [PaymentStatus.PATIENT_DUE, PaymentStatus.PENDING_INSURANCE]
        secondary = claims.claim_create_secondary(claim=primary)
        # Blue Shield has both lines now: nothing is asked of the patient until it answers, sent or not, and the
        # charges say so where the desk's lists read them.
        assert _owed(primary.patient_id) == (6_550, 0)
        assert _charge_statuses(primary) == [PaymentStatus.PENDING_INSURANCE] * 2
        assert x12.claim_batch_export() is not None
        assert _owed(primary.patient_id) == (6_550, 0)
        assert _charge_statuses(primary) == [PaymentStatus.PENDING_INSURANCE] * 2
        _remit(
            ClaimRemit(
                "K000000002",
                "2",
                "BS0002",
                [
                    LineRemit("K000000002-1", "90837:95", 15_000, 1_500, [("OA", "23", 13_000), ("PR", "2", 500)]),
                    LineRemit("K000000002-2", "96127", 4_550, 0, [("CO", "50", 4_550)]),
                ],
            ),
            trace="CHK2",
        )
        secondary.refresh_from_db()
        assert secondary.status == ClaimStatus.PARTLY_PAID
        # Blue Shield paid 15.00 of the 20.00: the patient owes the 5.00 left.
        assert _owed(primary.patient_id) == (4_550, 500)
        assert _charge_statuses(primary) == [PaymentStatus.PATIENT_DUE, PaymentStatus.PENDING_INSURANCE]
    with as_tenant(org_b, Role.BILLING):
        assert _owed(primary.patient_id) == (0, 0)


def _charge_statuses(claim: Claim) -> list[str]:
    return [line.charge.payment_status for line in claim.lines.select_related("charge").order_by("line_number")]


def test_the_charges_wait_for_the_secondary_payer_only_while_its_claim_is_out(org_a, org_b):
    with as_tenant(org_b, Role.BILLING):
        b_primary = _clinic()
        _remit(LINE_LEVEL)
        claims.claim_create_secondary(claim=b_primary)
    with as_tenant(org_a, Role.BILLING):
        primary = _clinic()
        _remit(LINE_LEVEL)
        secondary = claims.claim_create_secondary(claim=primary)
        assert x12.claim_batch_export() is not None
        assert _charge_statuses(primary) == [PaymentStatus.PENDING_INSURANCE] * 2
        # The clearinghouse rejects it: the patient owes the coinsurance again until the claim is sent again.
        secondary = claims.claim_status_set(claim=secondary, status=ClaimStatus.REJECTED)
        assert _charge_statuses(primary) == [PaymentStatus.PATIENT_DUE, PaymentStatus.PENDING_INSURANCE]
        assert _owed(primary.patient_id) == (4_550, 2_000)
        secondary = claims.claim_status_set(claim=secondary, status=ClaimStatus.READY)
        assert _charge_statuses(primary) == [PaymentStatus.PENDING_INSURANCE] * 2
        assert _owed(primary.patient_id) == (6_550, 0)
        history = list(
            LedgerEntry.history.filter(id=primary.lines.get(line_number=1).charge_id)
            .order_by("history_id")
            .values_list("payment_status", flat=True)
        )
        assert history[-4:] == [
            PaymentStatus.PATIENT_DUE,
            PaymentStatus.PENDING_INSURANCE,
            PaymentStatus.PATIENT_DUE,
            PaymentStatus.PENDING_INSURANCE,
        ]
    with as_tenant(org_b, Role.BILLING):  # the other clinic's secondary claim was left as it was
        assert _charge_statuses(b_primary) == [PaymentStatus.PENDING_INSURANCE] * 2
