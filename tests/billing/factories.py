"""Billing factories: rows take their organization from the active tenant context."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpResponse
from django.test import Client

from apps.billing import services
from apps.billing.models import BillingProvider, InsurancePolicy, LedgerEntry, Payer, TransactionType
from apps.clinical import services as clinical_services
from apps.clinical.models import Encounter
from apps.patients.models import Patient
from tests.factories import PatientFactory

VALID_NPI = "1234567893"
CLINICAL_METADATA = {"cpt_code": "90837", "diagnosis_codes": ["F43.10"], "modifiers": ["95"], "units": 1}


# A complete billing provider, as the admin and the API take it.
PROVIDER_FIELDS: dict[str, Any] = {
    "legal_name": "Harbor Family Clinic LLC",
    "npi": VALID_NPI,
    "tax_id": "123456789",
    "taxonomy_code": "207Q00000X",
    "address_line1": "100 Harbor Way",
    "city": "Portland",
    "state": "OR",
    "postal_code": "972011234",
    "phone": "5035550100",
    "contact_name": "Billing Office",
    "rendering_given_name": "Dana",
    "rendering_family_name": "Reyes",
    "rendering_npi": "1245319599",
    "submitter_id": "KURA01",
    "receiver_id": "CLEARHOUSE",
    "receiver_name": "Example Clearinghouse",
}


def provider(**overrides: Any) -> BillingProvider:
    return services.billing_provider_save(**{**PROVIDER_FIELDS, **overrides})


def payer(name: str = "Acme Health", payer_id: str = "ACME1") -> Payer:
    return services.payer_create(name=name, payer_id=payer_id)


def policy(patient: Patient, the_payer: Payer, **overrides: Any) -> InsurancePolicy:
    return services.insurance_policy_create(
        patient=patient,
        payer=the_payer,
        member_id=overrides.pop("member_id", "XJ1234567"),
        address_line1=overrides.pop("address_line1", "12 Elm Street"),
        city=overrides.pop("city", "Portland"),
        state=overrides.pop("state", "OR"),
        postal_code=overrides.pop("postal_code", "97201"),
        **overrides,
    )


def charge(patient: Patient | None = None, amount_cents: int = 10_000, **overrides: Any) -> LedgerEntry:
    patient = patient or PatientFactory()
    transaction_type = overrides.pop("transaction_type", TransactionType.RETAIL_PRODUCT)
    metadata = overrides.pop(
        "metadata",
        CLINICAL_METADATA if transaction_type == TransactionType.CLINICAL_SERVICE else {"sku": "OIL-1", "quantity": 1},
    )
    if transaction_type == TransactionType.PROGRAM_ENROLLMENT and "metadata" not in overrides:
        metadata = {"program": "Retreat"}
    return services.charge_create(
        patient=patient,
        transaction_type=transaction_type,
        amount_cents=amount_cents,
        metadata=metadata,
        service_date=overrides.pop("service_date", dt.date(2025, 1, 15)),
        **overrides,
    )


def post(client: Client, path: str, body: Any, key: str | None = None) -> HttpResponse:
    """POST a JSON body, with an Idempotency-Key when one is given."""
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(path, data=body, content_type="application/json", **headers)


def encounter(patient: Patient, place: str = "11") -> Encounter:
    """An outpatient visit of the patient (place of service `place`), for charges and claims to name."""
    return clinical_services.encounter_create(
        patient=patient,
        encounter_type="outpatient",
        place_of_service=place,
        started_at=dt.datetime(2025, 1, 15, 10, tzinfo=dt.UTC),
    )
