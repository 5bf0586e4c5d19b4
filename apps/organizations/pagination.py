"""Pagination for the API's lists (REST_FRAMEWORK["DEFAULT_PAGINATION_CLASS"])."""

from __future__ import annotations

from rest_framework.pagination import LimitOffsetPagination

MAX_PAGE_SIZE = 500


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """`?limit=&offset=` with a largest page: a larger `limit` gives MAX_PAGE_SIZE rows.

    Unbounded, a huge `limit` overflowed PostgreSQL's bigint LIMIT (a 500) and let one request read a whole table.
    An `offset` past the end already gives an empty page without reaching SQL.
    """

    max_limit = MAX_PAGE_SIZE
