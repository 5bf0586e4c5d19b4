"""API key and link token format, generation and hashing. Keys look like `kura_<12 hex prefix>_<43 url-safe chars>`."""

import hashlib
import hmac
import re
import secrets

KEY_PATTERN = re.compile(r"^kura_(?P<prefix>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{43})$")


def generate_key() -> tuple[str, str]:
    """A new (prefix, full key) pair."""
    prefix = secrets.token_hex(6)
    return prefix, f"kura_{prefix}_{secrets.token_urlsafe(32)}"


def hash_key(raw_key: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough; a slow KDF would only add latency per request.
    return hashlib.sha256(raw_key.encode()).hexdigest()


def parse_prefix(raw_key: str) -> str | None:
    """The prefix of a well-formed key, or None for anything else."""
    match = KEY_PATTERN.match(raw_key)
    return match.group("prefix") if match else None


TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")


def generate_token() -> str:
    """A random link token (256 bits, URL-safe), e.g. for an invitation; store only `hash_key(token)`."""
    return secrets.token_urlsafe(32)


def is_token(value: str) -> bool:
    return TOKEN_PATTERN.fullmatch(value) is not None


def matches(raw_key: str, hashed: str) -> bool:
    return hmac.compare_digest(hash_key(raw_key), hashed)
