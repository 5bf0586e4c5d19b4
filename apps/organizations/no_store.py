"""No copy of a response with patient data in any cache: browsers (the back button, a shared computer's disk),
proxies and CDNs alike."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import add_never_cache_headers

API_PATH_PREFIX = "/api/"


def may_hold_patient_data(request: HttpRequest) -> bool:
    """Every API response, and every response to a staff session or a partner key."""
    if request.path_info.startswith(API_PATH_PREFIX) or getattr(request, "api_key", None) is not None:
        return True
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated)


class NoStoreMiddleware:
    """`Cache-Control: no-store` (Django's never-cache headers: `max-age=0, no-cache, no-store, must-revalidate,
    private`) on responses that may hold patient data. Static files are answered earlier by WhiteNoise and keep
    their long-lived caching."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if may_hold_patient_data(request):
            add_never_cache_headers(response)
        return response
