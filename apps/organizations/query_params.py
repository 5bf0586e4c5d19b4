"""Query parameters of the API: the names the schema documents are the names an operation accepts.

One naming convention across the API:

* pagination: `cursor` (the `next_cursor` of the previous page) and `limit` (`apps.organizations.pagination`);
* changes: `updated_since` on every list;
* time ranges: `<stem>_since` (at or after, inclusive) and `<stem>_before` (strictly before), the stem naming the
  timestamp (`started_since`, `event_date_before`, `occurred_since`, `captured_before`, ...).

The names used before the convention stay as deprecated aliases (`ALIASES`): the schema documents each one beside
its new name (`deprecated: true`, by `config.openapi`), and `QueryParameterMiddleware` reads it as its new name.
A parameter the operation does not document is a 400 naming it (a misspelt or unsupported filter used to be
ignored silently, and a client re-read everything).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any, NamedTuple

from django.http import HttpRequest, HttpResponse, QueryDict

from .api_errors import error_response, fields_message
from .locations import location_of


class Alias(NamedTuple):
    """A deprecated query parameter name: read as `new` on the operations at `path` (any that document `new`
    when `path` is None)."""

    new: str
    path: str | None = None


# Deprecated name -> the convention's name, for the lists that used it.
ALIASES: dict[str, Alias] = {
    "after": Alias("cursor", "/api/v1/events/"),
    "page_size": Alias("limit", "/api/v1/patients/{patient_id}/health-events/"),
    "started_after": Alias("started_since"),
    "date_from": Alias("event_date_since"),
    "date_to": Alias("event_date_before"),
    "starts_from": Alias("starts_since"),
    "since": Alias("occurred_since"),
    "until": Alias("occurred_before"),
    "start": Alias("captured_since"),
    "end": Alias("captured_before"),
}

UNKNOWN_MESSAGE = "Unknown query parameter; this operation accepts: {accepted}."
NOTHING_ACCEPTED_MESSAGE = "Unknown query parameter; this operation takes none."
BOTH_MESSAGE = "Deprecated alias of `{name}`: give one of them, not both."

_PATH_PARAMETER = re.compile(r"<(?:[^>:]+:)?([^>]+)>")


def schema_path(route: str) -> str:
    """The schema's path for a URL route: `api/v1/patients/<uuid:patient_id>/` -> `/api/v1/patients/{patient_id}/`."""
    return "/" + _PATH_PARAMETER.sub(r"{\1}", route).lstrip("^")


@lru_cache(maxsize=1)
def documented_query_parameters() -> dict[tuple[str, str], frozenset[str]]:
    """{(schema path, method): the query parameter names the operation documents}, read from the schema once."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    documented = {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            names = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
            documented[(path, method.upper())] = frozenset(names)
    return documented


def _invalid(fields: dict[str, list[str]]) -> HttpResponse:
    return error_response(400, "invalid", fields_message(fields), fields)


def _named_as_sent(response: HttpResponse, sent: dict[str, str]) -> None:
    """A 400's fields under the (deprecated) names the caller sent, not the new names they were read as."""
    data = getattr(response, "data", None)
    error: Any = data.get("error") if isinstance(data, dict) else None
    fields: Any = error.get("fields") if isinstance(error, dict) else None
    if not isinstance(fields, dict) or not sent.keys() & fields.keys():
        return
    error["fields"] = {sent.get(name, name): messages for name, messages in fields.items()}
    error["message"] = fields_message(error["fields"])
    response.content = response.rendered_content  # type: ignore[attr-defined]  # a DRF Response


def aliases_of(path: str, accepted: frozenset[str] | set[str]) -> dict[str, str]:
    """{deprecated name: new name} for the operation at schema `path` accepting `accepted` (new) names."""
    return {old: alias.new for old, alias in ALIASES.items() if alias.new in accepted and alias.path in (None, path)}


def check_query(query: QueryDict, path: str, accepted: frozenset[str]) -> tuple[QueryDict | None, dict[str, list[str]]]:
    """The query with deprecated aliases under their new names (None when none was used), and the errors: an
    alias given with its new name, a parameter not accepted."""
    errors: dict[str, list[str]] = {}
    aliases = aliases_of(path, accepted)
    for old, new in aliases.items():
        if old in query and new in query:
            errors[old] = [BOTH_MESSAGE.format(name=new)]
    renamed: QueryDict | None = None
    if any(old in query for old in aliases) and not errors:
        renamed = QueryDict(mutable=True)
        for name, values in query.lists():  # in the order sent
            renamed.setlist(aliases.get(name, name), values)
    current = renamed if renamed is not None else query
    allowed = sorted(name for name in accepted if name not in aliases)
    for name in current:
        if name not in accepted and name not in errors:
            message = UNKNOWN_MESSAGE.format(accepted=", ".join(allowed)) if allowed else NOTHING_ACCEPTED_MESSAGE
            errors[name[:60]] = [message]
    return renamed, errors


class QueryParameterMiddleware:
    """A 400 naming the query parameters an API operation does not document; deprecated aliases renamed; and
    `Location` on a 201 whose object has its own URL (`apps.organizations.locations`).

    Runs for callers the tenant middleware identified (others get the view's 401 or 403 first), on the operations
    the schema documents (the schema and docs pages, and anything outside `/api/`, are left alone).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        sent: dict[str, str] | None = getattr(request, "_kura_parameters_as_sent", None)
        if sent and response.status_code == 400:
            _named_as_sent(response, sent)
        if response.status_code == 201 and request.method == "POST" and request.path_info.startswith("/api/"):
            location = location_of(request.path_info, getattr(response, "data", None))
            if location is not None:
                response["Location"] = request.build_absolute_uri(location)
        return response

    def process_view(
        self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any
    ) -> HttpResponse | None:
        if not request.path_info.startswith("/api/") or getattr(request, "tenant", None) is None:
            return None
        match = request.resolver_match
        if match is None:
            return None
        path = schema_path(match.route)
        accepted = documented_query_parameters().get((path, request.method or "GET"))
        if accepted is None:
            return None
        renamed, errors = check_query(request.GET, path, accepted)
        if errors:
            return _invalid(errors)
        if renamed is not None:
            renamed._mutable = False
            request._kura_parameters_as_sent = {  # type: ignore[attr-defined]
                new: old for old, new in aliases_of(path, accepted).items() if old in request.GET
            }
            request.GET = renamed  # type: ignore[assignment]
        return None
