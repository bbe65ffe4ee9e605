"""The page a locked-out login gets (django-axes' AXES_LOCKOUT_CALLABLE)."""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import render
from django.utils import timezone

#: Too Many Requests, django-axes' default status for a lockout.
STATUS = 429


def locked_out(request, original_response=None, credentials=None):
    """Render the lockout message, saying when the user may try again.

    Every failed login during a lockout starts the cool-off again (django-axes'
    AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT), so the lock ends one cool-off
    after this request.
    """
    cooloff = settings.AXES_COOLOFF_TIME
    credentials = credentials or {}
    username = credentials.get("username") or request.POST.get("username", "")
    ctx = {
        "username": username,
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "minutes": int(cooloff.total_seconds() // 60),
        "try_again_at": timezone.localtime() + cooloff,
    }
    return render(request, "registration/locked_out.html", ctx, status=STATUS)
