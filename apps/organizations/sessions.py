"""Session lifetimes: a session ends after `KURA_SESSION_IDLE_TIMEOUT` without a request, and
`KURA_SESSION_MAX_AGE` after login whatever the activity."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.contrib.sessions.backends.base import SessionBase
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

SESSION_STARTED_KEY = "kura_session_started"
SESSION_LAST_SEEN_KEY = "kura_session_last_seen"
# The last-seen time is written at most this often (seconds), so most requests do not rewrite the session.
LAST_SEEN_RESOLUTION = 60


@receiver(user_logged_in, dispatch_uid="kura_session_started")
def _stamp_login(sender: object, request: HttpRequest | None, **kwargs: object) -> None:
    if request is not None and hasattr(request, "session"):
        now = int(time.time())
        request.session[SESSION_STARTED_KEY] = now
        request.session[SESSION_LAST_SEEN_KEY] = now


def session_expired(session: SessionBase, now: int) -> bool:
    """Whether a signed-in session has been idle too long or lived too long (or carries no login time)."""
    started = session.get(SESSION_STARTED_KEY)
    last_seen = session.get(SESSION_LAST_SEEN_KEY)
    if not isinstance(started, int) or not isinstance(last_seen, int):
        return True
    idle = settings.KURA_SESSION_IDLE_TIMEOUT.total_seconds()
    max_age = settings.KURA_SESSION_MAX_AGE.total_seconds()
    return now - last_seen > idle or now - started > max_age


class SessionTimeoutMiddleware:
    """Logs out an expired session before anything reads its user."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = int(time.time())
            if session_expired(request.session, now):
                logout(request)
            elif now - int(request.session[SESSION_LAST_SEEN_KEY]) >= LAST_SEEN_RESOLUTION:
                request.session[SESSION_LAST_SEEN_KEY] = now
        return self.get_response(request)
