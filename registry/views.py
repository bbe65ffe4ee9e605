from django.db.models import Count, Q
from django.shortcuts import render

from registry.choices import Strategy
from registry.models import Patient


def home(request):
    """Show what the registry holds: patients by site and by resection strategy."""
    patients = Patient.objects.for_user(request.user)
    by_site = list(
        patients.values("site__code", "site__name")
        .annotate(n=Count("id"))
        .order_by("site__code")
    )
    # The strategy is itself an aggregate, so count it over the annotated rows
    # (Django wraps them in a subquery): one query whatever the registry's size.
    strategy_counts = patients.with_derived().aggregate(
        **{code: Count("pk", filter=Q(strategy=code)) for code in Strategy.values}
    )
    by_strategy = [
        (code, label, strategy_counts[code]) for code, label in Strategy.choices
    ]
    ctx = {
        "total": sum(row["n"] for row in by_site),
        "by_site": by_site,
        "by_strategy": by_strategy,
    }
    return render(request, "registry/home.html", ctx)
