"""Published scoring of PHQ-4, GAD-7 and PHQ-9: every band edge, and answers that must be refused."""

import pytest
from django.core.exceptions import ValidationError

from apps.clinical.timeline import scoring


def answers_for(instrument: scoring.Instrument, total: int) -> list[int]:
    """Answers adding up to `total`, filling items from the first with the highest answer."""
    answers = []
    for _ in instrument.items:
        answer = min(instrument.max_answer, total)
        answers.append(answer)
        total -= answer
    assert total == 0
    return answers


PHQ9_EDGES = [
    (0, "minimal"),
    (4, "minimal"),
    (5, "mild"),
    (9, "mild"),
    (10, "moderate"),
    (14, "moderate"),
    (15, "moderately severe"),
    (19, "moderately severe"),
    (20, "severe"),
    (27, "severe"),
]
GAD7_EDGES = [
    (0, "minimal"),
    (4, "minimal"),
    (5, "mild"),
    (9, "mild"),
    (10, "moderate"),
    (14, "moderate"),
    (15, "severe"),
    (21, "severe"),
]
PHQ4_EDGES = [
    (0, "normal"),
    (2, "normal"),
    (3, "mild"),
    (5, "mild"),
    (6, "moderate"),
    (8, "moderate"),
    (9, "severe"),
    (12, "severe"),
]


@pytest.mark.parametrize(("total", "severity"), PHQ9_EDGES)
def test_phq9_band_edges(total, severity):
    result = scoring.score(scoring.PHQ9, answers_for(scoring.PHQ9, total))
    assert (result.total, result.severity, result.subscales) == (total, severity, {})


@pytest.mark.parametrize(("total", "severity"), GAD7_EDGES)
def test_gad7_band_edges(total, severity):
    result = scoring.score(scoring.GAD7, answers_for(scoring.GAD7, total))
    assert (result.total, result.severity) == (total, severity)


@pytest.mark.parametrize(("total", "severity"), PHQ4_EDGES)
def test_phq4_band_edges(total, severity):
    result = scoring.score(scoring.PHQ4, answers_for(scoring.PHQ4, total))
    assert (result.total, result.severity) == (total, severity)


@pytest.mark.parametrize(
    ("answers", "anxiety", "depression"),
    [
        ([0, 0, 0, 0], (0, "negative"), (0, "negative")),
        ([1, 1, 1, 1], (2, "negative"), (2, "negative")),
        ([2, 1, 0, 0], (3, "positive"), (0, "negative")),
        ([0, 0, 1, 2], (0, "negative"), (3, "positive")),
        ([3, 3, 3, 3], (6, "positive"), (6, "positive")),
    ],
)
def test_phq4_subscales_anxiety_items_1_2_and_depression_items_3_4_positive_from_3(answers, anxiety, depression):
    result = scoring.score(scoring.PHQ4, answers)
    assert result.subscales == {
        "anxiety": {"score": anxiety[0], "band": anxiety[1]},
        "depression": {"score": depression[0], "band": depression[1]},
    }


def test_published_item_counts_and_ranges():
    assert [
        (i.code, len(i.items), i.min_answer, i.max_answer, i.max_total) for i in scoring.BUILTIN_INSTRUMENTS.values()
    ] == [
        ("phq4", 4, 0, 3, 12),
        ("gad7", 7, 0, 3, 21),
        ("phq9", 9, 0, 3, 27),
    ]
    assert scoring.PHQ9.items[8].startswith("Thoughts that you would be better off dead")


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ([0] * 8, "phq9 has 9 items; 8 answers were given."),
        ([0] * 10, "phq9 has 9 items; 10 answers were given."),
        ([], "phq9 has 9 items; 0 answers were given."),
        ([0, 0, 0, 0, 0, 0, 0, 0, 4], "Item 9: answer must be between 0 and 3."),
        ([-1, 0, 0, 0, 0, 0, 0, 0, 0], "Item 1: answer must be between 0 and 3."),
        ([0, 0, None, 0, 0, 0, 0, 0, 0], "Item 3: answer must be a whole number."),
        ([0, 0, 0, True, 0, 0, 0, 0, 0], "Item 4: answer must be a whole number."),
        ([0, 0, 0, 0, 1.5, 0, 0, 0, 0], "Item 5: answer must be a whole number."),
        ([0, 0, 0, 0, 0, "2", 0, 0, 0], "Item 6: answer must be a whole number."),
        ("000000000", "Give a list with one answer per item."),
    ],
)
def test_incomplete_or_out_of_range_answers_are_refused_naming_answers(answers, message):
    with pytest.raises(ValidationError) as error:
        scoring.score(scoring.PHQ9, answers)
    assert error.value.message_dict == {"answers": [message]}


@pytest.mark.parametrize(
    ("bands", "ok"),
    [
        ([{"min": 0, "max": 3, "label": "low"}, {"min": 4, "max": 8, "label": "high"}], True),
        ([{"min": 0, "max": 3, "label": "low"}, {"min": 5, "max": 8, "label": "high"}], False),  # gap
        ([{"min": 0, "max": 4, "label": "low"}, {"min": 4, "max": 8, "label": "high"}], False),  # overlap
        ([{"min": 0, "max": 7, "label": "all"}], False),  # short of the maximum
        ([{"min": 0, "max": 9, "label": "all"}], False),  # beyond the maximum
        ([{"min": 0, "max": 8}], False),  # no label
        ([], False),
    ],
)
def test_custom_bands_must_cover_every_total_exactly(bands, ok):
    if ok:
        assert [b.label for b in scoring.validate_bands(bands, min_total=0, max_total=8)] == ["low", "high"]
    else:
        with pytest.raises(ValidationError) as error:
            scoring.validate_bands(bands, min_total=0, max_total=8)
        assert list(error.value.message_dict) == ["bands"]
