"""The load-data generator and a smoke run of the benchmark on its CI-size dataset (no timing assertions)."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.utils import timezone

from apps.billing.models import LedgerApplication, LedgerEntry
from apps.biomarkers.models import BiomarkerLog
from apps.clinical.models import HealthEvent
from apps.loadgen import generator
from apps.organizations.context import tenant_context
from apps.organizations.roles import Role
from apps.patients.models import Patient
from bench import cases, runner

SMALL = generator.Sizes.small()


def organization_id(slug: str) -> uuid.UUID:
    """Organizations are read as the owner: the runtime role sees none without a tenant context."""
    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT id FROM organizations_organization WHERE slug = %s", [slug])
        return cursor.fetchone()[0]


def test_split_gives_the_first_organization_forty_percent() -> None:
    assert generator.split(1_000, 20) == [400] + [32] * 11 + [31] * 8
    assert sum(generator.split(10_000_000, 20)) == 10_000_000
    assert generator.split(7, 1) == [7]


@pytest.fixture
def small_dataset(committed: None) -> dict[str, dict[str, int]]:
    call_command("generate_load_data", "--small", stdout=io.StringIO(), stderr=io.StringIO())
    return generator.counts_per_organization()


def test_small_dataset_counts_and_distribution(small_dataset: dict[str, dict[str, int]]) -> None:
    assert sorted(small_dataset) == ["load-00", "load-01", "load-02", "load-03"]
    assert small_dataset["load-00"] == {
        "patients": 160,
        "ledger_entries": 1_600,
        "readings": 8_000,
        "health_events": 1_600,
    }
    for slug in ("load-01", "load-02", "load-03"):
        assert small_dataset[slug] == {"patients": 80, "ledger_entries": 800, "readings": 4_000, "health_events": 800}
    totals = {table: sum(per_org[table] for per_org in small_dataset.values()) for table in small_dataset["load-00"]}
    assert totals == {
        "patients": SMALL.patients,
        "ledger_entries": SMALL.ledger_entries,
        "readings": SMALL.readings,
        "health_events": SMALL.health_events,
    }


def test_small_dataset_is_valid_and_isolated_for_the_runtime_role(small_dataset: dict[str, dict[str, int]]) -> None:
    big = organization_id("load-00")
    other = organization_id("load-01")
    with tenant_context(big, Role.OWNER):
        assert Patient.objects.count() == 160
        assert BiomarkerLog.objects.count() == 8_000
        assert HealthEvent.objects.count() == 1_600
        assert LedgerEntry.objects.count() == 1_600
        # 15% of the entries are payments, each applied in full to one charge, which is then paid.
        payments = LedgerEntry.objects.filter(kind="payment")
        assert payments.count() == 240
        assert LedgerApplication.objects.count() == 240
        assert LedgerEntry.objects.filter(kind="charge", payment_status="paid").count() == 240
        assert not Patient.objects.filter(organization_id=other).exists()
        # Every reading is a valid catalog reading of a patient of this organization.
        assert BiomarkerLog.objects.exclude(patient__organization_id=big).count() == 0
    with tenant_context(other, Role.OWNER):
        assert Patient.objects.count() == 80
        assert not BiomarkerLog.objects.filter(organization_id=big).exists()
    with tenant_context(big, Role.COACH):
        # Coaches see no PHI rows: only the wellness event kinds (mood and symptom).
        assert set(HealthEvent.objects.values_list("data_classification", flat=True).distinct()) == {"GENERAL_WELLNESS"}


def test_generating_twice_needs_replace(small_dataset: dict[str, dict[str, int]]) -> None:
    with pytest.raises(CommandError, match="--replace"):
        call_command("generate_load_data", "--small", stdout=io.StringIO(), stderr=io.StringIO())
    call_command(
        "generate_load_data", "--small", "--replace", "--patients", "8", stdout=io.StringIO(), stderr=io.StringIO()
    )
    counts = generator.counts_per_organization()
    assert sum(per_org["patients"] for per_org in counts.values()) == 8
    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM organizations_organization WHERE slug LIKE 'load-%%'")
        assert cursor.fetchone()[0] == 4


def test_bench_smoke_run_records_every_case(small_dataset: dict[str, dict[str, int]], tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    runner.run(slug="load-00", runs=2, warmup=1, batch=200, out=out, stream=io.StringIO())

    record = json.loads(out.read_text())
    subject = cases.Subject(
        organization_id=organization_id("load-00"),
        slug="load-00",
        patient_id=uuid.uuid4(),
        metric_type="heart_rate",
        start=timezone.now(),
        end=timezone.now(),
        api_key="",
    )
    expected = {("rls_overhead", name) for name in cases.rls_calls(subject)}
    expected |= {("api_vs_sql", name) for name in cases.api_cases(subject)}
    expected |= {("ingestion", "bulk endpoint 200 readings vs COPY")}
    assert {(r["group"], r["case"]) for r in record["results"]} == expected
    for result in record["results"]:
        assert result["runs"] == (3 if result["group"] == "ingestion" else 2)
        for key in ("median_ms", "p95_ms", "baseline_median_ms", "baseline_p95_ms", "ratio"):
            assert isinstance(result[key], float), (result["case"], key)
            assert result[key] > 0, (result["case"], key)
        assert isinstance(result["met"], bool)
    ingestion = next(r for r in record["results"] if r["group"] == "ingestion")
    assert ingestion["readings"] == 200
    assert ingestion["readings_per_second"] > 0

    assert {q["case"] for q in record["queries_per_request"]} == set(cases.list_endpoints(subject))
    for row in record["queries_per_request"]:
        assert row["queries_page_10"] > 0
        assert row["met"] is (row["queries_page_10"] == row["queries_page_100"])
    patients = next(q for q in record["queries_per_request"] if q["case"] == "patients")
    assert (patients["rows_page_10"], patients["rows_page_100"]) == (10, 100)

    assert record["dataset"]["totals"] == {
        "patients": SMALL.patients,
        "ledger_entries": SMALL.ledger_entries,
        "readings": SMALL.readings,
        "health_events": SMALL.health_events,
    }
    # The benchmark's own ingested rows are removed again.
    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM biomarkers_biomarkerlog WHERE source_reading_id LIKE '%%bench-%%'")
        assert cursor.fetchone()[0] == 0
    assert "| rls_overhead | patient list page |" in runner.table(record)
