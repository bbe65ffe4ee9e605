"""Pagination of the API's lists (its own module: REST framework imports it by
name from the settings while the views are still being imported)."""

from rest_framework import pagination


class Pagination(pagination.PageNumberPagination):
    """Pages of 50 by default; ``page_size`` up to 500."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
