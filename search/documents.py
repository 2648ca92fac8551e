"""Elasticsearch documents. Each is built from a domain selector's rows and carries only
what may be public: no names of people, ID numbers, phones or incomes."""

from elasticsearch.dsl import Boolean, Date, Document, Keyword, Text

from search.analysis import chinese
from search.client import index_name


class OrganisationDocument(Document):
    """An organisation in the directory."""

    name = Text(analyzer=chinese, fields={"raw": Keyword()})
    kind = Keyword()
    kind_display = Keyword()
    street_id = Keyword()
    street = Keyword()
    area = Keyword()
    address = Text(analyzer=chinese)
    description = Text(analyzer=chinese)
    verified = Boolean()
    created_at = Date()

    class Index:
        name = "organisations"
        settings = {"number_of_shards": 1, "number_of_replicas": 0}

    @classmethod
    def alias(cls) -> str:
        return index_name(cls.Index.name)

    @classmethod
    def from_organisation(cls, organisation) -> "OrganisationDocument":
        """The public projection of one organisation."""
        return cls(
            meta={"id": organisation.pk},
            name=organisation.name,
            kind=organisation.kind,
            kind_display=str(organisation.get_kind_display()),
            street_id=str(organisation.street_id or ""),
            street=organisation.street.name if organisation.street_id else "",
            area=organisation.area.name,
            address=organisation.address,
            description=organisation.description,
            verified=organisation.verified,
            created_at=organisation.created_at,
        )
