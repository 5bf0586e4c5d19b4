"""The FHIR R4 read-only API at `/fhir/R4/`: the CapabilityStatement, read and search of each supported type, and
`Patient/<id>/$everything`.

The request has already passed the tenant middleware (API key or verified session, its transaction and RLS
context), the clinic's time zone and the PHI read log, as every REST request has. These views are plain Django
views, not DRF ones, so FHIR stays out of the REST API's OpenAPI schema; every error is an OperationOutcome
naming the problem (a parameter's name, never its value). They change nothing, so they need no CSRF check: a
write answers 405 as an OperationOutcome, for a session as for a key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.views.decorators.csrf import csrf_exempt

from apps.clinical.timeline import scoring
from apps.organizations import context
from apps.organizations.context import TenantContext
from apps.patients import phi_reads
from apps.patients.selectors import patient_list

from . import capability, permissions
from . import resources as r
from .search import Page, SearchError, encode_cursor, page, parse_count, parse_everything, parse_search
from .sources import PATIENTS, SOURCES, Source

CONTENT_TYPE = "application/fhir+json; charset=utf-8"
TYPES: dict[str, tuple[Source, ...]] = {"Patient": (PATIENTS,), **SOURCES}
SUPPORTED_TYPES = (*TYPES, "Questionnaire")


def fhir_response(body: dict[str, Any], status: int = 200) -> JsonResponse:
    return JsonResponse(body, status=status, content_type=CONTENT_TYPE, json_dumps_params={"separators": (",", ":")})


def outcome(status: int, code: str, message: str) -> JsonResponse:
    """An OperationOutcome with one error issue: FHIR's error shape."""
    issue = {"severity": "error", "code": code, "diagnostics": message}
    return fhir_response({"resourceType": "OperationOutcome", "issue": [issue]}, status=status)


NOT_FOUND = "Resource not found."


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/fhir/R4/")


def _caller(request: HttpRequest) -> TenantContext | None:
    return context.current()


def _guard(request: HttpRequest) -> JsonResponse | None:
    if request.method not in ("GET", "HEAD"):
        return outcome(405, "not-supported", "This FHIR server is read-only: GET only.")
    if _caller(request) is None:
        refused = outcome(401, "login", "Authenticate with an API key (Authorization: Api-Key ...) or a session.")
        refused["WWW-Authenticate"] = "Api-Key"
        return refused
    return None


def _readable(sources: Sequence[Source]) -> list[Source]:
    ctx = context.current()
    return [source for source in sources if source.resource.allows(ctx, "read")]


def _render(source: Source, row: Any, base_url: str) -> dict[str, Any]:
    if source.needs_base_url:
        return source.render(row, base_url=base_url)
    return source.render(row)


def _mark(rows: Sequence[tuple[Source, Any]]) -> None:
    """Log the PHI reads of the rows shown, as the REST API logs the same rows."""
    for source, row in rows:
        if source.record_type is None:
            continue
        if source.phi_rows_only:
            phi_reads.mark_rows(record_type=source.record_type, rows=[row])
        else:
            patient_id = row.pk if source.patient_field == "id" else row.patient_id
            phi_reads.mark(record_type=source.record_type, patient_ids=[patient_id])


def _bundle(
    request: HttpRequest, result: Page, *, lead: list[dict[str, Any]] | None = None, modes: str = "match"
) -> dict[str, Any]:
    base_url = _base_url(request)
    entries = [{"fullUrl": f"{base_url}Patient/{resource['id']}", "resource": resource, "search": {"mode": "match"}}
               for resource in lead or []]  # fmt: skip
    for source, row in result.rows:
        resource = _render(source, row, base_url)
        entries.append(
            {
                "fullUrl": f"{base_url}{source.resource_type}/{resource['id']}",
                "resource": resource,
                "search": {"mode": modes},
            }
        )
    _mark(result.rows)
    links = [{"relation": "self", "url": request.build_absolute_uri()}]
    if result.next_cursor is not None:
        params: QueryDict = request.GET.copy()
        params["_cursor"] = encode_cursor(result.next_cursor)
        links.append(
            {
                "relation": "next",
                "url": f"{request.build_absolute_uri(request.path)}?{urlencode(list(params.lists()), doseq=True)}",
            }
        )
    return {"resourceType": "Bundle", "type": "searchset", "link": links, "entry": entries}


# --- endpoints -------------------------------------------------------------------------------------------------


@csrf_exempt
def metadata(request: HttpRequest) -> JsonResponse:
    """The CapabilityStatement: what this server reads and searches (no organization's data: open to anyone)."""
    if request.method not in ("GET", "HEAD"):
        return outcome(405, "not-supported", "This FHIR server is read-only: GET only.")
    return fhir_response(capability.capability_statement(base_url=_base_url(request)))


@csrf_exempt
def search(request: HttpRequest, resource_type: str) -> HttpResponse:
    if refused := _guard(request):
        return refused
    if resource_type == "Questionnaire":
        return _questionnaires(request)
    if resource_type not in TYPES:
        return outcome(404, "not-supported", "Unknown or unsupported resource type.")
    sources = _readable(TYPES[resource_type])
    if not sources:
        return outcome(403, "forbidden", "You may not read this resource type.")
    try:
        query = parse_search(request.GET, TYPES[resource_type], patient_param=resource_type != "Patient")
        if query.patient_id is not None and not patient_list().filter(pk=query.patient_id).exists():
            return outcome(404, "not-found", "patient: no such Patient.")
        result = page(sources, query)
    except SearchError as error:
        return outcome(error.status, error.code, error.message)
    return fhir_response(_bundle(request, result))


@csrf_exempt
def read(request: HttpRequest, resource_type: str, resource_id: str) -> HttpResponse:
    if refused := _guard(request):
        return refused
    if resource_type == "Questionnaire":
        instrument = scoring.BUILTIN_INSTRUMENTS.get(resource_id)
        if not permissions.QUESTIONNAIRE.allows(context.current(), "read"):
            return outcome(403, "forbidden", "You may not read this resource type.")
        if instrument is None:
            return outcome(404, "not-found", NOT_FOUND)
        return fhir_response(r.questionnaire(instrument, base_url=_base_url(request)))
    if resource_type not in TYPES:
        return outcome(404, "not-supported", "Unknown or unsupported resource type.")
    sources = _readable(TYPES[resource_type])
    if not sources:
        return outcome(403, "forbidden", "You may not read this resource type.")
    for source in sources:
        row_id = source.row_id(resource_id)
        if row_id is None:
            continue
        rows = source.queryset()
        if source.patient_field != "id":
            rows = rows.filter(patient__deleted_at__isnull=True)
        row = rows.filter(pk=row_id).first()
        if row is not None:
            _mark([(source, row)])
            return fhir_response(_render(source, row, _base_url(request)))
    return outcome(404, "not-found", NOT_FOUND)


@csrf_exempt
def everything(request: HttpRequest, resource_id: str) -> HttpResponse:
    """`Patient/<id>/$everything`: the patient and every resource of theirs the caller may read, paged."""
    if refused := _guard(request):
        return refused
    if not PATIENTS.resource.allows(context.current(), "read"):
        return outcome(403, "forbidden", "You may not read this resource type.")
    patient_id = PATIENTS.row_id(resource_id)
    patient = patient_list().filter(pk=patient_id).first() if patient_id else None
    if patient is None:
        return outcome(404, "not-found", NOT_FOUND)
    sources = _readable([source for sources in SOURCES.values() for source in sources])
    try:
        query = parse_everything(request.GET)
    except SearchError as error:
        return outcome(error.status, error.code, error.message)
    query.patient_id = patient.pk
    result = page(sources, query)
    lead = []
    if query.cursor is None:
        lead = [r.patient(patient)]
        _mark([(PATIENTS, patient)])
    return fhir_response(_bundle(request, result, lead=lead, modes="include"))


def _questionnaires(request: HttpRequest) -> HttpResponse:
    if not permissions.QUESTIONNAIRE.allows(context.current(), "read"):
        return outcome(403, "forbidden", "You may not read this resource type.")
    unsupported = sorted(name for name in request.GET if name not in ("_id", "_count", "_format"))
    if unsupported:
        return outcome(
            400,
            "not-supported",
            f"Unsupported search parameter(s) for this resource type: {', '.join(n[:40] for n in unsupported[:5])}.",
        )
    try:
        count = parse_count(request.GET.get("_count"), default=50, maximum=50)
    except SearchError as error:
        return outcome(error.status, error.code, error.message)
    wanted = request.GET.get("_id")
    base_url = _base_url(request)
    instruments = [i for code, i in scoring.BUILTIN_INSTRUMENTS.items() if wanted in (None, code)][:count]
    entries = [
        {
            "fullUrl": f"{base_url}Questionnaire/{instrument.code}",
            "resource": r.questionnaire(instrument, base_url=base_url),
            "search": {"mode": "match"},
        }
        for instrument in instruments
    ]
    return fhir_response(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(entries),
            "link": [{"relation": "self", "url": request.build_absolute_uri()}],
            "entry": entries,
        }
    )


@csrf_exempt
def unknown(request: HttpRequest, rest: str = "") -> JsonResponse:
    """Any other path under /fhir/R4/: not an interaction this server offers."""
    if request.method not in ("GET", "HEAD"):
        return outcome(405, "not-supported", "This FHIR server is read-only: GET only.")
    return outcome(404, "not-supported", "Unknown or unsupported resource type or interaction.")
