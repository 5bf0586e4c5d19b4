"""The WSGI application. Loading it checks, as the runtime role, that FIELD_ENCRYPTION_KEYS decrypt what is
stored; a bad configuration stops the process with one line (config/environment.py) before it serves anything."""

import os

from django.core.wsgi import get_wsgi_application

from config import embedded_db

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
# A web worker connects to an embedded server only if it runs: `kura.py` and management commands start it.
embedded_db.never_start()

application = get_wsgi_application()

from apps.organizations.key_canary import refuse_unusable_field_keys  # noqa: E402  (needs the apps loaded)

refuse_unusable_field_keys()
