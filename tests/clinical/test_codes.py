import pytest

from apps.clinical.codes import format_error


@pytest.mark.parametrize(
    ("system", "code"),
    [
        ("icd10cm", "F32.1"),
        ("icd10cm", "F41.1"),
        ("icd10cm", "Z00.00"),
        ("icd10cm", "S72.001A"),
        ("icd10cm", "f32.1"),  # compared upper-case
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
def test_well_formed_codes_pass(system, code):
    assert format_error(system, code) is None


@pytest.mark.parametrize(
    ("system", "code", "message"),
    [
        ("icd10cm", "32.1", "Not an ICD-10-CM code"),
        ("icd10cm", "F3", "Not an ICD-10-CM code"),
        ("icd10cm", "F32.12345", "Not an ICD-10-CM code"),
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
def test_malformed_codes_are_named(system, code, message):
    assert message in format_error(system, code)
