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

Every operation also gets, from the same facts:

* 400 for an unknown query parameter (`apps.organizations.query_params`), and each deprecated alias documented
  beside its new name (`deprecated: true`);
* its response headers: `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (API keys), `Retry-After` on
  429, `Idempotent-Replayed` where an `Idempotency-Key` is accepted, `Location` on a 201 whose object has its own
  URL (`apps.organizations.locations`);
* a description: the operation's own (docstring or `extend_schema(description=...)`) or its summary, followed
  by how to page, sync and retry it.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer
from rest_framework import serializers

from apps.organizations.locations import creates_at_own_url
from apps.organizations.query_params import aliases_of

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


RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": "Requests this API key may make per window (API-key requests only).",
    "RateLimit-Remaining": "Requests left in the current window (API-key requests only).",
    "RateLimit-Reset": "Seconds until the window ends (API-key requests only).",
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
        # Any operation: an unknown query parameter is a 400 naming it.
        codes = ["400", "401", "403", "429"]
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

    def _accepts_idempotency_key(self) -> bool:
        return any(
            p.get("in") == "header" and str(p.get("name", "")).lower() == IDEMPOTENCY_HEADER
            for p in self._get_parameters()
        )

    def _get_parameters(self) -> list[dict[str, Any]]:
        parameters: list[dict[str, Any]] = super()._get_parameters()
        names = {p["name"] for p in parameters if p.get("in") == "query"}
        for old, new in aliases_of(self.path, names).items():
            current = next((p for p in parameters if p.get("in") == "query" and p["name"] == new), None)
            if current is not None and old not in names:
                alias = {key: value for key, value in current.items() if key not in ("description", "examples")}
                # No default: a client sending the alias's default would send both names.
                schema = {key: value for key, value in current.get("schema", {}).items() if key != "default"}
                alias.update(name=old, deprecated=True, description=f"Deprecated alias of `{new}`.", schema=schema)
                parameters.append(alias)
        return parameters

    def _get_response_headers_for_code(self, status_code: Any, direction: Any = "response") -> dict[str, Any]:
        headers: dict[str, Any] = super()._get_response_headers_for_code(status_code, direction)
        code = str(status_code)
        for name, description in RATE_LIMIT_HEADERS.items():
            headers[name] = {"schema": {"type": "integer"}, "description": description}
        if code == "429":
            headers["Retry-After"] = {
                "schema": {"type": "integer"},
                "description": "Seconds to wait before trying again.",
            }
        if code.startswith("2") and self._accepts_idempotency_key():
            headers["Idempotent-Replayed"] = {
                "schema": {"type": "string", "enum": ["true"]},
                "description": "`true` when this is the stored answer to an earlier request with the same "
                "Idempotency-Key (nothing was done again).",
            }
        if code == "201" and self.method == "POST" and creates_at_own_url(self.path):
            headers["Location"] = {
                "schema": {"type": "string", "format": "uri"},
                "description": "The URL of the created object.",
            }
        return headers

    def get_operation(self, *args: Any, **kwargs: Any) -> Any:
        operation = super().get_operation(*args, **kwargs)
        if operation is not None:
            operation["description"] = self._full_description(operation)
        return operation

    def _full_description(self, operation: dict[str, Any]) -> str:
        """The operation's own description (`extend_schema` or docstring), else its summary; then how to page,
        sync and retry it."""
        own = operation.get("description") or ""
        summary = operation.get("summary") or ""
        parts = [own or (f"{summary}." if summary and not summary.endswith(".") else summary)]
        if self.method == "GET" and self._is_list_view() and self._get_paginator() is not None:
            parts.append(
                "Paged: pass a page's `next_cursor` as `cursor` for the next page (`limit` rows, at most 500). "
                "`updated_since` lists only rows created or changed since then, oldest change first."
            )
        if self._accepts_idempotency_key():
            parts.append(
                "Send an `Idempotency-Key` to make retries safe: a repeat gets the first answer again with "
                "`Idempotent-Replayed: true`, and nothing is done twice."
            )
        return "\n\n".join(part for part in parts if part)

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        for code in self._error_codes():
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(response=Error, description=ERROR_DESCRIPTIONS[code]), code, direction=direction
                )
        return responses


def _camel(value: str) -> str:
    return "".join(part.capitalize() for part in value.replace(".", "_").replace("-", "_").split("_"))


def body_variants(
    base: type[serializers.Serializer],
    *,
    name: str,
    field: str,
    variants: dict[str, dict[str, serializers.Field]],
) -> PolymorphicProxySerializer:
    """A request body documented as one shape per value of its `field` (a transaction type, an import format, an
    event type): `base`'s fields with `field` fixed to the value and the variant's own fields in place of the
    base's. The schema then types what the server checks per value; the view still validates with `base`."""
    shapes: dict[str, serializers.Serializer | type[serializers.Serializer]] = {}
    for value, fields in variants.items():
        variant = f"{name}{_camel(value)}"
        meta = type("Meta", (), {"ref_name": variant})
        attributes: dict[str, Any] = {
            field: serializers.ChoiceField(choices=[value], help_text=f"`{value}`."),
            **fields,
            "Meta": meta,
        }
        shapes[value] = type(variant, (base,), attributes)
    return PolymorphicProxySerializer(
        component_name=name,
        serializers=shapes,
        resource_type_field_name=field,
    )
