"""`manage.py search_rebuild`."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from search.backends import get_backend
from search.backends.base import SearchQuery
from tests.search.conftest import doc

pytestmark = pytest.mark.django_db


def test_rebuild_everything(world):
    get_backend().index([doc("organisation", 999_999, "早已注销的组织")])
    out = io.StringIO()
    call_command("search_rebuild", stdout=out)
    text = out.getvalue()
    assert "organisation:" in text and "完成" in text
    counts = get_backend().counts()
    assert counts["organisation"] > 0
    hits = get_backend().search(SearchQuery(q="注销")).hits
    assert hits == []


def test_rebuild_one_type_refreshes_it_in_place(world):
    backend = get_backend()
    backend.index([doc("organisation", 999_999, "早已注销的组织"), doc("project", 5, "保留的项目")])
    call_command("search_rebuild", "--type", "organisation", stdout=io.StringIO())
    assert backend.search(SearchQuery(q="注销")).hits == []
    assert [h.id for h in backend.search(SearchQuery(q="保留")).hits] == [5]
    assert backend.search(SearchQuery(q="慈善协会")).count == 1


def test_unknown_type_is_a_clear_error(world):
    with pytest.raises(CommandError, match="未知的类型：people"):
        call_command("search_rebuild", "--type", "people", stdout=io.StringIO())
