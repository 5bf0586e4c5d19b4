"""Billing API for staff and partners with `billing:read` / `billing:write` scopes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.organizations.access import object_or_404
from apps.organizations.pagination import BoundedLimitOffsetPagination
from apps.organizations.roles import Role
from apps.patients.models import Patient

from . import selectors, services
from .codes import ISO_4217
from .idempotency import idempotent
from .models import CREDIT_KINDS, InsurancePolicy, TransactionType
from .selectors import AGING_BUCKETS

READ_ROLES = frozenset({Role.OWNER.value, Role.BILLING.value, Role.FRONT_DESK.value, Role.CLINICIAN.value})
WRITE_ROLES = frozenset({Role.OWNER.value, Role.BILLING.value, Role.FRONT_DESK.value})
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER, description="Repeat-safe key: the same key creates one entry."
)


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
    api_scope = "billing"
    read_roles = READ_ROLES
    write_roles = WRITE_ROLES


class EntryOutput(serializers.Serializer):
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
    encounter_ref = serializers.UUIDField(allow_null=True)
    claim_id = serializers.UUIDField(allow_null=True)
    external_reference = serializers.CharField()
    created_at = serializers.DateTimeField()


class EntryListApi(BaseBillingApi):
    pagination_class = BoundedLimitOffsetPagination

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


def _patient(patient_id: uuid.UUID) -> Patient:
    patient = Patient.objects.for_current_organization().filter(pk=patient_id).first()
    if patient is None:
        raise serializers.ValidationError({"patient_id": "Unknown patient."})
    return patient


class ChargeCreateApi(BaseBillingApi):
    class ChargeInput(serializers.Serializer):
        patient_id = serializers.UUIDField()
        transaction_type = serializers.ChoiceField(choices=TransactionType.values)
        amount_cents = CentsField()
        currency = serializers.ChoiceField(choices=sorted(ISO_4217), default="USD")
        service_date = serializers.DateField(required=False)
        metadata = serializers.DictField(required=False, default=dict)
        description = serializers.CharField(max_length=200, required=False, default="")
        encounter_ref = serializers.UUIDField(required=False, allow_null=True)
        insurance_policy_id = serializers.UUIDField(required=False, allow_null=True)

    @extend_schema(
        request=ChargeInput, responses={201: EntryOutput}, parameters=[IDEMPOTENCY_PARAMETER], summary="Record a charge"
    )
    def post(self, request: Request) -> Response:
        def create() -> Response:
            data = self.ChargeInput(data=request.data)
            data.is_valid(raise_exception=True)
            values = dict(data.validated_data)
            patient = _patient(values.pop("patient_id"))
            policy_id = values.pop("insurance_policy_id", None)
            policy = None
            if policy_id is not None:
                policy = InsurancePolicy.objects.for_current_organization().filter(pk=policy_id).first()
                if policy is None:
                    raise serializers.ValidationError({"insurance_policy_id": "Unknown policy."})
            entry = services.charge_create(patient=patient, insurance_policy=policy, **values)
            return Response(EntryOutput(entry).data, status=status.HTTP_201_CREATED)

        return idempotent(request, create)


class PaymentCreateApi(BaseBillingApi):
    class PaymentAllocationInput(serializers.Serializer):
        charge_id = serializers.UUIDField()
        amount_cents = CentsField()

    class PaymentInput(serializers.Serializer):
        patient_id = serializers.UUIDField()
        kind = serializers.ChoiceField(choices=[str(k) for k in CREDIT_KINDS], default="payment")
        amount_cents = CentsField()
        currency = serializers.ChoiceField(choices=sorted(ISO_4217), default="USD")
        allocations = serializers.ListField(child=serializers.DictField(), required=False, default=list)
        allow_credit = serializers.BooleanField(default=False)
        transaction_type = serializers.ChoiceField(choices=TransactionType.values, required=False)
        metadata = serializers.DictField(required=False, default=dict)
        external_reference = serializers.CharField(max_length=100, required=False, default="")
        received_on = serializers.DateField(required=False)

    @extend_schema(
        request=PaymentInput,
        responses={201: EntryOutput},
        parameters=[IDEMPOTENCY_PARAMETER],
        summary="Post a payment, insurance payment or adjustment applied to charges",
    )
    def post(self, request: Request) -> Response:
        def create() -> Response:
            data = self.PaymentInput(data=request.data)
            data.is_valid(raise_exception=True)
            values = dict(data.validated_data)
            patient = _patient(values.pop("patient_id"))
            allocations = []
            for index, raw in enumerate(values.pop("allocations")):
                item = self.PaymentAllocationInput(data=raw)
                if not item.is_valid():
                    raise serializers.ValidationError({f"allocations[{index}]": item.errors})
                charge = selectors.ledger_entry_list().filter(pk=item.validated_data["charge_id"]).first()
                if charge is None:
                    raise serializers.ValidationError({f"allocations[{index}].charge_id": "Unknown charge."})
                allocations.append(services.Allocation(charge=charge, amount_cents=item.validated_data["amount_cents"]))
            entry = services.payment_post(patient=patient, allocations=allocations, **values)
            return Response(EntryOutput(entry).data, status=status.HTTP_201_CREATED)

        return idempotent(request, create)


class AsOfInput(serializers.Serializer):
    as_of = serializers.DateField(required=False)

    def validate_as_of(self, value: dt.date) -> dt.date:
        if value > dt.datetime.now(dt.UTC).date():
            raise serializers.ValidationError("Must not be in the future.")
        return value


class BalanceOutput(serializers.Serializer):
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
