"""Factories. Tenant rows take their organization from the active tenant context (as the app does), and
sub-factories inherit the parent's organization."""

from __future__ import annotations

import datetime as dt

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from apps.clinical.models import ClinicalEvent
from apps.patients.models import Patient


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    is_staff = True
    password = factory.django.Password("correct-horse-battery")


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    mrn = factory.Sequence(lambda n: f"MRN-{n:05d}")
    given_name = factory.Faker("first_name")
    family_name = factory.Faker("last_name")
    date_of_birth = dt.date(1980, 5, 17)


class ClinicalEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ClinicalEvent

    patient = factory.SubFactory(PatientFactory)
    organization_id = factory.LazyAttribute(lambda o: o.patient.organization_id)
    activity_type = ClinicalEvent.ActivityType.OBSERVATION
    clinical_purposes = factory.LazyFunction(lambda: ["diagnostic"])
    event_name = "Psychiatric evaluation"
    event_date = factory.LazyFunction(timezone.now)
