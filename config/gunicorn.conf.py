"""gunicorn's configuration for Kura: `gunicorn -c config/gunicorn.conf.py` (command-line options override it).

Run it behind nginx (`deploy/nginx/kura.conf`): sync workers serve one request each at a time, and nginx hands
them only complete requests and takes their answers at once, so slow clients never hold a worker.

Logs: the application's request line (`config.request_log`, one JSON line per request with its request id) is
the access log, so gunicorn's own is off. gunicorn's error log (start, workers booting and exiting, signals,
requests it refused, worker timeouts) is written in the application's format (`config.log_format`,
`KURA_LOG_FORMAT`: one JSON object a line by default), on stderr beside the application's lines, and loses query
strings and exception messages (`config/log_filters.py`) like them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from gunicorn.glogging import Logger

from config.environment import KuraEnv
from config.log_filters import ExceptionsWithoutMessages, StripQueryStrings
from config.log_format import DEFAULT_FORMAT, formatter_named

# The settings read `.env` too, but only once the application loads, after gunicorn's logger is set up.
KuraEnv.read_env(Path(__file__).resolve().parent.parent / ".env", overwrite=False)

wsgi_app = "config.wsgi:application"
# The master loads the application before it binds or forks: a missing or malformed setting, or keys that
# cannot decrypt what is stored, stop the whole server with one line instead of a crash loop of workers.
preload_app = True
worker_class = "sync"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# A worker silent for this long is killed and replaced; the database's statement timeout
# (KURA_DB_STATEMENT_TIMEOUT_MS, 20 s) answers a slow request with a 503 before that.
timeout = 30
graceful_timeout = 30
# Workers are replaced after this many requests (each at its own count): memory a large batch left is returned.
max_requests = 1000
max_requests_jitter = 100
# Request line and headers, in bytes and in number; bodies are limited by the application (413).
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190

# No control socket (gunicorn's runtime management interface): Kura is managed with signals, and servers of one
# user would share its default path.
control_socket_disable = True

accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")


class QuerylessLogger(Logger):
    """gunicorn's logger writing its error log in Kura's format, without query strings ("Invalid request ...
    /path?search=<name>") or exception messages."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        formatter = formatter_named(os.environ.get("KURA_LOG_FORMAT", DEFAULT_FORMAT))
        for handler in self.error_log.handlers:
            handler.setFormatter(formatter)
        for log_filter in (StripQueryStrings(), ExceptionsWithoutMessages()):
            if not any(isinstance(existing, type(log_filter)) for existing in self.error_log.filters):
                self.error_log.addFilter(log_filter)


logger_class = QuerylessLogger
