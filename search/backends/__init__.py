"""The active search backend, chosen by `settings.SEARCH_BACKEND`."""

from __future__ import annotations

from django.conf import settings

from search.backends.base import SearchBackend


def get_backend() -> SearchBackend:
    """Elasticsearch when the settings name it (production, `ELASTICSEARCH_URL` set), the
    database backend otherwise. Elasticsearch's client is imported only when it is used."""
    if settings.SEARCH_BACKEND == "elasticsearch":
        from search.backends.elasticsearch import ElasticsearchBackend

        return ElasticsearchBackend()
    from search.backends.database import DatabaseBackend

    return DatabaseBackend()
