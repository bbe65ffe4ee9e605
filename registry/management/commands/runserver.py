"""Django's runserver (with static files), refusing to start without a secret key."""

from django.contrib.staticfiles.management.commands.runserver import (
    Command as StaticRunserver,
)

from registry.serving import require_secret_key


class Command(StaticRunserver):
    def handle(self, *args, **options):
        require_secret_key()
        super().handle(*args, **options)
