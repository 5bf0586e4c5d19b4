"""Claims as records: lifecycle, lines with control numbers (REF*6R), insurance type (SBR09), corrected and void
claims (REF*F8), test and production files, the export command and the admin's production confirmation."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from apps.billing import claims, services, x12
from apps.billing.models import (
    Claim,
    ClaimBatch,
    ClaimLine,
    ClaimStatus,
    InsuranceType,
    LedgerEntry,
    TransactionType,
)
from apps.events.models import DomainEvent
from apps.organizations.roles import Role
from tests.billing import factories as bf
from tests.billing.x12_validation import assert_valid_x12
from tests.conftest import add_member, as_tenant, logged_in, make_organization
from tests.factories import PatientFactory

CLINICAL = TransactionType.CLINICAL_SERVICE
NOW = dt.datetime(2025, 3, 1, 9, 30, tzinfo=dt.UTC)
TWO_LINES = {"cpt_code": "96127", "units": 2, "diagnosis_codes": ["F41.1", "F43.10"], "diagnosis_pointers": [1, 2]}


def _segments(batch: ClaimBatch) -> list[str]:
    return batch.content.strip().removesuffix("~").split("~\n")


def _one_visit(payer_type: str = InsuranceType.COMMERCIAL, **policy_overrides):
    """A patient with one encounter of two charges billed to a payer of that insurance type."""
    payer = services.payer_create(name="Payer " + payer_type, payer_id="P" + payer_type, insurance_type=payer_type)
    patient = PatientFactory()
    policy = bf.policy(patient, payer, **policy_overrides)
    visit = bf.encounter(patient)
    bf.charge(patient, 15_000, transaction_type=CLINICAL, insurance_policy=policy, encounter=visit)
    bf.charge(patient, 4_550, transaction_type=CLINICAL, insurance_policy=policy, encounter=visit, metadata=TWO_LINES)
    return patient


@pytest.fixture
def clinic(org_a, org_b):
    """Org A with a billing provider and one two-line visit; org B with a visit of its own, ready to send."""
    with as_tenant(org_b):
        bf.provider()
        _one_visit()
        claims.claims_prepare()
    with as_tenant(org_a):
        bf.provider()
        return _one_visit()


# --- ready claims and their lines ------------------------------------------------------------------------------


def test_prepare_makes_one_ready_claim_per_visit_with_numbered_lines(clinic, org_a):
    with as_tenant(org_a):
        made = claims.claims_prepare()
        assert [(c.submitter_claim_id, c.status, c.frequency_code, c.total_cents) for c in made] == [
            ("K000000001", ClaimStatus.READY, "1", 19_550)
        ]
        lines = ClaimLine.objects.filter(claim=made[0]).order_by("line_number")
        assert [(line.line_number, line.control_number, line.charge.amount_cents) for line in lines] == [
            (1, "K000000001-1", 15_000),
            (2, "K000000001-2", 4_550),
        ]
        assert set(LedgerEntry.objects.charges().values_list("claim_id", flat=True)) == {made[0].pk}
        assert claims.claims_prepare() == []  # charges already on a claim are never claimed twice


def test_export_submits_ready_claims_with_a_line_item_control_number_per_line(clinic, org_a):
    with as_tenant(org_a):
        batch = x12.claim_batch_export(now=NOW)
        assert batch is not None
        assert_valid_x12(batch.content)
        segments = _segments(batch)
        ids = [s.split("*")[0] for s in segments]
        # Each service line: LX, SV1, DTP, then its REF*6R.
        first = ids.index("LX")
        assert segments[first : first + 8] == [
            "LX*1",
            "SV1*HC:90837:95*150*UN*1***1",
            "DTP*472*D8*20250115",
            "REF*6R*K000000001-1",
            "LX*2",
            "SV1*HC:96127*45.5*UN*2***2:1",
            "DTP*472*D8*20250115",
            "REF*6R*K000000001-2",
        ]
        claim = Claim.objects.get()
        assert (claim.status, claim.batch_id, claim.submitted_at) == (ClaimStatus.SUBMITTED, batch.pk, NOW)
        assert [h.status for h in claim.history.order_by("history_date")] == [ClaimStatus.READY, ClaimStatus.SUBMITTED]
        assert x12.claim_batch_export() is None  # nothing ready any more


def test_org_b_claims_are_never_in_org_a_batch(clinic, org_a, org_b):
    with as_tenant(org_b):
        b_claim = Claim.objects.get()
        b_member_line = "NM1*PR*2*PAYER CI*****PI*PCI"
    with as_tenant(org_a):
        batch = x12.claim_batch_export()
        assert batch is not None
        assert batch.content.count("CLM*") == 1
        assert Claim.objects.filter(pk=b_claim.pk).exists() is False
        assert b_member_line in batch.content  # org A's own payer, of the same name
    with as_tenant(org_b):
        b_claim.refresh_from_db()
        assert (b_claim.status, b_claim.batch_id) == (ClaimStatus.READY, None)
        assert ClaimBatch.objects.count() == 0
        assert ClaimLine.objects.filter(claim__organization=org_a).count() == 0


# --- lifecycle ----------------------------------------------------------------------------------------------------


def test_lifecycle_accepted_then_paid_records_the_payer_claim_control_number(clinic, org_a):
    with as_tenant(org_a):
        x12.claim_batch_export()
        claim = Claim.objects.get()
        claims.claim_status_set(claim=claim, status=ClaimStatus.ACCEPTED, payer_claim_control_number="2025123ABC")
        claims.claim_status_set(claim=claim, status=ClaimStatus.PARTLY_PAID)
        claims.claim_status_set(claim=claim, status=ClaimStatus.PAID)
        claim.refresh_from_db()
        assert (claim.status, claim.payer_claim_control_number) == (ClaimStatus.PAID, "2025123ABC")
        assert [h.status for h in claim.history.order_by("history_date")] == [
            "ready",
            "submitted",
            "accepted",
            "partly_paid",
            "paid",
        ]
        events = DomainEvent.objects.filter(subject_id=claim.pk).order_by("transaction_id", "id")
        assert [(e.event_type, e.data["status"]) for e in events] == [
            ("claim.status_changed", "submitted"),
            ("claim.status_changed", "accepted"),
            ("claim.status_changed", "partly_paid"),
            ("claim.status_changed", "paid"),
        ]


@pytest.mark.parametrize(
    ("path", "target", "message"),
    [
        ([], ClaimStatus.PAID, "A claim that is ready to send cannot become paid."),
        ([], ClaimStatus.ACCEPTED, "A claim that is ready to send cannot become accepted."),
        (["send"], ClaimStatus.PAID, "A claim that is submitted cannot become paid."),
        (["send"], ClaimStatus.DENIED, "A claim that is submitted cannot become denied."),
        (["send", ClaimStatus.REJECTED], ClaimStatus.ACCEPTED, "A claim that is rejected cannot become accepted."),
        (
            ["send", ClaimStatus.ACCEPTED, ClaimStatus.PAID],
            ClaimStatus.DENIED,
            "A claim that is paid cannot become denied.",
        ),
        (["send", ClaimStatus.ACCEPTED], ClaimStatus.READY, "A claim that is accepted cannot become ready to send."),
    ],
)
def test_invalid_transitions_are_refused_naming_the_problem_and_change_nothing(clinic, org_a, path, target, message):
    with as_tenant(org_a):
        claims.claims_prepare()
        claim = Claim.objects.get()
        for step in path:
            if step == "send":
                x12.claim_batch_export()
            else:
                claims.claim_status_set(claim=claim, status=step)
        claim.refresh_from_db()
        before = (claim.status, claim.batch_id, claim.history.count())
        with pytest.raises(ValidationError) as refused:
            claims.claim_status_set(claim=claim, status=target, payer_claim_control_number="X1")
        assert refused.value.message_dict == {"status": [message]}
        claim.refresh_from_db()
        assert (claim.status, claim.batch_id, claim.history.count()) == before
        assert claim.payer_claim_control_number == ""


def test_statuses_made_by_sending_or_replacing_are_not_set_by_hand(clinic, org_a):
    with as_tenant(org_a):
        claim = claims.claims_prepare()[0]
        for status in (ClaimStatus.SUBMITTED, ClaimStatus.CORRECTED, ClaimStatus.VOIDED):
            with pytest.raises(ValidationError) as refused:
                claims.claim_status_set(claim=claim, status=status)
            assert refused.value.message_dict == {"status": ["Send, correct or void the claim instead."]}
        with pytest.raises(ValidationError) as refused:
            claims.claim_status_set(claim=claim, status="lost")
        assert refused.value.message_dict == {"status": ["Unknown claim status."]}
        claim.refresh_from_db()
        assert claim.status == ClaimStatus.READY


def test_rejected_claim_is_sent_again_as_it_is(clinic, org_a):
    with as_tenant(org_a):
        first = x12.claim_batch_export()
        claim = Claim.objects.get()
        claims.claim_status_set(claim=claim, status=ClaimStatus.REJECTED)
        claims.claim_status_set(claim=claim, status=ClaimStatus.READY)
        second = x12.claim_batch_export()
        assert first is not None
        assert second is not None
        assert "CLM*K000000001*195.5***11:B:1*Y*A*Y*Y" in _segments(second)
        claim.refresh_from_db()
        assert (claim.status, claim.batch_id) == (ClaimStatus.SUBMITTED, second.pk)
        assert_valid_x12(second.content)


# --- corrected and void claims --------------------------------------------------------------------------------------


def _accepted(org) -> Claim:
    with as_tenant(org):
        x12.claim_batch_export()
        claim = Claim.objects.get()
        return claims.claim_status_set(claim=claim, status=ClaimStatus.ACCEPTED, payer_claim_control_number="ICN777")


def test_corrected_claim_replaces_the_original_with_frequency_7_and_ref_f8(clinic, org_a):
    original = _accepted(org_a)
    with as_tenant(org_a):
        claims.claim_status_set(claim=original, status=ClaimStatus.DENIED)
        replacement = claims.claim_correct(claim=original)
        batch = x12.claim_batch_export()
        assert batch is not None
        assert_valid_x12(batch.content)
        segments = _segments(batch)
        clm = segments.index("CLM*K000000002*195.5***11:B:7*Y*A*Y*Y")
        assert segments[clm + 1] == "REF*F8*ICN777"
        assert [s for s in segments if s.startswith("REF*6R")] == ["REF*6R*K000000002-1", "REF*6R*K000000002-2"]
        original.refresh_from_db()
        replacement.refresh_from_db()
        assert original.status == ClaimStatus.CORRECTED
        assert (replacement.status, replacement.original_claim_id) == (ClaimStatus.SUBMITTED, original.pk)
        # The charges follow the claim that now stands for them.
        assert set(LedgerEntry.objects.charges().values_list("claim_id", flat=True)) == {replacement.pk}


def test_void_claim_cancels_the_original_with_frequency_8_and_ref_f8(clinic, org_a):
    original = _accepted(org_a)
    with as_tenant(org_a):
        claims.claim_status_set(claim=original, status=ClaimStatus.PAID)
        void = claims.claim_void(claim=original)
        batch = x12.claim_batch_export()
        assert batch is not None
        assert_valid_x12(batch.content)
        segments = _segments(batch)
        clm = segments.index("CLM*K000000002*195.5***11:B:8*Y*A*Y*Y")
        assert segments[clm + 1] == "REF*F8*ICN777"
        original.refresh_from_db()
        assert original.status == ClaimStatus.VOIDED
        assert set(LedgerEntry.objects.charges().values_list("claim_id", flat=True)) == {original.pk}
        void.refresh_from_db()
        assert (void.frequency_code, void.status) == ("8", ClaimStatus.SUBMITTED)


def test_correcting_needs_the_payer_claim_control_number_and_an_adjudicable_claim(clinic, org_a):
    with as_tenant(org_a):
        claim = claims.claims_prepare()[0]
        with pytest.raises(ValidationError) as refused:
            claims.claim_correct(claim=claim)
        assert refused.value.message_dict == {
            "status": ["A claim that is ready to send cannot become corrected (replaced)."]
        }
        x12.claim_batch_export()
        claims.claim_status_set(claim=claim, status=ClaimStatus.ACCEPTED)
        with pytest.raises(ValidationError) as refused:
            claims.claim_void(claim=claim)
        assert list(refused.value.message_dict) == ["payer_claim_control_number"]
        assert Claim.objects.count() == 1
        claim.refresh_from_db()
        assert claim.status == ClaimStatus.ACCEPTED
        with pytest.raises(ValidationError) as refused:
            claims.claim_status_set(claim=claim, status=ClaimStatus.PAID, payer_claim_control_number="bad*number")
        assert list(refused.value.message_dict) == ["payer_claim_control_number"]


# --- insurance type, rendering provider, usage indicator -----------------------------------------------------------


def test_sbr09_is_the_payer_insurance_type_unless_the_policy_says_otherwise(org_a, org_b):
    with as_tenant(org_a):
        bf.provider()
        _one_visit(InsuranceType.MEDICARE_PART_B)
        _one_visit(InsuranceType.MEDICAID)
        _one_visit(InsuranceType.BLUE_CROSS_BLUE_SHIELD, insurance_type=InsuranceType.HMO)
        batch = x12.claim_batch_export()
        assert batch is not None
        assert_valid_x12(batch.content)
        sbr = [s for s in _segments(batch) if s.startswith("SBR")]
        assert sbr == ["SBR*P*18*******MB", "SBR*P*18*******MC", "SBR*P*18*******HM"]


def test_rendering_provider_has_its_own_taxonomy(org_a, org_b):
    with as_tenant(org_a):
        bf.provider(rendering_taxonomy_code="103T00000X")
        _one_visit()
        batch = x12.claim_batch_export()
        assert batch is not None
        segments = _segments(batch)
        assert "PRV*BI*PXC*207Q00000X" in segments
        rendering = segments.index("NM1*82*1*REYES*DANA****XX*1245319599")
        assert segments[rendering + 1] == "PRV*PE*PXC*103T00000X"
        assert_valid_x12(batch.content)


def test_files_are_test_data_until_the_organization_is_live(org_a, org_b):
    with as_tenant(org_a):
        bf.provider()
        _one_visit()
        test_batch = x12.claim_batch_export(now=NOW)
        services.billing_provider_save(is_live=True)
        _one_visit(InsuranceType.MEDICAID)
        live_batch = x12.claim_batch_export(now=NOW)
        assert test_batch is not None
        assert live_batch is not None
        assert (test_batch.usage_indicator, live_batch.usage_indicator) == ("T", "P")
        assert _segments(test_batch)[0].split("*")[15] == "T"
        assert _segments(live_batch)[0].split("*")[15] == "P"
        assert (test_batch.file_name, live_batch.file_name) == ("837P-000000001-TEST.x12", "837P-000000002.x12")
        # The usage indicator is all that differs: test claims go through the same lifecycle.
        assert set(Claim.objects.values_list("status", flat=True)) == {ClaimStatus.SUBMITTED}
        for batch in (test_batch, live_batch):
            assert_valid_x12(batch.content)


# --- the command --------------------------------------------------------------------------------------------------


def _command_clinic(slug: str):
    org = make_organization(slug)
    with as_tenant(org):
        bf.provider()
        _one_visit()
    return org


@pytest.mark.usefixtures("committed")
def test_command_test_flag_previews_and_changes_nothing(tmp_path, capsys):
    org = _command_clinic("preview-org")
    out = tmp_path / "preview.x12"
    call_command("export_837p", "--org", "preview-org", "--out", str(out), "--test")
    content = out.read_bytes().decode("ascii")
    assert content.startswith("ISA*")
    assert "*000000001*0*T*:~" in content
    assert content.count("CLM*K000000001*") == 1
    assert "REF*6R*K000000001-2" in content
    assert_valid_x12(content)
    assert "nothing was submitted" in capsys.readouterr().out
    with as_tenant(org):
        assert (Claim.objects.count(), ClaimLine.objects.count(), ClaimBatch.objects.count()) == (0, 0, 0)
        assert LedgerEntry.objects.unclaimed_insurance_charges().count() == 2


@pytest.mark.usefixtures("committed")
def test_command_submits_the_ready_claims(tmp_path, capsys):
    org = _command_clinic("submit-org")
    out = tmp_path / "claims.x12"
    call_command("export_837p", "--org", "submit-org", "--out", str(out))
    assert "Submitted 1 claim(s) in test interchange 000000001." in capsys.readouterr().out
    with as_tenant(org):
        claim = Claim.objects.get()
        batch = ClaimBatch.objects.get()
        assert (claim.status, claim.batch_id) == (ClaimStatus.SUBMITTED, batch.pk)
        assert out.read_bytes() == batch.file_bytes()
    call_command("export_837p", "--org", "submit-org", "--out", str(tmp_path / "again.x12"))
    assert "No claims ready to send: nothing written." in capsys.readouterr().out
    assert not (tmp_path / "again.x12").exists()


# --- the admin ---------------------------------------------------------------------------------------------------


def test_admin_production_batch_asks_for_confirmation_first(clinic, org_a):
    with as_tenant(org_a):
        services.billing_provider_save(is_live=True)
        some_id = str(LedgerEntry.objects.values_list("pk", flat=True).first())
    client = logged_in(add_member(org_a, Role.BILLING))
    body = {"action": "export_837p", "_selected_action": [some_id]}
    asked = client.post("/admin/billing/ledgerentry/", body)
    assert asked.status_code == 200
    page = asked.content.decode()
    assert "production data" in page
    assert "2 pending-insurance charge(s) are not on a claim yet" in page
    assert 'name="confirm_production" value="yes"' in page
    with as_tenant(org_a):
        assert (Claim.objects.count(), ClaimBatch.objects.count()) == (0, 0)
    sent = client.post("/admin/billing/ledgerentry/", {**body, "confirm_production": "yes"})
    assert sent.status_code == 200
    assert sent["Content-Disposition"] == 'attachment; filename="837P-000000001.x12"'
    assert sent.content.split(b"*")[15] == b"P"
    assert_valid_x12(sent.content.decode("ascii"))
    with as_tenant(org_a):
        batch = ClaimBatch.objects.get()
        assert Claim.objects.get().status == ClaimStatus.SUBMITTED
    # Stored, and downloadable again byte for byte.
    again = client.get(f"/admin/billing/claimbatch/{batch.pk}/download/")
    assert (again.status_code, again.content) == (200, sent.content)
    listing = client.get("/admin/billing/claimbatch/").content.decode()
    assert f"/admin/billing/claimbatch/{batch.pk}/download/" in listing


def test_admin_test_batch_needs_no_confirmation(clinic, org_a):
    with as_tenant(org_a):
        some_id = str(LedgerEntry.objects.values_list("pk", flat=True).first())
    client = logged_in(add_member(org_a, Role.BILLING))
    sent = client.post("/admin/billing/ledgerentry/", {"action": "export_837p", "_selected_action": [some_id]})
    assert sent["Content-Disposition"] == 'attachment; filename="837P-000000001-TEST.x12"'


def test_admin_correct_action_makes_a_replacement_and_front_desk_may_not(clinic, org_a):
    original = _accepted(org_a)
    body = {"action": "correct_claims", "_selected_action": [str(original.pk)]}
    front_desk = logged_in(add_member(org_a, Role.FRONT_DESK))
    front_desk.post("/admin/billing/claim/", body)
    with as_tenant(org_a):
        assert Claim.objects.count() == 1
    billing = logged_in(add_member(org_a, Role.BILLING))
    response = billing.post("/admin/billing/claim/", body)
    assert response.status_code == 302
    with as_tenant(org_a):
        original.refresh_from_db()
        assert original.status == ClaimStatus.CORRECTED
        assert Claim.objects.get(original_claim=original).frequency_code == "7"
