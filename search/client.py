"""The Elasticsearch connection, made once per process when ELASTICSEARCH_URL is set, and the
name of the alias every read and write goes through."""

from functools import lru_cache

from django.conf import settings
from elasticsearch import Elasticsearch

# Seconds a request may take. Short enough that a dead server fails an outbox drain quickly
# (the rows stay and are retried) instead of holding a worker.
REQUEST_TIMEOUT = 5.0


def make_client(url: str, *, timeout: float = REQUEST_TIMEOUT) -> Elasticsearch:
    """A client for one server. Connection errors and timeouts are retried twice, then raised."""
    return Elasticsearch(url, request_timeout=timeout, retry_on_timeout=True, max_retries=2)


@lru_cache(maxsize=1)
def get_client() -> Elasticsearch:
    """The process's client for the configured server; raises if search is not on
    Elasticsearch. Tests that change ELASTICSEARCH_URL call `get_client.cache_clear()`."""
    if not settings.ELASTICSEARCH_URL:
        raise RuntimeError("ELASTICSEARCH_URL is not set")
    return make_client(settings.ELASTICSEARCH_URL)


def search_alias() -> str:
    """The alias reads and writes go through (e.g. `wushe-search`). Concrete indices are named
    `<alias>-<timestamp>` behind it, so a rebuild can swap them without downtime."""
    return f"{settings.SEARCH_INDEX_PREFIX}-search"
