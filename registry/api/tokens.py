"""API tokens: made, listed and revoked by their user; checked on each request.

A token authenticates as ``Authorization: Bearer <key>``. Only the key's
SHA-256 hash is stored (registry.models.ApiToken), so the key is shown once.
Where the registry requires two-factor login, a token can only be made from a
session verified with the second factor: a token is a lasting login, and must
not be a way round it.
"""

from __future__ import annotations

import datetime
import secrets

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, throttling

from registry.accounts import has_two_factor
from registry.models import ApiToken
from registry.models.tokens import hash_key

#: Characters of the key kept in clear, to tell tokens apart in the list.
PREFIX_LENGTH = 8
#: A user's tokens in use at once (revoked and expired ones do not count).
MAX_TOKENS = 20
#: last_used_at is written at most this often, not on every request.
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)

TWO_FACTOR_NEEDED = (
    "API tokens can only be made from a session verified with two-factor "
    "login: set it up or enter a code on the two-factor page first."
)


def two_factor_missing(user) -> bool:
    """Return True if `user` must verify this session before making a token.

    Two-factor login is required of staff when REQUIRE_2FA is on, and of anyone
    who has set it up (their login asked for the code).
    """
    required = (settings.REQUIRE_2FA and user.is_staff) or has_two_factor(user)
    return required and not user.is_verified()


def revoke_on_new_password(sender, instance, update_fields=None, **kwargs) -> None:
    """Revoke the user's tokens when their password is changed (pre_save).

    A token is a lasting login: made by whoever knew the password, it must stop
    when the password is reset, as the user's sessions do. The same password
    hashed again (a stronger hasher, at login) is no change.
    """
    raw = getattr(instance, "_password", None)
    if raw is None or instance.pk is None:
        return
    if update_fields is not None and "password" not in update_fields:
        return
    old = (
        type(instance)
        ._default_manager.filter(pk=instance.pk)
        .values_list("password", flat=True)
        .first()
    )
    if old is None or check_password(raw, old):
        return
    ApiToken.objects.filter(user_id=instance.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def create_token(
    *, user, name: str, expires_at: datetime.datetime | None = None
) -> tuple[ApiToken, str]:
    """Make a token for `user`; return it with its key (shown once, never stored)."""
    key = secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        prefix=key[:PREFIX_LENGTH],
        key_hash=hash_key(key),
        expires_at=expires_at,
    )
    return token, key


def revoke_token(token: ApiToken) -> None:
    """Stop `token` working from now on (it stays listed as revoked)."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <key>``, checked against the stored hashes."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid Authorization header: give 'Bearer' and the token's key."
            )
        try:
            key = header[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed("Invalid token.") from None
        token = (
            ApiToken.objects.usable()
            .select_related("user")
            .filter(key_hash=hash_key(key))
            .first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        _note_use(token)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'


def _note_use(token: ApiToken) -> None:
    """Record when the token was last used, at most once a LAST_USED_RESOLUTION."""
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


class TokenRateThrottle(throttling.SimpleRateThrottle):
    """Requests per token (per user for a browser session), at API_RATE.

    The counts live in Django's cache: with several server processes give them
    a shared cache, or each process counts on its own.
    """

    scope = "token"

    def get_rate(self) -> str:
        return settings.API_RATE

    def get_cache_key(self, request, view) -> str | None:
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"anon-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """The token scheme, as the OpenAPI schema describes it."""

    target_class = BearerTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A token from your API tokens page.",
        }
