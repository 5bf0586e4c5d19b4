"""Request bodies Kura will not read, refused before anything else does: 413 and 411, never silence.

* **Too large**: a `Content-Length` over the route's limit is a 413, on every path. The limit is the one the
  route's JSON parser enforces (`apps.organizations.parsers`: `KURA_MAX_BODY_BYTES`, the bulk endpoints'
  `KURA_MAX_BATCH_BODY_BYTES`); Django's form limit (`DATA_UPLOAD_MAX_MEMORY_SIZE`) is the same number. Without
  this, a form body over Django's limit was a bare 400, and every body was read before being refused.
* **No length**: a body sent with `Transfer-Encoding` (chunked) is a 411. WSGI servers pass such a body without
  a `CONTENT_LENGTH`, which Django reads as an empty body: the request would run as if nothing had been sent.

The API answers in the one error shape, pages in plain text. nginx in front (`deploy/nginx/kura.conf`) applies
the same limits itself, so a slow or oversized upload never reaches a worker.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

from .api_errors import error_response
from .parsers import JSONParser, RequestTooLargeError

TOO_LARGE_MESSAGE = str(RequestTooLargeError.default_detail)
LENGTH_REQUIRED_MESSAGE = (
    "Send the request body with a Content-Length header; chunked transfer encoding is not accepted."
)


def body_limit(path: str) -> int:
    """The largest body, in bytes, the route at `path` accepts: its JSON parser's limit (the bulk endpoints'
    is larger), else `KURA_MAX_BODY_BYTES`."""
    default: int = settings.KURA_MAX_BODY_BYTES
    try:
        match = resolve(path)
    except Resolver404:
        return default
    view_class = getattr(match.func, "view_class", None) or getattr(match.func, "cls", None)
    limits = [
        int(getattr(settings, parser.limit_setting))
        for parser in getattr(view_class, "parser_classes", ())
        if isinstance(parser, type) and issubclass(parser, JSONParser)
    ]
    return max(limits, default=default)


def _refusal(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
    response: HttpResponse
    if request.path_info.startswith("/api/"):
        response = error_response(status, code, message)
    else:
        response = HttpResponse(f"{message}\n", status=status, content_type="text/plain; charset=utf-8")
    return response


class RequestBodyMiddleware:
    """A 413 for a declared body over the route's limit, a 411 for a body without a declared length."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.META.get("HTTP_TRANSFER_ENCODING"):
            return _refusal(request, 411, "length_required", LENGTH_REQUIRED_MESSAGE)
        length = request.META.get("CONTENT_LENGTH") or ""
        if (
            length.isdigit()
            and int(length) > settings.KURA_MAX_BODY_BYTES
            and int(length) > body_limit(request.path_info)
        ):
            return _refusal(request, 413, "too_large", TOO_LARGE_MESSAGE)
        return self.get_response(request)
