"""The patients app's jobs: the daily retention purge (what `purge_expired_records --apply` does)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from apps.organizations.jobs import maintenance_job
from apps.patients import retention

logger = logging.getLogger(__name__)


@maintenance_job(periodic="17 3 * * *")
def purge_expired_records(*, using: str, timestamp: int) -> None:
    """Every night: soft-deleted records past retention and idempotency records past their replay window."""
    report = retention.purge_expired(now=datetime.fromtimestamp(timestamp, UTC), apply=True, using=using)
    for label, count in sorted(report.removed.items()):
        logger.info("Removed %d %s record(s) past retention", count, label)
    if report.kept:
        logger.info("Kept %d record(s) past retention that other records need", len(report.kept))
