"""FHIR R4 at /fhir/R4/: reads and searches with the REST API's keys, RLS, PHI rules and PHI access log; paging
across tables; the second organization never shows; bad input is an OperationOutcome naming the parameter.
Every resource a test here receives is validated with fhir.resources (R4B models)."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from apps.billing import services as billing_services
from apps.biomarkers import services as biomarker_services
from apps.biomarkers.models import BiomarkerLog
from apps.clinical import services as clinical_services
from apps.clinical.timeline import services as timeline_services
from apps.organizations.models import Organization
from apps.organizations.roles import DataClassification, Role, Scope
from apps.patients import services as patient_services
from apps.patients.models import Patient
from tests.biomarkers.factories import depression_reading, reading
from tests.conftest import add_member, api_client, as_tenant, issue_key, logged_in, make_organization, phi_access_log
from tests.fhir.validation import validated

pytestmark = pytest.mark.usefixtures("committed")

PHI = DataClassification.CLINICAL_PHI
WELLNESS = DataClassification.GENERAL_WELLNESS
FHIR_ONLY = [Scope.FHIR_READ.value]
_mrns = itertools.count(1)


def _clinic(org: Organization, *, family: str, weights: int = 1) -> dict[str, Any]:
    """A patient with a wellness weight (or several), a PHI blood pressure, a coded condition, a GAD-7, two
    readings (steps: wellness; voice depression score: PHI) and an insurance policy."""
    now = timezone.now().replace(microsecond=0)
    with as_tenant(org):
        patient = patient_services.patient_create(
            mrn=f"F-{next(_mrns)}", given_name="Robin", family_name=family, date_of_birth=dt.date(1988, 4, 2)
        )
        weight_events = [
            clinical_services.clinical_entry_record_manual(
                patient=patient,
                spoke_type="vitals",
                fields={
                    "vital_type": "weight",
                    "measurement_value": {"value": 70 + n},
                    "unit": "kg",
                    "measurement_date": now - dt.timedelta(days=10 - n),
                },
                recorded_at=now - dt.timedelta(days=10 - n),
                data_classification=WELLNESS,
            )
            for n in range(weights)
        ]
        bp_event = clinical_services.clinical_entry_record_manual(
            patient=patient,
            spoke_type="vitals",
            fields={
                "vital_type": "blood_pressure",
                "measurement_value": {"systolic": 128, "diastolic": 82},
                "unit": "mmHg",
                "measurement_date": now - dt.timedelta(days=3),
            },
            recorded_at=now - dt.timedelta(days=3),
        )
        condition_event = clinical_services.clinical_event_create(
            patient=patient,
            event={
                "activity_type": "observation",
                "clinical_purposes": ["diagnostic"],
                "event_name": "Intake",
                "event_date": now - dt.timedelta(days=2),
            },
            details={"conditions": [{"condition_name": "Generalized anxiety disorder", "onset_date": "2024-05-01"}]},
            codes=[{"code_system": "icd10cm", "code": "F41.1"}, {"code_system": "cpt", "code": "90791"}],
        )
        assessment = timeline_services.assessment_complete(
            patient=patient, instrument="gad7", answers=[1, 1, 2, 0, 1, 1, 0], completed_at=now - dt.timedelta(days=1)
        )
        biomarker_services.biomarker_readings_ingest(readings=[reading(patient.pk), depression_reading(patient.pk)])
        payer = billing_services.payer_create(name="Acme Health", payer_id=f"ACME{next(_mrns)}")
        policy = billing_services.insurance_policy_create(
            patient=patient,
            payer=payer,
            member_id="XM1234567",
            group_number="G-77",
            address_line1="1 Main St",
            city="Portland",
            state="OR",
            postal_code="97205",
        )
        return {
            "now": now,
            "patient": str(patient.pk),
            "weights": [f"vital-{event.vitals.get().pk}" for event in weight_events],
            "blood_pressure": f"vital-{bp_event.vitals.get().pk}",
            "condition": str(condition_event.conditions.get().pk),
            "assessment": str(assessment.pk),
            "coverage": str(policy.pk),
        }


def _get(client: Client, path: str, **params: Any) -> tuple[int, dict[str, Any]]:
    response = client.get(path, params)
    assert response["Content-Type"] == "application/fhir+json; charset=utf-8"
    return response.status_code, validated(response.json())


def _ids(bundle: dict[str, Any]) -> list[str]:
    return [entry["resource"]["id"] for entry in bundle.get("entry", [])]


def _all_pages(client: Client, path: str, **params: Any) -> list[dict[str, Any]]:
    """The resources of every page, following the Bundle's next links."""
    status, bundle = _get(client, path, **params)
    assert status == 200, bundle
    resources = [entry["resource"] for entry in bundle.get("entry", [])]
    while nxt := next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None):
        status, bundle = _get(client, nxt.removeprefix("http://testserver"))
        assert status == 200, bundle
        resources += [entry["resource"] for entry in bundle.get("entry", [])]
    return resources


@pytest.fixture
def two_clinics() -> tuple[Organization, Organization, dict[str, Any], dict[str, Any]]:
    org_a, org_b = make_organization("fhir-a"), make_organization("fhir-b")
    return org_a, org_b, _clinic(org_a, family="Ahlberg", weights=3), _clinic(org_b, family="Bergström")


# --- reading and searching ------------------------------------------------------------------------------------


def test_a_phi_key_reads_every_type_of_its_patient_and_nothing_of_the_other_organization(two_clinics: Any) -> None:
    org_a, _org_b, mine, theirs = two_clinics
    client = api_client(issue_key(org_a, scopes=FHIR_ONLY, phi_access=True))

    observations = _all_pages(client, "/fhir/R4/Observation", patient=mine["patient"])
    codes = sorted(o["code"]["coding"][0]["code"] for o in observations if "coding" in o["code"])
    # Three weights, the blood pressure panel, the GAD-7 total, the steps and the voice score (no LOINC code).
    assert codes == ["29463-7", "29463-7", "29463-7", "55423-8", "70274-6", "85354-9", "voice_depression_score"]
    bp = next(o for o in observations if o["id"] == mine["blood_pressure"])
    assert [(c["code"]["coding"][0]["code"], c["valueQuantity"]) for c in bp["component"]] == [
        ("8480-6", {"value": 128, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}),
        ("8462-4", {"value": 82, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}),
    ]
    status, condition = _get(client, f"/fhir/R4/Condition/{mine['condition']}")
    assert status == 200
    # The event's CPT visit code is not the condition's code.
    assert condition["code"]["coding"] == [
        {
            "system": "http://hl7.org/fhir/sid/icd-10-cm",
            "code": "F41.1",
            "display": condition["code"]["coding"][0]["display"],
        }
    ]
    assert condition["subject"] == {"reference": f"Patient/{mine['patient']}"}
    status, answer = _get(client, f"/fhir/R4/QuestionnaireResponse/{mine['assessment']}")
    assert (status, answer["questionnaire"], len(answer["item"])) == (
        200,
        "http://testserver/fhir/R4/Questionnaire/gad7",
        7,
    )
    status, coverage = _get(client, f"/fhir/R4/Coverage/{mine['coverage']}")
    assert (status, coverage["subscriberId"], coverage["beneficiary"]["reference"]) == (
        200,
        "XM1234567",
        f"Patient/{mine['patient']}",
    )

    # The other organization's resources: not found, and never listed.
    for path in (
        f"/fhir/R4/Patient/{theirs['patient']}",
        f"/fhir/R4/Condition/{theirs['condition']}",
        f"/fhir/R4/Observation/{theirs['blood_pressure']}",
        f"/fhir/R4/Coverage/{theirs['coverage']}",
        f"/fhir/R4/QuestionnaireResponse/{theirs['assessment']}",
        f"/fhir/R4/Patient/{theirs['patient']}/$everything",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json() == {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "not-found", "diagnostics": "Resource not found."}],
        }
    status, outcome = _get(client, "/fhir/R4/Observation", patient=theirs["patient"])
    assert (status, outcome["issue"][0]["diagnostics"]) == (404, "patient: no such Patient.")
    for resource_type in ("Patient", "Observation", "Condition", "QuestionnaireResponse", "Coverage", "Encounter"):
        listed = {r["id"] for r in _all_pages(client, f"/fhir/R4/{resource_type}", _count=100)}
        assert not listed & {*theirs["weights"], *(v for v in theirs.values() if isinstance(v, str))}, resource_type


def test_everything_pages_through_every_resource_once(two_clinics: Any) -> None:
    org_a, _org_b, mine, _theirs = two_clinics
    client = api_client(issue_key(org_a, scopes=FHIR_ONLY, phi_access=True))

    paged = _all_pages(client, f"/fhir/R4/Patient/{mine['patient']}/$everything", _count=2)
    status, whole = _get(client, f"/fhir/R4/Patient/{mine['patient']}/$everything")

    assert status == 200
    assert [(r["resourceType"], r["id"]) for r in paged] == [
        (e["resource"]["resourceType"], e["resource"]["id"]) for e in whole["entry"]
    ]
    assert len({(r["resourceType"], r["id"]) for r in paged}) == len(paged)
    kinds = sorted(r["resourceType"] for r in paged)
    assert kinds == sorted(["Patient", "Condition", "Coverage", "QuestionnaireResponse"] + ["Observation"] * 7)
    assert paged[0] == {**paged[0], "resourceType": "Patient", "id": mine["patient"]}


def test_search_by_date_code_and_last_updated(two_clinics: Any) -> None:
    org_a, _org_b, mine, _theirs = two_clinics
    client = api_client(issue_key(org_a, scopes=FHIR_ONLY, phi_access=True))
    patient = mine["patient"]
    weights = mine["weights"]

    status, by_code = _get(client, "/fhir/R4/Observation", patient=patient, code="http://loinc.org|29463-7")
    assert (status, _ids(by_code)) == (200, weights)  # oldest first
    status, any_system = _get(client, "/fhir/R4/Observation", patient=patient, code="29463-7,85354-9")
    assert _ids(any_system) == [*weights, mine["blood_pressure"]]
    status, wrong_system = _get(client, "/fhir/R4/Observation", patient=patient, code="http://snomed.info/sct|29463-7")
    assert (status, _ids(wrong_system)) == (200, [])
    status, kura_metric = _get(client, "/fhir/R4/Observation", patient=patient, code="urn:kura:biomarker-metric|steps")
    assert [o["code"]["coding"][0]["code"] for o in kura_metric["entry"][0:1] for o in [o["resource"]]] == ["55423-8"]

    # The weights were taken 10, 9 and 8 days ago: half a day after the first, and before the second.
    between = (mine["now"] - dt.timedelta(days=9, hours=12)).astimezone(dt.UTC)
    status, since = _get(
        client, "/fhir/R4/Observation", patient=patient, code="29463-7", date=f"gt{between:%Y-%m-%dT%H:%M:%SZ}"
    )
    assert _ids(since) == weights[1:]
    status, before = _get(
        client, "/fhir/R4/Observation", patient=patient, code="29463-7", date=f"lt{between:%Y-%m-%dT%H:%M:%SZ}"
    )
    assert _ids(before) == weights[:1]
    status, conditions = _get(client, "/fhir/R4/Condition", code="F41.1", **{"onset-date": "2024-05"})
    assert _ids(conditions) == [mine["condition"]]
    status, none = _get(client, "/fhir/R4/Condition", **{"onset-date": "ge2024-05-02"})
    assert _ids(none) == []
    status, changed = _get(
        client, "/fhir/R4/Patient", _lastUpdated=f"ge{timezone.now() + dt.timedelta(minutes=1):%Y-%m-%dT%H:%M:%SZ}"
    )
    assert _ids(changed) == []
    status, all_patients = _get(client, "/fhir/R4/Patient", _lastUpdated="ge2020-01-01")
    assert _ids(all_patients) == [patient]


def test_paging_across_tables_has_no_gaps_or_repeats_with_writes_in_between(two_clinics: Any) -> None:
    org_a, _org_b, mine, _theirs = two_clinics
    client = api_client(issue_key(org_a, scopes=FHIR_ONLY, phi_access=True))
    status, first = _get(client, "/fhir/R4/Observation", patient=mine["patient"], _count=3)
    assert status == 200
    # A reading stored between two pages, captured 30 days ago: it sorts before the cursor, so it shifts nothing.
    with as_tenant(org_a):
        biomarker_services.biomarker_readings_ingest(
            readings=[reading(mine["patient"], captured_at=(timezone.now() - dt.timedelta(days=30)).isoformat())]
        )
    nxt = next(link["url"] for link in first["link"] if link["relation"] == "next")
    rest = _all_pages(client, nxt.removeprefix("http://testserver"))

    seen = _ids(first) + [r["id"] for r in rest]
    assert len(seen) == len(set(seen)) == 7  # the older reading is before the cursor: not shown, nothing repeated
    dates = [r.get("effectiveDateTime") for r in [e["resource"] for e in first["entry"]] + rest]
    assert dates == sorted(dates)


def test_everything_since_id_search_and_a_soft_deleted_patient(two_clinics: Any) -> None:
    org_a, _org_b, mine, _theirs = two_clinics
    client = api_client(issue_key(org_a, scopes=FHIR_ONLY, phi_access=True))
    patient = mine["patient"]
    later = timezone.now() + dt.timedelta(minutes=5)

    since = _all_pages(client, f"/fhir/R4/Patient/{patient}/$everything", _since=f"{later:%Y-%m-%dT%H:%M:%SZ}")
    assert [(r["resourceType"], r["id"]) for r in since] == [("Patient", patient)]  # the patient leads page one
    status, by_id = _get(client, "/fhir/R4/Observation", _id=mine["blood_pressure"])
    assert (status, _ids(by_id)) == (200, [mine["blood_pressure"]])
    status, by_wrong_id = _get(client, "/fhir/R4/Observation", _id=mine["condition"])
    assert (status, _ids(by_wrong_id)) == (200, [])

    with as_tenant(org_a):
        patient_services.patient_soft_delete(patient=Patient.objects.get(pk=patient))
    assert client.get(f"/fhir/R4/Patient/{patient}").status_code == 404
    assert client.get(f"/fhir/R4/Condition/{mine['condition']}").status_code == 404
    assert _ids(_get(client, "/fhir/R4/Observation")[1]) == []
    assert client.get(f"/fhir/R4/Patient/{patient}/$everything").status_code == 404


# --- who sees what ---------------------------------------------------------------------------------------------


def test_a_key_without_phi_access_gets_no_clinical_phi_and_logs_no_phi_rows(two_clinics: Any) -> None:
    org_a, _org_b, mine, _theirs = two_clinics
    client = api_client(issue_key(org_a, scopes=FHIR_ONLY, phi_access=False))

    observations = _all_pages(client, "/fhir/R4/Observation", patient=mine["patient"])
    assert sorted(o["id"] for o in observations if o["id"].startswith("vital-")) == sorted(mine["weights"])
    assert sorted(o["code"]["coding"][0]["code"] for o in observations) == ["29463-7"] * 3 + ["55423-8"]
    assert _ids(_get(client, "/fhir/R4/Condition")[1]) == []
    assert _ids(_get(client, "/fhir/R4/QuestionnaireResponse")[1]) == []
    assert client.get(f"/fhir/R4/Condition/{mine['condition']}").status_code == 404
    status, outcome = _get(client, "/fhir/R4/Coverage")
    assert (status, outcome["issue"][0]["code"]) == (403, "forbidden")
    everything = _all_pages(client, f"/fhir/R4/Patient/{mine['patient']}/$everything")
    assert sorted(r["resourceType"] for r in everything) == ["Observation"] * 4 + ["Patient"]


def test_reads_are_logged_as_the_rest_api_logs_them(two_clinics: Any) -> None:
    org_a, _org_b, mine, _theirs = two_clinics
    before = len(phi_access_log(org_a))
    client = api_client(issue_key(org_a, scopes=FHIR_ONLY, phi_access=True))

    assert client.get(f"/fhir/R4/Patient/{mine['patient']}/$everything").status_code == 200
    assert client.get("/fhir/R4/Observation", {"patient": mine["patient"], "date": "bad"}).status_code == 400

    logged = sorted((str(p), t, n, path) for p, t, n, path in phi_access_log(org_a)[before:])
    path = f"/fhir/R4/Patient/{mine['patient']}/$everything"
    assert logged == [
        (mine["patient"], "assessment", 2, path),  # the response and its total
        (mine["patient"], "biomarker_reading", 1, path),  # the voice score, not the steps
        (mine["patient"], "clinical_event", 5, path),  # three weights, the blood pressure, the condition
        (mine["patient"], "patient", 1, path),
    ]


def test_a_coach_sees_wellness_observations_only_and_no_coverage_or_answers(two_clinics: Any) -> None:
    org_a, _org_b, mine, _theirs = two_clinics
    coach = logged_in(add_member(org_a, Role.COACH))

    observations = _all_pages(coach, "/fhir/R4/Observation")
    assert sorted(o["code"]["coding"][0]["code"] for o in observations) == ["29463-7"] * 3 + ["55423-8"]
    for resource_type in ("Coverage", "QuestionnaireResponse", "Questionnaire"):
        status, outcome = _get(coach, f"/fhir/R4/{resource_type}")
        assert (status, outcome["issue"][0]["code"]) == (403, "forbidden"), resource_type
    everything = _all_pages(coach, f"/fhir/R4/Patient/{mine['patient']}/$everything")
    assert sorted(r["resourceType"] for r in everything) == ["Observation"] * 4 + ["Patient"]


def test_keys_need_the_fhir_scope_and_a_clinician_reads_the_questionnaires(two_clinics: Any) -> None:
    org_a, _org_b, mine, _theirs = two_clinics
    rest_only = api_client(issue_key(org_a, scopes=[s for s in Scope.values if s != Scope.FHIR_READ], phi_access=True))
    for path in (
        "/fhir/R4/Patient",
        f"/fhir/R4/Patient/{mine['patient']}",
        f"/fhir/R4/Patient/{mine['patient']}/$everything",
    ):
        status, outcome = _get(rest_only, path)
        assert (status, outcome["issue"][0]["code"]) == (403, "forbidden"), path
    status, outcome = _get(Client(), "/fhir/R4/Patient")
    assert (status, outcome["issue"][0]["code"]) == (401, "login")

    clinician = logged_in(add_member(org_a, Role.CLINICIAN))
    status, questionnaires = _get(clinician, "/fhir/R4/Questionnaire")
    assert (status, _ids(questionnaires)) == (200, ["phq4", "gad7", "phq9"])
    status, phq9 = _get(clinician, "/fhir/R4/Questionnaire/phq9")
    assert (status, phq9["code"][0]["code"], len(phq9["item"])) == (200, "44249-1", 9)
    status, metadata = _get(Client(), "/fhir/R4/metadata")
    assert (status, metadata["fhirVersion"], metadata["kind"]) == (200, "4.0.1", "instance")
    types = [resource["type"] for resource in metadata["rest"][0]["resource"]]
    assert types == [
        "Patient", "Encounter", "Observation", "Condition", "MedicationStatement", "AllergyIntolerance",
        "Immunization", "QuestionnaireResponse", "Coverage", "Appointment", "Questionnaire",
    ]  # fmt: skip


def test_a_partner_needing_consent_reaches_only_patients_who_gave_it(two_clinics: Any) -> None:
    org_a, _org_b, mine, _theirs = two_clinics
    client = api_client(issue_key(org_a, scopes=FHIR_ONLY, phi_access=True, requires_patient_consent=True))

    assert client.get(f"/fhir/R4/Patient/{mine['patient']}").status_code == 404
    assert client.get(f"/fhir/R4/Patient/{mine['patient']}/$everything").status_code == 404
    assert _ids(_get(client, "/fhir/R4/Observation")[1]) == []
    assert _ids(_get(client, "/fhir/R4/Patient")[1]) == []

    with as_tenant(org_a):
        patient = Patient.objects.get(pk=mine["patient"])
        patient_services.consent_record(patient=patient, consent_type="data_sharing", granted=True)
    assert _ids(_get(client, "/fhir/R4/Patient")[1]) == [mine["patient"]]
    assert len(_all_pages(client, f"/fhir/R4/Patient/{mine['patient']}/$everything")) == 11


# --- bad input -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        (
            "/fhir/R4/Observation",
            {"ordering": "Ahlberg"},
            400,
            "Unsupported search parameter(s) for this resource type: ordering.",
        ),
        (
            "/fhir/R4/Patient",
            {"patient": "x", "name:exact": "Ahlberg"},
            400,
            "Unsupported search parameter(s) for this resource type: name:exact, patient.",
        ),
        ("/fhir/R4/Observation", {"date": "2024-13-01"}, 400, "date: not a valid date."),
        (
            "/fhir/R4/Observation",
            {"date": "Ahlberg"},
            400,
            "date: not a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD or a dateTime), with an optional prefix.",
        ),
        (
            "/fhir/R4/Observation",
            {"date": "ne2024-01-01"},
            400,
            "date: the prefix is not supported (use eq, gt, ge, lt, le, sa or eb).",
        ),
        ("/fhir/R4/Observation", {"_lastUpdated": "0000-01-01"}, 400, "_lastUpdated: not a valid date."),
        ("/fhir/R4/Observation", {"patient": "Ahlberg"}, 400, "patient: give a Patient id (or Patient/<id>)."),
        ("/fhir/R4/Observation", {"_count": "0"}, 400, "_count: give a whole number of at least 1."),
        ("/fhir/R4/Observation", {"_count": ["1", "2"]}, 400, "_count: give it once."),
        (
            "/fhir/R4/Observation",
            {"_cursor": "Ahlberg"},
            400,
            "_cursor: not a cursor this server gave (use the Bundle's next link).",
        ),
        ("/fhir/R4/Observation", {"code": "http://loinc.org|"}, 400, "code: give a code, as code or system|code."),
        ("/fhir/R4/Observation", {"_format": "xml"}, 400, "_format: only JSON (application/fhir+json) is served."),
        ("/fhir/R4/Condition", {"date": "2024"}, 400, "Unsupported search parameter(s) for this resource type: date."),
        ("/fhir/R4/Practitioner", {}, 404, "Unknown or unsupported resource type."),
        ("/fhir/R4/Observation/Ahlberg", {}, 404, "Resource not found."),
        ("/fhir/R4/Patient/x/$validate", {}, 404, "Unknown or unsupported resource type or interaction."),
    ],
)
def test_bad_input_is_an_operation_outcome_naming_the_problem(
    org_a: Organization, path: str, params: dict[str, Any], status: int, message: str
) -> None:
    client = api_client(issue_key(org_a, scopes=FHIR_ONLY, phi_access=True))
    response = client.get(path, params)
    assert response.status_code == status
    body = validated(response.json())
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["diagnostics"] == message
    assert "Ahlberg" not in response.text


def test_writes_are_refused_and_change_nothing(two_clinics: Any) -> None:
    org_a, _org_b, mine, _theirs = two_clinics
    # With CSRF checks on, as in production: a write is FHIR's 405, not the CSRF middleware's refusal.
    key = issue_key(org_a, scopes=list(Scope.values), phi_access=True)
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Api-Key {key}")
    before = _get(client, f"/fhir/R4/Patient/{mine['patient']}")[1]
    for method in ("post", "put", "patch", "delete"):
        response = getattr(client, method)(
            f"/fhir/R4/Patient/{mine['patient']}",
            data='{"resourceType": "Patient"}',
            content_type="application/fhir+json",
        )
        assert (response.status_code, response.json()["issue"][0]["code"]) == (405, "not-supported")
    assert _get(client, f"/fhir/R4/Patient/{mine['patient']}")[1] == before


def test_a_voided_reading_leaves_the_observations(two_clinics: Any) -> None:
    org_a, org_b, mine, _theirs = two_clinics
    client = api_client(issue_key(org_a, scopes=FHIR_ONLY, phi_access=True))
    path = "/fhir/R4/Observation"
    before = {o["id"] for o in _all_pages(client, path, patient=mine["patient"])}
    with as_tenant(org_a):
        steps = BiomarkerLog.objects.get(patient_id=mine["patient"], metric_type="steps")
        biomarker_services.biomarker_reading_void(reading=steps, reason="Duplicate from a second phone")
    after = {o["id"] for o in _all_pages(client, path, patient=mine["patient"])}
    assert before - after == {f"reading-{steps.pk}"}
    with as_tenant(org_b):
        assert BiomarkerLog.objects.filter(voided_at__isnull=True).count() == 2  # theirs untouched
