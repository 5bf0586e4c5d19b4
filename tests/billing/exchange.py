"""The clearinghouse side of the SFTP exchange, for the tests of the jobs that talk to it (the loopback server
is the `server` fixture of this package's conftest): an organization's connection to one of its accounts,
answers left for the clinic, and the jobs' state."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from django.db import connections

from apps.billing import clearinghouse
from apps.organizations.models import Organization
from apps.organizations.roles import Role
from tests.billing.sftp_server import Account, LoopbackSFTPServer
from tests.conftest import as_tenant


def connect(org: Organization, server: LoopbackSFTPServer, account: Account, **overrides: Any) -> None:
    """`org`'s clearinghouse connection to `account` on `server` (its outbound folder is the server's inbound)."""
    fields: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": server.port,
        "username": account.username,
        "private_key": account.private_key,
        "host_key": server.host_key,
        "outbound_folder": "inbound",
        "inbound_folder": "outbound",
        "processed_folder": "processed",
        # Fetched by the tests' own jobs, not by the ten-minute tick a worker pass may also run.
        "is_active": False,
    }
    with as_tenant(org, Role.OWNER):
        clearinghouse.clearinghouse_connection_save(**{**fields, **overrides})


def drop_answer(account: Account, name: str, content: str, minute: int = 0) -> None:
    """An answer the clearinghouse leaves in the account's outbound folder (mtime orders the answers)."""
    path = account.folder("outbound") / name
    path.write_text(content)
    stamp = dt.datetime(2025, 3, 3, 9, minute, tzinfo=dt.UTC).timestamp()
    os.utime(path, (stamp, stamp))


def jobs(task: str) -> list[tuple[str, str]]:
    """(organization id, status) of the jobs of one billing task, in order."""
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT args->>'organization_id', status::text FROM procrastinate_jobs WHERE task_name = %s ORDER BY id",
            [f"apps.billing.tasks.{task}"],
        )
        return list(cursor.fetchall())
