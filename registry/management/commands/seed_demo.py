"""Fill an empty registry with the synthetic demonstration cohort and demo users."""

from __future__ import annotations

import time

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from simple_history.utils import bulk_create_with_history

from registry import demo, facts
from registry.models import (
    Death,
    FollowUp,
    LiverMetastases,
    Operation,
    Patient,
    PrimaryTumour,
    RadiationCourse,
    Site,
    SystemicTherapyLine,
)

#: Demo accounts: (username, password, group, staff, member of which sites).
DEMO_USERS = (
    ("nurse", "nurse-demo-2026", "Data entry", False, "first"),
    ("manager", "manager-demo-2026", "Data manager", True, "all"),
    ("analyst", "analyst-demo-2026", "Analyst", False, "all"),
)
BATCH = 5000
REASON = "synthetic demo data (seed_demo)"


class Command(BaseCommand):
    help = (
        "Create the synthetic demo cohort (74 patients shaped like the study in "
        "DESIGN.md, or --patients N of the same shape) and one demo user per group."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--patients", type=int, default=74, help="How many patients (default 74)."
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=demo.DEFAULT_SEED,
            help=f"Random seed (default {demo.DEFAULT_SEED}).",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing, successfully, if the registry already holds patients.",
        )
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Delete the synthetic patients and sites first (real data is kept).",
        )

    def handle(
        self, *args, patients: int, seed: int, if_empty: bool, replace: bool, **opts
    ):
        if patients < 1:
            raise CommandError(f"--patients must be at least 1 (got {patients}).")
        if replace:
            removed, _ = Patient.objects.synthetic().delete()
            Site.objects.filter(is_synthetic=True, patients__isnull=True).delete()
            self.stdout.write(f"Removed {removed} synthetic rows.")
        existing = Patient.objects.count()
        if existing:
            if if_empty:
                self.stdout.write(
                    f"The registry already holds {existing} patients; not seeding."
                )
                self._ensure_users()
                return
            raise CommandError(
                f"The registry already holds {existing} patients; seed_demo only fills "
                "an empty registry (use --replace to swap the synthetic cohort)."
            )
        started = time.perf_counter()
        cohort = demo.generate(patients=patients, seed=seed)
        # Each patient's derived facts are computed once, after all their records.
        with transaction.atomic(), facts.deferred():
            sites = self._sites(patients)
            self._insert(cohort, sites)
            # The cohort was numbered here, not by Patient.save: move each site's
            # counter past the numbers it gave.
            for site in sites:
                Site.objects.filter(pk=site.pk).update(
                    last_registry_number=site.highest_registry_number()
                )
        elapsed = time.perf_counter() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {len(cohort)} synthetic patients at {len(sites)} sites "
                f"in {elapsed:.1f} s (seed {seed})."
            )
        )
        self._ensure_users()

    def _sites(self, patients: int) -> list[Site]:
        sites = []
        for code, name in demo.site_list(patients):
            site, _ = Site.objects.get_or_create(
                code=code, defaults={"name": name, "is_synthetic": True}
            )
            sites.append(site)
        return sites

    def _insert(self, cohort: list[demo.DemoPatient], sites: list[Site]) -> None:
        for start in range(0, len(cohort), BATCH):
            chunk = cohort[start : start + BATCH]
            created = self._bulk(
                Patient,
                [Patient(site=sites[p.site_index], **p.patient) for p in chunk],
            )
            one_to_one = {PrimaryTumour: [], LiverMetastases: [], Death: []}
            many = {
                RadiationCourse: [],
                SystemicTherapyLine: [],
                Operation: [],
                FollowUp: [],
            }
            for record, patient in zip(chunk, created, strict=True):
                one_to_one[PrimaryTumour].append(
                    PrimaryTumour(patient=patient, **record.tumour)
                )
                one_to_one[LiverMetastases].append(
                    LiverMetastases(patient=patient, **record.liver)
                )
                if record.death:
                    one_to_one[Death].append(Death(patient=patient, **record.death))
                many[RadiationCourse] += [
                    RadiationCourse(patient=patient, **r) for r in record.radiation
                ]
                many[SystemicTherapyLine] += [
                    SystemicTherapyLine(patient=patient, **r) for r in record.systemic
                ]
                many[Operation] += [
                    Operation(patient=patient, **r) for r in record.operations
                ]
                many[FollowUp] += [
                    FollowUp(patient=patient, **r) for r in record.followups
                ]
            for model, objs in (one_to_one | many).items():
                self._bulk(model, objs)

    def _bulk(self, model, objs: list) -> list:
        # bulk_create_with_history writes the history rows alongside, so even
        # the demo cohort has its creation in the audit trail.
        return bulk_create_with_history(
            objs, model, batch_size=1000, default_change_reason=REASON
        )

    def _ensure_users(self) -> None:
        User = get_user_model()
        sites = list(Site.objects.filter(is_synthetic=True).order_by("code"))
        self.stdout.write(
            "Demo logins (synthetic data only; change them for real use):"
        )
        for username, password, group_name, staff, membership in DEMO_USERS:
            user, created = User.objects.get_or_create(username=username)
            if created:
                user.set_password(password)
                user.is_staff = staff
                user.save()
            user.groups.add(Group.objects.get(name=group_name))
            for site in sites if membership == "all" else sites[:1]:
                site.members.add(user)
            shown = (
                password if created or user.check_password(password) else "(changed)"
            )
            self.stdout.write(f"  {username:8} {shown:20} {group_name}")
