"""Fixtures of the search tests: the backend under test (the database always, Elasticsearch
as well when ELASTICSEARCH_URL is set), documents to put in it, and the charity fixtures for
tests that publish service projects."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from search.backends import get_backend
from search.backends.base import SearchDoc
from tests.charity.conftest import make_project, projects_world  # noqa: F401 - fixtures

BACKENDS = [
    pytest.param("database", id="database"),
    pytest.param("elasticsearch", id="elasticsearch", marks=pytest.mark.elasticsearch),
]


@pytest.fixture(params=BACKENDS)
def backend(request, settings, db):
    """An empty index of the backend named by the parameter, behind `get_backend()`."""
    if request.param == "elasticsearch":
        from search.client import get_client

        settings.SEARCH_BACKEND = "elasticsearch"
        settings.ELASTICSEARCH_URL = os.environ["ELASTICSEARCH_URL"]
        settings.SEARCH_INDEX_PREFIX = f"wushe-behaviour-{os.getpid()}"
        get_client.cache_clear()
    else:
        settings.SEARCH_BACKEND = "database"
    chosen = get_backend()
    assert chosen.name == request.param
    if request.param == "elasticsearch":
        chosen.refresh = True  # each write searchable before it returns
    chosen.rebuild([])
    yield Synced(chosen)
    if request.param == "elasticsearch":
        from search.documents import index_pattern

        chosen._client.indices.delete(index=index_pattern(chosen.alias), ignore_unavailable=True)
        get_client.cache_clear()


class Synced:
    """The backend under test; a rebuild's new index is refreshed before searching it."""

    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name

    def rebuild(self, docs):
        written = self.inner.rebuild(docs)
        client = getattr(self.inner, "_client", None)
        if client is not None:
            client.indices.refresh(index=self.inner.alias)
        return written

    def __getattr__(self, name):
        return getattr(self.inner, name)


_T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def doc(type_: str, id_: int, title: str, body: str = "", **extra) -> SearchDoc:
    """A document with sensible defaults: street 1 (明光路街道), no service type."""
    values = {
        "url": f"/{type_}/{id_}/",
        "street_id": 1,
        "street": "明光路街道",
        "status": "live",
        "status_display": "已发布",
        "updated_at": _T0 + timedelta(minutes=id_),
    }
    values.update(extra)
    return SearchDoc(type=type_, id=id_, title=title, body=body, **values)
