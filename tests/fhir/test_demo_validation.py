"""Every resource type as the demo clinics hold it, and `$everything` of every demo patient, validate with
fhir.resources (R4B models): every page of every Bundle, every resource in it, read back one by one alike."""

from __future__ import annotations

import io
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from apps.fhir.views import SUPPORTED_TYPES
from apps.organizations.management.commands.seed_demo import DEMO_NAMESPACE
from apps.organizations.models import Organization
from apps.organizations.roles import Scope
from apps.patients.selectors import patient_list
from tests.conftest import api_client, as_tenant, issue_key, truncate_all
from tests.fhir.validation import validated

PATIENT_LINK = {"Patient": None, "AllergyIntolerance": "patient", "Immunization": "patient", "Coverage": "beneficiary"}


@pytest.fixture(scope="module")
def demo(django_db_setup: None, django_db_blocker: Any) -> Iterator[dict[str, Organization]]:
    with django_db_blocker.unblock():
        call_command("seed_demo", stdout=io.StringIO())
        yield {slug: Organization(pk=uuid.uuid5(DEMO_NAMESPACE, slug)) for slug in ("harbor", "summit")}
        truncate_all()


def _pages(client: Client, path: str) -> Iterator[dict[str, Any]]:
    while path:
        response = client.get(path)
        assert response.status_code == 200, (path, response.content[:300])
        bundle = validated(response.json())
        assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "searchset")
        yield bundle
        links = {link["relation"]: link["url"] for link in bundle["link"]}
        path = links.get("next", "").removeprefix("http://testserver")


def _patient_of(resource: dict[str, Any]) -> str:
    if resource["resourceType"] == "Appointment":
        return str(resource["participant"][0]["actor"]["reference"].removeprefix("Patient/"))
    field = PATIENT_LINK.get(resource["resourceType"], "subject")
    if field is None:
        return str(resource["id"])
    return str(resource[field]["reference"].removeprefix("Patient/"))


def test_everything_of_every_demo_patient_validates(demo: dict[str, Organization]) -> None:
    for slug, org in demo.items():
        client = api_client(issue_key(org, scopes=[Scope.FHIR_READ.value], phi_access=True))
        with as_tenant(org):
            patients = sorted(str(pk) for pk in patient_list().values_list("pk", flat=True))
        assert len(patients) >= 5, slug
        kinds: Counter[str] = Counter()
        for patient in patients:
            resources = [
                entry["resource"]
                for bundle in _pages(client, f"/fhir/R4/Patient/{patient}/$everything?_count=40")
                for entry in bundle.get("entry", [])
            ]
            assert resources[0]["resourceType"] == "Patient"
            assert {_patient_of(resource) for resource in resources} == {patient}
            keys = [(resource["resourceType"], resource["id"]) for resource in resources]
            assert len(keys) == len(set(keys))
            kinds.update(key[0] for key in keys)
        # Every patient-linked type the server offers appears in each demo clinic.
        assert set(kinds) == set(SUPPORTED_TYPES) - {"Questionnaire"}, slug
        assert kinds["Patient"] == len(patients)


def test_every_resource_type_searches_and_reads_back_valid(demo: dict[str, Organization]) -> None:
    client = api_client(issue_key(demo["harbor"], scopes=[Scope.FHIR_READ.value], phi_access=True))
    metadata = client.get("/fhir/R4/metadata")
    assert validated(metadata.json())["resourceType"] == "CapabilityStatement"
    counts = {}
    for resource_type in SUPPORTED_TYPES:
        resources = [
            entry["resource"]
            for bundle in _pages(client, f"/fhir/R4/{resource_type}?_count=100")
            for entry in bundle.get("entry", [])
        ]
        counts[resource_type] = len(resources)
        for resource in resources[:25]:
            response = client.get(f"/fhir/R4/{resource_type}/{resource['id']}")
            assert response.status_code == 200
            assert validated(response.json()) == resource
    assert all(counts.values()), counts
    assert counts["Questionnaire"] == 3
