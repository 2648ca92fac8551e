"""The pages the demo walks through that only migrations make: put back when a flushed
database has lost them (the journeys run on flushed databases)."""

from __future__ import annotations

from importlib import import_module

from wagtail.models import Site

from cms.models import ProcurementIndexPage
from marketplace.demo import SeedReport


def procurement_index_ensure() -> ProcurementIndexPage:
    """The purchasing page (`/procurement/`) under the site's home page, made as its
    migration makes it when it is missing."""
    index = ProcurementIndexPage.objects.order_by("path").first()
    if index is not None:
        return index
    made = import_module("cms.migrations.0005_procurement_index")
    home = Site.objects.get(is_default_site=True).root_page
    index = ProcurementIndexPage(title=made.INDEX_TITLE, slug=made.INDEX_SLUG, lead=made.INDEX_LEAD)
    home.add_child(instance=index)
    index.save_revision().publish()
    return index


def cms_demo_seed(*, report: SeedReport, size: str) -> None:
    """Put back the purchasing page if it is missing (the same for every size)."""
    if not ProcurementIndexPage.objects.exists():
        procurement_index_ensure()
        report.add("pages")
