import os

from django.core.asgi import get_asgi_application

from config import embedded_db

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
# A web worker connects to an embedded server only if it runs: `kura.py` and management commands start it.
embedded_db.never_start()

application = get_asgi_application()
