"""The outbox: a write records its change in its own transaction, a drain applies it, an
outage keeps it, and reconcile finds what the index lacks or holds too much of."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from marketplace.models import Organisation, Role
from marketplace.services.directory import organisation_create, organisation_verify
from search.backends import get_backend
from search.backends.base import SearchQuery
from search.models import SearchEntry, SearchOutbox
from search.public import schedule_reindex, schedule_removal
from search.services import search_outbox_drain, search_reconcile
from tests import factories as f
from tests.search.conftest import doc

pytestmark = pytest.mark.django_db


def found(q: str) -> set[tuple[str, int]]:
    return {(h.type, h.id) for h in get_backend().search(SearchQuery(q=q, page_size=100)).hits}


@pytest.fixture
def unreachable(settings):
    """Search on an Elasticsearch nobody listens at: every call is refused at once."""
    from search.client import get_client

    settings.SEARCH_BACKEND = "elasticsearch"
    settings.ELASTICSEARCH_URL = "http://127.0.0.1:9"
    get_client.cache_clear()
    yield
    settings.SEARCH_BACKEND = "database"
    get_client.cache_clear()


def test_schedule_writes_a_row_in_the_callers_transaction(
    world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        schedule_reindex(doc_type="organisation", object_id=world.charity.pk)
    row = SearchOutbox.objects.get()
    assert (row.doc_type, row.object_id, row.action, row.attempts) == (
        "organisation",
        world.charity.pk,
        "index",
        0,
    )
    # The drain is queued only once the write commits.
    assert len(callbacks) == 1
    assert not SearchEntry.objects.exists()


def test_a_rolled_back_write_leaves_no_row(world):
    with pytest.raises(RuntimeError), transaction.atomic():
        schedule_reindex(doc_type="organisation", object_id=world.charity.pk)
        raise RuntimeError("the write failed")
    assert not SearchOutbox.objects.exists()


def test_unknown_type_is_refused_at_once(world):
    with pytest.raises(ValueError, match="unknown search document type"):
        schedule_reindex(doc_type="person", object_id=1)


def test_drain_indexes_then_removes(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        schedule_reindex(doc_type="organisation", object_id=world.charity.pk)
    assert ("organisation", world.charity.pk) in found("慈善协会")
    assert not SearchOutbox.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        schedule_removal(doc_type="organisation", object_id=world.charity.pk)
    assert ("organisation", world.charity.pk) not in found("慈善协会")


def test_an_object_no_longer_public_is_removed_by_a_reindex(world):
    schedule_reindex(doc_type="organisation", object_id=world.charity.pk)
    search_outbox_drain()
    Organisation.objects.filter(pk=world.charity.pk).update(verified=False)
    schedule_reindex(doc_type="organisation", object_id=world.charity.pk)
    report = search_outbox_drain()
    assert report.deleted == 1
    assert ("organisation", world.charity.pk) not in found("慈善协会")


def test_the_latest_row_of_an_object_decides(world):
    schedule_reindex(doc_type="organisation", object_id=world.charity.pk)
    schedule_removal(doc_type="organisation", object_id=world.charity.pk)
    schedule_reindex(doc_type="organisation", object_id=world.charity.pk)
    report = search_outbox_drain()
    assert report.rows == 3 and report.indexed == 1
    assert ("organisation", world.charity.pk) in found("慈善协会")


def test_writes_succeed_while_search_is_down_and_the_index_catches_up(
    world, unreachable, settings, django_capture_on_commit_callbacks
):
    civil = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    # Real writes through the services while Elasticsearch refuses every connection; the
    # drain queued after each commit runs in-process and fails.
    with django_capture_on_commit_callbacks(execute=True):
        created = organisation_create(
            created_by=civil,
            name="瑶海区夕阳红互助会",
            kind=Organisation.Kind.MUTUAL_AID,
            area=world.street,
            description="为社区老人提供居家养老上门服务。",
        )
    with django_capture_on_commit_callbacks(execute=True):
        organisation_verify(organisation=created, verified_by=civil)
    with django_capture_on_commit_callbacks(execute=True):
        organisation_verify(organisation=world.charity_pending, verified_by=civil)
    # The writes stand.
    created.refresh_from_db()
    world.charity_pending.refresh_from_db()
    assert created.verified and world.charity_pending.verified
    # The changes wait, with the error and a later attempt time.
    rows = list(SearchOutbox.objects.order_by("pk"))
    assert len(rows) == 3
    assert all(r.attempts >= 1 and r.last_error for r in rows)
    assert all(r.next_attempt_at > timezone.now() for r in rows)
    # Still down: a later drain fails again and the wait grows.
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        report = search_outbox_drain()
        assert report.unavailable and report.failed == 3
    assert all(r.attempts >= 2 for r in SearchOutbox.objects.all())

    # The index is back (the database backend stands in for the recovered server).
    settings.SEARCH_BACKEND = "database"
    with time_machine.travel(timezone.now() + timedelta(hours=1)):
        report = search_outbox_drain()
    assert report.indexed == 2 and not report.unavailable
    assert not SearchOutbox.objects.exists()
    assert ("organisation", created.pk) in found("夕阳红")
    assert ("organisation", world.charity_pending.pk) in found("爱心会")


def test_rows_not_yet_due_wait(world):
    schedule_reindex(doc_type="organisation", object_id=world.charity.pk)
    SearchOutbox.objects.update(next_attempt_at=timezone.now() + timedelta(minutes=1))
    assert search_outbox_drain().rows == 0
    assert SearchOutbox.objects.count() == 1


def test_one_drain_at_a_time(world):
    from django.core.cache import cache

    from search.services import LOCK_KEY

    schedule_reindex(doc_type="organisation", object_id=world.charity.pk)
    cache.add(LOCK_KEY, "another worker", timeout=60)
    report = search_outbox_drain()
    assert report.busy and report.rows == 0
    cache.delete(LOCK_KEY)
    assert search_outbox_drain().indexed == 1


def test_reconcile_schedules_what_is_missing_and_what_is_extra(world):
    backend = get_backend()
    # Verified organisations made without the services: the index has never heard of them.
    backend.index([doc("organisation", 999_999, "早已注销的组织", "不应再被搜到")])
    report = search_reconcile()
    expected = Organisation.objects.filter(verified=True).count()
    assert report.expected["organisation"] == expected
    assert report.held["organisation"] == 1
    assert report.scheduled_index["organisation"] == expected
    assert report.scheduled_delete["organisation"] == 1
    search_outbox_drain()
    assert backend.counts()["organisation"] == expected
    assert ("organisation", 999_999) not in found("注销")
    # In step now: nothing more to schedule.
    again = search_reconcile()
    assert not any(again.scheduled_index.values()) and not any(again.scheduled_delete.values())


def test_reconcile_task_skips_when_search_is_down(world, unreachable):
    from search.tasks import search_reconcile as task

    assert task.apply().get() == {}
    assert not SearchOutbox.objects.exists()


def test_drain_task_in_process_does_not_retry_while_down(world, unreachable):
    from search.tasks import search_outbox_drain as task

    f.organisation("新登记的互助会", Organisation.Kind.MUTUAL_AID, world.street)
    schedule_reindex(doc_type="organisation", object_id=world.charity.pk)
    assert task.apply().get() == 0
    assert SearchOutbox.objects.get().attempts == 1
