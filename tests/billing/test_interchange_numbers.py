"""One interchange control number counter per organization serves every outbound X12 file: a 270 and an 837P of
one organization never share an ISA13, and each organization counts on its own."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from apps.billing import eligibility, x12
from apps.billing.models import ClaimBatch, InterchangeCounter, TransactionType
from apps.organizations.roles import Role
from tests.billing import factories as bf
from tests.billing.x12_validation import validate_x12
from tests.conftest import as_tenant, make_organization
from tests.factories import PatientFactory


def _isa13(content: str) -> str:
    return content.split("~", 1)[0].split("*")[13]


def _gs06(content: str) -> str:
    return content.split("~", 2)[1].strip().split("*")[6]


def _insured(amount: int = 10_000):
    bf.provider()
    patient = PatientFactory()
    policy = bf.policy(patient, bf.payer())
    bf.charge(patient, amount, transaction_type=TransactionType.CLINICAL_SERVICE, insurance_policy=policy)
    return policy


def test_270s_and_837s_of_one_organization_draw_from_one_counter_and_organizations_count_apart(org_a, org_b):
    with as_tenant(org_a, Role.BILLING):
        policy = _insured()
        first_270 = eligibility.eligibility_check_request(policy=policy)
        batch = x12.claim_batch_export()
        assert batch is not None
        second_270 = eligibility.eligibility_check_request(policy=policy)
        bf.charge(policy.patient, 2_000, transaction_type=TransactionType.CLINICAL_SERVICE, insurance_policy=policy)
        second_batch = x12.claim_batch_export()
        assert second_batch is not None
        files = [first_270.request_content, batch.content, second_270.request_content, second_batch.content]
        assert [_isa13(content) for content in files] == ["000000001", "000000002", "000000003", "000000004"]
        assert [_gs06(content) for content in files] == ["1", "2", "3", "4"]
        assert (first_270.interchange_control_number, second_270.interchange_control_number) == (1, 3)
        assert (batch.interchange_control_number, second_batch.interchange_control_number) == (2, 4)
        # The 270's own number still makes its trace.
        assert (first_270.trace_number, second_270.trace_number) == ("E1", "E2")
        assert validate_x12(second_batch.content)[:2] == (True, [])
        assert list(InterchangeCounter.objects.values_list("last_number", flat=True)) == [4]
    with as_tenant(org_b, Role.FRONT_DESK):
        other = _insured()
        check = eligibility.eligibility_check_request(policy=other)
        assert _isa13(check.request_content) == "000000001"
        assert list(InterchangeCounter.objects.values_list("last_number", flat=True)) == [1]
    with as_tenant(org_a, Role.BILLING):
        assert list(InterchangeCounter.objects.values_list("last_number", flat=True)) == [4]


def test_the_counter_starts_after_the_numbers_sent_before_it_existed(org_a):
    with as_tenant(org_a, Role.BILLING):
        policy = _insured()
        ClaimBatch.objects.create(interchange_control_number=41, content="ISA~", usage_indicator="T")
        check = eligibility.eligibility_check_request(policy=policy)
        assert check.interchange_control_number == 42
        assert _isa13(check.request_content) == "000000042"


def test_a_preview_draws_no_number(org_a):
    with as_tenant(org_a, Role.BILLING):
        _insured()
        preview = x12.claim_batch_export(preview=True)
        assert preview is not None
        assert _isa13(preview.content) == "000000001"
        assert InterchangeCounter.objects.count() == 0
        sent = x12.claim_batch_export()
        assert sent is not None
        assert _isa13(sent.content) == "000000001"


def test_a_coach_cannot_read_or_draw_the_counter(org_a):
    with as_tenant(org_a, Role.BILLING):
        _insured()
        x12.claim_batch_export()
    with as_tenant(org_a, Role.COACH), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM billing_interchangecounter")
        assert cursor.fetchone() == (0,)
        cursor.execute("UPDATE billing_interchangecounter SET last_number = 0")
        assert cursor.rowcount == 0
    with as_tenant(org_a, Role.BILLING):
        assert list(InterchangeCounter.objects.values_list("last_number", flat=True)) == [1]


@pytest.mark.usefixtures("committed")
def test_concurrent_270s_and_an_837_of_one_organization_never_share_a_number():
    """The first draws race to create the counter, then queue on its row: five files, five numbers."""
    org = make_organization("race-org")
    with as_tenant(org, Role.BILLING):
        policy = _insured()
    drawn: list[int] = []
    barrier = threading.Barrier(5)

    def ask() -> None:
        try:
            barrier.wait()
            with as_tenant(org, Role.FRONT_DESK):
                check = eligibility.eligibility_check_request(policy=policy)
            drawn.append(int(_isa13(check.request_content)))
        finally:
            connections.close_all()

    def send() -> None:
        try:
            barrier.wait()
            with as_tenant(org, Role.BILLING):
                batch = x12.claim_batch_export()
            assert batch is not None
            drawn.append(int(_isa13(batch.content)))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=ask) for _ in range(4)] + [threading.Thread(target=send)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(drawn) == [1, 2, 3, 4, 5]
    with as_tenant(org, Role.BILLING):
        assert list(InterchangeCounter.objects.values_list("last_number", flat=True)) == [5]
