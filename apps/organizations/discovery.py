"""Optional per-app modules that the foundation calls into (demo data, patient-page panels)."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterator
from types import ModuleType

from django.apps import apps


def kura_app_modules(name: str) -> Iterator[ModuleType]:
    """Each Kura app's `<app>.<name>` module, where it has one, in INSTALLED_APPS order."""
    for app_config in apps.get_app_configs():
        module_name = f"{app_config.name}.{name}"
        if app_config.name.startswith("apps.") and importlib.util.find_spec(module_name) is not None:
            yield importlib.import_module(module_name)
