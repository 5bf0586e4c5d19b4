"""Version 7 UUIDs: layout per RFC 9562 and ordered by creation time."""

import time
import uuid

from apps.organizations.ids import uuid7, uuid7_many


def test_uuid7_has_version_variant_and_the_current_time():
    before = time.time_ns() // 1_000_000
    value = uuid7()
    after = time.time_ns() // 1_000_000
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert before <= value.int >> 80 <= after


def test_uuid7_values_are_unique_and_ordered_across_milliseconds():
    earlier = [uuid7() for _ in range(1000)]
    time.sleep(0.002)
    later = [uuid7() for _ in range(1000)]
    assert len(set(earlier + later)) == 2000
    assert max(earlier) < min(later)


def test_uuid7_many_makes_distinct_version_7_ids_of_the_current_time_in_one_call():
    before = time.time_ns() // 1_000_000
    values = uuid7_many(5000)
    after = time.time_ns() // 1_000_000
    assert len(set(values)) == 5000
    assert {value.version for value in values} == {7}
    assert {value.variant for value in values} == {uuid.RFC_4122}
    assert all(before <= value.int >> 80 <= after for value in values)
    # 74 random bits each: the bits below the timestamp differ between ids, not only in their last bytes.
    assert len({value.int >> 64 & 0xFFF for value in values}) > 1000
