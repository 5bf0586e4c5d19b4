"""The codes FHIR resources carry: code system URIs, LOINC and UCUM for vitals, biomarker metrics and assessment
totals, and the mappings of Kura's own choices onto FHIR's value sets. One place, read by the resources and the
searches alike (a `code` search matches exactly what a resource shows)."""

from __future__ import annotations

from dataclasses import dataclass

from apps.codes import CodeSystem

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
# Kura's own metric codes, for the biomarkers LOINC has no code for (and beside LOINC for those it has).
KURA_METRIC = "urn:kura:biomarker-metric"
KURA_MRN = "urn:kura:mrn"
KURA_INSTRUMENT_ANSWER = "urn:kura:instrument-answer"

# Kura's code systems (apps.codes) as FHIR system URIs.
SYSTEM_URIS = {
    CodeSystem.ICD10CM.value: "http://hl7.org/fhir/sid/icd-10-cm",
    CodeSystem.SNOMED.value: SNOMED,
    CodeSystem.LOINC.value: LOINC,
    CodeSystem.CPT.value: "http://www.ama-assn.org/go/cpt",
    CodeSystem.RXNORM.value: "http://www.nlm.nih.gov/research/umls/rxnorm",
}
CODE_SYSTEMS_BY_URI = {uri: system for system, uri in SYSTEM_URIS.items()}
# The code systems that name what each resource is (a clinical event's codes cover the whole event: its visit's
# CPT code is not the code of its allergy).
RESOURCE_CODE_SYSTEMS = {
    "Observation": frozenset({CodeSystem.LOINC.value, CodeSystem.SNOMED.value}),
    "Condition": frozenset({CodeSystem.ICD10CM.value, CodeSystem.SNOMED.value}),
    "MedicationStatement": frozenset({CodeSystem.RXNORM.value, CodeSystem.SNOMED.value}),
    "AllergyIntolerance": frozenset({CodeSystem.RXNORM.value, CodeSystem.SNOMED.value}),
    "Immunization": frozenset({CodeSystem.SNOMED.value}),
}

OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


@dataclass(frozen=True)
class Concept:
    """A code with its display, and the UCUM unit its values are given in (empty for unitless or text)."""

    system: str
    code: str
    display: str
    ucum: str = ""


# Vital signs (the FHIR vital-signs profile's LOINC codes). Blood pressure is a panel with two components.
BLOOD_PRESSURE = Concept(LOINC, "85354-9", "Blood pressure panel with all children optional")
SYSTOLIC = Concept(LOINC, "8480-6", "Systolic blood pressure", "mm[Hg]")
DIASTOLIC = Concept(LOINC, "8462-4", "Diastolic blood pressure", "mm[Hg]")
VITALS = {
    "blood_pressure": BLOOD_PRESSURE,
    "heart_rate": Concept(LOINC, "8867-4", "Heart rate", "/min"),
    "respiratory_rate": Concept(LOINC, "9279-1", "Respiratory rate", "/min"),
    "temperature": Concept(LOINC, "8310-5", "Body temperature", "Cel"),
    "oxygen_saturation": Concept(LOINC, "2708-6", "Oxygen saturation in Arterial blood", "%"),
    "weight": Concept(LOINC, "29463-7", "Body weight", "kg"),
    "height": Concept(LOINC, "8302-2", "Body height", "cm"),
    "bmi": Concept(LOINC, "39156-5", "Body mass index (BMI) [Ratio]", "kg/m2"),
}

# Biomarker metrics (apps.biomarkers.catalog) with a LOINC code; the others carry Kura's metric code alone.
BIOMARKER_LOINC = {
    "steps": Concept(LOINC, "55423-8", "Number of steps in unspecified time Pedometer"),
    "heart_rate": Concept(LOINC, "8867-4", "Heart rate"),
    "resting_heart_rate": Concept(LOINC, "40443-4", "Heart rate --resting"),
    "hrv_sdnn": Concept(LOINC, "80404-7", "R-R interval.standard deviation (Heart rate variability)"),
    "sleep_duration": Concept(LOINC, "93832-4", "Sleep duration"),
    "body_weight": Concept(LOINC, "29463-7", "Body weight"),
}
# The catalog's units in UCUM.
UCUM_UNITS = {
    "count": "{steps}",
    "bpm": "/min",
    "ms": "ms",
    "score": "{score}",
    "degC": "Cel",
    "h": "h",
    "kg": "kg",
}
# Biomarker metrics that are vital signs (the rest are activity or survey data).
VITAL_SIGN_METRICS = frozenset({"heart_rate", "resting_heart_rate", "body_weight"})

# Assessment instruments: the LOINC panel (the Questionnaire's code) and the total score (the Observation's).
INSTRUMENT_PANELS = {
    "phq4": Concept(LOINC, "69724-3", "Patient Health Questionnaire-4 (PHQ-4)"),
    "gad7": Concept(LOINC, "69737-5", "Generalized anxiety disorder 7 item (GAD-7)"),
    "phq9": Concept(LOINC, "44249-1", "PHQ-9 quick depression assessment panel"),
}
INSTRUMENT_TOTALS = {
    "phq4": Concept(LOINC, "70272-0", "Patient Health Questionnaire-4 total score", "{score}"),
    "gad7": Concept(LOINC, "70274-6", "Generalized anxiety disorder 7 item (GAD-7) total score", "{score}"),
    "phq9": Concept(LOINC, "44261-6", "Patient Health Questionnaire 9 item (PHQ-9) total score", "{score}"),
}
# The LOINC answer list of the PHQ and GAD items (0-3: not at all ... nearly every day).
FREQUENCY_ANSWERS = ("LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9")

ENCOUNTER_CLASSES = {
    "outpatient": ("AMB", "ambulatory"),
    "telehealth": ("VR", "virtual"),
    "inpatient": ("IMP", "inpatient encounter"),
    "emergency": ("EMER", "emergency"),
    "home": ("HH", "home health"),
}
ENCOUNTER_CLASS_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"

ADMINISTRATIVE_GENDER = {"female": "female", "male": "male", "intersex": "other", "unknown": "unknown"}

SEVERITY_SNOMED = {
    "mild": ("255604002", "Mild"),
    "moderate": ("6736007", "Moderate"),
    "severe": ("24484000", "Severe"),
}

MEDICATION_STATUSES = {"active": "active", "on_hold": "on-hold", "stopped": "stopped", "completed": "completed"}

ALLERGY_CATEGORIES = {"medication": "medication", "food": "food", "environmental": "environment"}

APPOINTMENT_STATUSES = {
    "booked": "booked",
    "confirmed": "booked",
    "checked_in": "checked-in",
    "in_session": "arrived",
    "completed": "fulfilled",
    "cancelled": "cancelled",
    "no_show": "noshow",
}

# X12 individual relationship codes (InsurancePolicy.Relationship) as FHIR's subscriber-relationship codes.
SUBSCRIBER_RELATIONSHIPS = {"18": "self", "01": "spouse", "19": "child", "G8": "other"}
COVERAGE_ORDER = {"P": 1, "S": 2, "T": 3}
