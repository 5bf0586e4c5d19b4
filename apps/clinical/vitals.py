"""Vital signs as clinicians write them: "128/82" for blood pressure, a number with its unit for the rest
(temperature in °C or °F, weight in kg or lb, height in cm or in). Readings are converted to the unit the
record keeps (`Vital.RULES`) and checked against the same plausible ranges, so a typo is refused, not stored.

Every refusal is a message for the field the reading was typed in, and never repeats the reading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from .models import Vital


@dataclass(frozen=True)
class Unit:
    """A unit a reading may be typed in: canonical value = typed value * factor + offset."""

    label: str
    factor: Decimal = Decimal(1)
    offset: Decimal = Decimal(0)

    def to_canonical(self, value: Decimal) -> Decimal:
        return value * self.factor + self.offset

    def from_canonical(self, value: Decimal) -> Decimal:
        return (value - self.offset) / self.factor


@dataclass(frozen=True)
class VitalKind:
    """One vital sign of the entry form: its label, the units it may be typed in (the first is the record's own),
    and the decimals kept once converted (0: a whole number)."""

    vital_type: str
    label: str
    units: dict[str, Unit]
    decimals: int

    @property
    def canonical_unit(self) -> str:
        return Vital.RULES[self.vital_type][0]


FAHRENHEIT = Unit("°F", Decimal(5) / Decimal(9), Decimal(-160) / Decimal(9))
KINDS: dict[str, VitalKind] = {
    kind.vital_type: kind
    for kind in (
        VitalKind("heart_rate", "Heart rate", {"bpm": Unit("bpm")}, 0),
        VitalKind("respiratory_rate", "Respiratory rate", {"breaths/min": Unit("breaths/min")}, 0),
        VitalKind("temperature", "Temperature", {"Cel": Unit("°C"), "degF": FAHRENHEIT}, 1),
        VitalKind("oxygen_saturation", "SpO2", {"%": Unit("%")}, 0),
        VitalKind("weight", "Weight", {"kg": Unit("kg"), "lb": Unit("lb", Decimal("0.45359237"))}, 2),
        VitalKind("height", "Height", {"cm": Unit("cm"), "in": Unit("in", Decimal("2.54"))}, 1),
        # Derived from weight and height when both are entered; typed only on a single vital row.
        VitalKind("bmi", "BMI", {"kg/m2": Unit("kg/m²")}, 1),
    )
}
DERIVED = frozenset({"bmi"})
# What people type after a number, for each unit code.
UNIT_SPELLINGS = {
    "c": "Cel", "°c": "Cel", "cel": "Cel", "f": "degF", "°f": "degF", "degf": "degF",
    "kg": "kg", "kgs": "kg", "lb": "lb", "lbs": "lb", "cm": "cm", "in": "in", '"': "in",
    "bpm": "bpm", "/min": "bpm", "%": "%", "breaths/min": "breaths/min", "kg/m2": "kg/m2",
}  # fmt: skip
BLOOD_PRESSURE = re.compile(r"^\s*(\d{1,3})\s*/\s*(\d{1,3})\s*(?:mm\s*hg)?\s*$", re.IGNORECASE)
NUMBER = re.compile(r"^\s*(\d{1,4}(?:[.,]\d{1,3})?)\s*(\S*)\s*$")


class ReadingError(ValueError):
    """A reading that cannot be recorded; the message says why (never what was typed)."""


def parse_blood_pressure(text: str) -> dict[str, int]:
    """ "128/82" (optionally "mmHg") as the record's {"systolic": 128, "diastolic": 82}, range-checked."""
    match = BLOOD_PRESSURE.match(text)
    if not match:
        raise ReadingError("Write blood pressure as systolic/diastolic, e.g. 128/82.")
    value = {"systolic": int(match.group(1)), "diastolic": int(match.group(2))}
    vital = Vital(vital_type=Vital.Type.BLOOD_PRESSURE, measurement_value=value, unit="mmHg")
    error = vital.clean_spoke().get("measurement_value")
    if error:
        raise ReadingError(error)
    return value


def parse_measurement(vital_type: str, text: str, unit: str | None = None) -> dict[str, Any]:
    """A number typed for `vital_type`, in `unit` (or the unit written after it, or the record's own), as the
    record's {"value": n} in the record's unit."""
    kind = KINDS[vital_type]
    match = NUMBER.match(text)
    if not match:
        raise ReadingError(f"Write a number, e.g. {_example(kind)}.")
    typed_unit = match.group(2).lower()
    if typed_unit:
        unit = UNIT_SPELLINGS.get(typed_unit)
        if unit not in kind.units:
            raise ReadingError(f"Use {' or '.join(u.label for u in kind.units.values())}.")
    unit = unit or kind.canonical_unit
    if unit not in kind.units:
        raise ReadingError(f"Use {' or '.join(u.label for u in kind.units.values())}.")
    try:
        typed = Decimal(match.group(1).replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise ReadingError(f"Write a number, e.g. {_example(kind)}.") from None
    converted = kind.units[unit].to_canonical(typed)
    _, low, high = Vital.RULES[vital_type]
    if not Decimal(str(low)) <= converted <= Decimal(str(high)):
        shown = kind.units[unit]
        bounds = (shown.from_canonical(Decimal(str(b))).quantize(Decimal(1) / 10**kind.decimals) for b in (low, high))
        raise ReadingError("Outside the plausible range {}-{} {}.".format(*bounds, shown.label))
    rounded = round(converted, kind.decimals)
    return {"value": int(rounded) if kind.decimals == 0 else float(rounded)}


def _example(kind: VitalKind) -> str:
    examples = {"heart_rate": "72", "respiratory_rate": "16", "temperature": "36.8", "oxygen_saturation": "98"}
    return examples.get(kind.vital_type, "70")


def vital_rows(
    readings: dict[str, tuple[str, str | None]], measured_at: Any
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Detail rows for the readings given ({vital type or "blood_pressure": (text, unit)}; blank ones skipped),
    and the errors by vital type."""
    rows: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    for vital_type, (text, unit) in readings.items():
        if not text or not text.strip():
            continue
        try:
            if vital_type == Vital.Type.BLOOD_PRESSURE:
                value, stored_unit = parse_blood_pressure(text), "mmHg"
            else:
                value, stored_unit = parse_measurement(vital_type, text, unit), KINDS[vital_type].canonical_unit
        except ReadingError as error:
            errors[vital_type] = str(error)
            continue
        rows.append(
            {"vital_type": vital_type, "measurement_value": value, "unit": stored_unit, "measurement_date": measured_at}
        )
    by_type = {row["vital_type"]: row["measurement_value"].get("value") for row in rows}
    if by_type.get("weight") and by_type.get("height") and "bmi" not in by_type:
        bmi = round(by_type["weight"] / (by_type["height"] / 100) ** 2, 1)
        low, high = Vital.RULES["bmi"][1:]
        if low <= bmi <= high:
            rows.append(
                {
                    "vital_type": "bmi",
                    "measurement_value": {"value": bmi},
                    "unit": "kg/m2",
                    "measurement_date": measured_at,
                }
            )
    return rows, errors
