"""What a benchmark does before it reads the registry: Django's settings for a
measurement (a throwaway secret key, the test client's host name) and
``django.setup()``."""

from __future__ import annotations

import os
import warnings


def setup_django() -> None:
    """Set up Django for a benchmark (DATABASE_URL chooses the registry)."""
    os.environ.setdefault("DJANGO_SECRET_KEY", "benchmark-only")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry.settings")
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
    # whitenoise warns that staticfiles/ is missing; a benchmark needs no assets
    warnings.filterwarnings("ignore", message="No directory at")
    import django

    django.setup()
