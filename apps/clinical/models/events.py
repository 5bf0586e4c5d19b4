"""The clinical record, hub and spokes (seed 002).

Every clinical detail row (a spoke) is a child of a `ClinicalEvent` (the hub). Each spoke carries NOT NULL
`event_id` and `patient_id`; the database holds the composite foreign key (event_id, patient_id) → hub
(id, patient_id) ON DELETE CASCADE, so a spoke can neither exist without its event nor name another patient
than its event does, and (organization_id, patient_id) → patient (organization_id, id), so no row points
across organizations. The ORM side of those keys is declared with `db_constraint=False`; the migrations
create the real ones.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps import codes
from apps.organizations.audit import TenantHistoricalRecords
from apps.organizations.clock import is_in_the_future
from apps.organizations.models import ClassifiedTenantModel, TenantQuerySet
from apps.patients.models import PatientScopedManager, PatientScopedTenantManager


def _validate_not_future(value: datetime | None, field: str) -> dict[str, str]:
    if value is not None and is_in_the_future(value):
        return {field: "This time is in the future."}
    return {}


def _patient_link(related_name: str) -> Any:
    return models.ForeignKey(
        "patients.Patient",
        on_delete=models.CASCADE,
        related_name=related_name,
        # Enforced by the composite key (organization_id, patient_id) added in the migration.
        db_constraint=False,
    )


class Encounter(ClassifiedTenantModel):
    """A visit or contact; the parent of the clinical events recorded during it (not a spoke)."""

    class Type(models.TextChoices):
        OUTPATIENT = "outpatient", "Outpatient visit"
        TELEHEALTH = "telehealth", "Telehealth visit"
        INPATIENT = "inpatient", "Inpatient stay"
        EMERGENCY = "emergency", "Emergency visit"
        HOME = "home", "Home visit"

    class PlaceOfService(models.TextChoices):
        # CMS place-of-service codes used on claims.
        TELEHEALTH_HOME = "10", "10 Telehealth in patient's home"
        OFFICE = "11", "11 Office"
        HOME = "12", "12 Home"
        INPATIENT_HOSPITAL = "21", "21 Inpatient hospital"
        OUTPATIENT_HOSPITAL = "22", "22 On-campus outpatient hospital"
        EMERGENCY_ROOM = "23", "23 Emergency room"

    patient = _patient_link("encounters")
    encounter_type = models.CharField(max_length=20, choices=Type.choices)
    place_of_service = models.CharField(max_length=2, choices=PlaceOfService.choices, default=PlaceOfService.OFFICE)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    provider_name = models.CharField(max_length=255, blank=True)
    facility_name = models.CharField(max_length=255, blank=True)
    reason = models.CharField(max_length=500, blank=True)
    # The visit this encounter was opened for at check-in (none for walk-ins recorded directly).
    appointment = models.OneToOneField(
        "scheduling.Appointment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="encounter",
        editable=False,
        # Enforced by the composite key (organization_id, appointment_id) added in the migration.
        db_constraint=False,
    )

    objects: ClassVar[PatientScopedTenantManager] = PatientScopedTenantManager()  # type: ignore[assignment]  # consent-gated (PatientScopedManager)
    history = TenantHistoricalRecords()

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            # Target of the hub's composite key (encounter_id, patient_id).
            models.UniqueConstraint(fields=["id", "patient"], name="encounter_id_patient_key"),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="encounter_ends_after_start",
                violation_error_message="An encounter cannot end before it starts.",
            ),
        ]
        indexes = [models.Index(fields=["organization", "patient", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.get_encounter_type_display()} {self.started_at:%Y-%m-%d}"

    def clean(self) -> None:
        errors = _validate_not_future(self.started_at, "started_at")
        if self.started_at and self.ended_at and self.ended_at < self.started_at:
            errors["ended_at"] = "An encounter cannot end before it starts."
        if self.patient_id and self.started_at and self.started_at.date() < self.patient.date_of_birth:
            errors["started_at"] = "An encounter cannot be before the patient's birth."
        if errors:
            raise ValidationError(errors)


class ClinicalEventQuerySet(TenantQuerySet):
    def with_details(self) -> ClinicalEventQuerySet:
        """Events with their patient, encounter, codes and every spoke, in a fixed number of queries."""
        return self.select_related("patient", "encounter").prefetch_related(
            "codes", *(spoke.related_name for spoke in SPOKES.values())
        )


ClinicalEventManager = PatientScopedManager.from_queryset(ClinicalEventQuerySet)


class ClinicalEvent(ClassifiedTenantModel):
    """The hub: what happened (activity type), why (clinical purposes), when, by whom, from which source."""

    class ActivityType(models.TextChoices):
        OBSERVATION = "observation"
        INTERVENTION = "intervention"

    class Purpose(models.TextChoices):
        SCREENING = "screening"
        DIAGNOSTIC = "diagnostic"
        THERAPEUTIC = "therapeutic"
        MONITORING = "monitoring"
        PREVENTIVE = "preventive"
        SELF_MONITORING = "self_monitoring"

    patient = _patient_link("clinical_events")
    encounter = models.ForeignKey(
        Encounter,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="clinical_events",
        # Enforced by the composite key (encounter_id, patient_id) → encounter (id, patient_id).
        db_constraint=False,
    )
    activity_type = models.CharField(max_length=20, choices=ActivityType.choices)
    clinical_purposes = ArrayField(models.CharField(max_length=50, choices=Purpose.choices), default=list)
    event_name = models.CharField(max_length=255)
    method = models.CharField(max_length=100, blank=True)
    body_site = models.CharField(max_length=100, blank=True)
    performed_by = models.CharField(max_length=255, blank=True)
    facility_name = models.CharField(max_length=255, blank=True)
    event_date = models.DateTimeField()
    # The document the event was extracted from (seed 002's shell file); empty for manual entry.
    source_document = models.CharField(max_length=500, blank=True)
    is_synthetic = models.BooleanField(default=False)
    clinical_identity_key = models.CharField(max_length=255, blank=True)

    objects: ClassVar[ClinicalEventManager] = ClinicalEventManager()  # type: ignore[assignment]  # consent-gated (PatientScopedManager)
    history = TenantHistoricalRecords()

    class Meta:
        ordering = ["-event_date"]
        constraints = [
            # Target of the spokes' composite key (event_id, patient_id).
            models.UniqueConstraint(fields=["id", "patient"], name="clinicalevent_id_patient_key"),
            # Target of (organization_id, event_id) from code assignments.
            models.UniqueConstraint(fields=["organization", "id"], name="clinicalevent_org_id_key"),
            models.CheckConstraint(condition=~Q(clinical_purposes=[]), name="clinicalevent_has_purpose"),
        ]
        indexes = [models.Index(fields=["organization", "patient", "-event_date"])]

    def __str__(self) -> str:
        return f"{self.get_activity_type_display()} event {self.event_date:%Y-%m-%d}"

    def clean(self) -> None:
        errors = _validate_not_future(self.event_date, "event_date")
        if self.patient_id and self.event_date and self.event_date.date() < self.patient.date_of_birth:
            errors["event_date"] = "A clinical event cannot be before the patient's birth."
        if self.encounter is not None and self.patient_id and self.encounter.patient_id != self.patient_id:
            errors["encounter"] = "The encounter belongs to another patient."
        if not self.clinical_purposes:
            errors["clinical_purposes"] = "Give at least one clinical purpose."
        if errors:
            raise ValidationError(errors)


class Spoke(ClassifiedTenantModel):
    """A clinical detail row: always a child of a hub event, always the event's patient."""

    spoke_type: ClassVar[str]
    related_name: ClassVar[str]
    # Declared by every concrete spoke (see `_event_link` and `_patient_link`).
    event: ClinicalEvent
    event_id: Any
    patient_id: Any

    objects: ClassVar[PatientScopedTenantManager] = PatientScopedTenantManager()  # type: ignore[assignment]  # consent-gated (PatientScopedManager)

    class Meta:
        abstract = True

    def clean_spoke(self) -> dict[str, str]:
        """Per-spoke checks; return field errors."""
        return {}

    def clean(self) -> None:
        errors = self.clean_spoke()
        if errors:
            raise ValidationError(errors)

    def save(self, *args: Any, **kwargs: Any) -> None:
        # A new row takes its patient and classification from its event (admin inlines set only the event);
        # the composite key (event_id, patient_id) refuses any other patient.
        event = self.event
        if self._state.adding:
            if self.patient_id is None:
                self.patient_id = event.patient_id
            self.data_classification = event.data_classification
            self.organization_id = event.organization_id
        super().save(*args, **kwargs)


def _event_link(related_name: str) -> Any:
    return models.ForeignKey(
        ClinicalEvent,
        on_delete=models.CASCADE,
        related_name=related_name,
        # Enforced by the composite key (event_id, patient_id) → hub (id, patient_id) ON DELETE CASCADE.
        db_constraint=False,
    )


SEVERITY_CHOICES = [("mild", "Mild"), ("moderate", "Moderate"), ("severe", "Severe")]


class Observation(Spoke):
    spoke_type = "observations"
    related_name = "observations"

    class Interpretation(models.TextChoices):
        NORMAL = "normal"
        ABNORMAL = "abnormal"
        HIGH = "high"
        LOW = "low"
        CRITICAL = "critical"

    event = _event_link("observations")
    patient = _patient_link("observations")
    observation_type = models.CharField(max_length=100)
    value_text = models.CharField(max_length=500, blank=True)
    value_numeric = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    unit = models.CharField(max_length=30, blank=True)
    reference_range = models.CharField(max_length=100, blank=True)
    interpretation = models.CharField(max_length=10, choices=Interpretation.choices, blank=True)

    history = TenantHistoricalRecords()

    class Meta:
        indexes = [models.Index(fields=["event"]), models.Index(fields=["organization", "patient"])]

    def __str__(self) -> str:
        return f"Observation: {self.observation_type}"

    def clean_spoke(self) -> dict[str, str]:
        if not self.value_text and self.value_numeric is None:
            return {"value_text": "Give a value (text or number)."}
        return {}


class Intervention(Spoke):
    spoke_type = "interventions"
    related_name = "interventions"

    class Type(models.TextChoices):
        MEDICATION_ADMIN = "medication_admin", "Medication administered"
        PROCEDURE = "procedure"
        THERAPY = "therapy"
        VACCINATION = "vaccination"
        COUNSELING = "counseling"

    event = _event_link("interventions")
    patient = _patient_link("interventions")
    intervention_type = models.CharField(max_length=20, choices=Type.choices)
    substance_name = models.CharField(max_length=255, blank=True)
    technique = models.CharField(max_length=255, blank=True)
    dose_amount = models.DecimalField(max_digits=10, decimal_places=3, null=True, blank=True)
    dose_unit = models.CharField(max_length=30, blank=True)
    route = models.CharField(max_length=50, blank=True)
    outcome = models.CharField(max_length=500, blank=True)

    history = TenantHistoricalRecords()

    class Meta:
        indexes = [models.Index(fields=["event"]), models.Index(fields=["organization", "patient"])]

    def __str__(self) -> str:
        return f"Intervention: {self.get_intervention_type_display()}"

    def clean_spoke(self) -> dict[str, str]:
        if self.dose_amount is not None and not self.dose_unit:
            return {"dose_unit": "Give the unit of the dose."}
        return {}


class Vital(Spoke):
    spoke_type = "vitals"
    related_name = "vitals"

    class Type(models.TextChoices):
        BLOOD_PRESSURE = "blood_pressure", "Blood pressure"
        HEART_RATE = "heart_rate", "Heart rate"
        RESPIRATORY_RATE = "respiratory_rate", "Respiratory rate"
        TEMPERATURE = "temperature", "Temperature"
        OXYGEN_SATURATION = "oxygen_saturation", "Oxygen saturation"
        WEIGHT = "weight", "Weight"
        HEIGHT = "height", "Height"
        BMI = "bmi", "Body mass index"

    # Unit and plausible range of each vital: a typo (72 kg entered as 720) is refused, not stored.
    RULES: ClassVar[dict[str, tuple[str, float, float]]] = {
        "heart_rate": ("bpm", 20, 300),
        "respiratory_rate": ("breaths/min", 4, 80),
        "temperature": ("Cel", 30, 45),
        "oxygen_saturation": ("%", 50, 100),
        "weight": ("kg", 0.3, 500),
        "height": ("cm", 20, 260),
        "bmi": ("kg/m2", 8, 100),
    }

    event = _event_link("vitals")
    patient = _patient_link("vitals")
    vital_type = models.CharField(max_length=20, choices=Type.choices)
    # {"systolic": 120, "diastolic": 80} for blood pressure, {"value": 72} otherwise (seed 002).
    measurement_value = models.JSONField()
    unit = models.CharField(max_length=20)
    measurement_date = models.DateTimeField()

    history = TenantHistoricalRecords()

    class Meta:
        indexes = [
            models.Index(fields=["event"]),
            models.Index(fields=["organization", "patient", "vital_type", "-measurement_date"]),
        ]

    def __str__(self) -> str:
        return f"Vital: {self.get_vital_type_display()}"

    def clean_spoke(self) -> dict[str, str]:
        errors = _validate_not_future(self.measurement_date, "measurement_date")
        value = self.measurement_value
        if self.vital_type == self.Type.BLOOD_PRESSURE:
            if self.unit != "mmHg":
                errors["unit"] = "Blood pressure is recorded in mmHg."
            if not isinstance(value, dict) or set(value) != {"systolic", "diastolic"}:
                errors["measurement_value"] = 'Blood pressure needs {"systolic": n, "diastolic": n}.'
            elif not all(isinstance(v, int) and not isinstance(v, bool) for v in value.values()):
                errors["measurement_value"] = "Systolic and diastolic must be whole numbers."
            elif not (40 <= value["diastolic"] < value["systolic"] <= 300):
                errors["measurement_value"] = "Blood pressure out of range (diastolic 40-300, below systolic)."
            return errors
        rule = self.RULES.get(self.vital_type)
        if rule is None:
            errors["vital_type"] = "Unknown vital type."
            return errors
        unit, low, high = rule
        if self.unit != unit:
            errors["unit"] = f"{self.get_vital_type_display()} is recorded in {unit}."
        number = value.get("value") if isinstance(value, dict) and set(value) == {"value"} else None
        if not isinstance(number, int | float) or isinstance(number, bool):
            errors["measurement_value"] = 'Give {"value": number}.'
        elif not (low <= number <= high):
            errors["measurement_value"] = f"Value out of the plausible range {low}-{high} {unit}."
        return errors


class Condition(Spoke):
    spoke_type = "conditions"
    related_name = "conditions"

    class ClinicalStatus(models.TextChoices):
        ACTIVE = "active"
        RECURRENCE = "recurrence"
        REMISSION = "remission"
        RESOLVED = "resolved"
        INACTIVE = "inactive"

    event = _event_link("conditions")
    patient = _patient_link("conditions")
    condition_name = models.CharField(max_length=255)
    clinical_status = models.CharField(max_length=12, choices=ClinicalStatus.choices, default=ClinicalStatus.ACTIVE)
    severity = models.CharField(max_length=10, choices=SEVERITY_CHOICES, blank=True)
    onset_date = models.DateField(null=True, blank=True)
    resolved_date = models.DateField(null=True, blank=True)

    history = TenantHistoricalRecords()

    class Meta:
        indexes = [models.Index(fields=["event"]), models.Index(fields=["organization", "patient"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(resolved_date__isnull=True)
                | Q(onset_date__isnull=True)
                | Q(resolved_date__gte=models.F("onset_date")),
                name="condition_resolved_after_onset",
            )
        ]

    def __str__(self) -> str:
        return "Condition"

    def clean_spoke(self) -> dict[str, str]:
        errors = {}
        if self.onset_date and self.onset_date > timezone.localdate():
            errors["onset_date"] = "The onset date is in the future."
        if self.onset_date and self.resolved_date and self.resolved_date < self.onset_date:
            errors["resolved_date"] = "A condition cannot resolve before its onset."
        return errors


class Allergy(Spoke):
    spoke_type = "allergies"
    related_name = "allergies"

    class AllergenType(models.TextChoices):
        MEDICATION = "medication"
        FOOD = "food"
        ENVIRONMENTAL = "environmental"
        OTHER = "other"

    class Severity(models.TextChoices):
        MILD = "mild"
        MODERATE = "moderate"
        SEVERE = "severe"
        LIFE_THREATENING = "life_threatening", "Life-threatening"

    event = _event_link("allergies")
    patient = _patient_link("allergies")
    allergen_name = models.CharField(max_length=255)
    allergen_type = models.CharField(max_length=15, choices=AllergenType.choices)
    reaction = models.CharField(max_length=255, blank=True)
    severity = models.CharField(max_length=16, choices=Severity.choices, blank=True)
    verified_date = models.DateField(null=True, blank=True)

    history = TenantHistoricalRecords()

    class Meta:
        verbose_name_plural = "allergies"
        indexes = [models.Index(fields=["event"]), models.Index(fields=["organization", "patient"])]

    def __str__(self) -> str:
        return "Allergy"


class Medication(Spoke):
    spoke_type = "medications"
    related_name = "medications"

    class Status(models.TextChoices):
        ACTIVE = "active"
        ON_HOLD = "on_hold", "On hold"
        STOPPED = "stopped"
        COMPLETED = "completed"

    event = _event_link("medications")
    patient = _patient_link("medications")
    medication_name = models.CharField(max_length=255)
    strength = models.CharField(max_length=50, blank=True)
    dose = models.CharField(max_length=50, blank=True)
    route = models.CharField(max_length=50, blank=True)
    frequency = models.CharField(max_length=50, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    prescriber = models.CharField(max_length=255, blank=True)

    history = TenantHistoricalRecords()

    class Meta:
        indexes = [models.Index(fields=["event"]), models.Index(fields=["organization", "patient", "status"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(end_date__isnull=True)
                | Q(start_date__isnull=True)
                | Q(end_date__gte=models.F("start_date")),
                name="medication_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return "Medication"

    def clean_spoke(self) -> dict[str, str]:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            return {"end_date": "A medication cannot end before it starts."}
        return {}


class Immunization(Spoke):
    spoke_type = "immunizations"
    related_name = "immunizations"

    event = _event_link("immunizations")
    patient = _patient_link("immunizations")
    vaccine_name = models.CharField(max_length=255)
    administered_on = models.DateField()
    dose_number = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(20)]
    )
    lot_number = models.CharField(max_length=50, blank=True)
    manufacturer = models.CharField(max_length=255, blank=True)
    route = models.CharField(max_length=50, blank=True)
    site = models.CharField(max_length=50, blank=True)

    history = TenantHistoricalRecords()

    class Meta:
        indexes = [models.Index(fields=["event"]), models.Index(fields=["organization", "patient"])]

    def __str__(self) -> str:
        return "Immunization"

    def clean_spoke(self) -> dict[str, str]:
        if self.administered_on and self.administered_on > timezone.localdate():
            return {"administered_on": "The administration date is in the future."}
        return {}


# Spoke models by the key they use in API payloads and services ("vitals", "medications", ...).
SPOKES: dict[str, type[Spoke]] = {
    model.spoke_type: model
    for model in (Observation, Intervention, Vital, Condition, Allergy, Medication, Immunization)
}


class MedicalCodeAssignment(ClassifiedTenantModel):
    """A standard code (ICD-10-CM, SNOMED CT, LOINC, CPT, RxNorm) attached to a hub event."""

    event = models.ForeignKey(
        ClinicalEvent,
        on_delete=models.CASCADE,
        related_name="codes",
        # Enforced by the composite key (organization_id, event_id) → hub (organization_id, id).
        db_constraint=False,
    )
    code_system = models.CharField(max_length=10, choices=codes.CodeSystem.choices)
    code = models.CharField(max_length=20)
    display = models.CharField(max_length=255, blank=True)
    is_primary = models.BooleanField(default=False)

    history = TenantHistoricalRecords()

    class Meta:
        indexes = [models.Index(fields=["event"]), models.Index(fields=["organization", "code_system", "code"])]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "code_system", "code"],
                name="code_once_per_event",
                violation_error_message="This code is already assigned to the event.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_code_system_display()} {self.code}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self._state.adding:
            self.data_classification = self.event.data_classification
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if self.code_system and self.code:
            self.code = codes.normalize(self.code)
            error = codes.code_error(self.code_system, self.code)
            if error:
                raise ValidationError({"code": error})
            if not self.display:
                self.display = codes.description(self.code_system, self.code)
