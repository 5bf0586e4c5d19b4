"""Time-ordered UUIDs (version 7, RFC 9562) for rows written in bulk.

A random (version 4) primary key sends every insert to a random leaf of the key's B-tree; once the index is
larger than memory each insert may read a page from disk. Version 7 starts with the Unix time in milliseconds,
so rows inserted together land together at the right edge of the index. The other 74 bits are random.
"""

from __future__ import annotations

import os
import time
import uuid


def uuid7() -> uuid.UUID:
    """A new version 7 UUID: 48 bits of Unix milliseconds, the version, 74 random bits and the variant."""
    return uuid7_many(1)[0]


def uuid7_many(count: int) -> list[uuid.UUID]:
    """`count` new version 7 UUIDs sharing one clock reading and one read of the system's randomness (a bulk
    insert needs thousands; one clock and one `urandom` call per id was most of their cost)."""
    millis = time.time_ns() // 1_000_000
    head = (millis & 0xFFFF_FFFF_FFFF) << 80  # unix_ts_ms, 48 bits
    head |= 0x7 << 76  # version
    head |= 0b10 << 62  # variant (RFC 9562)
    randomness = os.urandom(10 * count)  # 80 bits per id, 74 used
    from_bytes, make = int.from_bytes, uuid.UUID
    ids = []
    for start in range(0, 10 * count, 10):
        rand = from_bytes(randomness[start : start + 10], "big")
        # rand_a (12 bits) above the variant, rand_b (62 bits) below it.
        ids.append(make(int=head | ((rand >> 62) & 0xFFF) << 64 | rand & 0x3FFF_FFFF_FFFF_FFFF))
    return ids
