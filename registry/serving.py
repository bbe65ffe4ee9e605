"""Checks that only apply when the registry serves requests."""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def require_secret_key() -> None:
    """Refuse to serve without a configured secret key (unless debugging)."""
    if settings.SECRET_KEY_MISSING and not settings.DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off (or put the key "
            "in the file DJANGO_SECRET_KEY_FILE names; `make run` creates "
            "var/secret_key)."
        )
