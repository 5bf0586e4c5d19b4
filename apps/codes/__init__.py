"""Medical code systems, one answer per question: is this a valid ICD-10-CM, CPT, HCPCS, LOINC, SNOMED CT, RxNorm
code or NPI, and what does an ICD-10-CM code mean. The clinical record and billing both import it.

ICD-10-CM codes are checked against the code set shipped by `simple-icd-10-cm` (existence and descriptions), not
by a pattern alone. Check digits are python-stdnum's: Luhn for LOINC and the NPI, Verhoeff for SNOMED CT.
CPT, HCPCS and RxNorm are licensed or too large to ship: their shape is checked. Every error message names the
rule, never the value.
"""

from __future__ import annotations

import re
import warnings
from functools import cache
from types import ModuleType

from django.db import models
from stdnum import luhn, verhoeff
from stdnum.exceptions import ValidationError as StdnumError


class CodeSystem(models.TextChoices):
    ICD10CM = "icd10cm", "ICD-10-CM"
    SNOMED = "snomed", "SNOMED CT"
    LOINC = "loinc", "LOINC"
    CPT = "cpt", "CPT"
    RXNORM = "rxnorm", "RxNorm"


# ICD-10-CM: a letter, two characters, then optionally a dot and up to four more (U codes included: U07.1).
ICD10CM_SHAPE = re.compile(r"^[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?$")
# CPT: five digits (Category I), or four digits and F (Category II), T (Category III) or U (PLA codes).
CPT_SHAPE = re.compile(r"^[0-9]{4}[0-9FTU]$")
# HCPCS Level II: a letter A-V and four digits.
HCPCS_SHAPE = re.compile(r"^[A-V][0-9]{4}$")
LOINC_SHAPE = re.compile(r"^[0-9]{1,7}-[0-9]$")
SNOMED_SHAPE = re.compile(r"^[1-9][0-9]{5,17}$")
RXNORM_SHAPE = re.compile(r"^[1-9][0-9]{0,7}$")
NPI_SHAPE = re.compile(r"^[12][0-9]{9}$")
# The NPI check digit is the Luhn digit of the card-issuer prefix 80840 followed by the first nine digits.
_NPI_PREFIX = "80840"

ICD10CM_FORMAT = "Not an ICD-10-CM code (e.g. F32.1: a letter, two characters, optional dot and up to four more)."
ICD10CM_UNKNOWN = "Not a code of the ICD-10-CM code set (e.g. F41.1)."


@cache
def _icd10cm() -> ModuleType:
    # Imported on first use: loading the code set takes a second that start-up and most requests do not need.
    # The package reads its data through importlib.resources' legacy calls; their deprecation is not ours.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import simple_icd_10_cm

    return simple_icd_10_cm


def normalize(code: str) -> str:
    """Codes compare upper-case and without surrounding spaces."""
    return code.strip().upper()


def icd10cm_error(code: str) -> str | None:
    """Why `code` is not an ICD-10-CM code (category or subcategory of the code set), or None when it is."""
    code = normalize(code)
    if not ICD10CM_SHAPE.match(code):
        return ICD10CM_FORMAT
    if not _icd10cm().is_category_or_subcategory(code):
        return ICD10CM_UNKNOWN
    return None


def icd10cm_description(code: str) -> str:
    """The code set's description of an ICD-10-CM code ("" for a code it does not hold)."""
    code = normalize(code)
    if icd10cm_error(code) is not None:
        return ""
    return str(_icd10cm().get_description(code))


def cpt_error(code: str) -> str | None:
    if not CPT_SHAPE.match(normalize(code)):
        return "Not a CPT code (five digits, or four digits followed by F, T or U)."
    return None


def procedure_code_error(code: str) -> str | None:
    """A procedure on a claim: a CPT code or a HCPCS Level II code."""
    code = normalize(code)
    if not (CPT_SHAPE.match(code) or HCPCS_SHAPE.match(code)):
        return "Enter a 5-character CPT or HCPCS code."
    return None


def loinc_error(code: str) -> str | None:
    code = normalize(code)
    if not LOINC_SHAPE.match(code):
        return "Not a LOINC code (digits, a hyphen and a check digit, e.g. 2345-7)."
    if not luhn.is_valid(code.replace("-", "")):
        return "The LOINC check digit does not match."
    return None


def snomed_error(code: str) -> str | None:
    code = normalize(code)
    if not SNOMED_SHAPE.match(code):
        return "Not a SNOMED CT identifier (6-18 digits)."
    try:
        verhoeff.validate(code)
    except StdnumError:
        return "The SNOMED CT check digit does not match."
    return None


def rxnorm_error(code: str) -> str | None:
    if not RXNORM_SHAPE.match(normalize(code)):
        return "Not an RxNorm concept id (1-8 digits)."
    return None


def npi_error(value: str) -> str | None:
    if not NPI_SHAPE.match(value) or not luhn.is_valid(_NPI_PREFIX + value):
        return "Enter a 10-digit NPI with a valid check digit."
    return None


_CHECKS = {
    CodeSystem.ICD10CM: icd10cm_error,
    CodeSystem.SNOMED: snomed_error,
    CodeSystem.LOINC: loinc_error,
    CodeSystem.CPT: cpt_error,
    CodeSystem.RXNORM: rxnorm_error,
}


def code_error(system: str, code: str) -> str | None:
    """Why `code` is not a valid code of `system`, or None when it is."""
    check = _CHECKS.get(system)  # type: ignore[call-overload]
    if check is None:
        return "Unknown code system."
    return check(code)


def description(system: str, code: str) -> str:
    """What a code means, where Kura ships the code set (ICD-10-CM); "" otherwise."""
    return icd10cm_description(code) if system == CodeSystem.ICD10CM else ""
