"""Send the reads of report computation to a read replica, when there is one.

A report reads every patient of the user's sites and writes nothing, so on a
busy registry it can run on a PostgreSQL streaming replica
(``DATABASE_REPLICA_URL``, the ``replica`` alias) and leave the primary to data
entry. Which reads are a report's is not something a model or a query knows, so
the caller says so: code inside :func:`reading_reports` reads from the replica;
everything else, and every write, goes to ``default``. Without a replica alias
the context changes nothing.

The flag is a context variable, so it holds for one request's thread (WSGI) or
task (ASGI; asgiref copies the context into ``sync_to_async`` threads) and never
leaks into another request served meanwhile.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

from django.conf import settings

DEFAULT = "default"
REPLICA = "replica"

_reading_reports: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "reading_reports", default=False
)


@contextlib.contextmanager
def reading_reports() -> Iterator[None]:
    """Route the reads made inside this block to the replica, if one is set up.

    Also usable as a decorator. Writes inside the block still go to the primary.
    A replica lags the primary by up to its replication delay, so only reads
    that may see slightly old data belong here: a report's cohort, never the
    check before a write.
    """
    token = _reading_reports.set(True)
    try:
        yield
    finally:
        _reading_reports.reset(token)


def replica_configured() -> bool:
    """Return whether a ``replica`` database alias is configured."""
    return REPLICA in settings.DATABASES


class ReplicaRouter:
    """Reads inside :func:`reading_reports` to ``replica``; all else to ``default``."""

    def db_for_read(self, model, **hints) -> str | None:
        if _reading_reports.get() and replica_configured():
            return REPLICA
        # None: Django's choice (the instance's own database, else default).
        return None

    def db_for_write(self, model, **hints) -> str:
        # Also for an object that was read from the replica: it is saved to the
        # primary, the only database that accepts writes.
        return DEFAULT

    def allow_relation(self, obj1, obj2, **hints) -> bool | None:
        # The replica holds the primary's rows, so an object read from one may
        # refer to an object read from the other.
        if {obj1._state.db, obj2._state.db} <= {DEFAULT, REPLICA}:
            return True
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool:
        # The replica copies the primary's schema; it is never migrated itself.
        return db == DEFAULT
