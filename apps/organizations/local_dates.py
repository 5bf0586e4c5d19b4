"""How the clinic writes a date: the one definition that names, pickers and the birth-date search read.

Today every clinic writes dates the US way (MM/DD/YYYY); ISO 8601 (YYYY-MM-DD) is always understood too. When
organizations carry their own locale, these functions read it from the active organization and nothing that
calls them changes.
"""

from __future__ import annotations

from datetime import date, datetime

US_DATE_FORMAT = "%m/%d/%Y"
ISO_DATE_FORMAT = "%Y-%m-%d"


def local_date_format() -> str:
    """The `strftime` format the active clinic writes dates in."""
    return US_DATE_FORMAT


def local_date_input_formats() -> tuple[str, ...]:
    """The formats a typed date is read in: the clinic's own first, then ISO."""
    return (local_date_format(), ISO_DATE_FORMAT)


def format_local_date(value: date) -> str:
    """`value` as the clinic writes it (11/02/1991)."""
    return value.strftime(local_date_format())


def parse_local_date(text: str) -> date | None:
    """The date `text` spells in one of `local_date_input_formats()`, or None when it is not a date."""
    text = text.strip()
    for fmt in local_date_input_formats():
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None
