"""The patient list as a django-tables2 table."""

from __future__ import annotations

import inspect

import django_tables2 as tables
from django.core.paginator import Paginator
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join

from registry.choices import PrimarySite, Strategy, VitalStatus
from registry.models import Patient

#: Rows per page the list offers; anything else falls back to the default.
PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50


class PatientPaginator(Paginator):
    """A paginator that refuses page sizes the list does not offer.

    ``count``, if given, is a function counting the rows more cheaply than the
    rows themselves (the patients without their derived columns).
    """

    def __init__(self, object_list, per_page, *args, count=None, **kwargs):
        if per_page not in PAGE_SIZES:
            per_page = DEFAULT_PAGE_SIZE
        self._count_rows = count
        super().__init__(object_list, per_page, *args, **kwargs)

    @cached_property
    def count(self) -> int:
        if self._count_rows is not None:
            return self._count_rows()
        return super().count


#: How RequestConfig paginates the patient list (?per_page= picks a size).
PAGINATION = {"per_page": DEFAULT_PAGE_SIZE, "paginator_class": PatientPaginator}


class PatientTable(tables.Table):
    registry_number = tables.Column(
        verbose_name="Registry number",
        linkify=True,
        attrs={"td": {"class": "nowrap"}},
    )
    # Every sort ends on a unique key, so that no patient is on two pages or on
    # none when many share a value (PostgreSQL keeps no order among ties).
    site = tables.Column(
        verbose_name="Site",
        accessor="site__code",
        order_by=("site__code", "registry_number"),
    )
    # Sorted by a stored fact, then by the patient: a stable order from page to
    # page, read down an index of the facts (DerivedFacts.Meta.indexes).
    diagnosis_date = tables.Column(
        verbose_name="Diagnosis", order_by=("diagnosis_date", "pk")
    )
    primary_site = tables.Column(
        verbose_name="Primary site", order_by=("primary_site", "pk")
    )
    strategy = tables.Column(verbose_name="Strategy", order_by=("strategy", "pk"))
    vital_status = tables.Column(
        verbose_name="Vital status", order_by=("vital_status", "pk")
    )
    last_contact = tables.Column(
        verbose_name="Last contact", order_by=("last_contact", "pk")
    )
    # registry.monitor.with_status_counts: kinds of record locked, verified, complete
    forms = tables.Column(verbose_name="Form status", empty_values=(), orderable=False)

    class Meta:
        model = Patient
        fields = (
            "registry_number",
            "site",
            "diagnosis_date",
            "primary_site",
            "strategy",
            "vital_status",
            "last_contact",
            "forms",
        )
        attrs = {"class": "data patients"}
        order_by = ("registry_number",)
        empty_text = "No patients match these filters."
        template_name = "registry/_patient_table.html"

    def body(self) -> str:
        """Return the page's rows as HTML, each cell as django-tables2 renders it.

        What its template and ``BoundRow.get_cell`` do for each row and cell,
        with what depends only on the column (its attributes, its render
        method's arguments) worked out once for the page: the library looked
        them up, and inspected the render method's signature, for every one of
        a page's 400 cells, most of the list's time.
        """
        columns = [self._cell_writer(bound) for bound in self.columns]
        rows = list(self.paginated_rows)
        if not rows:
            return format_html(
                '<tr><td colspan="{}">{}</td></tr>', len(columns), self.empty_text
            )
        return format_html_join(
            "\n",
            "<tr {}>{}</tr>",
            (
                (
                    row.attrs.as_html(),
                    format_html_join(
                        "",
                        "<td {}>{}</td>",
                        ((attrs, cell(row)) for attrs, cell in columns),
                    ),
                )
                for row in rows
            ),
        )

    def _cell_writer(self, bound):
        """Return (the column's td attributes, a function writing its cell).

        The cell as ``BoundRow.get_cell`` writes it for this table's columns
        (none of which reads a field with choices): the value by the accessor
        (None if it finds none), the column's default for an empty one, else
        the render method called with the arguments it names, then the link.
        """
        render = bound.render
        parameters = inspect.signature(render).parameters.values()
        takes_all = any(p.kind is p.VAR_KEYWORD for p in parameters)
        wanted = {p.name for p in parameters}
        empty = bound.column.empty_values

        def cell(row):
            try:
                value = bound.accessor.resolve(row.record)
            except (AttributeError, KeyError, TypeError, ValueError):
                value = None  # a column of no field (forms): its render reads the row
            if value in empty:
                return bound.default
            arguments = {
                "value": value,
                "record": row.record,
                "column": bound.column,
                "bound_column": bound,
                "bound_row": row,
                "table": self,
            }
            content = render(
                **(
                    arguments
                    if takes_all
                    else {k: v for k, v in arguments.items() if k in wanted}
                )
            )
            return bound.link(content, **arguments) if bound.link else content

        return bound.attrs["td"].as_html(), cell

    # Dates as ISO text. django-tables2's DateColumn compiles a template for
    # every cell (a hundred a page), which took a sixth of the list's time.
    def render_diagnosis_date(self, value):
        return value.isoformat()

    def render_last_contact(self, value):
        return value.isoformat()

    def render_primary_site(self, value):
        return PrimarySite(value).label if value in PrimarySite.values else value

    def render_strategy(self, value):
        return Strategy(value).label

    def render_vital_status(self, value):
        return VitalStatus(value).label

    def render_forms(self, record):
        parts = [
            f"{count} {label}"
            for count, label in (
                (getattr(record, "forms_locked", 0), "locked"),
                (getattr(record, "forms_verified", 0), "verified"),
                (getattr(record, "forms_complete", 0), "complete"),
            )
            if count
        ]
        return ", ".join(parts) or "Incomplete"
