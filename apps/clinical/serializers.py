"""Input and output shapes of the clinical API. They parse and shape only; rules live in models and services."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from apps.codes import CodeSystem
from apps.organizations.rendering import OutputSerializer
from apps.organizations.roles import DataClassification
from apps.patients import phi_reads
from apps.patients.models import PHIAccessLog

from . import vitals
from .models import SPOKES, ClinicalEvent, Encounter, Spoke
from .services import PROTECTED_SPOKE_FIELDS


def _spoke_serializer(model: type[Spoke], *, output: bool) -> type[serializers.ModelSerializer[Any]]:
    """A serializer over one spoke model: all its own fields out; the caller-settable ones in."""
    hidden = ["organization", "event", "patient"] if output else sorted(PROTECTED_SPOKE_FIELDS & _field_names(model))
    meta = type("Meta", (), {"model": model, "exclude": hidden})
    name = f"{model.__name__}{'Output' if output else 'Input'}"
    return type(name, (serializers.ModelSerializer,), {"Meta": meta})


def _field_names(model: type[Spoke]) -> set[str]:
    return {field.name for field in model._meta.concrete_fields}


SPOKE_OUTPUTS = {spoke_type: _spoke_serializer(model, output=True) for spoke_type, model in SPOKES.items()}
SPOKE_INPUTS = {spoke_type: _spoke_serializer(model, output=False) for spoke_type, model in SPOKES.items()}


class _DetailsBase(serializers.Serializer):
    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(SPOKES))
            if unknown:
                raise serializers.ValidationError(
                    {key: [f"Unknown detail type; use one of: {', '.join(sorted(SPOKES))}."] for key in unknown}
                )
        return super().to_internal_value(data)


DetailsInput = type(
    "DetailsInput",
    (_DetailsBase,),
    {
        name: serializer(many=True, required=False, max_length=100)  # type: ignore[call-arg]
        for name, serializer in SPOKE_INPUTS.items()
    },
)
DetailsOutput = type(
    "DetailsOutput",
    (serializers.Serializer,),
    {name: serializer(many=True, read_only=True) for name, serializer in SPOKE_OUTPUTS.items()},
)


class CodeInput(serializers.Serializer):
    code_system = serializers.ChoiceField(choices=CodeSystem.choices)
    code = serializers.CharField(max_length=20)
    display = serializers.CharField(max_length=255, required=False, allow_blank=True)
    is_primary = serializers.BooleanField(required=False, default=False)


class CodeOutput(OutputSerializer):
    id = serializers.UUIDField()
    code_system = serializers.CharField()
    code = serializers.CharField()
    display = serializers.CharField()
    is_primary = serializers.BooleanField()


class EventInput(serializers.Serializer):
    activity_type = serializers.ChoiceField(choices=ClinicalEvent.ActivityType.choices)
    clinical_purposes = serializers.ListField(
        child=serializers.ChoiceField(choices=ClinicalEvent.Purpose.choices), min_length=1, max_length=6
    )
    event_name = serializers.CharField(max_length=255)
    method = serializers.CharField(max_length=100, required=False, allow_blank=True)
    body_site = serializers.CharField(max_length=100, required=False, allow_blank=True)
    performed_by = serializers.CharField(max_length=255, required=False, allow_blank=True)
    facility_name = serializers.CharField(max_length=255, required=False, allow_blank=True)
    event_date = serializers.DateTimeField()
    source_document = serializers.CharField(max_length=500, required=False, allow_blank=True)
    clinical_identity_key = serializers.CharField(max_length=255, required=False, allow_blank=True)
    data_classification = serializers.ChoiceField(choices=DataClassification.choices, required=False)


class ClinicalEventInput(serializers.Serializer):
    patient_id = serializers.UUIDField()
    encounter_id = serializers.UUIDField(required=False, allow_null=True)
    event = EventInput()
    details = DetailsInput(required=False)
    codes = CodeInput(many=True, required=False, max_length=50)  # type: ignore[call-arg]


class ManualEntryInput(serializers.Serializer):
    detail_type = serializers.ChoiceField(choices=sorted(SPOKES))
    values = serializers.DictField(help_text="The detail row's fields, as in the clinical event's `details`.")
    recorded_at = serializers.DateTimeField(required=False)
    data_classification = serializers.ChoiceField(choices=DataClassification.choices, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        row = SPOKE_INPUTS[attrs["detail_type"]](data=attrs["values"])
        if not row.is_valid():
            raise serializers.ValidationError({"values": row.errors})
        attrs["values"] = row.validated_data
        return attrs


def _vitals_input_fields() -> dict[str, serializers.Field]:
    fields: dict[str, serializers.Field] = {}
    for vital_type, kind in vitals.KINDS.items():
        if vital_type in vitals.DERIVED:
            continue
        units = list(kind.units)
        fields[vital_type] = serializers.CharField(
            max_length=20,
            required=False,
            allow_blank=True,
            help_text=f"{kind.label}, e.g. 72 (units: {', '.join(units)}).",
        )
        if len(units) > 1:
            fields[f"{vital_type}_unit"] = serializers.ChoiceField(choices=units, required=False)
    return fields


VitalsInput = type(
    "VitalsInput",
    (serializers.Serializer,),
    {
        "measured_at": serializers.DateTimeField(),
        "encounter_id": serializers.UUIDField(required=False, allow_null=True),
        "clinical_purposes": serializers.ListField(
            child=serializers.ChoiceField(choices=ClinicalEvent.Purpose.choices),
            min_length=1,
            max_length=6,
            required=False,
        ),
        "blood_pressure": serializers.CharField(
            max_length=20, required=False, allow_blank=True, help_text="Systolic/diastolic in mmHg, e.g. 128/82."
        ),
        **_vitals_input_fields(),
    },
)


def vitals_readings(data: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    """The readings of a `VitalsInput`, as `services.vitals_record` takes them."""
    readings: dict[str, tuple[str, str | None]] = {"blood_pressure": (data.get("blood_pressure", ""), None)}
    for vital_type in vitals.KINDS.keys() - vitals.DERIVED:
        readings[vital_type] = (data.get(vital_type, ""), data.get(f"{vital_type}_unit"))
    return readings


class ClinicalEventOutput(phi_reads.MarksReads, OutputSerializer):
    phi_record_type = PHIAccessLog.RecordType.CLINICAL_EVENT

    id = serializers.UUIDField()
    patient_id = serializers.UUIDField()
    encounter_id = serializers.UUIDField(allow_null=True)
    activity_type = serializers.CharField()
    clinical_purposes = serializers.ListField(child=serializers.CharField())
    event_name = serializers.CharField()
    method = serializers.CharField()
    body_site = serializers.CharField()
    performed_by = serializers.CharField()
    facility_name = serializers.CharField()
    event_date = serializers.DateTimeField()
    source_document = serializers.CharField()
    is_synthetic = serializers.BooleanField()
    clinical_identity_key = serializers.CharField()
    data_classification = serializers.CharField()
    codes = CodeOutput(many=True)
    details = DetailsOutput(source="*")
    created_at = serializers.DateTimeField()


class EncounterInput(serializers.Serializer):
    patient_id = serializers.UUIDField()
    encounter_type = serializers.ChoiceField(choices=Encounter.Type.choices)
    place_of_service = serializers.ChoiceField(choices=Encounter.PlaceOfService.choices, required=False)
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(required=False, allow_null=True)
    provider_name = serializers.CharField(max_length=255, required=False, allow_blank=True)
    facility_name = serializers.CharField(max_length=255, required=False, allow_blank=True)
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)
    data_classification = serializers.ChoiceField(choices=DataClassification.choices, required=False)


class EncounterOutput(phi_reads.MarksReads, OutputSerializer):
    phi_record_type = PHIAccessLog.RecordType.ENCOUNTER

    id = serializers.UUIDField()
    patient_id = serializers.UUIDField()
    encounter_type = serializers.CharField()
    place_of_service = serializers.CharField()
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    provider_name = serializers.CharField()
    facility_name = serializers.CharField()
    reason = serializers.CharField()
    data_classification = serializers.CharField()
