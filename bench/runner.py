"""Runs every case, writes the JSON record and prints the table."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any, TextIO

from django.db import connections
from django.utils import timezone

from apps.loadgen import generator

from . import cases

DEFAULT_OUT = Path(__file__).resolve().parent / "results.json"


def dataset() -> dict[str, Any]:
    counts = generator.counts_per_organization()
    totals: dict[str, int] = {}
    for per_table in counts.values():
        for table, count in per_table.items():
            totals[table] = totals.get(table, 0) + count
    return {"organizations": len(counts), "totals": totals, "per_organization": counts}


# Tables the benchmark writes: the readings it ingests and deletes again, their audit rows, the PHI access log,
# its partner and key. A run leaves dead rows there; vacuuming them first keeps autovacuum from starting in the
# middle of the next run's measurements.
WRITTEN_TABLES = (
    "biomarkers_biomarkerlog",
    "biomarkers_historicalbiomarkerlog",
    "patients_phiaccesslog",
    "organizations_partner",
    "organizations_apikey",
)


def settle() -> None:
    with connections["owner"].cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {', '.join(WRITTEN_TABLES)}")


GROUPS = ("rls", "api", "search", "chart", "ingestion", "fhir")


def run(
    *, slug: str, runs: int, warmup: int, batch: int, out: Path, stream: TextIO, only: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Every group of cases, or only those named in `only` (then without the request floor and query counts)."""
    started = time.monotonic()
    settle()
    subject = cases.pick_subject(slug)
    stream.write(f"Benchmark on {slug}: patient with a dense series, metric {subject.metric_type}; {runs} runs.\n")
    results: list[dict[str, Any]] = []
    for group, label, step in (
        ("rls", "RLS overhead", lambda: cases.run_rls(subject, runs, warmup)),
        ("api", "API vs SQL", lambda: cases.run_api(subject, runs, warmup)),
        ("search", "search", lambda: cases.run_search(subject, runs, warmup)),
        ("chart", "the chart", lambda: cases.run_chart(subject, runs, warmup)),
        ("ingestion", "ingestion", lambda: cases.run_ingestion(subject, max(3, runs // 4), 1, batch)),
        ("fhir", "FHIR", lambda: cases.run_fhir(subject, runs, warmup)),
    ):
        if only and group not in only:
            continue
        stream.write(f"  {label} ...\n")
        stream.flush()
        results += [r.as_dict() for r in step()]
    floor = cases.request_floor(subject, runs, warmup) if not only else None
    if not only:
        stream.write("  queries per request ...\n")
    queries = cases.run_queries(subject) if not only else []
    with connections["owner"].cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    record = {
        "measured_at": timezone.now().isoformat(),
        "seconds": round(time.monotonic() - started, 1),
        "runs": runs,
        "warmup": warmup,
        "machine": {"python": platform.python_version(), "postgresql": server, "cpus": _cpus()},
        "dataset": dataset(),
        "organization": slug,
        "results": results,
        "api_request_floor": floor,
        "queries_per_request": queries,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2, default=str) + "\n")
    stream.write(table(record))
    stream.write(f"\nWritten to {out}\n")
    return record


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


def table(record: dict[str, Any]) -> str:
    """The record as Markdown tables (what bench/README.md quotes)."""
    lines = [
        "| group | case | median ms | p95 ms | baseline median ms | baseline p95 ms | ratio | target | met |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for r in record["results"]:
        target = r["target"]
        if "readings_per_second" in r:
            target += f" ({r['readings_per_second']:,} readings/s)"
        lines.append(
            f"| {r['group']} | {r['case']} | {r['median_ms']:.2f} | {r['p95_ms']:.2f} | "
            f"{r['baseline_median_ms']:.2f} | {r['baseline_p95_ms']:.2f} | {r['ratio']:.2f} | {target} | "
            f"{'met' if r['met'] else 'NOT met'} |"
        )
    floor = record.get("api_request_floor")
    if floor:
        lines += [
            "",
            f"API request floor (GET {floor['path']} with the key: a view that reads and renders nothing): "
            f"{floor['median_ms']:.2f} ms median, {floor['p95_ms']:.2f} ms p95.",
        ]
        me = floor.get("me")
        if me:
            lines.append(
                f"GET {me['path']} (one organization row), same run: "
                f"{me['median_ms']:.2f} ms median, {me['p95_ms']:.2f} ms p95."
            )
        transaction_only = floor.get("sql_transaction")
        if transaction_only:
            lines.append(
                "The SQL baselines' tenant transaction alone (BEGIN, tenant settings, COMMIT): "
                f"{transaction_only['median_ms']:.2f} ms median."
            )
    lines += [
        "",
        "| list endpoint | queries at 10 | queries at 100 | rows at 10 | rows at 100 | met |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for q in record["queries_per_request"]:
        lines.append(
            f"| {q['case']} | {q['queries_page_10']} | {q['queries_page_100']} | {q['rows_page_10']} | "
            f"{q['rows_page_100']} | {'met' if q['met'] else 'NOT met'} |"
        )
    return "\n".join(lines) + "\n"
