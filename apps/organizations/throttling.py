"""Per-key rate limit for partner requests, and the per-address throttle of failed API-key attempts."""

from __future__ import annotations

import hashlib
import ipaddress
import time
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class APIKeyRateThrottle(SimpleRateThrottle):
    """Per-key rate limit for partner requests (`DEFAULT_THROTTLE_RATES["api_key"]`)."""

    scope = "api_key"

    def get_rate(self) -> str | None:
        # Read at request time, so a settings change applies without a restart of the class.
        return cast(str | None, api_settings.DEFAULT_THROTTLE_RATES.get(self.scope))

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        principal = getattr(request._request, "api_key", None)
        if principal is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": principal.id}


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
    """Failed API-key attempts from one address in the current fixed window."""

    cache_key: str
    retry_after: int

    @classmethod
    def current(cls, request: HttpRequest) -> APIKeyFailureWindow:
        seconds = max(1, int(settings.KURA_API_KEY_FAILURE_WINDOW.total_seconds()))
        now = int(time.time())
        window = now // seconds
        address = hashlib.sha256(str(client_address(request)).encode()).hexdigest()[:32]
        return cls(cache_key=f"kura:api-key-failures:{address}:{window}", retry_after=(window + 1) * seconds - now)

    def is_blocked(self) -> bool:
        failures = caches["default"].get(self.cache_key, 0)
        return int(failures) >= settings.KURA_API_KEY_FAILURE_LIMIT

    def record_failure(self) -> None:
        """Count one failure; `add` then `incr` keeps concurrent workers from losing counts."""
        cache = caches["default"]
        if not cache.add(self.cache_key, 1, timeout=self.retry_after + 1):
            try:
                cache.incr(self.cache_key)
            except ValueError:  # expired between add and incr
                cache.add(self.cache_key, 1, timeout=self.retry_after + 1)
