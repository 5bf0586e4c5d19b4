"""Who may read what through FHIR (the permission map, see apps/organizations/access_map.py).

Staff read each FHIR type as they read the same rows through the REST API; partner keys need `fhir:read`, one
scope for the whole read-only FHIR API. What rows either then sees is PostgreSQL's answer as everywhere: keys
without PHI access and coaches get no CLINICAL_PHI row. Coverage shows the member id, so it needs PHI access.
"""

from apps.billing.permissions import INSURANCE_POLICY
from apps.clinical.permissions import ASSESSMENT, CLINICAL_EVENT, INSTRUMENT
from apps.clinical.permissions import ENCOUNTER as CLINICAL_ENCOUNTER
from apps.organizations.access_map import Resource, Rule, register
from apps.organizations.roles import Scope
from apps.patients.permissions import PATIENT as PATIENT_RECORD
from apps.scheduling.permissions import APPOINTMENT as SCHEDULED_APPOINTMENT

SCOPE = Scope.FHIR_READ.value


def _reads_as(name: str, rest: Resource, *, phi: bool = False) -> Resource:
    """A FHIR resource read by the staff roles that read `rest`, and by keys with `fhir:read`."""
    return register(Resource(name, {"read": Rule(rest.roles("read"), SCOPE, phi=phi)}))


PATIENT = _reads_as("fhir.patient", PATIENT_RECORD)
ENCOUNTER = _reads_as("fhir.encounter", CLINICAL_ENCOUNTER)
# Vitals, clinical observations and biomarker readings (assessment totals read as QuestionnaireResponse).
OBSERVATION = _reads_as("fhir.observation", CLINICAL_EVENT)
# Condition, MedicationStatement, AllergyIntolerance, Immunization: spokes of the clinical record.
CLINICAL = _reads_as("fhir.clinical", CLINICAL_EVENT)
QUESTIONNAIRE_RESPONSE = _reads_as("fhir.questionnaire_response", ASSESSMENT)
QUESTIONNAIRE = _reads_as("fhir.questionnaire", INSTRUMENT)
COVERAGE = _reads_as("fhir.coverage", INSURANCE_POLICY, phi=True)
APPOINTMENT = _reads_as("fhir.appointment", SCHEDULED_APPOINTMENT)
