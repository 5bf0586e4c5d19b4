"""Biomarker test data: readings as partners send them, and stored readings built set-based."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from typing import Any

import factory
from django.utils import timezone

from apps.biomarkers import catalog
from apps.biomarkers.models import BiomarkerLog
from tests.factories import PatientFactory

_reading_ids = itertools.count(1)


def reading(patient: uuid.UUID | str, **overrides: Any) -> dict[str, Any]:
    """A valid reading in the bulk endpoint's shape (a wellness step count unless overridden)."""
    metric = catalog.METRICS.get(overrides.get("metric_type", "steps"), catalog.METRICS["steps"])
    body: dict[str, Any] = {
        "patient_id": str(patient),
        "source": metric.sources[0],
        "source_reading_id": f"r-{next(_reading_ids)}",
        "metric_type": metric.code,
        "value_numeric": 6500.0,
        "unit": metric.unit,
        "captured_at": (timezone.now() - dt.timedelta(hours=1)).isoformat(),
        "raw_payload": {"origin": "test"},
    }
    body.update(overrides)
    return body


def depression_reading(patient: uuid.UUID | str, **overrides: Any) -> dict[str, Any]:
    """A Kintsugi voice depression score: CLINICAL_PHI."""
    return reading(
        patient,
        **{"metric_type": "voice_depression_score", "source": "kintsugi_voice", "value_numeric": 14.0, **overrides},
    )


class BiomarkerLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BiomarkerLog

    patient = factory.SubFactory(PatientFactory)
    organization_id = factory.LazyAttribute(lambda o: o.patient.organization_id)
    source = catalog.Source.APPLE_HEALTH_KIT
    source_reading_id = factory.Sequence(lambda n: f"hk-{n}")
    metric_type = "heart_rate"
    value_numeric = 72.0
    unit = "bpm"
    captured_at = factory.LazyFunction(timezone.now)
    data_classification = factory.LazyAttribute(lambda o: catalog.METRICS[o.metric_type].classification)
