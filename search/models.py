"""The search app's own tables: the outbox of changes waiting to reach the index, and the
database backend's entries.

`SearchEntry` is the database backend's index: one row per document with its text
pre-segmented (see `search/segmentation.py`). On PostgreSQL `search_vector` holds the
weighted tsvector of both segmented columns and `title_vector` the title's, each under a GIN
index; on SQLite an FTS5 table
(`search_entry_fts`, kept in step by triggers) indexes them. Both are made by migration 0002
for the database in use only."""

from __future__ import annotations

from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.utils.translation import gettext_lazy as _


class SearchOutbox(models.Model):
    """A change to the index that has not reached it yet. Written in the same transaction
    as the change it reports, so a committed write is never lost; a row is deleted once the
    index holds the change. A failed row waits until `next_attempt_at` (growing backoff)."""

    class Action(models.TextChoices):
        INDEX = "index", _("更新索引")
        DELETE = "delete", _("移出索引")

    doc_type = models.CharField(_("类型"), max_length=16)
    object_id = models.BigIntegerField(_("对象编号"))
    action = models.CharField(_("操作"), max_length=8, choices=Action.choices)
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)
    attempts = models.PositiveIntegerField(_("尝试次数"), default=0)
    next_attempt_at = models.DateTimeField(_("下次尝试"), db_index=True)
    last_error = models.CharField(_("最近错误"), max_length=500, blank=True)

    class Meta:
        db_table = "search_outbox"
        verbose_name = _("待索引变更")
        verbose_name_plural = _("待索引变更")
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.action} {self.doc_type}#{self.object_id}"


class SearchEntry(models.Model):
    """One document of the database backend: what the page shows, the facet columns and
    the segmented text the full-text index is built on."""

    doc_type = models.CharField(max_length=16)
    object_id = models.BigIntegerField()
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    url = models.CharField(max_length=300)
    street_id = models.BigIntegerField(null=True, blank=True)
    street = models.CharField(max_length=64, blank=True)
    service_type_id = models.BigIntegerField(null=True, blank=True)
    service_type = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=24, blank=True)
    status_display = models.CharField(max_length=32, blank=True)
    updated_at = models.DateTimeField(null=True, blank=True)
    title_terms = models.TextField(blank=True)
    body_terms = models.TextField(blank=True)
    # PostgreSQL only (always null on SQLite), written with every upsert: A-weighted title
    # terms and B-weighted body terms; and the title terms alone, so that "matches in the
    # title" is an index look-up rather than a test of every matching row.
    search_vector = SearchVectorField(null=True, editable=False)
    title_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        db_table = "search_entry"
        constraints = [
            models.UniqueConstraint(fields=["doc_type", "object_id"], name="search_entry_key"),
        ]
        # A filtered search walks the newest entries of one street / service type / status
        # instead of every entry.
        indexes = [
            models.Index(fields=["doc_type", "id"], name="search_entry_type"),
            models.Index(fields=["street_id", "id"], name="search_entry_street"),
            models.Index(fields=["service_type_id", "id"], name="search_entry_service"),
            models.Index(fields=["status", "id"], name="search_entry_status"),
        ]

    def __str__(self) -> str:
        return f"{self.doc_type}#{self.object_id} {self.title}"
