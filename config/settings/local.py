"""Development settings: the embedded database, DEBUG on, a throwaway secret key."""

from .base import *  # noqa: F403
from .base import LOGGING, env, log_format

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env("SECRET_KEY", default="django-insecure-local-development-only")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
FIELD_ENCRYPTION_KEYS = env.fernet_keys(
    "FIELD_ENCRYPTION_KEYS", default=["bG9jYWwtZGV2ZWxvcG1lbnQta2V5LW5vdC1zZWNyZXQ="]
)
# Without EMAIL_URL, invitation and password-reset e-mails are printed on the console.
if not env("EMAIL_URL", default=""):
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
# Log lines as plain text (KURA_LOG_FORMAT=json for the production format).
LOGGING["handlers"]["console"]["formatter"] = log_format("plain")
# Benchmark data (`generate_load_data`, `python -m bench`): development and tests only, never production.
INSTALLED_APPS = [*INSTALLED_APPS, "apps.loadgen"]  # noqa: F405
# Webhooks to a receiver on this machine (http://127.0.0.1:...) may be tried in development.
KURA_WEBHOOK_HTTPS_ONLY = env.bool("KURA_WEBHOOK_HTTPS_ONLY", default=False)
KURA_WEBHOOK_PUBLIC_ADDRESSES_ONLY = env.bool("KURA_WEBHOOK_PUBLIC_ADDRESSES_ONLY", default=False)
