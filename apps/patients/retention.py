"""How long soft-deleted records are kept, per record type, and the purge that removes them afterwards.

Soft-deleted records stay restorable for their retention period. After it, `purge_expired_records` removes
them for good: the row, everything that cascades from it (consents, encounters, clinical events and their
detail rows, and the rows the database itself cascades through composite keys, such as the append-only
health-event timeline) and their history rows, since a retention period that left the PHI in the history
would not be one. The PHI access log keeps its rows (patient id only), as the record of who read what.
Idempotency records go after their 24-hour replay window, with the responses they stored.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connections, models, transaction
from django.db.models.deletion import Collector, ProtectedError, RestrictedError
from psycopg import sql

from apps.organizations.idempotency import REPLAY_WINDOW
from apps.organizations.models import IdempotencyRecord

# Days after soft deletion; override per type with the RETENTION_DAYS setting.
DEFAULT_RETENTION_DAYS = {
    # Medical records: many US states require 7-10 years for adults; 7 is the floor here.
    "patients.patient": 7 * 365,
    # HIPAA asks for 6 years for authorizations and other required documentation.
    "patients.consent": 6 * 365,
}


@dataclass(frozen=True)
class RetentionPolicy:
    model_label: str
    days: int

    @property
    def model(self) -> type[models.Model]:
        return apps.get_model(self.model_label)

    def cutoff(self, now: datetime) -> datetime:
        return now - timedelta(days=self.days)


def policies() -> list[RetentionPolicy]:
    """Every record type with a retention period, settings overriding the defaults."""
    days = {**DEFAULT_RETENTION_DAYS, **settings.RETENTION_DAYS}
    return [RetentionPolicy(label, int(value)) for label, value in sorted(days.items())]


@dataclass
class PurgeReport:
    removed: Counter[str] = field(default_factory=Counter)
    kept: list[tuple[str, str, str]] = field(default_factory=list)  # (record type, id, reason)


def _history_model(model: type[models.Model]) -> Any:
    manager = getattr(model, "history", None)
    return getattr(manager, "model", None)


def purge_expired(*, now: datetime, apply: bool, using: str = "owner", organization_id: Any = None) -> PurgeReport:
    """Find (and with `apply`, delete) soft-deleted records past retention. Runs as the owner: cross-tenant."""
    report = PurgeReport()
    for policy in policies():
        expired = policy.model._default_manager.using(using).filter(deleted_at__lt=policy.cutoff(now))
        if organization_id is not None:
            expired = expired.filter(organization_id=organization_id)
        for record in expired.order_by("pk"):
            collector = Collector(using=using, origin=record)
            try:
                collector.collect([record])
            except (ProtectedError, RestrictedError):
                report.kept.append((policy.model_label, str(record.pk), "other records must be kept (e.g. billing)"))
                continue
            doomed = {model: {obj.pk for obj in objs} for model, objs in collector.data.items()}
            for model, pks in _database_cascades(doomed, using).items():
                doomed.setdefault(model, set()).update(pks)
            for model, pks in doomed.items():
                report.removed[model._meta.label_lower] += len(pks)
            if apply:
                _delete_with_history(collector, doomed, using)
    _purge_idempotency_records(report, now=now, apply=apply, using=using, organization_id=organization_id)
    return report


def _purge_idempotency_records(
    report: PurgeReport, *, now: datetime, apply: bool, using: str, organization_id: Any
) -> None:
    """Idempotency records past their replay window: the responses they stored may show clinical data."""
    expired = IdempotencyRecord.objects.using(using).filter(created_at__lt=now - REPLAY_WINDOW)
    if organization_id is not None:
        expired = expired.filter(organization_id=organization_id)
    count = expired.delete()[0] if apply else expired.count()
    if count:
        report.removed[IdempotencyRecord._meta.label_lower] += count


def _database_cascades(doomed: dict[type[models.Model], set[Any]], using: str) -> dict[type[models.Model], set[Any]]:
    """Rows the database deletes with `doomed` through ON DELETE CASCADE keys the ORM does not model.

    Append-only tables (the timeline) hang on their patient by composite keys with `db_constraint=False` in
    the ORM, so Django's collector cannot see them; the catalog knows every cascading key, so ask it.
    """
    models_by_table = {model._meta.db_table: model for model in apps.get_models()}
    found: dict[type[models.Model], set[Any]] = {}
    pending = [(model, pks) for model, pks in doomed.items() if pks]
    with connections[using].cursor() as cursor:
        while pending:
            model, pks = pending.pop()
            cursor.execute(_CASCADING_KEYS, [model._meta.db_table])
            for table, columns, referenced_columns in cursor.fetchall():
                child = models_by_table.get(table)
                if child is None:
                    continue
                join = sql.SQL(" AND ").join(
                    sql.SQL("c.{} = p.{}").format(sql.Identifier(column), sql.Identifier(referenced))
                    for column, referenced in zip(columns, referenced_columns, strict=True)
                )
                query = sql.SQL("SELECT c.{} FROM {} c JOIN {} p ON {} WHERE p.{} = ANY(%s)").format(
                    sql.Identifier(child._meta.pk.column),
                    sql.Identifier(table),
                    sql.Identifier(model._meta.db_table),
                    join,
                    sql.Identifier(model._meta.pk.column),
                )
                cursor.execute(query, [list(pks)])
                new = {row[0] for row in cursor.fetchall()} - doomed.get(child, set()) - found.get(child, set())
                if new:
                    found.setdefault(child, set()).update(new)
                    pending.append((child, new))
    return found


# Foreign keys that cascade deletes from the given table: (referencing table, its columns, referenced columns).
_CASCADING_KEYS = """
    SELECT child.relname,
           array(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
                 JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num ORDER BY k.ord),
           array(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(num, ord)
                 JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num ORDER BY k.ord)
      FROM pg_constraint con
      JOIN pg_class child ON child.oid = con.conrelid
     WHERE con.contype = 'f' AND con.confdeltype = 'c' AND con.confrelid = %s::regclass
"""


def _delete_with_history(collector: Collector, doomed: dict[type[models.Model], set[Any]], using: str) -> None:
    with transaction.atomic(using=using):
        collector.delete()
        for model, pks in doomed.items():
            history = _history_model(model)
            if history is not None:
                history._default_manager.using(using).filter(id__in=pks).delete()
