"""Framework events that change what may be searched: Wagtail publishing and unpublishing
service project pages and catalogue items (snippets with drafts), and their deletion.
Domain writes call `search.public` from their services instead; signals are only for what
the framework does on its own."""

from __future__ import annotations

from django.apps import apps
from django.db.models.signals import post_delete
from wagtail.signals import page_published, page_unpublished, published, unpublished

from search.public import schedule_reindex, schedule_removal


def project_published(sender, instance, **kwargs) -> None:
    """A project page went live (or a new revision of it did)."""
    schedule_reindex(doc_type="project", object_id=instance.pk)


def project_withdrawn(sender, instance, **kwargs) -> None:
    """A project page was unpublished or deleted."""
    schedule_removal(doc_type="project", object_id=instance.pk)


def catalogue_item_published(sender, instance, **kwargs) -> None:
    """A catalogue item's revision was published."""
    schedule_reindex(doc_type="catalogue_item", object_id=instance.pk)


def catalogue_item_withdrawn(sender, instance, **kwargs) -> None:
    """A catalogue item was unpublished or deleted."""
    schedule_removal(doc_type="catalogue_item", object_id=instance.pk)


def connect() -> None:
    """Connect the handlers (from `SearchConfig.ready`); idempotent through dispatch ids."""
    project = apps.get_model("charity", "ProjectPage")
    item = apps.get_model("marketplace", "CatalogueItem")
    page_published.connect(project_published, sender=project, dispatch_uid="search-project-pub")
    page_unpublished.connect(project_withdrawn, sender=project, dispatch_uid="search-project-unpub")
    post_delete.connect(project_withdrawn, sender=project, dispatch_uid="search-project-del")
    published.connect(catalogue_item_published, sender=item, dispatch_uid="search-item-pub")
    unpublished.connect(catalogue_item_withdrawn, sender=item, dispatch_uid="search-item-unpub")
    post_delete.connect(catalogue_item_withdrawn, sender=item, dispatch_uid="search-item-del")
