"""Writes of thousands of rows at once, with their audit trail: what an 835 of 5,000 claims posts.

Django's `bulk_create` and `bulk_update` (and simple-history's `bulk_create_with_history`) build an INSERT of
bind parameters per 2,000 rows, a CASE expression per field and row for an update, and a history instance per
row; for an 835 that was most of the import's Python time (bench/README.md, "835 import"). Here the rows go
to PostgreSQL once, with COPY, into a temporary table of the session, and one statement moves them:

* `rows_insert`: `INSERT INTO <table> SELECT ... FROM <staged>`, its history rows ('+') written by the same
  statement from what the INSERT returned.
* `rows_update`: `UPDATE <table> ... FROM <staged>` by primary key, with the history rows ('~') of the rows as
  updated.
* `history_insert`: history rows for instances as they are in Python (a record that changed twice in one
  transaction keeps both steps).

COPY into a table under row-level security is refused, and would skip it anyway: rows are staged in a
temporary table that only this session sees, and the statement that moves them into the real table passes its
policies like any other INSERT or UPDATE (and fires its triggers: the ledger's application guard sees the
whole statement). History rows name the actor of the tenant context, as `TenantHistoricalRecords` does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.db import connection, models, transaction
from django.db.models.expressions import DatabaseDefault
from django.utils import timezone
from psycopg import sql

from . import context

HISTORY_COLUMNS = ("history_date", "history_change_reason", "history_type", "history_user_id", "history_api_key_id")


def _columns(model: type[models.Model], sample: models.Model) -> list[models.Field[Any, Any]]:
    """The fields an INSERT sets: not an id the database numbers, not a column left to its database default."""
    return [
        field
        for field in model._meta.concrete_fields
        if not (field.primary_key and isinstance(field, models.AutoField | models.BigAutoField))
        and not isinstance(getattr(sample, field.attname), DatabaseDefault)
    ]


def _value(field: models.Field[Any, Any], instance: models.Model, *, adding: bool, saving: bool = True) -> Any:
    """The column value of `field` for `instance`: as a save would write it (`saving`: the time stamps set, on the
    instance too), or as the instance holds it (a history row of it)."""
    if saving and (getattr(field, "auto_now", False) or (adding and getattr(field, "auto_now_add", False))):
        return field.pre_save(instance, adding)
    value = getattr(instance, field.attname)
    if isinstance(field, models.JSONField) and value is not None:
        return json.dumps(value, cls=field.encoder)
    return value


def _stage(table: str, fields: Sequence[models.Field[Any, Any]], rows: Sequence[tuple[Any, ...]]) -> sql.Identifier:
    """A temporary table shaped like `fields` of `table` (its column types) holding `rows` in their order
    (`kura_row`), sent with COPY in text format. It lives until the end of the transaction, or the next
    staging of the same table."""
    stage = sql.Identifier("pg_temp", f"kura_bulk_{table}"[:63])
    columns = sql.SQL(", ").join(sql.Identifier(field.column) for field in fields)
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL(
                "DROP TABLE IF EXISTS {0}; CREATE TEMP TABLE {0} ON COMMIT DROP AS SELECT {1}, 0 AS kura_row FROM {2} "
                "WITH NO DATA"
            )
            .format(stage, columns, sql.Identifier(table))
            .as_string(cursor.cursor)
        )
        with cursor.cursor.copy(sql.SQL("COPY {} ({}, kura_row) FROM STDIN").format(stage, columns)) as copy:
            for number, row in enumerate(rows):
                copy.write_row((*row, number))
    return stage


def _run(statement: sql.Composable, params: dict[str, Any] | None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement.as_string(cursor.cursor), params)


def _history(model: type[models.Model]) -> tuple[str, list[str]] | None:
    """The history table of `model` and the columns it copies from the audited row (None: no history)."""
    manager = getattr(model, "history", None)
    if manager is None:
        return None
    history_model = manager.model
    audited = {field.column for field in model._meta.concrete_fields}
    copied = [field.column for field in history_model._meta.concrete_fields if field.column in audited]
    return history_model._meta.db_table, copied


def _history_rows(table: str, copied: list[str], source: sql.Composable) -> sql.Composable:
    """`INSERT INTO <history table>` the `copied` columns of `source`'s rows, with the history columns of the
    tenant context's actor (the parameters of `_actor`)."""
    copied_sql = sql.SQL(", ").join(map(sql.Identifier, copied))
    return sql.SQL(
        "INSERT INTO {history} ({copied}, {extra}) "
        "SELECT {copied}, %(now)s, NULL, %(type)s, %(user)s, %(api_key)s FROM {source}"
    ).format(
        history=sql.Identifier(table),
        copied=copied_sql,
        extra=sql.SQL(", ").join(map(sql.Identifier, HISTORY_COLUMNS)),
        source=source,
    )


def _audit(
    model: type[models.Model], history_type: str, *, changed: sql.Composable, alias: str = ""
) -> tuple[sql.Composable, dict[str, Any]]:
    """`WITH changed AS (<changed> RETURNING ...) INSERT INTO <history> ...`: one statement that writes the rows
    and their history rows, with its parameters (`alias`: how `changed` names the table written)."""
    history = _history(model)
    if history is None:
        return changed, {}
    table, copied = history
    statement = sql.SQL("WITH changed AS ({changed} RETURNING {returned}) {history}").format(
        changed=changed,
        returned=sql.SQL(", ").join(sql.Identifier(*filter(None, (alias, column))) for column in copied),
        history=_history_rows(table, copied, sql.SQL("changed")),
    )
    return statement, _actor(history_type)


def _actor(history_type: str) -> dict[str, Any]:
    return {
        "now": timezone.now(),
        "type": history_type,
        "user": context.current_user_id(),
        "api_key": context.current_api_key_id(),
    }


@transaction.atomic(savepoint=False)
def rows_insert(model: type[models.Model], instances: Sequence[models.Model], *, history: bool = True) -> None:
    """Insert `instances` (new, their ids set in Python) in one statement, with their '+' history rows. Database
    errors (constraints, triggers, RLS) are raised as Django's, as from `bulk_create`."""
    if not instances:
        return
    fields = _columns(model, instances[0])
    rows = [tuple(_value(field, instance, adding=True) for field in fields) for instance in instances]
    table = model._meta.db_table
    stage = _stage(table, fields, rows)
    columns = sql.SQL(", ").join(sql.Identifier(field.column) for field in fields)
    insert = sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ORDER BY kura_row").format(
        sql.Identifier(table), columns, columns, stage
    )
    statement, params = _audit(model, "+", changed=insert) if history else (insert, {})
    _run(statement, params or None)
    for instance in instances:
        instance._state.adding = False
        instance._state.db = connection.alias


@transaction.atomic(savepoint=False)
def rows_update(
    model: type[models.Model], instances: Sequence[models.Model], fields: Sequence[str], *, history: bool = True
) -> None:
    """Write `fields` (and `updated_at`, set now) of `instances` in one statement, with their '~' history rows."""
    if not instances:
        return
    meta = model._meta
    by_name = {field.name: field for field in meta.concrete_fields}
    changed = [by_name[name] for name in dict.fromkeys([*fields, "updated_at"])]
    pk = by_name[meta.pk.name] if meta.pk is not None else by_name["id"]
    staged = [pk, *changed]
    rows = [tuple(_value(field, instance, adding=False) for field in staged) for instance in instances]
    table = sql.Identifier(meta.db_table)
    stage = _stage(meta.db_table, staged, rows)
    update = sql.SQL("UPDATE {table} AS t SET {sets} FROM {stage} AS s WHERE t.{pk} = s.{pk}").format(
        table=table,
        sets=sql.SQL(", ").join([sql.SQL("{0} = s.{0}").format(sql.Identifier(field.column)) for field in changed]),
        stage=stage,
        pk=sql.Identifier(pk.column),
    )
    statement, params = _audit(model, "~", changed=update, alias="t") if history else (update, {})
    _run(statement, params or None)


@transaction.atomic(savepoint=False)
def history_insert(model: type[models.Model], instances: Sequence[models.Model], *, history_type: str) -> None:
    """History rows of `instances` as they are in Python (each one a step of a record, in order)."""
    found = _history(model)
    if not instances or found is None:
        return
    table, copied = found
    by_column = {field.column: field for field in model._meta.concrete_fields}
    fields = [by_column[column] for column in copied]
    rows = [tuple(_value(field, instance, adding=False, saving=False) for field in fields) for instance in instances]
    stage = _stage(model._meta.db_table, fields, rows)
    _run(_history_rows(table, copied, sql.SQL("{} ORDER BY kura_row").format(stage)), _actor(history_type))
