"""The purchasing page is put back by the demo seed when a flushed database lost it, and the
seed adds nothing when it is there."""

import pytest
from django.core.management import call_command

from cms.demo import procurement_index_ensure
from cms.models import ProcurementIndexPage

pytestmark = pytest.mark.django_db


def test_lost_purchasing_page_is_put_back(client):
    ProcurementIndexPage.objects.all().delete()
    assert client.get("/procurement/").status_code == 404
    call_command("seed_demo", size="small", verbosity=0)
    assert ProcurementIndexPage.objects.count() == 1
    assert client.get("/procurement/").status_code == 200
    assert procurement_index_ensure().pk == ProcurementIndexPage.objects.get().pk
    call_command("seed_demo", size="small", verbosity=0)
    assert ProcurementIndexPage.objects.count() == 1
