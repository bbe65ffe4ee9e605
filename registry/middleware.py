"""Middleware of the registry's own."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers, patch_cache_control

from registry.nulls import HOLDS_NUL


def no_store(get_response):
    """Tell browsers and proxies to keep no copy of any page or download.

    Every page and download the registry serves (static files are answered by
    WhiteNoise before this runs) may carry patient data, so none may be cached:
    ``Cache-Control: no-store`` on top of Django's never-cache headers.
    """

    def middleware(request):
        response = get_response(request)
        add_never_cache_headers(response)
        patch_cache_control(response, no_store=True, private=True)
        return response

    return middleware


#: Session key holding the time (seconds since the epoch) of the last request.
LAST_ACTIVITY_KEY = "registry_last_activity"


def session_security(get_response):
    """Enforce what a logged-in session must satisfy, on every request.

    - A session ends after ``SESSION_IDLE_SECONDS`` without a request: the user is
      logged out and sent to the login page with a message.
    - A session ends ``SESSION_COOKIE_AGE`` after login however busy it is: the
      expiry is fixed at login (Django would otherwise move it on each time this
      middleware saves the activity time).
    - With ``REQUIRE_2FA`` on, staff who have not verified this session with a
      second factor see only the two-factor page (and can log out).

    Runs after the session, authentication, OTP and message middleware.
    """

    def middleware(request):
        response = _end_idle_session(request) or _require_two_factor(request)
        if response is None:
            response = get_response(request)
        if request.user.is_authenticated:
            _stamp_activity(request.session)
        return response

    return middleware


def _end_idle_session(request):
    """Log out a session idle longer than allowed; return the redirect to login."""
    if not request.user.is_authenticated:
        return None
    last = request.session.get(LAST_ACTIVITY_KEY)
    now = timezone.now().timestamp()
    if last is None or now - last <= settings.SESSION_IDLE_SECONDS:
        return None
    logout(request)
    minutes = settings.SESSION_IDLE_SECONDS // 60
    messages.info(
        request,
        f"You were logged out after {minutes} minute{pluralize(minutes)} "
        "without activity. Log in again to continue.",
    )
    return redirect_to_login(request.get_full_path())


def _require_two_factor(request):
    """Return a redirect to the two-factor page for unverified staff, if required."""
    user = request.user
    if not (settings.REQUIRE_2FA and user.is_authenticated and user.is_staff):
        return None
    if user.is_verified():
        return None
    allowed = (reverse("two_factor"), reverse("logout"))
    if request.path in allowed or request.path.startswith(settings.STATIC_URL):
        return None
    messages.warning(
        request,
        "Staff accounts must use two-factor login: set it up (or enter a code) "
        "to continue.",
    )
    return redirect("two_factor")


def _stamp_activity(session) -> None:
    """Record this request's time and, once per login, fix the session's end.

    The time is first written at login, when the session is saved anyway, then
    only when the stored one is a tenth of the idle limit old (at most a minute):
    a burst of requests costs one session write, not one each, and a session may
    end up to that much early. A session opened without the login page (a test's
    force_login, or one from before this middleware) is left to Django's own
    expiry until something else writes to it.
    """
    last = session.get(LAST_ACTIVITY_KEY)
    if last is None and not session.modified:
        return
    now = timezone.now()
    resolution = min(60, settings.SESSION_IDLE_SECONDS // 10)
    if last is None or now.timestamp() - last >= resolution:
        session[LAST_ACTIVITY_KEY] = int(now.timestamp())
    if session.get("_session_expiry") is None:
        hard_limit = datetime.timedelta(seconds=settings.SESSION_COOKIE_AGE)
        session.set_expiry(now + hard_limit)


#: Where the REST API's URLs start (registry.urls): its refusals are JSON.
API_PREFIX = "/api/"


def refuse_null_characters(get_response):
    """Answer 400 to a request whose query string or form holds a NUL character.

    No field of the registry may hold one (PostgreSQL's text cannot), and no
    browser sends one from what a user typed: Django's form fields refuse it,
    but values read outside a form (a reason for a change, an admin list
    filter, the admin's autocomplete term) reached the database, a server
    error on PostgreSQL. The API's JSON bodies are refused the same way by its
    parser (registry.api.parsers).
    """

    def middleware(request):
        for source in (request.GET, request.POST):
            for name, values in source.lists():
                if "\x00" in name or any("\x00" in value for value in values):
                    shown = name.replace("\x00", "\\x00")[:100]
                    message = f"{shown!r} {HOLDS_NUL}, which no field may hold."
                    if request.path_info.startswith(API_PREFIX):  # as the API says
                        return JsonResponse({"detail": message}, status=400)
                    return HttpResponseBadRequest(
                        f"Bad request: {message}",
                        content_type="text/plain; charset=utf-8",
                    )
        return get_response(request)

    return middleware
