"""Suite-wide test settings."""

import pytest
from django.conf import settings
from whitenoise.middleware import WhiteNoiseMiddleware


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """Hand the workers of `make test` (pytest-xdist) whole classes and modules.

    With ``--dist loadscope`` a test class (or a module's plain test functions)
    runs on one worker, so each class's setUpTestData (the demo cohort, a cast of
    users) runs once, not once on each worker. The browser tests go to one
    worker together, which then starts the one Chromium and live server they
    share.

    The classes are handed out in the order pytest-django sorted them in, not
    largest first (xdist's default): the transactional tests (the browser's,
    with live_server) empty the database when they end, groups made by the
    migrations included, so on each worker they must come after every TestCase,
    as they do in a serial run.
    """
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class Scheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            if nodeid.startswith("tests/browser/"):
                return "tests/browser"
            return super()._split_scope(nodeid)

    config.option.loadscopereorder = False
    return Scheduling(config, log)


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


#: Dead rows in one table that make the class after a test class start with a
#: VACUUM of that table (PostgreSQL only).
DEAD_ROWS_VACUUMED = 500
_test_databases_made = False


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's: make the test databases; note that they are made.

    Before they are dropped, end every other session on this process's test
    database on PostgreSQL: a request thread of the browser tests' live server
    may still hold its connection (CONN_MAX_AGE), and DROP DATABASE refuses a
    database in use, leaving it behind.
    """
    global _test_databases_made
    _test_databases_made = True
    yield
    from django.db import connection

    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


@pytest.fixture(autouse=True, scope="class")
def vacuum_after_rolled_back_rows(django_db_blocker):
    """On PostgreSQL, VACUUM the tables a test class left full of dead rows.

    Every test's rows are rolled back, but on PostgreSQL a rolled-back insert
    stays in its table (and indexes) as a dead row until a VACUUM, and
    autovacuum gets to a test database late, if at all. A run seeds the demo
    cohort some twenty times, imports thousands of rows and writes hypothesis'
    hundreds of examples, so later tests' scans and counts wade through tens of
    thousands of dead rows: later tests ran several times slower than alone.
    After each test class (or module of test functions), between the classes'
    transactions, the tables holding many dead rows are vacuumed.
    """
    yield
    from django.db import connection

    if not _test_databases_made or connection.vendor != "postgresql":
        return
    if connection.in_atomic_block:
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT quote_ident(schemaname) || '.' || quote_ident(relname)"
            " FROM pg_stat_user_tables WHERE n_dead_tup > %s",
            [DEAD_ROWS_VACUUMED],
        )
        tables = [table for (table,) in cursor.fetchall()]
        if tables:
            cursor.execute(f"VACUUM {', '.join(tables)}")


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
