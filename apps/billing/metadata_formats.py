"""The `metadata` of each kind of ledger entry, as the API schema documents it (`codes` checks and normalises it).

Documentation only: `codes.clinical_metadata`, `retail_metadata`, `program_metadata` and `credit_metadata` are the
rules; an unknown key is refused there, and each error names its key (`metadata.cpt_code`).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample
from rest_framework import serializers

from . import codes
from .models import TransactionType


class ClinicalServiceMetadata(serializers.Serializer):
    cpt_code = serializers.CharField(min_length=5, max_length=5, help_text="CPT or HCPCS code, e.g. 90837.")
    modifiers = serializers.ListField(
        child=serializers.RegexField(codes.MODIFIER.pattern), required=False, max_length=4, help_text="Up to 4."
    )
    units = serializers.IntegerField(required=False, min_value=1, max_value=999, help_text="Default 1.")
    diagnosis_codes = serializers.ListField(
        child=serializers.CharField(max_length=8), min_length=1, max_length=12, help_text="ICD-10-CM, e.g. F43.10."
    )
    diagnosis_pointers = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=12),
        required=False,
        min_length=1,
        max_length=4,
        help_text="Positions (from 1) of the listed diagnoses this service treats; default [1].",
    )
    place_of_service = serializers.RegexField(
        codes.PLACE_OF_SERVICE.pattern, required=False, help_text="2-digit code; default 11 (office)."
    )
    superbill_id = serializers.CharField(required=False, max_length=64)


class RetailProductMetadata(serializers.Serializer):
    sku = serializers.RegexField(codes.SKU.pattern)
    product_name = serializers.CharField(required=False, max_length=200)
    quantity = serializers.IntegerField(required=False, min_value=1, max_value=10_000, help_text="Default 1.")


class ProgramEnrollmentMetadata(serializers.Serializer):
    program = serializers.CharField(required=False, max_length=200)
    installment_number = serializers.IntegerField(
        required=False, min_value=1, max_value=120, help_text="With total_installments, or neither."
    )
    total_installments = serializers.IntegerField(required=False, min_value=1, max_value=120)


class CreditMetadata(serializers.Serializer):
    """A payment's, adjustment's or refund's metadata."""

    method = serializers.ChoiceField(choices=["card", "cash", "check", "eft", "insurance"], required=False)
    reason_code = serializers.RegexField(
        r"^[A-Z0-9-]{0,10}$", required=False, help_text="Adjustment reason code, e.g. CO-45."
    )
    note = serializers.CharField(required=False, max_length=500)


CHARGE_METADATA: dict[str, type[serializers.Serializer]] = {
    TransactionType.CLINICAL_SERVICE: ClinicalServiceMetadata,
    TransactionType.RETAIL_PRODUCT: RetailProductMetadata,
    TransactionType.PROGRAM_ENROLLMENT: ProgramEnrollmentMetadata,
}

PATIENT_EXAMPLE = "3f0c6a53-1d2b-4c59-9a64-0b7f1b2f8e11"


def _example(name: str, value: dict[str, Any]) -> OpenApiExample:
    return OpenApiExample(name, request_only=True, value=value)


CHARGE_EXAMPLES = [
    _example(
        "Psychotherapy visit",
        {
            "patient_id": PATIENT_EXAMPLE,
            "transaction_type": "clinical_service",
            "amount_cents": 18000,
            "service_date": "2024-03-04",
            "metadata": {"cpt_code": "90837", "diagnosis_codes": ["F43.10"], "place_of_service": "11"},
        },
    ),
    _example(
        "Retail sale",
        {
            "patient_id": PATIENT_EXAMPLE,
            "transaction_type": "retail_product",
            "amount_cents": 2599,
            "metadata": {"sku": "MAG-250", "product_name": "Magnesium 250 mg", "quantity": 1},
        },
    ),
]

PAYMENT_EXAMPLES = [
    _example(
        "Check applied to a charge",
        {
            "patient_id": PATIENT_EXAMPLE,
            "amount_cents": 18000,
            "received_on": "2024-03-05",
            "allocations": [{"charge_id": "7a1e2f4c-5b6d-4e8f-9a0b-1c2d3e4f5a6b", "amount_cents": 18000}],
            "metadata": {"method": "check", "note": "Check 1042"},
            "external_reference": "1042",
        },
    )
]
