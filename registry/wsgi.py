"""WSGI entry point of the registry."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry.settings")
application = get_wsgi_application()

from registry.serving import require_secret_key  # noqa: E402 (needs the settings)

require_secret_key()
