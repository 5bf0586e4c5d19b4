"""Set-based generation of a large, valid dataset for the benchmarks.

Everything runs on the owner connection (cross-tenant, BYPASSRLS) as `INSERT ... SELECT generate_series`, so
PostgreSQL builds the rows itself and nothing is shipped row by row from Python. Rows are valid for the app:
every NOT NULL column is filled, choices, metadata and `event_data` follow the app's validators, optional
encrypted fields (SSN, member ids) are left empty. History tables are not filled: load data is not an audited
change. Ledger payments are applied to charges through `billing_ledgerapplication`. Its guard triggers (the row
trigger's organization check; the statement trigger that locks the entries, checks the rules and adds the amounts
to their `applied_cents`) and the trigger that keeps `applied_cents` to the guard are switched off inside the
loading transaction (other sessions wait on the table locks, so none ever sees them off): the applications are
valid by construction (a payment of exactly one charge of the same patient and currency), both entries get
`applied_cents` set-based, and `verify_applications` checks the guard's rules and those totals set-based
afterwards.

The organizations are named `load-00`, `load-01`, ...; the first one holds `BIG_SHARE` of every table.
"""

from __future__ import annotations

import math
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TextIO

from django.db import DatabaseError, connections, transaction
from django.db.backends.utils import CursorWrapper

from apps.biomarkers import catalog

OWNER = "owner"
SLUG_PREFIX = "load-"
BIG_SHARE = 0.4
CHUNK = 250_000
# One patient in HEAVY_EVERY wears a device that reports often: half of all readings are theirs.
HEAVY_EVERY = 100
PAYMENT_SHARE = 0.15


@dataclass(frozen=True)
class Sizes:
    organizations: int = 20
    patients: int = 50_000
    ledger_entries: int = 1_000_000
    readings: int = 10_000_000
    health_events: int = 1_000_000
    encounters: int = 200_000
    clinical_events: int = 500_000

    @classmethod
    def small(cls) -> Sizes:
        return cls(
            organizations=4,
            patients=400,
            ledger_entries=4_000,
            readings=20_000,
            health_events=4_000,
            encounters=800,
            clinical_events=2_000,
        )

    def scaled(self, factor: float) -> Sizes:
        return Sizes(
            organizations=self.organizations,
            patients=max(self.organizations, round(self.patients * factor)),
            ledger_entries=round(self.ledger_entries * factor),
            readings=round(self.readings * factor),
            health_events=round(self.health_events * factor),
            encounters=round(self.encounters * factor),
            clinical_events=round(self.clinical_events * factor),
        )


def split(total: int, organizations: int) -> list[int]:
    """`total` spread over organizations: the first gets BIG_SHARE, the others share the rest evenly."""
    if organizations == 1:
        return [total]
    rest = total - math.floor(total * BIG_SHARE)
    each, extra = divmod(rest, organizations - 1)
    others = [each + (1 if i < extra else 0) for i in range(organizations - 1)]
    return [total - sum(others), *others]


@dataclass
class Report:
    sizes: Sizes
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())


class Progress:
    """A one-line text progress bar on a stream (redrawn in place on a terminal, one line per step otherwise)."""

    def __init__(self, stream: TextIO, label: str, total: int) -> None:
        self.stream, self.label, self.total, self.done = stream, label, max(total, 1), 0
        self.started = time.monotonic()
        self.tty = stream.isatty()
        self.shown = 0

    def advance(self, count: int) -> None:
        self.done += count
        if self.tty:
            self._draw(end="")
        elif self.done * 10 // self.total > self.shown:  # a log file gets a line per tenth
            self.shown = self.done * 10 // self.total
            self._draw(end="\n")

    def finish(self) -> float:
        elapsed = time.monotonic() - self.started
        self._draw(end="\n")
        return elapsed

    def _draw(self, end: str) -> None:
        share = min(self.done / self.total, 1.0)
        bar = "#" * int(share * 30)
        elapsed = time.monotonic() - self.started
        prefix = "\r" if self.tty else ""
        self.stream.write(
            f"{prefix}{self.label:<16} [{bar:<30}] {share:6.1%} {self.done:>11,} rows {elapsed:7.1f}s{end}"
        )
        self.stream.flush()


def _chunks(total: int, size: int = CHUNK) -> Iterator[tuple[int, int]]:
    """(first, last) of consecutive 1-based ranges covering 1..total."""
    for first in range(1, total + 1, size):
        yield first, min(first + size - 1, total)


@contextmanager
def _owner_cursor() -> Iterator[CursorWrapper]:
    with transaction.atomic(using=OWNER), connections[OWNER].cursor() as cursor:
        yield cursor


def existing_organizations() -> list[uuid.UUID]:
    with connections[OWNER].cursor() as cursor:
        cursor.execute(
            "SELECT id FROM organizations_organization WHERE slug LIKE %s ORDER BY slug", [SLUG_PREFIX + "%"]
        )
        return [row[0] for row in cursor.fetchall()]


_DELETE_FIRST = (
    "clinical_vital",
    "clinical_condition",
    "clinical_observation",
    "clinical_intervention",
    "clinical_allergy",
    "clinical_medication",
    "clinical_immunization",
    "clinical_medicalcodeassignment",
    "clinical_clinicalevent",
    "clinical_encounter",
    "patients_consent",
)
# Deleting the load applications would adjust the applied totals of entries deleted right after: skip that.
_DELETE_WITHOUT_TRIGGER = {"billing_ledgerapplication": "billing_application_changed"}


def delete_load_data(stream: TextIO) -> None:
    """Remove the load organizations and every row that belongs to them (owner role; FK order found by retry)."""
    orgs = existing_organizations()
    if not orgs:
        return
    with connections[OWNER].cursor() as cursor:
        cursor.execute(
            "SELECT c.table_name FROM information_schema.columns c JOIN information_schema.tables t "
            "USING (table_schema, table_name) WHERE c.table_schema = 'public' AND c.column_name = 'organization_id' "
            "AND t.table_type = 'BASE TABLE' ORDER BY c.table_name"
        )
        tables = [row[0] for row in cursor.fetchall()]
    # Children first where the order is known (spokes and codes before their events, events before their
    # encounters), so their deletes need no cascade and no retry; the retry loop orders the rest.
    pending = [table for table in _DELETE_FIRST if table in tables] + [t for t in tables if t not in _DELETE_FIRST]
    progress = Progress(stream, "delete", len(pending) + 1)
    for _ in range(len(pending) + 1):
        left = []
        for table in pending:
            try:
                with _owner_cursor() as cursor:
                    cursor.execute(_sql("DELETE FROM {table} WHERE organization_id = ANY(%s)", table=table), [orgs])
                progress.advance(1)
            except DatabaseError:
                left.append(table)  # still referenced by another table's rows: retry after those are gone
        pending = left
        if not pending:
            break
    with _owner_cursor() as cursor:
        cursor.execute("DELETE FROM organizations_organization WHERE id = ANY(%s)", [orgs])
    progress.advance(1)
    progress.finish()


def _sql(template: str, **identifiers: str) -> str:
    from apps.organizations.rls import ddl

    return ddl(template, **identifiers)


_ORG_SQL = """
INSERT INTO organizations_organization (
    id, name, slug, created_at, updated_at, time_zone, address, opens_at, closes_at, charge_capture
)
SELECT gen_random_uuid(), 'Load clinic ' || lpad(i::text, 2, '0'), %(prefix)s || lpad(i::text, 2, '0'), now(), now(),
       'America/Chicago', '', '08:00', '18:00', false
FROM generate_series(0, %(count)s - 1) AS i
"""

_PATIENT_SQL = """
INSERT INTO patients_patient (
    id, organization_id, created_at, updated_at, mrn, given_name, family_name, preferred_name, date_of_birth,
    sex_at_birth, gender_identity, email, phone, address_line1, address_line2, city, region, postal_code,
    country, status, reminder_opt_out, ssn, deleted_at)
SELECT gen_random_uuid(), %(org)s, now() - (g %% 730) * interval '1 day', now(),
       'L' || lpad(g::text, 8, '0'),
       (ARRAY['Ada','Ben','Cleo','Dan','Eva','Finn','Gia','Hal','Ivy','Jon','Kai','Lea','Max','Nia','Oli',
              'Pia','Quin','Rey','Sam','Tia'])[1 + g %% 20],
       (ARRAY['Adams','Baker','Clark','Diaz','Evans','Fox','Gray','Hill','Irwin','Jones','King','Lopez','Moore',
              'Nash','Ortiz','Perez','Quinn','Reed','Smith','Turner','Upton','Vega','Ward','Young','Zhang'])
           [1 + (g * 7) %% 25],
       '', DATE '1940-01-01' + (g * 37) %% 25000,
       (ARRAY['female','male','intersex','unknown'])[1 + g %% 4], '', '',
       '+1555' || lpad((g %% 10000000)::text, 7, '0'), '', '', '', '', '', 'US', 'active', false, '', NULL
FROM generate_series(%(first)s, %(last)s) AS g
"""

# Patients of the load organizations numbered 0..n-1 per organization, for picking them by number.
_PATIENT_INDEX_SQL = """
CREATE TEMP TABLE loadgen_patient ON COMMIT PRESERVE ROWS AS
SELECT organization_id, (row_number() OVER (PARTITION BY organization_id ORDER BY mrn) - 1)::int AS n, id
FROM patients_patient WHERE organization_id = ANY(%(orgs)s);
CREATE UNIQUE INDEX ON loadgen_patient (organization_id, n);
ANALYZE loadgen_patient;
"""

_READING_SQL = """
INSERT INTO biomarkers_biomarkerlog (
    id, organization_id, created_at, updated_at, data_classification, patient_id, source, source_reading_id,
    metric_type, value_numeric, value_text, unit, raw_payload, captured_at)
SELECT gen_random_uuid(), %(org)s, r.at, r.at, m.classification, p.id, m.source, 'load-' || r.g, m.code,
       round((m.low + r.x * (m.high - m.low))::numeric, 1)::float8, NULL, m.unit, '{}'::jsonb, r.at
FROM (
    SELECT g, random() AS x, now() - random() * interval '365 days' AS at,
           floor(random() * %(metrics)s)::int AS metric,
           CASE WHEN random() < 0.5 THEN floor(random() * %(heavy)s)::int * %(every)s
                ELSE floor(random() * %(patients)s)::int END AS n
    FROM generate_series(%(first)s, %(last)s) AS g
) AS r
JOIN loadgen_metric m ON m.idx = r.metric
JOIN loadgen_patient p ON p.organization_id = %(org)s AND p.n = r.n
"""

_EVENT_KINDS = [
    # event_type, subtype, classification, event_data
    ("mood", "daily_checkin", "GENERAL_WELLNESS", '{"mood": "calm", "confidence": 7}'),
    ("mood", "quick_checkin", "GENERAL_WELLNESS", '{"mood": "tired", "confidence": 5}'),
    ("symptom", "general", "GENERAL_WELLNESS", '{"symptoms": ["headache"], "severity": 3}'),
    ("vital", "heart_rate", "CLINICAL_PHI", '{"value": 72, "unit": "bpm"}'),
    ("vital", "blood_pressure", "CLINICAL_PHI", '{"systolic": 120, "diastolic": 80}'),
    ("appointment", "attended", "CLINICAL_PHI", "{}"),
    ("note", "general", "CLINICAL_PHI", '{"text": "Load-test note."}'),
]

_EVENT_SQL = """
INSERT INTO clinical_healthevent (
    id, organization_id, created_at, updated_at, data_classification, patient_id, event_type, event_subtype,
    event_data, occurred_at, recorded_at, source, supersedes_id)
SELECT gen_random_uuid(), %(org)s, r.at, r.at, k.classification, p.id, k.event_type, k.subtype, k.data, r.at,
       r.at, 'patient_app', NULL
FROM (
    SELECT g, now() - random() * interval '365 days' AS at, floor(random() * %(kinds)s)::int AS kind,
           floor(random() * %(patients)s)::int AS n
    FROM generate_series(%(first)s, %(last)s) AS g
) AS r
JOIN loadgen_event_kind k ON k.idx = r.kind
JOIN loadgen_patient p ON p.organization_id = %(org)s AND p.n = r.n
"""

_ENCOUNTER_SQL = """
INSERT INTO clinical_encounter (
    id, organization_id, created_at, updated_at, data_classification, patient_id, encounter_type, place_of_service,
    started_at, ended_at, provider_name, facility_name, reason)
SELECT gen_random_uuid(), %(org)s, r.at, r.at, 'CLINICAL_PHI', p.id, t.encounter_type, t.place, r.at,
       r.at + t.minutes * interval '1 minute', 'Load provider', t.facility, t.reason
FROM (
    SELECT g, now() - interval '1 day' - random() * interval '729 days' AS at, g %% 6 AS type_idx,
           (g - 1) %% %(patients)s AS n
    FROM generate_series(%(first)s, %(last)s) AS g
) AS r
JOIN (VALUES
    (0, 'outpatient', '11', 45, 'Main clinic', 'Follow-up visit'),
    (1, 'telehealth', '10', 30, '', 'Medication management'),
    (2, 'outpatient', '11', 60, 'Main clinic', 'Psychiatric intake'),
    (3, 'telehealth', '10', 30, '', 'Therapy session'),
    (4, 'home', '12', 40, '', 'Home visit'),
    (5, 'emergency', '23', 180, 'Emergency department', 'Acute symptoms')
) AS t(idx, encounter_type, place, minutes, facility, reason) ON t.idx = r.type_idx
JOIN loadgen_patient p ON p.organization_id = %(org)s AND p.n = r.n
"""

# Encounters of the load organizations numbered 0..n-1 per organization, for linking events to them.
_ENCOUNTER_INDEX_SQL = """
CREATE TEMP TABLE loadgen_encounter ON COMMIT PRESERVE ROWS AS
SELECT organization_id, (row_number() OVER (PARTITION BY organization_id ORDER BY id) - 1)::int AS n, id,
       patient_id, started_at
FROM clinical_encounter WHERE organization_id = ANY(%(orgs)s);
CREATE UNIQUE INDEX ON loadgen_encounter (organization_id, n);
ANALYZE loadgen_encounter;
"""

# Clinical event kinds: the hub's activity, purposes, name and classification, the one spoke row each event
# gets (`detail` holds the spoke's columns, valid for its `clean_spoke`) and an optional code assignment.
_CLINICAL_KINDS: list[tuple[str, str, str, str, str, str, tuple[str, str, str] | None]] = [
    # activity_type, clinical_purposes, event_name, classification, spoke, detail, code (system, code, display)
    (
        "observation",
        "{monitoring}",
        "Heart rate check",
        "CLINICAL_PHI",
        "vitals",
        '{"vital_type": "heart_rate", "measurement_value": {"value": 72}, "unit": "bpm"}',
        None,
    ),
    (
        "observation",
        "{monitoring}",
        "Blood pressure check",
        "CLINICAL_PHI",
        "vitals",
        '{"vital_type": "blood_pressure", "measurement_value": {"systolic": 124, "diastolic": 79}, "unit": "mmHg"}',
        None,
    ),
    (
        "observation",
        "{self_monitoring}",
        "Weight check-in",
        "GENERAL_WELLNESS",
        "vitals",
        '{"vital_type": "weight", "measurement_value": {"value": 71.5}, "unit": "kg"}',
        None,
    ),
    (
        "observation",
        "{self_monitoring,preventive}",
        "Oxygen saturation check-in",
        "GENERAL_WELLNESS",
        "vitals",
        '{"vital_type": "oxygen_saturation", "measurement_value": {"value": 97}, "unit": "%"}',
        None,
    ),
    (
        "observation",
        "{diagnostic}",
        "Psychiatric evaluation",
        "CLINICAL_PHI",
        "conditions",
        '{"condition_name": "Major depressive disorder, single episode, moderate", "clinical_status": "active", '
        '"severity": "moderate", "onset_days_before": 90}',
        ("icd10cm", "F32.1", "Major depressive disorder, single episode, moderate"),
    ),
    (
        "observation",
        "{diagnostic}",
        "Anxiety assessment",
        "CLINICAL_PHI",
        "conditions",
        '{"condition_name": "Generalized anxiety disorder", "clinical_status": "active", "severity": "mild", '
        '"onset_days_before": 200}',
        ("icd10cm", "F41.1", "Generalized anxiety disorder"),
    ),
    (
        "observation",
        "{diagnostic}",
        "Allergy review",
        "CLINICAL_PHI",
        "conditions",
        '{"condition_name": "Seasonal allergic rhinitis", "clinical_status": "resolved", "severity": "mild", '
        '"onset_days_before": 60, "resolved": true}',
        ("snomed", "367498001", "Seasonal allergic rhinitis"),
    ),
    (
        "observation",
        "{screening,monitoring}",
        "PHQ-9 questionnaire",
        "CLINICAL_PHI",
        "observations",
        '{"observation_type": "PHQ-9 total score", "value_numeric": 14, "reference_range": "0-4", '
        '"interpretation": "high"}',
        ("loinc", "44261-6", "PHQ-9 total score"),
    ),
    (
        "observation",
        "{self_monitoring}",
        "Sleep quality check-in",
        "GENERAL_WELLNESS",
        "observations",
        '{"observation_type": "Sleep quality (self-reported)", "value_text": "good", "interpretation": "normal"}',
        None,
    ),
]

# One chunk of clinical events: rows staged with their kind, then the hub, one spoke row each and the codes.
# Even-numbered events take a random encounter of the organization, and so its patient (half are linked); the
# odd-numbered ones go round the patients, so every patient has events once there are twice as many as patients.
_CLINICAL_EVENT_SQL = """
CREATE TEMP TABLE loadgen_clinical_rows ON COMMIT DROP AS
SELECT gen_random_uuid() AS id, coalesce(e.patient_id, p.id) AS patient_id, e.id AS encounter_id,
       coalesce(e.started_at + interval '15 minutes', r.at) AS at, r.kind
FROM (
    SELECT g, floor(random() * %(kinds)s)::int AS kind,
           now() - interval '1 hour' - random() * interval '729 days' AS at,
           CASE WHEN g %% 2 = 0 THEN floor(random() * %(encounters)s)::int END AS en,
           ((g - 1) / 2) %% %(patients)s AS n
    FROM generate_series(%(first)s, %(last)s) AS g
) AS r
LEFT JOIN loadgen_encounter e ON e.organization_id = %(org)s AND e.n = r.en
JOIN loadgen_patient p ON p.organization_id = %(org)s AND p.n = r.n;

INSERT INTO clinical_clinicalevent (
    id, organization_id, created_at, updated_at, data_classification, patient_id, encounter_id, activity_type,
    clinical_purposes, event_name, method, body_site, performed_by, facility_name, event_date, source_document,
    is_synthetic, clinical_identity_key)
SELECT r.id, %(org)s, r.at, r.at, k.classification, r.patient_id, r.encounter_id, k.activity_type, k.purposes,
       k.event_name, '', '', CASE WHEN r.encounter_id IS NULL THEN '' ELSE 'Load provider' END, '', r.at, '',
       false, ''
FROM loadgen_clinical_rows r JOIN loadgen_clinical_kind k ON k.idx = r.kind;

INSERT INTO clinical_vital (
    id, organization_id, created_at, updated_at, data_classification, event_id, patient_id, vital_type,
    measurement_value, unit, measurement_date)
SELECT gen_random_uuid(), %(org)s, r.at, r.at, k.classification, r.id, r.patient_id, k.detail ->> 'vital_type',
       k.detail -> 'measurement_value', k.detail ->> 'unit', r.at
FROM loadgen_clinical_rows r JOIN loadgen_clinical_kind k ON k.idx = r.kind WHERE k.spoke = 'vitals';

INSERT INTO clinical_condition (
    id, organization_id, created_at, updated_at, data_classification, event_id, patient_id, condition_name,
    clinical_status, severity, onset_date, resolved_date)
SELECT gen_random_uuid(), %(org)s, r.at, r.at, k.classification, r.id, r.patient_id, k.detail ->> 'condition_name',
       k.detail ->> 'clinical_status', k.detail ->> 'severity',
       (r.at AT TIME ZONE 'UTC')::date - (k.detail ->> 'onset_days_before')::int,
       CASE WHEN k.detail ? 'resolved' THEN (r.at AT TIME ZONE 'UTC')::date END
FROM loadgen_clinical_rows r JOIN loadgen_clinical_kind k ON k.idx = r.kind WHERE k.spoke = 'conditions';

INSERT INTO clinical_observation (
    id, organization_id, created_at, updated_at, data_classification, event_id, patient_id, observation_type,
    value_text, value_numeric, unit, reference_range, interpretation)
SELECT gen_random_uuid(), %(org)s, r.at, r.at, k.classification, r.id, r.patient_id,
       k.detail ->> 'observation_type', coalesce(k.detail ->> 'value_text', ''),
       (k.detail ->> 'value_numeric')::numeric, '', coalesce(k.detail ->> 'reference_range', ''),
       coalesce(k.detail ->> 'interpretation', '')
FROM loadgen_clinical_rows r JOIN loadgen_clinical_kind k ON k.idx = r.kind WHERE k.spoke = 'observations';

INSERT INTO clinical_medicalcodeassignment (
    id, organization_id, created_at, updated_at, data_classification, event_id, code_system, code, display,
    is_primary)
SELECT gen_random_uuid(), %(org)s, r.at, r.at, k.classification, r.id, k.code_system, k.code, k.code_display, true
FROM loadgen_clinical_rows r JOIN loadgen_clinical_kind k ON k.idx = r.kind WHERE k.code_system IS NOT NULL;
"""

# One treatment consent per patient, and a second one (data sharing, telehealth, communications or a research
# consent that expires after a year) for every other patient; one in five of those is revoked.
_CONSENT_SQL = """
INSERT INTO patients_consent (
    id, organization_id, created_at, updated_at, patient_id, consent_type, granted, granted_at, expires_at,
    revoked_at, document_reference, deleted_at)
SELECT gen_random_uuid(), %(org)s, c.at, c.at, p.id, c.consent_type, true, c.at, c.expires_at, c.revoked_at,
       'consent-forms/signed.pdf', NULL
FROM (
    SELECT g - 1 AS n, 'treatment' AS consent_type, at, NULL::timestamptz AS expires_at,
           NULL::timestamptz AS revoked_at
    FROM (SELECT g, now() - interval '30 days' - random() * interval '700 days' AS at
          FROM generate_series(%(first)s, %(last)s) AS g) AS s
    UNION ALL
    SELECT g - 1, t.consent_type, at,
           CASE WHEN t.consent_type = 'research' THEN at + interval '365 days' END,
           CASE WHEN g %% 10 = 1 THEN at + interval '14 days' END
    FROM (SELECT g, now() - interval '30 days' - random() * interval '700 days' AS at
          FROM generate_series(%(first)s, %(last)s) AS g WHERE g %% 2 = 1) AS s
    JOIN (VALUES (0, 'data_sharing'), (1, 'telehealth'), (2, 'communications'), (3, 'research'))
        AS t(idx, consent_type) ON t.idx = (g / 2) %% 4
) AS c
JOIN loadgen_patient p ON p.organization_id = %(org)s AND p.n = c.n
"""

_CHARGE_SQL = """
INSERT INTO billing_ledgerentry (
    id, organization_id, created_at, updated_at, patient_id, kind, transaction_type, payment_status, amount_cents,
    currency, metadata, description, service_date, encounter_id, insurance_policy_id, installment_plan_id,
    claim_id, external_reference)
SELECT gen_random_uuid(), %(org)s, r.at, r.at, p.id, 'charge', t.transaction_type, 'patient_due', r.amount,
       'USD', t.metadata, '', (r.at AT TIME ZONE 'UTC')::date, NULL, NULL, NULL, NULL, ''
FROM (
    SELECT g, now() - random() * interval '730 days' AS at, 500 + floor(random() * 49500)::bigint AS amount,
           g %% 3 AS type_idx, floor(random() * %(patients)s)::int AS n
    FROM generate_series(%(first)s, %(last)s) AS g
) AS r
JOIN (VALUES
    (0, 'clinical_service', '{"cpt_code": "99213"}'::jsonb),
    (1, 'retail_product', '{"sku": "SUP-001", "product_name": "Supplement", "quantity": 1}'::jsonb),
    (2, 'program_enrollment', '{"program": "Wellness program"}'::jsonb)
) AS t(idx, transaction_type, metadata) ON t.idx = r.type_idx
JOIN loadgen_patient p ON p.organization_id = %(org)s AND p.n = r.n
"""

# A payment in full for `count` random charges, applied to it (the guard trigger checks each application).
_PAYMENT_SQL = """
-- Deferred foreign-key checks would still be pending when the trigger is switched back on.
SET CONSTRAINTS ALL IMMEDIATE;
ALTER TABLE billing_ledgerapplication DISABLE TRIGGER billing_check_application;
ALTER TABLE billing_ledgerapplication DISABLE TRIGGER billing_check_applications;
ALTER TABLE billing_ledgerentry DISABLE TRIGGER billing_protect_applied;

CREATE TEMP TABLE loadgen_payment ON COMMIT DROP AS
SELECT e.id AS charge_id, gen_random_uuid() AS payment_id, e.patient_id, e.transaction_type, e.amount_cents,
       e.created_at + random() * least(interval '30 days', now() - e.created_at) AS paid_at
FROM billing_ledgerentry e
WHERE e.organization_id = %(org)s AND e.kind = 'charge'
ORDER BY random() LIMIT %(count)s;

INSERT INTO billing_ledgerentry (
    id, organization_id, created_at, updated_at, patient_id, kind, transaction_type, payment_status, amount_cents,
    currency, metadata, description, service_date, encounter_id, insurance_policy_id, installment_plan_id,
    claim_id, external_reference, applied_cents)
SELECT payment_id, %(org)s, paid_at, paid_at, patient_id, 'payment', transaction_type, 'paid', amount_cents,
       'USD', '{}'::jsonb, '', (paid_at AT TIME ZONE 'UTC')::date, NULL, NULL, NULL, NULL, '', amount_cents
FROM loadgen_payment;

INSERT INTO billing_ledgerapplication (id, organization_id, created_at, updated_at, source_id, target_id,
                                       amount_cents)
SELECT gen_random_uuid(), %(org)s, paid_at, paid_at, payment_id, charge_id, amount_cents FROM loadgen_payment;

UPDATE billing_ledgerentry e SET payment_status = 'paid', applied_cents = e.amount_cents
FROM loadgen_payment p WHERE e.organization_id = %(org)s AND e.id = p.charge_id;

ALTER TABLE billing_ledgerentry ENABLE TRIGGER billing_protect_applied;
ALTER TABLE billing_ledgerapplication ENABLE TRIGGER billing_check_applications;
ALTER TABLE billing_ledgerapplication ENABLE TRIGGER billing_check_application;
"""

# The guard trigger's rules, set-based: applications that break one of them, plus entries whose `applied_cents`
# is not the total of their applications (must be none).
_BAD_APPLICATIONS_SQL = """
SELECT (SELECT count(*) FROM billing_ledgerapplication a
JOIN billing_ledgerentry s ON s.id = a.source_id
JOIN billing_ledgerentry t ON t.id = a.target_id
WHERE a.organization_id = ANY(%(orgs)s)
  AND (s.organization_id <> t.organization_id OR a.organization_id <> t.organization_id
       OR s.patient_id <> t.patient_id OR s.currency <> t.currency OR s.payment_status = 'failed'
       OR s.kind NOT IN ('payment', 'insurance_payment', 'adjustment') OR t.kind <> 'charge'
       OR a.amount_cents > s.amount_cents OR a.amount_cents > t.amount_cents
       OR (SELECT sum(x.amount_cents) FROM billing_ledgerapplication x WHERE x.target_id = t.id) > t.amount_cents
       OR (SELECT sum(x.amount_cents) FROM billing_ledgerapplication x WHERE x.source_id = s.id) > s.amount_cents))
     + (SELECT count(*) FROM billing_ledgerentry e
        LEFT JOIN (SELECT id, sum(amount_cents) AS total
                   FROM (SELECT target_id AS id, amount_cents FROM billing_ledgerapplication
                         WHERE organization_id = ANY(%(orgs)s)
                         UNION ALL
                         SELECT source_id, amount_cents FROM billing_ledgerapplication
                         WHERE organization_id = ANY(%(orgs)s)) AS sides
                   GROUP BY id) AS x ON x.id = e.id
        WHERE e.organization_id = ANY(%(orgs)s) AND e.applied_cents <> coalesce(x.total, 0))
"""


def verify_applications(orgs: list[uuid.UUID]) -> None:
    """Raise if any load application breaks a rule of the ledger's guard trigger or an applied total is off."""
    with connections[OWNER].cursor() as cursor:
        cursor.execute(_BAD_APPLICATIONS_SQL, {"orgs": orgs})
        bad = cursor.fetchone()[0]
    if bad:
        raise RuntimeError(f"{bad} generated ledger applications break the ledger rules.")


def _lookup_tables(cursor: CursorWrapper) -> None:
    cursor.execute(
        "CREATE TEMP TABLE loadgen_metric (idx int PRIMARY KEY, code text, unit text, classification text, "
        "source text, low float8, high float8) ON COMMIT PRESERVE ROWS"
    )
    numeric = [m for m in catalog.METRICS.values() if m.is_numeric]
    for idx, metric in enumerate(numeric):
        low = metric.reference_low if metric.reference_low is not None else metric.allowed_min
        high = metric.reference_high if metric.reference_high is not None else (low or 0) + 50
        cursor.execute(
            "INSERT INTO loadgen_metric VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [idx, metric.code, metric.unit, metric.classification, metric.sources[0], low or 0, high],
        )
    cursor.execute(
        "CREATE TEMP TABLE loadgen_event_kind (idx int PRIMARY KEY, event_type text, subtype text, "
        "classification text, data jsonb) ON COMMIT PRESERVE ROWS"
    )
    for idx, (event_type, subtype, classification, data) in enumerate(_EVENT_KINDS):
        cursor.execute(
            "INSERT INTO loadgen_event_kind VALUES (%s, %s, %s, %s, %s::jsonb)",
            [idx, event_type, subtype, classification, data],
        )
    cursor.execute(
        "CREATE TEMP TABLE loadgen_clinical_kind (idx int PRIMARY KEY, activity_type text, purposes varchar(50)[], "
        "event_name text, classification text, spoke text, detail jsonb, code_system text, code text, "
        "code_display text) ON COMMIT PRESERVE ROWS"
    )
    for idx, (activity, purposes, name, classification, spoke, detail, code) in enumerate(_CLINICAL_KINDS):
        system, value, display = code or (None, None, None)
        cursor.execute(
            "INSERT INTO loadgen_clinical_kind VALUES (%s, %s, %s::varchar(50)[], %s, %s, %s, %s::jsonb, %s, %s, %s)",
            [idx, activity, purposes, name, classification, spoke, detail, system, value, display],
        )


def _step(
    report: Report,
    stream: TextIO,
    label: str,
    counts: list[int],
    orgs: list[uuid.UUID],
    run: Callable[[CursorWrapper, uuid.UUID, int, int, int], None],
) -> None:
    """Run `run(cursor, org, first, last, org_total)` per organization and chunk, one transaction per chunk."""
    progress = Progress(stream, label, sum(counts))
    for org, count in zip(orgs, counts, strict=True):
        for first, last in _chunks(count):
            with _owner_cursor() as cursor:
                run(cursor, org, first, last, count)
            progress.advance(last - first + 1)
    report.seconds[label] = progress.finish()


def generate(sizes: Sizes, *, stream: TextIO = sys.stderr) -> Report:
    """Create `sizes.organizations` load organizations and their rows. Refuses if load data already exists."""
    if existing_organizations():
        raise RuntimeError("Load data already exists; pass --replace to delete it first.")
    report = Report(sizes=sizes)
    started = time.monotonic()
    with _owner_cursor() as cursor:
        cursor.execute(_ORG_SQL, {"prefix": SLUG_PREFIX, "count": sizes.organizations})
    orgs = existing_organizations()
    report.seconds["organizations"] = time.monotonic() - started

    patients = split(sizes.patients, len(orgs))
    if min(patients) < 1:
        raise ValueError("Every organization needs at least one patient.")

    def patient_rows(cursor: CursorWrapper, org: uuid.UUID, first: int, last: int, _: int) -> None:
        cursor.execute(_PATIENT_SQL, {"org": org, "first": first, "last": last})

    _step(report, stream, "patients", patients, orgs, patient_rows)

    with connections[OWNER].cursor() as cursor:
        cursor.execute(
            "DROP TABLE IF EXISTS loadgen_patient, loadgen_encounter, loadgen_metric, loadgen_event_kind, "
            "loadgen_clinical_kind"
        )
        cursor.execute(_PATIENT_INDEX_SQL, {"orgs": orgs})
        _lookup_tables(cursor)
        cursor.execute("SELECT count(*) FROM loadgen_metric")
        metric_count = cursor.fetchone()[0]
    per_org_patients = dict(zip(orgs, patients, strict=True))

    def reading_rows(cursor: CursorWrapper, org: uuid.UUID, first: int, last: int, _: int) -> None:
        n = per_org_patients[org]
        cursor.execute(
            _READING_SQL,
            {
                "org": org,
                "first": first,
                "last": last,
                "metrics": metric_count,
                "patients": n,
                "heavy": math.ceil(n / HEAVY_EVERY),
                "every": HEAVY_EVERY,
            },
        )

    _step(report, stream, "biomarker logs", split(sizes.readings, len(orgs)), orgs, reading_rows)

    def event_rows(cursor: CursorWrapper, org: uuid.UUID, first: int, last: int, _: int) -> None:
        cursor.execute(
            _EVENT_SQL,
            {"org": org, "first": first, "last": last, "kinds": len(_EVENT_KINDS), "patients": per_org_patients[org]},
        )

    _step(report, stream, "health events", split(sizes.health_events, len(orgs)), orgs, event_rows)

    def consent_rows(cursor: CursorWrapper, org: uuid.UUID, first: int, last: int, _: int) -> None:
        cursor.execute(_CONSENT_SQL, {"org": org, "first": first, "last": last})

    _step(report, stream, "consents", patients, orgs, consent_rows)

    def encounter_rows(cursor: CursorWrapper, org: uuid.UUID, first: int, last: int, _: int) -> None:
        cursor.execute(_ENCOUNTER_SQL, {"org": org, "first": first, "last": last, "patients": per_org_patients[org]})

    encounters = split(sizes.encounters, len(orgs))
    _step(report, stream, "encounters", encounters, orgs, encounter_rows)
    with connections[OWNER].cursor() as cursor:
        cursor.execute(_ENCOUNTER_INDEX_SQL, {"orgs": orgs})
    per_org_encounters = dict(zip(orgs, encounters, strict=True))

    def clinical_event_rows(cursor: CursorWrapper, org: uuid.UUID, first: int, last: int, _: int) -> None:
        cursor.execute(
            _CLINICAL_EVENT_SQL,
            {
                "org": org,
                "first": first,
                "last": last,
                "kinds": len(_CLINICAL_KINDS),
                "encounters": per_org_encounters[org],
                "patients": per_org_patients[org],
            },
        )

    _step(report, stream, "clinical events", split(sizes.clinical_events, len(orgs)), orgs, clinical_event_rows)

    ledger = split(sizes.ledger_entries, len(orgs))
    payments = [math.floor(total * PAYMENT_SHARE) for total in ledger]

    def charge_rows(cursor: CursorWrapper, org: uuid.UUID, first: int, last: int, _: int) -> None:
        cursor.execute(_CHARGE_SQL, {"org": org, "first": first, "last": last, "patients": per_org_patients[org]})

    charges = [total - paid for total, paid in zip(ledger, payments, strict=True)]
    _step(report, stream, "ledger charges", charges, orgs, charge_rows)

    generate_payments(report, stream, orgs, payments)
    started = time.monotonic()
    with connections[OWNER].cursor() as cursor:
        cursor.execute(
            "DROP TABLE IF EXISTS loadgen_patient, loadgen_encounter, loadgen_metric, loadgen_event_kind, "
            "loadgen_clinical_kind"
        )
        for table in (
            "patients_patient",
            "biomarkers_biomarkerlog",
            "clinical_healthevent",
            "patients_consent",
            "clinical_encounter",
            "clinical_clinicalevent",
            "clinical_vital",
            "clinical_condition",
            "clinical_observation",
            "clinical_medicalcodeassignment",
            "billing_ledgerentry",
            "billing_ledgerapplication",
        ):
            cursor.execute(_sql("ANALYZE {table}", table=table))
    report.seconds["analyze"] = time.monotonic() - started
    return report


def generate_payments(report: Report, stream: TextIO, orgs: list[uuid.UUID], payments: list[int]) -> None:
    """Pay `payments[i]` random charges of organization i in full (one transaction per organization)."""
    progress = Progress(stream, "ledger payments", sum(payments))
    for org, count in zip(orgs, payments, strict=True):
        if count:
            with _owner_cursor() as cursor:
                cursor.execute(_PAYMENT_SQL, {"org": org, "count": count})
        progress.advance(count)
    verify_applications(orgs)
    report.seconds["ledger payments"] = progress.finish()


def counts_per_organization() -> dict[str, dict[str, int]]:
    """Row counts of the load organizations per table, by slug (owner role)."""
    tables = {
        "patients": "patients_patient",
        "ledger_entries": "billing_ledgerentry",
        "readings": "biomarkers_biomarkerlog",
        "health_events": "clinical_healthevent",
        "consents": "patients_consent",
        "encounters": "clinical_encounter",
        "clinical_events": "clinical_clinicalevent",
        "vitals": "clinical_vital",
        "conditions": "clinical_condition",
        "observations": "clinical_observation",
        "code_assignments": "clinical_medicalcodeassignment",
    }
    result: dict[str, dict[str, int]] = {}
    with connections[OWNER].cursor() as cursor:
        for name, table in tables.items():
            cursor.execute(
                _sql(
                    "SELECT o.slug, count(t.organization_id) FROM organizations_organization o "
                    "LEFT JOIN {table} t ON t.organization_id = o.id WHERE o.slug LIKE %s GROUP BY o.slug",
                    table=table,
                ),
                [SLUG_PREFIX + "%"],
            )
            for slug, count in cursor.fetchall():
                result.setdefault(slug, {})[name] = count
    return result


def describe(report: Report) -> dict[str, Any]:
    return {"sizes": report.sizes.__dict__, "seconds": report.seconds, "total_seconds": report.total_seconds}
