"""The CapabilityStatement (`/fhir/R4/metadata`), built from the same declarations the searches use, so it lists
exactly the parameters the server accepts."""

from __future__ import annotations

from typing import Any

from .search import DEFAULT_COUNT, MAX_COUNT
from .sources import PATIENTS, SOURCES, Source

RELEASED = "2026-12-06"
EVERYTHING = "http://hl7.org/fhir/OperationDefinition/Patient-everything"
READ_AND_SEARCH = [{"code": "read"}, {"code": "search-type"}]
COMMON_PARAMETERS = [
    {"name": "_id", "type": "token"},
    {"name": "_lastUpdated", "type": "date"},
    {"name": "_count", "type": "number", "documentation": f"Page size (default {DEFAULT_COUNT}, at most {MAX_COUNT})."},
    {"name": "_cursor", "type": "string", "documentation": "Paging: follow the Bundle's next link."},
]


def _parameters(sources: tuple[Source, ...], *, patient: bool) -> list[dict[str, Any]]:
    parameters = list(COMMON_PARAMETERS)
    if patient:
        parameters.append({"name": "patient", "type": "reference"})
    dates = sorted({name for source in sources for name in source.dates})
    codes = sorted({source.code_parameter for source in sources if source.code_parameter})
    parameters += [{"name": name, "type": "date"} for name in dates]
    parameters += [{"name": name, "type": "token"} for name in codes]
    return parameters


def capability_statement(*, base_url: str) -> dict[str, Any]:
    resources: list[dict[str, Any]] = [
        {
            "type": "Patient",
            "interaction": READ_AND_SEARCH,
            "searchParam": _parameters((PATIENTS,), patient=False),
            "operation": [{"name": "everything", "definition": EVERYTHING}],
        }
    ]
    resources += [
        {"type": name, "interaction": READ_AND_SEARCH, "searchParam": _parameters(sources, patient=True)}
        for name, sources in SOURCES.items()
    ]
    resources.append(
        {
            "type": "Questionnaire",
            "interaction": READ_AND_SEARCH,
            "searchParam": [{"name": "_id", "type": "token"}],
            "documentation": "The built-in instruments: phq4, gad7, phq9.",
        }
    )
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": RELEASED,
        "publisher": "Kura",
        "kind": "instance",
        "software": {"name": "Kura"},
        "implementation": {"description": "Kura clinic records, FHIR R4 read-only", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "documentation": "Read-only. Results are paged in date order with an opaque cursor; a search "
                "parameter the server does not support is refused with an OperationOutcome (400).",
                "security": {
                    "description": "A partner API key with the fhir:read scope (Authorization: Api-Key ...), or a "
                    "staff session. Keys without PHI access see no CLINICAL_PHI resource and no Coverage."
                },
                "resource": resources,
            }
        ],
    }
