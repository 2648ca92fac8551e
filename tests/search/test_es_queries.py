"""Elasticsearch query building and response reading, checked on their JSON without a server,
and the backend against a server that refuses connections (a real refused port, not a mock)."""

import pytest

from search.analysis import SEARCH_ANALYZER
from search.backends.base import DOC_TYPES, SearchDoc, SearchQuery, SearchUnavailable
from search.backends.elasticsearch import (
    FACETS,
    MAX_QUERY_CHARS,
    TITLE_BOOST,
    ElasticsearchBackend,
    build_query,
    counts_request,
    parse_response,
)
from search.client import make_client
from search.documents import MAX_RESULT_WINDOW

SYNTAX = '"*:()[]{}^~!\\/ AND OR NOT -+ && || <>=?'


def keys_of(node):
    """Every key anywhere in a JSON-like structure."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from keys_of(value)
    elif isinstance(node, list):
        for value in node:
            yield from keys_of(value)


def facet_filter(body, facet):
    return body["aggs"][f"facet_{facet}"]["filter"]


# --- the query ---------------------------------------------------------------------------------


def test_empty_query_matches_everything_newest_first():
    body = build_query(SearchQuery())
    assert body["query"] == {"match_all": {}}
    assert "post_filter" not in body
    assert body["sort"] == ["_score", {"updated_at": {"order": "desc", "missing": "_last"}}]
    assert body["track_total_hits"] is True
    assert (body["from"], body["size"]) == (0, 20)


def test_blank_text_is_an_empty_query():
    assert build_query(SearchQuery(q="  \t "))["query"] == {"match_all": {}}


def test_empty_query_with_filters():
    body = build_query(SearchQuery(types=("need",), status="open"))
    assert body["query"] == {"match_all": {}}
    assert body["post_filter"] == {
        "bool": {"filter": [{"terms": {"type": ["need"]}}, {"term": {"status": "open"}}]}
    }


def test_chinese_text_matches_title_and_body_with_the_chinese_analyzer():
    body = build_query(SearchQuery(q="养老服务"))
    query = body["query"]["bool"]
    assert query["must"] == [
        {
            "multi_match": {
                "query": "养老服务",
                "fields": [f"title^{TITLE_BOOST}", "body"],
                "type": "cross_fields",
                "analyzer": SEARCH_ANALYZER,
                "operator": "or",
                "minimum_should_match": "2<75%",
            }
        }
    ]
    # An exact phrase in the title ranks above scattered words.
    assert query["should"] == [
        {"match_phrase": {"title": {"query": "养老服务", "analyzer": SEARCH_ANALYZER, "boost": 5}}}
    ]


def test_text_is_trimmed():
    body = build_query(SearchQuery(q="  心理疏导 "))
    assert body["query"]["bool"]["must"][0]["multi_match"]["query"] == "心理疏导"


def test_query_syntax_is_plain_text():
    body = build_query(SearchQuery(q=SYNTAX))
    assert body["query"]["bool"]["must"][0]["multi_match"]["query"] == SYNTAX
    assert body["query"]["bool"]["should"][0]["match_phrase"]["title"]["query"] == SYNTAX
    keys = set(keys_of(body))
    assert not keys & {"query_string", "simple_query_string", "regexp", "wildcard", "script"}


def test_long_text_is_cut():
    body = build_query(SearchQuery(q="养" * 10_000))
    assert body["query"]["bool"]["must"][0]["multi_match"]["query"] == "养" * MAX_QUERY_CHARS


@pytest.mark.parametrize(
    ("query", "clause"),
    [
        (SearchQuery(types=("project", "tender")), {"terms": {"type": ["project", "tender"]}}),
        (SearchQuery(street_id=7), {"term": {"street_id": "7"}}),
        (SearchQuery(service_type_id=3), {"term": {"service_type_id": "3"}}),
        (SearchQuery(status="open"), {"term": {"status": "open"}}),
    ],
    ids=["type", "street", "service_type", "status"],
)
def test_each_filter(query, clause):
    body = build_query(query)
    assert body["post_filter"] == {"bool": {"filter": [clause]}}
    # Filters do not score: the query part is untouched.
    assert body["query"] == {"match_all": {}}


def test_all_filters_together():
    body = build_query(
        SearchQuery(q="助餐", types=("need",), street_id=7, service_type_id=3, status="open")
    )
    assert body["post_filter"]["bool"]["filter"] == [
        {"terms": {"type": ["need"]}},
        {"term": {"street_id": "7"}},
        {"term": {"service_type_id": "3"}},
        {"term": {"status": "open"}},
    ]
    assert "must" in body["query"]["bool"]


def test_every_facet_is_aggregated_with_its_label():
    body = build_query(SearchQuery(q="养老"))
    assert set(body["aggs"]) == {f"facet_{name}" for name in FACETS}
    assert set(FACETS) == {"type", "street", "service_type", "status"}
    type_values = body["aggs"]["facet_type"]["aggs"]["values"]
    assert type_values == {"terms": {"field": "type", "size": 100}}
    street_values = body["aggs"]["facet_street"]["aggs"]["values"]
    assert street_values["terms"]["field"] == "street_id"
    assert street_values["aggs"]["label"] == {"terms": {"field": "street", "size": 5}}
    service_values = body["aggs"]["facet_service_type"]["aggs"]["values"]
    assert service_values["terms"]["field"] == "service_type_id"
    assert service_values["aggs"]["label"]["terms"]["field"] == "service_type"
    status_values = body["aggs"]["facet_status"]["aggs"]["values"]
    assert status_values["terms"]["field"] == "status"
    assert status_values["aggs"]["label"]["terms"]["field"] == "status_display"
    for name in FACETS:
        assert facet_filter(body, name) == {"match_all": {}}


def test_each_facet_counts_without_its_own_filter():
    body = build_query(SearchQuery(types=("need",), street_id=7, status="open"))
    type_f = {"terms": {"type": ["need"]}}
    street_f = {"term": {"street_id": "7"}}
    status_f = {"term": {"status": "open"}}
    assert facet_filter(body, "type") == {"bool": {"filter": [street_f, status_f]}}
    assert facet_filter(body, "street") == {"bool": {"filter": [type_f, status_f]}}
    assert facet_filter(body, "status") == {"bool": {"filter": [type_f, street_f]}}
    # A facet with no filter of its own counts under all the others.
    assert facet_filter(body, "service_type") == {"bool": {"filter": [type_f, street_f, status_f]}}
    # Hits are filtered after the aggregations, not in the query.
    assert body["post_filter"] == {"bool": {"filter": [type_f, street_f, status_f]}}


def test_highlight_marks_matches_and_escapes_the_rest():
    highlight = build_query(SearchQuery(q="养老"))["highlight"]
    assert highlight["pre_tags"] == ["<mark>"]
    assert highlight["post_tags"] == ["</mark>"]
    assert highlight["encoder"] == "html"
    assert highlight["fields"]["title"] == {"number_of_fragments": 0}
    assert highlight["fields"]["body"] == {
        "fragment_size": 100,
        "number_of_fragments": 1,
        "no_match_size": 100,
    }


def test_source_is_limited_to_what_a_hit_shows():
    assert build_query(SearchQuery(q="养老"))["_source"] == [
        "type",
        "object_id",
        "title",
        "url",
        "body",
    ]


@pytest.mark.parametrize(
    ("page", "page_size", "expected"),
    [
        (1, 20, (0, 20)),
        (3, 20, (40, 20)),
        (2, 50, (50, 50)),
        (500, 20, (9_980, 20)),  # the last page inside the window
        (501, 20, (0, 0)),  # past it: count and facets only
        (10**9, 20, (0, 0)),
        (0, 20, (0, 20)),  # a bad page number reads as the first page
    ],
)
def test_paging(page, page_size, expected):
    body = build_query(SearchQuery(q="养老", page=page, page_size=page_size))
    assert (body["from"], body["size"]) == expected
    assert body["from"] + body["size"] <= MAX_RESULT_WINDOW
    assert body["track_total_hits"] is True


def test_counts_request_aggregates_on_type():
    body = counts_request()
    assert body["size"] == 0
    assert body["aggs"]["types"]["terms"]["field"] == "type"
    assert body["aggs"]["types"]["terms"]["size"] >= len(DOC_TYPES)


# --- reading a response ------------------------------------------------------------------------


def response(hits, aggregations=None, total=None):
    return {
        "hits": {"total": {"value": total or len(hits), "relation": "eq"}, "hits": hits},
        "aggregations": aggregations or {},
    }


def raw_hit(type_, id_, title, body="", highlight=None, score=1.5):
    source = {"type": type_, "object_id": str(id_), "title": title, "url": f"/{type_}/{id_}/"}
    if body:
        source["body"] = body
    hit = {"_id": f"{type_}-{id_}", "_score": score, "_source": source}
    if highlight is not None:
        hit["highlight"] = highlight
    return hit


def test_hits_are_read_in_order():
    result = parse_response(
        response(
            [
                raw_hit("project", 3, "社区居家养老服务项目", score=9.0),
                raw_hit("need", 8, "助餐", score=2.0),
            ],
            total=57,
        )
    )
    assert result.count == 57
    assert [(h.type, h.id, h.title, h.url, h.score) for h in result.hits] == [
        ("project", 3, "社区居家养老服务项目", "/project/3/", 9.0),
        ("need", 8, "助餐", "/need/8/", 2.0),
    ]


def test_highlight_prefers_a_body_match_then_a_title_match():
    body_match = raw_hit(
        "project",
        1,
        "居家服务",
        highlight={"title": ["居家服务"], "body": ["为<mark>养老</mark>家庭上门"]},
    )
    title_match = raw_hit(
        "project",
        2,
        "社区养老",
        highlight={"title": ["社区<mark>养老</mark>"], "body": ["上门助浴、助餐"]},
    )
    no_match = raw_hit("project", 3, "助浴", highlight={"body": ["上门助浴 &amp; 助餐"]})
    hits = parse_response(response([body_match, title_match, no_match])).hits
    assert [h.highlight for h in hits] == [
        "为<mark>养老</mark>家庭上门",
        "社区<mark>养老</mark>",
        "上门助浴 &amp; 助餐",
    ]


def test_without_a_highlight_the_body_start_is_escaped():
    hit = raw_hit("organisation", 4, "阳光社工", body="<b>专业</b>" + "服" * 200)
    highlight = parse_response(response([hit])).hits[0].highlight
    assert highlight.startswith("&lt;b&gt;专业&lt;/b&gt;")
    assert "<b>" not in highlight


def test_facets_are_read_with_labels():
    aggregations = {
        "facet_type": {"values": {"buckets": [{"key": "need", "doc_count": 4}]}},
        "facet_street": {
            "values": {
                "buckets": [
                    {
                        "key": "7",
                        "doc_count": 3,
                        "label": {"buckets": [{"key": "明光路街道", "doc_count": 3}]},
                    },
                    {"key": "9", "doc_count": 1, "label": {"buckets": []}},
                ]
            }
        },
        "facet_status": {
            "values": {
                "buckets": [
                    {
                        "key": "open",
                        "doc_count": 4,
                        "label": {"buckets": [{"key": "待匹配", "doc_count": 4}]},
                    }
                ]
            }
        },
    }
    facets = parse_response(response([], aggregations)).facets
    assert facets == {
        "type": [("need", "need", 4)],
        "street": [("7", "明光路街道", 3), ("9", "9", 1)],
        "service_type": [],
        "status": [("open", "待匹配", 4)],
    }


def test_facet_order_and_shared_labels():
    aggregations = {
        # Elasticsearch orders buckets by count; types are listed in DOC_TYPES order.
        "facet_type": {
            "values": {
                "buckets": [
                    {"key": "tender", "doc_count": 9},
                    {"key": "project", "doc_count": 1},
                    {"key": "need", "doc_count": 1},
                ]
            }
        },
        "facet_status": {
            "values": {
                "buckets": [
                    {
                        "key": "open",
                        "doc_count": 5,
                        "label": {
                            "buckets": [
                                {"key": "待匹配", "doc_count": 3},
                                {"key": "报名中", "doc_count": 2},
                            ]
                        },
                    },
                    {
                        "key": "closed",
                        "doc_count": 5,
                        "label": {"buckets": [{"key": "已结束", "doc_count": 5}]},
                    },
                ]
            }
        },
    }
    facets = parse_response(response([], aggregations)).facets
    assert [value for value, _, _ in facets["type"]] == ["project", "need", "tender"]
    # Equal counts fall back to the label.
    assert facets["status"] == [("closed", "已结束", 5), ("open", "待匹配/报名中", 5)]


def test_an_answer_from_no_index_is_empty():
    # What Elasticsearch answers when the alias does not exist yet (ignore_unavailable).
    result = parse_response({"hits": {"total": {"value": 0, "relation": "eq"}, "hits": []}})
    assert result.count == 0
    assert result.hits == []
    assert all(values == [] for values in result.facets.values())


# --- an unreachable server ---------------------------------------------------------------------


@pytest.fixture
def unreachable():
    """A backend pointed at a port nothing listens on: every request is refused at once."""
    client = make_client("http://127.0.0.1:9", timeout=1)
    return ElasticsearchBackend(client=client, alias="wushe-unreachable-search")


DOC = SearchDoc(type="need", id=1, title="助餐", body="老人助餐", url="/needs/1/")


@pytest.mark.parametrize(
    "call",
    [
        lambda b: b.index([DOC]),
        lambda b: b.delete([("need", 1)]),
        lambda b: b.search(SearchQuery(q="养老")),
        lambda b: b.counts(),
        lambda b: b.keys("need"),
        lambda b: b.rebuild([DOC]),
        lambda b: b.index(iter([DOC])),
    ],
    ids=["index", "delete", "search", "counts", "keys", "rebuild", "index-generator"],
)
def test_unreachable_server_raises_search_unavailable(unreachable, call):
    with pytest.raises(SearchUnavailable):
        call(unreachable)


def test_unreachable_server_is_not_healthy(unreachable):
    assert unreachable.healthy() is False


def test_nothing_to_write_needs_no_server(unreachable):
    assert unreachable.index([]) == 0
    assert unreachable.delete([]) == 0


def test_health_check_reports_an_unreachable_server(settings):
    from search.client import get_client
    from search.health import search_ping

    settings.SEARCH_BACKEND = "elasticsearch"
    settings.ELASTICSEARCH_URL = "http://127.0.0.1:9"
    get_client.cache_clear()
    try:
        with pytest.raises(ConnectionError):
            search_ping()
    finally:
        get_client.cache_clear()


def test_health_check_on_the_database_backend(settings):
    from search.health import search_ping

    settings.SEARCH_BACKEND = "database"
    assert search_ping() == "database"
