"""The Elasticsearch connection, made once per process when ELASTICSEARCH_URL is set."""

from functools import lru_cache

from django.conf import settings
from elasticsearch import Elasticsearch


@lru_cache(maxsize=1)
def get_client() -> Elasticsearch:
    """A client for the configured server; raises if search is not on Elasticsearch."""
    if not settings.ELASTICSEARCH_URL:
        raise RuntimeError("ELASTICSEARCH_URL is not set")
    return Elasticsearch(settings.ELASTICSEARCH_URL, request_timeout=5, retry_on_timeout=True)


def index_name(base: str) -> str:
    """The alias a document type is read and written through (e.g. `wushe-organisations`)."""
    return f"{settings.SEARCH_INDEX_PREFIX}-{base}"
