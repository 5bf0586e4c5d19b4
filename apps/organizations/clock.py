"""The one rule for "too far in the future" on recorded times."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.utils import timezone


def is_in_the_future(value: datetime) -> bool:
    """Later than now plus the clock drift devices and partners are allowed (`KURA_MAX_CLOCK_SKEW`)."""
    return value > timezone.now() + settings.KURA_MAX_CLOCK_SKEW
