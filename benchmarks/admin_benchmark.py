"""Benchmark: how long the admin's lists take, by registry size.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crc_1m \
        python benchmarks/admin_benchmark.py --user manager

Reads a registry already seeded (``seed_demo --patients N``, then ``VACUUM
ANALYZE``) and asks each admin list of the registry's records, and a few of
its searches and filters, through Django's test client as `--user` (the demo
data manager by default): the first visit, then the median of `--repeats`
more, with the number of queries and the slowest statement's time. Numbers are
printed, never asserted: this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def admin_urls(patient_number: str) -> list[str]:
    """Return the admin lists measured: every registry model's, then searches
    and filters that a data manager uses."""
    from django.contrib import admin
    from django.urls import reverse

    urls = [
        reverse(f"admin:registry_{model._meta.model_name}_changelist")
        for model in sorted(admin.site._registry, key=lambda m: m._meta.model_name)
        if model._meta.app_label == "registry"
    ]
    patients = reverse("admin:registry_patient_changelist")
    follow_ups = reverse("admin:registry_followup_changelist")
    prefix = patient_number[:-1].lower()
    return [
        *urls,
        f"{patients}?q={prefix}",
        f"{follow_ups}?q={prefix}",
        f"{follow_ups}?date_year=2005&contact_type__exact=clinic",
        f"{patients}?strategy=synchronous&o=4",
    ]


def measure(user, urls: list[str], *, repeats: int = 2) -> list[dict]:
    """Return, for each URL, its status, queries, first and later times (ms)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(user)
    rows = []
    for url in urls:
        times = []
        for _ in range(1 + repeats):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get(url)
                times.append((time.perf_counter() - started) * 1000)
        slowest = max((float(q["time"]) for q in queries), default=0.0)
        rows.append(
            {
                "url": url,
                "status": response.status_code,
                "queries": len(queries),
                "first_ms": times[0],
                "again_ms": statistics.median(times[1:]) if repeats else times[0],
                "slowest_ms": slowest * 1000,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--user", default="manager")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    from benchmarks.django_setup import setup_django

    setup_django()
    from django.contrib.auth import get_user_model
    from django.db import connection

    from registry.models import FollowUp, Patient

    user = get_user_model().objects.filter(username=args.user).first()
    if user is None:
        raise SystemExit(f"--user: no user called {args.user!r} in this registry.")
    first = Patient.objects.order_by("pk").first()
    if first is None:
        sys.exit("The registry is empty: seed it first (seed_demo --patients N).")
    print(
        f"Registry: {Patient.objects.count():,} patients, "
        f"{FollowUp.objects.count():,} follow-up contacts ({connection.vendor}); "
        f"as {args.user}; first visit, then the median of {args.repeats} more"
    )
    for row in measure(user, admin_urls(first.registry_number), repeats=args.repeats):
        print(
            f"  {row['url']:62} {row['status']} {row['queries']:3} queries "
            f"{row['first_ms']:8.0f} / {row['again_ms']:6.0f} ms "
            f"(slowest statement {row['slowest_ms']:.0f} ms)"
        )


if __name__ == "__main__":
    main()
