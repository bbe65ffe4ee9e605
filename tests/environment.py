"""Environment the test run needs before Django loads the settings.

Loaded as a plugin (`-p tests.environment` in pyproject.toml) because
pytest-django reads the settings before any conftest.py is imported.
"""

import os

# The registry refuses to start without a secret key unless debug is on; tests
# run with debug off, as production does.
os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-secret-key-not-for-production")
