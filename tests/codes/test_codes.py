"""The one code module: ICD-10-CM existence and descriptions, CPT/HCPCS shapes, LOINC, SNOMED CT and NPI check
digits; clinical and billing give the same answer."""

import pytest
from django.core.exceptions import ValidationError

from apps import codes
from apps.billing.codes import clinical_metadata, validate_npi


@pytest.mark.parametrize(
    ("system", "code"),
    [
        ("icd10cm", "F32.1"),
        ("icd10cm", "F41.1"),
        ("icd10cm", "Z00.00"),
        ("icd10cm", "S72.001A"),
        ("icd10cm", "f32.1"),  # compared upper-case
        ("icd10cm", "U07.1"),  # special-purpose U codes are ICD-10-CM codes
        ("snomed", "35489007"),
        ("snomed", "38341003"),
        ("loinc", "2345-7"),
        ("loinc", "44261-6"),
        ("cpt", "99214"),
        ("cpt", "3074F"),
        ("cpt", "0001T"),
        ("rxnorm", "312940"),
    ],
)
def test_valid_codes_pass(system, code):
    assert codes.code_error(system, code) is None


@pytest.mark.parametrize(
    ("system", "code", "message"),
    [
        ("icd10cm", "32.1", "Not an ICD-10-CM code (e.g. F32.1"),
        ("icd10cm", "F3", "Not an ICD-10-CM code (e.g. F32.1"),
        ("icd10cm", "F32.12345", "Not an ICD-10-CM code (e.g. F32.1"),
        # Well-formed, but not in the code set: a pattern alone let these through.
        ("icd10cm", "F32.9999", "Not a code of the ICD-10-CM code set"),
        ("icd10cm", "Z99.99", "Not a code of the ICD-10-CM code set"),
        ("snomed", "35489008", "check digit"),
        ("snomed", "12345", "6-18 digits"),
        ("loinc", "2345-6", "check digit"),
        ("loinc", "2345", "Not a LOINC code"),
        ("cpt", "9921", "Not a CPT code"),
        ("cpt", "9921X", "Not a CPT code"),
        ("rxnorm", "RX123", "Not an RxNorm"),
        ("hcpcs", "J1234", "Unknown code system"),
    ],
)
def test_invalid_codes_are_refused_with_the_rule(system, code, message):
    assert message in codes.code_error(system, code)


def test_icd10cm_descriptions_come_from_the_code_set():
    assert codes.icd10cm_description("F41.1") == "Generalized anxiety disorder"
    assert codes.icd10cm_description("u07.1") == "COVID-19"
    assert codes.icd10cm_description("Z99.99") == ""
    assert codes.description("icd10cm", "I10") == "Essential (primary) hypertension"
    assert codes.description("cpt", "99214") == ""


def test_u07_1_is_valid_for_billing_as_for_the_clinical_record():
    # Regression: billing's own pattern refused every U code while the clinical check accepted it.
    metadata = clinical_metadata({"cpt_code": "99214", "diagnosis_codes": ["U07.1", "f41.1"]})
    assert metadata["diagnosis_codes"] == ["U07.1", "F41.1"]
    assert codes.code_error("icd10cm", "U07.1") is None


def test_billing_refuses_a_well_formed_code_outside_the_code_set_naming_the_field():
    with pytest.raises(ValidationError) as refused:
        clinical_metadata({"cpt_code": "99214", "diagnosis_codes": ["F41.1", "Z99.99"]})
    assert refused.value.message_dict == {
        "metadata.diagnosis_codes": ["Not ICD-10-CM codes of the code set (positions 2)."]
    }


@pytest.mark.parametrize(("code", "valid"), [("99214", True), ("0001U", True), ("J1234", True), ("W1234", False)])
def test_procedure_codes_are_cpt_or_hcpcs(code, valid):
    assert (codes.procedure_code_error(code) is None) is valid


@pytest.mark.parametrize(
    ("npi", "valid"), [("1234567893", True), ("1245319599", True), ("1234567890", False), ("3234567893", False)]
)
def test_npi_check_digit(npi, valid):
    assert (codes.npi_error(npi) is None) is valid
    if valid:
        validate_npi(npi)
    else:
        with pytest.raises(ValidationError, match="valid check digit"):
            validate_npi(npi)
