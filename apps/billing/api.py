"""Billing API for staff and partners with `billing:read` / `billing:write` scopes."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Model, QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.clinical.models import Encounter
from apps.organizations.access import object_or_404
from apps.organizations.idempotency import idempotent_post
from apps.organizations.pagination import ListPagination
from apps.organizations.rendering import OutputSerializer
from apps.patients import phi_reads
from apps.patients.models import Patient, PHIAccessLog
from config.openapi import body_variants

from . import selectors, services
from .codes import ISO_4217
from .metadata_formats import CHARGE_EXAMPLES, CHARGE_METADATA, PAYMENT_EXAMPLES, CreditMetadata
from .models import CREDIT_KINDS, EntryKind, InsurancePolicy, InsuranceType, LedgerEntry, PaymentStatus, TransactionType
from .permissions import INSTALLMENT_PLAN, INSURANCE_POLICY, LEDGER, PAYER, PROVIDER
from .selectors import AGING_BUCKETS

M = TypeVar("M", bound=Model)


@extend_schema_field(OpenApiTypes.INT)
class CentsField(serializers.Field):
    """A whole, positive number of cents given as a JSON integer (no floats, no strings, no fractions)."""

    default_error_messages = {"invalid": "Give a whole number of cents (a JSON integer).", "min": "Must be > 0."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        if data <= 0:
            self.fail("min")
        return int(data)

    def to_representation(self, value: int) -> int:
        return value


class BaseBillingApi(APIView):
    resource = LEDGER


class EntryOutput(OutputSerializer):
    id = serializers.UUIDField()
    patient_id = serializers.UUIDField()
    kind = serializers.CharField()
    transaction_type = serializers.CharField()
    payment_status = serializers.CharField()
    amount_cents = serializers.IntegerField()
    currency = serializers.CharField()
    metadata = serializers.JSONField()
    description = serializers.CharField()
    service_date = serializers.DateField()
    encounter_id = serializers.UUIDField(allow_null=True)
    claim_id = serializers.UUIDField(allow_null=True)
    external_reference = serializers.CharField()
    created_at = serializers.DateTimeField()

    def render(self, instance: Any, zone: dt.tzinfo | None) -> dict[str, Any]:
        """The one rendering of a ledger entry (lists, details, the entry inside payment and refund answers, and
        so their idempotent replays): a caller without PHI access gets the PHI fields withheld; a caller with it
        has the read marked for the PHI access log."""
        row = super().render(instance, zone)
        if isinstance(instance, LedgerEntry) and instance.carries_phi:
            if phi_reads.phi_visible():
                phi_reads.mark(record_type=PHIAccessLog.RecordType.LEDGER_ENTRY, patient_ids=[instance.patient_id])
            else:
                row.update(instance.redacted())
        return row


class EntryListApi(BaseBillingApi):
    pagination_class = ListPagination

    class EntryFilterInput(serializers.Serializer):
        patient = serializers.UUIDField(required=False)

    @extend_schema(
        parameters=[OpenApiParameter("patient", uuid.UUID)], responses=EntryOutput(many=True), summary="Ledger entries"
    )
    def get(self, request: Request) -> Response:
        filters = self.EntryFilterInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = self.pagination_class()
        entries = selectors.ledger_entry_list(patient_id=filters.validated_data.get("patient"))
        page = paginator.paginate_queryset(entries, request, view=self)
        return paginator.get_paginated_response(EntryOutput(page, many=True).data)


class EntryDetailApi(BaseBillingApi):
    @extend_schema(responses=EntryOutput, summary="A ledger entry")
    def get(self, request: Request, entry_id: uuid.UUID) -> Response:
        return Response(EntryOutput(object_or_404(selectors.ledger_entry_list(), entry_id)).data)


def _renamed(error: DjangoValidationError, renames: dict[str, str]) -> dict[str, Any]:
    """A service's field errors under the API's input names."""
    if not hasattr(error, "error_dict"):
        return {"non_field_errors": error.messages}
    return {renames.get(field, field): messages for field, messages in error.message_dict.items()}


def _known(
    queryset: QuerySet[M], pk: Any, *, field: str, noun: str, accept: Callable[[M], bool] = lambda row: True
) -> M:
    """The organization's row an input names by id, else a 400 on that input: "Unknown <noun>." Another
    organization's row is absent under RLS, so it answers the same as an id that never existed."""
    row = queryset.filter(pk=pk).first()
    if row is None or not accept(row):
        raise serializers.ValidationError({field: f"Unknown {noun}."})
    return row


class PaymentAllocationInput(serializers.Serializer):
    charge_id = serializers.UUIDField(help_text="A charge of the same patient.")
    amount_cents = CentsField(help_text="At most what the charge still owes.")


@extend_schema_field(PaymentAllocationInput(many=True))
class AllocationsField(serializers.ListField):
    """`[{charge_id, amount_cents}, ...]`: typed in the schema, each item checked by `_allocations` (naming it)."""

    child = serializers.DictField()


@extend_schema_field(CreditMetadata)
class CreditMetadataField(serializers.DictField):
    """A payment's, adjustment's or refund's metadata: typed in the schema, checked by `codes.credit_metadata`."""


def _patient(patient_id: uuid.UUID) -> Patient:
    return _known(Patient.objects.for_current_organization(), patient_id, field="patient_id", noun="patient")


def _allocations(items: list[dict[str, Any]]) -> list[services.Allocation]:
    """`[{charge_id, amount_cents}, ...]` as allocations to the organization's charges; errors name the item."""
    allocations = []
    for index, raw in enumerate(items):
        item = PaymentAllocationInput(data=raw)
        if not item.is_valid():
            raise serializers.ValidationError({f"allocations[{index}]": item.errors})
        charge = _known(
            selectors.ledger_entry_list(),
            item.validated_data["charge_id"],
            field=f"allocations[{index}].charge_id",
            noun="charge",
            accept=lambda entry: entry.kind == EntryKind.CHARGE,
        )
        allocations.append(services.Allocation(charge=charge, amount_cents=item.validated_data["amount_cents"]))
    return allocations


class ChargeCreateApi(BaseBillingApi):
    class ChargeInput(serializers.Serializer):
        patient_id = serializers.UUIDField()
        transaction_type = serializers.ChoiceField(choices=TransactionType.values)
        amount_cents = CentsField()
        currency = serializers.ChoiceField(choices=sorted(ISO_4217), default="USD")
        service_date = serializers.DateField(required=False)
        metadata = serializers.DictField(required=False, default=dict)
        description = serializers.CharField(max_length=200, required=False, default="")
        encounter_id = serializers.UUIDField(required=False, allow_null=True)
        insurance_policy_id = serializers.UUIDField(required=False, allow_null=True)

    @extend_schema(
        request=body_variants(
            ChargeInput,
            name="ChargeBody",
            field="transaction_type",
            variants={
                str(kind): {"metadata": metadata(required=False, help_text=f"The metadata of a {kind} charge.")}
                for kind, metadata in CHARGE_METADATA.items()
            },
        ),
        responses={201: EntryOutput},
        summary="Record a charge",
        description="A charge to a patient; `metadata` depends on `transaction_type` (each shape is documented): "
        "a clinical service carries its CPT code and ICD-10-CM diagnoses, a retail sale its SKU, a program "
        "enrollment its program. A key without PHI access may not record clinical metadata.",
        examples=CHARGE_EXAMPLES,
    )
    @idempotent_post
    def post(self, request: Request) -> Response:
        data = self.ChargeInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        patient = _patient(values.pop("patient_id"))
        policy_id = values.pop("insurance_policy_id", None)
        policy = None
        if policy_id is not None:
            policy = _known(
                InsurancePolicy.objects.for_current_organization(),
                policy_id,
                field="insurance_policy_id",
                noun="policy",
            )
        encounter_id = values.pop("encounter_id", None)
        encounter = None
        if encounter_id is not None:
            encounter = _known(
                Encounter.objects.for_current_organization(), encounter_id, field="encounter_id", noun="encounter"
            )
        try:
            entry = services.charge_create(patient=patient, insurance_policy=policy, encounter=encounter, **values)
        except DjangoValidationError as error:
            raise serializers.ValidationError(_renamed(error, {"encounter": "encounter_id"})) from None
        return Response(EntryOutput(entry).data, status=status.HTTP_201_CREATED)


class PaymentCreateApi(BaseBillingApi):
    class PaymentInput(serializers.Serializer):
        patient_id = serializers.UUIDField()
        kind = serializers.ChoiceField(choices=[str(k) for k in CREDIT_KINDS], default="payment")
        amount_cents = CentsField()
        currency = serializers.ChoiceField(choices=sorted(ISO_4217), default="USD")
        allocations = AllocationsField(required=False, default=list)
        allow_credit = serializers.BooleanField(default=False)
        transaction_type = serializers.ChoiceField(choices=TransactionType.values, required=False)
        metadata = CreditMetadataField(required=False, default=dict)
        external_reference = serializers.CharField(max_length=100, required=False, default="")
        received_on = serializers.DateField(required=False)

    @extend_schema(
        request=PaymentInput,
        responses={201: EntryOutput},
        summary="Post a payment, insurance payment or adjustment applied to charges",
        description="The amount is applied to the charges in `allocations`; what is left over is the patient's "
        "credit only with `allow_credit`.",
        examples=PAYMENT_EXAMPLES,
    )
    @idempotent_post
    def post(self, request: Request) -> Response:
        data = self.PaymentInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        patient = _patient(values.pop("patient_id"))
        allocations = _allocations(values.pop("allocations"))
        entry = services.payment_post(patient=patient, allocations=allocations, **values)
        return Response(EntryOutput(entry).data, status=status.HTTP_201_CREATED)


class AsOfInput(serializers.Serializer):
    as_of = serializers.DateField(required=False)

    def validate_as_of(self, value: dt.date) -> dt.date:
        if value > timezone.localdate():
            raise serializers.ValidationError("Must not be in the future.")
        return value


class BalanceOutput(OutputSerializer):
    currency = serializers.CharField()
    insurance_pending = serializers.IntegerField()
    patient_due = serializers.IntegerField()
    credit = serializers.IntegerField()
    net = serializers.IntegerField()


class PatientBalanceApi(BaseBillingApi):
    @extend_schema(
        parameters=[OpenApiParameter("as_of", dt.date)],
        responses=BalanceOutput(many=True),
        summary="A patient's balance per currency (insurance pending, patient due, credit)",
    )
    def get(self, request: Request, patient_id: uuid.UUID) -> Response:
        params = AsOfInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        patient = object_or_404(Patient.objects.for_current_organization(), patient_id)
        balances = selectors.balances(patient_id=patient.pk, as_of=params.validated_data.get("as_of"))
        return Response(BalanceOutput(list(balances.values()), many=True).data)


class AgingOutput(serializers.Serializer):
    currency = serializers.CharField()
    buckets = serializers.DictField(child=serializers.IntegerField())
    credit = serializers.IntegerField()
    total = serializers.IntegerField()


class AgingApi(BaseBillingApi):
    @extend_schema(
        parameters=[OpenApiParameter("as_of", dt.date)],
        responses=AgingOutput(many=True),
        summary=f"Outstanding charges by age ({', '.join(AGING_BUCKETS)}) as of a date",
    )
    def get(self, request: Request) -> Response:
        params = AsOfInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        report = selectors.aging(as_of=params.validated_data.get("as_of"))
        return Response(AgingOutput(list(report.values()), many=True).data)


class TotalsApi(BaseBillingApi):
    class TotalsOutput(serializers.Serializer):
        transaction_type = serializers.CharField()
        kind = serializers.CharField()
        payment_status = serializers.CharField()
        currency = serializers.CharField()
        count = serializers.IntegerField()
        amount_cents = serializers.IntegerField()

    @extend_schema(
        parameters=[OpenApiParameter("as_of", dt.date)],
        responses=TotalsOutput(many=True),
        summary="Organization totals by transaction type, kind, status and currency",
    )
    def get(self, request: Request) -> Response:
        params = AsOfInput(data=request.query_params)
        params.is_valid(raise_exception=True)
        return Response(
            self.TotalsOutput(selectors.organization_totals(as_of=params.validated_data.get("as_of")), many=True).data
        )


# --- installment plans -------------------------------------------------------------------------------------

# Program enrollments are not clinical: clinicians see no installment charge, so plans are for billing staff.
REMAINDER_RULE = (
    "The schedule always sums to the total: when it does not divide evenly, the remainder cents are added to "
    "the first installment (100001 in 4 -> 25001, 25000, 25000, 25000)."
)


class InstallmentOutput(OutputSerializer):
    id = serializers.UUIDField(help_text="The installment's ledger charge.")
    number = serializers.SerializerMethodField()
    due_date = serializers.DateField(source="service_date")
    amount_cents = serializers.IntegerField()
    outstanding_cents = serializers.IntegerField()
    currency = serializers.CharField()
    payment_status = serializers.CharField()

    def get_number(self, charge: Any) -> int:
        return int(charge.metadata["installment_number"])


class PlanOutput(OutputSerializer):
    id = serializers.UUIDField()
    patient_id = serializers.UUIDField()
    program = serializers.CharField()
    total_cents = serializers.IntegerField()
    currency = serializers.CharField()
    installment_count = serializers.IntegerField()
    first_due_date = serializers.DateField()
    interval_days = serializers.IntegerField()
    external_reference = serializers.CharField()
    remaining_cents = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class PlanDetailOutput(PlanOutput):
    installments = serializers.SerializerMethodField()

    @extend_schema_field(InstallmentOutput(many=True))
    def get_installments(self, plan: Any) -> Any:
        return InstallmentOutput(selectors.installment_schedule(plan=plan), many=True).data


def _plan_detail(plan_id: uuid.UUID) -> Response:
    return Response(PlanDetailOutput(object_or_404(selectors.installment_plan_list(), plan_id)).data)


class PlanListCreateApi(BaseBillingApi):
    pagination_class = ListPagination
    resource = INSTALLMENT_PLAN

    class PlanFilterInput(serializers.Serializer):
        patient = serializers.UUIDField(required=False)

    class PlanInput(serializers.Serializer):
        patient_id = serializers.UUIDField()
        program = serializers.CharField(max_length=200)
        total_cents = CentsField(help_text=REMAINDER_RULE)
        currency = serializers.ChoiceField(choices=sorted(ISO_4217), default="USD")
        installment_count = serializers.IntegerField(min_value=1, max_value=120)
        first_due_date = serializers.DateField()
        interval_days = serializers.IntegerField(min_value=1, max_value=366, default=30)
        external_reference = serializers.CharField(
            max_length=100, required=False, default="", help_text="The card processor's subscription id (stored)."
        )

    @extend_schema(
        parameters=[OpenApiParameter("patient", uuid.UUID)],
        responses=PlanOutput(many=True),
        summary="Installment plans with their remaining balance",
    )
    def get(self, request: Request) -> Response:
        filters = self.PlanFilterInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = self.pagination_class()
        plans = selectors.installment_plan_list(patient_id=filters.validated_data.get("patient"))
        page = paginator.paginate_queryset(plans, request, view=self)
        return paginator.get_paginated_response(PlanOutput(page, many=True).data)

    @extend_schema(
        request=PlanInput,
        responses={201: PlanDetailOutput},
        summary="Create an installment plan for a program enrollment (one ledger charge per installment)",
        description=REMAINDER_RULE,
    )
    @idempotent_post
    def post(self, request: Request) -> Response:
        data = self.PlanInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        patient = _patient(values.pop("patient_id"))
        plan = services.installment_plan_create(patient=patient, **values)
        response = _plan_detail(plan.pk)
        response.status_code = status.HTTP_201_CREATED
        return response


class PlanDetailApi(BaseBillingApi):
    resource = INSTALLMENT_PLAN

    @extend_schema(responses=PlanDetailOutput, summary="An installment plan: schedule and remaining balance")
    def get(self, request: Request, plan_id: uuid.UUID) -> Response:
        return _plan_detail(plan_id)


class InstallmentOutcomeApi(BaseBillingApi):
    resource = INSTALLMENT_PLAN

    class OutcomeInput(serializers.Serializer):
        succeeded = serializers.BooleanField()
        external_reference = serializers.CharField(
            max_length=100, help_text="The processor's payment id (stored, never called)."
        )
        amount_cents = CentsField(required=False, help_text="Defaults to what is still owed on the installment.")

    class OutcomeOutput(serializers.Serializer):
        payment = EntryOutput()
        plan = PlanDetailOutput()

    @extend_schema(
        request=OutcomeInput,
        responses={201: OutcomeOutput},
        summary="Record the card processor's outcome for one installment",
        description="Succeeded: a payment applied to the installment. Failed: a failed attempt is stored and the "
        "installment is marked `failed` (listed for follow-up) until it is paid.",
    )
    @idempotent_post
    def post(self, request: Request, plan_id: uuid.UUID, number: int) -> Response:
        plan = object_or_404(selectors.installment_plan_list(), plan_id)
        data = self.OutcomeInput(data=request.data)
        data.is_valid(raise_exception=True)
        charge = next(
            (c for c in selectors.installment_schedule(plan=plan) if c.metadata["installment_number"] == number),
            None,
        )
        if charge is None:
            raise serializers.ValidationError({"number": "No such installment in this plan."})
        payment = services.installment_payment_record(charge=charge, **data.validated_data)
        body = {
            "payment": EntryOutput(payment).data,
            "plan": PlanDetailOutput(selectors.installment_plan_list().get(pk=plan.pk)).data,
        }
        return Response(body, status=status.HTTP_201_CREATED)


class FailedInstallmentListApi(BaseBillingApi):
    pagination_class = ListPagination
    resource = INSTALLMENT_PLAN

    class FailedOutput(InstallmentOutput):
        plan_id = serializers.UUIDField(source="installment_plan_id")
        patient_id = serializers.UUIDField()

    @extend_schema(responses=FailedOutput(many=True), summary="Installments whose last payment failed (follow-up)")
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        applied = selectors.installment_outstanding(selectors.failed_installments())
        page = paginator.paginate_queryset(applied, request, view=self)
        return paginator.get_paginated_response(self.FailedOutput(page, many=True).data)


# --- payers, insurance policies, the billing provider ---------------------------------------------------------

# Payers and the provider are the practice's set-up: owner and billing staff change them.


class PayerOutput(OutputSerializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    payer_id = serializers.CharField(help_text="The payer's electronic id (837P loop 2010BB).")
    insurance_type = serializers.CharField(help_text="The coverage its claims name (837P SBR09), e.g. MB, MC, CI, BL.")
    created_at = serializers.DateTimeField()


class PayerListCreateApi(BaseBillingApi):
    resource = PAYER
    pagination_class = ListPagination

    class PayerInput(serializers.Serializer):
        name = serializers.CharField(max_length=60)
        payer_id = serializers.CharField(max_length=80)
        insurance_type = serializers.ChoiceField(
            choices=InsuranceType.choices,
            default=InsuranceType.COMMERCIAL,
            help_text="The coverage its claims name (837P SBR09): MB Medicare Part B, MC Medicaid, CI commercial, "
            "BL Blue Cross/Blue Shield, HM HMO, ...",
        )

    @extend_schema(responses=PayerOutput(many=True), summary="Payers (insurance companies)")
    def get(self, request: Request) -> Response:
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(selectors.payer_list().order_by("name", "id"), request, view=self)
        return paginator.get_paginated_response(PayerOutput(page, many=True).data)

    @extend_schema(request=PayerInput, responses={201: PayerOutput}, summary="Register a payer")
    @idempotent_post
    def post(self, request: Request) -> Response:
        data = self.PayerInput(data=request.data)
        data.is_valid(raise_exception=True)
        payer = services.payer_create(**data.validated_data)
        return Response(PayerOutput(payer).data, status=status.HTTP_201_CREATED)


class PayerDetailApi(BaseBillingApi):
    resource = PAYER

    @extend_schema(responses=PayerOutput, summary="A payer")
    def get(self, request: Request, payer_id: uuid.UUID) -> Response:
        return Response(PayerOutput(object_or_404(selectors.payer_list(), payer_id)).data)


class PolicyOutput(OutputSerializer):
    id = serializers.UUIDField()
    patient_id = serializers.UUIDField()
    payer = PayerOutput()
    member_id_masked = serializers.SerializerMethodField()
    group_number = serializers.CharField()
    subscriber_relationship = serializers.CharField()
    priority = serializers.CharField()
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()

    def get_member_id_masked(self, policy: InsurancePolicy) -> str:
        return policy.member_id_masked


class PolicyListCreateApi(BaseBillingApi):
    resource = INSURANCE_POLICY
    pagination_class = ListPagination

    class PolicyFilterInput(serializers.Serializer):
        patient = serializers.UUIDField(required=False)

    class PolicyInput(serializers.Serializer):
        patient_id = serializers.UUIDField()
        payer = serializers.UUIDField(help_text="The payer's id in Kura (see /billing/payers/).")
        member_id = serializers.CharField(
            max_length=80, write_only=True, help_text="Stored encrypted; shown masked in responses."
        )
        group_number = serializers.CharField(max_length=50, required=False, default="")
        subscriber_relationship = serializers.ChoiceField(
            choices=InsurancePolicy.Relationship.choices, default=InsurancePolicy.Relationship.SELF
        )
        subscriber_given_name = serializers.CharField(max_length=100, required=False, default="")
        subscriber_family_name = serializers.CharField(max_length=100, required=False, default="")
        priority = serializers.ChoiceField(
            choices=InsurancePolicy.Priority.choices, default=InsurancePolicy.Priority.PRIMARY
        )
        address_line1 = serializers.CharField(max_length=55)
        city = serializers.CharField(max_length=30)
        state = serializers.CharField(max_length=2)
        postal_code = serializers.CharField(max_length=9)

    @extend_schema(
        parameters=[OpenApiParameter("patient", uuid.UUID)],
        responses=PolicyOutput(many=True),
        summary="Insurance policies (member ids masked)",
    )
    def get(self, request: Request) -> Response:
        filters = self.PolicyFilterInput(data=request.query_params)
        filters.is_valid(raise_exception=True)
        paginator = self.pagination_class()
        policies = selectors.insurance_policy_list(patient_id=filters.validated_data.get("patient"))
        page = paginator.paginate_queryset(policies.order_by("created_at", "id"), request, view=self)
        return paginator.get_paginated_response(PolicyOutput(page, many=True).data)

    @extend_schema(request=PolicyInput, responses={201: PolicyOutput}, summary="Record a patient's insurance policy")
    @idempotent_post
    def post(self, request: Request) -> Response:
        data = self.PolicyInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        patient = _patient(values.pop("patient_id"))
        payer = _known(selectors.payer_list(), values.pop("payer"), field="payer", noun="payer")
        policy = services.insurance_policy_create(patient=patient, payer=payer, **values)
        return Response(PolicyOutput(policy).data, status=status.HTTP_201_CREATED)


class PolicyDetailApi(BaseBillingApi):
    resource = INSURANCE_POLICY

    @extend_schema(responses=PolicyOutput, summary="An insurance policy (member id masked)")
    def get(self, request: Request, policy_id: uuid.UUID) -> Response:
        return Response(PolicyOutput(object_or_404(selectors.insurance_policy_list(), policy_id)).data)


class ProviderOutput(OutputSerializer):
    id = serializers.UUIDField()
    legal_name = serializers.CharField()
    npi = serializers.CharField()
    tax_id = serializers.CharField()
    taxonomy_code = serializers.CharField()
    address_line1 = serializers.CharField()
    address_line2 = serializers.CharField()
    city = serializers.CharField()
    state = serializers.CharField()
    postal_code = serializers.CharField()
    phone = serializers.CharField()
    contact_name = serializers.CharField()
    rendering_given_name = serializers.CharField()
    rendering_family_name = serializers.CharField()
    rendering_npi = serializers.CharField()
    submitter_id = serializers.CharField()
    receiver_id = serializers.CharField()
    receiver_name = serializers.CharField()


class BillingProviderApi(BaseBillingApi):
    resource = PROVIDER

    class ProviderInput(serializers.Serializer):
        legal_name = serializers.CharField(max_length=60)
        npi = serializers.CharField(max_length=10, help_text="10 digits with a valid check digit (Luhn, prefix 80840).")
        tax_id = serializers.CharField(max_length=9)
        taxonomy_code = serializers.CharField(max_length=10)
        address_line1 = serializers.CharField(max_length=55)
        address_line2 = serializers.CharField(max_length=55, required=False, default="")
        city = serializers.CharField(max_length=30)
        state = serializers.CharField(max_length=2)
        postal_code = serializers.CharField(max_length=9)
        phone = serializers.CharField(max_length=10)
        contact_name = serializers.CharField(max_length=60)
        rendering_given_name = serializers.CharField(max_length=35, required=False, default="")
        rendering_family_name = serializers.CharField(max_length=60, required=False, default="")
        rendering_npi = serializers.CharField(max_length=10, required=False, default="")
        submitter_id = serializers.CharField(max_length=15)
        receiver_id = serializers.CharField(max_length=15)
        receiver_name = serializers.CharField(max_length=60)

    @extend_schema(responses=ProviderOutput, summary="The organization's billing provider")
    def get(self, request: Request) -> Response:
        provider = selectors.billing_provider()
        if provider is None:
            raise NotFound("No billing provider yet.")
        return Response(ProviderOutput(provider).data)

    @extend_schema(request=ProviderInput, responses=ProviderOutput, summary="Create or replace the billing provider")
    def put(self, request: Request) -> Response:
        data = self.ProviderInput(data=request.data)
        data.is_valid(raise_exception=True)
        return Response(ProviderOutput(services.billing_provider_save(**data.validated_data)).data)


# --- refunds and credit ---------------------------------------------------------------------------------------


def _credit_entry(entry_id: uuid.UUID, field: str) -> Any:
    entry = _known(
        selectors.ledger_entry_list(),
        entry_id,
        field=field,
        noun="payment",
        accept=lambda row: row.kind in (EntryKind.PAYMENT, EntryKind.INSURANCE_PAYMENT),
    )
    if entry.payment_status == PaymentStatus.FAILED:
        raise serializers.ValidationError({field: "A failed payment holds no money."})
    return entry


class RefundCreateApi(BaseBillingApi):
    class RefundInput(serializers.Serializer):
        payment_id = serializers.UUIDField()
        amount_cents = CentsField(help_text="At most the payment's unapplied credit.")
        metadata = CreditMetadataField(required=False, default=dict)
        external_reference = serializers.CharField(max_length=100, required=False, default="")

    @extend_schema(
        request=RefundInput,
        responses={201: EntryOutput},
        summary="Refund a payment's unapplied credit to the patient",
    )
    @idempotent_post
    def post(self, request: Request) -> Response:
        data = self.RefundInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        payment = _credit_entry(values.pop("payment_id"), "payment_id")
        refund = services.refund_create(payment=payment, **values)
        return Response(EntryOutput(refund).data, status=status.HTTP_201_CREATED)


class ApplicationOutput(OutputSerializer):
    id = serializers.UUIDField()
    source_id = serializers.UUIDField()
    target_id = serializers.UUIDField()
    amount_cents = serializers.IntegerField()
    created_at = serializers.DateTimeField()


class CreditApplyApi(BaseBillingApi):
    class CreditApplyInput(serializers.Serializer):
        credit_id = serializers.UUIDField(help_text="A payment with unapplied credit (the patient's prepayment).")
        allocations = AllocationsField(min_length=1)

    class CreditApplyOutput(serializers.Serializer):
        applications = ApplicationOutput(many=True)
        credit_remaining_cents = serializers.IntegerField()

    @extend_schema(
        request=CreditApplyInput,
        responses={201: CreditApplyOutput},
        summary="Apply a patient's credit (unapplied payment) to charges",
    )
    @idempotent_post
    def post(self, request: Request) -> Response:
        data = self.CreditApplyInput(data=request.data)
        data.is_valid(raise_exception=True)
        credit = _credit_entry(data.validated_data["credit_id"], "credit_id")
        applications = services.credit_apply(
            credit=credit, allocations=_allocations(data.validated_data["allocations"])
        )
        body = {
            "applications": ApplicationOutput(applications, many=True).data,
            "credit_remaining_cents": selectors.remaining_cents(credit),
        }
        return Response(body, status=status.HTTP_201_CREATED)
