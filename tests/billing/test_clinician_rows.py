"""Clinicians see clinical charges only, and only the application rows (and their history) of those charges.

Checked in the database as the runtime role: the ORM and plain SQL see the same rows.
"""

import pytest
from django.db import DatabaseError, connection, transaction

from apps.billing import services
from apps.billing.models import LedgerApplication, TransactionType
from apps.billing.services import Allocation
from apps.organizations.roles import Role
from tests.billing import factories as bf
from tests.conftest import as_tenant
from tests.factories import PatientFactory


def sql_count(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed table names from the test
        return int(cursor.fetchone()[0])


@pytest.fixture
def ledgers(org_a, org_b):
    """In each organization: a clinical and a retail charge, each paid in part; plus a refunded retail credit."""
    result = {}
    for org in (org_a, org_b):
        with as_tenant(org):
            patient = PatientFactory()
            clinical = bf.charge(patient, 2_000, transaction_type=TransactionType.CLINICAL_SERVICE)
            retail = bf.charge(patient, 1_000)
            clinical_pay = services.payment_post(
                patient=patient, amount_cents=500, allocations=[Allocation(charge=clinical, amount_cents=500)]
            )
            services.payment_post(
                patient=patient, amount_cents=300, allocations=[Allocation(charge=retail, amount_cents=300)]
            )
            credit = services.payment_post(
                patient=patient, amount_cents=900, allow_credit=True, transaction_type=TransactionType.RETAIL_PRODUCT
            )
            services.refund_create(payment=credit, amount_cents=100)
        result[org.slug] = {"patient": patient, "clinical": clinical, "retail": retail, "clinical_pay": clinical_pay}
    return result


def test_clinician_sees_only_clinical_application_rows(ledgers, org_a):
    with as_tenant(org_a, Role.CLINICIAN):
        rows = list(LedgerApplication.objects.values_list("source_id", "target_id", "amount_cents"))
        assert rows == [(ledgers["org-a"]["clinical_pay"].pk, ledgers["org-a"]["clinical"].pk, 500)]
        assert sql_count("billing_ledgerapplication") == 1
        assert sql_count("billing_historicalledgerapplication") == 1
        assert LedgerApplication.history.count() == 1


def test_billing_staff_still_see_every_application_of_their_organization_only(ledgers, org_a, org_b):
    with as_tenant(org_a, Role.BILLING):
        assert sql_count("billing_ledgerapplication") == 3
        assert sql_count("billing_historicalledgerapplication") == 3
        assert set(LedgerApplication.objects.values_list("target__patient_id", flat=True)) == {
            ledgers["org-a"]["patient"].pk
        }
    with as_tenant(org_b, Role.CLINICIAN):
        assert list(LedgerApplication.objects.values_list("target_id", flat=True)) == [ledgers["org-b"]["clinical"].pk]


def test_clinician_cannot_add_an_application_to_a_retail_charge(ledgers, org_a):
    retail = ledgers["org-a"]["retail"]
    with (
        as_tenant(org_a, Role.CLINICIAN),
        pytest.raises(DatabaseError),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO billing_ledgerapplication (id, organization_id, source_id, target_id, amount_cents, "
            "created_at, updated_at) SELECT gen_random_uuid(), organization_id, %s, %s, 1, now(), now() "
            "FROM billing_ledgerentry WHERE id = %s",
            [ledgers["org-a"]["clinical_pay"].pk, retail.pk, ledgers["org-a"]["clinical_pay"].pk],
        )
    with as_tenant(org_a, Role.BILLING):
        assert LedgerApplication.objects.filter(target=retail).count() == 1
