from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
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

    history = HistoricalRecords(m2m_fields=[members])

    objects = SiteQuerySet.as_manager()

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} – {self.name}"
