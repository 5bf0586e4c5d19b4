"""A consent-gated partner reaches a patient's data only while the patient's data-sharing consent is valid; a
patient without one is as absent as a missing patient, in every app, for reads and writes alike. A partner
marked as not needing consent (the clinic's own services) reaches every patient."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from apps.billing.models import LedgerEntry
from apps.biomarkers.models import BiomarkerLog
from apps.clinical.models import ClinicalEvent, HealthEvent
from apps.clinical.timeline import services as timeline_services
from apps.organizations.models import Partner
from apps.organizations.roles import DataClassification
from apps.patients import services
from apps.patients.models import Consent, Patient, PatientScopedManager
from tests.billing import factories as bf
from tests.biomarkers.factories import BiomarkerLogFactory
from tests.conftest import api_client, as_tenant, issue_key
from tests.factories import ClinicalEventFactory, PatientFactory

SHARING = Consent.Type.DATA_SHARING


def _data(patient: Patient) -> None:
    """One row of each app for the patient: a clinical event, a mood, a reading out of range, a charge."""
    ClinicalEventFactory(patient=patient, data_classification=DataClassification.GENERAL_WELLNESS)
    timeline_services.health_event_record(
        patient=patient,
        event_type="mood",
        event_subtype="daily_checkin",
        event_data={"mood": "calm", "confidence": 7},
        occurred_at=timezone.now() - dt.timedelta(hours=2),
    )
    BiomarkerLogFactory(patient=patient, value_numeric=190.0, captured_at=timezone.now() - dt.timedelta(hours=3))
    bf.charge(patient, 2_500)


@pytest.fixture
def clinic(org_a, org_b) -> dict[str, Any]:
    long_ago = timezone.now() - dt.timedelta(days=400)
    with as_tenant(org_b):
        elsewhere = PatientFactory()
        services.consent_record(patient=elsewhere, consent_type=SHARING, granted=True)
        _data(elsewhere)
    with as_tenant(org_a):
        shared, expired, revoked, treatment_only, refused, none = PatientFactory.create_batch(6)
        services.consent_record(patient=shared, consent_type=SHARING, granted=True)
        services.consent_record(
            patient=expired, consent_type=SHARING, granted=True, granted_at=long_ago,
            expires_at=long_ago + dt.timedelta(days=30),
        )  # fmt: skip
        services.consent_revoke(consent=services.consent_record(patient=revoked, consent_type=SHARING, granted=True))
        services.consent_record(patient=treatment_only, consent_type=Consent.Type.TREATMENT, granted=True)
        services.consent_record(patient=refused, consent_type=SHARING, granted=False)
        for patient in (shared, expired, revoked, treatment_only, refused, none):
            _data(patient)
    gated = api_client(issue_key(org_a, phi_access=True, requires_patient_consent=True))
    exempt = api_client(issue_key(org_a, phi_access=True))
    return {
        "shared": shared,
        "hidden": [expired, revoked, treatment_only, refused, none],
        "all": {p.pk for p in (shared, expired, revoked, treatment_only, refused, none)},
        "elsewhere": elsewhere,
        "gated": gated,
        "exempt": exempt,
    }


def _ids(answer: Any, key: str = "patient_id") -> set[str]:
    assert answer.status_code == 200, answer.content
    body = answer.json()
    rows = body["results"] if isinstance(body, dict) else body
    return {row[key] for row in rows}


LISTS = [
    ("/api/v1/patients/?limit=100", "id"),
    ("/api/v1/clinical-events/?limit=100", "patient_id"),
    ("/api/v1/billing/entries/?limit=100", "patient_id"),
]


@pytest.mark.parametrize(("path", "key"), LISTS)
def test_lists_show_a_gated_partner_only_consenting_patients_and_the_exempt_one_everyone(clinic, path, key):
    assert _ids(clinic["gated"].get(path), key) == {str(clinic["shared"].pk)}
    assert _ids(clinic["exempt"].get(path), key) == {str(pk) for pk in clinic["all"]}


def test_out_of_reference_readings_too(clinic):
    start = (timezone.now() - dt.timedelta(days=1)).isoformat()
    path = "/api/v1/biomarkers/out-of-reference/"
    assert _ids(clinic["gated"].get(path, {"start": start})) == {str(clinic["shared"].pk)}
    assert _ids(clinic["exempt"].get(path, {"start": start})) == {str(pk) for pk in clinic["all"]}


PATIENT_PAGES = [
    "/api/v1/patients/{}/",
    "/api/v1/patients/{}/consents/",
    "/api/v1/patients/{}/health-events/",
    "/api/v1/biomarkers/patients/{}/latest/",
    "/api/v1/billing/patients/{}/balance/",
]


@pytest.mark.parametrize("page", PATIENT_PAGES)
def test_a_patient_without_valid_consent_answers_404_like_a_missing_one(clinic, page):
    assert clinic["gated"].get(page.format(clinic["shared"].pk)).status_code == 200
    for patient in [*clinic["hidden"], clinic["elsewhere"]]:
        answer = clinic["gated"].get(page.format(patient.pk))
        assert answer.status_code == 404
        assert str(patient.pk).encode() not in answer.content
        assert clinic["exempt"].get(page.format(patient.pk)).status_code == (
            404 if patient is clinic["elsewhere"] else 200
        )


def _counts(org) -> dict[str, int]:
    with as_tenant(org):
        return {
            "events": ClinicalEvent.objects.count(),
            "moods": HealthEvent.objects.count(),
            "readings": BiomarkerLog.objects.count(),
            "entries": LedgerEntry.objects.count(),
        }


def test_writes_naming_a_patient_without_consent_are_refused_and_store_nothing(clinic, org_a, org_b):
    none = clinic["hidden"][-1]
    before_a, before_b = _counts(org_a), _counts(org_b)
    gated = clinic["gated"]
    mood = {"event_type": "mood", "event_subtype": "daily_checkin", "event_data": {"mood": "calm", "confidence": 7},
            "occurred_at": timezone.now().isoformat()}  # fmt: skip
    reading = {"patient_id": str(none.pk), "source": "apple_health_kit", "source_reading_id": "x-1",
               "metric_type": "steps", "value_numeric": 100.0, "unit": "count",
               "captured_at": timezone.now().isoformat()}  # fmt: skip
    assert bf.post(gated, f"/api/v1/patients/{none.pk}/health-events/", mood).status_code == 404
    assert bf.post(gated, f"/api/v1/patients/{none.pk}/manual-entries/", {}).status_code == 404
    refused_reading = bf.post(gated, "/api/v1/biomarkers/readings/", {"readings": [reading]})
    assert refused_reading.status_code == 400
    assert "readings[0].patient_id" in refused_reading.json()["error"]["fields"]
    charge = {"patient_id": str(none.pk), "transaction_type": "retail_product", "amount_cents": 100,
              "metadata": {"sku": "OIL-1"}}  # fmt: skip
    refused_charge = bf.post(gated, "/api/v1/billing/charges/", charge)
    assert refused_charge.status_code == 400
    assert refused_charge.json()["error"]["fields"] == {"patient_id": ["Unknown patient."]}
    assert _counts(org_a) == before_a
    assert _counts(org_b) == before_b
    # The same writes for the consenting patient go through.
    shared = clinic["shared"].pk
    assert bf.post(gated, f"/api/v1/patients/{shared}/health-events/", mood).status_code == 201
    assert bf.post(gated, "/api/v1/billing/charges/", {**charge, "patient_id": str(shared)}).status_code == 201


def test_revoking_the_consent_closes_the_door_at_once(clinic, org_a):
    shared = clinic["shared"]
    assert clinic["gated"].get(f"/api/v1/patients/{shared.pk}/").status_code == 200
    with as_tenant(org_a):
        services.consent_revoke(consent=Consent.objects.get(patient=shared, consent_type=SHARING))
    assert clinic["gated"].get(f"/api/v1/patients/{shared.pk}/").status_code == 404
    assert _ids(clinic["gated"].get("/api/v1/patients/"), "id") == set()


def test_partners_need_consent_unless_marked_otherwise(org_a):
    with as_tenant(org_a):
        assert Partner(name="Oura").requires_patient_consent is True


def test_every_model_holding_a_patients_data_is_gated_by_its_default_manager():
    from django.apps import apps

    from apps.patients.models import PHIAccessLog

    holding = [
        model
        for model in apps.get_models()
        if model is Patient
        or any(
            getattr(field, "related_model", None) is Patient and field.name == "patient"
            for field in model._meta.concrete_fields
        )
    ]
    ungated = [
        model.__name__
        for model in holding
        if not isinstance(model._default_manager, PatientScopedManager)
        and model is not PHIAccessLog  # the log is the owners', never a partner's
        and not model.__name__.startswith("Historical")  # change history: staff pages only
    ]
    assert len(holding) > 15
    assert ungated == []
