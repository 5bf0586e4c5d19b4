"""Test settings: same PostgreSQL roles as production; fast password hashing."""

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = "test-only-secret-key-not-used-anywhere-else-0123456789"  # noqa: S105
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
FIELD_ENCRYPTION_KEYS = env.fernet_keys(
    "FIELD_ENCRYPTION_KEYS", default=["dGVzdC1vbmx5LWZpZWxkLWVuY3J5cHRpb24ta2V5LTA="]
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Benchmark data (`generate_load_data`, `python -m bench`): development and tests only, never production.
INSTALLED_APPS = [*INSTALLED_APPS, "apps.loadgen"]  # noqa: F405
# The webhook tests run a real receiver on loopback; the URL checks are tested with production's values
# (`override_settings`).
KURA_WEBHOOK_HTTPS_ONLY = False
KURA_WEBHOOK_PUBLIC_ADDRESSES_ONLY = False
