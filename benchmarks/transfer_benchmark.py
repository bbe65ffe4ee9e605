"""Benchmark: how long the exports take and how much memory, and the API's deep pages.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crc_100k \
        python benchmarks/transfer_benchmark.py --user manager

Reads a registry already seeded (``seed_demo --patients N``, then ``VACUUM
ANALYZE``). Each export (the full one and the de-identified one, in each of
``--formats``) is made as the export pages make it (registry.exporter), every
patient of the registry, in a Python process of its own: its time, the file's
size and the process's peak resident memory (start-up included: about 60 MB).
Then the API's follow-up list as ``--user`` (the demo data manager by default),
through Django's test client: page 2 and the last page by number, and by cursor
(``?cursor=``) the first page, the one after it and a page at the end; the
median of ``--repeats`` after a first request. Numbers are printed, never
asserted: this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import base64
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EXPORTS = ("full", "deidentified")


def export_once(kind: str, fmt: str) -> dict:
    """Make one export of every patient; return its size, time and the peak
    memory of this process so far (MB)."""
    from registry import exporter
    from registry.models import Patient

    started = time.perf_counter()
    patients = Patient.objects.all()
    if kind == "full":
        made = exporter.export_full(patients, fmt=fmt)
    else:
        made = exporter.export_deidentified(patients, fmt=fmt, min_cell=1)
    return {
        "export": kind,
        "format": fmt,
        "patients": made.patients,
        "rows": made.rows,
        "megabytes": len(made.data) / 1e6,
        "seconds": time.perf_counter() - started,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def api_pages(user, *, repeats: int = 3) -> list[dict]:
    """Return the follow-up list's pages measured: label, status, rows, time."""
    from django.test import Client

    from registry.models import FollowUp, Site

    client = Client()
    client.force_login(user)
    url = "/api/v1/follow-ups/"
    scoped = FollowUp.objects.filter(patient__site__in=Site.objects.for_user(user))
    count = scoped.count()
    last = max(1, -(-count // 50))
    # a cursor as `next` gives it, positioned before the last page's ids
    ids = list(scoped.order_by("-pk").values_list("pk", flat=True)[:51])
    end = base64.b64encode(f"p={ids[-1]}".encode()).decode() if ids else ""
    pages = [
        (f"page {min(2, last)}", f"{url}?page={min(2, last)}"),
        (f"page {last:,} (the last) by number", f"{url}?page={last}"),
        ("cursor: the first page", f"{url}?cursor="),
        ("cursor: the page after it", None),
        ("cursor: a page at the end", f"{url}?cursor={end}"),
    ]
    rows, following = [], None
    for label, page in pages:
        page = page or following
        times = []
        for _ in range(1 + repeats):
            started = time.perf_counter()
            response = client.get(page)
            times.append((time.perf_counter() - started) * 1000)
        body = response.json() if response.status_code == 200 else {}
        following = (body.get("next") or "").replace("http://testserver", "") or page
        rows.append(
            {
                "page": label,
                "status": response.status_code,
                "rows": len(body.get("results", [])),
                "ms": statistics.median(times[1:]) if repeats else times[0],
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--user", default="manager")
    parser.add_argument("--formats", default="csv,xlsx,dta")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--one", nargs=2, metavar=("EXPORT", "FORMAT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    from benchmarks.django_setup import setup_django

    setup_django()
    if args.one:  # one export, in this process of its own
        print(json.dumps(export_once(*args.one)))
        return
    from django.contrib.auth import get_user_model
    from django.db import connection

    from registry.models import FollowUp, Patient

    patients = Patient.objects.count()
    if not patients:
        sys.exit("The registry is empty: seed it first (seed_demo --patients N).")
    print(
        f"Registry: {patients:,} patients, {FollowUp.objects.count():,} follow-up "
        f"contacts ({connection.vendor})"
    )
    print("Exports of every patient, each in a process of its own:")
    for kind in EXPORTS:
        for fmt in args.formats.split(","):
            done = subprocess.run(
                [sys.executable, __file__, "--one", kind, fmt],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode:
                print(f"  {kind:12} {fmt:4}  failed: {done.stderr.strip()[-300:]}")
                continue
            row = json.loads(done.stdout.strip().splitlines()[-1])
            print(
                f"  {kind:12} {fmt:4}  {row['rows']:>10,} rows  "
                f"{row['megabytes']:7.1f} MB file  {row['seconds']:7.1f} s  "
                f"peak {row['peak_mb']:6.0f} MB"
            )
    user = get_user_model().objects.filter(username=args.user).first()
    if user is None:
        raise SystemExit(f"--user: no user called {args.user!r} in this registry.")
    print(f"The API's follow-ups as {args.user}, median of {args.repeats}:")
    for row in api_pages(user, repeats=args.repeats):
        print(
            f"  {row['page']:36} {row['status']} {row['rows']:3} rows "
            f"{row['ms']:8.1f} ms"
        )


if __name__ == "__main__":
    main()
