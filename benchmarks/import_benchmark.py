"""Benchmark: importing 10,000 patients with their records (about 110,000 rows).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crc_bench \
        python benchmarks/import_benchmark.py --patients 10000

Generates import files in memory (CSV, one per record kind; per patient a
diagnosis, liver metastases, a radiation course, two systemic lines, two
operations, three follow-up contacts, and for four in ten a death), creates a new
site, and times the dry run and the commit of registry.importer.run_import (the
same code as the Import page and ``import_records``), then a second commit of the
same files, which must change nothing. Prints the times, the rows, and the
cohort size found afterwards. Numbers are printed, never asserted: this is a
measurement, not a test. Without DATABASE_URL it uses var/bench-import.sqlite3.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import io
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def day(base: datetime.date, days: int) -> str:
    return (base + datetime.timedelta(days=days)).isoformat()


def generate(n: int, seed: int) -> dict[str, list[dict]]:
    """Return the rows of each record kind for `n` new patients."""
    rng = random.Random(seed)
    kinds: dict[str, list[dict]] = {
        k: []
        for k in (
            "patient",
            "primary_tumour",
            "liver_metastases",
            "radiation_course",
            "systemic_therapy_line",
            "operation",
            "follow_up",
            "death",
        )
    }
    for i in range(1, n + 1):
        src = f"B{i:07d}"
        dx = datetime.date(2010, 1, 1) + datetime.timedelta(days=rng.randrange(3000))
        born = datetime.date(rng.randrange(1930, 1970), rng.randrange(1, 13), 15)
        kinds["patient"].append(
            {
                "source_record_id": src,
                "mrn": f"BM{i:08d}",
                "date_of_birth": born.isoformat(),
                "sex": rng.choice("FM"),
                "ecog": rng.randrange(3),
                "presenting_symptom": rng.choice(["none", "bleeding", "obstruction"]),
            }
        )
        kinds["primary_tumour"].append(
            {
                "source_record_id": src,
                "diagnosis_date": dx.isoformat(),
                "primary_site": "rectum_mid",
                "histology": "adeno",
                "clinical_t": "T3",
                "clinical_n": "N1a",
                "clinical_m": "M1a",
                "cea_ng_ml": f"{rng.uniform(1, 300):.1f}",
                "kras": "nt",
                "nras": "nt",
                "braf": "nt",
                "mmr": "nt",
            }
        )
        kinds["liver_metastases"].append(
            {
                "source_record_id": src,
                "timing": "synchronous",
                "lesion_count": rng.randrange(1, 9),
                "largest_mm": rng.randrange(5, 90),
                "distribution": rng.choice(["unilobar", "bilobar"]),
                "extent": rng.choice(["lt25", "25to50", "50to75"]),
                "extrahepatic": "none",
                "initial_resectability": rng.choice(["resectable", "potentially"]),
            }
        )
        kinds["radiation_course"].append(
            {
                "source_record_id": src,
                "course_type": "long_crt",
                "start_date": day(dx, 20),
                "end_date": day(dx, 58),
                "total_dose_gy": "50.4",
                "fractions": 28,
                "concurrent_agent": "capecitabine",
                "completed": "true",
            }
        )
        for start, setting in ((70, "neoadjuvant"), (330, "adjuvant")):
            kinds["systemic_therapy_line"].append(
                {
                    "source_record_id": src,
                    "setting": setting,
                    "regimen": rng.choice(["folfox", "folfiri"]),
                    "biologic": "none",
                    "start_date": day(dx, start),
                    "end_date": day(dx, start + 90),
                    "cycles": 6,
                    "stop_reason": "completed",
                }
            )
        for offset, primary, liver in ((200, "lar", "none"), (290, "none", "minor")):
            kinds["operation"].append(
                {
                    "source_record_id": src,
                    "date": day(dx, offset),
                    "primary_procedure": primary,
                    "liver_procedure": liver,
                    "palliative_procedure": "none",
                    "intent": "curative",
                    "emergency": "false",
                    "margin": "R0",
                }
            )
        for offset in (500, 860, 1200):
            kinds["follow_up"].append(
                {
                    "source_record_id": src,
                    "date": day(dx, offset),
                    "contact_type": "clinic",
                    "disease_status": rng.choice(["ned", "ned", "hepatic"]),
                }
            )
        if rng.random() < 0.4:
            kinds["death"].append(
                {"source_record_id": src, "date": day(dx, 1300), "cause": "colorectal"}
            )
    return kinds


def as_files(kinds: dict[str, list[dict]]) -> list[tuple[str, bytes]]:
    files = []
    for kind, rows in kinds.items():
        out = io.StringIO()
        columns = list(dict.fromkeys(c for row in rows for c in row))
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        files.append((f"{kind}.csv", out.getvalue().encode()))
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        (ROOT / "var").mkdir(exist_ok=True)
        os.environ["DATABASE_URL"] = (
            f"sqlite:///{ROOT / 'var' / 'bench-import.sqlite3'}"
        )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "registry.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from registry import importer
    from registry.models import Patient, Site

    call_command("migrate", verbosity=0)
    files = as_files(generate(args.patients, args.seed))
    code = f"B{int(time.time()) % 10**8:08d}"
    site = Site.objects.create(code=code, name=f"Import benchmark {code}")
    rows = sum(data.count(b"\n") - 1 for _, data in files)
    print(f"{args.patients} patients, {rows} rows, site {code}")
    for label, commit in (("dry run", False), ("commit", True), ("re-import", True)):
        start = time.perf_counter()
        result = importer.run_import(
            files, site=site, user=None, commit=commit, file_name="benchmark.zip"
        )
        elapsed = time.perf_counter() - start
        outcome = {k: dict(v) for k, v in result.counts.items()}
        print(f"{label}: {elapsed:.1f} s, problems {len(result.problems)}")
        if label != "commit":
            print(f"  {outcome}")
    print(f"cohort: {Patient.objects.filter(site=site).count()} patients at {code}")


if __name__ == "__main__":
    main()
