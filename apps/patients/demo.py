"""Demo patients and consents for `seed_demo` (idempotent; runs inside the organization's tenant context)."""

from __future__ import annotations

from datetime import date, timedelta

from django.utils import timezone

from . import services
from .models import Consent, Patient

# (given, family, born, sex at birth, gender identity, city, region, postal code)
DEMO_PATIENTS = [
    ("Avery", "Lindqvist", date(1984, 3, 14), "female", "woman", "Portland", "OR", "97205"),
    ("Mateo", "Okafor", date(1991, 11, 2), "male", "man", "Seattle", "WA", "98101"),
    ("Priya", "Raman", date(1976, 7, 29), "female", "woman", "Oakland", "CA", "94612"),
    ("Jonah", "Whitfield", date(2001, 1, 8), "male", "non-binary", "Boise", "ID", "83702"),
    ("Lucía", "Ferreira", date(1968, 9, 21), "female", "woman", "Tucson", "AZ", "85701"),
    ("Samuel", "Abernathy", date(1959, 4, 3), "male", "man", "Denver", "CO", "80202"),
]


def seed(*, slug: str) -> None:
    """Create the organization's demo patients (with contact details and consents) unless they exist."""
    now = timezone.now()
    for index, (given, family, born, sex, gender, city, region, postal) in enumerate(DEMO_PATIENTS, start=1):
        mrn = f"{slug[:3].upper()}-{1000 + index}"
        if Patient.objects.filter(mrn=mrn).exists():
            continue
        patient = services.patient_create(
            mrn=mrn,
            given_name=given,
            family_name=family,
            date_of_birth=born,
            sex_at_birth=sex,
            gender_identity=gender,
            email=f"{given.lower()}.{family.lower()}@example.org".replace("í", "i"),
            phone=f"+1555010{index:04d}",
            address_line1=f"{100 + index * 7} Demo Street",
            city=city,
            region=region,
            postal_code=postal,
            # Around the 078-05-1120 specimen number printed on wallet inserts in 1938; not real people.
            ssn=f"078-05-{1120 + index:04d}",
        )
        granted = now - timedelta(days=400 - index * 30)
        services.consent_record(patient=patient, consent_type=Consent.Type.TREATMENT, granted=True, granted_at=granted)
        services.consent_record(
            patient=patient,
            consent_type=Consent.Type.DATA_SHARING,
            granted=index % 2 == 1,
            granted_at=granted,
            expires_at=granted + timedelta(days=365),
            document_reference=f"consent-forms/{mrn}-data-sharing.pdf",
        )
