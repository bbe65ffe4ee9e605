"""`manage.py report`: the same report without the web server."""

import io
import json
import tempfile
from pathlib import Path

from django.core.management import CommandError, call_command
from django.test import SimpleTestCase, TestCase

from registry.models import Site
from tests.analytics.documents import docx_tables
from tests.factories import make_user

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
EXAMPLE = EXAMPLES / "demo-study.json"
SURVIVAL_EXAMPLE = EXAMPLES / "demo-survival.json"


class ReportCommandTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        call_command("seed_demo", stdout=io.StringIO())

    def run_command(self, *args) -> str:
        out = io.StringIO()
        call_command("report", *args, stdout=out, stderr=io.StringIO())
        return out.getvalue()

    def test_json_carries_every_section_the_readme_documents(self):
        data = json.loads(self.run_command("--spec", str(EXAMPLE)))
        for key in (
            "spec",
            "cohort",
            "groups",
            "at_risk",
            "logrank",
            "pairwise",
            "cox",
            "followup",
            "subgroups",
            "baseline",
            "associations",
            "events",
            "warnings",
            "methods",
            "results",
            "fingerprint",
            "curves",
        ):
            self.assertIn(key, data)
        group = data["groups"][0]
        self.assertEqual(
            set(group), {"group", "n", "events", "median", "landmarks", "small"}
        )
        self.assertEqual(group["n"], 30)

    def test_survival_only_example_gives_the_survival_of_the_full_one(self):
        full = json.loads(self.run_command("--spec", str(EXAMPLE)))
        survival = json.loads(self.run_command("--spec", str(SURVIVAL_EXAMPLE)))
        for key in ("cohort", "groups", "logrank", "pairwise", "cox", "followup"):
            self.assertEqual(survival[key], full[key], key)
        self.assertEqual(survival["baseline"]["rows"], [])

    def test_csv_xlsx_and_pdf_outputs(self):
        self.assertIn(
            "Synchronous resection",
            self.run_command("--spec", str(EXAMPLE), "--format", "csv"),
        )
        with tempfile.TemporaryDirectory() as tmp:
            for fmt, magic in (("xlsx", b"PK"), ("pdf", b"%PDF")):
                path = Path(tmp) / f"report.{fmt}"
                self.run_command(
                    "--spec", str(EXAMPLE), "--format", fmt, "--output", str(path)
                )
                self.assertTrue(path.read_bytes().startswith(magic))

    def test_docx_output_has_the_reports_tables(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "report.docx"
            self.run_command(
                "--spec", str(EXAMPLE), "--format", "docx", "--output", str(path)
            )
            tables = docx_tables(path.read_bytes())
        self.assertEqual(tables[0][0][:3], ["Group", "n", "Events"])
        self.assertIn("Synchronous resection", [row[0] for row in tables[0]])

    def test_bad_specification_gives_messages_and_json_errors(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as spec:
            json.dump({"group_by": "colour", "index": "landmark"}, spec)
        out = io.StringIO()
        with self.assertRaises(CommandError) as caught:
            call_command("report", "--spec", spec.name, stdout=out)
        self.assertIn("group_by: unknown field 'colour'", str(caught.exception))
        errors = json.loads(out.getvalue())["errors"]
        self.assertEqual(len(errors), 2)

    def test_landmark_beyond_follow_up_is_refused(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as spec:
            json.dump(
                {"index": "landmark", "landmark": 100, "as_of": "2009-12-31"}, spec
            )
        with self.assertRaisesMessage(CommandError, "beyond the longest follow-up"):
            self.run_command("--spec", spec.name)

    def test_missing_or_broken_spec_file_is_named(self):
        with self.assertRaisesMessage(CommandError, "--spec: no file /nope.json"):
            self.run_command("--spec", "/nope.json")
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as spec:
            spec.write("{not json")
        with self.assertRaisesMessage(CommandError, "is not valid JSON (line 1"):
            self.run_command("--spec", spec.name)

    def test_an_output_in_no_folder_or_that_is_a_folder_is_refused_first(self):
        folder = Path(tempfile.mkdtemp())
        cases = {
            str(folder / "missing" / "report.json"): "no such folder",
            str(folder): "is a folder",
        }
        for output, message in cases.items():
            for format in ("json", "pdf"):
                with self.subTest(output=output, format=format):
                    with self.assertRaises(CommandError) as caught:
                        self.run_command(
                            *("--spec", str(EXAMPLE), "--format", format),
                            *("--output", output),
                        )
                    said = str(caught.exception)
                    self.assertTrue(said.startswith(f"--output: {output}"), said)
                    self.assertIn(message, said)
        self.assertEqual(list(folder.iterdir()), [])

    def test_an_output_where_nothing_can_be_written_is_refused_first(self):
        # Found by an audit: a traceback (PermissionError) once the whole
        # report was computed. /sys takes no new file, even for root.
        output = "/sys/report.csv"
        with self.assertRaises(CommandError) as caught:
            self.run_command(
                *("--spec", str(EXAMPLE), "--format", "csv", "--output", output)
            )
        said = str(caught.exception)
        self.assertTrue(said.startswith(f"--output: {output}: cannot write"), said)

    def test_a_table_the_report_has_not_is_refused_not_an_empty_file(self):
        # Found by an audit: --table competing of a report without competing
        # risks wrote nothing and succeeded
        with self.assertRaisesMessage(CommandError, "has no competing table"):
            self.run_command(
                *("--spec", str(EXAMPLE), "--format", "csv", "--table", "competing")
            )

    def test_a_user_who_may_not_run_reports_is_refused(self):
        # noted by an audit: --user nurse ran a report the pages refuse her
        with self.assertRaisesMessage(CommandError, "--user: nurse may not run"):
            self.run_command("--spec", str(EXAMPLE), "--user", "nurse")

    def test_binary_formats_need_an_output_file(self):
        with self.assertRaisesMessage(CommandError, "give --output FILE"):
            self.run_command("--spec", str(EXAMPLE), "--format", "pdf")

    def test_user_option_limits_the_report_to_their_sites(self):
        make_user("ana", group="Analyst", sites=Site.objects.filter(code="NFG"))
        data = json.loads(self.run_command("--spec", str(EXAMPLE), "--user", "ana"))
        self.assertLess(data["cohort"]["patients"], 74)
        with self.assertRaisesMessage(CommandError, "--user: no user called 'nobody'"):
            self.run_command("--spec", str(EXAMPLE), "--user", "nobody")


class ReportCommandHelpTests(SimpleTestCase):
    def test_the_help_names_every_table_the_command_can_write(self):
        # the help is written without importing analytics.export (and pandas)
        from analytics import export
        from analytics.management.commands.report import Command

        parser = Command().create_parser("manage.py", "report")
        help_text = " ".join(parser.format_help().split())
        for table in export.TABLES:
            self.assertIn(table, help_text)

    def test_an_unknown_table_is_refused_with_the_tables_listed(self):
        with self.assertRaisesMessage(CommandError, "--table: no table 'nothing'"):
            call_command(
                "report", "--spec", "x.json", "--format", "csv", "--table", "nothing"
            )
