"""The load-data generator and a smoke run of the benchmark on its CI-size dataset (no timing assertions)."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.db.models import F
from django.utils import timezone

from apps.billing.models import LedgerApplication, LedgerEntry
from apps.biomarkers.models import BiomarkerLog
from apps.clinical.models import (
    ClinicalEvent,
    Condition,
    Encounter,
    HealthEvent,
    MedicalCodeAssignment,
    Observation,
    Vital,
)
from apps.loadgen import generator
from apps.organizations.context import tenant_context
from apps.organizations.roles import Role
from apps.patients.models import Consent, Patient
from bench import cases, runner

SMALL = generator.Sizes.small()

# Rows of each table in the whole --small dataset (one or two consents per patient: 600 for 400 patients).
SMALL_TOTALS = {
    "patients": SMALL.patients,
    "ledger_entries": SMALL.ledger_entries,
    "readings": SMALL.readings,
    "health_events": SMALL.health_events,
    "consents": 600,
    "encounters": SMALL.encounters,
    "clinical_events": SMALL.clinical_events,
}
CLINICAL_TABLES = ("vitals", "conditions", "observations", "code_assignments")


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
    spokes = {slug: {table: per_org.pop(table) for table in CLINICAL_TABLES} for slug, per_org in small_dataset.items()}
    assert small_dataset["load-00"] == {
        "patients": 160,
        "ledger_entries": 1_600,
        "readings": 8_000,
        "health_events": 1_600,
        "consents": 240,
        "encounters": 320,
        "clinical_events": 800,
    }
    for slug in ("load-01", "load-02", "load-03"):
        assert small_dataset[slug] == {
            "patients": 80,
            "ledger_entries": 800,
            "readings": 4_000,
            "health_events": 800,
            "consents": 120,
            "encounters": 160,
            "clinical_events": 400,
        }
    totals = {table: sum(per_org[table] for per_org in small_dataset.values()) for table in small_dataset["load-00"]}
    assert totals == SMALL_TOTALS
    for slug, per_org in spokes.items():
        # Exactly one spoke row per event; the kinds are drawn at random, so every spoke type has rows.
        assert (
            per_org["vitals"] + per_org["conditions"] + per_org["observations"]
            == small_dataset[slug]["clinical_events"]
        )
        assert min(per_org.values()) > 0, slug
        # Conditions and the PHQ-9 observation carry a code; vitals and the sleep check-in do not.
        assert per_org["conditions"] < per_org["code_assignments"] < per_org["conditions"] + per_org["observations"]


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


def test_small_dataset_clinical_rows_are_valid_linked_and_isolated(small_dataset: dict[str, dict[str, int]]) -> None:
    big = organization_id("load-00")
    other = organization_id("load-01")
    with tenant_context(big, Role.OWNER):
        assert Encounter.objects.count() == 320
        assert ClinicalEvent.objects.count() == 800
        assert Consent.objects.count() == 240
        # Half the events (the even-numbered ones) belong to an encounter, always one of the event's patient.
        linked = ClinicalEvent.objects.filter(encounter__isnull=False)
        assert linked.count() == 400
        assert linked.exclude(encounter__patient_id=F("patient_id")).count() == 0
        assert linked.filter(event_date__lt=F("encounter__started_at")).count() == 0
        # Every event has exactly one spoke row, of its own patient and with its classification.
        spokes = Vital.objects.count() + Condition.objects.count() + Observation.objects.count()
        assert spokes == 800
        for model in (Vital, Condition, Observation):
            assert model.objects.exclude(patient_id=F("event__patient_id")).count() == 0
            assert model.objects.exclude(data_classification=F("event__data_classification")).count() == 0
        assert set(ClinicalEvent.objects.values_list("data_classification", flat=True).distinct()) == {
            "CLINICAL_PHI",
            "GENERAL_WELLNESS",
        }
        # Every patient has one or two consents (a fifth of the second ones revoked) and clinical rows.
        assert Patient.objects.filter(consents__isnull=True).count() == 0
        assert Patient.objects.filter(encounters__isnull=True).count() == 0
        assert Patient.objects.filter(clinical_events__isnull=True).count() == 0
        assert Consent.objects.filter(consent_type="treatment").count() == 160
        assert Consent.objects.filter(revoked_at__isnull=False).count() == 16
        # Treatment consents are all in force; revoked ones are not (research consents expire after a year).
        assert Consent.objects.valid_at().filter(consent_type="treatment").count() == 160
        assert Consent.objects.valid_at().filter(revoked_at__isnull=False).count() == 0
        # Nothing of another organization is visible through RLS, even when asked for explicitly.
        for model in (Encounter, ClinicalEvent, Vital, Condition, Observation, MedicalCodeAssignment, Consent):
            assert not model.objects.filter(organization_id=other).exists(), model
    with tenant_context(other, Role.OWNER):
        assert Encounter.objects.count() == 160
        assert ClinicalEvent.objects.count() == 400
        assert Consent.objects.count() == 120
        assert not ClinicalEvent.objects.filter(organization_id=big).exists()
        assert not Consent.objects.filter(organization_id=big).exists()
    with tenant_context(big, Role.COACH):
        # Coaches see no PHI rows: no encounter, and only the wellness kinds of events and spokes.
        assert Encounter.objects.count() == 0
        assert set(ClinicalEvent.objects.values_list("event_name", flat=True).distinct()) == {
            "Weight check-in",
            "Oxygen saturation check-in",
            "Sleep quality check-in",
        }
        assert Condition.objects.count() == 0
        assert set(Vital.objects.values_list("vital_type", flat=True).distinct()) == {"weight", "oxygen_saturation"}


def test_small_dataset_clinical_rows_pass_the_model_validation(small_dataset: dict[str, dict[str, int]]) -> None:
    """One row of every generated kind passes the same field and model checks as a row entered in the app."""
    with tenant_context(organization_id("load-02"), Role.OWNER):
        samples: list[list[Any]] = [
            list(Encounter.objects.order_by("reason", "id").distinct("reason")),
            list(ClinicalEvent.objects.order_by("event_name", "id").distinct("event_name")),
            list(Vital.objects.order_by("vital_type", "id").distinct("vital_type")),
            list(Condition.objects.order_by("condition_name", "id").distinct("condition_name")),
            list(Observation.objects.order_by("observation_type", "id").distinct("observation_type")),
            list(MedicalCodeAssignment.objects.order_by("code", "id").distinct("code")),
            list(Consent.objects.order_by("consent_type", "id").distinct("consent_type")),
            list(Consent.objects.filter(revoked_at__isnull=False).order_by("id")[:1]),
        ]
        assert [len(rows) for rows in samples] == [6, 9, 4, 3, 2, 4, 5, 1]
        for rows in samples:
            for row in rows:
                row.full_clean(validate_unique=False, validate_constraints=False)


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


def placeholder_subject() -> cases.Subject:
    """The load data's first organization, with a made-up patient: enough to list the cases and to capture the
    statements of those that read no one patient."""
    return cases.Subject(
        organization_id=organization_id("load-00"),
        slug="load-00",
        patient_id=uuid.uuid4(),
        metric_type="heart_rate",
        start=timezone.now(),
        end=timezone.now(),
        api_key="",
    )


def test_bench_smoke_run_records_every_case(small_dataset: dict[str, dict[str, int]], tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    runner.run(slug="load-00", runs=2, warmup=1, batch=200, out=out, stream=io.StringIO())

    record = json.loads(out.read_text())
    subject = placeholder_subject()
    expected = {("rls_overhead", name) for name in cases.rls_calls(subject)}
    expected |= {("api_vs_sql", name) for name in cases.api_cases(subject)}
    expected |= {("ingestion", "bulk endpoint 200 readings vs COPY")}
    expected |= {("search", f"patient search: {kind}") for kind in (*cases.SEARCH_KINDS, "every kind of term")}
    expected |= {("fhir", cases.EVERYTHING_CASE)}
    expected |= {("chart", "clinician opens the densest chart")}
    assert {(r["group"], r["case"]) for r in record["results"]} == expected
    runs_per_case = {"ingestion": 3, "patient search: every kind of term": 2 * len(cases.SEARCH_KINDS)}
    for result in record["results"]:
        # The ingestion case runs at least three times; the search summary pools every kind of term's runs.
        assert result["runs"] == runs_per_case.get(result["group"], runs_per_case.get(result["case"], 2))
        for key in ("median_ms", "p95_ms", "baseline_median_ms", "baseline_p95_ms", "ratio"):
            assert isinstance(result[key], float), (result["case"], key)
            assert result[key] > 0, (result["case"], key)
        assert isinstance(result["met"], bool)
    chart = next(r for r in record["results"] if r["group"] == "chart")
    densest = cases.densest_chart_patient(organization_id("load-00"))
    assert chart["path"] == f"/admin/patients/patient/{densest}/change/"
    assert chart["target"] == "median < 300 ms"
    ingestion = next(r for r in record["results"] if r["group"] == "ingestion")
    assert ingestion["readings"] == 200
    assert ingestion["readings_per_second"] > 0

    assert {q["case"] for q in record["queries_per_request"]} == set(cases.list_endpoints(subject))
    for row in record["queries_per_request"]:
        assert row["queries_page_10"] > 0
        assert row["met"] is (row["queries_page_10"] == row["queries_page_100"])
    patients = next(q for q in record["queries_per_request"] if q["case"] == "patients")
    assert (patients["rows_page_10"], patients["rows_page_100"]) == (10, 100)

    # The clinical list endpoints now count queries on full pages; the subject patient has two consents.
    page_rows = {q["case"]: (q["rows_page_10"], q["rows_page_100"]) for q in record["queries_per_request"]}
    assert page_rows["patient consents"] == (2, 2)
    assert page_rows["encounters"] == (10, 100)
    assert page_rows["clinical events"] == (10, 100)

    totals = record["dataset"]["totals"]
    assert {table: totals.pop(table) for table in CLINICAL_TABLES}.keys() == set(CLINICAL_TABLES)
    assert totals == SMALL_TOTALS
    # The benchmark's own ingested rows are removed again.
    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM biomarkers_biomarkerlog WHERE source_reading_id LIKE '%%bench-%%'")
        assert cursor.fetchone()[0] == 0
    floor = record["api_request_floor"]
    assert (floor["path"], floor["me"]["path"]) == ("/bench/empty/", "/api/v1/me/")
    assert floor["runs"] == 2
    assert floor["median_ms"] > 0
    assert floor["me"]["median_ms"] > 0
    assert floor["sql_transaction"]["median_ms"] > 0
    table = runner.table(record)
    assert "| rls_overhead | patient list page |" in table
    assert "API request floor (GET /bench/empty/ with the key: a view that reads and renders nothing)" in table
    assert "GET /api/v1/me/ (one organization row), same run" in table
    assert "The SQL baselines' tenant transaction alone (BEGIN, tenant settings, COMMIT)" in table


def test_patient_list_baseline_is_the_same_query_with_the_explicit_organization_filter(
    small_dataset: dict[str, dict[str, int]],
) -> None:
    subject = placeholder_subject()
    runtime, owner = cases.rls_statements(subject, "patient list page")
    assert len(runtime) == len(owner) == 2
    explicit = ' AND "patients_patient"."organization_id" = %s'

    def without_filter(sql: str) -> str:
        return sql.replace(explicit, "").replace("(", "").replace(")", "")

    for (runtime_sql, _), (owner_sql, owner_params) in zip(runtime, owner, strict=True):
        assert '"organization_id" =' not in runtime_sql  # the tenant policy alone
        assert explicit in owner_sql
        assert subject.organization_id in owner_params
        assert without_filter(owner_sql) == without_filter(runtime_sql)
    # Every other case replays the selectors' own statements on both roles.
    runtime, owner = cases.rls_statements(subject, "organization aging report")
    assert runtime == owner


def test_remittance_case_imports_an_835_in_statements_that_do_not_grow_and_rolls_back(
    small_dataset: dict[str, dict[str, int]],
) -> None:
    from bench import remittance

    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM billing_ledgerentry")
        entries_before = cursor.fetchone()[0]
    stream = io.StringIO()
    small = remittance.run(slug="load-00", claims=25, stream=stream)
    larger = remittance.run(slug="load-00", claims=75, stream=stream)
    assert (small["claims"], small["lines"], larger["claims"], larger["lines"]) == (25, 100, 75, 300)
    # Every 25th claim denied, the others paid (a deductible-only line is answered too).
    assert (small["statuses"], larger["statuses"]) == (
        {"paid": 24, "partly_paid": 0, "denied": 1},
        {"paid": 72, "partly_paid": 0, "denied": 3},
    )
    # 70 % paid, 20 % CO-45 on every paid line but the deductible ones (every 10th claim's last line).
    fee, paid_lines = remittance.FEE_CENTS, 24 * 4 - 2
    assert small["posted_cents"] == {
        "paid": paid_lines * fee * 7 // 10,
        "CO": paid_lines * fee * 2 // 10,
        "PR": 2 * fee + paid_lines * fee // 10,
    }
    assert larger["statements"] == small["statements"]
    assert small["remittance_lines"] == 96
    assert isinstance(small["met"], bool)
    assert small["peak_rss_mb"] > 0
    assert "835 import on load-00: 25 claims, 100 lines" in stream.getvalue()
    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM billing_ledgerentry")
        assert cursor.fetchone()[0] == entries_before
