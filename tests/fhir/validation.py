"""Validation of what the FHIR API emits with fhir.resources (its R4B models: FHIR R4's resources as amended in
4.3, the R4 package the library ships)."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B import get_fhir_model_class


def validated(resource: dict[str, Any]) -> dict[str, Any]:
    """`resource` itself, once fhir.resources accepts it as its `resourceType` (and, for a Bundle, each entry's
    resource as its own type: the Bundle model takes any resource there); raises pydantic's ValidationError
    naming the element otherwise."""
    model = get_fhir_model_class(resource["resourceType"])
    parsed = model.model_validate(resource)
    assert parsed.get_resource_type() == resource["resourceType"]
    for entry in resource.get("entry", []) if resource["resourceType"] == "Bundle" else []:
        validated(entry["resource"])
    return resource
