"""Membership roles, partner scopes and data classifications: the vocabulary the policies speak."""

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    CLINICIAN = "clinician", "Clinician"
    COACH = "coach", "Coach"
    BILLING = "billing", "Billing"
    FRONT_DESK = "front_desk", "Front desk"
    PARTNER = "partner", "Partner (API)"


STAFF_ROLES = frozenset(
    {Role.OWNER.value, Role.CLINICIAN.value, Role.COACH.value, Role.BILLING.value, Role.FRONT_DESK.value}
)
# The roles a membership (or an invitation) may give: every role but the partner's.
MEMBER_ROLE_CHOICES = [(value, label) for value, label in Role.choices if value in STAFF_ROLES]
MEMBER_ROLES = [value for value, _ in MEMBER_ROLE_CHOICES]


class DataClassification(models.TextChoices):
    CLINICAL_PHI = "CLINICAL_PHI", "Clinical PHI"
    GENERAL_WELLNESS = "GENERAL_WELLNESS", "General wellness"


class Scope(models.TextChoices):
    PATIENTS_READ = "patients:read"
    PATIENTS_WRITE = "patients:write"
    CLINICAL_READ = "clinical:read"
    CLINICAL_WRITE = "clinical:write"
    TIMELINE_READ = "timeline:read"
    TIMELINE_WRITE = "timeline:write"
    BILLING_READ = "billing:read"
    BILLING_WRITE = "billing:write"
    BIOMARKERS_READ = "biomarkers:read"
    BIOMARKERS_WRITE = "biomarkers:write"
    SCHEDULING_READ = "scheduling:read"
    SCHEDULING_WRITE = "scheduling:write"
    EVENTS_READ = "events:read"
    FHIR_READ = "fhir:read"
    WEBHOOKS_READ = "webhooks:read"
    WEBHOOKS_WRITE = "webhooks:write"
