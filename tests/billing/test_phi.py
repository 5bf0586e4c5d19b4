"""Billing rows carrying diagnoses or an encounter link are PHI: withheld from callers without PHI access, and
every read of them by a caller with it is in the PHI access log (API, documents, 837P, dashboard, ledger page)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command

from apps.billing.models import Claim, ClaimBatch, TransactionType
from apps.organizations.roles import DataClassification, Role
from apps.patients.models import PHIAccessLog
from tests.billing import factories as bf
from tests.conftest import add_member, api_client, as_tenant, issue_key, logged_in, make_organization, phi_access_log
from tests.factories import PatientFactory

CLINICAL = TransactionType.CLINICAL_SERVICE
DIAGNOSED = {"cpt_code": "90834", "diagnosis_codes": ["F41.1"], "diagnosis_pointers": [1]}
DESCRIPTION = "Psychotherapy, generalized anxiety"


@pytest.fixture
def ledger(org_a, org_b):
    """Org A: a patient with an F41.1 charge linked to a CLINICAL_PHI encounter, and a retail sale."""
    with as_tenant(org_b):
        other = PatientFactory()
        bf.charge(other, 7_000, transaction_type=CLINICAL, metadata=DIAGNOSED, encounter=bf.encounter(other))
    with as_tenant(org_a):
        bf.provider()
        patient = PatientFactory()
        visit = bf.encounter(patient)
        assert visit.data_classification == DataClassification.CLINICAL_PHI
        diagnosed = bf.charge(
            patient,
            12_000,
            transaction_type=CLINICAL,
            metadata=DIAGNOSED,
            description=DESCRIPTION,
            encounter=visit,
            insurance_policy=bf.policy(patient, bf.payer()),
            service_date=dt.date(2025, 2, 10),
        )
        retail = bf.charge(patient, 3_000)
    return {"patient": patient, "visit": visit, "diagnosed": diagnosed, "retail": retail, "other": other}


def _entry(rows, entry_id):
    return next(row for row in rows if row["id"] == str(entry_id))


def test_a_key_without_phi_access_gets_no_diagnosis_description_or_encounter(ledger, org_a, org_b):
    client = api_client(issue_key(org_a, phi_access=False))
    listed = client.get("/api/v1/billing/entries/")
    detail = client.get(f"/api/v1/billing/entries/{ledger['diagnosed'].pk}/")
    assert listed.status_code == detail.status_code == 200
    for answer in (listed, detail):
        assert b"F41.1" not in answer.content
        assert DESCRIPTION.encode() not in answer.content
        assert str(ledger["visit"].pk).encode() not in answer.content
    row = _entry(listed.json()["results"], ledger["diagnosed"].pk)
    assert row["metadata"] == {"cpt_code": "90834", "modifiers": [], "units": 1, "place_of_service": "11"}
    assert (row["description"], row["encounter_id"]) == ("", None)
    assert detail.json() == row
    # The retail sale carries no PHI and is shown whole.
    assert _entry(listed.json()["results"], ledger["retail"].pk)["metadata"] == {
        "sku": "OIL-1",
        "product_name": "",
        "quantity": 1,
    }
    assert client.get(f"/api/v1/encounters/{ledger['visit'].pk}/").status_code == 404
    assert phi_access_log(org_a) == []
    assert phi_access_log(org_b) == []


@pytest.mark.parametrize("caller", ["phi_key", "owner", "billing"])
def test_a_phi_caller_gets_the_diagnoses_and_the_read_is_logged(ledger, org_a, org_b, caller):
    if caller == "phi_key":
        client = api_client(issue_key(org_a, phi_access=True))
    else:
        client = logged_in(add_member(org_a, Role.OWNER if caller == "owner" else Role.BILLING))
    listed = client.get("/api/v1/billing/entries/")
    row = _entry(listed.json()["results"], ledger["diagnosed"].pk)
    assert row["metadata"]["diagnosis_codes"] == ["F41.1"]
    assert (row["description"], row["encounter_id"]) == (DESCRIPTION, str(ledger["visit"].pk))
    detail = client.get(f"/api/v1/billing/entries/{ledger['diagnosed'].pk}/")
    assert detail.json() == row
    patient = ledger["patient"].pk
    assert phi_access_log(org_a) == [
        (patient, "ledger_entry", 1, "/api/v1/billing/entries/"),
        (patient, "ledger_entry", 1, f"/api/v1/billing/entries/{ledger['diagnosed'].pk}/"),
    ]
    assert phi_access_log(org_b) == []


def test_a_charge_answer_follows_the_same_rule(ledger, org_a):
    body = {
        "patient_id": str(ledger["patient"].pk),
        "transaction_type": "clinical_service",
        "amount_cents": 5_000,
        "metadata": DIAGNOSED,
        "description": DESCRIPTION,
    }
    plain = bf.post(api_client(issue_key(org_a, phi_access=False)), "/api/v1/billing/charges/", body)
    assert plain.status_code == 201
    assert b"F41.1" not in plain.content
    assert phi_access_log(org_a) == []
    phi = bf.post(api_client(issue_key(org_a, phi_access=True)), "/api/v1/billing/charges/", body)
    assert phi.json()["metadata"]["diagnosis_codes"] == ["F41.1"]
    assert phi_access_log(org_a) == [(ledger["patient"].pk, "ledger_entry", 1, "/api/v1/billing/charges/")]


def test_superbill_statement_ledger_page_and_dashboard_reads_are_logged(ledger, org_a, org_b):
    client = logged_in(add_member(org_a, Role.BILLING))
    patient = ledger["patient"].pk
    base = f"/admin/billing/ledgerentry/patient/{patient}"
    pages = {
        "superbill": f"{base}/superbill/",
        "statement": f"{base}/statement/",
        "ledger": f"{base}/",
        "dashboard": "/admin/billing/ledgerentry/dashboard/",
    }
    for path in pages.values():
        assert client.get(path, {"from": "2025-02-01", "to": "2025-02-28"}).status_code == 200
    assert phi_access_log(org_a) == [
        (patient, "billing_document", 1, pages["superbill"]),
        (patient, "billing_document", 1, pages["statement"]),
        (patient, "ledger_entry", 1, pages["ledger"]),
        (patient, "ledger_entry", 1, pages["dashboard"]),
    ]
    # Another organization's patient: 404, nothing logged anywhere.
    assert client.get(f"/admin/billing/ledgerentry/patient/{ledger['other'].pk}/superbill/").status_code == 404
    assert len(phi_access_log(org_a)) == 4
    assert phi_access_log(org_b) == []


def test_the_837p_admin_action_and_the_ledger_entry_page_are_logged(ledger, org_a, org_b):
    client = logged_in(add_member(org_a, Role.BILLING))
    patient, entry = ledger["patient"].pk, ledger["diagnosed"].pk
    exported = client.post("/admin/billing/ledgerentry/", {"action": "export_837p", "_selected_action": [str(entry)]})
    assert exported.status_code == 200
    assert b"F411" in exported.content
    page = client.get(f"/admin/billing/ledgerentry/{entry}/change/")
    assert page.status_code == 200
    assert phi_access_log(org_a) == [
        (patient, "claim_file", 1, "/admin/billing/ledgerentry/"),
        (patient, "ledger_entry", 1, f"/admin/billing/ledgerentry/{entry}/change/"),
    ]
    assert phi_access_log(org_b) == []


@pytest.mark.usefixtures("committed")
def test_the_837p_command_logs_each_patient_on_the_file(tmp_path):
    org, other_org = make_organization("cmd-org"), make_organization("cmd-other")
    with as_tenant(org):
        bf.provider()
        patient = PatientFactory()
        the_policy = bf.policy(patient, bf.payer())
        for _ in range(2):
            bf.charge(patient, 5_000, transaction_type=CLINICAL, insurance_policy=the_policy, metadata=DIAGNOSED)
    call_command("export_837p", "--org", "cmd-org", "--out", str(tmp_path / "claims.x12"))
    assert phi_access_log(org) == [(patient.pk, "claim_file", 2, "manage.py export_837p")]
    with as_tenant(org):
        assert PHIAccessLog.objects.get().role == Role.BILLING
    assert phi_access_log(other_org) == []


def test_the_claim_file_and_claim_pages_are_logged_and_the_file_list_is_not(ledger, org_a, org_b):
    client = logged_in(add_member(org_a, Role.BILLING))
    patient = ledger["patient"].pk
    exported = client.post(
        "/admin/billing/ledgerentry/", {"action": "export_837p", "_selected_action": [str(ledger["diagnosed"].pk)]}
    )
    assert exported.status_code == 200
    with as_tenant(org_a):
        batch = ClaimBatch.objects.get()
        claim = Claim.objects.get()
    pages = [
        "/admin/billing/claimbatch/",
        f"/admin/billing/claimbatch/{batch.pk}/change/",
        f"/admin/billing/claimbatch/{batch.pk}/download/",
        f"/admin/billing/claim/{claim.pk}/change/",
    ]
    for path in pages:
        assert client.get(path).status_code == 200
    assert phi_access_log(org_a)[1:] == [(patient, "claim_file", 1, path) for path in pages[1:]]
    assert phi_access_log(org_b) == []
