"""How a webhook leaves Kura: which URLs may receive one, how a delivery is signed, and the HTTP POST itself.

A delivery is a POST of one event as JSON (the feed's shape) with these headers:

    Kura-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed with the endpoint's secret>
    Kura-Event-Id: <the event's id>      (the same on a retry or a replay: deduplicate on it)
    Kura-Event-Type: <the event's type>

Only the status code of the answer is kept (2xx is success); its body is never read or stored, and no redirect is
followed (a redirect could lead to an address the URL check would have refused).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

SIGNATURE_HEADER = "Kura-Signature"
NOT_HTTPS = "Use an https:// URL."
NOT_PUBLIC = "The URL's host is a private, loopback or reserved address; use a public one."
UNRESOLVED = "The URL's host name does not resolve."


def sign(*, secret: str, timestamp: int, body: bytes) -> str:
    """The `Kura-Signature` header value for `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _address_is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global


def url_problem(url: str) -> str | None:
    """Why Kura will not deliver to `url` under the active settings, or None.

    `KURA_WEBHOOK_HTTPS_ONLY` (on but in development) refuses plain http; `KURA_WEBHOOK_PUBLIC_ADDRESSES_ONLY`
    (on in production) resolves the host and refuses it if any address is private, loopback, link-local or
    reserved, so a partner cannot aim Kura at the clinic's own network. Checked when an endpoint is saved and
    again before every attempt (a name may resolve elsewhere later)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or (parts.scheme == "http" and settings.KURA_WEBHOOK_HTTPS_ONLY):
        return NOT_HTTPS
    if not parts.hostname:
        return "Enter a URL with a host."
    if not settings.KURA_WEBHOOK_PUBLIC_ADDRESSES_ONLY:
        return None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)}
    except (OSError, ValueError, UnicodeError):
        return UNRESOLVED
    if not addresses or not all(_address_is_public(str(address)) for address in addresses):
        return NOT_PUBLIC
    return None


@dataclass(frozen=True)
class Outcome:
    """What one attempt got: the status code (None when no answer came), how long it took, and the class of
    failure (`HTTP 503`, `ConnectionRefusedError`, `TimeoutError`, ...; empty on success)."""

    status_code: int | None
    duration_ms: int
    error_class: str

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx comes back as an HTTPError: a failed attempt


_OPENER = urllib.request.build_opener(_NoRedirects)


def post(*, url: str, body: bytes, headers: dict[str, str]) -> Outcome:
    """POST `body` to `url` and report the outcome; never raises for a failure of the receiver."""
    started = time.monotonic()
    if url_problem(url) is not None:
        return Outcome(None, 0, "AddressNotAllowed")
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 (http(s) only)
    status: int | None = None
    error = ""
    try:
        with _OPENER.open(request, timeout=settings.KURA_WEBHOOK_TIMEOUT_SECONDS) as response:
            status = response.status
    except urllib.error.HTTPError as failure:
        status = failure.code
        failure.close()
    except urllib.error.URLError as failure:
        reason = failure.reason
        error = type(reason).__name__ if isinstance(reason, BaseException) else "URLError"
    except (OSError, ValueError) as failure:
        error = type(failure).__name__
    elapsed = int((time.monotonic() - started) * 1000)
    if status is not None and not 200 <= status < 300:
        error = f"HTTP {status}"
    return Outcome(status, elapsed, error)
