"""Importing the clearinghouse's 999 and 277CA answers: claims accepted or rejected, the payer's claim control
number recorded, invalid files refused with pyx12's segment and line, every file applied once."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connections

from apps.billing import claims, x12, x12_answers
from apps.billing.models import Claim, ClaimBatch, ClaimStatus, ClearinghouseFile, TransactionType
from apps.organizations.roles import Role
from tests.billing import factories as bf
from tests.billing.x12_builders import ClaimAnswer, build_277ca, build_999
from tests.billing.x12_validation import validate_x12
from tests.conftest import add_member, as_tenant, logged_in, make_organization
from tests.factories import PatientFactory

CLINICAL = TransactionType.CLINICAL_SERVICE


def _visits(count: int) -> None:
    payer = bf.payer()
    for _ in range(count):
        patient = PatientFactory()
        policy = bf.policy(patient, payer)
        bf.charge(patient, 9_000, transaction_type=CLINICAL, insurance_policy=policy, encounter=bf.encounter(patient))


def _sent(count: int = 2) -> ClaimBatch:
    bf.provider()
    _visits(count)
    batch = x12.claim_batch_export()
    assert batch is not None
    return batch


def _import(text: str) -> x12_answers.ImportResult:
    return x12_answers.clearinghouse_file_import(content=text.encode("ascii"))


def _statuses() -> dict[str, tuple[str, str]]:
    return {c.submitter_claim_id: (c.status, c.payer_claim_control_number) for c in Claim.objects.all()}


@pytest.fixture
def sent(org_a, org_b):
    """Org A and org B each sent a batch of two claims (the same claim ids, K000000001 and K000000002)."""
    with as_tenant(org_b):
        _sent()
    with as_tenant(org_a):
        return _sent()


def test_builders_write_files_pyx12_accepts():
    for content in (
        build_999(group_control_number=1),
        build_999(group_control_number=1, accepted=False),
        build_277ca([ClaimAnswer("K000000001", 9_000, payer_claim_control_number="ICN1")]),
        build_277ca([ClaimAnswer("K000000001", 9_000, category="A7", status_code="562")]),
    ):
        assert validate_x12(content)[:2] == (True, [])


def test_277ca_accepts_and_rejects_claims_and_records_the_payer_number(sent, org_a, org_b):
    answer = build_277ca(
        [
            ClaimAnswer("K000000001", 9_000, payer_claim_control_number="2025062ABC01"),
            ClaimAnswer("K000000002", 9_000, category="A7", status_code="562"),
            ClaimAnswer("K000000099", 5_000),
        ]
    )
    with as_tenant(org_a):
        result = _import(answer)
        assert result.created is True
        assert result.file.kind == "277CA"
        assert result.file.outcome == {
            "accepted": ["K000000001"],
            "rejected": ["K000000002"],
            "unmatched": ["K000000099"],
            "not_waiting": [],
        }
        assert _statuses() == {
            "K000000001": (ClaimStatus.ACCEPTED, "2025062ABC01"),
            "K000000002": (ClaimStatus.REJECTED, ""),
        }
    with as_tenant(org_b):
        # Org B's claims of the same ids are untouched, and org A's file is not listed to it.
        assert _statuses() == {"K000000001": ("submitted", ""), "K000000002": ("submitted", "")}
        assert ClearinghouseFile.objects.count() == 0


def test_the_same_file_is_applied_once(sent, org_a):
    answer = build_277ca([ClaimAnswer("K000000001", 9_000, category="A7", status_code="562")])
    with as_tenant(org_a):
        first = _import(answer)
        claim = Claim.objects.get(submitter_claim_id="K000000001")
        claims.claim_status_set(claim=claim, status=ClaimStatus.READY)  # fixed, to be sent again
        second = _import(answer)
        assert (first.created, second.created, second.file.pk) == (True, False, first.file.pk)
        claim.refresh_from_db()
        assert claim.status == ClaimStatus.READY  # not rejected a second time
        assert ClearinghouseFile.objects.count() == 1


def test_999_rejection_rejects_the_batch_claims(sent, org_a):
    with as_tenant(org_a):
        result = _import(build_999(group_control_number=sent.interchange_control_number, accepted=False))
        assert result.file.outcome == {
            "batches": [1],
            "unmatched_batches": [],
            "rejected_claims": ["K000000001", "K000000002"],
        }
        assert {s for s, _ in _statuses().values()} == {ClaimStatus.REJECTED}
        sent.refresh_from_db()
        assert sent.acknowledgement == "rejected"


def test_999_acceptance_marks_the_batch_and_leaves_claims_submitted(sent, org_a):
    with as_tenant(org_a):
        result = _import(build_999(group_control_number=1))
        assert result.file.outcome["batches"] == [1]
        sent.refresh_from_db()
        assert sent.acknowledgement == "accepted"
        assert {s for s, _ in _statuses().values()} == {ClaimStatus.SUBMITTED}
        unknown = _import(build_999(group_control_number=77, control_number=502))
        assert unknown.file.outcome["unmatched_batches"] == ["77"]


def test_answer_for_a_claim_not_waiting_changes_nothing(sent, org_a):
    with as_tenant(org_a):
        _import(build_277ca([ClaimAnswer("K000000001", 9_000, payer_claim_control_number="ICN1")]))
        late = _import(build_277ca([ClaimAnswer("K000000001", 9_000, category="A7")], control_number=602))
        assert late.file.outcome["not_waiting"] == ["K000000001"]
        assert _statuses()["K000000001"] == (ClaimStatus.ACCEPTED, "ICN1")


@pytest.mark.parametrize(
    ("broken", "expected"),
    [
        (
            lambda f: f.replace("DTP*472*D8*20250115", "DTP*472*D8*2025011"),
            'Segment DTP at line 24, element DTP03: Data element "Claim Service Period" (DTP03) contains an '
            "invalid date (error code 8)",
        ),
        (
            lambda f: f.replace("NM1*QC*1*DOE*JANE****MI*XJ1234567~\n", ""),
            'Segment NM1 at line 21: Mandatory loop "Patient Name" (2100D) missing (error code 3)',
        ),
    ],
)
def test_invalid_file_is_refused_with_pyx12_segment_and_line_storing_nothing(sent, org_a, broken, expected):
    content = broken(build_277ca([ClaimAnswer("K000000001", 9_000)]))
    with as_tenant(org_a):
        with pytest.raises(ValidationError) as refused:
            _import(content)
        messages = refused.value.message_dict["file"]
        assert any(m.startswith(expected) for m in messages), messages
        assert "2025011" not in " ".join(messages)  # the offending value is never echoed
        assert ClearinghouseFile.objects.count() == 0
        assert {s for s, _ in _statuses().values()} == {ClaimStatus.SUBMITTED}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"hello", "Not an X12 interchange (it must start with an ISA segment)."),
        ("ISA*Lucía".encode(), "Not an X12 file: it holds characters outside ASCII."),
        (
            build_999(group_control_number=1).replace("ST*999", "ST*835").encode(),
            "Only 999, 277CA (005010X214), 835 and 271 (005010X279A1) files can be imported.",
        ),
    ],
)
def test_files_that_are_not_answers_are_refused(org_a, content, message):
    with as_tenant(org_a):
        with pytest.raises(ValidationError) as refused:
            x12_answers.clearinghouse_file_import(content=content)
        assert refused.value.message_dict == {"file": [message]}
        assert ClearinghouseFile.objects.count() == 0


@pytest.mark.usefixtures("committed")
def test_command_imports_files_once_and_refuses_invalid_ones(tmp_path, capsys):
    org = make_organization("answers-org")
    with as_tenant(org):
        _sent()
    good = tmp_path / "ack.277"
    good.write_text(build_277ca([ClaimAnswer("K000000001", 9_000, payer_claim_control_number="ICN9")]))
    bad = tmp_path / "bad.999"
    bad.write_text(build_999(group_control_number=1).replace("AK9*A*1*1*1", "AK9*Q*1*1*1"))
    with pytest.raises(CommandError) as refused:
        call_command("import_x12", "--org", "answers-org", str(good), str(bad))
    assert str(refused.value).startswith("Refused:\nbad.999: Segment AK9 at line ")
    assert "ack.277: imported 277CA 000000601 (1 accepted)." in capsys.readouterr().out
    call_command("import_x12", "--org", "answers-org", str(good))
    assert "ack.277: imported before; nothing applied again." in capsys.readouterr().out
    with as_tenant(org):
        assert _statuses()["K000000001"] == (ClaimStatus.ACCEPTED, "ICN9")
        assert ClearinghouseFile.objects.count() == 1
    with pytest.raises(CommandError, match=r"Unknown organization\."):
        call_command("import_x12", "--org", "nobody", str(good))


@pytest.mark.usefixtures("committed")
def test_two_concurrent_imports_of_one_file_apply_it_once():
    org = make_organization("race-org")
    with as_tenant(org):
        _sent()
    content = build_277ca([ClaimAnswer("K000000001", 9_000, payer_claim_control_number="ICN5")]).encode()
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
        assert [h.status for h in Claim.objects.get(submitter_claim_id="K000000001").history.all()].count(
            "accepted"
        ) == 1


def test_admin_upload_page_imports_and_refuses(sent, org_a):
    client = logged_in(add_member(org_a, Role.BILLING))
    page = client.get("/admin/billing/clearinghousefile/upload/")
    assert page.status_code == 200
    good = build_277ca([ClaimAnswer("K000000002", 9_000, payer_claim_control_number="ICN2")])
    response = client.post(
        "/admin/billing/clearinghousefile/upload/", {"file": SimpleUploadedFile("ack.277", good.encode())}
    )
    assert response.status_code == 302
    bad = good.replace("DTP*472*D8*20250115", "DTP*472*D8*2025011")
    refused = client.post(
        "/admin/billing/clearinghousefile/upload/", {"file": SimpleUploadedFile("bad.277", bad.encode())}
    )
    assert refused.status_code == 200
    assert "Segment DTP at line 25, element DTP03" in refused.content.decode()  # line 24 is its REF*1K
    with as_tenant(org_a):
        assert _statuses()["K000000002"] == (ClaimStatus.ACCEPTED, "ICN2")
        assert ClearinghouseFile.objects.count() == 1
    front_desk = logged_in(add_member(org_a, Role.FRONT_DESK))
    denied = front_desk.post(
        "/admin/billing/clearinghousefile/upload/", {"file": SimpleUploadedFile("again.277", good.encode())}
    )
    assert denied.status_code == 403


def test_pyx12_logs_no_value_of_a_refused_file(sent, org_a, caplog):
    # pyx12 logs each error with the offending value (here a date; it could be a name): none reaches the log.
    bad = build_277ca([ClaimAnswer("K000000001", 9_000)]).replace("DTP*472*D8*20250115", "DTP*472*D8*2025011")
    caplog.set_level("DEBUG")
    with as_tenant(org_a), pytest.raises(ValidationError) as refused:
        x12_answers.clearinghouse_file_import(content=bad.encode("ascii"))
    assert "2025011" not in " ".join(refused.value.messages)
    assert "2025011" not in caplog.text
    assert "pyx12" not in caplog.text
