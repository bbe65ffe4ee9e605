"""Template tags for other apps' pages: the user's recent report runs.

The registry's home page shows an analyst's recent reports through this tag, so
the registry app never imports analytics.
"""

from django import template

from analytics.models import ReportRun

register = template.Library()

#: Runs the home page lists.
RECENT = 10


@register.simple_tag
def recent_runs(user) -> list[ReportRun]:
    """Return the latest runs `user` may open (ReportRun.objects.visible_to)."""
    return list(
        ReportRun.objects.visible_to(user)
        .select_related("saved_report", "run_by")
        .order_by("-run_at", "-pk")[:RECENT]
    )
