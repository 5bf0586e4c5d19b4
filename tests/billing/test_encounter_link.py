"""Clinical charges link to a real clinical encounter of the same patient (composite key in the database)."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from apps.billing import x12
from apps.billing.models import EntryKind, LedgerEntry, PaymentStatus, TransactionType
from tests.billing import factories as bf
from tests.conftest import api_client, as_tenant, issue_key
from tests.factories import PatientFactory

CLINICAL = TransactionType.CLINICAL_SERVICE


@pytest.fixture
def clinics(org_a, org_b):
    data = {}
    for org in (org_a, org_b):
        with as_tenant(org):
            patient, sibling = PatientFactory(), PatientFactory()
            data[org.slug] = {
                "org": org,
                "patient": patient,
                "encounter": bf.encounter(patient, place="10"),
                "sibling_encounter": bf.encounter(sibling),
                "client": api_client(issue_key(org, scopes=["billing:read", "billing:write"], phi_access=True)),
            }
    return data


def charge_body(clinic, encounter_id, **change):
    return {
        "patient_id": str(clinic["patient"].pk),
        "transaction_type": "clinical_service",
        "amount_cents": 15_000,
        "metadata": {"cpt_code": "90837", "diagnosis_codes": ["F43.10"]},
        "encounter_id": str(encounter_id),
        **change,
    }


def charges(org):
    with as_tenant(org):
        return LedgerEntry.objects.filter(kind=EntryKind.CHARGE).count()


def test_charge_links_to_the_encounter_and_takes_its_place_of_service(clinics):
    a = clinics["org-a"]
    response = a["client"].post(
        "/api/v1/billing/charges/", charge_body(a, a["encounter"].pk), content_type="application/json"
    )
    assert response.status_code == 201
    assert response.json()["encounter_id"] == str(a["encounter"].pk)
    assert response.json()["metadata"]["place_of_service"] == "10"
    with as_tenant(a["org"]):
        assert list(a["encounter"].ledger_entries.values_list("amount_cents", flat=True)) == [15_000]


@pytest.mark.parametrize(
    ("which", "change"),
    [
        ("sibling", {}),  # another patient's encounter in the same organization
        ("other_org", {}),  # another organization's encounter
        ("own", {"transaction_type": "retail_product", "metadata": {"sku": "OIL-1", "quantity": 1}}),
        ("missing", {}),
    ],
)
def test_wrong_encounter_is_400_naming_encounter_id(clinics, which, change):
    a, b = clinics["org-a"], clinics["org-b"]
    encounter_id = {
        "sibling": a["sibling_encounter"].pk,
        "other_org": b["encounter"].pk,
        "own": a["encounter"].pk,
        "missing": "00000000-0000-0000-0000-000000000000",
    }[which]
    response = a["client"].post(
        "/api/v1/billing/charges/", charge_body(a, encounter_id, **change), content_type="application/json"
    )
    assert response.status_code == 400
    assert "encounter_id" in response.json()["error"]["fields"]
    assert (charges(a["org"]), charges(b["org"])) == (0, 0)


def test_service_refuses_another_patients_encounter(clinics):
    a = clinics["org-a"]
    with as_tenant(a["org"]):
        with pytest.raises(ValidationError) as error:
            bf.charge(a["patient"], transaction_type=CLINICAL, encounter=a["sibling_encounter"])
        assert "encounter" in error.value.message_dict
        assert LedgerEntry.objects.count() == 0


def test_database_refuses_a_charge_naming_another_patients_encounter(clinics):
    """Bypassing the service: the composite key (encounter_id, patient_id) stops it as the runtime role."""
    a = clinics["org-a"]
    with as_tenant(a["org"]):
        entry = LedgerEntry(
            patient=a["patient"],
            kind=EntryKind.CHARGE,
            transaction_type=CLINICAL,
            payment_status=PaymentStatus.PATIENT_DUE,
            amount_cents=100,
            service_date=dt.date(2025, 1, 15),
            encounter_id=a["sibling_encounter"].pk,
        )
        with pytest.raises(IntegrityError, match="ledgerentry_encounter_same_patient_fk"), transaction.atomic():
            entry.save()
        entry.encounter_id = clinics["org-b"]["encounter"].pk
        with pytest.raises(IntegrityError, match="ledgerentry_encounter_same_patient_fk"), transaction.atomic():
            entry.save()
        assert LedgerEntry.objects.count() == 0


def test_runtime_role_cannot_move_a_charge_to_another_encounter(clinics):
    a = clinics["org-a"]
    with as_tenant(a["org"]):
        charge = bf.charge(a["patient"], transaction_type=CLINICAL, encounter=a["encounter"])
        second = bf.encounter(a["patient"])
        charge.encounter = second
        with pytest.raises(Exception, match="permission denied"), transaction.atomic():
            charge.save(update_fields=["encounter"])
        assert LedgerEntry.objects.get(pk=charge.pk).encounter_id == a["encounter"].pk


def test_claim_batch_links_claims_to_encounters(clinics):
    a = clinics["org-a"]
    with as_tenant(a["org"]):
        bf.provider()
        policy = bf.policy(a["patient"], bf.payer())
        bf.charge(a["patient"], transaction_type=CLINICAL, insurance_policy=policy, encounter=a["encounter"])
        bf.charge(a["patient"], transaction_type=CLINICAL, insurance_policy=policy, encounter=a["encounter"])
        bf.charge(a["patient"], transaction_type=CLINICAL, insurance_policy=policy)
        batch = x12.claim_batch_export()
        assert batch is not None
        assert sorted((c.encounter_id is None, c.charges.count()) for c in batch.claims.all()) == [
            (False, 2),
            (True, 1),
        ]
