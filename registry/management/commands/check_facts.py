"""Recompute every patient's derived facts and list the stored rows that differ."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from registry import facts
from registry.models import Patient

#: The most patients checked at a time (a larger chunk was a database error).
MAX_CHUNK = 1_000_000


class Command(BaseCommand):
    help = (
        "Recompute every patient's derived facts by the rules of registry.derive, "
        "in chunks, and list each patient whose stored facts differ (with --fix, "
        "rewrite them). Exits with status 1 when any differ and --fix is not given."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--fix", action="store_true", help="Rewrite the facts that differ."
        )
        parser.add_argument(
            "--chunk",
            type=int,
            default=facts.CHUNK,
            help=f"Patients recomputed at a time (default {facts.CHUNK}).",
        )

    def handle(self, *args, fix: bool, chunk: int, **options):
        if not 1 <= chunk <= MAX_CHUNK:
            raise CommandError(
                f"--chunk must be from 1 to {MAX_CHUNK:,} (got {chunk})."
            )
        checked, found = facts.check_all(fix=fix, chunk=chunk)
        numbers = dict(
            Patient.objects.filter(pk__in=list(found)).values_list(
                "pk", "registry_number"
            )
        )
        for pk, wrong in sorted(found.items()):
            self.stdout.write(f"{numbers.get(pk, pk)}: {'; '.join(wrong)}")
        if not found:
            self.stdout.write(
                self.style.SUCCESS(f"All {checked} patients' stored facts agree.")
            )
        elif fix:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Fixed the facts of {len(found)} of {checked} patients."
                )
            )
        else:
            raise CommandError(
                f"{len(found)} of {checked} patients' stored facts differ from the "
                "rules (run with --fix to rewrite them)."
            )
