"""gunicorn's settings for the registry's server (``make serve-prod``).

    gunicorn -c python:registry.gunicorn_config registry.wsgi:application

Only what a server needs and a command does not: Django's start-up imports no
statistics (commands such as ``manage.py report --help`` start in a second),
so without this each worker imported pandas, matplotlib and the report's code
during its first report, seconds in which its other requests waited.
"""

from __future__ import annotations

#: The modules a report page and its downloads import on first use.
STATISTICS = ("analytics.reports", "analytics.export", "analytics.dataset")


def post_worker_init(worker) -> None:
    """Import the statistics once the worker has loaded the application, before
    it accepts its first request."""
    import importlib

    for name in STATISTICS:
        importlib.import_module(name)
