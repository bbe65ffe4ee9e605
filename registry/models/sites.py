from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Length
from simple_history.models import HistoricalRecords


class SiteQuerySet(models.QuerySet):
    def for_user(self, user) -> "SiteQuerySet":
        """Return the sites whose patients `user` may see."""
        if user.is_superuser:
            return self
        return self.filter(members=user)


class Site(models.Model):
    """An institution contributing patients; access to patients is by site."""

    code = models.CharField(
        max_length=10,
        unique=True,
        validators=[
            RegexValidator(
                r"^[A-Z][A-Z0-9]{1,9}$",
                "Use 2 to 10 capital letters or digits, starting with a letter.",
            )
        ],
        help_text="Short code, used as the prefix of registry numbers (e.g. NFG).",
    )
    name = models.CharField(max_length=200, unique=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="registry_sites",
        help_text="Users who may see and enter this site's patients.",
    )
    is_synthetic = models.BooleanField(
        default=False, editable=False, help_text="Created by seed_demo: not real."
    )
    last_registry_number = models.PositiveIntegerField(
        default=0,
        editable=False,
        help_text="The highest registry number given at this site: the counter "
        "row that new patients lock (Patient.save), so simultaneous entries "
        "each get their own number.",
    )

    history = HistoricalRecords(
        m2m_fields=[members], excluded_fields=["last_registry_number"]
    )

    objects = SiteQuerySet.as_manager()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} – {self.name}"

    def registry_prefix(self) -> str:
        """Return the prefix of this site's registry numbers, e.g. "NTH-"."""
        return f"{self.code}-"

    def highest_registry_number(self) -> int:
        """Return the highest number among this site's registry numbers (0 if none).

        For numbers given outside Patient.save (the demo generator's bulk
        inserts); new patients read the counter instead.
        """
        prefix = self.registry_prefix()
        # Numbers are zero-padded, so the longest, then highest, is the last one.
        last = (
            self.patients.filter(registry_number__regex=rf"^{prefix}[0-9]+$")
            .annotate(length=Length("registry_number"))
            .order_by("-length", "-registry_number")
            .values_list("registry_number", flat=True)
            .first()
        )
        return int(last.removeprefix(prefix)) if last else 0


class SiteVersion(models.Model):
    """A version of one site's patient data, for the per-site summaries.

    registry.facts gives it a new random value in the same transaction as every
    write to a patient of the site, to their records or to their stored facts
    (and to both sites of a transfer of care), so a summary kept per site and
    version (registry.summaries) is computed again for the sites written, not
    for every site. A site without a row has had no such write since the table
    was made: its summaries are not kept.
    """

    site = models.OneToOneField(
        Site, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    version = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.site_id}: {self.version}"
