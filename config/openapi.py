"""OpenAPI schema generation shared by every API view (REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]).

Every operation documents the error responses it can really give, all in the one error shape of
`apps.organizations.api_errors` (component `Error`), so a client (and the API fuzzer) can rely on the schema:

* 400 when the operation takes input (a body or query/header parameters): validation or parse errors;
* 401 and 403 always (missing or bad credentials; a role or scope that may not do this), 429 (API-key rate);
* 404 when the path names an object or the body refers to one by a `..._id` field (another organization's
  object is "not found" too);
* 413 and 415 when it takes a body (over the body size limit; a content type the parsers do not read);
* 409 and 422 when it accepts an `Idempotency-Key` (same key still running; same key, different body).

Responses an operation declares itself with `extend_schema(responses=...)` are kept as they are.
List views document their envelope: views that paginate set `pagination_class` and the schema wraps their list
serializer in that paginator's shape; views that answer another envelope declare it explicitly.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

IDEMPOTENCY_HEADER = "idempotency-key"

ERROR_DESCRIPTIONS = {
    "400": "Invalid input: `fields` names each field and its rule.",
    "401": "Missing, invalid, revoked or expired credentials.",
    "403": "The role or the key's scopes do not allow this.",
    "404": "No such object in the caller's organization.",
    "409": "A request with this Idempotency-Key is still being processed.",
    "411": "The body was sent without a Content-Length (chunked transfer encoding is not accepted).",
    "413": "The request body is too large.",
    "415": "Unsupported content type.",
    "422": "This Idempotency-Key was used with a different request body.",
    "429": "Too many requests for this API key; retry later.",
}


class ErrorDetail(serializers.Serializer):
    status = serializers.IntegerField()
    code = serializers.CharField()
    message = serializers.CharField()
    fields = serializers.DictField(  # type: ignore[assignment]  # a declared field, popped by the metaclass
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Per field (dotted path for nested input), the rules it broke.",
    )
    request_id = serializers.CharField(
        help_text="The request's id, as in the `X-Request-ID` response header and Kura's logs."
    )


class Error(serializers.Serializer):
    error = ErrorDetail()


def error_response(status_code: int) -> OpenApiResponse:
    """An error response in the one shape, for `extend_schema(responses={...})` where the rules above miss it."""
    return OpenApiResponse(response=Error, description=ERROR_DESCRIPTIONS[str(status_code)])


class KuraAutoSchema(AutoSchema):
    def _error_codes(self) -> list[str]:
        parameters = self._get_parameters()
        takes_body = self.method in ("POST", "PUT", "PATCH") and self._get_request_body() is not None
        codes = ["401", "403", "429"]
        if takes_body or any(p.get("in") in ("query", "header") for p in parameters):
            codes.append("400")
        if any(p.get("in") == "path" for p in parameters) or (takes_body and self._body_refers_to_objects()):
            codes.append("404")
        if takes_body:
            codes.extend(["411", "413", "415"])
        if any(p.get("in") == "header" and str(p.get("name", "")).lower() == IDEMPOTENCY_HEADER for p in parameters):
            codes.extend(["409", "422"])
        return sorted(codes)

    def _body_refers_to_objects(self) -> bool:
        serializer = force_instance(self.get_request_serializer())
        if not isinstance(serializer, serializers.Serializer):
            return False
        return any(str(name).endswith("_id") for name in serializer.fields)

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        for code in self._error_codes():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(response=Error, description=ERROR_DESCRIPTIONS[code]), code, direction=direction
                )
        return responses
