"""Format checks for the code systems a clinical event can carry.

These check the shape (and, where the system defines one, the check digit) of a code, not its membership in
the current release of the terminology, which Kura does not ship.
"""

from __future__ import annotations

import re

from django.db import models


class CodeSystem(models.TextChoices):
    ICD10CM = "icd10cm", "ICD-10-CM"
    SNOMED = "snomed", "SNOMED CT"
    LOINC = "loinc", "LOINC"
    CPT = "cpt", "CPT"
    RXNORM = "rxnorm", "RxNorm"


# ICD-10-CM: a letter, two characters (digit, then digit or A/B for some chapters), an optional dot and up to
# four more characters; U codes are reserved for special purposes and allowed (e.g. U07.1).
_ICD10CM = re.compile(r"^[A-Z][0-9][0-9AB](\.[0-9A-Z]{1,4})?$")
# CPT: five digits (Category I), or four digits and F (Category II), T (Category III) or U (PLA codes).
_CPT = re.compile(r"^[0-9]{4}[0-9FTU]$")
_LOINC = re.compile(r"^([0-9]{1,7})-([0-9])$")
_SNOMED = re.compile(r"^[1-9][0-9]{5,17}$")
_RXNORM = re.compile(r"^[1-9][0-9]{0,7}$")

# Verhoeff tables (SNOMED CT identifiers end in a Verhoeff check digit).
_VERHOEFF_D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]
_VERHOEFF_P = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]


def verhoeff_valid(digits: str) -> bool:
    """Whether a digit string (check digit last) passes the Verhoeff check."""
    check = 0
    for position, digit in enumerate(reversed(digits)):
        check = _VERHOEFF_D[check][_VERHOEFF_P[position % 8][int(digit)]]
    return check == 0


def luhn_check_digit(digits: str) -> int:
    """The mod-10 (Luhn) check digit for a digit string, as LOINC computes it."""
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return (10 - total % 10) % 10


def normalize(system: str, code: str) -> str:
    """Codes compare upper-case and without surrounding spaces."""
    return code.strip().upper()


def format_error(system: str, code: str) -> str | None:
    """Why `code` is not a well-formed code of `system`, or None when it is."""
    code = normalize(system, code)
    if system == CodeSystem.ICD10CM:
        if not _ICD10CM.match(code):
            return "Not an ICD-10-CM code (e.g. F32.1: a letter, two characters, optional dot and up to four more)."
    elif system == CodeSystem.CPT:
        if not _CPT.match(code):
            return "Not a CPT code (five digits, or four digits followed by F, T or U)."
    elif system == CodeSystem.LOINC:
        match = _LOINC.match(code)
        if not match:
            return "Not a LOINC code (digits, a hyphen and a check digit, e.g. 2345-7)."
        if luhn_check_digit(match.group(1)) != int(match.group(2)):
            return "The LOINC check digit does not match."
    elif system == CodeSystem.SNOMED:
        if not _SNOMED.match(code):
            return "Not a SNOMED CT identifier (6-18 digits)."
        if not verhoeff_valid(code):
            return "The SNOMED CT check digit does not match."
    elif system == CodeSystem.RXNORM:
        if not _RXNORM.match(code):
            return "Not an RxNorm concept id (1-8 digits)."
    else:
        return "Unknown code system."
    return None
