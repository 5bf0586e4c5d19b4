"""Login pages after the password: enrol an authenticator at first login, then enter a code at every login;
and the page a locked-out login gets. All in the admin's layout."""

from __future__ import annotations

from typing import Any

import segno
from django import forms
from django.conf import settings
from django.contrib import admin
from django.core.validators import RegexValidator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django_otp import login as otp_login

from . import second_factor

DEFAULT_NEXT = "/admin/"


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=32,
        strip=True,
        validators=[RegexValidator(r"^[0-9A-Za-z ]+$", "Enter the digits from your app, or a recovery code.")],
    )


def safe_next(request: HttpRequest) -> str:
    """Where to go after the second factor: a local `next`, else the admin."""
    target = request.POST.get("next") or request.GET.get("next") or DEFAULT_NEXT
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False):
        return DEFAULT_NEXT
    return target


def with_next(url_name: str, request: HttpRequest) -> str:
    """The named page, keeping where the user was heading."""
    return f"{reverse(url_name)}?{urlencode({'next': safe_next(request)})}"


def _page(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> TemplateResponse:
    response = TemplateResponse(
        request, template, {**admin.site.each_context(request), "next": safe_next(request), **context}, status=status
    )
    response["Cache-Control"] = "no-store"
    return response


@never_cache
@csrf_protect
def verify(request: HttpRequest) -> HttpResponse:
    """The code page: a code from the authenticator app, or a recovery code."""
    user = request.user
    if not user.is_authenticated:
        return redirect(with_next("admin:login", request))
    if second_factor.session_is_verified(request):
        return HttpResponseRedirect(safe_next(request))
    if not second_factor.user_has_second_factor(user=user):
        return redirect(with_next("second-factor-enrol", request))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = second_factor.second_factor_verify(user=user, token=form.cleaned_data["code"])
        if device is not None:
            otp_login(request, device)
            return HttpResponseRedirect(safe_next(request))
        form.add_error("code", "That code is not valid. Enter the current code from your authenticator app.")
    return _page(request, "kura/second_factor_verify.html", {"form": form, "title": "Second factor"})


@never_cache
@csrf_protect
def enrol(request: HttpRequest) -> HttpResponse:
    """First login: set up an authenticator app (QR code or typed secret), confirm with a code, then see the
    recovery codes once."""
    user = request.user
    if not user.is_authenticated:
        return redirect(with_next("admin:login", request))
    if second_factor.user_has_second_factor(user=user):
        return redirect(with_next("second-factor-verify", request))
    device = second_factor.totp_device_for_enrolment(user=user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = second_factor.second_factor_enrol(user=user, device=device, token=form.cleaned_data["code"])
        if codes is not None:
            device.refresh_from_db()
            otp_login(request, device)
            return _page(
                request,
                "kura/second_factor_recovery_codes.html",
                {"codes": codes, "title": "Your recovery codes"},
            )
        form.add_error("code", "That code is not valid. Enter the current code from your authenticator app.")
    qr_svg = segno.make(device.config_url, error="m").svg_inline(scale=5, title="Authenticator set-up code")
    return _page(
        request,
        "kura/second_factor_enrol.html",
        {
            "form": form,
            "title": "Set up your second factor",
            "qr_svg": mark_safe(qr_svg),  # noqa: S308 - segno's own SVG of the otpauth URL
            "secret": second_factor.totp_secret(device),
            "issuer": settings.OTP_TOTP_ISSUER,
        },
    )


def locked_out(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """What a locked-out login attempt gets (django-axes' lockout response)."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    response = _page(request, "kura/login_locked_out.html", {"title": "Login locked", "minutes": minutes}, status=429)
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response.render()
