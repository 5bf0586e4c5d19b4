"""The one future-time rule: partners' clocks may drift a little, devices' a little more."""

from datetime import timedelta

from django.test import override_settings
from django.utils import timezone

from apps.organizations.clock import is_in_the_future


@override_settings(KURA_MAX_CLOCK_SKEW=timedelta(minutes=5), KURA_MAX_DEVICE_CLOCK_SKEW=timedelta(minutes=10))
def test_devices_get_the_wider_skew_and_nothing_beyond_it_passes():
    now = timezone.now()
    assert not is_in_the_future(now + timedelta(minutes=4))
    assert is_in_the_future(now + timedelta(minutes=8))
    assert not is_in_the_future(now + timedelta(minutes=8), device_reading=True)
    assert is_in_the_future(now + timedelta(minutes=11), device_reading=True)
