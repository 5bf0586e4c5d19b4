"""Bounded API fuzzing with schemathesis against the app served by gunicorn.

The demo data is seeded (two organizations, `harbor` and `summit`); every operation of the published OpenAPI
schema is then called with generated valid and invalid input, as harbor's demo partner key and as harbor's
demo owner (staff session), with path ids and body `..._id` fields that are random, harbor's and summit's.
Checks:

* no response is a 5xx;
* every response conforms to the schema: documented status code, content type and body;
* no request changes summit's data: every tenant table's summit rows are fingerprinted (count and a hash of
  the rows' content, read as the owner role) before and after, and must be identical.

Deterministic (hypothesis derandomized) and bounded: FUZZ_EXAMPLES examples per operation, mode and id
source. The longer run is this test with KURA_FUZZ_EXAMPLES raised (README, "API fuzzing").
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest
import requests
import schemathesis
from django.apps import apps
from django.core.management import call_command
from django.db import connections
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from psycopg import sql
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apps.organizations.context import tenant_context
from apps.organizations.management.commands.seed_demo import DEMO_NAMESPACE, demo_api_key
from apps.organizations.roles import Role
from tests.live import LiveServer, key_headers, session_headers

pytestmark = pytest.mark.usefixtures("committed")

FUZZ_EXAMPLES = int(os.environ.get("KURA_FUZZ_EXAMPLES", "4"))
REQUEST_LINE_TOO_LONG = 414  # gunicorn's limit_request_line (4094 bytes)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
PATH_ID_MODELS = {
    "patient_id": "patients.Patient",
    "consent_id": "patients.Consent",
    "encounter_id": "clinical.Encounter",
    "event_id": "clinical.ClinicalEvent",
    "entry_id": "billing.LedgerEntry",
    "flag_id": "clinical.AssessmentFlag",
}


def tenant_tables() -> list[str]:
    """Every table with an organization_id column: domain tables and their history tables."""
    with connections["owner"].cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND column_name = 'organization_id' ORDER BY table_name"
        )
        return [row[0] for row in cursor.fetchall()]


def fingerprint(organization_id: Any) -> dict[str, tuple[int, str]]:
    """Per table: how many rows the organization has and a hash of their content (owner role, RLS bypassed)."""
    out = {}
    with connections["owner"].cursor() as cursor:
        for table in tenant_tables():
            cursor.execute(
                sql.SQL(
                    "SELECT count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY t::text), '')) "
                    "FROM {} AS t WHERE organization_id = %s"
                ).format(sql.Identifier(table)),
                [organization_id],
            )
            count, digest = cursor.fetchone()
            out[table] = (count, digest)
    return out


def ids_of(organization_id: Any) -> dict[str, list[str]]:
    """A few real ids per path parameter for one organization."""
    found: dict[str, list[str]] = {}
    with tenant_context(organization_id, Role.OWNER):
        for parameter, label in PATH_ID_MODELS.items():
            model = apps.get_model(label)
            manager = getattr(model, "all_objects", model._default_manager)
            found[parameter] = [str(pk) for pk in manager.values_list("pk", flat=True)[:3]]
    return found


@pytest.fixture
def demo(gunicorn_server: LiveServer) -> dict[str, Any]:
    call_command("seed_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115 - closed with the process
    harbor, summit = (schemathesis_uuid(slug) for slug in ("harbor", "summit"))
    users = apps.get_model("auth.User")
    return {
        "harbor": harbor,
        "summit": summit,
        "identities": {
            "partner key": key_headers(demo_api_key("harbor")),
            "owner session": session_headers(users.objects.get(username="harbor-owner")),
        },
        "ids": {"harbor": ids_of(harbor), "summit": ids_of(summit)},
    }


def schemathesis_uuid(slug: str) -> Any:
    import uuid

    return uuid.uuid5(DEMO_NAMESPACE, slug)


def path_strategy(operation: Any, ids: dict[str, dict[str, list[str]]]) -> st.SearchStrategy[dict[str, str]] | None:
    """Real ids of both organizations for the operation's path parameters (or None to let schemathesis invent)."""
    names = [p.name for p in operation.path_parameters]
    if not names or any(name not in PATH_ID_MODELS for name in names):
        return None
    choices = {name: [*ids["harbor"][name], *ids["summit"][name]] for name in names}
    if any(not values for values in choices.values()):
        return None
    return st.fixed_dictionaries({name: st.sampled_from(values) for name, values in choices.items()})


def with_real_body_ids(strategy: Any, ids: dict[str, dict[str, list[str]]]) -> Any:
    """Generated bodies whose `..._id` fields (patient_id, encounter_id, ...) name real rows of either organization."""

    def swap(case: schemathesis.Case) -> Any:
        body = case.body
        names = [n for n in body if n in PATH_ID_MODELS] if isinstance(body, dict) else []
        names = [n for n in names if ids["harbor"][n] or ids["summit"][n]]
        if not names:
            return st.just(case)

        def apply(values: dict[str, str]) -> schemathesis.Case:
            case.body = {**body, **values}
            return case

        choices = {n: st.sampled_from([*ids["harbor"][n], *ids["summit"][n]]) for n in names}
        return st.fixed_dictionaries(choices).map(apply)

    return strategy.flatmap(swap)


def run_operation(
    operation: Any,
    mode: schemathesis.GenerationMode,
    base_url: str,
    headers: dict[str, str],
    ids: Any,
    statuses: Counter[int],
) -> list[str]:
    """Fuzz one operation in one mode; returns the failures found (at most one per distinct message)."""
    failures: dict[str, str] = {}
    strategies = [operation.as_strategy(generation_mode=mode)]
    if operation.method.upper() in ("POST", "PATCH", "PUT"):
        strategies.append(with_real_body_ids(operation.as_strategy(generation_mode=mode), ids))
    real_paths = path_strategy(operation, ids)
    if real_paths is not None:
        strategies.append(
            real_paths.flatmap(lambda path: operation.as_strategy(generation_mode=mode, path_parameters=path))
        )

    @settings(
        max_examples=FUZZ_EXAMPLES * len(strategies),
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of(strategies))
    def fuzz(case: schemathesis.Case) -> None:
        try:
            response = case.call(base_url=base_url, headers=headers, timeout=30)
            statuses[response.status_code // 100 * 100] += 1
            if response.status_code == REQUEST_LINE_TOO_LONG:
                return  # gunicorn refused the request line before the app saw it: not the app's schema
            case.validate_response(response, checks=CHECKS, headers=headers)
        except requests.RequestException as error:
            failures.setdefault(f"transport: {type(error).__name__}", case.as_curl_command(headers=headers))
        except (AssertionError, FailureGroup) as error:
            message = str(error).strip().splitlines()
            key = "\n".join(message[:6])
            failures.setdefault(key, case.as_curl_command(headers=headers))

    try:
        fuzz()
    except Unsatisfiable:
        # Negative mode on an operation with no input to make invalid (e.g. GET /me/): nothing to send.
        if mode is not schemathesis.GenerationMode.NEGATIVE:
            raise
    return [f"{operation.label} [{mode.value}]\n{message}\n  reproduce: {curl}" for message, curl in failures.items()]


def test_fuzzing_finds_no_server_error_no_schema_mismatch_and_no_cross_organization_change(
    gunicorn_server: LiveServer, demo: dict[str, Any]
) -> None:
    schema = schemathesis.openapi.from_url(f"{gunicorn_server.url}/api/v1/schema/?format=json")
    base_url = f"{gunicorn_server.url}"
    summit_before = fingerprint(demo["summit"])
    harbor_before = fingerprint(demo["harbor"])

    failures: list[str] = []
    statuses: Counter[int] = Counter()
    operations = [result.ok() for result in schema.get_all_operations()]
    for identity, headers in demo["identities"].items():
        for operation in operations:
            for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
                failures.extend(
                    f"{identity}: {f}" for f in run_operation(operation, mode, base_url, headers, demo["ids"], statuses)
                )

    assert failures == [], "\n\n".join(failures)
    assert fingerprint(demo["summit"]) == summit_before
    # The run did reach the data: valid generated registrations landed in harbor.
    assert fingerprint(demo["harbor"])["patients_patient"][0] > harbor_before["patients_patient"][0]
    assert len(operations) >= 30
    # The run was not all refusals: valid requests were served and invalid ones refused, none crashed.
    assert statuses[200] > 0
    assert statuses[400] > 0
    assert set(statuses) == {200, 400}
