"""The small example file set of the README imports cleanly and means what it says."""

from __future__ import annotations

import io
from pathlib import Path

from django.core.management import call_command
from django.test import TestCase

from registry.models import Patient
from tests.factories import make_site

SMALL = Path(__file__).resolve().parents[2] / "docs" / "examples" / "import" / "small"


class SmallExampleTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        make_site(code="NTH", name="North")

    def test_dry_run_is_clean_and_commit_writes_every_kind(self):
        out = io.StringIO()
        call_command("import_records", str(SMALL), "--site", "NTH", stdout=out)
        self.assertIn("Dry run: no problems in 25 rows", out.getvalue())
        call_command(
            "import_records", str(SMALL), "--site", "NTH", "--commit", stdout=out
        )
        staged = Patient.objects.get(source_record_id="EPR-1002")
        self.assertEqual(staged.facts.strategy, "staged")
        self.assertEqual(staged.facts.staged_order, "primary_first")
        self.assertEqual(
            Patient.objects.get(source_record_id="EPR-1003").facts.vital_status, "dead"
        )
        # the same files again: nothing changes
        again = io.StringIO()
        call_command(
            "import_records", str(SMALL), "--site", "NTH", "--commit", stdout=again
        )
        self.assertIn("patient: 3 unchanged", again.getvalue())
        self.assertNotIn("created", again.getvalue())
