"""Segmentation of documents and queries: pure functions, no database."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from search.segmentation import MAX_QUERY_CHARS, document_terms, parse_query

# Characters of the district's service vocabulary, so that random texts hold real words.
ALPHABET = "社区居家养老服务项目心理疏导老人助餐儿童关爱残疾康复困难家庭志愿者明光路街道，。、 12"


def matches(doc_text: str, query: str) -> bool:
    """Whether a document would match: every exact term present, every prefix term a prefix
    of some term (what both databases do with the terms)."""
    terms = document_terms(doc_text).split()
    have = set(terms)
    parsed = parse_query(query)
    return all(
        any(t.startswith(term.text) for t in terms) if term.prefix else term.text in have
        for term in parsed.terms
    )


def test_word_inside_a_longer_text():
    assert matches("社区居家养老服务项目", "养老")
    assert matches("为困难家庭提供心理疏导服务", "心理疏导")
    assert not matches("儿童课后托管", "养老")


def test_words_typed_together_match_apart():
    assert matches("社区居家养老服务项目", "社区养老")
    assert matches("社区居家养老服务项目", "社区 养老")


def test_a_phrase_cut_differently_in_the_text_is_still_found():
    # jieba cuts 赡养老人 as 赡养 / 老人; the pair 养老 is indexed all the same.
    assert matches("子女赡养老人的义务", "养老")


def test_width_and_case_fold():
    assert matches("２０２５年ＡＢＣ项目", "2025")
    assert matches("ABC 项目", "abc")


def test_one_character_query_is_a_prefix_lookup():
    parsed = parse_query("老")
    assert [(t.text, t.prefix) for t in parsed.terms] == [("老", True)]
    assert matches("关爱老人", "老")
    # The last character of a run is indexed too.
    assert matches("敬老", "老")


def test_syntax_and_control_characters_give_no_terms():
    for text in ['"*:()[]{}^~!\\', "％＿", "\x00\x1f", "   "]:
        parsed = parse_query(text)
        assert parsed.terms == ()
    assert parse_query("   ").empty
    assert parse_query('"*:()').matches_nothing


def test_long_query_is_cut():
    parsed = parse_query("养老" * 5000)
    assert len(parsed.raw) == MAX_QUERY_CHARS


def test_terms_hold_only_letters_and_digits():
    terms = document_terms('C++ 与 .NET；‘引号’ "双引号" a_b 2025-01-01 养老').split()
    assert terms and all(t.isalnum() for t in terms)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=ALPHABET, min_size=2, max_size=40), st.data())
def test_every_text_containing_a_chinese_phrase_matches_it(text, data):
    start = data.draw(st.integers(0, len(text) - 2))
    end = data.draw(st.integers(start + 2, len(text)))
    query = text[start:end]
    # Chinese phrases: Latin words and numbers match as whole words (or their starts), as
    # in Elasticsearch, so "12" does not find "112".
    assume(not any(c.isascii() and c.isalnum() for c in query))
    assert matches(text, query), (text, query)
