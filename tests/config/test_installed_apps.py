"""Benchmark-only code stays out of production: `apps.loadgen` is installed in development and tests only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": "a" * 20 + "-production-secret-key-with-enough-entropy-0123456789",
    "ALLOWED_HOSTS": "kura.example.org",
    "FIELD_ENCRYPTION_KEYS": "dGVzdC1vbmx5LWZpZWxkLWVuY3J5cHRpb24ta2V5LTA=",
    "DATABASE_URL": "postgres://kura_app@db.invalid:5432/kura",
    "DATABASE_OWNER_URL": "postgres://kura_owner@db.invalid:5432/kura",
}
SHOW_APPS = "import django; django.setup(); from django.conf import settings; print(' '.join(settings.INSTALLED_APPS))"


def test_production_settings_leave_the_benchmark_data_app_out():
    result = subprocess.run(
        [sys.executable, "-c", SHOW_APPS],
        cwd=ROOT,
        env={**os.environ, **PRODUCTION},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    installed = result.stdout.split()
    assert "apps.billing" in installed
    assert "apps.loadgen" not in installed


def test_development_and_test_settings_have_it():
    assert "apps.loadgen" in settings.INSTALLED_APPS
