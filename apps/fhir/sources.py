"""Where each FHIR resource type comes from: one or more Kura tables (`Source`), each with its base queryset, the
field results are ordered and paged by, its date and code search parameters, its renderer and how it is logged
as a PHI read. A type made of several tables (Observation: vitals, clinical observations, biomarker readings,
assessment totals) merges them in (date, table, id) order (`search.py`), so paging crosses tables without gaps
or repeats."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from apps.billing.models import InsurancePolicy
from apps.biomarkers.models import BiomarkerLog
from apps.clinical.models import (
    Allergy,
    AssessmentResponse,
    Condition,
    Encounter,
    Immunization,
    MedicalCodeAssignment,
    Medication,
    Observation,
    Vital,
)
from apps.organizations.access_map import Resource
from apps.patients.models import PHIAccessLog
from apps.patients.selectors import patient_list
from apps.scheduling.models import Appointment, AppointmentReason

from . import permissions
from . import resources as r
from . import vocabulary as v

# A `code` token: (system URI or None for any system, code).
Token = tuple[str | None, str]
Record = PHIAccessLog.RecordType


@dataclass(frozen=True)
class Source:
    """One table's rows as resources of `resource_type`."""

    resource_type: str
    resource: Resource  # the permission map's entry for reading it
    queryset: Callable[[], QuerySet[Any]]
    order_field: str  # a non-null datetime: results are in (this, rank, id) order
    render: Callable[..., dict[str, Any]]
    prefix: str = ""  # before the row's id in the resource id
    patient_field: str = "patient_id"
    record_type: str | None = None  # PHI access log record type; None: not logged
    phi_rows_only: bool = False
    # Search parameter -> (field, whether it is a DateField rather than a DateTimeField).
    dates: dict[str, tuple[str, bool]] = field(default_factory=dict)
    code_parameter: str | None = None
    codes: Callable[[list[Token]], Q | None] | None = None  # a filter for any of the tokens; None: matches nothing
    needs_base_url: bool = False

    def row_id(self, resource_id: str) -> uuid.UUID | None:
        """The row id a resource id names, if it names one of this table's rows."""
        if not resource_id.startswith(self.prefix):
            return None
        try:
            return uuid.UUID(resource_id.removeprefix(self.prefix))
        except ValueError:
            return None

    def resource_id(self, row: Any) -> str:
        return f"{self.prefix}{row.pk}"


def _hub_codes(resource_type: str) -> Callable[[list[Token]], Q | None]:
    """Rows whose clinical event carries one of the codes (any system, or the named one) among the systems that
    fit `resource_type`, as the resource shows them (`resources.event_codings`)."""
    systems = v.RESOURCE_CODE_SYSTEMS[resource_type]

    def codes(tokens: list[Token]) -> Q | None:
        condition = Q()
        matched = False
        for system_uri, code in tokens:
            if system_uri is None:
                condition |= Q(code_system__in=systems, code=code)
            elif v.CODE_SYSTEMS_BY_URI.get(system_uri) in systems:
                condition |= Q(code_system=v.CODE_SYSTEMS_BY_URI[system_uri], code=code)
            else:
                continue
            matched = True
        if not matched:
            return None
        return Q(event_id__in=MedicalCodeAssignment.objects.filter(condition).values("event_id"))

    return codes


def _concept_codes(concepts: dict[str, v.Concept], *, extra_system: str | None = None) -> Callable[..., list[str]]:
    """The keys (vital types, metrics, instruments) whose concept a token names; `extra_system` also names a key
    by itself (Kura's own metric codes)."""

    def keys(tokens: list[Token]) -> list[str]:
        found = []
        for system_uri, code in tokens:
            for key, concept in concepts.items():
                if code == concept.code and system_uri in (None, concept.system):
                    found.append(key)
            if extra_system is not None and system_uri in (None, extra_system):
                found.append(code)
        return found

    return keys


def _filter_on(field_name: str, keys: Callable[[list[Token]], list[str]]) -> Callable[[list[Token]], Q | None]:
    def codes(tokens: list[Token]) -> Q | None:
        found = keys(tokens)
        return Q(**{f"{field_name}__in": found}) if found else None

    return codes


def _spokes(model: Any) -> Callable[[], QuerySet[Any]]:
    def queryset() -> QuerySet[Any]:
        return model.objects.select_related("event").prefetch_related(
            Prefetch("event__codes", queryset=MedicalCodeAssignment.objects.all())
        )

    return queryset


ENCOUNTER = Source(
    "Encounter",
    permissions.ENCOUNTER,
    lambda: Encounter.objects.all(),
    "started_at",
    r.encounter,
    record_type=Record.ENCOUNTER,
    dates={"date": ("started_at", False)},
)
VITALS = Source(
    "Observation",
    permissions.OBSERVATION,
    lambda: Vital.objects.select_related("event"),
    "measurement_date",
    r.vital,
    prefix=r.VITAL,
    record_type=Record.CLINICAL_EVENT,
    dates={"date": ("measurement_date", False)},
    code_parameter="code",
    codes=_filter_on("vital_type", _concept_codes(v.VITALS)),
)
CLINICAL_OBSERVATIONS = Source(
    "Observation",
    permissions.OBSERVATION,
    _spokes(Observation),
    "event__event_date",
    r.clinical_observation,
    prefix=r.CLINICAL_OBSERVATION,
    record_type=Record.CLINICAL_EVENT,
    dates={"date": ("event__event_date", False)},
    code_parameter="code",
    codes=_hub_codes("Observation"),
)
READINGS = Source(
    "Observation",
    permissions.OBSERVATION,
    # A voided reading is out of every result, as in the REST API (its history keeps it).
    lambda: BiomarkerLog.objects.filter(voided_at__isnull=True),
    "captured_at",
    r.reading,
    prefix=r.READING,
    record_type=Record.BIOMARKER_READING,
    phi_rows_only=True,
    dates={"date": ("captured_at", False)},
    code_parameter="code",
    codes=_filter_on("metric_type", _concept_codes(v.BIOMARKER_LOINC, extra_system=v.KURA_METRIC)),
)
SCORES = Source(
    "Observation",
    permissions.QUESTIONNAIRE_RESPONSE,
    lambda: AssessmentResponse.objects.select_related("definition"),
    "completed_at",
    r.score,
    prefix=r.SCORE,
    record_type=Record.ASSESSMENT,
    phi_rows_only=True,
    dates={"date": ("completed_at", False)},
    code_parameter="code",
    codes=_filter_on("instrument", _concept_codes(v.INSTRUMENT_TOTALS)),
)
CONDITIONS = Source(
    "Condition",
    permissions.CLINICAL,
    _spokes(Condition),
    "event__event_date",
    r.condition,
    record_type=Record.CLINICAL_EVENT,
    dates={"onset-date": ("onset_date", True), "recorded-date": ("event__event_date", False)},
    code_parameter="code",
    codes=_hub_codes("Condition"),
)
MEDICATIONS = Source(
    "MedicationStatement",
    permissions.CLINICAL,
    _spokes(Medication),
    "event__event_date",
    r.medication_statement,
    record_type=Record.CLINICAL_EVENT,
    dates={"effective": ("start_date", True)},
    code_parameter="code",
    codes=_hub_codes("MedicationStatement"),
)
ALLERGIES = Source(
    "AllergyIntolerance",
    permissions.CLINICAL,
    _spokes(Allergy),
    "event__event_date",
    r.allergy,
    record_type=Record.CLINICAL_EVENT,
    dates={"date": ("event__event_date", False)},
    code_parameter="code",
    codes=_hub_codes("AllergyIntolerance"),
)
IMMUNIZATIONS = Source(
    "Immunization",
    permissions.CLINICAL,
    _spokes(Immunization),
    "event__event_date",
    r.immunization,
    record_type=Record.CLINICAL_EVENT,
    dates={"date": ("administered_on", True)},
    code_parameter="vaccine-code",
    codes=_hub_codes("Immunization"),
)
QUESTIONNAIRE_RESPONSES = Source(
    "QuestionnaireResponse",
    permissions.QUESTIONNAIRE_RESPONSE,
    lambda: AssessmentResponse.objects.select_related("definition"),
    "completed_at",
    r.questionnaire_response,
    record_type=Record.ASSESSMENT,
    phi_rows_only=True,
    dates={"authored": ("completed_at", False)},
    needs_base_url=True,
)
COVERAGES = Source(
    "Coverage",
    permissions.COVERAGE,
    lambda: InsurancePolicy.objects.select_related("payer"),
    "created_at",
    r.coverage,
)
APPOINTMENTS = Source(
    "Appointment",
    permissions.APPOINTMENT,
    lambda: Appointment.objects.select_related("provider", "appointment_type").prefetch_related(
        Prefetch("reason", queryset=AppointmentReason.objects.all())
    ),
    "starts_at",
    r.appointment,
    record_type=Record.APPOINTMENT,
    dates={"date": ("starts_at", False)},
)

# Patient-linked resource types and their tables, in the order `$everything` lists them when dates tie.
SOURCES: dict[str, tuple[Source, ...]] = {
    "Encounter": (ENCOUNTER,),
    "Observation": (VITALS, CLINICAL_OBSERVATIONS, READINGS, SCORES),
    "Condition": (CONDITIONS,),
    "MedicationStatement": (MEDICATIONS,),
    "AllergyIntolerance": (ALLERGIES,),
    "Immunization": (IMMUNIZATIONS,),
    "QuestionnaireResponse": (QUESTIONNAIRE_RESPONSES,),
    "Coverage": (COVERAGES,),
    "Appointment": (APPOINTMENTS,),
}

PATIENTS = Source(
    "Patient",
    permissions.PATIENT,
    lambda: patient_list(),
    "created_at",
    r.patient,
    patient_field="id",
    record_type=Record.PATIENT,
)
