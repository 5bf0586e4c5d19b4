"""Demo patients for `seed_demo` (idempotent; runs inside the organization's tenant context)."""

from __future__ import annotations

from datetime import date

from .models import Patient

DEMO_PATIENTS = [
    ("Avery", "Lindqvist", date(1984, 3, 14)),
    ("Mateo", "Okafor", date(1991, 11, 2)),
    ("Priya", "Raman", date(1976, 7, 29)),
    ("Jonah", "Whitfield", date(2001, 1, 8)),
]


def seed(*, slug: str) -> None:
    """Create the organization's demo patients unless they exist."""
    for index, (given, family, born) in enumerate(DEMO_PATIENTS, start=1):
        mrn = f"{slug[:3].upper()}-{1000 + index}"
        if not Patient.objects.filter(mrn=mrn).exists():
            Patient.objects.create(mrn=mrn, given_name=given, family_name=family, date_of_birth=born)
