"""Text PostgreSQL cannot store, refused at the edge with a 400 naming the field (never a 500, never the value).

PostgreSQL stores no NUL character (U+0000) in `text` or `jsonb`, and psycopg cannot encode a lone surrogate
(U+D800 to U+DFFF, which JSON can escape as `\\ud800`) to UTF-8. Either would fail deep in a query with a 500.
JSON bodies are checked by the parser (`apps.organizations.parsers`); query parameters and form fields, on
every path (API, admin, pages), by `UnstorableTextMiddleware` below.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

NUL_MESSAGE = "Text must not contain the NUL character (U+0000)."
SURROGATE_MESSAGE = "Text must not contain an unpaired surrogate (U+D800 to U+DFFF)."
DATETIME_RANGE_MESSAGE = "Date and time out of range."
_SURROGATE = re.compile("[\ud800-\udfff]")


def in_utc(value: datetime) -> datetime | None:
    """An aware `value` in UTC, or None if that instant lies outside years 1 to 9999 in UTC.

    Python accepts UTC offsets up to ±23:59 and PostgreSQL only up to ±15:59, so times are compared and stored
    in UTC; `0001-01-01T00:00:00+05:00` parses but is before year 1 in UTC (an OverflowError, i.e. a 500, if
    nothing catches it).
    """
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return None


def text_problem(text: str) -> str | None:
    """Why `text` cannot be stored, or None if it can."""
    if "\x00" in text:
        return NUL_MESSAGE
    if not text.isascii() and _SURROGATE.search(text):
        return SURROGATE_MESSAGE
    return None


def _parameter_errors(request: HttpRequest) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    sources = [request.GET]
    # The API reads JSON bodies only (a form body is its 415): reading one here would hide it from DRF.
    if (
        not request.path_info.startswith("/api/")
        and request.method not in ("GET", "HEAD", "OPTIONS")
        and request.content_type
        in (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        )
    ):
        sources.append(request.POST)
    for params in sources:
        for name, values in params.lists():
            problem = text_problem(name)
            if problem is not None:  # the name itself is the value here: say only that a name was bad
                errors.setdefault("parameter name", []).append(problem)
                continue
            for value in values:
                problem = text_problem(value)
                if problem is not None:
                    errors[name] = [problem]
                    break
    return errors


class UnstorableTextMiddleware:
    """A 400 for a query parameter or form field holding text PostgreSQL cannot store, before any view runs."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        errors = _parameter_errors(request)
        if not errors:
            return self.get_response(request)
        if request.path.startswith("/api/"):
            from .api_errors import error_response  # DRF's settings import the parser, which imports this module

            message = "; ".join(f"{name}: {' '.join(problems)}" for name, problems in errors.items())
            return error_response(400, "invalid", message, errors)
        # A page (a form or a filter link): the same message, plain, for the person who sent it.
        lines = "\n".join(f"{name}: {' '.join(problems)}" for name, problems in errors.items())
        return HttpResponseBadRequest(
            f"Bad request: nothing was saved.\n{lines}\n", content_type="text/plain; charset=utf-8"
        )
