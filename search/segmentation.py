"""Chinese text made searchable without a Chinese analyzer in the database.

Documents and queries go through the same steps: NFKC folding (full-width letters and digits
become half-width) and lower case, then jieba's segmentation. A document's terms are jieba's
search-mode words plus every pair of adjacent Chinese characters (and the last character of
each run of Chinese characters). A query becomes the words jieba cuts it into; each Chinese
word is looked up through its character pairs. So:

- "养老" finds "社区居家养老服务项目" (jieba cuts 养老 out of it, and the pair 养老 is there);
- "社区养老" finds "社区居家养老": the query is cut into 社区 + 养老, both present;
- a phrase is found in every text that contains it, even where jieba cut that text
  differently (赡养老人 is cut 赡养 / 老人, yet holds the pair 养老): a word's pairs are all
  in any text containing the word, which is the recall promise of the search page;
- a one-character query is a prefix look-up of the pairs (and of the run-final characters).

A term holds only letters and digits, so no term can carry query syntax into either
database's full-text query language."""

from __future__ import annotations

import gc
import logging
import re
import unicodedata
import warnings
from dataclasses import dataclass
from functools import cache

# CJK Unified Ideographs with extension A, and the compatibility block.
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RUN = re.compile(f"[{_CJK}]+")
_TERM = re.compile(f"^(?:[{_CJK}]+|[a-z0-9]+)$")
_LATIN = re.compile("[a-z0-9]+")
# A query longer than this is cut: nobody types more, and each word costs a look-up.
MAX_QUERY_CHARS = 100
MAX_QUERY_TERMS = 24


@cache
def _jieba():
    """jieba, loaded once per process (building its prefix dictionary takes about a second;
    it is cached on disk after the first time)."""
    with warnings.catch_warnings():
        # jieba reads its dictionary through pkg_resources when it is installed.
        warnings.simplefilter("ignore")
        import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    # The dictionary is some half a million objects that live as long as the process: left
    # to the garbage collector, every full collection walks them all (tens of milliseconds,
    # landing inside whichever request triggers it).
    gc.freeze()
    return jieba


def normalise(text: str) -> str:
    """Fold width and case so that ＡＢＣ１２３ and abc123 are the same text."""
    return unicodedata.normalize("NFKC", text or "").lower()


def _pairs(run: str) -> list[str]:
    return [run[i : i + 2] for i in range(len(run) - 1)]


def document_terms(text: str) -> str:
    """The space-separated terms stored for a document's text (title or body)."""
    text = normalise(text)
    if not text.strip():
        return ""
    words = [w for w in _jieba().lcut_for_search(text) if _TERM.match(w)]
    known = set(words)
    grams: list[str] = []
    for run in _CJK_RUN.findall(text):
        # A pair jieba already cut out as a word adds nothing to what can be found, only
        # to the size of the index.
        grams.extend(p for p in _pairs(run) if p not in known)
        if run[-1] not in known:
            grams.append(run[-1])
    return " ".join(words + grams)


@dataclass(frozen=True)
class Term:
    """One term every hit must hold; `prefix` matches any term starting with it."""

    text: str
    prefix: bool = False


@dataclass(frozen=True)
class ParsedQuery:
    """What a query string asks for: `terms` (all must match) and `words` (what the user
    typed, cut into words, for highlighting). `empty` is a blank query (match everything);
    a query with text but no term (only punctuation) matches nothing."""

    raw: str
    terms: tuple[Term, ...]
    words: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not self.raw

    @property
    def matches_nothing(self) -> bool:
        return bool(self.raw) and not self.terms


def parse_query(q: str) -> ParsedQuery:
    """Cut a user's query into terms the same way documents are cut. Never raises: any
    string (syntax characters, control characters, 10,000 characters) gives a query."""
    raw = normalise(q).strip()[:MAX_QUERY_CHARS]
    if not raw:
        return ParsedQuery(raw="", terms=(), words=())
    words = [w for w in _jieba().lcut(raw) if _TERM.match(w)]
    multi = any(len(w) > 1 for w in words if _CJK_RUN.match(w)) or any(
        _LATIN.fullmatch(w) for w in words
    )
    terms: dict[Term, None] = {}
    for word in words:
        if _LATIN.fullmatch(word):
            # Latin words and numbers: a prefix, so "2025" finds "2025年" and "abc" "abcd".
            terms[Term(word, prefix=True)] = None
        elif len(word) == 1:
            # A lone character is only worth a look-up when nothing longer was typed: it
            # narrows little, and "的" or "和" would cost a scan of most pairs.
            if not multi:
                terms[Term(word, prefix=True)] = None
        else:
            for pair in _pairs(word):
                terms[Term(pair)] = None
    return ParsedQuery(
        raw=raw,
        terms=tuple(list(terms)[:MAX_QUERY_TERMS]),
        words=tuple(dict.fromkeys(w for w in words if len(w) > 1 or not multi)),
    )
