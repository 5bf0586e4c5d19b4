"""The per-key rate limit: counted in PostgreSQL, shared by every worker, announced in headers.

Request-level tests run with real commits (`committed`): the tenant middleware rolls back its transaction on
error responses, and a count kept inside it would vanish on exactly the answers that must count.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from django.core.cache import cache
from django.db import connections
from django.utils import timezone

from apps.organizations.models import RateLimitWindow
from tests.conftest import api_client, issue_key, make_organization
from tests.live import THROTTLED_RATE, LiveServer, key_headers

pytestmark = pytest.mark.usefixtures("committed")


@pytest.fixture
def key() -> str:
    return issue_key(make_organization("org-a"))


def test_a_success_announces_the_limit_what_remains_and_when_the_window_resets(key, settings):
    settings.API_KEY_RATE = "3/min"
    client = api_client(key)

    first, second = client.get("/api/v1/patients/"), client.get("/api/v1/patients/")

    assert (first.status_code, second.status_code) == (200, 200)
    assert (first["RateLimit-Limit"], first["RateLimit-Remaining"]) == ("3", "2")
    assert (second["RateLimit-Limit"], second["RateLimit-Remaining"]) == ("3", "1")
    assert 1 <= int(second["RateLimit-Reset"]) <= 60
    assert "Retry-After" not in second


def test_past_the_limit_a_429_in_the_error_shape_says_when_to_retry(key, settings):
    settings.API_KEY_RATE = "2/min"
    client = api_client(key)

    codes = [client.get("/api/v1/patients/").status_code for _ in range(2)]
    refused = client.get("/api/v1/patients/")

    assert codes == [200, 200]
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "throttled"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused["Retry-After"] == refused["RateLimit-Reset"]
    assert refused["RateLimit-Remaining"] == "0"


def test_error_responses_count_although_their_transaction_is_rolled_back(key, settings):
    settings.API_KEY_RATE = "3/min"
    client = api_client(key)

    missing = [client.get(f"/api/v1/patients/{uuid.uuid4()}/").status_code for _ in range(3)]
    after = client.get("/api/v1/patients/")

    assert missing == [404, 404, 404]
    assert after.status_code == 429


def test_a_new_window_starts_once_the_period_has_passed(key, settings):
    settings.API_KEY_RATE = "1/min"
    client = api_client(key)
    assert [client.get("/api/v1/patients/").status_code for _ in range(2)] == [200, 429]

    RateLimitWindow.objects.update(window_started_at=timezone.now() - timedelta(seconds=61))
    again = client.get("/api/v1/patients/")

    assert again.status_code == 200
    assert again["RateLimit-Remaining"] == "0"
    assert RateLimitWindow.objects.get().hits == 1


def test_each_key_has_its_own_window(key, settings):
    settings.API_KEY_RATE = "1/min"
    other = issue_key(make_organization("org-b"))

    assert api_client(key).get("/api/v1/patients/").status_code == 200
    assert api_client(key).get("/api/v1/patients/").status_code == 429
    assert api_client(other).get("/api/v1/patients/").status_code == 200


def test_the_limit_holds_across_two_gunicorn_workers(throttled_gunicorn_server: LiveServer, key):
    """Twice the limit, sent from several threads so both workers answer: exactly the limit succeeds."""
    url = f"{throttled_gunicorn_server.url}/api/v1/patients/"
    headers = key_headers(key)

    def send(_: int) -> int:
        with requests.Session() as session:
            return session.get(url, headers=headers, timeout=60).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = Counter(pool.map(send, range(2 * THROTTLED_RATE)))

    assert codes == Counter({200: THROTTLED_RATE, 429: THROTTLED_RATE})


def test_the_cache_is_shared_in_postgresql_and_counts_atomically():
    """`incr` from two connections at once loses no count, and the value sits in PostgreSQL for every worker."""
    cache.add("failed-logins", 0, timeout=300)
    start = threading.Barrier(2)

    def count() -> None:
        start.wait()
        try:
            for _ in range(50):
                cache.incr("failed-logins")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=count) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert cache.get("failed-logins") == 100
    with connections["owner"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM kura_cache WHERE cache_key LIKE %s", ["%failed-logins"])
        assert cursor.fetchone()[0] == 1
