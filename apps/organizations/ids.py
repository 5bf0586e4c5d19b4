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
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")  # 80 bits, 74 used
    value = (millis & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 62) & 0xFFF) << 64  # rand_a, 12 bits
    value |= 0b10 << 62  # variant (RFC 9562)
    value |= rand & 0x3FFF_FFFF_FFFF_FFFF  # rand_b, 62 bits
    return uuid.UUID(int=value)
