"""Kura's URLs plus one API path whose view fails: the 500 a bug would give, for the request-log tests only."""

from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, path

from config.urls import handler400, handler403, handler404, handler500
from config.urls import urlpatterns as kura_urlpatterns

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]

FAILING_PATH = "/api/v1/test-only/failure/"


def failing_view(request: HttpRequest) -> HttpResponse:
    # A bug that puts a patient value in the exception's message: the log shows the type, never the message.
    given_name = request.headers.get("X-Test-Value", "")
    return HttpResponse(int(given_name))


urlpatterns: list[URLPattern | URLResolver] = [
    path(FAILING_PATH.lstrip("/"), failing_view, name="test-only-failure"),
    *kura_urlpatterns,
]
