"""The one rule for "too far in the future" on recorded times."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone


def is_in_the_future(value: datetime, *, device_reading: bool = False) -> bool:
    """Later than now plus the clock drift partners are allowed (`KURA_MAX_CLOCK_SKEW`).

    Readings a device captured on its own clock get the wider `KURA_MAX_DEVICE_CLOCK_SKEW`.
    """
    skew: timedelta = settings.KURA_MAX_DEVICE_CLOCK_SKEW if device_reading else settings.KURA_MAX_CLOCK_SKEW
    return value > timezone.now() + skew
