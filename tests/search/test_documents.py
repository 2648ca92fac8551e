"""The organisation document's mapping and content, checked without a server; the
integration test runs against a real Elasticsearch when ELASTICSEARCH_URL is set."""

import os

import pytest

from search.documents import OrganisationDocument


def test_mapping_uses_chinese_analyzer():
    mapping = OrganisationDocument._doc_type.mapping.to_dict()
    props = mapping["properties"]
    assert props["name"]["type"] == "text"
    assert props["name"]["analyzer"] == "chinese"
    assert props["name"]["fields"]["raw"]["type"] == "keyword"
    assert props["kind"]["type"] == "keyword"
    assert props["street_id"]["type"] == "keyword"
    assert props["verified"]["type"] == "boolean"


def test_index_settings_define_smartcn_analyzer():
    index = OrganisationDocument._index.clone(name="wushe-test-organisations")
    body = index.to_dict()
    analyzer = body["settings"]["analysis"]["analyzer"]["chinese"]
    assert analyzer["tokenizer"] == "smartcn_tokenizer"
    assert analyzer["type"] == "custom"
    assert "lowercase" in analyzer["filter"]


@pytest.mark.django_db
def test_document_holds_public_fields_only(world):
    doc = OrganisationDocument.from_organisation(world.charity)
    data = doc.to_dict(include_meta=True)
    assert data["_id"] == world.charity.pk
    source = data["_source"]
    assert source["name"] == "瑶海区慈善协会"
    assert source["street"] == "明光路街道"
    assert source["kind_display"] == "慈善组织"
    assert set(source) <= {
        "name",
        "kind",
        "kind_display",
        "street_id",
        "street",
        "area",
        "address",
        "description",
        "verified",
        "created_at",
    }


@pytest.mark.elasticsearch
@pytest.mark.django_db
def test_round_trip_against_a_real_server(world):
    from elasticsearch.dsl import connections

    from search.client import get_client

    client = get_client()
    connections.add_connection("default", client)
    name = f"wushe-it-{os.getpid()}"
    index = OrganisationDocument._index.clone(name=name)
    index.create()
    try:
        OrganisationDocument.from_organisation(world.charity).save(index=name, refresh=True)
        hits = OrganisationDocument.search(index=name).query("match", name="慈善").execute()
        assert [h.meta.id for h in hits] == [str(world.charity.pk)]
    finally:
        index.delete()
