"""Analysis chains for the Elasticsearch index.

Production's Elasticsearch image has the `analysis-smartcn` plugin installed (see
docker/elasticsearch/Dockerfile): `smartcn_tokenizer` segments Simplified Chinese into words and
`smartcn_stop` drops the punctuation tokens it emits.

Two analyzers share that chain:

- `chinese` analyses documents at index time;
- `chinese_search` analyses the user's words and adds the synonym filter, so "为老" also finds
  "养老". Synonyms live only on the search side: the filter is `updateable`, so an edited
  synonyms file takes effect with `POST <alias>/_reload_search_analyzers` and no re-index.

Pinyin is left out: the pinyin analysis plugin is not part of the image, and synonyms answer the
cases users asked for (different words for the same service) more cheaply.
"""

from elasticsearch.dsl import analyzer, token_filter

# Where the image keeps the synonyms file, relative to the Elasticsearch config directory;
# docker/elasticsearch/Dockerfile copies docker/elasticsearch/synonyms.txt there.
SYNONYMS_PATH = "analysis/wushe-synonyms.txt"

INDEX_ANALYZER = "chinese"
SEARCH_ANALYZER = "chinese_search"

# Full-width Latin letters and digits fold to half-width (cjk_width) before lower-casing, so
# "ＡＢＣ１２" in a title matches "abc12" typed on a phone keyboard.
_NORMALISE = ["cjk_width", "lowercase", "smartcn_stop"]

synonyms = token_filter(
    "wushe_synonyms",
    type="synonym_graph",
    synonyms_path=SYNONYMS_PATH,
    # Search-time only, so the file can be reloaded without re-indexing.
    updateable=True,
    # A rule whose words the tokenizer cannot map (e.g. a word that is all stop characters)
    # is skipped instead of failing index creation.
    lenient=True,
)

chinese = analyzer(INDEX_ANALYZER, tokenizer="smartcn_tokenizer", filter=_NORMALISE)

chinese_search = analyzer(
    SEARCH_ANALYZER, tokenizer="smartcn_tokenizer", filter=[*_NORMALISE, synonyms]
)
