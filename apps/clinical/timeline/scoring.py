"""Assessment instruments and their published scoring: PHQ-4, GAD-7, PHQ-9, and organization-defined ones.

Answers are validated before anything is scored: exactly one integer per item, each within the instrument's
answer range. Errors name the `answers` field and the item number, never the value given.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError

FREQUENCY_LABELS = ("Not at all", "Several days", "More than half the days", "Nearly every day")


@dataclass(frozen=True)
class Band:
    minimum: int
    maximum: int
    label: str


@dataclass(frozen=True)
class Subscale:
    items: tuple[int, ...]  # 0-based item positions
    bands: tuple[Band, ...]


@dataclass(frozen=True)
class Instrument:
    code: str
    name: str
    items: tuple[str, ...]
    bands: tuple[Band, ...]
    min_answer: int = 0
    max_answer: int = 3
    answer_labels: tuple[str, ...] = FREQUENCY_LABELS
    subscales: Mapping[str, Subscale] = field(default_factory=dict)
    builtin: bool = True

    @property
    def min_total(self) -> int:
        return self.min_answer * len(self.items)

    @property
    def max_total(self) -> int:
        return self.max_answer * len(self.items)


@dataclass(frozen=True)
class Score:
    total: int
    severity: str
    subscales: dict[str, dict[str, Any]]


# Kroenke et al. 2009: PHQ-4 = GAD-2 (items 1-2) + PHQ-2 (items 3-4); each subscale positive at 3 or more.
SCREEN_BANDS = (Band(0, 2, "negative"), Band(3, 6, "positive"))
PHQ4 = Instrument(
    code="phq4",
    name="PHQ-4 (Patient Health Questionnaire for anxiety and depression)",
    items=(
        "Feeling nervous, anxious or on edge",
        "Not being able to stop or control worrying",
        "Little interest or pleasure in doing things",
        "Feeling down, depressed, or hopeless",
    ),
    bands=(Band(0, 2, "normal"), Band(3, 5, "mild"), Band(6, 8, "moderate"), Band(9, 12, "severe")),
    subscales={"anxiety": Subscale((0, 1), SCREEN_BANDS), "depression": Subscale((2, 3), SCREEN_BANDS)},
)

# Spitzer et al. 2006.
GAD7 = Instrument(
    code="gad7",
    name="GAD-7 (Generalized Anxiety Disorder 7-item scale)",
    items=(
        "Feeling nervous, anxious, or on edge",
        "Not being able to stop or control worrying",
        "Worrying too much about different things",
        "Trouble relaxing",
        "Being so restless that it is hard to sit still",
        "Becoming easily annoyed or irritable",
        "Feeling afraid, as if something awful might happen",
    ),
    bands=(Band(0, 4, "minimal"), Band(5, 9, "mild"), Band(10, 14, "moderate"), Band(15, 21, "severe")),
)

# Kroenke, Spitzer & Williams 2001.
PHQ9 = Instrument(
    code="phq9",
    name="PHQ-9 (Patient Health Questionnaire, depression module)",
    items=(
        "Little interest or pleasure in doing things",
        "Feeling down, depressed, or hopeless",
        "Trouble falling or staying asleep, or sleeping too much",
        "Feeling tired or having little energy",
        "Poor appetite or overeating",
        "Feeling bad about yourself, or that you are a failure or have let yourself or your family down",
        "Trouble concentrating on things, such as reading the newspaper or watching television",
        "Moving or speaking so slowly that other people could have noticed; or the opposite, being so fidgety "
        "or restless that you have been moving around a lot more than usual",
        "Thoughts that you would be better off dead, or of hurting yourself in some way",
    ),
    bands=(
        Band(0, 4, "minimal"),
        Band(5, 9, "mild"),
        Band(10, 14, "moderate"),
        Band(15, 19, "moderately severe"),
        Band(20, 27, "severe"),
    ),
)
PHQ9_SELF_HARM_ITEM = 8  # item 9, 0-based

BUILTIN_INSTRUMENTS: dict[str, Instrument] = {i.code: i for i in (PHQ4, GAD7, PHQ9)}


def band_for(bands: Sequence[Band], value: int) -> str:
    """The label of the band containing `value` (bands are validated to cover every possible total)."""
    for band in bands:
        if band.minimum <= value <= band.maximum:
            return band.label
    raise ValueError("No band covers this value.")


def validate_answers(instrument: Instrument, answers: Any) -> list[int]:
    """Exactly one integer per item, each within the answer range; otherwise a ValidationError on `answers`."""
    if not isinstance(answers, list | tuple):
        raise ValidationError({"answers": "Give a list with one answer per item."})
    if len(answers) != len(instrument.items):
        raise ValidationError(
            {"answers": f"{instrument.code} has {len(instrument.items)} items; {len(answers)} answers were given."}
        )
    problems = []
    for number, answer in enumerate(answers, start=1):
        if isinstance(answer, bool) or not isinstance(answer, int):
            problems.append(f"Item {number}: answer must be a whole number.")
        elif not instrument.min_answer <= answer <= instrument.max_answer:
            problems.append(
                f"Item {number}: answer must be between {instrument.min_answer} and {instrument.max_answer}."
            )
    if problems:
        raise ValidationError({"answers": problems})
    return list(answers)


def score(instrument: Instrument, answers: Any) -> Score:
    """Validate and score a completed instrument: total, severity band and subscales."""
    valid = validate_answers(instrument, answers)
    total = sum(valid)
    subscales = {}
    for name, subscale in instrument.subscales.items():
        value = sum(valid[i] for i in subscale.items)
        subscales[name] = {"score": value, "band": band_for(subscale.bands, value)}
    return Score(total=total, severity=band_for(instrument.bands, total), subscales=subscales)


def validate_bands(bands: Any, *, min_total: int, max_total: int) -> tuple[Band, ...]:
    """Custom bands must cover every possible total (lowest to highest) without gaps or overlaps."""
    if not isinstance(bands, list) or not bands:
        raise ValidationError({"bands": "Give a non-empty list of bands."})
    parsed = []
    for index, band in enumerate(bands, start=1):
        if not isinstance(band, dict) or set(band) != {"min", "max", "label"}:
            raise ValidationError({"bands": f"Band {index}: give exactly min, max and label."})
        low, high, label = band["min"], band["max"], band["label"]
        if any(isinstance(v, bool) or not isinstance(v, int) for v in (low, high)) or low > high:
            raise ValidationError({"bands": f"Band {index}: min and max must be whole numbers, min <= max."})
        if not isinstance(label, str) or not 1 <= len(label.strip()) <= 50:
            raise ValidationError({"bands": f"Band {index}: label must be 1-50 characters."})
        parsed.append(Band(low, high, label.strip()))
    parsed.sort(key=lambda b: b.minimum)
    coverage = f"Bands must cover every total from {min_total} to {max_total} without gaps or overlaps."
    expected = min_total
    for band in parsed:
        if band.minimum != expected:
            raise ValidationError({"bands": coverage})
        expected = band.maximum + 1
    if expected != max_total + 1:
        raise ValidationError({"bands": coverage})
    return tuple(parsed)


def custom_instrument(definition: Any) -> Instrument:
    """An Instrument for an organization's AssessmentDefinition."""
    return Instrument(
        code=definition.code,
        name=definition.name,
        items=tuple(definition.items),
        bands=tuple(Band(b["min"], b["max"], b["label"]) for b in definition.bands),
        min_answer=definition.min_answer,
        max_answer=definition.max_answer,
        answer_labels=(),
        builtin=False,
    )
