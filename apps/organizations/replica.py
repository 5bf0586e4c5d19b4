"""Reports read from a streaming replica when one is configured (REPLICA_DATABASE_URL), else from the primary.

A report (the aging report, the organization totals, the billing dashboard and its export) scans a whole
organization's ledger; on a hot standby it takes nothing from the primary's capacity. It may lag the primary by the
replication delay: reads that must see the request's own writes (one patient's balance, a statement, a receipt)
stay on the primary.

Row-level security applies on the replica as on the primary (the policies are replicated with the tables), so the
report's transaction there carries the request's tenant context too: set with `set_config(..., true)` in a
read-only transaction of its own, which ends with the report. Writing through it is impossible twice over: the
transaction is READ ONLY, and a standby refuses writes anyway. A replica that cannot be reached is logged and the
report reads the primary.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from . import context

REPLICA = "replica"

logger = logging.getLogger(__name__)


def configured() -> bool:
    return REPLICA in settings.DATABASES


@contextmanager
def report_connection() -> Iterator[BaseDatabaseWrapper]:
    """The connection a report reads with, in the active tenant context: the replica's, in a read-only
    transaction of its own, when one is configured and reachable; otherwise the primary's (the caller's
    transaction, where that context is already set)."""
    if not configured():
        yield connections[DEFAULT_DB_ALIAS]
        return
    replica = connections[REPLICA]
    if replica.in_atomic_block:  # a report inside a report: the outer one's transaction serves
        yield replica
        return
    try:
        replica.close_if_health_check_failed()  # a kept connection to a replica that has since gone away
        replica.ensure_connection()
    except OperationalError:
        logger.warning("The read replica is unreachable: the report reads the primary database.")
        yield connections[DEFAULT_DB_ALIAS]
        return
    with transaction.atomic(using=REPLICA):
        with replica.cursor() as cursor:
            cursor.execute("SET TRANSACTION READ ONLY")
        with context.activated(context.current(), using=REPLICA, restore=False):
            yield replica
