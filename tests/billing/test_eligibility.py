"""Eligibility: the 270 asked from check-in and sent by the job to a real SFTP server on loopback, the 271 fetched
by the receive job and shown at check-in; answers naming another organization's or an unknown trace change
nothing; a malformed 271 is refused and stores nothing; organizations apart.

pyx12 has no 005010X279A1 map, so the 270's structure is checked here segment by segment (counts in SE01, GE01
and IEA01, control numbers matching)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.billing import eligibility, x12_answers
from apps.billing.models import ClearinghouseFile, EligibilityCheck, InsurancePolicy, Payer
from apps.organizations.models import Organization
from apps.organizations.roles import Role
from apps.patients.models import Patient
from apps.scheduling.models import Appointment
from tests.billing import factories as bf
from tests.billing.exchange import connect, drop_answer, jobs
from tests.billing.x12_builders import build_271
from tests.conftest import add_member, as_tenant, logged_in, make_organization, phi_access_log
from tests.scheduling.factories import Clinic, make_clinic
from tests.worker import run_worker

CHECK_IN = "/admin/scheduling/appointment/{}/check-in/"
ASK = "/admin/scheduling/appointment/{}/eligibility/"


def _insured_visit(org: Organization, member_id: str = "XJ1234567") -> tuple[Clinic, Appointment, InsurancePolicy]:
    """A clinic with a billing provider, an insured patient (payer Acme Health, ACME1) and a visit starting now."""
    clinic = make_clinic(org)
    with as_tenant(org):
        Patient.objects.filter(pk=clinic.patient.pk).update(given_name="Lucía", family_name="Okafor")
        clinic.patient.refresh_from_db()
    with as_tenant(org, Role.BILLING):
        bf.provider()
        policy = bf.policy(clinic.patient, bf.payer(), member_id=member_id)
    start = timezone.now().replace(microsecond=0)
    with as_tenant(org):
        appointment = Appointment.objects.create(
            patient=clinic.patient,
            provider=clinic.provider,
            appointment_type=clinic.therapy,
            starts_at=start,
            ends_at=start + dt.timedelta(minutes=50),
        )
    return clinic, appointment, policy


def _segments(content: str) -> list[list[str]]:
    return [raw.strip().split("*") for raw in content.split("~") if raw.strip()]


def _checks() -> list[tuple[str, str, int | None, Decimal | None, int | None, bool]]:
    return [
        (
            c.trace_number,
            c.status,
            c.copay_cents,
            c.coinsurance_percent,
            c.deductible_remaining_cents,
            c.answered_at is not None,
        )
        for c in EligibilityCheck.objects.order_by("number")
    ]


def _assert_270_structure(content: str, *, control_number: int) -> list[list[str]]:
    """The 270's envelope: one interchange, one HS group, one 005010X279A1 set, counts and control numbers."""
    segments = _segments(content)
    ids = [s[0] for s in segments]
    assert (ids[0], ids[-1]) == ("ISA", "IEA")
    assert [ids.count(x) for x in ("ISA", "GS", "ST", "SE", "GE", "IEA")] == [1, 1, 1, 1, 1, 1]
    isa, gs, st = segments[0], segments[1], segments[2]
    se, ge, iea = segments[-3], segments[-2], segments[-1]
    assert len("*".join(isa)) == 105  # the fixed-width ISA (its terminator is the 106th character)
    assert (isa[13], isa[15]) == (f"{control_number:09d}", "T")
    assert (gs[1], gs[6], gs[8]) == ("HS", str(control_number), "005010X279A1")
    assert st == ["ST", "270", "0001", "005010X279A1"]
    assert se == ["SE", str(ids.index("SE") - ids.index("ST") + 1), "0001"]
    assert ge == ["GE", "1", str(control_number)]
    assert iea == ["IEA", "1", f"{control_number:09d}"]
    assert segments[3][:3] == ["BHT", "0022", "13"]
    assert [s[1:] for s in segments if s[0] == "HL"] == [
        ["1", "", "20", "1"],
        ["2", "1", "21", "1"],
        ["3", "2", "22", "0"],
    ]
    return segments


@pytest.mark.usefixtures("committed")
def test_eligibility_round_trip_through_the_clearinghouse_shows_the_answer_at_check_in(server):
    org, other = make_organization("org-a"), make_organization("org-b")
    account, other_account = server.add_account("clinic-a"), server.add_account("clinic-b")
    clinic, appointment, policy = _insured_visit(org)
    _, other_appointment, _ = _insured_visit(other, member_id="ZZ7654321")
    connect(org, server, account)
    connect(other, server, other_account)
    desk = logged_in(add_member(org, Role.FRONT_DESK))

    page = desk.get(CHECK_IN.format(appointment.pk)).content.decode()
    assert "Coverage</th><td><strong>not checked yet" in page
    assert f'action="{ASK.format(appointment.pk)}"' in page

    # Asked from check-in: the check is recorded and the send job queued; the job puts the 270 on the server.
    asked = desk.post(ASK.format(appointment.pk))
    assert (asked.status_code, asked["Location"]) == (302, CHECK_IN.format(appointment.pk))
    assert jobs("eligibility_send") == [(str(org.pk), "todo")]
    run_worker()
    assert jobs("eligibility_send") == [(str(org.pk), "succeeded")]
    with as_tenant(org, Role.BILLING):
        check = EligibilityCheck.objects.get()
        assert (check.policy_id, check.trace_number, check.uploaded_at is not None) == (policy.pk, "E1", True)
        assert _checks() == [("E1", "pending", None, None, None, False)]
    files = account.files("inbound")
    assert list(files) == ["270-000000001.x12"]
    content = files["270-000000001.x12"].decode("ascii")
    assert content == check.request_content
    segments = _assert_270_structure(content, control_number=1)
    assert ["NM1", "PR", "2", "ACME HEALTH", "", "", "", "", "PI", "ACME1"] in segments
    assert ["NM1", "1P", "2", "HARBOR FAMILY CLINIC LLC", "", "", "", "", "XX", bf.PROVIDER_FIELDS["npi"]] in segments
    assert ["NM1", "IL", "1", "OKAFOR", "LUCIA", "", "", "", "MI", "XJ1234567"] in segments
    assert ["DMG", "D8", clinic.patient.date_of_birth.strftime("%Y%m%d")] == next(s for s in segments if s[0] == "DMG")[
        :3
    ]
    assert ["TRN", "1", "E1", "1" + bf.PROVIDER_FIELDS["tax_id"]] in segments
    assert ["EQ", "30"] in segments
    assert [s[:3] for s in segments if s[0] == "DTP"] == [["DTP", "291", "D8"]]
    assert other_account.files("inbound") == {}  # the other organization's account holds nothing of it

    # The payer answers; the receive job imports the 271 (and one naming an unknown trace, which changes nothing).
    drop_answer(
        account,
        "elig-1.271",
        build_271(trace="E1", copay_cents=2_500, coinsurance="0.2", deductible_remaining_cents=75_000),
        minute=1,
    )
    drop_answer(account, "elig-9.271", build_271(trace="E9", active=False, control_number=709), minute=2)
    from apps.billing import tasks

    tasks.clearinghouse_receive.defer(organization_id=str(org.pk))
    run_worker()
    with as_tenant(org, Role.BILLING):
        assert _checks() == [("E1", "active", 2_500, Decimal("20.00"), 75_000, True)]
        kinds = sorted(ClearinghouseFile.objects.values_list("kind", "outcome"), key=str)
        assert kinds == [
            ("271", {"answered": ["E1"], "unmatched": [], "not_waiting": []}),
            ("271", {"answered": [], "unmatched": ["E9"], "not_waiting": []}),
        ]
    assert sorted(account.files("processed")) == ["elig-1.271", "elig-9.271"]

    page = desk.get(CHECK_IN.format(appointment.pk)).content.decode()
    assert "Coverage</th><td>active</td>" in page
    assert "Copay</th><td>25.00 USD</td>" in page
    assert "Coinsurance</th><td>20 %</td>" in page
    assert "Deductible left</th><td>750.00 USD</td>" in page
    assert f"Asked</th><td>{timezone.localtime(check.asked_at, clinic.zone):%-d %B %Y, %H:%M}" in page

    # The other organization: none of it, and its staff cannot ask about (or see) the first's patient.
    other_desk = logged_in(add_member(other, Role.FRONT_DESK))
    assert other_desk.post(ASK.format(appointment.pk)).status_code == 404
    other_page = other_desk.get(CHECK_IN.format(other_appointment.pk)).content.decode()
    assert "Coverage</th><td><strong>not checked yet" in other_page
    with as_tenant(other, Role.BILLING):
        assert (EligibilityCheck.objects.count(), ClearinghouseFile.objects.count()) == (0, 0)
    with as_tenant(org, Role.BILLING):
        assert EligibilityCheck.objects.count() == 1


def test_a_271_for_another_organizations_or_an_unknown_trace_changes_nothing(org_a, org_b):
    _, _, policy_a = _insured_visit(org_a)
    _, _, policy_b = _insured_visit(org_b)
    with as_tenant(org_a, Role.FRONT_DESK):
        eligibility.eligibility_check_request(policy=policy_a)
    with as_tenant(org_b, Role.FRONT_DESK):
        eligibility.eligibility_check_request(policy=policy_b)
        eligibility.eligibility_check_request(policy=policy_b)
    with as_tenant(org_b, Role.BILLING):
        assert [c.trace_number for c in EligibilityCheck.objects.order_by("number")] == ["E1", "E2"]

    # Organization B's check E2 does not exist in A: A's import of an answer to it finds nothing.
    with as_tenant(org_a, Role.BILLING):
        result = x12_answers.clearinghouse_file_import(content=build_271(trace="E2").encode("ascii"))
        assert result.file.outcome == {"answered": [], "unmatched": ["E2"], "not_waiting": []}
        result = x12_answers.clearinghouse_file_import(content=build_271(trace="X77", control_number=702).encode())
        assert result.file.outcome == {"answered": [], "unmatched": ["X77"], "not_waiting": []}
        assert _checks() == [("E1", "pending", None, None, None, False)]
    with as_tenant(org_b, Role.BILLING):
        assert _checks() == [
            ("E1", "pending", None, None, None, False),
            ("E2", "pending", None, None, None, False),
        ]
        assert ClearinghouseFile.objects.count() == 0

    # Answered once: a second answer to the same check (another file) changes nothing.
    with as_tenant(org_a, Role.BILLING):
        x12_answers.clearinghouse_file_import(content=build_271(trace="E1", active=False, control_number=703).encode())
        again = x12_answers.clearinghouse_file_import(
            content=build_271(trace="E1", copay_cents=1, control_number=704).encode()
        )
        assert again.file.outcome == {"answered": [], "unmatched": [], "not_waiting": ["E1"]}
        assert _checks() == [("E1", "inactive", None, None, None, True)]


def _broken(content: str, old: str, new: str) -> bytes:
    assert old in content
    return content.replace(old, new, 1).encode("ascii")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "SE*15*0001",
            "SE*14*0001",
            "Segment SE: SE01 must count the transaction set's segments and SE02 repeat ST02.",
        ),
        ("GE*1*701", "GE*1*702", "Segment GE: GE01 must count one transaction set and GE02 repeat GS06."),
        ("IEA*1*000000701", "IEA*1*000000702", "Segment IEA: IEA01 must count one group and IEA02 repeat ISA13."),
        ("TRN*2*E1*", "TRN*1*E1*", "The 271 has no trace (TRN*2) answering a 270."),
        (
            "EB*B**30****25",
            "EB*B**30****-25",
            "Segment EB at position 14, element EB07: the amount is not a non-negative X12 decimal.",
        ),
        (
            "EB*B**30****25",
            "EB*B**30****99999999999",
            "Segment EB at position 14, element EB07: the amount is not a non-negative X12 decimal.",
        ),
        (
            "EB*A**30*****0.2",
            "EB*A**30*****1.5",
            "Segment EB at position 15, element EB08: the percentage is not a fraction between 0 and 1.",
        ),
        ("EB*1**30", "EB*ZZ**30", "Segment EB at position 13, element EB01: not an eligibility or benefit code."),
    ],
)
def test_a_malformed_271_is_refused_with_a_clear_error_and_stores_nothing(org_a, org_b, old, new, message):
    _, _, policy = _insured_visit(org_a)
    with as_tenant(org_a, Role.FRONT_DESK):
        eligibility.eligibility_check_request(policy=policy)
    good = build_271(trace="E1", copay_cents=2_500, coinsurance="0.2", deductible_remaining_cents=75_000)
    with as_tenant(org_a, Role.BILLING):
        with pytest.raises(ValidationError) as refused:
            x12_answers.clearinghouse_file_import(content=_broken(good, old, new))
        assert refused.value.message_dict == {"file": [message]}
        assert _checks() == [("E1", "pending", None, None, None, False)]
        assert ClearinghouseFile.objects.count() == 0
        # The same answer well formed is applied.
        x12_answers.clearinghouse_file_import(content=good.encode("ascii"))
        assert _checks() == [("E1", "active", 2_500, Decimal("20.00"), 75_000, True)]


def test_a_dependents_270_names_the_subscriber_then_the_patient(org_a):
    clinic, _, old = _insured_visit(org_a)
    with as_tenant(org_a, Role.BILLING):
        InsurancePolicy.objects.filter(pk=old.pk).update(is_active=False)
        policy = bf.policy(
            clinic.patient,
            Payer.objects.get(),
            subscriber_relationship=InsurancePolicy.Relationship.CHILD,
            subscriber_given_name="Ana",
            subscriber_family_name="Núñez",
        )
    with as_tenant(org_a, Role.FRONT_DESK):
        first = eligibility.eligibility_check_request(policy=policy)
        second = eligibility.eligibility_check_request(policy=policy)
    assert (first.number, second.number, second.trace_number) == (1, 2, "E2")
    segments = _segments(second.request_content)
    ids = [s[0] for s in segments]
    assert [s[1:] for s in segments if s[0] == "HL"] == [
        ["1", "", "20", "1"],
        ["2", "1", "21", "1"],
        ["3", "2", "22", "1"],
        ["4", "3", "23", "0"],
    ]
    assert ["NM1", "IL", "1", "NUNEZ", "ANA", "", "", "", "MI", "XJ1234567"] in segments
    assert ["NM1", "03", "1", "OKAFOR", "LUCIA"] in segments
    assert segments[ids.index("TRN") - 1][:4] == ["HL", "4", "3", "23"]
    assert segments[-1] == ["IEA", "1", "000000002"]
    assert segments[-3] == ["SE", str(ids.index("SE") - ids.index("ST") + 1), "0001"]


def test_asking_is_for_owner_front_desk_and_billing_and_a_denied_ask_changes_nothing(org_a):
    clinic, appointment, _ = _insured_visit(org_a)
    for role in (Role.CLINICIAN, Role.COACH):
        response = logged_in(add_member(org_a, role)).post(ASK.format(appointment.pk))
        assert response.status_code == 403
    clinician_page = logged_in(clinic.provider_user).get(CHECK_IN.format(appointment.pk)).content.decode()
    assert "Deductible" not in clinician_page
    assert "Ask the payer again" not in clinician_page
    with as_tenant(org_a, Role.BILLING):
        assert EligibilityCheck.objects.count() == 0
    for role in (Role.OWNER, Role.FRONT_DESK, Role.BILLING):
        assert logged_in(add_member(org_a, role)).post(ASK.format(appointment.pk)).status_code == 302
    with as_tenant(org_a, Role.BILLING):
        assert [c.trace_number for c in EligibilityCheck.objects.order_by("number")] == ["E1", "E2", "E3"]


ELIGIBILITY_LIST = "/admin/billing/eligibilitycheck/"


def test_the_eligibility_list_shows_each_check_and_its_answer_to_the_people_who_take_the_money(org_a, org_b):
    clinic_a, _, policy_a = _insured_visit(org_a, member_id="XJ1234567")
    clinic_b, _, policy_b = _insured_visit(org_b, member_id="ZZ7654321")
    with as_tenant(org_a, Role.FRONT_DESK):
        eligibility.eligibility_check_request(policy=policy_a)
    with as_tenant(org_b, Role.FRONT_DESK):
        eligibility.eligibility_check_request(policy=policy_b)
    with as_tenant(org_a, Role.BILLING):
        answer = build_271(trace="E1", copay_cents=2500, coinsurance="0.2", deductible_remaining_cents=40000)
        x12_answers.clearinghouse_file_import(content=answer.encode("ascii"))
        patient_a = Patient.objects.get(pk=clinic_a.patient.pk)
    with as_tenant(org_b):
        name_b = Patient.objects.get(pk=clinic_b.patient.pk).display_name

    for role in (Role.BILLING, Role.FRONT_DESK, Role.OWNER):
        page = logged_in(add_member(org_a, role)).get(ELIGIBILITY_LIST)
        assert page.status_code == 200
        rows = [
            (c.policy.patient.display_name, c.status, c.copay_cents, c.deductible_remaining_cents)
            for c in page.context["cl"].result_list
        ]
        assert rows == [(patient_a.display_name, "active", 2500, 40000)]
        html = page.content.decode()
        for shown in ("*****4567", "25.00", "20 %", "400.00", "Acme Health"):
            assert shown in html
        assert "XJ1234567" not in html
        assert name_b not in html
        assert "7654321" not in html
    # Reading it is a read of the patient's record.
    assert phi_access_log(org_a)[-1][:3] == (patient_a.pk, "patient", 1)

    # Clinicians do not take the money; nobody adds or edits a check by hand.
    assert logged_in(add_member(org_a, Role.CLINICIAN)).get(ELIGIBILITY_LIST).status_code == 403
    billing = logged_in(add_member(org_a, Role.BILLING))
    assert billing.get(ELIGIBILITY_LIST + "add/").status_code == 403
    with as_tenant(org_a, Role.BILLING):
        check = EligibilityCheck.objects.get()
    change = billing.post(f"{ELIGIBILITY_LIST}{check.pk}/change/", {"status": "inactive"})
    assert change.status_code == 403
    with as_tenant(org_a, Role.BILLING):
        assert EligibilityCheck.objects.get().status == "active"
