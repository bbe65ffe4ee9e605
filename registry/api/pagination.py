"""Pagination of the API's lists (its own module: REST framework imports it by
name from the settings while the views are still being imported)."""

from django.core.paginator import Paginator
from django.utils.functional import cached_property
from rest_framework import pagination

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


class Pagination(pagination.PageNumberPagination):
    """Pages of 50 by default; ``page_size`` up to 500.

    A list asked without filters takes its ``count`` from the view's
    ``kept_count()`` when it has one: the count of every record of the user's
    sites, kept per site and version of the site's data (registry.summaries),
    rather than counted again on every page (2 s for the follow-ups at 10^6
    patients). A filtered list is counted.
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def paginate_queryset(self, queryset, request, view=None):
        known = None
        kept_count = getattr(view, "kept_count", None)
        if kept_count is not None and set(request.query_params) <= PAGE_PARAMETERS:
            known = kept_count()

        def paginator(object_list, per_page):
            return KnownCountPaginator(object_list, per_page, known=known)

        self.django_paginator_class = paginator
        return super().paginate_queryset(queryset, request, view)
