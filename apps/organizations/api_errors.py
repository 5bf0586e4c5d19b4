"""One error shape for every 4xx/5xx the API returns:

    {"error": {"status": 400, "code": "invalid", "message": "mrn: This field is required.", "fields": {...},
               "request_id": "3f2c..."}}

`request_id` is the one in the response's `X-Request-ID` header and on the request's log lines
(`config.request_log`). Messages name the field and the rule, never echo the submitted value (it may identify
a patient).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.log_filters import REQUEST_ID


def error_body(status_code: int, code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"status": status_code, "code": code, "message": message}
    if fields:
        body["fields"] = fields
    if request_id := REQUEST_ID.get():
        body["request_id"] = request_id
    return {"error": body}


def error_response(status_code: int, code: str, message: str, fields: dict[str, Any] | None = None) -> JsonResponse:
    """A JSON error outside DRF (middleware, URL resolver)."""
    return JsonResponse(error_body(status_code, code, message, fields), status=status_code)


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"field.sub": ["message", ...]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out.update(_flatten(value, "" if name == "non_field_errors" else name))
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            out.setdefault(prefix or "non_field_errors", []).extend(str(item) for item in detail)
        else:
            for index, item in enumerate(detail):
                out.update(_flatten(item, f"{prefix}[{index}]" if prefix else f"[{index}]"))
    else:
        out.setdefault(prefix or "non_field_errors", []).append(str(detail))
    return out


def fields_message(fields: dict[str, list[str]]) -> str:
    """The error message for field errors: `name: messages; ...` (messages without a field stand alone)."""
    return "; ".join(
        f"{name}: {' '.join(messages)}" if name != "non_field_errors" else " ".join(messages)
        for name, messages in fields.items()
    )


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF exception handler producing Kura's error shape."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        message = fields_message(fields)
        response.data = error_body(response.status_code, "invalid", message or "Invalid input.", fields)
    else:
        detail = getattr(exc, "detail", None)
        code = detail.code if isinstance(detail, exceptions.ErrorDetail) else "error"
        response.data = error_body(response.status_code, str(code), str(detail or "Error."))
    return response


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def json_or_default(default_view: Any, status_code: int, code: str, message: str) -> Any:
    """Build a Django error handler that answers API paths in the error shape and others as usual."""

    def handler(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if _is_api(request):
            return error_response(status_code, code, message)
        return default_view(request, *args, **kwargs)

    return handler


__all__ = ["error_body", "error_response", "exception_handler", "json_or_default", "status"]
