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


@register.filter
def money(value: int | None, currency: str = "USD") -> str:
    """An amount in cents with its currency: 25000, "USD" -> "250.00 USD" (how every billing page shows money)."""
    if value is None:
        return ""
    return f"{cents(value)} {currency or 'USD'}"


@register.filter
def payment_method(value: str | None) -> str:
    """A payment's stored method ("check") as staff read it ("Check")."""
    from apps.billing.models import PaymentMethod

    return PaymentMethod(value).label if value in PaymentMethod.values else (value or "")
