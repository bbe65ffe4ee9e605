"""Login lockout (django-axes): the page a locked-out login gets
(AXES_LOCKOUT_CALLABLE), and the client's address it counts failures by."""

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


def client_address(request) -> str | None:
    """Return the address a login came from, behind one proxy that appends it
    to X-Forwarded-For (AXES_CLIENT_IP_CALLABLE, with DJANGO_PROXY_FORWARDS_FOR).

    Behind a proxy every request comes from the proxy's address: failures
    counted by it would let anyone lock a user out from everywhere. The proxy
    appends the address it saw, so the last entry is the client's; entries a
    client sent itself come before it and are not read.
    """
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    last = forwarded.rsplit(",", 1)[-1].strip()
    return last or request.META.get("REMOTE_ADDR")
