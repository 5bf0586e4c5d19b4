"""Code sets and identifiers billing validates: ISO 4217 currencies, CPT/HCPCS, ICD-10-CM, NPI, tax ids (the
medical code systems and the NPI through `apps.codes`, which the clinical record uses too).

Every validator raises Django's `ValidationError` with a message that names the rule, never the value.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError

from apps import codes as medical_codes

# Active ISO 4217 alphabetic codes (funds and precious metals left out: nobody pays a clinic in XAU).
_ISO_4217_CODES = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF
    CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD
    HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL
    LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR
    PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP
    TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWG
"""
ISO_4217 = frozenset(_ISO_4217_CODES.split())

MODIFIER = re.compile(r"^[0-9A-Z]{2}$")
PLACE_OF_SERVICE = re.compile(r"^\d{2}$")
TAXONOMY = re.compile(r"^[0-9]{3}[0-9A-Z]{6}X$")
SKU = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def validate_currency(value: str) -> None:
    if value not in ISO_4217:
        raise ValidationError("Use an ISO 4217 currency code such as USD.", code="invalid_currency")


def validate_npi(value: str) -> None:
    error = medical_codes.npi_error(value)
    if error:
        raise ValidationError(error, code="invalid_npi")


def validate_tax_id(value: str) -> None:
    if not re.fullmatch(r"\d{9}", value):
        raise ValidationError("Enter the 9-digit tax id (EIN) without a hyphen.", code="invalid_tax_id")


def validate_taxonomy(value: str) -> None:
    if not TAXONOMY.fullmatch(value):
        raise ValidationError("Enter a 10-character provider taxonomy code (e.g. 207Q00000X).", code="invalid")


def _int_in_range(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def clinical_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Validate and normalise a clinical charge's metadata (CPT, modifiers, units, ICD-10, pointers, POS)."""
    allowed = {
        "cpt_code",
        "modifiers",
        "units",
        "diagnosis_codes",
        "diagnosis_pointers",
        "place_of_service",
        "superbill_id",
    }
    errors: dict[str, str] = {}
    unknown = sorted(set(metadata) - allowed)
    if unknown:
        errors["metadata"] = f"Unknown keys for a clinical service: {', '.join(unknown)}."
    cpt = metadata.get("cpt_code")
    if not isinstance(cpt, str) or medical_codes.procedure_code_error(cpt):
        errors["metadata.cpt_code"] = "Enter a 5-character CPT or HCPCS code."
    modifiers = metadata.get("modifiers", [])
    if (
        not isinstance(modifiers, list)
        or len(modifiers) > 4
        or not all(isinstance(m, str) and MODIFIER.fullmatch(m) for m in modifiers)
    ):
        errors["metadata.modifiers"] = "Up to 4 two-character modifiers."
    units = metadata.get("units", 1)
    if not _int_in_range(units, 1, 999):
        errors["metadata.units"] = "Units must be a whole number from 1 to 999."
    diagnoses = metadata.get("diagnosis_codes")
    if (
        not isinstance(diagnoses, list)
        or not 1 <= len(diagnoses) <= 12
        or not all(isinstance(d, str) for d in diagnoses)
    ):
        errors["metadata.diagnosis_codes"] = "Give 1-12 ICD-10-CM codes (e.g. F43.10)."
        diagnoses = []
    else:
        unknown_codes = [index for index, code in enumerate(diagnoses) if medical_codes.icd10cm_error(code)]
        if unknown_codes:
            positions = ", ".join(str(index + 1) for index in unknown_codes)
            errors["metadata.diagnosis_codes"] = f"Not ICD-10-CM codes of the code set (positions {positions})."
            diagnoses = []
    pointers = metadata.get("diagnosis_pointers", [1])
    if (
        not isinstance(pointers, list)
        or not 1 <= len(pointers) <= 4
        or not all(_int_in_range(p, 1, max(len(diagnoses), 1)) for p in pointers)
    ):
        errors["metadata.diagnosis_pointers"] = "1-4 pointers, each the position of a listed diagnosis."
    place = metadata.get("place_of_service", "11")
    if not isinstance(place, str) or not PLACE_OF_SERVICE.fullmatch(place):
        errors["metadata.place_of_service"] = "Use a 2-digit place-of-service code."
    superbill_id = metadata.get("superbill_id")
    if superbill_id is not None and (not isinstance(superbill_id, str) or len(superbill_id) > 64):
        errors["metadata.superbill_id"] = "Use a text id of at most 64 characters."
    if errors:
        raise ValidationError(errors)
    normalised: dict[str, Any] = {
        "cpt_code": cpt,
        "modifiers": modifiers,
        "units": units,
        "diagnosis_codes": [medical_codes.normalize(d) for d in diagnoses],
        "diagnosis_pointers": pointers,
        "place_of_service": place,
    }
    if superbill_id is not None:
        normalised["superbill_id"] = superbill_id
    return normalised


def retail_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Validate a retail sale's metadata (SKU, product name, quantity)."""
    errors: dict[str, str] = {}
    unknown = sorted(set(metadata) - {"sku", "product_name", "quantity"})
    if unknown:
        errors["metadata"] = f"Unknown keys for a retail product: {', '.join(unknown)}."
    sku = metadata.get("sku")
    if not isinstance(sku, str) or not SKU.fullmatch(sku):
        errors["metadata.sku"] = "Enter a SKU of 1-64 letters, digits, dots, hyphens or underscores."
    name = metadata.get("product_name", "")
    if not isinstance(name, str) or len(name) > 200:
        errors["metadata.product_name"] = "At most 200 characters."
    quantity = metadata.get("quantity", 1)
    if not _int_in_range(quantity, 1, 10_000):
        errors["metadata.quantity"] = "Quantity must be a whole number from 1 to 10000."
    if errors:
        raise ValidationError(errors)
    return {"sku": sku, "product_name": name, "quantity": quantity}


def program_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Validate a program enrollment's metadata (program name, installment number and total)."""
    errors: dict[str, str] = {}
    unknown = sorted(set(metadata) - {"program", "installment_number", "total_installments"})
    if unknown:
        errors["metadata"] = f"Unknown keys for a program enrollment: {', '.join(unknown)}."
    program = metadata.get("program", "")
    if not isinstance(program, str) or len(program) > 200:
        errors["metadata.program"] = "At most 200 characters."
    number, total = metadata.get("installment_number"), metadata.get("total_installments")
    if (number is None) != (total is None):
        errors["metadata.installment_number"] = "Give both installment_number and total_installments, or neither."
    elif number is not None and not (_int_in_range(total, 1, 120) and _int_in_range(number, 1, total or 0)):
        errors["metadata.installment_number"] = "installment_number must be from 1 to total_installments (1-120)."
    if errors:
        raise ValidationError(errors)
    out: dict[str, Any] = {"program": program}
    if number is not None:
        out.update(installment_number=number, total_installments=total)
    return out


def credit_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Validate a payment's, adjustment's or refund's metadata (method, reason code, note)."""
    errors: dict[str, str] = {}
    unknown = sorted(set(metadata) - {"method", "reason_code", "note"})
    if unknown:
        errors["metadata"] = f"Unknown keys for a payment: {', '.join(unknown)}."
    method = metadata.get("method", "")
    if method not in {"", "card", "cash", "check", "eft", "insurance"}:
        errors["metadata.method"] = "Use card, cash, check, eft or insurance."
    reason = metadata.get("reason_code", "")
    if not isinstance(reason, str) or not re.fullmatch(r"[A-Z0-9-]{0,10}", reason):
        errors["metadata.reason_code"] = "Use an adjustment reason code such as CO-45."
    note = metadata.get("note", "")
    if not isinstance(note, str) or len(note) > 500:
        errors["metadata.note"] = "At most 500 characters."
    if errors:
        raise ValidationError(errors)
    return {k: v for k, v in (("method", method), ("reason_code", reason), ("note", note)) if v}
