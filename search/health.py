"""The search part of `/healthz`."""

from django.conf import settings


def search_ping() -> str:
    """Which backend answers. The database backend is up whenever the database is; the
    Elasticsearch backend must answer a ping (two seconds, no retries)."""
    if settings.SEARCH_BACKEND != "elasticsearch":
        return "database"
    from search.backends.elasticsearch import ElasticsearchBackend

    if not ElasticsearchBackend().healthy():
        raise ConnectionError("elasticsearch did not answer")
    return "elasticsearch"
