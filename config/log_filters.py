"""Logging filters that keep patient values out of every log: query strings and exception messages.

* `StripQueryStrings`: request lines (the development server's `django.server` log, gunicorn's error log) lose
  their query strings, where a search for a patient's name would sit.
* `ExceptionsWithoutMessages`: a logged exception keeps its type and traceback (file, line, code), never its
  message: a message may quote the input (`invalid literal for int(): '<name>'`), and PostgreSQL's carries the
  failing row (DETAIL) and the statement's data (CONTEXT, e.g. a note's JSON). A database error is logged by
  SQLSTATE, condition and the constraint, table and column it names, which is what its handling needs.

* `AddRequestId`: every record logged while a request is served carries its request id (`REQUEST_ID`, set by
  `config.request_log.RequestLogMiddleware`), so its lines can be found from the one an error body names.
* `WithoutDjangoRequestLines`: Django's own "Not Found: /path" lines (`django.request`, a WARNING for every 4xx)
  are left out; the request line (`config.request_log`) says the same once, at the right level.

All but the last are attached to handlers (not loggers), so they see every record that reaches the handler,
including the ones propagated from child loggers. Plain Python: gunicorn's configuration imports this before
Django.
"""

from __future__ import annotations

import logging
import re
import traceback
from contextvars import ContextVar
from types import TracebackType

import psycopg
from psycopg import errors as pg_errors

# The id of the request being served in this thread or task ("" outside one).
REQUEST_ID: ContextVar[str] = ContextVar("kura_request_id", default="")

# A path followed by a query string, as it appears in a request line or a URL (`/api/v1/patients/?search=x`).
_PATH_WITH_QUERY = re.compile(r"(/[^\s?\"']*)\?[^\s\"']*")


def strip_query_strings(text: str) -> str:
    """`text` with the query string of every path in it removed."""
    return _PATH_WITH_QUERY.sub(r"\1", text)


class StripQueryStrings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        stripped = strip_query_strings(message)
        if stripped != message:
            record.msg, record.args = stripped, ()
        return True


def _postgres_error(exc: BaseException) -> psycopg.Error | None:
    """The psycopg error behind `exc` (itself, or the one Django's database error wraps)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, psycopg.Error):
            return current
        seen.add(id(current))
        current = current.__cause__
    return None


def describe_exception(exc: BaseException) -> str:
    """One line naming the exception without its message: for a database error, its SQLSTATE and constraint."""
    name = f"{type(exc).__module__}.{type(exc).__qualname__}"
    postgres = _postgres_error(exc)
    if postgres is None:
        if _is_database_error(exc):
            return f"{name} (database error, message withheld)"
        return f"{name} (message withheld)"
    parts = []
    if postgres.sqlstate:
        parts.append(f"SQLSTATE {postgres.sqlstate} {_condition(postgres.sqlstate)}")
    diag = postgres.diag
    for label, value in (
        ("constraint", diag.constraint_name),
        ("table", diag.table_name),
        ("column", diag.column_name),
    ):
        if value:
            parts.append(f"{label} {value}")
    return f"{name} ({', '.join(parts) or 'no SQLSTATE'})"


def _condition(sqlstate: str) -> str:
    """The condition's name for a SQLSTATE (`23505` → `UniqueViolation`)."""
    try:
        return pg_errors.lookup(sqlstate).__name__
    except KeyError:
        return "unknown condition"


def _is_database_error(exc: BaseException) -> bool:
    from django.db import Error as DjangoDatabaseError  # imported late: gunicorn loads this before Django

    return isinstance(exc, DjangoDatabaseError | psycopg.Error)


def format_exception_without_messages(exc: BaseException, seen: set[int] | None = None) -> str:
    """Like `traceback.format_exception`, chained exceptions included, with `describe_exception` lines."""
    seen = seen if seen is not None else set()
    seen.add(id(exc))
    text = ""
    if exc.__cause__ is not None and id(exc.__cause__) not in seen:
        text += format_exception_without_messages(exc.__cause__, seen)
        text += "\nThe above exception was the direct cause of the following exception:\n\n"
    elif exc.__context__ is not None and not exc.__suppress_context__ and id(exc.__context__) not in seen:
        text += format_exception_without_messages(exc.__context__, seen)
        text += "\nDuring handling of the above exception, another exception occurred:\n\n"
    tb: TracebackType | None = exc.__traceback__
    if tb is not None:
        text += "Traceback (most recent call last):\n" + "".join(traceback.format_tb(tb))
    return text + describe_exception(exc) + "\n"


class ExceptionsWithoutMessages(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = format_exception_without_messages(record.exc_info[1]).rstrip("\n")
            record.exc_info = None
        return True


class AddRequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class WithoutDjangoRequestLines(logging.Filter):
    """For the `django.request` logger: drops the line Django logs for each 4xx/5xx response (it carries the
    response's `status_code`); anything else logged there passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not hasattr(record, "status_code")
