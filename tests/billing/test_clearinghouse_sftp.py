"""The exchange with the clearinghouse over SFTP, against a real SFTP server on loopback (asyncssh's server, one
chrooted account per organization): claims sent as a batch by the job, answers fetched by the job and imported
once, then moved off the server; a server whose host key is not the pinned one refused; organizations apart."""

from __future__ import annotations

import socket
import time
from io import StringIO
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from apps.billing import clearinghouse, sftp, tasks
from apps.billing.models import (
    Claim,
    ClaimBatch,
    ClearinghouseConnection,
    ClearinghouseFile,
    LedgerEntry,
    TransactionType,
)
from apps.organizations.models import Organization
from apps.organizations.roles import Role
from tests.billing import factories as bf
from tests.billing.exchange import connect, drop_answer, jobs
from tests.billing.sftp_server import Account, LoopbackSFTPServer, new_key, public_key_text
from tests.billing.x12_builders import ClaimAnswer, ClaimRemit, LineRemit, build_277ca, build_835, build_999
from tests.conftest import add_member, as_tenant, logged_in, make_organization
from tests.factories import PatientFactory
from tests.worker import run_worker

CLINICAL = TransactionType.CLINICAL_SERVICE
CHANGE = "/admin/billing/clearinghouseconnection/{}/change/"
ADD = "/admin/billing/clearinghouseconnection/add/"
LIST = "/admin/billing/clearinghouseconnection/"


def _clinic(org: Organization, visits: int, **provider: Any) -> None:
    """The organization's billing provider and `visits` one-line visits billed to a payer (claims K000000001...)."""
    with as_tenant(org, Role.BILLING):
        bf.provider(**provider)
        payer = bf.payer()
        for _ in range(visits):
            patient = PatientFactory()
            policy = bf.policy(patient, payer)
            bf.charge(
                patient, 9_000, transaction_type=CLINICAL, insurance_policy=policy, encounter=bf.encounter(patient)
            )


def _statuses() -> dict[str, tuple[str, str]]:
    return {c.submitter_claim_id: (c.status, c.payer_claim_control_number) for c in Claim.objects.all()}


def _isa(content: str) -> list[str]:
    return content.split("~", 1)[0].split("*")


@pytest.mark.usefixtures("committed")
def test_claims_go_out_and_answers_come_back_through_the_jobs_once_each(server):
    org, other = make_organization("org-a"), make_organization("org-b")
    account, other_account = server.add_account("clinic-a"), server.add_account("clinic-b")
    _clinic(org, visits=2)
    _clinic(other, visits=1)
    connect(org, server, account)
    connect(other, server, other_account)

    # The send job: the ready claims as one test batch, on the organization's own account only.
    tasks.clearinghouse_send.defer(organization_id=str(org.pk))
    run_worker()
    assert jobs("clearinghouse_send") == [(str(org.pk), "succeeded")]
    with as_tenant(org, Role.BILLING):
        batch = ClaimBatch.objects.get()
        assert account.files("inbound") == {"837P-000000001-TEST.x12": batch.file_bytes()}
        assert (_isa(batch.content)[15], batch.uploaded_at is not None) == ("T", True)
        assert _statuses() == {"K000000001": ("submitted", ""), "K000000002": ("submitted", "")}
    assert other_account.files("inbound") == {}
    with as_tenant(other, Role.BILLING):
        assert (ClaimBatch.objects.count(), Claim.objects.count()) == (0, 0)
    tasks.clearinghouse_send.defer(organization_id=str(other.pk))
    run_worker()
    with as_tenant(other, Role.BILLING):
        assert other_account.files("inbound") == {"837P-000000001-TEST.x12": ClaimBatch.objects.get().file_bytes()}
        assert _statuses() == {"K000000001": ("submitted", "")}
    assert list(account.files("inbound")) == ["837P-000000001-TEST.x12"]

    # The clearinghouse answers the test batch like any other: 999, 277CA, then the payer's 835.
    ack = build_999(group_control_number=1)
    drop_answer(account, "ack-1.999", ack, minute=1)
    drop_answer(
        account,
        "claims-1.277",
        build_277ca(
            [
                ClaimAnswer("K000000001", 9_000, payer_claim_control_number="ICN0001"),
                ClaimAnswer("K000000002", 9_000, category="A7", status_code="562"),
            ]
        ),
        minute=2,
    )
    remittance = [ClaimRemit("K000000001", "1", "ICN0001", [LineRemit("K000000001-1", "90837:95", 9_000, 9_000, [])])]
    drop_answer(account, "era-1.835", build_835(remittance), minute=3)
    # The other organization's answer names the same claim id, in its own folder.
    drop_answer(other_account, "claims-9.277", build_277ca([ClaimAnswer("K000000001", 9_000, category="A7")]))

    tasks.clearinghouse_receive.defer(organization_id=str(org.pk))
    run_worker()
    assert jobs("clearinghouse_receive") == [(str(org.pk), "succeeded")]
    with as_tenant(org, Role.BILLING):
        assert _statuses() == {"K000000001": ("paid", "ICN0001"), "K000000002": ("rejected", "")}
        assert ClaimBatch.objects.get().acknowledgement == "accepted"
        assert sorted(ClearinghouseFile.objects.values_list("kind", flat=True)) == ["277CA", "835", "999"]
        paid = LedgerEntry.objects.charges().get(claim__submitter_claim_id="K000000001")
        assert (paid.payment_status, paid.open_cents) == ("paid", 0)
    # Moved off the inbound folder once imported.
    assert account.files("outbound") == {}
    assert sorted(account.files("processed")) == ["ack-1.999", "claims-1.277", "era-1.835"]
    with as_tenant(other, Role.BILLING):
        assert _statuses() == {"K000000001": ("submitted", "")}
        assert ClearinghouseFile.objects.count() == 0
    assert list(other_account.files("outbound")) == ["claims-9.277"]

    # The same 999 delivered again is not applied twice; it is moved off the server all the same.
    drop_answer(account, "ack-1-again.999", ack, minute=4)
    tasks.clearinghouse_receive.defer(organization_id=str(org.pk))
    run_worker()
    with as_tenant(org, Role.BILLING):
        assert ClearinghouseFile.objects.count() == 3
        assert _statuses() == {"K000000001": ("paid", "ICN0001"), "K000000002": ("rejected", "")}
    assert account.files("outbound") == {}
    assert "ack-1-again.999" in account.files("processed")

    # The other organization's receipt reads its own folder only.
    tasks.clearinghouse_receive.defer(organization_id=str(other.pk))
    run_worker()
    with as_tenant(other, Role.BILLING):
        assert _statuses() == {"K000000001": ("rejected", "")}
    assert other_account.files("outbound") == {}
    with as_tenant(org, Role.BILLING):
        assert _statuses() == {"K000000001": ("paid", "ICN0001"), "K000000002": ("rejected", "")}


@pytest.mark.usefixtures("committed")
def test_the_tick_fetches_answers_for_active_connections_only(server):
    active, inactive, unconnected = (make_organization(slug) for slug in ("org-a", "org-b", "org-c"))
    connect(active, server, server.add_account("clinic-a"), is_active=True)
    connect(inactive, server, server.add_account("clinic-b"), is_active=False)
    tasks.clearinghouse_tick(timestamp=int(timezone.now().timestamp()))
    tasks.clearinghouse_tick(timestamp=int(timezone.now().timestamp()))  # queued once until it runs
    assert [org_id for org_id, _status in jobs("clearinghouse_receive")] == [str(active.pk)]
    assert unconnected.pk != active.pk


def test_a_server_with_another_host_key_is_refused_and_nothing_changes(server, org_a, org_b):
    account, other_account = server.add_account("clinic-a"), server.add_account("clinic-b")
    _clinic(org_a, visits=2)
    _clinic(org_b, visits=1)
    connect(org_a, server, account, host_key=public_key_text(new_key()))
    connect(org_b, server, other_account)
    drop_answer(account, "ack-1.999", build_999(group_control_number=1))
    with as_tenant(org_a, Role.BILLING):
        with pytest.raises(sftp.ExchangeError, match="host key is not the one pinned for this connection"):
            clearinghouse.claim_batch_send()
        with pytest.raises(sftp.ExchangeError, match="host key is not the one pinned for this connection"):
            clearinghouse.clearinghouse_answers_receive()
        assert (Claim.objects.count(), ClaimBatch.objects.count(), ClearinghouseFile.objects.count()) == (0, 0, 0)
        assert LedgerEntry.objects.charges().filter(claim__isnull=False).count() == 0
    assert account.files("inbound") == {}
    assert list(account.files("outbound")) == ["ack-1.999"]
    # The other organization's connection, pinned right, works meanwhile, on its own account.
    with as_tenant(org_b, Role.BILLING):
        batch = clearinghouse.claim_batch_send()
        assert batch is not None
        assert other_account.files("inbound") == {batch.file_name: batch.file_bytes()}
    assert account.files("inbound") == {}


def test_an_account_the_server_does_not_know_is_refused_with_a_clear_error(server, org_a):
    account = server.add_account("clinic-a")
    _clinic(org_a, visits=1)
    connect(org_a, server, account, private_key=new_key().export_private_key("openssh").decode("ascii"))
    with as_tenant(org_a, Role.BILLING):
        with pytest.raises(sftp.ExchangeError, match="The server refused the account"):
            clearinghouse.claim_batch_send()
        assert (Claim.objects.count(), ClaimBatch.objects.count()) == (0, 0)


def test_a_live_organization_sends_production_data(server, org_a):
    account = server.add_account("clinic-a")
    _clinic(org_a, visits=1, is_live=True)
    connect(org_a, server, account)
    with as_tenant(org_a, Role.BILLING):
        batch = clearinghouse.claim_batch_send()
        assert batch is not None
        assert (batch.file_name, batch.usage_indicator, _isa(batch.content)[15]) == ("837P-000000001.x12", "P", "P")
        assert account.files("inbound") == {"837P-000000001.x12": batch.file_bytes()}
        # Nothing more to send: no empty file.
        assert clearinghouse.claim_batch_send() is None
    assert list(account.files("inbound")) == ["837P-000000001.x12"]


def test_a_refused_answer_stays_on_the_server_and_the_others_are_imported(
    server, org_a, django_capture_on_commit_callbacks
):
    account = server.add_account("clinic-a")
    _clinic(org_a, visits=1)
    connect(org_a, server, account, processed_folder="")
    with as_tenant(org_a, Role.BILLING):
        assert clearinghouse.claim_batch_send() is not None
    drop_answer(account, "broken.999", build_999(group_control_number=1).replace("AK9*A*1*1*1", "AK9*A*1*1"), minute=1)
    drop_answer(account, "ack-1.999", build_999(group_control_number=1), minute=2)
    drop_answer(account, "notes.txt", "not X12 at all", minute=3)
    with django_capture_on_commit_callbacks(execute=True), as_tenant(org_a, Role.BILLING):
        report = clearinghouse.clearinghouse_answers_receive()
        assert report.imported == ["ack-1.999"]
        assert sorted(report.refused) == ["broken.999", "notes.txt"]
        assert report.refused["notes.txt"] == ["Not an X12 interchange (it must start with an ISA segment)."]
        assert ClearinghouseFile.objects.count() == 1
    # Imported: removed (no processed folder); refused: left for someone to look at.
    assert sorted(account.files("outbound")) == ["broken.999", "notes.txt"]
    assert account.files("processed") == {}


@pytest.mark.usefixtures("committed")
def test_the_private_key_is_ciphertext_rotated_with_the_other_identifiers_and_absent_from_history(server, settings):
    org = make_organization("org-a")
    account = server.add_account("clinic-a")
    _clinic(org, visits=1)
    connect(org, server, account)
    connect(org, server, account, port=server.port)  # saved twice: two history rows

    def stored() -> list[str]:
        with connections["owner"].cursor() as cursor:
            cursor.execute("SELECT private_key FROM billing_clearinghouseconnection")
            return [row[0] for row in cursor.fetchall()]

    before = stored()
    assert len(before) == 1
    assert before[0].startswith("gAAAAA")
    assert account.private_key.splitlines()[1] not in before[0]
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND column_name = %s",
            ["billing_historicalclearinghouseconnection", "private_key"],
        )
        assert cursor.fetchall() == []
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *settings.FIELD_ENCRYPTION_KEYS]
    call_command("rotate_field_keys", stdout=StringIO())
    assert stored() != before
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]  # old key retired
    with as_tenant(org, Role.BILLING):
        batch = clearinghouse.claim_batch_send()
        assert batch is not None
    assert list(account.files("inbound")) == [batch.file_name]


def test_a_server_that_never_answers_is_given_up_within_the_session_timeout():
    with socket.create_server(("127.0.0.1", 0)) as silent:
        target = sftp.Account(
            host="127.0.0.1",
            port=silent.getsockname()[1],
            username="clinic-a",
            private_key=new_key().export_private_key("openssh").decode("ascii"),
            host_key=public_key_text(new_key()),
            outbound_folder="inbound",
            inbound_folder="outbound",
            timeout_seconds=1,
        )
        started = time.monotonic()
        with pytest.raises(sftp.ExchangeError, match="took longer than 1 s and was given up"):
            sftp.check(target)
        assert time.monotonic() - started < 10
    # Within the job's transaction, which PostgreSQL would end when idle for longer.
    assert clearinghouse.session_timeout_seconds() < settings.KURA_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS / 1000


def test_without_a_connection_sending_is_refused_and_changes_nothing(org_a):
    _clinic(org_a, visits=1)
    with as_tenant(org_a, Role.BILLING):
        with pytest.raises(ValidationError) as refused:
            clearinghouse.claim_batch_send()
        assert refused.value.message_dict == {"clearinghouse": ["Set up the clearinghouse connection first."]}
        assert Claim.objects.count() == 0


# --- the connection in the admin ---------------------------------------------------------------------------------


def _form(server: LoopbackSFTPServer, account: Account, **overrides: str) -> dict[str, str]:
    return {
        "host": "127.0.0.1",
        "port": str(server.port),
        "username": account.username,
        "host_key": server.host_key,
        "outbound_folder": "inbound",
        "inbound_folder": "outbound",
        "processed_folder": "processed",
        "new_private_key": account.private_key,
        **overrides,
    }


def _stored_key_column(org: Organization) -> list[str]:
    """The private key column as PostgreSQL holds it."""
    with as_tenant(org), connections["default"].cursor() as cursor:
        cursor.execute("SELECT private_key FROM billing_clearinghouseconnection")
        return [row[0] for row in cursor.fetchall()]


def test_the_owner_sets_the_connection_and_the_key_is_stored_encrypted_and_never_shown(server, org_a, org_b):
    account = server.add_account("clinic-a")
    owner = logged_in(add_member(org_a, Role.OWNER))
    key_body = account.private_key.splitlines()[1]

    response = owner.post(ADD, _form(server, account))
    assert response.status_code == 302
    with as_tenant(org_a):
        connection = ClearinghouseConnection.objects.get()
        assert connection.private_key == account.private_key.strip() + "\n"
    (stored,) = _stored_key_column(org_a)
    assert stored.startswith("gAAAAA")
    assert key_body not in stored

    page = owner.get(CHANGE.format(connection.pk)).content.decode()
    assert key_body not in page
    assert sftp.public_key_of(account.private_key) in page  # what the clearinghouse registers
    assert sftp.host_key_fingerprint(server.host_key) in page
    assert "test data (ISA15 T) until the billing provider is marked live" in page

    # Left empty, the key is kept.
    response = owner.post(CHANGE.format(connection.pk), _form(server, account, new_private_key="", port="2222"))
    assert response.status_code == 302
    with as_tenant(org_a):
        connection = ClearinghouseConnection.objects.get()
        assert (connection.port, connection.private_key) == (2222, account.private_key.strip() + "\n")

    # Another organization's owner cannot open it.
    other_owner = logged_in(add_member(org_b, Role.OWNER))
    assert other_owner.get(CHANGE.format(connection.pk)).status_code != 200
    listing = other_owner.get(LIST).content.decode()
    assert "0 clearinghouse connections" in listing
    assert CHANGE.format(connection.pk) not in listing


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("new_private_key", "-----BEGIN OPENSSH PRIVATE KEY-----\nbm90IGEga2V5\n", "Paste a private key in OpenSSH"),
        ("host_key", "ssh-ed25519 bm90LWEta2V5", "Paste the server&#x27;s public host key in OpenSSH format"),
        ("inbound_folder", "../clinic-b", "A folder may not climb with"),
        ("host", "sftp.example.com; rm -rf", "Enter a host name or an IP address."),
    ],
)
def test_bad_connection_settings_are_form_errors_naming_the_field_and_store_nothing(
    server, org_a, field, value, message
):
    account = server.add_account("clinic-a")
    owner = logged_in(add_member(org_a, Role.OWNER))
    response = owner.post(ADD, _form(server, account, **{field: value}))
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == [field]
    assert message in response.content.decode()
    if field == "new_private_key":  # a secret is never written back into the page
        assert "bm90IGEga2V5" not in response.content.decode()
    assert _stored_key_column(org_a) == []


def test_billing_staff_see_the_connection_but_only_the_owner_changes_it(server, org_a):
    account = server.add_account("clinic-a")
    connect(org_a, server, account)
    with as_tenant(org_a):
        connection = ClearinghouseConnection.objects.get()
    billing = logged_in(add_member(org_a, Role.BILLING))
    page = billing.get(CHANGE.format(connection.pk))
    assert page.status_code == 200
    assert "new_private_key" not in page.content.decode()
    refused = billing.post(CHANGE.format(connection.pk), _form(server, account, username="someone-else"))
    assert refused.status_code == 403
    for role in (Role.FRONT_DESK, Role.CLINICIAN, Role.COACH):
        assert logged_in(add_member(org_a, role)).get(CHANGE.format(connection.pk)).status_code == 403
    with as_tenant(org_a):
        assert ClearinghouseConnection.objects.get().username == "clinic-a"


def test_testing_the_connection_names_what_is_wrong(server, org_a):
    account = server.add_account("clinic-a")
    connect(org_a, server, account)
    with as_tenant(org_a):
        connection = ClearinghouseConnection.objects.get()
    billing = logged_in(add_member(org_a, Role.BILLING))
    body = {"action": "check_connection", "_selected_action": [str(connection.pk)]}
    response = billing.post(LIST, body, follow=True)
    assert "Connected: the server is the pinned one and every folder is there." in response.content.decode()

    connect(org_a, server, account, host_key=public_key_text(new_key()))
    response = billing.post(LIST, body, follow=True)
    assert "The connection does not work: The server&#x27;s host key is not the one pinned" in (
        response.content.decode()
    )


def test_sending_from_the_admin_queues_the_job_and_production_asks_first(server, org_a):
    account = server.add_account("clinic-a")
    _clinic(org_a, visits=1, is_live=True)
    connect(org_a, server, account)
    with as_tenant(org_a):
        connection = ClearinghouseConnection.objects.get()
    billing = logged_in(add_member(org_a, Role.BILLING))
    body = {"action": "send_claims", "_selected_action": [str(connection.pk)]}
    asked = billing.post(LIST, body)
    assert asked.status_code == 200
    assert "Send a production claim batch?" in asked.content.decode()
    assert jobs("clearinghouse_send") == []
    sent = billing.post(LIST, {**body, "confirm_production": "yes"}, follow=True)
    assert "The ready claims will be sent to the clearinghouse in a moment." in sent.content.decode()
    assert jobs("clearinghouse_send") == [(str(org_a.pk), "todo")]
    # Asked again before it ran: still one job.
    billing.post(LIST, {**body, "confirm_production": "yes"})
    assert jobs("clearinghouse_send") == [(str(org_a.pk), "todo")]
