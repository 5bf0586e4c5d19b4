"""Isolation under load: the app served by gunicorn (two workers, persistent database connections) answers
thousands of interleaved requests for two organizations and two roles from several threads
(`tests/isolation_load.py`: what is sent and what is checked).

No timing is asserted; the server's persistent connections are reused by requests of both organizations and
both roles, which is exactly what must not leak a tenant context.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests import isolation_load
from tests.live import LiveServer

pytestmark = pytest.mark.usefixtures("committed")

THREADS = 8
REQUESTS_PER_THREAD = 200  # 1,600 requests in all


@pytest.fixture
def clinics() -> dict[str, Any]:
    return isolation_load.make_clinics()


def test_interleaved_requests_of_two_organizations_and_roles_stay_isolated_and_lose_no_write(
    gunicorn_server: LiveServer, clinics: dict[str, Any]
) -> None:
    isolation_load.run(gunicorn_server, clinics, threads=THREADS, requests_per_thread=REQUESTS_PER_THREAD)
