from typing import Any, cast

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
