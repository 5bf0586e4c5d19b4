"""The runtime connection runs repeated statements as prepared statements, and a reused plan still reads the
tenant from each transaction's context (the policies evaluate `kura_current_org()` at execution, not at planning).
"""

from django.conf import settings
from django.db import connection

from apps.patients.models import Patient
from apps.patients.selectors import patient_list
from tests.conftest import as_tenant
from tests.factories import PatientFactory

PREPARED_PATIENT_STATEMENTS = (
    "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%%FROM \"patients_patient\"%%'"
)


def visible_organizations() -> set[object]:
    return set(patient_list().values_list("organization_id", flat=True))


def test_runtime_connection_prepares_statements_by_default():
    options = settings.DATABASES["default"]["OPTIONS"]
    assert options["server_side_binding"] is True
    assert options["prepare_threshold"] == 5


def test_a_prepared_statement_reused_for_another_tenant_returns_that_tenants_rows(org_a, org_b):
    with as_tenant(org_a):
        PatientFactory.create_batch(2)
    with as_tenant(org_b):
        PatientFactory()
    with connection.cursor() as cursor:
        cursor.execute(PREPARED_PATIENT_STATEMENTS)
        assert cursor.fetchone() == (0,)
    for _ in range(6):
        with as_tenant(org_a):
            assert visible_organizations() == {org_a.id}
    with connection.cursor() as cursor:
        cursor.execute(PREPARED_PATIENT_STATEMENTS)
        assert cursor.fetchone()[0] >= 1
    # The same prepared statement, now in org B's transaction, and then with no tenant at all.
    with as_tenant(org_b):
        assert visible_organizations() == {org_b.id}
        assert Patient.objects.count() == 1
    assert visible_organizations() == set()
