"""Disclosure control: no count below REGISTRY_MIN_CELL for users without identifiers.

The rule (README, Security): for a user without ``registry.view_identifiers`` a
cohort of fewer than 5 analysed patients is refused, a group of fewer than 5 is
shown as "<5" without its statistics and left out of every test, and every other
count below 5 (zero included) is shown as "<5" without its percentage. The cast
(tests/cast.py): ``ann`` is an analyst (the rule applies), ``mark`` a data manager
(it does not).
"""

import datetime
import io
import json
import re
import tempfile
import zlib
from pathlib import Path

import openpyxl
from django.core.management import CommandError, call_command
from django.test import SimpleTestCase
from django.urls import reverse

from analytics import disclosure, export
from analytics.dataset import AllSites
from analytics.models import ReportRun, SavedReport
from analytics.reports import run_report
from analytics.spec import ReportSpec
from tests.analytics.test_report_views import QUERY, ReportViewTestCase
from tests.cast import CastTestCase
from tests.factories import make_death, make_full_patient

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
SMALL = "Other / not stated"  # the group of three patients below


def result(**changes) -> dict:
    """Return a result shaped as export.result_json's, with a group of 3 ("None").

    The tests left "None" out, as run_report does for a user with a minimum.
    """
    mark = {"time": 12.0, "survival": 0.5, "lower": 0.2, "upper": 0.8, "n_risk": 2}
    data = {
        "spec": {"times": [12.0]},
        "cohort": {"patients": 25, "analysed": 23, "excluded": {"no date": 2}},
        "groups": [
            {
                "group": "Synchronous",
                "n": 12,
                "events": 6,
                "median": {},
                "small": False,
            },
            {"group": "Staged", "n": 8, "events": 3, "median": {}, "small": True},
            {
                "group": "None",
                "n": 3,
                "events": 2,
                "median": {"estimate": 7.0, "lower": 3.0, "upper": None},
                "landmarks": [mark],
                "small": True,
            },
        ],
        "at_risk": {
            "ticks": [0, 12],
            "groups": {"Synchronous": [12, 9], "Staged": [8, 6], "None": [3, 1]},
        },
        "logrank": {
            "statistic": 1.5,
            "df": 1,
            "p_value": 0.22,
            "observed": {"Synchronous": 6.0, "Staged": 3.0},
            "expected": {"Synchronous": 5.0, "Staged": 4.0},
            "small_groups": ["Staged"],
        },
        "pairwise": [{"group_a": "Synchronous", "group_b": "Staged", "p_value": 0.22}],
        "cox": {"reference": "Synchronous", "terms": [{"term": "Staged"}]},
        "baseline": {
            "groups": ["Synchronous", "Staged"],
            "n": {"Synchronous": 12, "Staged": 8},
            "rows": [
                {
                    "kind": "categorical",
                    "levels": ["Female", "Male", "Other"],
                    "counts": {
                        "Synchronous": {"Female": 8, "Male": 4},
                        "Staged": {"Female": 5, "Male": 3},
                    },
                    "percents": {
                        "Synchronous": {"Female": 66.7, "Male": 33.3, "Other": 0.0},
                        "Staged": {"Female": 62.5, "Male": 37.5, "Other": 0.0},
                    },
                    "overall": {"Female": 13, "Male": 7},
                    "missing": {"Synchronous": 0, "Staged": 0},
                    "tests": [{"name": "Fisher", "p_value": 1.0}],
                },
                {
                    "kind": "continuous",
                    "groups": {
                        "Synchronous": {
                            "n": 12,
                            "missing": 0,
                            "mean": 61.0,
                            "minimum": 41.0,
                            "maximum": 83.0,
                        },
                        "Staged": {
                            "n": 2,
                            "missing": 6,
                            "mean": 58.0,
                            "minimum": 50.0,
                            "maximum": 66.0,
                        },
                    },
                    "overall": {
                        "n": 14,
                        "missing": 6,
                        "mean": 60.0,
                        "minimum": 41.0,
                        "maximum": 83.0,
                    },
                    "tests": [{"name": "ANOVA", "p_value": 0.5}],
                },
            ],
        },
        "associations": [{"table": {"<25%": {"No": 9, "Yes": 1}, ">50%": {"No": 6}}}],
        "subgroups": [
            {
                "levels": [
                    {"group": "No", "n": 19, "events": 4, "median": {}},
                    {"group": "Yes", "n": 4, "events": 1, "median": {}},
                ]
            }
        ],
        "events": {
            "liver_resected": {"n": 20, "of": 23, "percent": 87.0},
            "converted": {"n": 0, "of": 23, "percent": 0.0},
        },
        "landmark_analysis": None,
        "warnings": ["Group 'None' has only 3 patients.", "Immortal-time bias."],
        "curves": {"Synchronous": {}, "Staged": {}, "None": {}},
    }
    data.update(changes)
    return data


class MaskResultTests(SimpleTestCase):
    def setUp(self):
        curves = {"Synchronous": "km1", "Staged": "km2", "None": "km3"}
        self.data, self.curves = disclosure.mask_result(result(), curves, min_cell=5)

    def test_a_group_below_the_minimum_keeps_only_its_name_and_n_as_less_than_5(self):
        self.assertEqual(
            self.data["groups"][2],
            {
                "group": "None",
                "n": "<5",
                "events": None,
                "median": None,
                "landmarks": [],
                "small": True,
                "suppressed": True,
            },
        )
        self.assertEqual(self.data["disclosure"]["suppressed_groups"], ["None"])

    def test_groups_at_the_minimum_or_above_are_unchanged(self):
        self.assertEqual(self.data["groups"][:2], result()["groups"][:2])
        self.assertEqual(self.data["logrank"], result()["logrank"])
        self.assertEqual(self.data["pairwise"], result()["pairwise"])
        self.assertEqual(self.data["cox"], result()["cox"])

    def test_a_suppressed_group_has_no_curve_and_no_at_risk_row(self):
        self.assertEqual(list(self.curves), ["Synchronous", "Staged"])
        self.assertEqual(list(self.data["curves"]), ["Synchronous", "Staged"])
        self.assertEqual(
            list(self.data["at_risk"]["groups"]), ["Synchronous", "Staged"]
        )

    def test_a_warning_naming_a_suppressed_group_is_dropped(self):
        self.assertEqual(self.data["warnings"], ["Immortal-time bias."])

    def test_tests_computed_with_a_suppressed_group_are_hidden(self):
        # a result stored before the rule: the tests included the group of 3
        data, _ = disclosure.mask_result(
            result(
                logrank={
                    "statistic": 4.2,
                    "df": 2,
                    "p_value": 0.12,
                    "observed": {"Synchronous": 6.0, "Staged": 3.0, "None": 2.0},
                    "expected": {"Synchronous": 5.0, "Staged": 4.0, "None": 0.5},
                    "small_groups": ["Staged", "None"],
                },
                pairwise=[
                    {"group_a": "Synchronous", "group_b": "Staged"},
                    {"group_a": "Synchronous", "group_b": "None"},
                    {"group_a": "Staged", "group_b": "None"},
                ],
                cox={"reference": "Synchronous", "terms": [{"term": "None"}]},
            ),
            min_cell=5,
        )
        logrank = data["logrank"]
        self.assertEqual((logrank["statistic"], logrank["p_value"]), (None, None))
        self.assertEqual(list(logrank["observed"]), ["Synchronous", "Staged"])
        self.assertEqual(list(logrank["expected"]), ["Synchronous", "Staged"])
        self.assertEqual(logrank["small_groups"], ["Staged"])
        self.assertEqual(
            data["pairwise"], [{"group_a": "Synchronous", "group_b": "Staged"}]
        )
        self.assertIsNone(data["cox"])

    def test_small_and_zero_baseline_counts_show_as_less_than_5_without_percent(self):
        row = self.data["baseline"]["rows"][0]
        self.assertEqual(
            row["counts"],
            {
                "Synchronous": {"Female": 8, "Male": "<5", "Other": "<5"},
                "Staged": {"Female": 5, "Male": "<5", "Other": "<5"},
            },
        )
        self.assertEqual(
            row["percents"],
            {
                "Synchronous": {"Female": 66.7, "Male": None, "Other": None},
                "Staged": {"Female": 62.5, "Male": None, "Other": None},
            },
        )
        self.assertEqual(row["overall"], {"Female": 13, "Male": 7, "Other": "<5"})
        self.assertEqual(row["missing"], {"Synchronous": "<5", "Staged": "<5"})

    def test_a_summary_of_fewer_than_5_values_is_hidden_and_no_extreme_is_shown(self):
        row = self.data["baseline"]["rows"][1]
        self.assertEqual(row["groups"]["Staged"]["n"], "<5")
        self.assertIsNone(row["groups"]["Staged"]["mean"])
        self.assertEqual(row["groups"]["Synchronous"]["mean"], 61.0)
        for summary in (*row["groups"].values(), row["overall"]):
            self.assertIsNone(summary["minimum"])
            self.assertIsNone(summary["maximum"])

    def test_a_suppressed_groups_baseline_column_is_dropped_with_the_tests(self):
        baseline = {
            **result()["baseline"],
            "groups": ["Synchronous", "Staged", "None"],
            "n": {"Synchronous": 12, "Staged": 8, "None": 3},
        }
        data, _ = disclosure.mask_result(result(baseline=baseline), min_cell=5)
        self.assertEqual(data["baseline"]["groups"], ["Synchronous", "Staged"])
        self.assertEqual(data["baseline"]["n"], {"Synchronous": 12, "Staged": 8})
        self.assertEqual([r["tests"] for r in data["baseline"]["rows"]], [[], []])

    def test_association_cells_below_5_and_missing_cells_show_as_less_than_5(self):
        self.assertEqual(
            self.data["associations"][0]["table"],
            {"<25%": {"No": 9, "Yes": "<5"}, ">50%": {"No": 6, "Yes": "<5"}},
        )

    def test_subgroup_levels_below_5_are_suppressed_and_small_events_hidden(self):
        no, yes = self.data["subgroups"][0]["levels"]
        self.assertEqual((no["n"], no["events"]), (19, "<5"))
        self.assertEqual(
            (yes["n"], yes["suppressed"], yes["median"]), ("<5", True, None)
        )

    def test_treatment_facts_and_exclusions_below_5_are_hidden(self):
        self.assertEqual(
            self.data["events"],
            {
                "liver_resected": {"n": 20, "of": 23, "percent": 87.0},
                "converted": {"n": "<5", "of": 23, "percent": None},
            },
        )
        self.assertEqual(self.data["cohort"]["excluded"], {"no date": "<5"})

    def test_the_minimum_is_the_setting_given(self):
        data, _ = disclosure.mask_result(result(), min_cell=10)
        self.assertEqual([g["n"] for g in data["groups"]], [12, "<10", "<10"])
        self.assertIn("counts below 10", data["disclosure"]["note"])

    def test_masking_twice_changes_nothing(self):
        again, curves = disclosure.mask_result(self.data, self.curves, min_cell=5)
        self.assertEqual(again, self.data)
        self.assertEqual(curves, self.curves)

    def test_the_input_is_not_changed(self):
        data = result()
        disclosure.mask_result(data, min_cell=5)
        self.assertEqual(data, result())


# --- through the pages, downloads and the command -----------------------------


def pdf_text(raw: bytes) -> str:
    """Return the text matplotlib drew in a PDF (one line per text array)."""
    lines = []
    for stream in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", raw, re.S):
        try:
            content = zlib.decompress(stream.group(1)).decode("latin-1")
        except zlib.error:
            continue
        for array in re.findall(r"\[(.*?)\]\s*TJ", content, re.S):
            strings = re.findall(r"\(((?:\\.|[^\\)])*)\)", array)
            lines.append(re.sub(r"\\(.)", r"\1", "".join(strings)))
    return "\n".join(lines)


class SmallGroupTestCase(CastTestCase):
    """15 patients at North by sex: 6 women, 6 men, 3 "other"; 1 patient at South.

    Liver extent is 25-50% for one woman and two men, under 25% for the others.
    """

    query = {
        **QUERY,
        "group_by": "sex",
        "times": "12, 24",
        "baseline": ["age", "extent"],
        "sites": ["NTH"],
        "name": "By sex",
    }

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        wider = {("F", 0), ("M", 0), ("M", 1)}  # liver extent 25-50%: 1 and 2
        for month, (sex, count) in enumerate((("F", 6), ("M", 6), ("X", 3)), 1):
            for i in range(count):
                patient = make_full_patient(
                    site=cls.north,
                    sex=sex,
                    date_of_birth=datetime.date(1935 + 3 * i, month, 17),
                )
                if (sex, i) in wider:
                    patient.liver.extent = "25to50"
                    patient.liver.save()
                if i % 2 == 0:
                    make_death(
                        patient, date=datetime.date(2005 + i // 2, month + 2 * i, 15)
                    )
        make_full_patient(site=cls.south, sex="F")

    def setUp(self):
        self.client.force_login(self.ann)

    def page(self, **changes):
        return self.client.get(
            reverse("analytics:report_result"), {**self.query, **changes}
        )

    def download(self, fmt, **changes):
        return self.client.get(
            reverse("analytics:report_download", args=[fmt]),
            {**self.query, **changes},
        )


class CohortOfOneTests(SmallGroupTestCase):
    def test_one_patient_cohort_is_refused_to_the_analyst_but_shown_to_the_manager(
        self,
    ):
        response = self.page(sites=["STH"])
        self.assertContains(
            response,
            "cohort: fewer than 5 patients can be analysed",
            status_code=400,
        )
        self.assertNotIn("data", response.context)
        self.client.force_login(self.mark)
        response = self.page(sites=["STH"])
        self.assertEqual(response.status_code, 200)
        self.assertEqual([g["n"] for g in response.context["data"]["groups"]], [1])

    def test_analyst_download_of_a_one_patient_cohort_is_a_json_400(self):
        response = self.download("json", sites=["STH"])
        self.assertEqual(response.status_code, 400)
        self.assertIn(
            "fewer than 5 patients", json.loads(response.content)["errors"][0]
        )

    def test_analyst_is_refused_a_grouping_where_every_group_is_below_5(self):
        # the six men by liver extent: 2 and 4
        response = self.page(sexes=["M"], group_by="extent")
        self.assertContains(
            response,
            "group_by: every group of extent of liver disease has fewer than 5",
            status_code=400,
        )
        self.client.force_login(self.mark)
        data = self.page(sexes=["M"], group_by="extent").context["data"]
        self.assertEqual([g["n"] for g in data["groups"]], [4, 2])


class SmallGroupPageTests(SmallGroupTestCase):
    def test_analyst_sees_the_group_of_3_as_less_than_5_without_statistics(self):
        response = self.page()
        self.assertEqual(response.status_code, 200)
        data = response.context["data"]
        small = data["groups"][2]
        self.assertEqual((small["group"], small["n"]), (SMALL, "<5"))
        self.assertEqual((small["events"], small["median"]), (None, None))
        self.assertNotIn(SMALL, data["at_risk"]["groups"])
        self.assertNotIn(SMALL, data["logrank"]["observed"])
        self.assertEqual(
            [(p["group_a"], p["group_b"]) for p in data["pairwise"]],
            [("Female", "Male")],
        )
        self.assertEqual([t["term"] for t in data["cox"]["terms"]], ["Male"])
        self.assertEqual(data["baseline"]["groups"], ["Female", "Male"])
        self.assertContains(response, "not shown: fewer than 5 patients")
        self.assertContains(response, "are left out of every test")
        self.assertContains(response, "Female 6, Male 6, Other / not stated &lt;5")

    def test_every_kind_of_report_suppresses_the_group_of_3(self):
        kinds = {
            "survival only": {"contents": "survival"},
            "adjusted": {"covariates": ["age"]},
            "landmark": {"index": "landmark", "landmark": "6", "group_by": "sex"},
        }
        for kind, changes in kinds.items():
            with self.subTest(kind=kind):
                response = self.page(**changes)
                self.assertEqual(response.status_code, 200)
                data = response.context["data"]
                self.assertEqual([g["n"] for g in data["groups"]], [6, 6, "<5"])
                self.assertEqual(list(data["at_risk"]["groups"]), ["Female", "Male"])
                self.assertNotIn(SMALL, str(data["cox"]))

    def test_overall_log_rank_leaves_the_suppressed_group_out(self):
        shown = self.page().context["data"]["logrank"]
        self.client.force_login(self.mark)
        two = self.page(sexes=["F", "M"]).context["data"]["logrank"]
        self.assertEqual(shown["statistic"], two["statistic"])
        self.assertEqual(shown["df"], 1)

    def test_small_baseline_and_treatment_counts_show_as_less_than_5(self):
        response = self.page()
        data = response.context["data"]
        extent = data["baseline"]["rows"][1]
        self.assertEqual(extent["counts"]["Female"]["25–50%"], "<5")
        self.assertIsNone(extent["percents"]["Female"]["25–50%"])
        self.assertEqual(data["events"]["converted"]["n"], "<5")
        self.assertContains(
            response, "Converted to resectable after systemic therapy: &lt;5 of 15</li>"
        )

    def test_data_manager_sees_every_count_the_analyst_does_not(self):
        analyst = self.page().context["data"]
        self.client.force_login(self.mark)
        manager = self.page().context["data"]
        self.assertEqual([g["n"] for g in analyst["groups"]], [6, 6, "<5"])
        self.assertEqual([g["n"] for g in manager["groups"]], [6, 6, 3])
        self.assertEqual((len(analyst["pairwise"]), len(manager["pairwise"])), (1, 3))
        self.assertEqual(analyst["events"]["converted"]["n"], "<5")
        self.assertEqual(manager["events"]["converted"]["n"], 0)
        self.assertNotIn("disclosure", manager)


class SmallGroupDownloadTests(SmallGroupTestCase):
    def test_csv_shows_the_group_as_less_than_5_and_no_pair_with_it(self):
        groups = self.download("csv", table="groups").content.decode()
        self.assertIn(f"{SMALL},<5,,,,\n", groups)
        pairwise = self.download("csv", table="pairwise").content.decode()
        self.assertNotIn(SMALL, pairwise)
        at_risk = self.download("csv", table="at_risk").content.decode()
        self.assertNotIn(SMALL, at_risk)
        baseline = self.download("csv", table="baseline").content.decode()
        self.assertIn(",25–50%,<5,<5,", baseline)
        self.assertNotIn(SMALL, baseline)
        events = self.download("csv", table="events").content.decode()
        self.assertIn("converted,<5,15,\n", events)

    def test_xlsx_shows_the_group_as_less_than_5(self):
        book = openpyxl.load_workbook(io.BytesIO(self.download("xlsx").content))
        rows = list(book["groups"].iter_rows(values_only=True))
        self.assertIn((SMALL, "<5", None, None, None, None), rows)
        self.assertNotIn(SMALL, str(list(book["pairwise"].values)))
        summary = str(list(book["summary"].values))
        self.assertIn("Disclosure control", summary)

    def test_json_has_no_statistics_and_no_curve_of_the_group(self):
        data = json.loads(self.download("json").content)
        self.assertEqual(data["groups"][2]["n"], "<5")
        self.assertNotIn(SMALL, data["curves"])
        self.assertEqual(data["disclosure"]["suppressed_groups"], [SMALL])

    def test_pdf_report_shows_the_group_as_less_than_5(self):
        response = self.download("report.pdf")
        self.assertTrue(response.content.startswith(b"%PDF"))
        text = pdf_text(response.content)
        self.assertRegex(text, rf"{re.escape(SMALL)} +<5")
        self.assertIn("Not drawn: Other / not stated (fewer than 5 patients).", text)
        self.assertNotIn(f"{SMALL} (n = 3)", text)  # the figure's legend

    def test_figure_has_no_curve_or_at_risk_row_of_the_group(self):
        svg = self.download("svg").content.decode()
        self.assertIn('id="at-risk|Female|0"', svg)
        self.assertNotIn(f"at-risk|{SMALL}", svg)


class StoredRunTests(SmallGroupTestCase):
    def saved(self) -> SavedReport:
        spec = {"group_by": "sex", "as_of": "2009-12-31", "cohort": {"sites": ["NTH"]}}
        return SavedReport.objects.create(name="By sex", spec=spec, owner=self.ann)

    def test_an_analysts_run_is_stored_masked(self):
        saved = self.saved()
        self.client.post(reverse("analytics:saved_report_run", args=[saved.pk]))
        stored = ReportRun.objects.get().result
        self.assertEqual(stored["groups"][2]["n"], "<5")
        self.assertNotIn(SMALL, stored["curves"])
        self.assertNotIn("Other / not stated 3", stored["results"])

    def test_a_run_stored_unmasked_is_masked_for_the_analyst(self):
        saved = self.saved()
        spec = ReportSpec.from_dict(saved.spec)
        unmasked = export.result_json(run_report(spec, user=AllSites()))
        run = ReportRun.objects.create(
            saved_report=saved,
            run_by=self.ann,
            software_version="test",
            data_cutoff=spec.as_of,
            fingerprint="0" * 64,
            patients=15,
            result=unmasked,
        )
        page = self.client.get(run.get_absolute_url())
        self.assertEqual(page.context["data"]["groups"][2]["n"], "<5")
        self.assertContains(page, "Other / not stated &lt;5")
        download = self.client.get(
            reverse("analytics:report_run_download", args=[run.pk, "json"])
        )
        self.assertNotIn(SMALL, json.loads(download.content)["curves"])
        self.client.force_login(self.mark)
        page = self.client.get(run.get_absolute_url())
        self.assertEqual(page.context["data"]["groups"][2]["n"], 3)


class ReportCommandUserTests(SmallGroupTestCase):
    def run_command(self, spec: dict, *args) -> str:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as file:
            json.dump({"as_of": "2009-12-31", **spec}, file)
        out = io.StringIO()
        call_command("report", "--spec", file.name, *args, stdout=out)
        return out.getvalue()

    def test_with_an_analyst_the_group_of_3_is_less_than_5(self):
        spec = {"group_by": "sex", "cohort": {"sites": ["NTH"]}}
        data = json.loads(self.run_command(spec, "--user", "ann"))
        self.assertEqual([g["n"] for g in data["groups"]], [6, 6, "<5"])
        data = json.loads(self.run_command(spec, "--user", "mark"))
        self.assertEqual([g["n"] for g in data["groups"]], [6, 6, 3])
        data = json.loads(self.run_command(spec))  # the operator at the server
        self.assertEqual([g["n"] for g in data["groups"]], [6, 6, 3])

    def test_with_an_analyst_a_one_patient_cohort_gives_error_lines(self):
        spec = {"cohort": {"sites": ["STH"]}}
        with self.assertRaises(CommandError) as caught:
            self.run_command(spec, "--user", "ann")
        self.assertIn("cohort: fewer than 5 patients", str(caught.exception))
        data = json.loads(self.run_command(spec))
        self.assertEqual(data["cohort"]["analysed"], 1)


class DemoStudyForAnalystTests(ReportViewTestCase):
    """The demo study (smallest arm 9 patients) stays whole for the analyst."""

    def test_demo_study_page_suppresses_no_group(self):
        demo = json.loads((EXAMPLES / "demo-study.json").read_text())
        response = self.client.get(
            reverse("analytics:report_result"),
            {
                **QUERY,
                "times": "12, 24, 36, 60",
                "reference": demo["reference"],
                "baseline": demo["baseline"],
                "diagnosed_from": demo["cohort"]["diagnosed_from"],
                "diagnosed_to": demo["cohort"]["diagnosed_to"],
            },
        )
        data = response.context["data"]
        self.assertEqual([g["n"] for g in data["groups"]], [30, 13, 22, 9])
        self.assertEqual(data["disclosure"]["suppressed_groups"], [])
        self.assertEqual(len(data["pairwise"]), 6)
        self.assertEqual(len(data["cox"]["terms"]), 3)
        self.assertEqual(len(data["at_risk"]["groups"]), 4)
        self.assertContains(response, "Disclosure control")

    def test_demo_study_command_for_the_analyst_suppresses_no_group(self):
        out = io.StringIO()
        call_command(
            "report",
            "--spec",
            str(EXAMPLES / "demo-study.json"),
            "--user",
            "ann",
            stdout=out,
        )
        data = json.loads(out.getvalue())
        self.assertEqual([g["n"] for g in data["groups"]], [30, 13, 22, 9])
        self.assertEqual(len(data["curves"]), 4)
        self.assertEqual(data["disclosure"]["suppressed_groups"], [])
