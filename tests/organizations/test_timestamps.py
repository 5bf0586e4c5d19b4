"""Timestamps read from PostgreSQL are the instants stored, as aware UTC datetimes, whatever the session's time
zone; values Python cannot hold in UTC raise DataError."""

import datetime as dt

import pytest
from django.db import DataError, connection, transaction

from config.db_backend.base import IsoTimestamptzLoader

STORED = [
    "2026-11-22 10:23:27.198738+00",
    "2026-11-22 10:23:27+00",
    "2026-11-22 10:23:27.19+00",
    "2026-03-29 01:30:00.5+00",
    "1890-01-01 00:00:00+00",
    "0001-01-01 00:00:00+00",
    "9999-12-31 23:59:59.999999+00",
]


def read(literal: str, time_zone: str = "UTC") -> tuple[dt.datetime, str]:
    """The value as the app reads it, and PostgreSQL's own rendering of it in UTC."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('TimeZone', %s, true)", [time_zone])
        cursor.execute(
            "SELECT v, to_char(v AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') FROM (SELECT %s::timestamptz) t(v)",
            [literal],
        )
        value, utc_text = cursor.fetchone()
    return value, utc_text


@pytest.mark.django_db
def test_the_connection_reads_timestamps_with_the_iso_loader():
    connection.ensure_connection()
    loader = connection.connection.adapters.get_loader(connection.connection.adapters.types["timestamptz"].oid, 0)
    assert issubclass(loader, IsoTimestamptzLoader)
    assert loader.timezone is dt.UTC


@pytest.mark.django_db
@pytest.mark.parametrize("literal", STORED)
def test_a_timestamp_reads_as_the_stored_instant_in_utc(literal):
    value, utc_text = read(literal)
    assert value.tzinfo is dt.UTC
    assert value.strftime("%Y-%m-%d %H:%M:%S.%f").lstrip("0") == utc_text.lstrip("0")


@pytest.mark.django_db
@pytest.mark.parametrize("time_zone", ["Asia/Kolkata", "America/St_Johns", "Europe/Amsterdam"])
def test_a_session_in_another_time_zone_reads_the_same_instant(time_zone):
    value, _ = read("1900-06-01 12:00:00.25+00", time_zone)
    assert value == dt.datetime(1900, 6, 1, 12, 0, 0, 250000, tzinfo=dt.UTC)
    assert value.tzinfo is dt.UTC
    value, _ = read("2026-11-22 10:23:27.198738+00", time_zone)
    assert value == dt.datetime(2026, 11, 22, 10, 23, 27, 198738, tzinfo=dt.UTC)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("literal", "time_zone"),
    [
        ("infinity", "UTC"),
        ("-infinity", "UTC"),
        ("0044-03-15 12:00:00+00 BC", "UTC"),
        # Year 1 in a session east of UTC but before year 1 in UTC, and year 9999 west of UTC but after it
        # (Django's own loader returns a shifted instant for both).
        ("0001-01-01 03:00:00+05:53:28", "Asia/Kolkata"),
        ("9999-12-31 22:00:00-05", "America/New_York"),
    ],
)
def test_values_python_cannot_hold_in_utc_raise_data_error(literal, time_zone):
    with pytest.raises(DataError):
        read(literal, time_zone)
