"""Accounts: a login that asks for a second factor, and the two-factor page.

Two-factor login is optional (django-otp): an authenticator app (TOTP), enrolled by
scanning a QR code drawn here, plus single-use backup codes (otp_static). A user
with a confirmed device must give a code with their password, on the registry's
login page and the admin's; a refused code counts as a failed login for
django-axes. Password change and reset are Django's views with the registry's
templates (registry/urls.py); the session limits are registry.middleware's.
"""

from __future__ import annotations

import base64
import re

import django_otp
import segno
from django import forms
from django.contrib import messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import redirect, render
from django_otp import user_has_device
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

#: Backup codes given at enrolment and at each regeneration.
BACKUP_CODE_COUNT = 10
#: An authenticator app's code; anything else is tried as a backup code.
TOTP_CODE = re.compile(r"\d{6}")

CODE_MISSING = (
    "This account uses two-factor login: enter the 6-digit code from your "
    "authenticator app, or one of your backup codes."
)
CODE_WRONG = "That authentication code is wrong or has expired."
CODE_THROTTLED = "Too many wrong codes in a row: wait a minute, then try again."


def normalise_code(code: str) -> str:
    """Return `code` without spaces or hyphens, in lower case."""
    return re.sub(r"[\s-]", "", code or "").lower()


def check_code(user, code: str) -> Device:
    """Return the user's confirmed device that accepts `code` (used up if a backup
    code); raise ValidationError otherwise.

    Six digits are checked against the authenticator app, anything else against
    the backup codes, so a wrong code counts against one device's throttle only.
    """
    code = normalise_code(code)
    if not code:
        raise ValidationError(CODE_MISSING, code="code_missing")
    model = TOTPDevice if TOTP_CODE.fullmatch(code) else StaticDevice
    error = CODE_WRONG
    # The throttle's failure count must be saved, so the error is raised after
    # the block rather than inside it (which would roll the count back).
    with transaction.atomic():
        devices = model.objects.devices_for_user(user, confirmed=True)
        for device in devices.select_for_update():
            if not device.verify_is_allowed()[0]:
                error = CODE_THROTTLED
            elif device.verify_token(code):
                return device
    raise ValidationError(error, code="code_wrong")


def qr_data_uri(text: str) -> str:
    """Return `text` as a QR code in an SVG data: URI, drawn here, not by a service."""
    return segno.make(text, error="m").svg_data_uri(scale=5, border=2)


def spaced_secret(device: TOTPDevice) -> str:
    """Return the device's key in base32 in groups of four, for typing into an app."""
    secret = base64.b32encode(device.bin_key).decode()
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


# --- services -----------------------------------------------------------------


def has_two_factor(user) -> bool:
    """Return True when the user has a confirmed authenticator app."""
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).exists()


def pending_totp_device(user) -> TOTPDevice:
    """Return the user's authenticator app awaiting its first code, made if need be.

    The same key is kept until it is confirmed, so reloading the set-up page does
    not invalidate a QR code the user has already scanned.
    """
    device = TOTPDevice.objects.devices_for_user(user, confirmed=False).first()
    return device or TOTPDevice.objects.create(
        user=user, name="Authenticator app", confirmed=False
    )


def new_backup_codes(user) -> list[str]:
    """Replace the user's backup codes with BACKUP_CODE_COUNT new ones; return them."""
    device, _ = StaticDevice.objects.get_or_create(
        user=user, defaults={"name": "Backup codes", "confirmed": True}
    )
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    device.token_set.bulk_create(StaticToken(device=device, token=c) for c in codes)
    return codes


def enable_two_factor(device: TOTPDevice) -> list[str]:
    """Confirm the authenticator app and return the user's first backup codes."""
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=device.user).exclude(pk=device.pk).delete()
    return new_backup_codes(device.user)


def disable_two_factor(user) -> None:
    """Delete the user's authenticator apps and backup codes."""
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()


# --- forms --------------------------------------------------------------------


def code_field(**kwargs) -> forms.CharField:
    """Return a text field for a one-time code (no autocorrect, no history)."""
    attrs = {
        "autocomplete": "one-time-code",
        "autocapitalize": "none",
        "spellcheck": "false",
        "inputmode": "text",
    }
    return forms.CharField(max_length=20, widget=forms.TextInput(attrs=attrs), **kwargs)


class TwoFactorLoginMixin(forms.Form):
    """After the password, ask a user who has two-factor login for a code.

    A missing or refused code is a failed login: django-axes hears of it through
    ``user_login_failed`` and locks the account as it would for a wrong password.
    """

    otp_token = code_field(
        label="Authentication code",
        required=False,
        help_text="Only if you have set up two-factor login: the 6-digit code "
        "from your authenticator app, or one of your backup codes.",
    )

    def clean(self):
        cleaned_data = super().clean()
        user = self.get_user()
        if user is not None and user_has_device(user):
            try:
                device = check_code(user, cleaned_data.get("otp_token", ""))
            except ValidationError:
                self.user_cache = None
                user_login_failed.send(
                    sender=type(self),
                    credentials={"username": cleaned_data.get("username")},
                    request=self.request,
                )
                raise
            # django-otp's user_logged_in receiver keeps it in the session.
            user.otp_device = device
        return cleaned_data


class LoginForm(TwoFactorLoginMixin, AuthenticationForm):
    """The registry's login: username, password and, with two-factor, a code."""


class AdminLoginForm(TwoFactorLoginMixin, AdminAuthenticationForm):
    """The admin's login (staff only), with the same code check."""


class ConfirmDeviceForm(forms.Form):
    """The first code from a newly scanned authenticator app."""

    code = code_field(label="Code from the app")

    def __init__(self, *args, device: TOTPDevice, **kwargs):
        super().__init__(*args, **kwargs)
        self.device = device

    def clean_code(self):
        code = normalise_code(self.cleaned_data["code"])
        if not self.device.verify_token(code):
            raise ValidationError(
                "That code does not match: check the app shows CRC registry and "
                "the clock of your phone is right, then enter the current code."
            )
        return code


class CodeForm(forms.Form):
    """A current code (app or backup) that authorises a two-factor change."""

    code = code_field(
        label="Authentication code",
        help_text="From your authenticator app, or one of your backup codes.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.device = None

    def clean_code(self):
        self.device = check_code(self.user, self.cleaned_data["code"])
        return self.cleaned_data["code"]


# --- views --------------------------------------------------------------------

#: What a current code can do on the two-factor page of an enrolled user.
ACTIONS = ("verify", "regenerate", "disable")


def two_factor(request):
    """Set up two-factor login, or see it, renew its backup codes or turn it off."""
    if has_two_factor(request.user):
        return _two_factor_manage(request)
    return _two_factor_setup(request)


def _two_factor_setup(request):
    device = pending_totp_device(request.user)
    form = ConfirmDeviceForm(request.POST or None, device=device)
    if form.is_valid():
        codes = enable_two_factor(device)
        django_otp.login(request, device)
        messages.success(request, "Two-factor login is on.")
        return _backup_codes(request, codes)
    ctx = {
        "form": form,
        "qr": qr_data_uri(device.config_url),
        "secret": spaced_secret(device),
        "backup_code_count": BACKUP_CODE_COUNT,
    }
    return render(request, "accounts/two_factor_setup.html", ctx)


def _two_factor_manage(request):
    user = request.user
    action = request.POST.get("action") if request.method == "POST" else None
    forms_ = {
        name: CodeForm(request.POST if name == action else None, user=user, prefix=name)
        for name in ACTIONS
    }
    form = forms_.get(action)
    if form is not None and form.is_valid():
        if action == "disable":
            disable_two_factor(user)
            messages.success(request, "Two-factor login is off.")
            return redirect("two_factor")
        django_otp.login(request, form.device)
        if action == "regenerate":
            return _backup_codes(request, new_backup_codes(user))
        messages.success(request, "This session is verified.")
        return redirect("two_factor")
    backup = StaticDevice.objects.filter(user=user).first()
    ctx = {
        "forms": forms_,
        "device": TOTPDevice.objects.devices_for_user(user, confirmed=True).first(),
        "backup_codes_left": backup.token_set.count() if backup else 0,
        "verified": user.is_verified(),
        "backup_code_count": BACKUP_CODE_COUNT,
    }
    return render(request, "accounts/two_factor.html", ctx)


def _backup_codes(request, codes: list[str]):
    """Show new backup codes: this page is the only place the registry shows them."""
    return render(request, "accounts/backup_codes.html", {"codes": codes})
