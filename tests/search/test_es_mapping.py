"""The Elasticsearch index definition, checked on its JSON without a server: analyzers, field
types, the template and alias names, the alias swap, and the image that must carry the plugin
and the synonyms file the analyzers name."""

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from search.analysis import INDEX_ANALYZER, SEARCH_ANALYZER, SYNONYMS_PATH
from search.backends.base import SearchDoc
from search.backends.elasticsearch import alias_actions, new_index_name
from search.client import search_alias
from search.documents import (
    MAX_RESULT_WINDOW,
    TEMPLATE_PRIORITY,
    SearchDocument,
    index_pattern,
    index_template,
    search_index,
)

ROOT = Path(__file__).resolve().parents[2]
ES_DIR = ROOT / "docker" / "elasticsearch"


@pytest.fixture
def template():
    return index_template("wushe-search").to_dict()


@pytest.fixture
def props(template):
    return template["template"]["mappings"]["properties"]


def test_alias_comes_from_the_prefix(settings):
    settings.SEARCH_INDEX_PREFIX = "yaohai"
    assert search_alias() == "yaohai-search"
    assert index_pattern("yaohai-search") == "yaohai-search-*"


def test_template_covers_every_index_behind_the_alias(template):
    assert template["index_patterns"] == ["wushe-search-*"]
    assert template["priority"] == TEMPLATE_PRIORITY > 100
    # The alias itself must not match the pattern, or writes could auto-create an index
    # under the alias's name.
    assert not re.fullmatch(template["index_patterns"][0].replace("*", ".*"), "wushe-search")


def test_index_settings(template):
    index_settings = template["template"]["settings"]
    assert index_settings["number_of_shards"] == 1
    assert index_settings["number_of_replicas"] == 0
    assert index_settings["max_result_window"] == MAX_RESULT_WINDOW == 10_000


def test_analyzers_segment_chinese_and_add_synonyms_at_search_time(template):
    analysis = template["template"]["settings"]["analysis"]
    index_side = analysis["analyzer"][INDEX_ANALYZER]
    search_side = analysis["analyzer"][SEARCH_ANALYZER]
    for analyzer in (index_side, search_side):
        assert analyzer["type"] == "custom"
        assert analyzer["tokenizer"] == "smartcn_tokenizer"
        assert analyzer["filter"][:3] == ["cjk_width", "lowercase", "smartcn_stop"]
    assert "wushe_synonyms" not in index_side["filter"]
    assert search_side["filter"][-1] == "wushe_synonyms"
    assert analysis["filter"]["wushe_synonyms"] == {
        "type": "synonym_graph",
        "synonyms_path": SYNONYMS_PATH,
        "updateable": True,
        "lenient": True,
    }


def test_text_fields_use_the_chinese_analyzers(props):
    for name in ("title", "body"):
        assert props[name]["type"] == "text"
        assert props[name]["analyzer"] == INDEX_ANALYZER
        assert props[name]["search_analyzer"] == SEARCH_ANALYZER
    assert props["title"]["fields"]["raw"] == {"type": "keyword", "ignore_above": 256}


def test_facet_and_key_fields_are_keywords(props):
    for name in (
        "type",
        "object_id",
        "street_id",
        "street",
        "service_type_id",
        "service_type",
        "status",
        "status_display",
    ):
        assert props[name] == {"type": "keyword"}, name
    assert props["updated_at"] == {"type": "date"}


def test_url_is_stored_but_not_indexed(props):
    assert props["url"] == {"type": "keyword", "index": False, "doc_values": False}


def test_mapping_is_strict_and_holds_only_public_fields(template, props):
    assert template["template"]["mappings"]["dynamic"] == "strict"
    assert set(props) == {
        "type",
        "object_id",
        "title",
        "body",
        "url",
        "street_id",
        "street",
        "service_type_id",
        "service_type",
        "status",
        "status_display",
        "updated_at",
    }


def test_a_concrete_index_gets_the_same_definition(template):
    body = search_index("wushe-search-20250101000000000000").to_dict()
    assert body["mappings"] == template["template"]["mappings"]
    assert body["settings"] == template["template"]["settings"]


def test_document_source_from_a_search_doc():
    updated = datetime(2025, 3, 1, 8, 30, tzinfo=UTC)
    doc = SearchDoc(
        type="need",
        id=42,
        title="助餐服务",
        body="明光路社区老人需要助餐",
        url="/needs/42/",
        street_id=7,
        street="明光路街道",
        service_type_id=3,
        service_type="助餐",
        status="open",
        status_display="待匹配",
        updated_at=updated,
    )
    document = SearchDocument.from_search_doc(doc)
    assert document.meta.id == "need-42" == SearchDocument.key("need", 42)
    assert document.source() == {
        "type": "need",
        "object_id": "42",
        "title": "助餐服务",
        "body": "明光路社区老人需要助餐",
        "url": "/needs/42/",
        "street_id": "7",
        "street": "明光路街道",
        "service_type_id": "3",
        "service_type": "助餐",
        "status": "open",
        "status_display": "待匹配",
        "updated_at": updated,
    }


def test_empty_facet_values_are_left_out():
    doc = SearchDoc(type="organisation", id=5, title="瑶海区慈善协会", body="", url="/o/5/")
    source = SearchDocument.from_search_doc(doc).source()
    assert set(source) == {"type", "object_id", "title", "body", "url"}


def test_alias_actions_move_the_alias_in_one_step():
    actions = alias_actions(
        "wushe-search",
        ["wushe-search-2", "wushe-search-1"],
        "wushe-search-3",
        staging_alias="wushe-search-next",
    )
    assert actions == [
        {"remove": {"index": "wushe-search-1", "alias": "wushe-search"}},
        {"remove": {"index": "wushe-search-2", "alias": "wushe-search"}},
        {"add": {"index": "wushe-search-3", "alias": "wushe-search"}},
        {"remove": {"index": "wushe-search-3", "alias": "wushe-search-next"}},
    ]


def test_alias_actions_for_a_first_build():
    assert alias_actions("wushe-search", [], "wushe-search-1") == [
        {"add": {"index": "wushe-search-1", "alias": "wushe-search"}}
    ]


def test_new_index_names_sort_by_time_and_match_the_pattern():
    first = new_index_name("wushe-search", datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=UTC))
    second = new_index_name("wushe-search", datetime(2025, 1, 2, 3, 4, 5, 7, tzinfo=UTC))
    assert first == "wushe-search-20250102030405000006"
    assert first < second
    assert first == first.lower()
    assert re.fullmatch(index_pattern("wushe-search").replace("*", ".*"), first)


def test_image_installs_smartcn_and_ships_the_synonyms_file():
    dockerfile = (ES_DIR / "Dockerfile").read_text()
    assert "elasticsearch-plugin install --batch analysis-smartcn" in dockerfile
    copy = re.search(r"^COPY .*synonyms\.txt (\S+)$", dockerfile, re.MULTILINE)
    assert copy, "the Dockerfile must copy the synonyms file into the image"
    # Relative to the image's WORKDIR (/usr/share/elasticsearch), under its config directory,
    # where the analyzer's relative synonyms_path is resolved.
    assert copy.group(1) == f"config/{SYNONYMS_PATH}"


def test_synonyms_file_is_well_formed():
    rules = [
        line.strip()
        for line in (ES_DIR / "synonyms.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules
    groups = [{word.strip() for word in rule.split(",")} for rule in rules]
    assert all(len(group) >= 2 and "" not in group for group in groups)
    assert any({"养老", "为老"} <= group for group in groups)
    assert any({"心理疏导", "心理咨询"} <= group for group in groups)


def test_compose_builds_the_image_with_the_plugin():
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "build: docker/elasticsearch" in compose
