"""The one rule for "too far in the future" on recorded times."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone


def latest_allowed(*, device_reading: bool = False) -> datetime:
    """Now plus the clock drift partners are allowed (`KURA_MAX_CLOCK_SKEW`): the latest acceptable time.

    Readings a device captured on its own clock get the wider `KURA_MAX_DEVICE_CLOCK_SKEW`. A batch can take
    this once and compare every row with it.
    """
    skew: timedelta = settings.KURA_MAX_DEVICE_CLOCK_SKEW if device_reading else settings.KURA_MAX_CLOCK_SKEW
    return timezone.now() + skew


def is_in_the_future(value: datetime, *, device_reading: bool = False) -> bool:
    """Later than `latest_allowed()`."""
    return value > latest_allowed(device_reading=device_reading)
