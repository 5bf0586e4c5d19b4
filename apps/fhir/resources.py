"""Kura's rows as FHIR R4 resources (JSON dicts). One function per kind of row; each takes a row fetched with what
it needs (see `sources.py`) and returns the resource without empty elements (FHIR allows no empty strings, lists
or objects). References are relative (`Patient/<id>`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from apps.biomarkers import catalog
from apps.clinical.timeline import scoring

from . import vocabulary as v

Json = dict[str, Any]

# Ids of the Observations made from different tables carry the table's prefix (a FHIR id is at most 64 characters
# of letters, digits, '-' and '.').
VITAL, CLINICAL_OBSERVATION, READING, SCORE = "vital-", "obs-", "reading-", "score-"


def compact(value: Any) -> Any:
    """`value` without None, empty strings, empty lists and empty objects, at any depth."""
    if isinstance(value, dict):
        kept = {key: compact(item) for key, item in value.items()}
        return {key: item for key, item in kept.items() if item not in (None, "", [], {})}
    if isinstance(value, list):
        kept_items = [compact(item) for item in value]
        return [item for item in kept_items if item not in (None, "", [], {})]
    return value


def instant(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def day(value: dt.date | None) -> str | None:
    return None if value is None else value.isoformat()


def number(value: float | Decimal | int) -> float | int:
    """A JSON number: whole values as integers (FHIR decimals keep their precision, 72.0 reads as 72)."""
    as_float = float(value)
    return int(as_float) if as_float.is_integer() else as_float


def reference(resource_type: str, pk: Any, display: str = "") -> Json:
    return compact({"reference": f"{resource_type}/{pk}", "display": display})


def coding(concept: v.Concept) -> Json:
    return {"system": concept.system, "code": concept.code, "display": concept.display}


def codeable(text: str, codings: Iterable[Json] = ()) -> Json:
    return compact({"coding": list(codings), "text": text})


def event_codings(event: Any, resource_type: str) -> list[Json]:
    """The standard codes attached to a clinical event's hub row (prefetched `codes`) that fit `resource_type`
    (an event's visit code is no diagnosis), primary first."""
    systems = v.RESOURCE_CODE_SYSTEMS[resource_type]
    codes = sorted(event.codes.all(), key=lambda code: (not code.is_primary, code.code_system, code.code))
    return [
        compact({"system": v.SYSTEM_URIS[code.code_system], "code": code.code, "display": code.display})
        for code in codes
        if code.code_system in systems
    ]


def meta(row: Any) -> Json:
    return {"lastUpdated": instant(row.updated_at)}


def category(code: str, display: str) -> list[Json]:
    return [{"coding": [{"system": v.OBSERVATION_CATEGORY, "code": code, "display": display}]}]


def quantity(value: float | Decimal | int, unit: str, ucum: str = "") -> Json:
    """A Quantity; `ucum` (a UCUM code) adds the system, so the value is computable."""
    if ucum:
        return {"value": number(value), "unit": unit, "system": v.UCUM, "code": ucum}
    return compact({"value": number(value), "unit": unit})


# --- Patient ---------------------------------------------------------------------------------------------------


def patient(row: Any) -> Json:
    names = [{"use": "official", "family": row.family_name, "given": [row.given_name]}]
    if row.preferred_name:
        names.append({"use": "usual", "given": [row.preferred_name]})
    address = {
        "line": [row.address_line1, row.address_line2],
        "city": row.city,
        "state": row.region,
        "postalCode": row.postal_code,
        "country": row.country,
    }
    return compact(
        {
            "resourceType": "Patient",
            "id": str(row.pk),
            "meta": meta(row),
            "identifier": [
                {
                    "use": "usual",
                    "type": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                "code": "MR",
                                "display": "Medical record number",
                            }
                        ]
                    },
                    "system": v.KURA_MRN,
                    "value": row.mrn,
                }
            ],
            "active": row.status != "inactive",
            "name": names,
            "telecom": [
                {"system": "phone", "value": row.phone, "use": "mobile"} if row.phone else None,
                {"system": "email", "value": row.email} if row.email else None,
            ],
            "gender": v.ADMINISTRATIVE_GENDER.get(row.sex_at_birth, "unknown"),
            "birthDate": day(row.date_of_birth),
            "deceasedBoolean": True if row.status == "deceased" else None,
            "address": [address] if compact(address).keys() - {"country"} else [],
        }
    )


# --- Encounter -------------------------------------------------------------------------------------------------


def encounter(row: Any) -> Json:
    code, display = v.ENCOUNTER_CLASSES.get(row.encounter_type, ("AMB", "ambulatory"))
    return compact(
        {
            "resourceType": "Encounter",
            "id": str(row.pk),
            "meta": meta(row),
            "status": "finished" if row.ended_at else "in-progress",
            "class": {"system": v.ENCOUNTER_CLASS_SYSTEM, "code": code, "display": display},
            "type": [{"text": row.get_encounter_type_display()}],
            "subject": reference("Patient", row.patient_id),
            "participant": [{"individual": {"display": row.provider_name}}] if row.provider_name else [],
            "period": {"start": instant(row.started_at), "end": instant(row.ended_at)},
            "reasonCode": [{"text": row.reason}] if row.reason else [],
            "serviceProvider": {"display": row.facility_name} if row.facility_name else None,
            "appointment": [reference("Appointment", row.appointment_id)] if row.appointment_id else [],
        }
    )


# --- Observations: vitals, clinical observations, biomarker readings, assessment totals --------------------------


def _observation(row: Any, *, pk: str, patient_id: Any, encounter_id: Any = None) -> Json:
    return {
        "resourceType": "Observation",
        "id": pk,
        "meta": meta(row),
        "status": "final",
        "subject": reference("Patient", patient_id),
        "encounter": reference("Encounter", encounter_id) if encounter_id else None,
    }


def vital(row: Any) -> Json:
    concept = v.VITALS[row.vital_type]
    resource = _observation(row, pk=f"{VITAL}{row.pk}", patient_id=row.patient_id, encounter_id=row.event.encounter_id)
    resource.update(
        category=category("vital-signs", "Vital Signs"),
        code=codeable(row.get_vital_type_display(), [coding(concept)]),
        effectiveDateTime=instant(row.measurement_date),
    )
    value = row.measurement_value
    if row.vital_type == "blood_pressure":
        resource["component"] = [
            {"code": {"coding": [coding(part)]}, "valueQuantity": quantity(value[key], "mmHg", part.ucum)}
            for part, key in ((v.SYSTOLIC, "systolic"), (v.DIASTOLIC, "diastolic"))
        ]
    else:
        resource["valueQuantity"] = quantity(value["value"], row.unit, concept.ucum)
    return compact(resource)


INTERPRETATIONS = {"normal": "N", "abnormal": "A", "high": "H", "low": "L", "critical": "AA"}


def clinical_observation(row: Any) -> Json:
    event = row.event
    resource = _observation(
        row, pk=f"{CLINICAL_OBSERVATION}{row.pk}", patient_id=row.patient_id, encounter_id=event.encounter_id
    )
    resource.update(
        category=category("exam", "Exam"),
        code=codeable(row.observation_type, event_codings(event, "Observation")),
        effectiveDateTime=instant(event.event_date),
        performer=[{"display": event.performed_by}] if event.performed_by else [],
    )
    if row.value_numeric is not None:
        resource["valueQuantity"] = quantity(row.value_numeric, row.unit)
    else:
        resource["valueString"] = row.value_text
    if row.interpretation:
        resource["interpretation"] = [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                        "code": INTERPRETATIONS[row.interpretation],
                    }
                ],
                "text": row.get_interpretation_display(),
            }
        ]
    if row.reference_range:
        resource["referenceRange"] = [{"text": row.reference_range}]
    return compact(resource)


def reading(row: Any) -> Json:
    metric = catalog.metric(row.metric_type)
    label = metric.label if metric else row.metric_type
    codings = [coding(v.BIOMARKER_LOINC[row.metric_type])] if row.metric_type in v.BIOMARKER_LOINC else []
    codings.append({"system": v.KURA_METRIC, "code": row.metric_type, "display": label})
    is_vital = row.metric_type in v.VITAL_SIGN_METRICS
    resource = _observation(row, pk=f"{READING}{row.pk}", patient_id=row.patient_id)
    resource.update(
        category=category("vital-signs", "Vital Signs") if is_vital else category("activity", "Activity"),
        code=codeable(label, codings),
        effectiveDateTime=instant(row.captured_at),
        device={"display": row.get_source_display()},
    )
    if row.value_numeric is not None:
        resource["valueQuantity"] = quantity(row.value_numeric, row.unit, v.UCUM_UNITS.get(row.unit, ""))
    else:
        resource["valueString"] = row.value_text
    if metric is not None and metric.is_numeric and (metric.reference_low is not None or metric.reference_high):
        ucum = v.UCUM_UNITS.get(metric.unit, "")
        resource["referenceRange"] = [
            {
                "low": None if metric.reference_low is None else quantity(metric.reference_low, metric.unit, ucum),
                "high": None if metric.reference_high is None else quantity(metric.reference_high, metric.unit, ucum),
            }
        ]
    return compact(resource)


def score(row: Any) -> Json:
    """An assessment's total as an Observation, derived from its QuestionnaireResponse."""
    instrument = scoring.BUILTIN_INSTRUMENTS.get(row.instrument)
    name = instrument.name if instrument else (row.definition.name if row.definition else row.instrument)
    total = v.INSTRUMENT_TOTALS.get(row.instrument)
    codings = [coding(total)] if total else []
    resource = _observation(row, pk=f"{SCORE}{row.pk}", patient_id=row.patient_id)
    resource.update(
        category=category("survey", "Survey"),
        code=codeable(f"{name} total score", codings),
        effectiveDateTime=instant(row.completed_at),
        valueQuantity=quantity(row.total, "score", "{score}"),
        interpretation=[{"text": row.severity}],
        derivedFrom=[reference("QuestionnaireResponse", row.pk)],
    )
    return compact(resource)


# --- Condition, MedicationStatement, AllergyIntolerance, Immunization (spokes of the clinical hub) ---------------


def _status(system: str, code: str) -> Json:
    return {"coding": [{"system": system, "code": code}]}


CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"


def condition(row: Any) -> Json:
    event = row.event
    severity = v.SEVERITY_SNOMED.get(row.severity)
    return compact(
        {
            "resourceType": "Condition",
            "id": str(row.pk),
            "meta": meta(row),
            "clinicalStatus": _status(CONDITION_CLINICAL, row.clinical_status),
            "verificationStatus": _status(CONDITION_VERIFICATION, "confirmed"),
            "category": [
                _status("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item"),
            ],
            "severity": codeable(severity[1], [{"system": v.SNOMED, "code": severity[0]}]) if severity else None,
            "code": codeable(row.condition_name, event_codings(event, "Condition")),
            "subject": reference("Patient", row.patient_id),
            "encounter": reference("Encounter", event.encounter_id) if event.encounter_id else None,
            "onsetDateTime": day(row.onset_date),
            "abatementDateTime": day(row.resolved_date),
            "recordedDate": instant(event.event_date),
        }
    )


def medication_statement(row: Any) -> Json:
    event = row.event
    dosage = " ".join(part for part in (row.strength, row.dose, row.route, row.frequency) if part)
    return compact(
        {
            "resourceType": "MedicationStatement",
            "id": str(row.pk),
            "meta": meta(row),
            "status": v.MEDICATION_STATUSES.get(row.status, "unknown"),
            "medicationCodeableConcept": codeable(row.medication_name, event_codings(event, "MedicationStatement")),
            "subject": reference("Patient", row.patient_id),
            "context": reference("Encounter", event.encounter_id) if event.encounter_id else None,
            "effectivePeriod": {"start": day(row.start_date), "end": day(row.end_date)},
            "dateAsserted": instant(event.event_date),
            "informationSource": {"display": row.prescriber} if row.prescriber else None,
            "dosage": [
                {
                    "text": dosage,
                    "route": {"text": row.route} if row.route else None,
                }
            ]
            if dosage
            else [],
        }
    )


def allergy(row: Any) -> Json:
    event = row.event
    severity = {"mild": "mild", "moderate": "moderate", "severe": "severe", "life_threatening": "severe"}
    return compact(
        {
            "resourceType": "AllergyIntolerance",
            "id": str(row.pk),
            "meta": meta(row),
            "clinicalStatus": _status("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active"),
            "verificationStatus": _status(
                "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
                "confirmed" if row.verified_date else "unconfirmed",
            ),
            "type": "allergy",
            "category": [v.ALLERGY_CATEGORIES[row.allergen_type]] if row.allergen_type in v.ALLERGY_CATEGORIES else [],
            "criticality": "high"
            if row.severity in ("severe", "life_threatening")
            else ("low" if row.severity else None),
            "code": codeable(row.allergen_name, event_codings(event, "AllergyIntolerance")),
            "patient": reference("Patient", row.patient_id),
            "encounter": reference("Encounter", event.encounter_id) if event.encounter_id else None,
            "recordedDate": instant(event.event_date),
            "lastOccurrence": None,
            "reaction": [{"manifestation": [{"text": row.reaction}], "severity": severity.get(row.severity)}]
            if row.reaction
            else [],
            "note": [{"text": f"Verified on {row.verified_date.isoformat()}"}] if row.verified_date else [],
        }
    )


def immunization(row: Any) -> Json:
    event = row.event
    return compact(
        {
            "resourceType": "Immunization",
            "id": str(row.pk),
            "meta": meta(row),
            "status": "completed",
            "vaccineCode": codeable(row.vaccine_name, event_codings(event, "Immunization")),
            "patient": reference("Patient", row.patient_id),
            "encounter": reference("Encounter", event.encounter_id) if event.encounter_id else None,
            "occurrenceDateTime": day(row.administered_on),
            "recorded": instant(event.event_date),
            "lotNumber": row.lot_number,
            "manufacturer": {"display": row.manufacturer} if row.manufacturer else None,
            "site": {"text": row.site} if row.site else None,
            "route": {"text": row.route} if row.route else None,
            "protocolApplied": [{"doseNumberPositiveInt": row.dose_number}] if row.dose_number else [],
        }
    )


# --- Questionnaire and QuestionnaireResponse -------------------------------------------------------------------


def _uses_frequency_answers(instrument: scoring.Instrument) -> bool:
    return instrument.answer_labels == scoring.FREQUENCY_LABELS and instrument.max_answer == 3


def _answer_coding(instrument: scoring.Instrument, answer: int) -> Json:
    label = instrument.answer_labels[answer - instrument.min_answer]
    if _uses_frequency_answers(instrument):
        return {"system": v.LOINC, "code": v.FREQUENCY_ANSWERS[answer], "display": label}
    return {"system": v.KURA_INSTRUMENT_ANSWER, "code": str(answer), "display": label}


def questionnaire(instrument: scoring.Instrument, *, base_url: str) -> Json:
    """A built-in instrument (PHQ-4, GAD-7, PHQ-9) as a Questionnaire: its items with their wording and answers."""
    panel = v.INSTRUMENT_PANELS.get(instrument.code)
    options = [
        {"valueCoding": _answer_coding(instrument, answer)}
        for answer in range(instrument.min_answer, instrument.max_answer + 1)
    ]
    return compact(
        {
            "resourceType": "Questionnaire",
            "id": instrument.code,
            "url": f"{base_url}Questionnaire/{instrument.code}",
            "name": instrument.code.upper(),
            "title": instrument.name,
            "status": "active",
            "subjectType": ["Patient"],
            "code": [coding(panel)] if panel else [],
            "item": [
                {"linkId": str(number), "text": wording, "type": "choice", "required": True, "answerOption": options}
                for number, wording in enumerate(instrument.items, start=1)
            ],
        }
    )


def questionnaire_response(row: Any, *, base_url: str) -> Json:
    instrument = scoring.BUILTIN_INSTRUMENTS.get(row.instrument)
    items: list[Json] = []
    for number, answer in enumerate(row.answers, start=1):
        if instrument is not None and number <= len(instrument.items):
            value: Json = {"valueCoding": _answer_coding(instrument, answer)}
            text = instrument.items[number - 1]
        else:
            value = {"valueInteger": answer}
            items_text = row.definition.items if row.definition else []
            text = items_text[number - 1] if number <= len(items_text) else ""
        items.append({"linkId": str(number), "text": text, "answer": [value]})
    return compact(
        {
            "resourceType": "QuestionnaireResponse",
            "id": str(row.pk),
            "meta": meta(row),
            "questionnaire": f"{base_url}Questionnaire/{row.instrument}" if instrument else None,
            "status": "completed",
            "subject": reference("Patient", row.patient_id),
            "authored": instant(row.completed_at),
            "item": items,
        }
    )


# --- Coverage and Appointment ----------------------------------------------------------------------------------


def coverage(row: Any) -> Json:
    relationship = v.SUBSCRIBER_RELATIONSHIPS.get(row.subscriber_relationship, "other")
    subscriber_name = " ".join(p for p in (row.subscriber_given_name, row.subscriber_family_name) if p)
    return compact(
        {
            "resourceType": "Coverage",
            "id": str(row.pk),
            "meta": meta(row),
            "status": "active" if row.is_active else "cancelled",
            "subscriber": {"display": subscriber_name} if subscriber_name and relationship != "self" else None,
            "subscriberId": row.member_id,
            "beneficiary": reference("Patient", row.patient_id),
            "relationship": _status("http://terminology.hl7.org/CodeSystem/subscriber-relationship", relationship),
            "payor": [{"identifier": {"value": row.payer.payer_id}, "display": row.payer.name}],
            "class": [
                {
                    "type": _status("http://terminology.hl7.org/CodeSystem/coverage-class", "group"),
                    "value": row.group_number,
                }
            ]
            if row.group_number
            else [],
            "order": v.COVERAGE_ORDER.get(row.priority),
        }
    )


def appointment(row: Any) -> Json:
    reason = getattr(row, "reason", None)
    status = v.APPOINTMENT_STATUSES.get(row.status, "booked")
    participant_status = "declined" if status in ("cancelled", "noshow") else "accepted"
    return compact(
        {
            "resourceType": "Appointment",
            "id": str(row.pk),
            "meta": meta(row),
            "status": status,
            "cancelationReason": {"text": row.cancellation_reason} if row.cancellation_reason else None,
            "serviceType": [{"text": row.appointment_type.name}],
            "appointmentType": {"text": row.appointment_type.name},
            "reasonCode": [{"text": reason.text}] if reason is not None else [],
            "start": instant(row.starts_at),
            "end": instant(row.ends_at),
            "minutesDuration": int((row.ends_at - row.starts_at).total_seconds() // 60),
            "created": instant(row.created_at),
            "participant": [
                {"actor": reference("Patient", row.patient_id), "required": "required", "status": participant_status},
                {"actor": {"display": row.provider.display_name}, "required": "required", "status": "accepted"},
            ],
        }
    )
