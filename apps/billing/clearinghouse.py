"""The exchange with the organization's clearinghouse over SFTP: claim batches sent, answers received.

* Sending (`claim_batch_send`): the ready claims become one 837P batch (`x12.claim_batch_export`, test data until
  the billing provider is live) and the file is put in the clearinghouse's inbound folder, in one transaction:
  when the server cannot be reached or is not the pinned one, the batch is not kept and the claims stay ready.
* Eligibility questions (`eligibility_checks_send`): each 270 not yet sent is put in the same inbound folder; its
  271 comes back with the other answers.
* Receiving (`clearinghouse_answers_receive`): every answer file of the clearinghouse's outbound folder is read
  and imported through `x12_answers.clearinghouse_file_import` (validated by pyx12, applied once, each file on its
  own); only after the import has committed are the imported files moved to the processed folder (or removed).
  A file left behind by a failed move is imported "before" the next time and then moved: never applied twice.
  A refused file stays on the server, and is named in the report and the log.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from . import eligibility, sftp, x12, x12_answers
from .models import ClaimBatch, ClearinghouseConnection, EligibilityCheck

logger = logging.getLogger(__name__)

# What the admin and the service may set; the private key is set apart (write-only).
CONNECTION_FIELDS = (
    "host",
    "port",
    "username",
    "host_key",
    "outbound_folder",
    "inbound_folder",
    "processed_folder",
    "is_active",
)


def clearinghouse_connection_get() -> ClearinghouseConnection | None:
    """The active organization's clearinghouse connection, if it has one."""
    return ClearinghouseConnection.objects.for_current_organization().first()


def clearinghouse_connection_save(
    *,
    host: str,
    username: str,
    host_key: str,
    port: int = 22,
    outbound_folder: str = "inbound",
    inbound_folder: str = "outbound",
    processed_folder: str = "",
    is_active: bool = True,
    private_key: str | None = None,
) -> ClearinghouseConnection:
    """Create or change the organization's connection; `private_key=None` keeps the stored key (needed the first
    time)."""
    with transaction.atomic():
        connection = (
            ClearinghouseConnection.objects.for_current_organization().select_for_update().first()
            or ClearinghouseConnection()
        )
        connection.host = host.strip()
        connection.port = port
        connection.username = username.strip()
        connection.host_key = host_key.strip()
        connection.outbound_folder = outbound_folder.strip()
        connection.inbound_folder = inbound_folder.strip()
        connection.processed_folder = processed_folder.strip()
        connection.is_active = is_active
        if private_key is not None:
            connection.private_key = private_key.strip() + "\n"
        if not connection.private_key:
            raise ValidationError({"private_key": "Paste the account's private key."})
        connection.full_clean(exclude=["organization"])
        connection.save()
    return connection


def session_timeout_seconds() -> float:
    """How long one SFTP session may take: the exchange runs inside the job's transaction, which PostgreSQL ends
    when it stays idle past `KURA_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS`, so the session gives up well before."""
    idle_ms = settings.KURA_DB_IDLE_IN_TRANSACTION_TIMEOUT_MS
    return sftp.SESSION_TIMEOUT_SECONDS if not idle_ms else min(sftp.SESSION_TIMEOUT_SECONDS, idle_ms * 0.75 / 1000)


def account(connection: ClearinghouseConnection) -> sftp.Account:
    """The transport's view of a connection."""
    return sftp.Account(
        timeout_seconds=session_timeout_seconds(),
        host=connection.host,
        port=connection.port,
        username=connection.username,
        private_key=connection.private_key,
        host_key=connection.host_key,
        outbound_folder=connection.outbound_folder,
        inbound_folder=connection.inbound_folder,
        processed_folder=connection.processed_folder,
    )


def _connection_or_refuse() -> ClearinghouseConnection:
    connection = clearinghouse_connection_get()
    if connection is None:
        raise ValidationError({"clearinghouse": "Set up the clearinghouse connection first."})
    return connection


def clearinghouse_connection_check() -> None:
    """Connect with the organization's connection and list its folders (`sftp.ExchangeError` says what fails)."""
    sftp.check(account(_connection_or_refuse()))


def claim_batch_send(*, now: dt.datetime | None = None) -> ClaimBatch | None:
    """Send the active organization's ready claims to the clearinghouse as one 837P file; returns the batch, or
    None when nothing is ready. If the file cannot be put on the server nothing changes (`sftp.ExchangeError`)."""
    target = account(_connection_or_refuse())
    now = now or timezone.now()
    with transaction.atomic():
        batch = x12.claim_batch_export(now=now)
        if batch is None:
            return None
        sftp.put_file(target, name=batch.file_name, content=batch.file_bytes())
        batch.uploaded_at = now
        batch.save(update_fields=["uploaded_at", "updated_at"])
    return batch


def eligibility_checks_send(*, now: dt.datetime | None = None) -> list[EligibilityCheck]:
    """Put the active organization's eligibility questions (270s) not yet sent on the clearinghouse's server; a
    file that cannot be put there leaves its check (and the ones after it) waiting for the next attempt."""
    target = account(_connection_or_refuse())
    with transaction.atomic():
        return eligibility.eligibility_checks_send(target=target, now=now)


@dataclass
class ReceiveReport:
    """What one receipt did, by file name on the server."""

    imported: list[str] = field(default_factory=list)
    imported_before: list[str] = field(default_factory=list)
    refused: dict[str, list[str]] = field(default_factory=dict)


def _archive(target: sftp.Account, names: Sequence[str]) -> None:
    try:
        sftp.archive(target, names=names)
    except sftp.ExchangeError as error:
        # Imported already: the next receipt finds them imported before and moves them then.
        logger.warning("Imported answers could not be moved on the clearinghouse's server: %s", error)


def clearinghouse_answers_receive() -> ReceiveReport:
    """Import the answers waiting on the clearinghouse's server, then (after commit) move them off it."""
    target = account(_connection_or_refuse())
    report = ReceiveReport()
    for answer in sftp.fetch_answers(target):
        try:
            with transaction.atomic():
                result = x12_answers.clearinghouse_file_import(content=answer.content)
        except ValidationError as error:
            report.refused[answer.name] = error.messages
            logger.warning(
                "Answer file %s refused and left on the clearinghouse's server: %s", answer.name, error.messages
            )
            continue
        (report.imported if result.created else report.imported_before).append(answer.name)
    done = [*report.imported, *report.imported_before]
    if done:
        transaction.on_commit(functools.partial(_archive, target, done))
    return report
