"""Pagination of the API's lists (its own module: REST framework imports it by
name from the settings while the views are still being imported)."""

from django.core.paginator import Paginator
from django.utils.functional import cached_property
from rest_framework import pagination
from rest_framework.exceptions import NotFound

from registry.params import KEYS, whole_number

#: The query parameter that asks for pages by position in the order of ids
#: (KeysetPagination) instead of by number: ``?cursor=`` for the first.
CURSOR = "cursor"
#: Query parameters that choose a page, not the rows: a list asked with these
#: alone is the whole of the user's scope.
PAGE_PARAMETERS = {"page", "page_size", "format"}


class KnownCountPaginator(Paginator):
    """A paginator told its count (when not None) instead of counting the rows."""

    def __init__(self, object_list, per_page, *, known: int | None = None):
        super().__init__(object_list, per_page)
        self.known = known

    @cached_property
    def count(self) -> int:
        return super().count if self.known is None else self.known


class KeysetPagination(pagination.CursorPagination):
    """Pages in the order of ids, each read from where the last ended.

    REST framework's cursor pagination: ``next`` carries the last id read, and
    the next page is ``WHERE id > that ORDER BY id LIMIT page_size`` down the
    primary key's index, so that the last page of a national registry's
    follow-ups costs what the first does (a page number's ``OFFSET`` reads and
    drops every row before it). No ``count``: nothing is counted.
    """

    ordering = "pk"
    cursor_query_param = CURSOR
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def decode_cursor(self, request):
        """Return the cursor of the request; 404 ("Invalid cursor") for a
        position that is not an id, as REST framework answers a bad offset
        (it would pass the position to the query as it is: a server error)."""
        cursor = super().decode_cursor(request)
        position = cursor.position if cursor else None
        if position is not None and whole_number(position, (0, KEYS[1])) is None:
            raise NotFound(self.invalid_cursor_message)
        return cursor


class Pagination(pagination.PageNumberPagination):
    """Pages of 50 by default; ``page_size`` up to 500; by id with ``cursor``.

    A list asked without filters takes its ``count`` from the view's
    ``kept_count()`` when it has one: the count of every record of the user's
    sites, kept per site and version of the site's data (registry.summaries),
    rather than counted again on every page (2 s for the follow-ups at 10^6
    patients). A filtered list is counted.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    keyset: KeysetPagination | None = None

    def paginate_queryset(self, queryset, request, view=None):
        if CURSOR in request.query_params:  # pages by id (KeysetPagination)
            self.keyset = KeysetPagination()
            return self.keyset.paginate_queryset(queryset, request, view)
        known = None
        kept_count = getattr(view, "kept_count", None)
        if kept_count is not None and set(request.query_params) <= PAGE_PARAMETERS:
            known = kept_count()

        def paginator(object_list, per_page):
            return KnownCountPaginator(object_list, per_page, known=known)

        self.django_paginator_class = paginator
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        if self.keyset is not None:
            return self.keyset.get_paginated_response(data)
        return super().get_paginated_response(data)

    def to_html(self):  # the browsable API's links: previous and next alone
        if self.keyset is not None:
            return self.keyset.to_html()
        return super().to_html()

    def get_paginated_response_schema(self, schema):
        """A page by number has a ``count``, a page by ``cursor`` has none: the
        list's schema does not require it."""
        page = super().get_paginated_response_schema(schema)
        page["required"] = [name for name in page["required"] if name != "count"]
        page["properties"]["count"]["description"] = "absent from a cursor's page"
        return page

    def get_schema_operation_parameters(self, view):
        keyset = KeysetPagination().get_schema_operation_parameters(view)
        cursor = next(p for p in keyset if p["name"] == CURSOR)
        cursor["description"] = (
            "Pages in the order of ids instead of by number: empty for the first "
            "page, then the one in `next`. The response has no `count`."
        )
        return [*super().get_schema_operation_parameters(view), cursor]
