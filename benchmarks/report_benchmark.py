"""Benchmark: how long outcome reports take, and how much memory, by cohort size.

    python benchmarks/report_benchmark.py --patients 10000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crc_bench \
        python benchmarks/report_benchmark.py --patients 100000

Without DATABASE_URL it builds (once) a SQLite registry of N synthetic patients in
var/bench-N.sqlite3 with seed_demo; with DATABASE_URL it seeds that database if
it is empty. It then times, as the median of --repeats runs, what the report
page and the ``report`` command run (analytics.reports.run_report):

* the bare scan: one aggregate over the stored facts columns a survival report
  reads, for the rows it reads (the cohort's stored facts, selected as
  registry.bulk.facts_sql selects them: bulk.selected_facts of
  analytics.dataset.cohort_facts), the floor no report of the whole cohort can
  go below, and the survival report's time as a multiple of it (issue 9 asks
  for 2 at most);
* the same columns of the same rows read out to Python (``fetchall``), the
  floor as issue 9's own table measured it ("bare scan of the columns a report
  needs"), and the survival report's time as a multiple of that too;
* the least count: the same rows counted by group, days and event in one
  GROUP BY and read out, the least any counted survival report asks of the
  database, and its time as a multiple of the bare scan;
* the survival core, as the issue defines it: the counted table (derived
  strategy, one query), then Kaplan-Meier per group with CIs, medians and the
  log-rank tests overall and pairwise, as run_report computes them first;
* the survival report: derived strategy, Kaplan-Meier per group with CIs,
  medians, survival at 12/24/36/60 months, log-rank overall and pairwise, the
  unadjusted Cox model, median follow-up, the immortal-time warning and the
  text; counted in the database (a specification with no baseline table,
  associations or subgroups);
* the full report: the same, plus the baseline table, the extent-resectability
  association and the subgroup curves, counted in the database too (by group
  and value, by level, days and event, by factor and outcome);
* the Kaplan-Meier figure rendered to PNG;
* the result page of each report as the server answers it (report, figure and
  template), through Django's test client as the demo analyst;

and the peak Python memory (tracemalloc) of each report next to the size of the
per-patient frame. Numbers are printed, never asserted: this is a measurement,
not a test.
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
import warnings
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

AS_OF = datetime.date(2009, 12, 31)
SURVIVAL_ONLY = {"baseline": [], "associations": [], "subgroups": []}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        path = ROOT / "var" / f"bench-{args.patients}.sqlite3"
        path.parent.mkdir(exist_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    os.environ.setdefault("DJANGO_SECRET_KEY", "benchmark-only")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry.settings")
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], check=True)
    subprocess.run(
        [*manage, "seed_demo", "--if-empty", "--patients", str(args.patients)],
        check=True,
        stdout=subprocess.DEVNULL,
    )

    import django

    if os.environ["DATABASE_URL"].startswith("postgres"):
        # Planner statistics after the bulk load (autovacuum may be off or late):
        # without them PostgreSQL picks nested loops over the whole registry.
        subprocess.run([*manage, "dbshell", "--", "-c", "ANALYZE"], check=True)

    # whitenoise warns that staticfiles/ is missing; the pages need no assets here
    warnings.filterwarnings("ignore", message="No directory at")
    django.setup()
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client

    from analytics import dataset, export, plots, survival
    from analytics.forms import ReportForm
    from analytics.reports import (
        frame_variables,
        needs_rows,
        run_report,
        table_variables,
    )
    from analytics.spec import ReportSpec
    from registry import bulk
    from registry.models import Patient

    reader = dataset.AllSites()
    n = Patient.objects.count()
    survival_spec = ReportSpec.from_dict({"as_of": AS_OF.isoformat(), **SURVIVAL_ONLY})
    full_spec = ReportSpec.from_dict({"as_of": AS_OF.isoformat()})
    assert not needs_rows(survival_spec) and not needs_rows(full_spec)

    def survival_report():
        return run_report(survival_spec, user=reader)

    def survival_core():
        # what run_report does first: the counted table (one query), then
        # Kaplan-Meier with CIs, medians and the log-rank tests on it
        facts = dataset.cohort_facts(reader, dataset.Cohort())
        table = dataset.survival_table(facts, group="strategy", as_of=AS_OF)
        counts = table.counts.groupby(
            ["group", "days", "event"], observed=True, as_index=False
        )["n"].sum()
        counts["months"] = counts["days"] / dataset.TIME_UNITS["months"]
        args = {"duration": "months", "event": "event", "weights": "n"}
        curves = survival.kaplan_meier(counts, group="group", **args)
        [curve.median() for curve in curves.values()]
        survival.logrank(counts, group="group", **args)
        survival.pairwise_logrank(counts, group="group", **args)

    def full_report():
        return run_report(full_spec, user=reader)

    # the stored columns a survival report reads: flags, then dates and strategy
    flags = ("liver_resected", "converted", "later_palliative")
    dates = ("diagnosis_date", "death_date", "last_contact", "strategy_completed")
    dates += ("first_primary_resection",)

    def read_facts(select: str) -> None:
        # the rows a survival report reads: the cohort's stored facts, selected
        # as registry.bulk.facts_sql selects them
        selected, params = bulk.selected_facts(
            dataset.cohort_facts(reader, dataset.Cohort())
        )
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {select} FROM ({selected}) f", params)
            cursor.fetchall()

    def bare_scan():
        # every column touched once per row, in one aggregate in the database
        flagged = " + ".join(f"CASE WHEN f.{f} THEN 1 ELSE 0 END" for f in flags)
        maxima = ", ".join(f"MAX(f.{date})" for date in dates)
        read_facts(f"COUNT(f.strategy), {maxima}, SUM({flagged})")

    def least_count():
        # the least any counted survival report asks of the database: the same
        # rows counted by group, days and event in one GROUP BY, read out
        facts, params = bulk.facts_sql(
            dataset.cohort_facts(reader, dataset.Cohort()), as_of=AS_OF
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT f.strategy, f.survival_days, f.survival_event, COUNT(*)"
                f" FROM ({facts}) f GROUP BY 1, 2, 3",
                params,
            )
            cursor.fetchall()

    def columns_read():
        # the issue's own floor ("bare scan of the columns a report needs"):
        # the same columns of the same rows, read out to Python as they are
        read_facts(", ".join(f"f.{c}" for c in ("strategy", *dates, *flags)))

    report = full_report()
    data = export.result_json(report)

    def figure():
        # drawn and rendered each time, not served from plots.RENDERED
        return plots.render(export.figure(data), format="png")

    def frame():
        # the per-patient frame the full report would read, with its variables
        queryset = dataset.cohort_queryset(reader, dataset.Cohort())
        return dataset.patient_frame(
            queryset,
            group="strategy",
            as_of=AS_OF,
            variables=frame_variables(full_spec),
        )

    client = Client()
    client.force_login(User.objects.get(username="analyst"))
    # the report builder as it opens, with the data cut-off filled in
    form = {
        name: field.initial
        for name, field in ReportForm.base_fields.items()
        if field.initial is not None
    }
    full_query = urlencode({**form, "as_of": AS_OF.isoformat()}, doseq=True)
    survival_query = urlencode(
        {**form, "as_of": AS_OF.isoformat(), "contents": "survival"}, doseq=True
    )

    def page(query):
        def get():
            response = client.get(f"/reports/result/?{query}")
            if response.status_code != 200:
                raise SystemExit(f"result page: HTTP {response.status_code}")

        return get

    def timed(function) -> float:
        function()  # warm up caches and imports
        runs = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            function()
            runs.append(time.perf_counter() - started)
        return statistics.median(runs) * 1000

    def peak(function) -> float:
        tracemalloc.start()
        function()
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top / 2**20

    counted = len(
        dataset.survival_table(
            dataset.cohort_facts(reader, dataset.Cohort()),
            group="strategy",
            as_of=AS_OF,
        ).counts
    )
    tables = dataset.variable_counts(
        dataset.cohort_facts(reader, dataset.Cohort()),
        group="strategy",
        as_of=AS_OF,
        **table_variables(full_spec),
    )
    full_counted = counted + sum(len(part) for _, part in tables.parts())
    frame_mb = frame().memory_usage(deep=True).sum() / 2**20
    print(
        f"Cohort: {n} patients ({connection.vendor}); the survival report reads "
        f"{counted} counted rows, the full report {full_counted}; median of "
        f"{args.repeats} runs"
    )
    bare, read_out = timed(bare_scan), timed(columns_read)
    least = timed(least_count)
    counted_report = timed(survival_report)
    rows = [
        ("bare scan of the stored facts it reads", bare, "ms"),
        ("the same columns read out to Python", read_out, "ms"),
        ("count by group, days, event alone (one query)", least, "ms"),
        ("  that count / bare scan", least / bare, "x"),
        ("strategy, KM with CIs, medians, log-rank", timed(survival_core), "ms"),
        ("survival report (counted in the database)", counted_report, "ms"),
        ("survival report / bare scan (issue 9: <= 2)", counted_report / bare, "x"),
        ("survival report / columns read out", counted_report / read_out, "x"),
        ("full report (counted in the database)", timed(full_report), "ms"),
        ("Kaplan-Meier figure (PNG)", timed(figure), "ms"),
        ("result page, survival report", timed(page(survival_query)), "ms"),
        ("result page, full report", timed(page(full_query)), "ms"),
        ("peak memory, survival report", peak(survival_report), "MB"),
        ("peak memory, full report", peak(full_report), "MB"),
        ("the full report's per-patient frame (unread)", frame_mb, "MB"),
    ]
    for label, value, unit in rows:
        print(f"  {label:44} {value:8.1f} {unit}")


if __name__ == "__main__":
    main()
