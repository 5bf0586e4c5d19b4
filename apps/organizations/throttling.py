"""Per-key rate limit for partner requests, counted in PostgreSQL so every worker and server shares it.

Each API key has one window (`RateLimitWindow`) that starts with its first request and lasts the rate's
period (`API_KEY_RATE`, e.g. `600/min`). One atomic statement counts a request and starts a new window once
the old one has ended, so two workers can never both take the last request of a window. The database's clock
decides, the same for every worker.

The tenant middleware counts a request *before* it opens the request's transaction, which it rolls back on
any error response: a count written inside it would be lost on the very answers (429s, 4xx) that must count.

Answers carry `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds until the window ends;
the IETF httpapi rate-limit header draft's names); a refused request is a 429 with `Retry-After`.

Failed API-key attempts are counted per client address (`APIKeyFailureWindow`) by the same statement, in a
window of their own.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.http import HttpRequest, HttpResponseBase, JsonResponse

from config.environment import RATE_PERIOD_SECONDS

from .api_errors import error_response

# Counts the request and returns the window's hits and the seconds left in it. `w.` in SET and RETURNING
# read the row as it was before this statement's update.
_HIT_SQL = """
INSERT INTO organizations_ratelimitwindow AS w (key, window_started_at, hits)
VALUES (%(key)s, statement_timestamp(), 1)
ON CONFLICT (key) DO UPDATE SET
    hits = CASE WHEN w.window_started_at + %(period)s > statement_timestamp() THEN w.hits + 1 ELSE 1 END,
    window_started_at = CASE WHEN w.window_started_at + %(period)s > statement_timestamp()
                             THEN w.window_started_at ELSE statement_timestamp() END
RETURNING hits, extract(epoch FROM window_started_at + %(period)s - statement_timestamp())
"""

# The hits of a window still running (none once it has ended), and its seconds left; counts nothing.
_PEEK_SQL = """
SELECT hits, extract(epoch FROM window_started_at + %(period)s - statement_timestamp())
FROM organizations_ratelimitwindow WHERE key = %(key)s AND window_started_at + %(period)s > statement_timestamp()
"""


@dataclass(frozen=True)
class Rate:
    requests: int
    period: timedelta


@dataclass(frozen=True)
class RateLimitState:
    """Where one caller stands in its current window after counting this request."""

    limit: int
    hits: int
    reset_seconds: int

    @property
    def exceeded(self) -> bool:
        return self.hits > self.limit

    @property
    def remaining(self) -> int:
        return max(self.limit - self.hits, 0)


def parse_rate(rate: str) -> Rate:
    """`"600/min"` → 600 requests per 60 seconds (periods: s, m/min, h/hour, d/day)."""
    count, _, unit = rate.partition("/")
    try:
        return Rate(requests=int(count), period=timedelta(seconds=RATE_PERIOD_SECONDS[unit.strip().lower()]))
    except (KeyError, ValueError) as error:
        raise ImproperlyConfigured(f"A rate is '<requests>/<s|min|hour|day>', not {rate!r}.") from error


def rate_limit_hit(*, key: str, rate: Rate) -> RateLimitState:
    """Count one request of `key` in its current window (atomic, shared by every worker)."""
    params: dict[str, Any] = {"key": key, "period": rate.period}
    with connection.cursor() as cursor:
        cursor.execute(_HIT_SQL, params)
        hits, seconds_left = cursor.fetchone()
    return RateLimitState(limit=rate.requests, hits=int(hits), reset_seconds=max(math.ceil(seconds_left), 1))


def rate_limit_peek(*, key: str, rate: Rate) -> RateLimitState:
    """Where `key` stands in its current window, without counting a request."""
    params: dict[str, Any] = {"key": key, "period": rate.period}
    with connection.cursor() as cursor:
        cursor.execute(_PEEK_SQL, params)
        row = cursor.fetchone()
    hits, seconds_left = row if row is not None else (0, rate.period.total_seconds())
    return RateLimitState(limit=rate.requests, hits=int(hits), reset_seconds=max(math.ceil(seconds_left), 1))


def api_key_rate_hit(*, api_key_id: uuid.UUID) -> RateLimitState:
    """Count one request of a partner key against `API_KEY_RATE` (read per request)."""
    return rate_limit_hit(key=f"api_key:{api_key_id}", rate=parse_rate(settings.API_KEY_RATE))


def add_rate_limit_headers(response: HttpResponseBase, state: RateLimitState) -> None:
    response["RateLimit-Limit"] = str(state.limit)
    response["RateLimit-Remaining"] = str(state.remaining)
    response["RateLimit-Reset"] = str(state.reset_seconds)


def too_many_requests(state: RateLimitState) -> JsonResponse:
    """The 429 for a caller past its limit, telling it when to retry."""
    response = error_response(
        429, "throttled", f"Too many requests for this API key; retry in {state.reset_seconds} seconds."
    )
    add_rate_limit_headers(response, state)
    response["Retry-After"] = str(state.reset_seconds)
    return response


def client_address(request: HttpRequest) -> str | None:
    """The caller's address, one answer for the login lockout and the API-key failure throttle (None when
    the request carries no valid one)."""
    for header in (settings.KURA_CLIENT_ADDRESS_HEADER, "REMOTE_ADDR"):
        value = str(request.META.get(header) or "").strip()
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            continue
    return None


@dataclass(frozen=True)
class APIKeyFailureWindow:
    """Failed API-key attempts from one address (`KURA_API_KEY_FAILURE_LIMIT` per
    `KURA_API_KEY_FAILURE_WINDOW`), counted like requests; the address is kept only as a hash."""

    key: str
    rate: Rate

    @classmethod
    def current(cls, request: HttpRequest) -> APIKeyFailureWindow:
        address = hashlib.sha256(str(client_address(request)).encode()).hexdigest()[:32]
        rate = Rate(requests=settings.KURA_API_KEY_FAILURE_LIMIT, period=settings.KURA_API_KEY_FAILURE_WINDOW)
        return cls(key=f"api_key_failures:{address}", rate=rate)

    def blocked(self) -> RateLimitState | None:
        """The window's state when this address has used up its failures, else None."""
        state = rate_limit_peek(key=self.key, rate=self.rate)
        return state if state.hits >= self.rate.requests else None

    def record_failure(self) -> None:
        rate_limit_hit(key=self.key, rate=self.rate)
