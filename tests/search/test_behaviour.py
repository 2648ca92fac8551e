"""What every search backend does, through the one interface: the database backend always,
Elasticsearch too when ELASTICSEARCH_URL is set (the `backend` fixture)."""

from __future__ import annotations

import pytest

from search.backends.base import DOC_TYPES, SearchQuery
from tests.search.conftest import doc

pytestmark = pytest.mark.django_db


def ids(result):
    return [(h.type, h.id) for h in result.hits]


@pytest.fixture
def corpus(backend):
    """Six documents of four types over two streets and two service types."""
    docs = [
        doc("project", 1, "社区居家养老服务项目", "为明光路街道独居老人提供助餐、助浴和上门探访。"),
        doc(
            "need",
            2,
            "心理疏导需求 · 明光路社区",
            "家庭成员患重病，情绪低落，需要心理疏导和定期陪伴。",
            service_type_id=7,
            service_type="心理疏导",
            status="open",
            status_display="对接中",
        ),
        doc(
            "organisation",
            3,
            "阳光社会工作服务中心",
            "专业社工机构，提供养老照护、心理咨询和儿童关爱服务。",
            street_id=2,
            street="胜利路街道",
            status="verified",
            status_display="已认证",
        ),
        doc(
            "opportunity",
            4,
            "重阳节敬老志愿服务",
            "陪伴社区老人过重阳节，协助养老院开展文娱活动。",
            service_type_id=8,
            service_type="助老服务",
            status="recruiting",
            status_display="招募中",
        ),
        doc(
            "tender",
            5,
            "瑶海区困难老人探访服务采购项目",
            "为辖区困难老人提供上门探访服务。",
            street_id=2,
            street="胜利路街道",
            status="published",
            status_display="公告中",
        ),
        doc("project", 6, "儿童课后托管", "为双职工家庭的小学生提供课后作业辅导。"),
    ]
    assert backend.index(docs) == len(docs)
    return backend


def test_chinese_word_inside_a_longer_text_is_found(corpus):
    result = corpus.search(SearchQuery(q="养老"))
    found = ids(result)
    assert ("project", 1) in found
    assert ("organisation", 3) in found
    assert ("project", 6) not in found


def test_phrase_psychological_counselling_is_found(corpus):
    result = corpus.search(SearchQuery(q="心理疏导"))
    assert ("need", 2) in ids(result)
    assert ("project", 6) not in ids(result)


def test_title_matches_rank_before_body_matches(corpus):
    result = corpus.search(SearchQuery(q="养老"))
    found = ids(result)
    # 养老 is in project 1's title; the others hold it in their body only.
    assert found[0] == ("project", 1)


def test_highlight_marks_the_match_and_escapes_the_rest(backend):
    backend.index([doc("project", 9, "助餐点", '<script>alert("x")</script> 老人助餐服务 & 配送')])
    hit = backend.search(SearchQuery(q="助餐")).hits[0]
    assert "<mark>" in hit.highlight and "助餐" in hit.highlight
    assert "<script>" not in hit.highlight


def test_two_words_typed_together_both_must_match(corpus):
    # "社区养老" is cut into 社区 + 养老: found although the text says 社区居家养老.
    assert ("project", 1) in ids(corpus.search(SearchQuery(q="社区养老")))
    assert ids(corpus.search(SearchQuery(q="儿童养老"))) == [("organisation", 3)]


def test_facets_count_each_value(corpus):
    result = corpus.search(SearchQuery(q="老人"))
    assert result.count == 3
    types = {value: count for value, _label, count in result.facets["type"]}
    assert types == {"project": 1, "opportunity": 1, "tender": 1}
    streets = {value: (label, count) for value, label, count in result.facets["street"]}
    assert streets == {"1": ("明光路街道", 2), "2": ("胜利路街道", 1)}
    statuses = {value: count for value, _label, count in result.facets["status"]}
    assert statuses == {"live": 1, "recruiting": 1, "published": 1}


def test_a_facet_is_counted_without_its_own_filter(corpus):
    result = corpus.search(SearchQuery(q="老人", types=("tender",)))
    assert ids(result) == [("tender", 5)]
    assert result.count == 1
    # The type facet still offers the other types; the street facet counts tenders only.
    types = {value: count for value, _label, count in result.facets["type"]}
    assert types == {"project": 1, "opportunity": 1, "tender": 1}
    assert [(v, c) for v, _label, c in result.facets["street"]] == [("2", 1)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (SearchQuery(q="服务", types=("organisation",)), [("organisation", 3)]),
        (SearchQuery(q="服务", street_id=2), [("organisation", 3), ("tender", 5)]),
        (SearchQuery(q="服务", service_type_id=8), [("opportunity", 4)]),
        (SearchQuery(q="服务", status="published"), [("tender", 5)]),
        (SearchQuery(q="服务", types=("project", "tender"), street_id=2), [("tender", 5)]),
    ],
)
def test_filters_narrow_the_results(corpus, query, expected):
    assert sorted(ids(corpus.search(query))) == sorted(expected)


def test_empty_text_lists_everything_under_the_filters(corpus):
    assert corpus.search(SearchQuery(q="")).count == 6
    assert sorted(ids(corpus.search(SearchQuery(q="", street_id=2)))) == [
        ("organisation", 3),
        ("tender", 5),
    ]


def test_reindexing_replaces_a_document(corpus):
    corpus.index([doc("project", 6, "儿童课后托管（已更名为四点半课堂）", "课后辅导")])
    assert ids(corpus.search(SearchQuery(q="四点半课堂"))) == [("project", 6)]
    assert corpus.counts()["project"] == 2


def test_deleted_documents_are_gone_and_missing_ones_are_no_error(corpus):
    corpus.delete([("need", 2), ("need", 999), ("tender", 12345)])
    assert ("need", 2) not in ids(corpus.search(SearchQuery(q="心理疏导")))
    assert corpus.counts()["need"] == 0


def test_counts_per_type(corpus):
    counts = corpus.counts()
    assert {t: counts.get(t, 0) for t in DOC_TYPES} == {
        "project": 2,
        "need": 1,
        "organisation": 1,
        "opportunity": 1,
        "catalogue_item": 0,
        "tender": 1,
    }


def test_rebuild_replaces_the_whole_index(corpus):
    corpus.rebuild([doc("catalogue_item", 40, "居家养老上门服务", "2025年度目录")])
    assert corpus.counts()["project"] == 0
    assert ids(corpus.search(SearchQuery(q="养老"))) == [("catalogue_item", 40)]


def test_paging(backend):
    backend.index([doc("project", i, f"助餐服务第{i}号点", "老人助餐") for i in range(1, 26)])
    first = backend.search(SearchQuery(q="助餐", page=1, page_size=10))
    third = backend.search(SearchQuery(q="助餐", page=3, page_size=10))
    beyond = backend.search(SearchQuery(q="助餐", page=9, page_size=10))
    assert first.count == third.count == beyond.count == 25
    assert len(first.hits) == 10 and len(third.hits) == 5 and beyond.hits == []
    assert not set(ids(first)) & set(ids(third))


@pytest.mark.parametrize(
    "text",
    [
        '"*:()[]{}^~!\\',
        "养老 AND (心理 OR",
        "title:养老^5",
        "' OR 1=1 --",
        "％％＿＿",
        "\x00\x1f\u200b",
        "养" * 10_000,
        "<script>alert(1)</script>",
    ],
)
def test_any_text_gives_an_answer(corpus, text):
    result = corpus.search(SearchQuery(q=text))
    assert result.count >= 0
    for hit in result.hits:
        assert "<script>" not in hit.highlight


def test_syntax_characters_alone_match_nothing(corpus):
    assert corpus.search(SearchQuery(q='"*:()[]{}^~!\\')).count == 0


def test_healthy(backend):
    assert backend.healthy() is True
