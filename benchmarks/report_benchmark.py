"""Benchmark: how long a survival report takes, and how much memory, by cohort size.

    python benchmarks/report_benchmark.py --patients 10000
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crc_bench \
        python benchmarks/report_benchmark.py --patients 100000

Without DATABASE_URL it builds (once) a SQLite registry of N synthetic patients in
var/bench-N.sqlite3 with seed_demo; with DATABASE_URL it seeds that database if
it is empty. It then times, as the median of --repeats runs:

* survival core, aggregated in SQL: derived strategy, the GROUP BY (group, day,
  event) count, Kaplan-Meier per group with CI, medians, log-rank overall and
  pairwise;
* survival core from the per-patient frame (the same numbers, rows fetched);
* the full report (adds Cox, baseline table, associations, follow-up, text);
* the Kaplan-Meier figure rendered to PNG;

and the peak Python memory (tracemalloc) of the aggregated core and the full
report, next to the size of the per-patient frame. Numbers are printed, never
asserted: this is a measurement, not a test.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        path = ROOT / "var" / f"bench-{args.patients}.sqlite3"
        path.parent.mkdir(exist_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    os.environ.setdefault("DJANGO_SECRET_KEY", "benchmark-only")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry.settings")
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], check=True)
    subprocess.run(
        [*manage, "seed_demo", "--if-empty", "--patients", str(args.patients)],
        check=True,
        stdout=subprocess.DEVNULL,
    )

    import django

    django.setup()
    from django.db import connection

    from analytics import dataset, export, survival
    from analytics.reports import run_report
    from analytics.spec import ReportSpec
    from registry.models import Patient

    as_of = datetime.date(2009, 12, 31)
    reader = dataset.AllSites()
    n = Patient.objects.count()

    def core_aggregated():
        queryset = dataset.cohort_queryset(reader, dataset.Cohort())
        counts, _ = dataset.survival_counts(queryset, group="strategy", as_of=as_of)
        counts["months"] = counts["days"] / dataset.TIME_UNITS["months"]
        args = {"duration": "months", "event": "event", "group": "group"}
        args["weights"] = "n"
        curves = survival.kaplan_meier(counts, **args)
        medians = [curve.median() for curve in curves.values()]
        survival.logrank(counts, **args)
        survival.pairwise_logrank(counts, **args)
        return len(counts), medians

    def core_rows():
        queryset = dataset.cohort_queryset(reader, dataset.Cohort())
        frame = dataset.patient_frame(queryset, group="strategy", as_of=as_of)
        frame = frame[frame["days"].notna()]
        frame = frame.assign(months=frame["days"] / dataset.TIME_UNITS["months"])
        args = {"duration": "months", "event": "event", "group": "group"}
        curves = survival.kaplan_meier(frame, **args)
        [curve.median() for curve in curves.values()]
        survival.logrank(frame, **args)
        survival.pairwise_logrank(frame, **args)
        return frame

    spec = ReportSpec.from_dict({"as_of": as_of.isoformat()})

    def full_report():
        return run_report(spec, user=reader)

    report = full_report()
    data = export.result_json(report)

    def figure():
        return export.figure_bytes(data, report.curves, "png")

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

    rows, _ = core_aggregated()
    frame = core_rows()
    vendor = connection.vendor
    print(f"Cohort: {n} patients ({vendor}); {rows} (group, day, event) rows")
    print(f"  survival core, aggregated in SQL   {timed(core_aggregated):8.1f} ms")
    print(f"  survival core, per-patient rows    {timed(core_rows):8.1f} ms")
    print(f"  full report (Cox, baseline, text)  {timed(full_report):8.1f} ms")
    print(f"  Kaplan-Meier figure (PNG)          {timed(figure):8.1f} ms")
    frame_mb = frame.memory_usage(deep=True).sum() / 2**20
    print(f"  peak memory, aggregated core       {peak(core_aggregated):8.1f} MB")
    print(f"  peak memory, full report           {peak(full_report):8.1f} MB")
    print(f"  per-patient frame (reference)      {frame_mb:8.1f} MB")


if __name__ == "__main__":
    main()
