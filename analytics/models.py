"""Saved report specifications and the provenance of each run."""

from __future__ import annotations

from collections.abc import Sequence

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from simple_history.models import HistoricalRecords

#: Who may open other users' runs (covering only sites they are a member of).
MANAGE_SAVED_REPORTS = "analytics.change_savedreport"


class SavedReport(models.Model):
    """A named report specification that can be run again."""

    name = models.CharField(max_length=200)
    spec = models.JSONField(help_text="The report specification (see the README).")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="saved_reports",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords(excluded_fields=["created_at", "updated_at"])

    class Meta:
        ordering = ["name"]
        permissions = [("run_report", "Can run outcome reports")]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "name"],
                name="saved_report_name_unique_per_owner",
                violation_error_message="You already have a saved report of this name.",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("analytics:saved_report_detail", args=[self.pk])


class ReportRunQuerySet(models.QuerySet):
    def visible_to(self, user) -> ReportRunQuerySet:
        """Return the runs `user` may open.

        A run holds results computed over the sites it covers: its runner sees
        it; so does a user who may manage saved reports and is a member of every
        site it covers; a superuser sees every run.
        """
        if user.is_superuser:
            return self
        own = Q(run_by=user)
        if not user.has_perm(MANAGE_SAVED_REPORTS):
            return self.filter(own)
        sites_not_held = ReportRun.sites.through.objects.filter(
            reportrun=OuterRef("pk")
        ).exclude(site__members=user)
        return self.filter(own | ~Exists(sites_not_held))


class ReportRun(models.Model):
    """One run of a saved report: who, when, on what software and data."""

    saved_report = models.ForeignKey(
        SavedReport, on_delete=models.CASCADE, related_name="runs"
    )
    run_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    run_at = models.DateTimeField(auto_now_add=True)
    software_version = models.CharField(max_length=200)
    data_cutoff = models.DateField()
    fingerprint = models.CharField(
        max_length=64, help_text="SHA-256 of the analysis dataset (de-identified rows)."
    )
    patients = models.PositiveIntegerField()
    result = models.JSONField(help_text="The whole report result, as its JSON.")
    sites = models.ManyToManyField(
        "registry.Site",
        blank=True,
        related_name="+",
        help_text="The sites whose patients the result covers: who may open it.",
    )

    objects = ReportRunQuerySet.as_manager()

    class Meta:
        ordering = ["-run_at", "-pk"]
        get_latest_by = "run_at"

    def __str__(self) -> str:
        return f"{self.saved_report} run {self.run_at:%Y-%m-%d %H:%M}"

    def get_absolute_url(self) -> str:
        return reverse("analytics:report_run_detail", args=[self.pk])

    def record_sites(self, user, codes: Sequence[str] = ()) -> None:
        """Record the sites the result covers: those `user` could see when they
        ran it, narrowed to `codes` (the cohort's site filter) when given."""
        # Site through the field: analytics.dataset alone imports registry.models
        sites = self.sites.model.objects.for_user(user)
        if codes:
            sites = sites.filter(code__in=codes)
        self.sites.set(sites)


class ReportDownload(models.Model):
    """One download of a report file: who, what, when (the audit of downloads).

    Runs are kept as ReportRun; a download of an unsaved report, or of a stored
    run, is kept here. ``what`` is the report's query string (its specification:
    filters and grouping, never identifiers) or the run it came from.
    """

    downloaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    downloaded_at = models.DateTimeField(auto_now_add=True)
    fmt = models.CharField("format", max_length=20)
    run = models.ForeignKey(
        ReportRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    what = models.TextField(blank=True)

    class Meta:
        ordering = ["-downloaded_at", "-pk"]

    def __str__(self) -> str:
        return (
            f"{self.fmt} by {self.downloaded_by} at {self.downloaded_at:%Y-%m-%d %H:%M}"
        )
