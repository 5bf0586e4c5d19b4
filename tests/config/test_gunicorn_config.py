"""The committed gunicorn configuration: the worker model nginx is configured for, a worker timeout above the
database's statement timeout and below nginx's read timeout, recycled workers and bounded request heads."""

from __future__ import annotations

import re
import runpy

from django.conf import settings

from tests.edge import NGINX_CONFIG
from tests.live import ROOT


def test_gunicorn_workers_time_out_after_the_database_and_before_nginx() -> None:
    config = runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py"))
    assert (config["worker_class"], config["preload_app"]) == ("sync", True)
    assert settings.KURA_DB_STATEMENT_TIMEOUT_MS / 1000 < config["timeout"] == 30
    [read_timeout] = re.findall(r"proxy_read_timeout (\d+)s;", NGINX_CONFIG.read_text())
    assert config["timeout"] < int(read_timeout)
    # Recycled after 1,000 to 1,100 requests each: memory a large batch left behind is given back.
    assert (config["max_requests"], config["max_requests_jitter"]) == (1000, 100)
    assert (config["limit_request_line"], config["limit_request_fields"], config["limit_request_field_size"]) == (
        8190,
        100,
        8190,
    )
    # The application's request line is the access log.
    assert (config["accesslog"], config["errorlog"]) == (None, "-")
