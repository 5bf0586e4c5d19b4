"""The benchmark cases. Each measures a subject against a baseline in the same run, interleaved.

* RLS overhead: the statements the app's selectors send (captured from a real call, so there is no second copy
  of the hot queries) replayed on the runtime role with RLS, and the same statements on the owner role, which
  has BYPASSRLS, with the same tenant settings. The owner's statements filter on the organization explicitly:
  most selectors add that filter themselves, the biomarker ones filter on a patient, which fixes the
  organization, and the patient list, which leaves it to the policy, is captured for the owner with the filter
  added (`rls_baseline_calls`).
* ORM/API path: the DRF view through the in-process test client with a partner API key, against a
  hand-written SQL query returning the same data in a tenant transaction on the same role.
* Ingestion: the bulk biomarker endpoint with 10,000 readings against a COPY of the same rows (COPY FROM is
  refused for a table under RLS, so it runs as the owner).
* FHIR: `Patient/<id>/$everything` of the densest patient against the statements reading the same rows.
* Queries per request: every list endpoint at page sizes 10 and 100.
* The chart: a clinician opens the chart of the load data's densest patient (server time, target under 300 ms)
  against the page's own SELECTs replayed on the runtime role.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import psycopg
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connections, transaction
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.billing import selectors as billing_selectors
from apps.biomarkers import catalog
from apps.biomarkers import selectors as biomarker_selectors
from apps.clinical import selectors as clinical_selectors
from apps.clinical.timeline import selectors as timeline_selectors
from apps.organizations import services as organization_services
from apps.organizations.context import tenant_context
from apps.organizations.ids import uuid7
from apps.organizations.local_dates import format_local_date
from apps.organizations.models import Membership
from apps.organizations.roles import Role, Scope
from apps.organizations.time_zones import zone_named
from apps.patients import selectors as patient_selectors
from apps.patients.models import Patient

from . import urls as bench_urls

# Day buckets are the clinic's days; the plan and the cost of the statement do not depend on the zone.
BUCKET_ZONE = zone_named("UTC")

RUNTIME, OWNER = "default", "owner"
PREPARE_THRESHOLD = settings.DATABASES[RUNTIME].get("OPTIONS", {}).get("prepare_threshold")
RLS_TARGET = 1.10
API_TARGET = 3.0
INGEST_RATIO_TARGET = 5.0
INGEST_RATE_TARGET = 20_000
AGING_TARGET_MS = 300.0
BATCH = 10_000
PAGE = 50


@dataclass
class Subject:
    """What the cases run against: the biggest organization, a patient with a dense series, an API key."""

    organization_id: uuid.UUID
    slug: str
    patient_id: uuid.UUID
    metric_type: str
    start: dt.datetime
    end: dt.datetime
    api_key: str
    patients: list[uuid.UUID] = field(default_factory=list)
    search_terms: dict[str, str] = field(default_factory=dict)


@dataclass
class Result:
    group: str
    case: str
    subject_ms: list[float]
    baseline_ms: list[float]
    target: str
    met: bool
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        subject, baseline = summary(self.subject_ms), summary(self.baseline_ms)
        return {
            "group": self.group,
            "case": self.case,
            "median_ms": subject["median"],
            "p95_ms": subject["p95"],
            "baseline_median_ms": baseline["median"],
            "baseline_p95_ms": baseline["p95"],
            "ratio": round(subject["median"] / baseline["median"], 3) if baseline["median"] else None,
            "runs": len(self.subject_ms),
            "target": self.target,
            "met": self.met,
            **self.extra,
        }


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {"median": round(statistics.median(ordered), 3), "p95": round(p95, 3)}


def ratio(subject: list[float], baseline: list[float]) -> float:
    return statistics.median(subject) / statistics.median(baseline)


# --- the subject ------------------------------------------------------------------------------------------


def pick_subject(slug: str) -> Subject:
    """The organization `slug`, its first patient (a dense wearable series) and that patient's busiest metric."""
    with connections[OWNER].cursor() as cursor:
        cursor.execute("SELECT id FROM organizations_organization WHERE slug = %s", [slug])
        row = cursor.fetchone()
        if row is None:
            raise LookupError(f"No organization {slug!r}: run manage.py generate_load_data first.")
        organization_id = row[0]
        cursor.execute(
            "SELECT id FROM patients_patient WHERE organization_id = %s AND deleted_at IS NULL ORDER BY mrn LIMIT 200",
            [organization_id],
        )
        patients = [r[0] for r in cursor.fetchall()]
        end = timezone.now().replace(microsecond=0)
        start = end - dt.timedelta(days=90)
        cursor.execute(
            "SELECT metric_type FROM biomarkers_biomarkerlog WHERE patient_id = %s AND captured_at >= %s "
            "AND value_numeric IS NOT NULL GROUP BY metric_type ORDER BY count(*) DESC, metric_type LIMIT 1",
            [patients[0], start],
        )
        metric = cursor.fetchone()
    with tenant_context(organization_id, Role.OWNER):
        # The clinic's own integration (no patient consent needed), as the benchmark's API cases have always been.
        partner = organization_services.partner_create(
            name=f"Benchmark {uuid.uuid4().hex[:8]}", requires_patient_consent=False
        )
        _, raw_key = organization_services.api_key_create(
            partner=partner, name="benchmark", scopes=list(Scope.values), phi_access=True
        )
    return Subject(
        organization_id=organization_id,
        slug=slug,
        patient_id=patients[0],
        metric_type=metric[0] if metric else "heart_rate",
        start=start,
        end=end,
        api_key=raw_key,
        patients=patients,
        search_terms=search_terms(patients[len(patients) // 2]),
    )


SEARCH_KINDS = (
    "name, family first",
    "name, given first, lower case",
    "part of a family name",
    "name with a letter missing",
    "end of an MRN",
    "birth date, local format",
    "phone, local format",
)


def search_terms(patient_id: uuid.UUID) -> dict[str, str]:
    """What the front desk types to find one patient, one term of each kind (`SEARCH_KINDS`; USERS.md, front
    desk). The load data gives every patient a phone number."""
    with connections[OWNER].cursor() as cursor:
        cursor.execute(
            "SELECT mrn, given_name, family_name, date_of_birth, phone FROM patients_patient WHERE id = %s",
            [patient_id],
        )
        mrn, given, family, born, phone = cursor.fetchone()
    digits = "".join(ch for ch in phone if ch.isdigit())[-10:]
    terms = (
        f"{family}, {given}",
        f"{given.lower()} {family.lower()}",
        family[:4].upper(),
        f"{given} {family[:1]}{family[2:]}",  # the second letter: a typo, never the beginning of the name
        mrn[-4:],
        format_local_date(born),
        f"({digits[:3]}) {digits[3:6]}-{digits[6:]}",
    )
    return dict(zip(SEARCH_KINDS, terms, strict=True))


# --- RLS overhead -----------------------------------------------------------------------------------------


Statement = tuple[str, Any]


def capture(subject: Subject, call: Callable[[], object]) -> list[Statement]:
    """The statements `call` sends on the runtime connection: SQL text and parameters, exactly as sent."""
    captured: list[Statement] = []

    def record(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        captured.append((sql, params))
        return execute(sql, params, many, context)

    with tenant_context(subject.organization_id, Role.OWNER), connections[RUNTIME].execute_wrapper(record):
        call()
    return captured


def replay(alias: str, subject: Subject, statements: list[Statement]) -> float:
    """Milliseconds to run and fetch `statements` on `alias` inside a tenant transaction.

    Both roles run them as the app's runtime connection does: the same text with the same parameters bound on
    the server, prepared by psycopg from a statement's sixth run when prepared statements are enabled (the
    default, `KURA_DB_PREPARED_STATEMENTS`), after which PostgreSQL decides per statement whether to keep one
    generic plan or plan each run for its values. So the runs after the warm-ups measure what a steady stream of
    requests costs, on each role.
    """
    with tenant_context(subject.organization_id, Role.OWNER, using=alias):
        raw = connections[alias].connection
        threshold = raw.prepare_threshold
        # The owner's connection keeps Django's default (no prepared statements): match the runtime's.
        raw.prepare_threshold = PREPARE_THRESHOLD
        try:
            with psycopg.Cursor(raw) as cursor:
                started = time.perf_counter()
                for sql, params in statements:
                    cursor.execute(sql.encode(), params)
                    cursor.fetchall()
                return (time.perf_counter() - started) * 1000
        finally:
            raw.prepare_threshold = threshold


def explain(subject: Subject, case: str) -> str:
    """EXPLAIN ANALYZE of a RLS case's statements on the runtime role (RLS) and on the owner (no RLS)."""
    parts = []
    for alias, statements in zip((RUNTIME, OWNER), rls_statements(subject, case), strict=True):
        with tenant_context(subject.organization_id, Role.OWNER, using=alias), connections[alias].cursor() as cursor:
            for sql, params in statements:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
                plan = "\n".join(row[0] for row in cursor.fetchall())
                parts.append(f"-- {alias}: {sql[:160]}\n{plan}\n")
    return "\n".join(parts)


def rls_calls(subject: Subject) -> dict[str, Callable[[], object]]:
    def patient() -> Patient:
        return patient_selectors.patient_list().get(pk=subject.patient_id)

    def patient_list_page() -> object:
        return list_page(patient_selectors.patient_list())

    def patient_detail() -> object:
        found = patient()
        events = list(clinical_selectors.clinical_event_list().filter(patient=found)[:PAGE])
        encounters = list(clinical_selectors.encounter_list().filter(patient=found)[:PAGE])
        return found, events, encounters

    def timeline_page() -> object:
        events = timeline_selectors.health_event_list(patient=patient())
        return timeline_selectors.health_event_page(events, cursor=None, size=PAGE)

    def series_raw() -> object:
        return biomarker_selectors.biomarker_series_raw(
            patient_id=subject.patient_id, metric_type=subject.metric_type, start=subject.start, end=subject.end
        )

    def series_daily() -> object:
        return biomarker_selectors.biomarker_series_bucketed(
            patient_id=subject.patient_id,
            metric_type=subject.metric_type,
            start=subject.start,
            end=subject.end,
            bucket="day",
            zone=BUCKET_ZONE,
        )

    def search_page() -> object:
        term = subject.search_terms["name, family first"]
        return list_page(patient_selectors.patient_list().filter(patient_selectors.patient_search_condition(term)))

    return {
        "patient list page": patient_list_page,
        "patient search page (name)": search_page,
        "patient detail + clinical summary": patient_detail,
        "timeline page": timeline_page,
        "biomarker series raw (90 days)": series_raw,
        "biomarker series daily (90 days)": series_daily,
        "patient balance": lambda: billing_selectors.patient_balance(patient_id=subject.patient_id),
        "organization aging report": lambda: billing_selectors.aging(),
    }


def list_page(patients: Any) -> object:
    return patients.count(), list(patients[:PAGE])


def rls_baseline_calls(subject: Subject) -> dict[str, Callable[[], object]]:
    """Cases whose selectors leave the organization to the policy alone: the owner's baseline is the same
    query with the explicit `organization_id` filter (the others carry it, or filter on one patient)."""
    return {"patient list page": lambda: list_page(patient_selectors.patient_list().for_current_organization())}


def rls_statements(subject: Subject, case: str) -> tuple[list[Statement], list[Statement]]:
    """A case's statements on the runtime role, and the owner's baseline statements."""
    statements = capture(subject, rls_calls(subject)[case])
    baseline = rls_baseline_calls(subject).get(case)
    return statements, (statements if baseline is None else capture(subject, baseline))


def run_rls(subject: Subject, runs: int, warmup: int) -> list[Result]:
    results = []
    for name in rls_calls(subject):
        statements, baseline = rls_statements(subject, name)
        runtime, owner = _interleaved(
            lambda s=statements: replay(RUNTIME, subject, s),  # type: ignore[misc]
            lambda s=baseline: replay(OWNER, subject, s),  # type: ignore[misc]
            runs,
            warmup,
        )
        met = ratio(runtime, owner) <= RLS_TARGET
        target = f"ratio <= {RLS_TARGET:.2f}"
        extra: dict[str, Any] = {"statements": len(statements)}
        if name == "organization aging report":
            met = met and statistics.median(runtime) < AGING_TARGET_MS
            target += f" and median < {AGING_TARGET_MS:.0f} ms"
        results.append(Result("rls_overhead", name, runtime, owner, target, met, extra))
    return results


# --- ORM/API path against hand-written SQL ----------------------------------------------------------------

_PATIENT_COLUMNS = (
    "id, mrn, given_name, family_name, preferred_name, date_of_birth, sex_at_birth, gender_identity, email, "
    "phone, address_line1, address_line2, city, region, postal_code, country, status, ssn, created_at, updated_at"
)


def api_cases(subject: Subject) -> dict[str, tuple[str, Callable[[], list[tuple[str, Any]]]]]:
    """Case name -> (API path, the hand-written statements returning the same data)."""
    patient, metric = subject.patient_id, subject.metric_type
    period = f"start={subject.start.isoformat()}&end={subject.end.isoformat()}".replace("+", "%2B")

    def balance() -> list[tuple[str, Any]]:
        params = billing_selectors._params(as_of=None, patient_id=patient)
        return [(billing_selectors.statement(billing_selectors._BALANCE_SQL, params), params)]

    def aging() -> list[tuple[str, Any]]:
        day = timezone.now().date()
        params = {**billing_selectors._params(as_of=None), "as_of": day}
        return [(billing_selectors.statement(billing_selectors._AGING_SQL, params), params)]

    def bucketed() -> list[tuple[str, Any]]:
        return [
            biomarker_selectors.bucketed_series_sql(
                patient_id=patient,
                metric_type=metric,
                start=subject.start,
                end=subject.end,
                bucket="day",
                zone=BUCKET_ZONE,
            )
        ]

    return {
        "patient list page": (
            f"/api/v1/patients/?limit={PAGE}",
            lambda: [
                ("SELECT count(*) FROM patients_patient WHERE deleted_at IS NULL", None),
                (
                    f"SELECT {_PATIENT_COLUMNS} FROM patients_patient WHERE deleted_at IS NULL "  # noqa: S608
                    f"ORDER BY family_name, given_name LIMIT {PAGE}",
                    None,
                ),
            ],
        ),
        "patient detail": (
            f"/api/v1/patients/{patient}/",
            lambda: [
                (
                    f"SELECT {_PATIENT_COLUMNS} FROM patients_patient WHERE id = %s AND deleted_at IS NULL",  # noqa: S608
                    [patient],
                )
            ],
        ),
        "timeline page": (
            f"/api/v1/patients/{patient}/health-events/?page_size={PAGE}",
            lambda: [
                (
                    "SELECT e.id, e.event_type, e.event_subtype, e.event_data, e.occurred_at, e.recorded_at, e.source, "
                    "e.supersedes_id, e.data_classification FROM clinical_healthevent e WHERE e.patient_id = %s "
                    "AND NOT EXISTS (SELECT 1 FROM clinical_healthevent c WHERE c.supersedes_id = e.id) "
                    "ORDER BY e.occurred_at DESC, e.id DESC LIMIT %s",
                    [patient, PAGE + 1],
                )
            ],
        ),
        "biomarker series raw (90 days)": (
            f"/api/v1/biomarkers/patients/{patient}/series/?metric_type={metric}&{period}&limit=500",
            lambda: [
                (
                    "SELECT id, source, source_reading_id, metric_type, value_numeric, value_text, unit, captured_at, "
                    "data_classification FROM biomarkers_biomarkerlog WHERE patient_id = %s AND metric_type = %s "
                    "AND captured_at >= %s AND captured_at < %s ORDER BY captured_at, id LIMIT 501",
                    [patient, metric, subject.start, subject.end],
                )
            ],
        ),
        "biomarker series daily (90 days)": (
            f"/api/v1/biomarkers/patients/{patient}/series/?metric_type={metric}&{period}&bucket=day",
            bucketed,
        ),
        "patient balance": (f"/api/v1/billing/patients/{patient}/balance/", balance),
        "organization aging report": ("/api/v1/billing/aging/", aging),
    }


def run_sql(subject: Subject, statements: list[tuple[str, Any]]) -> float:
    started = time.perf_counter()
    with tenant_context(subject.organization_id, Role.OWNER), connections[RUNTIME].cursor() as cursor:
        for statement, params in statements:
            cursor.execute(statement, params)
            cursor.fetchall()
    return (time.perf_counter() - started) * 1000


def api_client(subject: Subject) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Api-Key {subject.api_key}")


def timed_get(client: Client, path: str) -> float:
    started = time.perf_counter()
    response = client.get(path)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} answered {response.status_code}")
    return elapsed


ME_PATH = "/api/v1/me/"


def request_floor(subject: Subject, runs: int, warmup: int) -> dict[str, Any]:
    """What any API request costs before its own work, through the same client and key: a view that reads and
    renders nothing (`bench.urls.EmptyApi`: middleware, the tenant transaction with the key lookup and the
    tenant settings, DRF's authentication, permission and throttle, JSON). `GET /api/v1/me/`, the lightest real
    endpoint (one organization row), runs interleaved with it. Also measured: the tenant transaction the SQL
    baselines open around their statements, which the floor includes too: an API case takes at least
    floor + (its SQL - that transaction)."""
    client = api_client(subject)
    with override_settings(ROOT_URLCONF="bench.urls"):
        empty, me = _interleaved(
            lambda: timed_get(client, bench_urls.EMPTY_PATH), lambda: timed_get(client, ME_PATH), runs, warmup
        )
    # What the SQL baselines spend besides their statements: the tenant transaction `run_sql` opens.
    for _ in range(warmup):
        run_sql(subject, [])
    transaction_only = [run_sql(subject, []) for _ in range(runs)]
    return {
        "path": bench_urls.EMPTY_PATH,
        "runs": runs,
        **{f"{k}_ms": v for k, v in summary(empty).items()},
        "me": {"path": ME_PATH, **{f"{k}_ms": v for k, v in summary(me).items()}},
        "sql_transaction": {f"{k}_ms": v for k, v in summary(transaction_only).items()},
    }


def run_api(subject: Subject, runs: int, warmup: int) -> list[Result]:
    client = api_client(subject)
    results = []
    for name, (path, statements) in api_cases(subject).items():
        api, raw = _interleaved(
            lambda p=path: timed_get(client, p),  # type: ignore[misc]
            lambda s=statements: run_sql(subject, s()),  # type: ignore[misc]
            runs,
            warmup,
        )
        met = ratio(api, raw) <= API_TARGET
        results.append(Result("api_vs_sql", name, api, raw, f"ratio <= {API_TARGET:.0f}", met, {"path": path}))
    return results


# --- search -----------------------------------------------------------------------------------------------

SEARCH_P95_TARGET_MS = 30.0


def search_path(term: str) -> str:
    return f"/api/v1/patients/?{urlencode({'search': term, 'limit': PAGE})}"


def run_search(subject: Subject, runs: int, warmup: int) -> list[Result]:
    """The patient search through the API, each kind of term in turn (`search_terms`), against the statements
    its selector sends replayed on the runtime role; the target is the API's p95 over every term and run."""
    client = api_client(subject)
    results = []
    api_all: list[float] = []
    sql_all: list[float] = []
    for kind, term in subject.search_terms.items():

        def page(term: str = term) -> object:
            condition = patient_selectors.patient_search_condition(term)
            return list_page(patient_selectors.patient_list().filter(condition))

        statements = capture(subject, page)
        api, sql = _interleaved(
            lambda t=term: timed_get(client, search_path(t)),  # type: ignore[misc]
            lambda s=statements: replay(RUNTIME, subject, s),  # type: ignore[misc]
            runs,
            warmup,
        )
        api_all += api
        sql_all += sql
        with tenant_context(subject.organization_id, Role.OWNER):
            found = patient_selectors.patient_list().filter(patient_selectors.patient_search_condition(term)).count()
        met = summary(api)["p95"] < SEARCH_P95_TARGET_MS
        target = f"p95 < {SEARCH_P95_TARGET_MS:.0f} ms"
        results.append(Result("search", f"patient search: {kind}", api, sql, target, met, {"found": found}))
    met = summary(api_all)["p95"] < SEARCH_P95_TARGET_MS
    target = f"p95 < {SEARCH_P95_TARGET_MS:.0f} ms"
    results.append(Result("search", "patient search: every kind of term", api_all, sql_all, target, met))
    return results


# --- the chart --------------------------------------------------------------------------------------------

CHART_TARGET_MS = 300.0
CHART_CLINICIAN = "bench-clinician-{slug}"

# The patient whose chart holds the most: clinical events, encounters and timeline events (the chart's biomarker
# trends are bucketed, so readings do not make it longer).
_DENSEST_CHART_SQL = """
SELECT patient_id FROM (
    SELECT patient_id FROM clinical_clinicalevent WHERE organization_id = %(org)s
    UNION ALL SELECT patient_id FROM clinical_encounter WHERE organization_id = %(org)s
    UNION ALL SELECT patient_id FROM clinical_healthevent WHERE organization_id = %(org)s
) AS rows
GROUP BY patient_id
ORDER BY count(*) DESC, patient_id
LIMIT 1
"""


def densest_chart_patient(organization_id: uuid.UUID) -> uuid.UUID:
    """The load data's patient of `organization_id` with the most rows in their chart."""
    with connections[OWNER].cursor() as cursor:
        cursor.execute(_DENSEST_CHART_SQL, {"org": organization_id})
        row = cursor.fetchone()
    if row is None:
        raise LookupError("The organization has no clinical data: run manage.py generate_load_data first.")
    return row[0]


def clinician_client(subject: Subject) -> Client:
    """A clinician of the subject's organization, signed in with password and second factor (a verified
    session, as `django_otp.login` leaves it)."""
    user, _ = get_user_model().objects.get_or_create(
        username=CHART_CLINICIAN.format(slug=subject.slug), defaults={"is_staff": True}
    )
    with tenant_context(subject.organization_id, Role.OWNER):
        if not Membership.objects.filter(user=user).exists():
            organization_services.membership_create(user=user, role=Role.CLINICIAN)
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
        user=user, name="benchmark", confirmed=True
    )
    client = Client()
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def chart_path(patient_id: uuid.UUID) -> str:
    return f"/admin/patients/patient/{patient_id}/change/"


def run_chart(subject: Subject, runs: int, warmup: int) -> list[Result]:
    """A clinician opens the chart of the load data's densest patient: the page's server time (in process, no
    network), against the SELECTs the page sends replayed on the runtime role (its database work alone)."""
    patient_id = densest_chart_patient(subject.organization_id)
    client = clinician_client(subject)
    path = chart_path(patient_id)
    statements: list[Statement] = []

    def record(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        statements.append((sql, params))
        return execute(sql, params, many, context)

    with connections[RUNTIME].execute_wrapper(record):
        timed_get(client, path)
    reads = [(sql, params) for sql, params in statements if sql.lstrip().upper().startswith("SELECT")]
    page, sql = _interleaved(
        lambda: timed_get(client, path),
        lambda: replay(RUNTIME, subject, reads),
        runs,
        warmup,
    )
    met = statistics.median(page) < CHART_TARGET_MS
    extra = {"path": path, "queries": len(statements)}
    return [
        Result(
            "chart", "clinician opens the densest chart", page, sql, f"median < {CHART_TARGET_MS:.0f} ms", met, extra
        )
    ]


# --- ingestion --------------------------------------------------------------------------------------------

_COPY_COLUMNS = (
    "id, organization_id, created_at, updated_at, data_classification, patient_id, source, source_reading_id, "
    "metric_type, value_numeric, value_text, unit, raw_payload, captured_at"
)


def readings(subject: Subject, tag: str, count: int) -> list[dict[str, Any]]:
    metric = catalog.METRICS["heart_rate"]
    now = timezone.now().replace(microsecond=0)
    return [
        {
            "patient_id": str(subject.patients[i % len(subject.patients)]),
            "source": metric.sources[0],
            "source_reading_id": f"bench-{tag}-{i}",
            "metric_type": metric.code,
            "value_numeric": 60 + i % 40,
            "unit": metric.unit,
            "captured_at": (now - dt.timedelta(seconds=i)).isoformat(),
        }
        for i in range(count)
    ]


def post_batch(client: Client, batch: list[dict[str, Any]]) -> float:
    body = json.dumps({"readings": batch})
    started = time.perf_counter()
    response = client.post("/api/v1/biomarkers/readings/", body, content_type="application/json")
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 201 or response.json()["created"] != len(batch):
        raise RuntimeError(f"Ingestion answered {response.status_code}")
    return elapsed


def copy_batch(subject: Subject, batch: list[dict[str, Any]]) -> float:
    """COPY the same readings as the owner, with fresh ids made the way the endpoint makes them (time-ordered,
    `uuid7`); timed from building the rows to commit."""
    started = time.perf_counter()
    now = timezone.now()
    classification = catalog.METRICS["heart_rate"].classification
    statement = f"COPY biomarkers_biomarkerlog ({_COPY_COLUMNS}) FROM STDIN"
    with transaction.atomic(using=OWNER), connections[OWNER].cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for row in batch:
            copy.write_row(
                (
                    uuid7(),
                    subject.organization_id,
                    now,
                    now,
                    classification,
                    row["patient_id"],
                    row["source"],
                    "copy-" + row["source_reading_id"],
                    row["metric_type"],
                    row["value_numeric"],
                    None,
                    row["unit"],
                    "{}",
                    row["captured_at"],
                )
            )
    return (time.perf_counter() - started) * 1000


def run_ingestion(subject: Subject, runs: int, warmup: int, batch_size: int) -> list[Result]:
    client = api_client(subject)
    counter = iter(range(10**6))
    tag = uuid.uuid4().hex[:8]
    try:
        api, copy = _interleaved(
            lambda: post_batch(client, readings(subject, f"{tag}-{next(counter)}", batch_size)),
            lambda: copy_batch(subject, readings(subject, f"{tag}-{next(counter)}", batch_size)),
            runs,
            warmup,
        )
    finally:
        with connections[OWNER].cursor() as cursor:
            cursor.execute(
                "DELETE FROM biomarkers_historicalbiomarkerlog WHERE source_reading_id LIKE %s", [f"bench-{tag}-%"]
            )
            cursor.execute(
                "DELETE FROM biomarkers_biomarkerlog WHERE source_reading_id LIKE %s OR source_reading_id LIKE %s",
                [f"bench-{tag}-%", f"copy-bench-{tag}-%"],
            )
    rate = batch_size / (statistics.median(api) / 1000)
    met = ratio(api, copy) <= INGEST_RATIO_TARGET and rate >= INGEST_RATE_TARGET
    target = f"ratio <= {INGEST_RATIO_TARGET:.0f} and >= {INGEST_RATE_TARGET:,} readings/s"
    extra = {"readings": batch_size, "readings_per_second": round(rate)}
    return [Result("ingestion", f"bulk endpoint {batch_size:,} readings vs COPY", api, copy, target, met, extra)]


# --- FHIR -------------------------------------------------------------------------------------------------

EVERYTHING_TARGET_MS = 1000.0
EVERYTHING_CASE = "Patient $everything, densest patient"
# One statement per table `$everything` reads, for one patient: the rows it shows, without rendering them.
_EVERYTHING_TABLES = (
    "clinical_encounter",
    "clinical_vital",
    "clinical_observation",
    "biomarkers_biomarkerlog",
    "clinical_assessmentresponse",
    "clinical_condition",
    "clinical_medication",
    "clinical_allergy",
    "clinical_immunization",
    "billing_insurancepolicy",
    "scheduling_appointment",
)


def densest_patient(subject: Subject) -> uuid.UUID:
    """The organization's patient with the most records (readings, clinical events, encounters, assessments)."""
    with connections[OWNER].cursor() as cursor:
        cursor.execute(
            "SELECT patient_id FROM ("
            " SELECT patient_id FROM biomarkers_biomarkerlog WHERE organization_id = %(org)s"
            " UNION ALL SELECT patient_id FROM clinical_clinicalevent WHERE organization_id = %(org)s"
            " UNION ALL SELECT patient_id FROM clinical_encounter WHERE organization_id = %(org)s"
            " UNION ALL SELECT patient_id FROM clinical_assessmentresponse WHERE organization_id = %(org)s"
            ") AS records GROUP BY patient_id ORDER BY count(*) DESC, patient_id LIMIT 1",
            {"org": subject.organization_id},
        )
        row = cursor.fetchone()
    return row[0] if row else subject.patient_id


def everything_statements(patient_id: uuid.UUID) -> list[tuple[str, Any]]:
    statements: list[tuple[str, Any]] = [("SELECT * FROM patients_patient WHERE id = %s", [patient_id])]
    statements += [(f"SELECT * FROM {table} WHERE patient_id = %s", [patient_id]) for table in _EVERYTHING_TABLES]  # noqa: S608
    statements.append(
        (
            "SELECT c.* FROM clinical_medicalcodeassignment c JOIN clinical_clinicalevent e ON e.id = c.event_id "
            "WHERE e.patient_id = %s",
            [patient_id],
        )
    )
    return statements


def timed_everything(client: Client, patient_id: uuid.UUID) -> float:
    """Every page of the patient's `$everything`, following the next links, as one timing."""
    started = time.perf_counter()
    path: str | None = f"/fhir/R4/Patient/{patient_id}/$everything?_count=1000"
    while path is not None:
        response = client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} answered {response.status_code}")
        links = {link["relation"]: link["url"] for link in response.json()["link"]}
        path = links["next"].removeprefix("http://testserver") if "next" in links else None
    return (time.perf_counter() - started) * 1000


def run_fhir(subject: Subject, runs: int, warmup: int) -> list[Result]:
    """FHIR `Patient/<id>/$everything` of the densest patient (every page) against the hand-written statements
    reading the same rows; the target is a median under a second."""
    client = api_client(subject)
    patient_id = densest_patient(subject)
    statements = everything_statements(patient_id)
    api, raw = _interleaved(
        lambda: timed_everything(client, patient_id), lambda: run_sql(subject, statements), runs, warmup
    )
    met = statistics.median(api) <= EVERYTHING_TARGET_MS
    extra = {"path": f"/fhir/R4/Patient/{patient_id}/$everything?_count=1000"}
    return [Result("fhir", EVERYTHING_CASE, api, raw, f"median <= {EVERYTHING_TARGET_MS:.0f} ms", met, extra)]


# --- queries per request ----------------------------------------------------------------------------------


def list_endpoints(subject: Subject) -> dict[str, Callable[[int], str]]:
    patient = subject.patient_id
    period = f"start={subject.start.isoformat()}&end={subject.end.isoformat()}".replace("+", "%2B")
    return {
        "patients": lambda n: f"/api/v1/patients/?limit={n}",
        "patient consents": lambda n: f"/api/v1/patients/{patient}/consents/?limit={n}",
        "encounters": lambda n: f"/api/v1/encounters/?limit={n}",
        "clinical events": lambda n: f"/api/v1/clinical-events/?limit={n}",
        "health events": lambda n: f"/api/v1/patients/{patient}/health-events/?page_size={n}",
        "billing entries": lambda n: f"/api/v1/billing/entries/?limit={n}",
        "biomarker series raw": lambda n: (
            f"/api/v1/biomarkers/patients/{patient}/series/?metric_type={subject.metric_type}&{period}&limit={n}"
        ),
        "biomarker out-of-reference": lambda n: f"/api/v1/biomarkers/out-of-reference/?limit={n}",
    }


def count_queries(client: Client, path: str) -> tuple[int, int]:
    """(queries, rows in the page) of one GET."""
    with CaptureQueriesContext(connections[RUNTIME]) as queries:
        response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} answered {response.status_code}")
    body = response.json()
    items = body.get("results", body.get("points", [])) if isinstance(body, dict) else body
    return len(queries.captured_queries), len(items or [])


def run_queries(subject: Subject) -> list[dict[str, Any]]:
    client = api_client(subject)
    rows = []
    for name, path in list_endpoints(subject).items():
        small, small_rows = count_queries(client, path(10))
        large, large_rows = count_queries(client, path(100))
        rows.append(
            {
                "group": "queries_per_request",
                "case": name,
                "path": path(100),
                "queries_page_10": small,
                "queries_page_100": large,
                "rows_page_10": small_rows,
                "rows_page_100": large_rows,
                "target": "equal at 10 and 100",
                "met": small == large,
            }
        )
    return rows


# --- helpers ----------------------------------------------------------------------------------------------


def _interleaved(
    subject: Callable[[], float], baseline: Callable[[], float], runs: int, warmup: int
) -> tuple[list[float], list[float]]:
    """Alternate subject and baseline (switching which goes first) so drift and cache effects hit both alike."""
    for _ in range(warmup):
        subject()
        baseline()
    subject_ms, baseline_ms = [], []
    for i in range(runs):
        if i % 2:
            baseline_ms.append(baseline())
            subject_ms.append(subject())
        else:
            subject_ms.append(subject())
            baseline_ms.append(baseline())
    return subject_ms, baseline_ms
