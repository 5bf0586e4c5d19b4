"""837P export: claims per encounter and payer, envelopes and counts, validated by pyx12, never re-sent."""

import datetime as dt

import pytest
from django.core.management import call_command

from apps.billing import x12
from apps.billing.models import Claim, ClaimBatch, InsurancePolicy, LedgerEntry, TransactionType
from apps.clinical.models import Encounter
from apps.organizations.roles import Role
from tests.billing import factories as bf
from tests.billing.x12_validation import validate_x12
from tests.conftest import add_member, as_tenant, logged_in, make_organization
from tests.factories import PatientFactory

CLINICAL = TransactionType.CLINICAL_SERVICE


def test_validator_reports_errors_for_a_broken_file(claims_setup, org_a):
    """The check itself can fail: a claim without its billing-provider address is refused."""
    with as_tenant(org_a):
        batch = x12.claim_batch_export()
        assert batch is not None
        broken = "\n".join(line for line in batch.content.splitlines() if not line.startswith("N3*100"))
        ok, errors, _ = validate_x12(broken)
        assert ok is False
        assert errors != []


@pytest.fixture
def claims_setup(org_a, org_b):
    """Org A: two patients, two payers, three encounters (one with a non-self subscriber), retail noise."""
    with as_tenant(org_b):
        bf.provider()
        b_patient = PatientFactory()
        bf.charge(b_patient, 5_000, transaction_type=CLINICAL, insurance_policy=bf.policy(b_patient, bf.payer()))
    with as_tenant(org_a):
        bf.provider()
        acme, blue = bf.payer("Acme Health", "ACME1"), bf.payer("Blue Shield*", "BS123")
        ann = PatientFactory(
            given_name="Ann",
            family_name="O'Neil",
            sex_at_birth="female",
            address_line1="7 Lake Road",
            address_line2="Apt 2",
            city="Seattle",
            region="wa",
            postal_code="98101-1234",
        )
        ben = PatientFactory(sex_at_birth="male", address_line1="1 Far Away", city="Lyon", country="FR")
        ann_acme = bf.policy(ann, acme, group_number="GRP-1")
        ben_blue = bf.policy(
            ben,
            blue,
            subscriber_relationship=InsurancePolicy.Relationship.CHILD,
            subscriber_given_name="Carl",
            subscriber_family_name="Parent",
        )
        visit1, visit2 = bf.encounter(ann), bf.encounter(ann, place="10")
        bf.charge(ann, 15_000, transaction_type=CLINICAL, insurance_policy=ann_acme, encounter=visit1)
        bf.charge(
            ann,
            4_550,
            transaction_type=CLINICAL,
            insurance_policy=ann_acme,
            encounter=visit1,
            metadata={
                "cpt_code": "96127",
                "units": 2,
                "diagnosis_codes": ["F41.1", "F43.10"],
                "diagnosis_pointers": [1, 2],
            },
        )
        bf.charge(
            ann,
            12_000,
            transaction_type=CLINICAL,
            insurance_policy=ann_acme,
            encounter=visit2,
            metadata={"cpt_code": "90837", "diagnosis_codes": ["F43.10"]},
        )
        bf.charge(ben, 20_000, transaction_type=CLINICAL, insurance_policy=ben_blue, service_date=dt.date(2025, 2, 3))
        bf.charge(ben, 9_000, transaction_type=CLINICAL)  # self-pay: never claimed
        bf.charge(ben, 3_000)  # retail
    return {"ann": ann, "ben": ben}


def test_export_groups_claims_and_passes_pyx12(claims_setup, org_a):
    with as_tenant(org_a):
        batch = x12.claim_batch_export(now=dt.datetime(2025, 3, 1, 9, 30, tzinfo=dt.UTC))
        assert batch is not None
        ok, errors, ack = validate_x12(batch.content)
        assert errors == []
        assert ok is True
        assert "IK5*A" in ack
        assert "AK9*A*1*1*1" in ack
        claims = Claim.objects.order_by("submitter_claim_id")
        assert [(c.total_cents, c.payer.payer_id) for c in claims] == [
            (19_550, "ACME1"),
            (12_000, "ACME1"),
            (20_000, "BS123"),
        ]
        segments = batch.content.strip().split("~\n")
        ids = [s.split("*")[0] for s in segments]
        assert (ids.count("CLM"), ids.count("SV1")) == (3, 4)
        assert segments[0].startswith("ISA*00*")
        assert segments[0].endswith("*000000001*0*T*:")  # test data until the organization is live
        assert segments[1].split("*")[6] == "1"
        st, se = ids.index("ST"), ids.index("SE")
        assert segments[se] == f"SE*{se - st + 1}*0001"
        assert segments[-2:] == ["GE*1*1", "IEA*1*000000001~"] or segments[-2:] == ["GE*1*1", "IEA*1*000000001"]
        assert "CLM*K000000001*195.5***11:B:1*Y*A*Y*Y" in segments
        assert "HI*ABK:F4310*ABF:F411" in segments
        assert "SV1*HC:96127*45.5*UN*2***2:1" in segments
        assert "PAT*19" in segments
        # Ann is her own subscriber: her own address (not the card's) and sex; Ben's foreign address falls back
        # to the card's, and his sex is M.
        assert "N3*7 LAKE ROAD*APT 2" in segments
        assert "N4*SEATTLE*WA*981011234" in segments
        assert "DMG*D8*19800517*F" in segments
        assert "DMG*D8*19800517*M" in segments
        assert "N3*1 FAR AWAY" not in segments
        # Visit 2 was a telehealth visit: the encounter's place of service is on its claim.
        assert "CLM*K000000002*120***10:B:1*Y*A*Y*Y" in segments
        assert {c.encounter_id for c in claims} - {None} == {e.pk for e in Encounter.objects.all()}
        assert "NM1*PR*2*BLUE SHIELD*****PI*BS123" in segments
        claimed = LedgerEntry.objects.filter(claim__isnull=False)
        assert claimed.count() == 4
        assert all(c.history.first().claim_id == c.claim_id for c in claimed)


def test_second_export_does_not_resend_and_numbers_increase(claims_setup, org_a):
    with as_tenant(org_a):
        first = x12.claim_batch_export()
        assert x12.claim_batch_export() is None
        bf.charge(
            claims_setup["ann"],
            8_000,
            transaction_type=CLINICAL,
            insurance_policy=InsurancePolicy.objects.get(patient=claims_setup["ann"]),
        )
        second = x12.claim_batch_export()
        assert second is not None
        assert first is not None
        assert second.interchange_control_number == first.interchange_control_number + 1
        assert second.content.count("CLM*") == 1
        assert validate_x12(second.content)[:2] == (True, [])


def test_export_sends_only_own_organization(claims_setup, org_a, org_b):
    with as_tenant(org_a):
        x12.claim_batch_export()
    with as_tenant(org_b):
        assert LedgerEntry.objects.filter(claim__isnull=False).count() == 0
        batch = x12.claim_batch_export()
        assert batch is not None
        assert batch.content.count("CLM*") == 1
        assert ClaimBatch.objects.count() == 1


@pytest.mark.usefixtures("committed")
def test_export_command_writes_file(tmp_path):
    org = make_organization("cmd-org")
    with as_tenant(org):
        bf.provider()
        patient = PatientFactory()
        the_policy = bf.policy(patient, bf.payer())
        for _ in range(3):
            bf.charge(
                patient, 5_000, transaction_type=CLINICAL, insurance_policy=the_policy, encounter=bf.encounter(patient)
            )
    out = tmp_path / "claims.x12"
    call_command("export_837p", "--org", "cmd-org", "--out", str(out))
    content = out.read_text()
    assert content.count("CLM*") == 3
    assert validate_x12(content)[:2] == (True, [])


def test_admin_action_downloads_837p_and_marks_charges(claims_setup, org_a):
    client = logged_in(add_member(org_a, Role.BILLING))
    with as_tenant(org_a):
        some_id = LedgerEntry.objects.values_list("pk", flat=True).first()
    response = client.post("/admin/billing/ledgerentry/", {"action": "export_837p", "_selected_action": [str(some_id)]})
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="837P-000000001-TEST.x12"'
    assert validate_x12(response.content.decode())[:2] == (True, [])
    with as_tenant(org_a):
        assert LedgerEntry.objects.filter(claim__isnull=False).count() == 4
    coach = logged_in(add_member(org_a, Role.COACH))
    denied = coach.post("/admin/billing/ledgerentry/", {"action": "export_837p", "_selected_action": [str(some_id)]})
    assert denied.status_code == 403
