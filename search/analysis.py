"""Analysis chains. Production's Elasticsearch has the smartcn plugin installed (see
docker/elasticsearch/Dockerfile); `smartcn_tokenizer` segments Simplified Chinese."""

from elasticsearch.dsl import analyzer

# Simplified Chinese words plus lower-cased Latin; CJK width folding so full-width
# digits and letters match their half-width forms.
chinese = analyzer("chinese", tokenizer="smartcn_tokenizer", filter=["cjk_width", "lowercase"])
