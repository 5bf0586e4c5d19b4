"""Validation messages that never repeat the submitted value.

Django, DRF and django-filter put the input in some default messages (`"{input}" is not a valid choice.`,
`Select a valid choice. %(value)s is not one of the available choices.`, `“%(value)s” is not a valid UUID.`):
a value typed into the wrong field or a search box can be a patient's name, and error messages reach logs,
screens and partners. `install()` (run once when the app registry is ready) rewrites every such default
message of every field class of the three frameworks, and of the model fields already built, to name the rule
without the value. Field classes added later that put the input in a message are caught by
`tests/organizations/test_bad_input.py`, which walks them all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import django_filters.fields  # noqa: F401  # its field classes, loaded so that they are rewritten too
import rest_framework.relations  # noqa: F401  # likewise DRF's related fields
from django import forms
from django.apps import apps
from django.db import models
from rest_framework import fields as drf_fields

# A placeholder the input fills: Django's %(value)s / %(value)r / %(pk)s, DRF's {input} / {value} / {pk_value}.
ECHOES_INPUT = re.compile(r"%\((?:value|pk)\)[sr]|\{(?:input|value|pk_value)\}")

_REWRITES = [
    (re.compile(r"^[“\"]%\(value\)s[”\"] value"), "The value"),  # “%(value)s” value must be an integer.
    (re.compile(r"^(?:Value )?[“\"]?(?:%\((?:value|pk)\)[sr]|\{input\})[”\"]?"), "This value"),
    (re.compile(r" [“\"]\{pk_value\}[”\"]"), ""),  # Invalid pk "{pk_value}" - object does not exist.
    (re.compile(r"\{slug_name\}=\{value\}"), "this {slug_name}"),
    (re.compile(r"%\(field\)s %\(value\)r"), "this %(field)s"),  # ForeignKey: ... with id 'x' is not ...
    (re.compile(r"%\(value\)s is not one"), "That choice is not one"),  # as Django's ModelChoiceField says
]


def without_input(message: str) -> str:
    """`message` with the submitted value's placeholder replaced by a neutral word."""
    for pattern, replacement in _REWRITES:
        message = pattern.sub(replacement, message)
    return message


def _classes(base: type) -> Iterator[type]:
    yield base
    for subclass in base.__subclasses__():
        yield from _classes(subclass)


def field_classes() -> Iterator[type]:
    """Every field class of Django's forms and models, DRF and django-filter (its fields subclass Django's)."""
    for base in (forms.Field, models.Field, drf_fields.Field):
        yield from _classes(base)


def _rewrite(messages: dict[str, Any]) -> None:
    for key, message in messages.items():
        if ECHOES_INPUT.search(str(message)):
            messages[key] = without_input(str(message))


def install() -> None:
    """Rewrite the echoing default messages of every field class, and of every model field already built."""
    for cls in field_classes():
        own = cls.__dict__.get("default_error_messages")
        if own:
            _rewrite(own)
    for model in apps.get_models(include_auto_created=True):
        for field in model._meta.get_fields(include_hidden=True):
            if isinstance(field, models.Field):
                _rewrite(field.error_messages)
