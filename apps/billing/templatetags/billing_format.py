"""Template filters for money."""

from django import template

register = template.Library()


@register.filter
def cents(value: int | None) -> str:
    """12345 -> "123.45", -500 -> "-5.00" (with thousands separators)."""
    if value is None:
        return ""
    sign = "-" if value < 0 else ""
    whole, rest = divmod(abs(int(value)), 100)
    return f"{sign}{whole:,}.{rest:02d}"
