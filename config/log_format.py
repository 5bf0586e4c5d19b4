"""How log records are written: one JSON object a line (production, tests), or plain text (local development).

Both show the request id (`config.log_filters.AddRequestId`) and the request line's fields
(`config.request_log.REQUEST_FIELDS`). A logged exception is its type and traceback (the handlers'
`ExceptionsWithoutMessages` filter has already replaced it by that text): inside the JSON object, so an error
stays one line.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

# The fields of a request line (`config.request_log`), passed as the record's `extra`.
REQUEST_FIELDS = ("method", "route", "status", "duration_ms", "organization_id", "actor")


def _exception_text(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    return record.exc_text or (formatter.formatException(record.exc_info) if record.exc_info else "")


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "") or None,
        }
        for name in REQUEST_FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if exception := _exception_text(self, record):
            entry["exception"] = exception
        return json.dumps(entry, ensure_ascii=True, default=str)


class PlainFormatter(logging.Formatter):
    """`time LEVEL logger [request id] message`, the request line's organization and actor, then the traceback's
    lines, if any."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", "") or "-"
        line = f"{self.formatTime(record)} {record.levelname} {record.name} [{request_id}] {record.getMessage()}"
        for name in ("organization_id", "actor"):
            if getattr(record, name, None):
                line += f" {name}={getattr(record, name)}"
        if exception := _exception_text(self, record):
            line += "\n" + exception
        return line


FORMATS = ("json", "plain")
DEFAULT_FORMAT = "json"


def formatter_named(name: str) -> logging.Formatter:
    """The formatter `KURA_LOG_FORMAT` names (`json` for anything else: the settings refuse other values)."""
    return PlainFormatter() if name == "plain" else JSONFormatter()
