"""A 100k-event timeline is paged through seed 001's (patient, occurred_at DESC) index, under RLS."""

import pytest
from django.db import connection, connections

from apps.clinical.timeline import selectors
from tests.conftest import as_tenant, make_organization
from tests.factories import PatientFactory

pytestmark = pytest.mark.usefixtures("committed")

# Set-based insert as the runtime role inside the tenant context (the RLS WITH CHECK applies to every row).
INSERT_EVENTS = """
INSERT INTO clinical_healthevent (id, organization_id, patient_id, created_at, updated_at, data_classification,
                                  event_type, event_subtype, event_data, occurred_at, recorded_at, source)
SELECT gen_random_uuid(), %(org)s, %(patient)s, now(), now(),
       CASE WHEN g %% 4 = 0 THEN 'CLINICAL_PHI' ELSE 'GENERAL_WELLNESS' END,
       CASE WHEN g %% 4 = 0 THEN 'medication' WHEN g %% 4 = 1 THEN 'symptom' ELSE 'mood' END,
       CASE WHEN g %% 4 = 0 THEN 'scheduled' WHEN g %% 4 = 1 THEN 'general' ELSE 'daily_checkin' END,
       jsonb_build_object('mood', 'calm', 'confidence', 1 + g %% 10),
       now() - g * interval '1 minute', now(), 'patient_app'
FROM generate_series(1, %(n)s) AS g
"""


def insert_events(org, patient, n):
    with as_tenant(org), connection.cursor() as cursor:
        cursor.execute(INSERT_EVENTS, {"org": org.id, "patient": patient.pk, "n": n})


def test_timeline_pages_of_a_100k_event_patient_use_the_index():
    org, other_org = make_organization("org-a"), make_organization("org-b")
    with as_tenant(org):
        patient, neighbour = PatientFactory(), PatientFactory()
    with as_tenant(other_org):
        stranger = PatientFactory()
    insert_events(org, patient, 100_000)
    insert_events(org, neighbour, 20_000)
    insert_events(other_org, stranger, 20_000)
    with connections["owner"].cursor() as cursor:
        cursor.execute("ANALYZE clinical_healthevent")

    with as_tenant(org):
        events = selectors.health_event_list(patient=patient)
        first = selectors.health_event_page(events, cursor=None, size=50)
        moods_and_symptoms = selectors.health_event_list(patient=patient, types=["mood", "symptom"])
        plans = {
            "first page": events[:51].explain(),
            "later page, filtered": selectors.health_events_after(moods_and_symptoms, first.next_cursor)[:51].explain(),
        }
        second = selectors.health_event_page(events, cursor=first.next_cursor, size=50)

    for name, plan in plans.items():
        print(f"\n{name}:\n{plan}")  # noqa: T201 - the plan is the evidence when this fails
        assert "healthevent_patient_time" in plan, name
        assert "Seq Scan on clinical_healthevent" not in plan, name
    assert len(first.events) == len(second.events) == 50
    assert {e.patient_id for e in first.events + second.events} == {patient.pk}
    ordered = [(e.occurred_at, e.pk) for e in first.events + second.events]
    assert ordered == sorted(ordered, reverse=True)
    assert len(set(ordered)) == 100
