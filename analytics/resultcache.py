"""Compute a report once; serve its page and every download from the stored result.

Computing a report (the statistics, the text, the figure) takes seconds on a
large registry, and the page and each of its downloads (figure, CSV, XLSX, JSON,
PDF) used to compute it again. :func:`computed` stores the result under a key
made of everything that decides it:

* the specification, with the cut-off it was run at (a blank cut-off is the day
  of the request);
* whose data it covers: the sites the user may see, and the user's minimum cell
  size (a masked result is never served to a user who may see every count, nor
  the other way round);
* the data version (:func:`analytics.dataset.data_version`): any write to the
  registry changes it, so a result is never served for data it was not
  computed from;
* the software version: an upgrade may change any number.

The data version is read before the data: a write committed in between makes a
result stored under the older version, which no request reads again once the
write is visible. Results under older keys are pruned, the newest
``MAX_STORED`` kept.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from analytics.models import ComputedReport
from analytics.spec import ReportSpec
from analytics.versions import software_version
from registry.routers import reading_reports

#: Stored results kept; older ones are deleted when a new one is stored.
MAX_STORED = 200


@dataclass
class Computed:
    """A report result as stored: its JSON data, and the row that keeps it."""

    data: dict
    row: ComputedReport

    def figure_png(self) -> bytes:
        """Return the figure as PNG, rendered once and stored with the result."""
        if self.row.figure_png is None:
            from analytics import export

            png = export.km_rendered(self.data, "png").content
            ComputedReport.objects.filter(pk=self.row.pk).update(figure_png=png)
            self.row.figure_png = png
        return bytes(self.row.figure_png)

    def figure_data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.figure_png()).decode()


def computed(spec: ReportSpec, *, user, today: datetime.date) -> Computed:
    """Return the result of `spec` for `user`, computed now or stored before.

    A blank cut-off is `today`. Raises what run_report raises (InvalidSpec,
    ReportError) when the specification cannot give a report on this data.
    """
    # the statistics on first use: Django imports this module when it starts
    from analytics import dataset, export
    from analytics.reports import min_cell_for, run_report

    spec = spec.with_as_of(today)
    with reading_reports():
        key = result_key(
            spec,
            sites=dataset.site_scope(user),
            min_cell=min_cell_for(user),
            data=dataset.data_version(),
        )
        row = ComputedReport.objects.filter(key=key).first()
    if row is not None:
        return Computed(data=row.result, row=row)
    # as stored (JSON: keys as text), so a page reads the same data whether it
    # computed the result or found it
    data = json.loads(json.dumps(export.result_json(run_report(spec, user=user))))
    return Computed(data=data, row=_store(key, data))


def result_key(
    spec: ReportSpec, *, sites: list[int], min_cell: int | None, data: str
) -> str:
    """Return the key of a result: a SHA-256 of everything that decides it."""
    decided_by = {
        "spec": spec.to_dict(),
        "sites": sites,
        "min_cell": min_cell,
        "data": data,
        "software": software_version(),
    }
    text = json.dumps(decided_by, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _store(key: str, data: dict) -> ComputedReport:
    """Store a result (another request may have stored it first), prune old ones."""
    try:
        with transaction.atomic():
            row = ComputedReport.objects.create(key=key, result=data)
    except IntegrityError:  # the same report, computed at the same time
        return ComputedReport.objects.get(key=key)
    stale = ComputedReport.objects.order_by("-computed_at", "-pk")[MAX_STORED:]
    ComputedReport.objects.filter(
        pk__in=list(stale.values_list("pk", flat=True))
    ).delete()
    return row
