"""Starting Django (every command, every worker) does not import the statistics.

pandas, scipy and matplotlib took most of the seconds ``manage.py report`` needed
to start; they are imported where a report is computed or drawn. Each check runs
in a fresh interpreter, where nothing else has imported them.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from django.test import SimpleTestCase

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("pandas", "scipy", "matplotlib", "numpy", "lifelines", "openpyxl")

SETUP_AND_IMPORT_EVERY_APP = """
import importlib, json, sys
import django
django.setup()
from django.apps import apps
from django.urls import get_resolver
get_resolver().url_patterns  # the project's URLconf, and every app's it includes
for app in apps.get_app_configs():
    for part in ("models", "urls", "admin", "views", "forms"):
        name = f"{app.name}.{part}"
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
print(json.dumps(sorted(m.split(".")[0] for m in sys.modules)))
"""

COMMAND_HELP = """
import json, runpy, sys
sys.argv = ["manage.py", "report", "--help"]
try:
    runpy.run_path("manage.py", run_name="__main__")
except SystemExit:
    pass
print(json.dumps(sorted(m.split(".")[0] for m in sys.modules)))
"""


def imported_by(script: str) -> set[str]:
    """Return the top-level modules a fresh interpreter has after `script`."""
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "registry.settings",
            "PYTHONPATH": str(ROOT),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


class StartupImportTests(SimpleTestCase):
    def test_django_setup_and_every_apps_models_urls_and_admin_import_no_statistics(
        self,
    ):
        modules = imported_by(SETUP_AND_IMPORT_EVERY_APP)
        self.assertIn("analytics", modules)  # the check did import the apps
        self.assertEqual(sorted(modules & set(HEAVY)), [])

    def test_report_help_imports_no_statistics(self):
        modules = imported_by(COMMAND_HELP)
        self.assertIn("django", modules)
        self.assertEqual(sorted(modules & set(HEAVY)), [])


SERVER_WORKER_STARTS = """
import json, sys
import django
django.setup()
from gunicorn.config import Config
import registry.gunicorn_config as settings
# as gunicorn reads a settings file: each name it knows (a misspelt hook is not)
config = Config()
for name, value in vars(settings).items():
    if name in config.settings:
        config.set(name, value)
config.post_worker_init(None)
print(json.dumps(sorted(m.split(".")[0] for m in sys.modules)))
"""


class ServerWorkerTests(SimpleTestCase):
    """A server's worker imports the statistics when it starts, not at its first
    report (Django's start-up, which every command shares, still does not)."""

    def test_gunicorns_worker_start_hook_imports_the_statistics(self):
        modules = imported_by(SERVER_WORKER_STARTS)
        self.assertLessEqual({"pandas", "matplotlib", "numpy"}, modules)

    def test_make_serve_prod_runs_gunicorn_with_the_registrys_settings(self):
        makefile = (ROOT / "Makefile").read_text()
        recipe = makefile.split("\nserve-prod:", 1)[1].split("\n\n", 1)[0]
        self.assertIn("gunicorn -c python:registry.gunicorn_config", recipe)
        # its workers share one cache unless told otherwise
        self.assertIn("serve-prod: export REGISTRY_CACHE ?= database", makefile)
