"""The user's API tokens page: make (key shown once), list and revoke tokens."""

from __future__ import annotations

import datetime

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from registry.api import tokens
from registry.models import ApiToken

#: Lifetimes offered for a new token, in days (None: until revoked).
LIFETIMES = [
    ("30", "30 days"),
    ("90", "90 days"),
    ("365", "1 year"),
    ("", "Until revoked"),
]


class NewTokenForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=100,
        help_text="What will use it, e.g. 'REDCap sync' or 'R scripts on my laptop'.",
    )
    lifetime = forms.ChoiceField(
        label="Valid for", choices=LIFETIMES, initial="90", required=False
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def expires_at(self) -> datetime.datetime | None:
        """Return when the new token stops working (None: until revoked)."""
        days = self.cleaned_data["lifetime"]
        return timezone.now() + datetime.timedelta(days=int(days)) if days else None


@require_http_methods(["GET", "POST"])
def api_tokens(request):
    """List the user's tokens and make a new one (its key shown on this page once)."""
    user = request.user
    blocked = tokens.two_factor_missing(user)
    form = NewTokenForm(request.POST or None)
    key = None
    if request.method == "POST" and not blocked and form.is_valid():
        if ApiToken.objects.filter(user=user).usable().count() >= tokens.MAX_TOKENS:
            form.add_error(
                None,
                f"You have {tokens.MAX_TOKENS} tokens in use: revoke one first.",
            )
        else:
            token, key = tokens.create_token(
                user=user, name=form.cleaned_data["name"], expires_at=form.expires_at()
            )
            form = NewTokenForm()
    ctx = {
        "form": form,
        "key": key,
        "blocked_message": tokens.TWO_FACTOR_NEEDED if blocked else None,
        "tokens": ApiToken.objects.filter(user=user),
        "rate": _rate_in_words(),
    }
    return render(request, "accounts/api_tokens.html", ctx)


@require_POST
def api_token_revoke(request, pk: int):
    """Revoke one of the user's tokens (another user's is not found: 404)."""
    token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    tokens.revoke_token(token)
    messages.success(request, f"Token “{token.name}” revoked: it no longer works.")
    return redirect("api_tokens")


def _rate_in_words() -> str:
    from django.conf import settings

    number, period = settings.API_RATE.split("/")
    return f"{number} requests a {period}"
