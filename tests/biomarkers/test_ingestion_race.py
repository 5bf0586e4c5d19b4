"""Ingestion racing another transaction that stores the same reading, with real commits (no test transaction).

A batch is first stored with a plain insert; meeting a reading another transaction has just committed, it is
stored again skipping what exists. This drives that path deterministically: the other transaction holds the
reading uncommitted until the request is seen waiting on it.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid

import pytest
from django.db import connections
from django.utils import timezone

from apps.biomarkers.models import BiomarkerLog
from apps.organizations.roles import Scope
from tests.biomarkers.factories import reading
from tests.concurrency import owner_connection, wait_until_blocked
from tests.conftest import api_client, as_tenant, issue_key, make_organization
from tests.factories import PatientFactory

pytestmark = pytest.mark.usefixtures("committed")

URL = "/api/v1/biomarkers/readings/"


def test_a_batch_meeting_a_reading_committed_meanwhile_stores_the_rest_once():
    org, other_org = make_organization("org-a"), make_organization("org-b")
    with as_tenant(org):
        patient = PatientFactory()
    with as_tenant(other_org):
        PatientFactory()
    client = api_client(issue_key(org, scopes=[Scope.BIOMARKERS_READ, Scope.BIOMARKERS_WRITE]))
    batch = [reading(patient.pk, source_reading_id=f"race-{i}") for i in range(3)]

    with owner_connection() as holder, owner_connection() as watcher:
        watcher.autocommit = True
        # Another transaction stores race-1 as the batch holds it (another request of the same retried batch) and
        # keeps it uncommitted.
        now = timezone.now()
        holder.execute(
            "INSERT INTO biomarkers_biomarkerlog (id, organization_id, created_at, updated_at, data_classification, "
            "patient_id, source, source_reading_id, metric_type, value_numeric, unit, raw_payload, captured_at) "
            "VALUES (%s, %s, %s, %s, 'GENERAL_WELLNESS', %s, %s, 'race-1', %s, %s, %s, '{}', %s)",
            [
                uuid.uuid4(),
                org.pk,
                now,
                now,
                patient.pk,
                batch[1]["source"],
                batch[1]["metric_type"],
                batch[1]["value_numeric"],
                batch[1]["unit"],
                dt.datetime.fromisoformat(batch[1]["captured_at"]),
            ],
        )
        holder_pid = holder.info.backend_pid
        responses = []

        def post() -> None:
            try:
                responses.append(client.post(URL, json.dumps({"readings": batch}), content_type="application/json"))
            finally:
                connections.close_all()  # this thread's own connection

        request = threading.Thread(target=post)
        request.start()
        try:
            wait_until_blocked(watcher, holder_pid)
        finally:
            holder.commit()
            request.join(timeout=60)

    assert len(responses) == 1
    response = responses[0]
    assert response.status_code == 201
    assert response.json() == {"received": 3, "created": 2, "duplicates": 1, "corrected": 0}
    with as_tenant(org):
        stored = sorted(BiomarkerLog.objects.values_list("source_reading_id", "value_numeric"))
        history = sorted(BiomarkerLog.history.values_list("source_reading_id", flat=True))
    # race-1 is the other transaction's row, once; the batch's history names only what it stored.
    assert stored == [("race-0", 6500.0), ("race-1", 6500.0), ("race-2", 6500.0)]
    assert history == ["race-0", "race-2"]
    with as_tenant(other_org):
        assert BiomarkerLog.objects.count() == 0
