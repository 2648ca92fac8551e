"""The Elasticsearch backend against a real server: runs only when ELASTICSEARCH_URL is set
(tests/conftest.py skips the `elasticsearch` marker otherwise).

The server must be the compose image (docker/elasticsearch): the analyzers need the smartcn
plugin and the synonyms file it ships. Each test works under its own alias and removes its
indices and template afterwards, so a shared server is safe.
"""

import os
import uuid

import pytest

from search.backends.base import DOC_TYPES, SearchDoc, SearchQuery
from search.backends.elasticsearch import ElasticsearchBackend
from search.client import make_client
from search.documents import index_pattern

pytestmark = pytest.mark.elasticsearch

MING = (7, "明光路街道")
SHENG = (9, "胜利路街道")


def doc(type_, id_, title, body="", street=MING, service=(None, ""), status="", label=""):
    return SearchDoc(
        type=type_,
        id=id_,
        title=title,
        body=body,
        url=f"/{type_}/{id_}/",
        street_id=street[0],
        street=street[1],
        service_type_id=service[0],
        service_type=service[1],
        status=status,
        status_display=label,
    )


CORPUS = [
    doc("project", 1, "社区居家养老服务项目", "为明光路社区高龄独居老人提供上门助餐、助浴。"),
    doc("project", 2, "青少年心理疏导服务", "面向困境儿童开展心理疏导与陪伴。", street=SHENG),
    doc(
        "need",
        3,
        "助餐",
        "老人行动不便，需要每日送餐，兼顾养老照护。",
        service=(3, "助餐"),
        status="open",
        label="待匹配",
    ),
    doc("organisation", 4, "瑶海区慈善协会", "开展慈善募捐与救助。"),
    doc("opportunity", 5, "周末敬老院陪伴志愿活动", "陪老人聊天、读报。", street=SHENG),
    doc("tender", 6, "2025年瑶海区居家养老服务采购", "采购居家养老上门服务。"),
]


@pytest.fixture
def client():
    return make_client(os.environ["ELASTICSEARCH_URL"], timeout=30)


@pytest.fixture
def backend(client):
    alias = f"wushe-test-{uuid.uuid4().hex[:10]}-search"
    backend = ElasticsearchBackend(client=client, alias=alias, refresh=True)
    yield backend
    # Concrete names only: Elasticsearch refuses wildcard deletes by default.
    names = list(client.indices.get_alias(index=index_pattern(alias)).body)
    if names:
        client.options(ignore_status=404).indices.delete(index=",".join(names))
    client.options(ignore_status=404).indices.delete_index_template(name=alias)


def live_indices(backend):
    indices = backend._client.indices.get_alias(index=index_pattern(backend.alias)).body
    return sorted(name for name, body in indices.items() if backend.alias in body["aliases"])


def keys(result):
    return [(hit.type, hit.id) for hit in result.hits]


def test_rebuild_then_search_chinese(backend):
    assert backend.rebuild(CORPUS) == len(CORPUS)
    result = backend.search(SearchQuery(q="养老"))
    assert ("project", 1) in keys(result)
    # The title match ranks above documents that mention it only in the body.
    assert keys(result)[0] in {("project", 1), ("tender", 6)}
    assert keys(result).index(("project", 1)) < keys(result).index(("need", 3))
    hit = next(h for h in result.hits if (h.type, h.id) == ("project", 1))
    assert hit.title == "社区居家养老服务项目"
    assert hit.url == "/project/1/"
    assert "<mark>" in hit.highlight


def test_psychological_counselling_is_found(backend):
    backend.rebuild(CORPUS)
    assert keys(backend.search(SearchQuery(q="心理疏导")))[0] == ("project", 2)


def test_synonyms_apply_at_search_time(backend):
    backend.rebuild(CORPUS)
    # "长者" is in no document; the synonyms file makes it match "老人".
    found = keys(backend.search(SearchQuery(q="长者")))
    assert ("project", 1) in found
    assert ("need", 3) in found


def test_exact_title_phrase_ranks_first(backend):
    backend.rebuild(CORPUS)
    assert keys(backend.search(SearchQuery(q="社区居家养老服务项目")))[0] == ("project", 1)


def test_counts_per_type(backend):
    assert backend.counts() == dict.fromkeys(DOC_TYPES, 0)
    backend.rebuild(CORPUS)
    assert backend.counts() == {
        "project": 2,
        "need": 1,
        "organisation": 1,
        "opportunity": 1,
        "catalogue_item": 0,
        "tender": 1,
    }


def test_keys_per_type(backend):
    assert backend.keys("project") == set()
    backend.rebuild(CORPUS)
    assert backend.keys("project") == {1, 2}
    assert backend.keys("catalogue_item") == set()


def test_index_streams_a_generator(backend):
    backend.rebuild(CORPUS[:1])
    extra = (doc("organisation", 100 + i, f"服务队{i}") for i in range(1_200))
    assert backend.index(extra) == 1_200
    assert backend.counts()["organisation"] == 1_200


def test_index_replaces_and_delete_removes(backend):
    backend.rebuild(CORPUS)
    assert backend.index([doc("need", 3, "助浴", "老人需要上门助浴。", status="open")]) == 1
    assert keys(backend.search(SearchQuery(q="助浴", types=("need",)))) == [("need", 3)]
    assert backend.counts()["need"] == 1
    assert backend.delete([("need", 3), ("need", 999)]) == 1
    assert backend.search(SearchQuery(q="助浴", types=("need",))).count == 0
    # Deleting again is not an error.
    assert backend.delete([("need", 3)]) == 0


def test_first_write_to_an_empty_cluster_creates_the_alias(backend):
    assert backend.search(SearchQuery(q="养老")).count == 0
    assert backend.delete([("need", 3)]) == 0
    backend.index(CORPUS[:1])
    assert live_indices(backend) == [f"{backend.alias}-initial"]
    assert keys(backend.search(SearchQuery(q="养老"))) == [("project", 1)]


def test_facets_count_without_their_own_filter(backend):
    backend.rebuild(CORPUS)
    result = backend.search(SearchQuery(street_id=MING[0]))
    assert {(h.type, h.id) for h in result.hits} == {
        ("project", 1),
        ("need", 3),
        ("organisation", 4),
        ("tender", 6),
    }
    assert result.count == 4
    # The street facet still lists both streets; other facets follow the street filter.
    assert sorted(result.facets["street"]) == [("7", "明光路街道", 4), ("9", "胜利路街道", 2)]
    assert dict((v, c) for v, _, c in result.facets["type"]) == {
        "project": 1,
        "need": 1,
        "organisation": 1,
        "tender": 1,
    }
    assert result.facets["status"] == [("open", "待匹配", 1)]
    assert result.facets["service_type"] == [("3", "助餐", 1)]


def test_filters(backend):
    backend.rebuild(CORPUS)
    assert keys(backend.search(SearchQuery(types=("tender",)))) == [("tender", 6)]
    assert keys(backend.search(SearchQuery(status="open"))) == [("need", 3)]
    assert keys(backend.search(SearchQuery(service_type_id=3))) == [("need", 3)]
    assert backend.search(SearchQuery(q="养老", types=("catalogue_item",))).count == 0


def test_bad_input_is_answered(backend):
    backend.rebuild(CORPUS)
    assert backend.search(SearchQuery(q='"*:()[]{}^~!\\/ AND OR')).count >= 0
    assert backend.search(SearchQuery(q="养老" * 5_000)).count >= 0
    beyond = backend.search(SearchQuery(q="养老", page=10_000))
    assert beyond.hits == []
    assert beyond.count > 0


def test_highlight_escapes_document_text(backend):
    backend.rebuild([doc("project", 1, "养老<script>", "养老 <b>上门</b> 服务")])
    hit = backend.search(SearchQuery(q="养老")).hits[0]
    assert "<mark>养老</mark>" in hit.highlight
    assert "<b>" not in hit.highlight
    assert "<script>" not in hit.highlight


def test_alias_swap_keeps_serving(backend):
    backend.rebuild(CORPUS[:2])
    before = live_indices(backend)
    seen_during_load = {}

    def second_build():
        yield CORPUS[2]
        # The new index is loading: searches still read the old one, and a write from the
        # outbox reaches both.
        seen_during_load["result"] = backend.search(SearchQuery(q="养老"))
        backend.index([doc("need", 10, "敬老助浴", "上门助浴")])
        yield from CORPUS[3:]

    assert backend.rebuild(second_build()) == len(CORPUS) - 2
    assert keys(seen_during_load["result"]) == [("project", 1)]

    after = live_indices(backend)
    assert len(after) == 1
    assert after != before
    # The old index is gone; the staging alias is off the new one.
    remaining = backend._client.indices.get_alias(index=index_pattern(backend.alias)).body
    assert set(remaining) == set(after)
    assert remaining[after[0]]["aliases"] == {backend.alias: {}}

    found = {(h.type, h.id) for h in backend.search(SearchQuery(page_size=50)).hits}
    assert found == {("need", 3), ("organisation", 4), ("opportunity", 5), ("tender", 6)} | {
        ("need", 10)
    }


def test_failed_rebuild_leaves_the_old_index_serving(backend):
    backend.rebuild(CORPUS)
    before = live_indices(backend)

    def broken():
        yield CORPUS[0]
        raise RuntimeError("the database went away")

    with pytest.raises(RuntimeError):
        backend.rebuild(broken())
    assert live_indices(backend) == before
    indices = backend._client.indices.get_alias(index=index_pattern(backend.alias)).body
    assert set(indices) == set(before)
    assert backend.search(SearchQuery(q="心理疏导")).count >= 1


def test_healthy(backend):
    assert backend.healthy() is True
