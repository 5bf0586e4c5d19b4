"""Demo readings for `seed_demo`: about four months from every source for each demo patient.

The records are built in each partner's native format and go through the same adapters and bulk ingestion as
partner data (set-based, audited). Record ids are derived from the organization, patient and day, so running
it again stores nothing twice; patients that already have readings are skipped without any work.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone

from apps.patients.models import Patient

from . import adapters, services
from .models import BiomarkerLog

DAYS = 120
DEMO_NAMESPACE = uuid.UUID("0b6f5a8e-3f0e-4c1d-9a57-2f1c7d3e9b11")


def _records(rng: random.Random, key: str, today: datetime) -> dict[str, list[dict[str, Any]]]:
    """Native records of one patient, per adapter format."""

    def record_id(kind: str, day: int) -> str:
        return str(uuid.uuid5(DEMO_NAMESPACE, f"{key}:{kind}:{day}"))

    records: dict[str, list[dict[str, Any]]] = {name: [] for name in adapters.ADAPTERS}
    hrv_base, rhr_base, steps_base = rng.uniform(30, 70), rng.uniform(52, 68), rng.uniform(4000, 11000)
    weight = rng.uniform(55, 95)
    for offset in range(DAYS, 0, -1):
        day = today - timedelta(days=offset)
        progress = (DAYS - offset) / DAYS  # 0 -> 1 over the period: treatment slowly helps
        wake = day.replace(hour=6, minute=30) + timedelta(minutes=rng.randint(0, 90))
        records["oura_sleep"].append(
            {
                "id": record_id("sleep", offset),
                "day": f"{day:%Y-%m-%d}",
                "type": "long_sleep",
                "bedtime_start": (wake - timedelta(hours=7.5)).isoformat(),
                "bedtime_end": wake.isoformat(),
                "average_hrv": round(max(5, rng.gauss(hrv_base + 8 * progress, 8)), 1),
                "lowest_heart_rate": round(max(35, rng.gauss(rhr_base - 3 * progress, 3))),
                "total_sleep_duration": int(max(3, rng.gauss(6.6 + 0.6 * progress, 0.8)) * 3600),
            }
        )
        records["oura_daily_readiness"].append(
            {
                "id": record_id("readiness", offset),
                "day": f"{day:%Y-%m-%d}",
                "timestamp": day.replace(hour=0, minute=0).isoformat(),
                "score": min(100, max(20, round(rng.gauss(68 + 12 * progress, 9)))),
                "temperature_deviation": round(rng.gauss(0, 0.3), 2),
                "contributors": {"hrv_balance": rng.randint(50, 95), "sleep_balance": rng.randint(50, 95)},
            }
        )
        records["apple_health_kit"].append(
            {
                "uuid": record_id("steps", offset),
                "type": "HKQuantityTypeIdentifierStepCount",
                "startDate": f"{day.replace(hour=0, minute=0):%Y-%m-%d %H:%M:%S %z}",
                "endDate": f"{day.replace(hour=23, minute=59):%Y-%m-%d %H:%M:%S %z}",
                "value": str(max(300, round(rng.gauss(steps_base, 2500)))),
                "unit": "count",
                "sourceName": "iPhone",
            }
        )
        for hour in (9, 13, 17, 21):
            records["apple_health_kit"].append(
                {
                    "uuid": record_id(f"hr{hour}", offset),
                    "type": "HKQuantityTypeIdentifierHeartRate",
                    "startDate": day.replace(hour=hour, minute=rng.randint(0, 59)).isoformat(),
                    "value": round(max(40, rng.gauss(rhr_base + 14, 9))),
                    "unit": "count/min",
                }
            )
        if offset % 7 == 0:
            depression = min(27, max(0, round(rng.gauss(15 - 9 * progress, 2.5))))
            severity = ["none", "mild", "moderate", "moderately_severe", "severe"][min(4, depression // 5)]
            records["kintsugi_voice"].append(
                {
                    "session_id": record_id("voice", offset),
                    "status": "complete",
                    "recorded_at": day.replace(hour=10).isoformat(),
                    "predictions": {
                        "depression": {"score": depression, "severity": severity},
                        "anxiety": {"score": min(21, max(0, round(rng.gauss(11 - 5 * progress, 2.5))))},
                    },
                }
            )
            weight += rng.gauss(-0.1, 0.4)
            records["manual"].append(
                {
                    "entry_id": record_id("weight", offset),
                    "metric_type": "body_weight",
                    "value": round(weight, 1),
                    "unit": "kg",
                    "recorded_at": day.replace(hour=7).isoformat(),
                }
            )
        if offset % 3 == 0:
            records["manual"].append(
                {
                    "entry_id": record_id("mood", offset),
                    "metric_type": "mood_score",
                    "value": min(10, max(1, round(rng.gauss(5 + 2 * progress, 1.5)))),
                    "unit": "score",
                    "recorded_at": day.replace(hour=20).isoformat(),
                    "note": "evening check-in",
                }
            )
    return records


def seed(*, slug: str) -> None:
    """Add DAYS days of readings from every source for each demo patient that has none yet."""
    today = timezone.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    with_readings = set(BiomarkerLog.objects.values_list("patient_id", flat=True).distinct())
    for patient in Patient.objects.active().order_by("mrn"):
        if patient.pk in with_readings:
            continue
        key = f"{slug}:{patient.mrn}"
        rng = random.Random(key)  # noqa: S311 - demo data, deterministic on purpose
        for format_name, records in _records(rng, key, today).items():
            if not records:  # a format the demo does not show
                continue
            services.biomarker_records_import(format_name=format_name, records=records, patient_id=patient.pk)
