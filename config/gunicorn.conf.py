"""gunicorn's configuration for Kura: `gunicorn -c config/gunicorn.conf.py` (command-line options override it).

Logs carry no patient values. The access log names the method, the path without its query string (a search
for a patient's name sits there), status, size and duration: no referrer (another page's URL, query string
and all) and no user agent. gunicorn's own error log loses query strings and exception messages too
(`config/log_filters.py`); the application's log (Django's) has the same filters in its settings.
"""

from __future__ import annotations

import os
from typing import Any

from gunicorn.glogging import Logger

from config.log_filters import ExceptionsWithoutMessages, StripQueryStrings

wsgi_app = "config.wsgi:application"
# The master loads the application before it binds or forks: a missing or malformed setting, or keys that
# cannot decrypt what is stored, stop the whole server with one line instead of a crash loop of workers.
preload_app = True
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# remote address, time, "METHOD /path PROTOCOL", status, response bytes, duration in milliseconds
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'


class QuerylessLogger(Logger):
    """gunicorn's logger whose error log strips query strings ("Invalid request ... /path?search=<name>",
    "Error handling request /path?...") and exception messages."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log_filter in (StripQueryStrings(), ExceptionsWithoutMessages()):
            if not any(isinstance(existing, type(log_filter)) for existing in self.error_log.filters):
                self.error_log.addFilter(log_filter)


logger_class = QuerylessLogger
