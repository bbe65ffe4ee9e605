"""Suite-wide test settings."""

import pytest
from django.conf import settings
from whitenoise.middleware import WhiteNoiseMiddleware


def pytest_configure(config):
    _flush_drops_history_triggers_on_sqlite()
    # Hashing every test user's password with PBKDF2's 10^6 iterations costs
    # seconds per test class; the hasher is not what the tests are about.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True, scope="session")
def static_files_found_once():
    """Let WhiteNoise find the static files once per run, not once per test.

    Every test's client builds its own middleware, and WhiteNoise (serving
    static/ through the finders, as in development) looks up and inspects every
    static file when it is built: some 600 times a run, seconds in all. The
    files do not change during a run, so each later middleware gets the first
    one's findings.
    """
    found: dict = {}
    find = WhiteNoiseMiddleware.add_files_from_finders

    def add_files_from_finders(self):
        if not found:
            find(self)
            found.update(self.files)
        else:
            self.files.update(found)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            WhiteNoiseMiddleware, "add_files_from_finders", add_files_from_finders
        )
        yield


def _flush_drops_history_triggers_on_sqlite():
    """Let the flush between transactional tests empty the history tables.

    The history tables refuse DELETE (registry.appendonly); PostgreSQL's flush
    truncates, which row triggers do not see, but SQLite's deletes. Its flush
    drops the triggers, empties the tables and creates the triggers again.
    """
    from django.db.backends.sqlite3.base import DatabaseOperations

    from registry import appendonly

    flush = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, **kwargs):
        statements = flush(self, style, tables, **kwargs)
        if not statements:
            return statements
        return [
            *appendonly.drop_statements("sqlite"),
            *statements,
            *appendonly.create_statements("sqlite"),
        ]

    DatabaseOperations.sql_flush = sql_flush


@pytest.fixture(autouse=True)
def empty_cache():
    """Start every test with an empty cache.

    Summaries are kept per data version (registry.summaries), which is the
    highest history id of each table; a test's writes are rolled back, and on
    SQLite so are the ids, so the next test can reach the same version with
    other data. A deployment never rolls back committed history.
    """
    from django.core.cache import cache

    cache.clear()
