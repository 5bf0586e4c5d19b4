"""The ledger: charges, payments, adjustments, refunds, statuses, and the database's refusals."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, ProgrammingError, connection, transaction

from apps.billing import selectors, services
from apps.billing.models import EntryKind, LedgerApplication, LedgerEntry, PaymentStatus, TransactionType
from apps.billing.services import Allocation
from apps.organizations.roles import Role
from tests.billing import factories as bf
from tests.conftest import as_tenant
from tests.factories import PatientFactory


@pytest.fixture
def clinic(org_a, org_b):
    """A retail charge in each organization."""
    data = {}
    for org in (org_a, org_b):
        with as_tenant(org):
            patient = PatientFactory(mrn="SAME-MRN")
            data[org.slug] = {"patient": patient, "charge": bf.charge(patient, 10_000)}
    return data


def test_payment_settles_charge_and_status_follows(clinic, org_a):
    with as_tenant(org_a):
        charge = clinic["org-a"]["charge"]
        services.payment_post(patient=charge.patient, amount_cents=4_000, allocations=[Allocation(charge, 4_000)])
        charge.refresh_from_db()
        assert charge.payment_status == PaymentStatus.PATIENT_DUE
        services.payment_post(patient=charge.patient, amount_cents=6_000, allocations=[Allocation(charge, 6_000)])
        charge.refresh_from_db()
        assert charge.payment_status == PaymentStatus.PAID
        assert selectors.patient_balance(patient_id=charge.patient_id).net == 0


def test_insurance_charge_pending_until_adjudicated_then_patient_due(org_a):
    with as_tenant(org_a):
        patient = PatientFactory()
        policy = bf.policy(patient, bf.payer())
        charge = bf.charge(patient, 20_000, transaction_type=TransactionType.CLINICAL_SERVICE, insurance_policy=policy)
        assert charge.payment_status == PaymentStatus.PENDING_INSURANCE
        assert selectors.patient_balance(patient_id=patient.pk).insurance_pending == 20_000
        services.payment_post(
            patient=patient,
            kind=EntryKind.INSURANCE_PAYMENT,
            amount_cents=12_000,
            allocations=[Allocation(charge, 12_000)],
        )
        services.payment_post(
            patient=patient,
            kind=EntryKind.ADJUSTMENT,
            amount_cents=5_000,
            allocations=[Allocation(charge, 5_000)],
            metadata={"reason_code": "CO-45"},
        )
        charge.refresh_from_db()
        balance = selectors.patient_balance(patient_id=patient.pk)
        assert charge.payment_status == PaymentStatus.PATIENT_DUE
        assert (balance.insurance_pending, balance.patient_due, balance.credit) == (0, 3_000, 0)
        statuses = list(charge.history.order_by("history_date").values_list("payment_status", flat=True))
        assert statuses == [PaymentStatus.PENDING_INSURANCE, PaymentStatus.PATIENT_DUE]


def test_prepayment_is_credit_and_refund_returns_it(org_a):
    with as_tenant(org_a):
        patient = PatientFactory()
        payment = services.payment_post(
            patient=patient,
            amount_cents=5_000,
            allow_credit=True,
            transaction_type=TransactionType.PROGRAM_ENROLLMENT,
        )
        assert selectors.patient_balance(patient_id=patient.pk).credit == 5_000
        services.refund_create(payment=payment, amount_cents=2_000)
        balance = selectors.patient_balance(patient_id=patient.pk)
        assert (balance.credit, balance.net) == (3_000, -3_000)
        with pytest.raises(ValidationError) as error:
            services.refund_create(payment=payment, amount_cents=3_001)
        assert "amount_cents" in error.value.message_dict


@pytest.mark.parametrize("amount", [0, -100, 10.5, "12"])
def test_non_positive_or_fractional_payments_rejected_nothing_stored(clinic, org_a, amount):
    with as_tenant(org_a):
        charge = clinic["org-a"]["charge"]
        with pytest.raises(ValidationError) as error:
            services.payment_post(patient=charge.patient, amount_cents=amount, allocations=[Allocation(charge, 100)])
        assert "amount_cents" in error.value.message_dict
        assert LedgerEntry.objects.count() == 1
        assert LedgerApplication.objects.count() == 0


def test_over_application_rejected(clinic, org_a):
    with as_tenant(org_a):
        charge = clinic["org-a"]["charge"]
        services.payment_post(patient=charge.patient, amount_cents=9_000, allocations=[Allocation(charge, 9_000)])
        with pytest.raises(ValidationError) as error:
            services.payment_post(patient=charge.patient, amount_cents=2_000, allocations=[Allocation(charge, 2_000)])
        assert "allocations" in error.value.message_dict
        assert LedgerEntry.objects.count() == 2


def test_overpayment_without_credit_flag_rejected(clinic, org_a):
    with as_tenant(org_a):
        charge = clinic["org-a"]["charge"]
        with pytest.raises(ValidationError) as error:
            services.payment_post(patient=charge.patient, amount_cents=12_000, allocations=[Allocation(charge, 10_000)])
        assert "amount_cents" in error.value.message_dict
        assert LedgerEntry.objects.count() == 1


def test_currency_mixing_rejected(clinic, org_a):
    with as_tenant(org_a):
        charge = clinic["org-a"]["charge"]
        with pytest.raises(ValidationError) as error:
            services.payment_post(
                patient=charge.patient, amount_cents=1_000, currency="EUR", allocations=[Allocation(charge, 1_000)]
            )
        assert "currency" in error.value.message_dict
        assert LedgerEntry.objects.count() == 1


def test_unknown_currency_rejected(org_a):
    with as_tenant(org_a):
        with pytest.raises(ValidationError) as error:
            bf.charge(currency="XYZ")
        assert "currency" in error.value.message_dict
        assert LedgerEntry.objects.count() == 0


def test_database_refuses_over_application_and_currency_mixing_directly(clinic, org_a):
    """Bypassing the service: the trigger still refuses."""
    with as_tenant(org_a):
        charge = clinic["org-a"]["charge"]
        payment = services.payment_post(
            patient=charge.patient, amount_cents=50_000, allow_credit=True, transaction_type=charge.transaction_type
        )
        with pytest.raises(IntegrityError, match="over-application"), transaction.atomic():
            LedgerApplication.objects.create(source=payment, target=charge, amount_cents=10_001)
        euro = bf.charge(charge.patient, 1_000, currency="EUR")
        with pytest.raises(IntegrityError, match="currencies differ"), transaction.atomic():
            LedgerApplication.objects.create(source=payment, target=euro, amount_cents=100)
        with pytest.raises(IntegrityError, match="amount_positive"), transaction.atomic():
            LedgerApplication.objects.create(source=payment, target=charge, amount_cents=0)
        assert LedgerApplication.objects.count() == 0


def _credit(patient, amount_cents):
    return services.payment_post(
        patient=patient, amount_cents=amount_cents, allow_credit=True, transaction_type=TransactionType.RETAIL_PRODUCT
    )


def test_the_guard_checks_an_insert_of_many_applications_as_a_whole(clinic, org_a, org_b):
    """Rows that each fit but together pass the charge's amount (or a credit's) refuse the whole statement; rows
    that fit add up on every entry they name, once each."""
    with as_tenant(org_a):
        charge = clinic["org-a"]["charge"]  # 10,000
        other = bf.charge(charge.patient, 3_000)
        first, second = _credit(charge.patient, 6_000), _credit(charge.patient, 6_000)
        for rows, refusal in [
            ([(first, charge, 6_000), (second, charge, 4_001)], "over-application"),
            ([(first, charge, 4_000), (first, other, 2_001)], "credit exhausted"),
        ]:
            with pytest.raises(IntegrityError, match=refusal), transaction.atomic():
                LedgerApplication.objects.bulk_create(
                    LedgerApplication(source=source, target=target, amount_cents=cents)
                    for source, target, cents in rows
                )
        assert LedgerApplication.objects.count() == 0
        LedgerApplication.objects.bulk_create(
            LedgerApplication(source=source, target=target, amount_cents=cents)
            for source, target, cents in [(first, charge, 5_000), (second, charge, 5_000), (first, other, 1_000)]
        )
        applied = dict(LedgerEntry.objects.values_list("id", "applied_cents"))
        assert applied == {charge.pk: 10_000, other.pk: 1_000, first.pk: 6_000, second.pk: 5_000}
        with pytest.raises(IntegrityError, match="over-application"), transaction.atomic():
            LedgerApplication.objects.create(source=second, target=charge, amount_cents=1)
    with as_tenant(org_b):
        assert list(LedgerEntry.objects.values_list("applied_cents", flat=True)) == [0]


def test_database_refuses_zero_and_negative_amounts(org_a):
    with as_tenant(org_a):
        patient = PatientFactory()
        for amount in (0, -5):
            with pytest.raises(IntegrityError, match="ledgerentry_amount_positive"), transaction.atomic():
                LedgerEntry.objects.create(
                    patient=patient,
                    kind=EntryKind.PAYMENT,
                    transaction_type=TransactionType.RETAIL_PRODUCT,
                    payment_status=PaymentStatus.PAID,
                    amount_cents=amount,
                    service_date=dt.date(2025, 1, 1),
                )


def test_database_refuses_an_application_naming_another_organizations_entries(clinic, org_a, org_b):
    """The guard runs as the owner, so it checks the organization itself: org B's entries stay untouched."""
    b_charge = clinic["org-b"]["charge"]
    with as_tenant(org_b):
        b_payment = services.payment_post(
            patient=b_charge.patient, amount_cents=500, allow_credit=True, transaction_type=b_charge.transaction_type
        )
    with as_tenant(org_a):
        a_charge = clinic["org-a"]["charge"]
        a_payment = services.payment_post(
            patient=a_charge.patient, amount_cents=500, allow_credit=True, transaction_type=a_charge.transaction_type
        )
        insert = (
            "INSERT INTO billing_ledgerapplication (id, organization_id, source_id, target_id, amount_cents, "
            "created_at, updated_at) VALUES (gen_random_uuid(), %s, %s, %s, 100, now(), now())"
        )
        # The guard refuses another organization's row before anything is read; the composite keys of the same
        # organization refuse an entry of another (before the statement's guard would).
        for organization, source, target, refusal in [
            (org_b.id, b_payment.pk, b_charge.pk, "unknown entry"),  # org B's row, written from org A
            (org_a.id, b_payment.pk, b_charge.pk, "source_id_same_org_fk"),  # org A's row naming org B's entries
            (org_a.id, a_payment.pk, b_charge.pk, "target_id_same_org_fk"),  # one entry of each
        ]:
            with (
                pytest.raises(IntegrityError, match=refusal),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(insert, [organization, source, target])
        assert LedgerApplication.objects.count() == 0
    with as_tenant(org_b):
        assert list(LedgerEntry.objects.order_by("kind").values_list("kind", "applied_cents")) == [
            ("charge", 0),
            ("payment", 0),
        ]


def test_runtime_role_cannot_update_amount_or_delete(clinic, org_a):
    with as_tenant(org_a):
        charge = clinic["org-a"]["charge"]
        payment = services.payment_post(
            patient=charge.patient, amount_cents=1_000, allocations=[Allocation(charge, 1_000)]
        )
        for statement, params in [
            ("UPDATE billing_ledgerentry SET amount_cents = 1 WHERE id = %s", [charge.pk]),
            ("UPDATE billing_ledgerentry SET currency = 'EUR' WHERE id = %s", [charge.pk]),
            ("UPDATE billing_ledgerapplication SET amount_cents = 1 WHERE source_id = %s", [payment.pk]),
            ("DELETE FROM billing_ledgerentry WHERE id = %s", [payment.pk]),
            ("DELETE FROM billing_ledgerapplication WHERE source_id = %s", [payment.pk]),
        ]:
            with (
                pytest.raises(ProgrammingError, match="permission denied"),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(statement, params)
        # The applied total changes only through the guard trigger (which runs as the owner): the runtime role
        # may not update it, nor create an entry that claims one.
        for statement in (
            "UPDATE billing_ledgerentry SET applied_cents = 0 WHERE id = %s",
            "UPDATE billing_ledgerentry SET applied_cents = amount_cents WHERE id = %s",
        ):
            with (
                pytest.raises(ProgrammingError, match="permission denied"),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(statement, [charge.pk])
        prepaid = bf.charge(charge.patient, 2_000)
        prepaid.pk = None
        prepaid.applied_cents = 2_000
        with (
            pytest.raises(ProgrammingError, match="applied_cents is kept by the application guard"),
            transaction.atomic(),
        ):
            prepaid.save(force_insert=True)
        charge.amount_cents = 1
        with pytest.raises(ProgrammingError, match="permission denied"), transaction.atomic():
            charge.save()
        charge.refresh_from_db()
        payment.refresh_from_db()
        assert (charge.amount_cents, charge.applied_cents) == (10_000, 1_000)
        assert (payment.amount_cents, payment.applied_cents) == (1_000, 1_000)
        assert LedgerApplication.objects.get(source=payment).amount_cents == 1_000


def test_status_column_is_updatable_and_recorded_in_history(clinic, org_a):
    with as_tenant(org_a):
        charge = clinic["org-a"]["charge"]
        services.payment_post(patient=charge.patient, amount_cents=10_000, allocations=[Allocation(charge, 10_000)])
        assert list(charge.history.order_by("history_date").values_list("payment_status", flat=True)) == [
            PaymentStatus.PATIENT_DUE,
            PaymentStatus.PAID,
        ]


def test_second_organization_cannot_see_or_settle_first(clinic, org_a, org_b):
    b_charge = clinic["org-b"]["charge"]
    with as_tenant(org_a):
        assert set(LedgerEntry.objects.values_list("organization_id", flat=True)) == {org_a.id}
        assert not LedgerEntry.objects.filter(pk=b_charge.pk).exists()
        patient = clinic["org-a"]["patient"]
        with pytest.raises(ValidationError) as error:
            services.payment_post(patient=patient, amount_cents=100, allocations=[Allocation(b_charge, 100)])
        assert "allocations" in error.value.message_dict
        assert selectors.patient_balance(patient_id=b_charge.patient_id).net == 0
    with as_tenant(org_b):
        assert selectors.patient_balance(patient_id=b_charge.patient_id).patient_due == 10_000
        assert LedgerApplication.objects.count() == 0


@pytest.mark.parametrize("role", [Role.COACH])
def test_coach_sees_no_billing_rows(clinic, org_a, role):
    with as_tenant(org_a, role):
        assert LedgerEntry.objects.count() == 0
        assert selectors.balances() == {}
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM billing_ledgerentry")
            assert cursor.fetchone() == (0,)


def test_coach_cannot_insert_billing_rows(clinic, org_a):
    with (
        as_tenant(org_a, Role.COACH),
        pytest.raises(ProgrammingError, match="row-level security"),
        transaction.atomic(),
    ):
        bf.charge(clinic["org-a"]["patient"])


def test_clinician_sees_only_clinical_entries(org_a):
    with as_tenant(org_a):
        patient = PatientFactory()
        bf.charge(patient, 1_000)
        clinical = bf.charge(patient, 2_000, transaction_type=TransactionType.CLINICAL_SERVICE)
    with as_tenant(org_a, Role.CLINICIAN):
        assert list(LedgerEntry.objects.values_list("id", flat=True)) == [clinical.pk]


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        ({"cpt_code": "9083", "diagnosis_codes": ["F43.10"]}, "metadata.cpt_code"),
        ({"cpt_code": "90837", "diagnosis_codes": ["43.10"]}, "metadata.diagnosis_codes"),
        ({"cpt_code": "90837", "diagnosis_codes": ["F43.10"], "modifiers": ["9"]}, "metadata.modifiers"),
        (
            {"cpt_code": "90837", "diagnosis_codes": ["F43.10"], "diagnosis_pointers": [2]},
            "metadata.diagnosis_pointers",
        ),
        ({"cpt_code": "90837", "diagnosis_codes": ["F43.10"], "units": 0}, "metadata.units"),
        ({"cpt_code": "90837", "diagnosis_codes": ["F43.10"], "colour": "red"}, "metadata"),
    ],
)
def test_malformed_clinical_metadata_rejected(org_a, metadata, field):
    with as_tenant(org_a):
        with pytest.raises(ValidationError) as error:
            bf.charge(transaction_type=TransactionType.CLINICAL_SERVICE, metadata=metadata)
        assert field in error.value.message_dict
        assert LedgerEntry.objects.count() == 0


def test_credit_is_applied_to_a_later_charge(org_a):
    with as_tenant(org_a):
        patient = PatientFactory()
        deposit = services.payment_post(
            patient=patient, amount_cents=5_000, allow_credit=True, transaction_type=TransactionType.RETAIL_PRODUCT
        )
        charge = bf.charge(patient, 3_000)
        services.credit_apply(credit=deposit, allocations=[Allocation(charge, 3_000)])
        charge.refresh_from_db()
        balance = selectors.patient_balance(patient_id=patient.pk)
        assert charge.payment_status == PaymentStatus.PAID
        assert (balance.patient_due, balance.credit) == (0, 2_000)
        other = bf.charge(patient, 9_000)
        with pytest.raises(ValidationError) as error:
            services.credit_apply(credit=deposit, allocations=[Allocation(other, 2_001)])
        assert "allocations" in error.value.message_dict
        assert LedgerApplication.objects.filter(target=other).count() == 0


def test_tenant_rls_operation_keeps_old_deconstruction_and_adds_roles_only_when_given():
    from apps.organizations.rls import EnableTenantRLS

    assert EnableTenantRLS("patient").deconstruct() == (
        "EnableTenantRLS",
        ["patient"],
        {"org_column": "organization_id", "classified": False},
    )
    assert EnableTenantRLS("payer", roles=("owner", "billing")).deconstruct()[2]["roles"] == ("owner", "billing")


BILLING_DB_ROLES = ("owner", "billing", "front_desk", "clinician", "partner", "partner_phi")


def test_tenant_policy_of_every_billing_table_admits_only_the_billing_roles(db):
    """One policy says both rules (migration 0006): the organization, and only for the billing roles."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, permissive, qual, with_check FROM pg_policies "
            "WHERE tablename LIKE 'billing%%' AND policyname = 'tenant_isolation' ORDER BY tablename"
        )
        policies = cursor.fetchall()
        cursor.execute("SELECT count(*) FROM pg_policies WHERE policyname = 'role_restriction'")
        assert cursor.fetchone() == (0,)
    tables = [row[0] for row in policies]
    assert "billing_ledgerentry" in tables
    assert "billing_historicalledgerentry" in tables
    assert "billing_insurancepolicy" in tables
    # 16 tables and their history (idempotency records moved out in migration 0007; claim lines and clearinghouse
    # files came with the claim lifecycle, the clearinghouse connection with the SFTP exchange, the remittance
    # lines and the denial, unmatched and provider-adjustment queues with 835 posting, eligibility checks with
    # the 270/271 exchange, the interchange control number counter without one)
    assert len(tables) == 33
    assert {
        "billing_eligibilitycheck",
        "billing_interchangecounter",
        "billing_remittanceline",
        "billing_denial",
        "billing_unmatchedremittance",
        "billing_provideradjustment",
    } <= set(tables)
    assert {"billing_claimline", "billing_clearinghousefile", "billing_historicalclaimline"} <= set(tables)
    # The clearinghouse connection (its SFTP account and key) is for owner and billing alone.
    connection_tables = {"billing_clearinghouseconnection", "billing_historicalclearinghouseconnection"}
    assert connection_tables <= set(tables)
    for table, permissive, qual, with_check in policies:
        assert permissive == "PERMISSIVE"
        assert qual == with_check
        assert "kura_current_org_for_roles" in qual
        admitted = ("owner", "billing") if table in connection_tables else BILLING_DB_ROLES
        for role in BILLING_DB_ROLES:
            assert (f"'{role}'" in qual) == (role in admitted), (table, role)
        assert "coach" not in qual


def test_the_clinician_rule_compares_the_role_once_per_statement(db):
    """Migration 0008: the role comparison sits inside the sub-select (an InitPlan), not in every row's filter."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, qual, with_check FROM pg_policies WHERE policyname = 'clinician_clinical_only' "
            "ORDER BY tablename"
        )
        policies = cursor.fetchall()
    assert [row[0] for row in policies] == [
        "billing_historicalledgerapplication",
        "billing_historicalledgerentry",
        "billing_ledgerapplication",
        "billing_ledgerentry",
    ]
    for _, qual, with_check in policies:
        assert qual == with_check
        assert qual.startswith("(( SELECT (kura_current_role() IS DISTINCT FROM 'clinician'::text)) OR ")
