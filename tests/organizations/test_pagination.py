"""The one list pagination: keyset cursors over each list's order, `updated_since`, the deprecated `offset`."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from apps.organizations.pagination import CURSOR_GONE_MESSAGE, CURSOR_MESSAGE, CURSOR_MODE_MESSAGE, encode_cursor
from apps.patients import services as patient_services
from apps.patients.models import Patient
from tests.conftest import api_client, as_tenant, issue_key
from tests.factories import PatientFactory


def walk(client: Any, path: str, **params: Any) -> list[list[str]]:
    """Every page of a list, following `next_cursor`: the ids of each page."""
    pages: list[list[str]] = []
    query = dict(params)
    while True:
        response = client.get(path, query)
        assert response.status_code == 200, response.json()
        body = response.json()
        pages.append([row["id"] for row in body["results"]])
        if body["next_cursor"] is None:
            assert body["next"] is None
            return pages
        assert parse_qs(urlsplit(body["next"]).query)["cursor"] == [body["next_cursor"]]
        query = {**params, "cursor": body["next_cursor"]}


@pytest.fixture
def patients(org_a, org_b) -> list[Patient]:
    with as_tenant(org_b):
        PatientFactory.create_batch(2)
    with as_tenant(org_a):
        return [PatientFactory(family_name=name) for name in ("Ames", "Baker", "Cole", "Diaz", "Evans")]


def test_cursor_pages_follow_the_list_order_without_repeats_or_gaps(org_a, patients):
    client = api_client(issue_key(org_a))
    expected = [str(p.pk) for p in sorted(patients, key=lambda p: (p.family_name, p.given_name, p.pk))]

    pages = walk(client, "/api/v1/patients/", limit=2)

    assert [len(page) for page in pages] == [2, 2, 1]
    assert [row for page in pages for row in page] == expected


def test_a_row_added_while_paging_neither_shifts_nor_repeats_a_page(org_a, patients):
    client = api_client(issue_key(org_a))
    first = client.get("/api/v1/patients/", {"limit": 2}).json()
    with as_tenant(org_a):
        PatientFactory(family_name="Aaron")  # sorts before every row already read
    rest = walk(client, "/api/v1/patients/", limit=2, cursor=first["next_cursor"])

    seen = [row["id"] for row in first["results"]] + [row for page in rest for row in page]
    assert seen == [str(p.pk) for p in sorted(patients, key=lambda p: (p.family_name, p.given_name, p.pk))]


def test_updated_since_lists_the_changes_oldest_first_and_only_the_callers(org_a, patients):
    client = api_client(issue_key(org_a))
    since = timezone.now()
    with as_tenant(org_a):
        changed = patient_services.patient_update(patient=patients[3], preferred_name="Dee")
        patient_services.patient_update(patient=patients[0], preferred_name="Al")
        added = PatientFactory(family_name="Zed")

    pages = walk(client, "/api/v1/patients/", updated_since=since.isoformat(), limit=1)

    assert pages == [[str(changed.pk)], [str(patients[0].pk)], [str(added.pk)]]
    later = client.get("/api/v1/patients/", {"updated_since": (timezone.now() + dt.timedelta(seconds=1)).isoformat()})
    assert later.json()["results"] == []


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"cursor": "not-a-cursor"}, "cursor", CURSOR_MESSAGE),
        ({"cursor": encode_cursor("00000000-0000-0000-0000-000000000000", "list")}, "cursor", CURSOR_GONE_MESSAGE),
        ({"cursor": encode_cursor("not-an-id", "list")}, "cursor", CURSOR_GONE_MESSAGE),
        ({"cursor": encode_cursor("00000000-0000-0000-0000-000000000000", "changes")}, "cursor", CURSOR_MODE_MESSAGE),
        ({"limit": "0"}, "limit", "Must be a whole number of at least 1."),
        ({"limit": "ten"}, "limit", "Must be a whole number of at least 1."),
        ({"offset": "-1"}, "offset", "Must be a whole number of at least 0."),
        ({"updated_since": "yesterday"}, "updated_since", "Give a date and time in ISO 8601 (2024-03-01T09:00:00Z)."),
        (
            {"updated_since": "2024-03-01T09:00:00"},
            "updated_since",
            "Give a date and time in ISO 8601 (2024-03-01T09:00:00Z).",
        ),
        ({"updated_since": "0001-01-01T00:00:00+05:00"}, "updated_since", "Date and time out of range."),
    ],
)
def test_bad_paging_input_is_a_400_naming_the_parameter(org_a, patients, params, field, message):
    response = api_client(issue_key(org_a)).get("/api/v1/patients/", params)

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {field: [message]}


def test_a_cursor_naming_another_organizations_row_is_refused_like_a_missing_one(org_a, org_b, patients):
    with as_tenant(org_b):
        theirs = Patient.objects.first()
    response = api_client(issue_key(org_a)).get("/api/v1/patients/", {"cursor": encode_cursor(theirs.pk, "list")})

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"cursor": [CURSOR_GONE_MESSAGE]}


def test_the_deprecated_offset_still_pages_with_previous_links(org_a, patients):
    client = api_client(issue_key(org_a))
    body = client.get("/api/v1/patients/", {"limit": 2, "offset": 2}).json()

    ordered = [str(p.pk) for p in sorted(patients, key=lambda p: (p.family_name, p.given_name, p.pk))]
    assert [row["id"] for row in body["results"]] == ordered[2:4]
    assert body["count"] == 5
    assert body["previous"].endswith("/api/v1/patients/?limit=2")
    following = client.get("/api/v1/patients/", {"limit": 2, "cursor": body["next_cursor"]}).json()
    assert [row["id"] for row in following["results"]] == ordered[4:]
    both = client.get("/api/v1/patients/", {"offset": 1, "cursor": body["next_cursor"]})
    assert both.json()["error"]["fields"] == {"cursor": ["Give `cursor` or the deprecated `offset`, not both."]}
