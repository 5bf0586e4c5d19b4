"""Series, buckets, latest values and out-of-reference readings: results, plans and query counts."""

from __future__ import annotations

import datetime as dt
import json
import math
import zoneinfo
from collections import defaultdict

import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.biomarkers import selectors
from apps.biomarkers.models import SERIES_INDEX, BiomarkerLog
from apps.organizations.roles import Role
from tests.biomarkers.factories import BiomarkerLogFactory
from tests.conftest import add_member, as_tenant, logged_in, make_organization
from tests.factories import PatientFactory

T0 = dt.datetime(2025, 1, 6, tzinfo=dt.UTC)  # a Monday
UTC = zoneinfo.ZoneInfo("UTC")


def insert(patient, metric, values_at, unit="bpm", source="apple_health_kit"):
    """Store readings set-based (the factory only builds them)."""
    logs = [
        BiomarkerLogFactory.build(
            patient=patient, organization_id=patient.organization_id, metric_type=metric, unit=unit, source=source,
            value_numeric=value, captured_at=when, source_reading_id=f"{metric}-{patient.pk}-{i}",
        )
        for i, (when, value) in enumerate(values_at)
    ]  # fmt: skip
    return BiomarkerLog.objects.bulk_create(logs)


class RollbackExampleError(Exception):
    pass


points = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=60 * 24 * 40),  # minutes after T0, over ~6 weeks
        st.floats(min_value=20, max_value=250, allow_nan=False, allow_infinity=False),
    ),
    min_size=0,
    max_size=60,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(points=points, bucket=st.sampled_from(["hour", "day", "week"]))
def test_bucketed_series_equals_a_python_computation(org_a, points, bucket):
    width = {"hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1), "week": dt.timedelta(weeks=1)}[bucket]
    start, end = T0 + dt.timedelta(days=1), T0 + dt.timedelta(days=30)
    raw = [(T0 + dt.timedelta(minutes=m), v) for m, v in points]
    expected_groups = defaultdict(list)
    for when, value in raw:
        if start <= when < end:
            expected_groups[T0 + ((when - T0) // width) * width].append(value)
    try:
        with as_tenant(org_a):
            patient = PatientFactory()
            insert(patient, "heart_rate", raw)
            buckets = selectors.biomarker_series_bucketed(
                patient_id=patient.pk, metric_type="heart_rate", start=start, end=end, bucket=bucket, zone=UTC
            )
            raise RollbackExampleError
    except RollbackExampleError:
        pass

    assert [b.start for b in buckets] == sorted(expected_groups)
    for b in buckets:
        values = expected_groups[b.start]
        assert (b.count, b.min, b.max) == (len(values), min(values), max(values))
        assert b.mean == pytest.approx(math.fsum(values) / len(values), rel=1e-12)


@pytest.fixture
def series(org_a, org_b):
    """A patient in org A with 300 heart-rate points and other metrics; org B's patient with its own points."""
    with as_tenant(org_a):
        patient = PatientFactory()
        other = PatientFactory()
        insert(patient, "heart_rate", [(T0 + dt.timedelta(minutes=10 * i), 60.0 + i % 50) for i in range(300)])
        insert(other, "heart_rate", [(T0 + dt.timedelta(minutes=10 * i), 70.0) for i in range(50)])
        insert(patient, "steps", [(T0 + dt.timedelta(days=i), 1000.0 * i) for i in range(10)], unit="count")
    with as_tenant(org_b):
        b_patient = PatientFactory()
        insert(b_patient, "heart_rate", [(T0 + dt.timedelta(minutes=10 * i), 200.0) for i in range(20)])
    return {"patient": patient, "other": other, "b_patient": b_patient}


def test_raw_series_pages_with_a_cursor_cover_every_point_once_in_order(series, org_a):
    seen = []
    cursor = None
    with as_tenant(org_a):
        expected = list(
            BiomarkerLog.objects.filter(patient=series["patient"], metric_type="heart_rate")
            .order_by("captured_at", "id")
            .values_list("id", flat=True)
        )
        while True:
            page = selectors.biomarker_series_raw(
                patient_id=series["patient"].pk, metric_type="heart_rate", start=T0, end=T0 + dt.timedelta(days=5),
                limit=70, cursor=cursor,
            )  # fmt: skip
            seen.extend(p.id for p in page.points)
            cursor = page.next_cursor
            if cursor is None:
                break
    assert len(expected) == 300
    assert seen == expected


@pytest.mark.usefixtures("committed")
def test_the_series_queries_use_the_series_index():
    """With real statistics (committed rows, ANALYZE by the owner role), as the runtime role under RLS."""
    organization = make_organization("org-plan")
    with as_tenant(organization):
        patients = [PatientFactory() for _ in range(4)]
        for patient in patients:
            for metric in ("heart_rate", "hrv_sdnn", "steps"):
                insert(patient, metric, [(T0 + dt.timedelta(minutes=15 * i), 70.0) for i in range(1500)])
    with connections["owner"].cursor() as cursor:
        cursor.execute("ANALYZE biomarkers_biomarkerlog")
    window = {"patient_id": patients[0].pk, "metric_type": "heart_rate", "start": T0, "end": T0 + dt.timedelta(days=2)}
    with as_tenant(organization), connection.cursor() as cursor:
        raw_plan = json.loads(selectors.biomarker_series_queryset(**window).explain(format="json"))
        statement, params = selectors.bucketed_series_sql(bucket="hour", zone=UTC, **window)
        cursor.execute("EXPLAIN (FORMAT JSON) " + statement, params)
        bucket_plan = cursor.fetchone()[0]
    for plan in (raw_plan, bucket_plan):
        text = json.dumps(plan)
        assert f'"Index Name": "{SERIES_INDEX}"' in text
        assert '"Node Type": "Seq Scan"' not in text


@pytest.mark.parametrize("bucket", ["raw", "day"])
def test_the_series_api_uses_the_same_number_of_queries_for_10_or_300_points(series, org_a, bucket):
    client = logged_in(add_member(org_a, Role.CLINICIAN))
    base = f"/api/v1/biomarkers/patients/{series['patient'].pk}/series/?metric_type=heart_rate&bucket={bucket}"
    counts = {}
    for label, hours in (("few", 1.5), ("many", 50)):
        end = (T0 + dt.timedelta(hours=hours)).isoformat().replace("+00:00", "Z")
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"{base}&start={T0.isoformat().replace('+00:00', 'Z')}&end={end}&limit=1000")
        assert response.status_code == 200
        body = response.json()
        size = len(body["points"]) if bucket == "raw" else sum(b["count"] for b in body["buckets"])
        counts[label] = (len(queries), size)
    assert counts["few"][1] == 9
    assert counts["many"][1] == 300
    assert counts["few"][0] == counts["many"][0]


def test_the_series_api_answers_bucket_statistics(series, org_a):
    client = logged_in(add_member(org_a, Role.CLINICIAN))
    response = client.get(
        f"/api/v1/biomarkers/patients/{series['patient'].pk}/series/",
        {"metric_type": "steps", "bucket": "week", "start": "2025-01-06T00:00:00Z", "end": "2025-01-20T00:00:00Z"},
    )
    assert response.status_code == 200
    assert response.json()["buckets"] == [
        {"start": "2025-01-06T00:00:00Z", "count": 7, "min": 0.0, "max": 6000.0, "mean": 3000.0, "sum": 21000.0},
        {"start": "2025-01-13T00:00:00Z", "count": 3, "min": 7000.0, "max": 9000.0, "mean": 8000.0, "sum": 24000.0},
    ]


def test_the_series_api_rejects_a_bad_cursor_and_an_unknown_metric(series, org_a):
    client = logged_in(add_member(org_a, Role.CLINICIAN))
    url = f"/api/v1/biomarkers/patients/{series['patient'].pk}/series/"
    bad_cursor = client.get(url, {"metric_type": "heart_rate", "cursor": "nonsense"})
    unknown = client.get(url, {"metric_type": "blood_sugar"})
    assert bad_cursor.status_code == 400
    assert list(bad_cursor.json()["error"]["fields"]) == ["cursor"]
    assert unknown.status_code == 400
    assert list(unknown.json()["error"]["fields"]) == ["metric_type"]


@pytest.mark.parametrize(
    ("period", "field", "message"),
    [
        # Found by the longer fuzzing run: the default start was computed even when a start was given, and
        # 30 days before the first day of year 1 overflowed (a 500).
        (
            {"start": "0001-01-01T01:01:01+00:00", "end": "0001-01-01T01:01:01+00:00"},
            "start",
            "Must be before captured_before.",
        ),
        (
            {"end": "0001-01-02T00:00:00+00:00"},
            "end",
            "Give captured_since: 30 days before captured_before is out of range.",
        ),
    ],
)
def test_a_period_at_the_edge_of_the_calendar_is_a_400_naming_the_field(series, org_a, period, field, message):
    client = logged_in(add_member(org_a, Role.CLINICIAN))
    url = f"/api/v1/biomarkers/patients/{series['patient'].pk}/series/"

    response = client.get(url, {"metric_type": "heart_rate", **period})

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {field: [message]}


def test_a_period_starting_in_year_1_is_answered(series, org_a):
    client = logged_in(add_member(org_a, Role.CLINICIAN))
    url = f"/api/v1/biomarkers/patients/{series['patient'].pk}/series/"

    response = client.get(url, {"metric_type": "heart_rate", "start": "0001-01-01T00:00:00+00:00"})

    assert response.status_code == 200
    assert len(response.json()["points"]) == 300  # every point of the series, from year 1 to now


def test_the_selectors_run_one_query_each(series, org_a, django_assert_num_queries):
    with as_tenant(org_a):
        args = {"patient_id": series["patient"].pk, "start": T0, "end": T0 + dt.timedelta(days=30)}
        with django_assert_num_queries(1):
            selectors.biomarker_series_bucketed(metric_type="heart_rate", bucket="hour", zone=UTC, **args)
        with django_assert_num_queries(1):
            selectors.biomarker_patient_buckets(bucket="day", zone=UTC, **args)
        with django_assert_num_queries(1):
            selectors.biomarker_latest_per_metric(patient_id=series["patient"].pk)
        with django_assert_num_queries(1):
            selectors.biomarker_out_of_reference(**args)


def test_latest_value_per_metric(series, org_a):
    with as_tenant(org_a):
        latest = selectors.biomarker_latest_per_metric(patient_id=series["patient"].pk)
    assert [(r.metric_type, r.value_numeric, r.captured_at) for r in latest] == [
        ("heart_rate", 60.0 + 299 % 50, T0 + dt.timedelta(minutes=2990)),
        ("steps", 9000.0, T0 + dt.timedelta(days=9)),
    ]


def test_out_of_reference_readings_in_a_period(series, org_a, org_b):
    period = {"start": T0, "end": T0 + dt.timedelta(days=30)}
    with as_tenant(org_a):
        flagged = selectors.biomarker_out_of_reference(patient_id=series["patient"].pk, **period).readings
        all_patients = selectors.biomarker_out_of_reference(**period).readings
    with as_tenant(org_b):
        in_b = selectors.biomarker_out_of_reference(**period).readings
    # heart rate reference 50-100 bpm: 60..109 -> 101..109 are high; steps reference >= 5000: 0..4000 are low.
    expected_hr = sorted(60.0 + i % 50 for i in range(300) if 60 + i % 50 > 100)
    assert sorted(r.value_numeric for r in flagged if r.metric_type == "heart_rate") == expected_hr
    assert sorted(r.value_numeric for r in flagged if r.metric_type == "steps") == [0.0, 1000.0, 2000.0, 3000.0, 4000.0]
    assert {r.patient_id for r in all_patients} == {series["patient"].pk}  # the other patient's 70 bpm is normal
    assert {(r.patient_id, r.value_numeric) for r in in_b} == {(series["b_patient"].pk, 200.0)}


def test_another_organizations_patient_is_404_and_its_points_never_appear(series, org_a):
    client = logged_in(add_member(org_a, Role.CLINICIAN))
    b_url = f"/api/v1/biomarkers/patients/{series['b_patient'].pk}/"
    assert client.get(b_url + "series/", {"metric_type": "heart_rate"}).status_code == 404
    assert client.get(b_url + "latest/").status_code == 404
    with as_tenant(org_a):
        direct = selectors.biomarker_series_raw(
            patient_id=series["b_patient"].pk, metric_type="heart_rate", start=T0, end=T0 + dt.timedelta(days=5)
        )
    assert direct.points == []
    response = client.get(
        "/api/v1/biomarkers/out-of-reference/", {"start": "2025-01-01T00:00:00Z", "end": "2025-02-01T00:00:00Z"}
    )
    assert 200.0 not in {r["value_numeric"] for r in response.json()["results"]}


def test_a_second_organization_cannot_change_or_delete_readings(series, org_a, org_b):
    with as_tenant(org_a):
        before = sorted(BiomarkerLog.objects.values_list("id", "value_numeric"))
    with as_tenant(org_b), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE biomarkers_biomarkerlog SET value_numeric = 1 WHERE patient_id = %s", [series["patient"].pk]
        )
        updated = cursor.rowcount
        cursor.execute("DELETE FROM biomarkers_biomarkerlog WHERE patient_id = %s", [series["patient"].pk])
        deleted = cursor.rowcount
    with as_tenant(org_a):
        after = sorted(BiomarkerLog.objects.values_list("id", "value_numeric"))
    assert (updated, deleted) == (0, 0)
    assert after == before


def test_a_reading_cannot_point_at_another_organizations_patient(series, org_a):
    log = BiomarkerLogFactory.build(patient=series["b_patient"], organization_id=org_a.id, source_reading_id="x")
    with (
        pytest.raises(IntegrityError, match="biomarkerlog_patient_same_org_fk"),
        as_tenant(org_a),
        transaction.atomic(),
    ):
        log.save()
