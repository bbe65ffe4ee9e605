"""The registry user a management command acts for (``--user``), checked first."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError


def command_user(username: str, *, permission: str, may_not: str, who: str):
    """Return the active user `username`, who holds `permission`, or refuse.

    A command run for a user does what that user may do on the pages: an
    unknown, inactive or unpermitted user is refused with a message saying
    which (``may_not``: what they may not do; ``who``: the groups that may).
    """
    account = get_user_model().objects.filter(username=username).first()
    if account is None:
        raise CommandError(f"--user: no user called {username!r}.")
    if not account.is_active or not account.has_perm(permission):
        raise CommandError(
            f"--user: {username} may not {may_not} (it needs the permission "
            f"{permission}, which {who} have)."
        )
    return account
