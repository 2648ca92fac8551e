"""The sealed rule, swept over every path to a bid: the bid page, the plan download, the API
list and detail, and the tender pages, for every role (civil affairs, auditor, an assigned
evaluator who declared no conflict, one who did not, another agency, a street official,
anonymous) before the close, after the close but before opening, and after opening. Before
opening nobody but the bidding agency sees the bid, its price, its plan or even how many
bids there are."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from marketplace.models import Bid, EvaluatorAssignment, Role
from marketplace.selectors.tenders import bid_count_public
from marketplace.services.tenders import tender_open
from tests import procurement as p
from tests.marketplace.test_tender_services import close, submit

pytestmark = pytest.mark.django_db

PRICE = "31234.56"
PLAN_NAME = "绝密方案.pdf"


@pytest.fixture
def sealed(world):
    """A tender in its window with one bid; readers of every kind."""
    w = world
    w.tender = p.tender(w)
    w.lot = w.tender.lots.get()
    w.owner = p.agency(w.street)
    w.other = p.agency(w.street)
    w.bid = submit(w.lot, w.owner, price=PRICE, plan=p.plan_upload(PLAN_NAME))
    official = w.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    w.declared = p.evaluator("declared")
    w.undeclared = p.evaluator("undeclared")
    for expert, declaration in [
        (w.declared, EvaluatorAssignment.Declaration.NO_CONFLICT),
        (w.undeclared, EvaluatorAssignment.Declaration.PENDING),
    ]:
        EvaluatorAssignment.objects.create(
            tender=w.tender,
            evaluator=expert,
            assigned_by=official,
            declaration=declaration,
            declared_at=timezone.now(),
        )
    w.readers = {
        "civil_affairs": official,
        "auditor": w.users[Role.AUDITOR],
        "declared_evaluator": w.declared,
        "undeclared_evaluator": w.undeclared,
        "other_agency": w.other.staff_user,
        "world_agency": w.users[Role.AGENCY_STAFF],
        "street_official": w.users[Role.STREET_OFFICIAL],
        "anonymous": None,
    }
    return w


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def paths(bid: Bid) -> dict[str, str]:
    return {
        "page": reverse("procurement:bid-update", args=[bid.pk]),
        "withdraw": reverse("procurement:bid-withdraw", args=[bid.pk]),
        "plan": reverse("procurement:bid-plan", args=[bid.pk]),
        "api_detail": reverse("api-bid-detail", args=[bid.pk]),
    }


def assert_sealed_from(w, reader: str) -> None:
    client = client_for(w.readers[reader])
    anonymous = w.readers[reader] is None
    for name, path in paths(w.bid).items():
        response = client.post(path) if name == "withdraw" else client.get(path)
        allowed = {302} if anonymous and not name.startswith("api") else {403, 404}
        if anonymous and name.startswith("api"):
            allowed = {401, 403}
        assert response.status_code in allowed, (reader, name, response.status_code)
        assert PRICE not in response.content.decode(errors="replace"), (reader, name)
        assert p.PDF_BYTES not in response.content, (reader, name)
    response = client.get(reverse("api-bid-list"))
    if anonymous:
        assert response.status_code in {401, 403}
    else:
        assert response.status_code == 200
        assert response.json()["count"] == 0, reader
    for page in ("tender-manage", "tender-detail-agency"):
        response = client.get(reverse(f"procurement:{page}", args=[w.tender.pk]))
        body = response.content.decode()
        assert PRICE not in body and PLAN_NAME not in body and w.owner.name not in body, (
            reader,
            page,
        )
    w.bid.refresh_from_db()
    assert w.bid.status == Bid.Status.SUBMITTED


STRANGERS = [
    "civil_affairs",
    "auditor",
    "declared_evaluator",
    "undeclared_evaluator",
    "other_agency",
    "world_agency",
    "street_official",
    "anonymous",
]


@pytest.mark.parametrize("reader", STRANGERS)
def test_sealed_before_the_close(sealed, reader):
    assert_sealed_from(sealed, reader)


@pytest.mark.parametrize("reader", STRANGERS)
def test_sealed_after_the_close_until_opening(sealed, reader):
    close(sealed.tender)
    assert_sealed_from(sealed, reader)


def test_the_owner_reads_its_own_bid_before_the_close(sealed):
    w = sealed
    client = client_for(w.owner.staff_user)
    body = client.get(paths(w.bid)["page"]).content.decode()
    assert PRICE in body and PLAN_NAME in body
    response = client.get(paths(w.bid)["plan"])
    assert response.status_code == 200 and response.content == p.PDF_BYTES
    data = client.get(reverse("api-bid-list")).json()
    assert [b["id"] for b in data["results"]] == [w.bid.pk]
    detail = client.get(paths(w.bid)["api_detail"]).json()
    # Even its owner's API view carries no plain content: it does not exist yet.
    assert detail["price"] is None and detail["team"] == [] and detail["plan_name"] == ""


def test_the_count_is_sealed_until_the_close(sealed):
    assert bid_count_public(lot=sealed.lot) is None
    close(sealed.tender)
    sealed.lot.tender.refresh_from_db()
    assert bid_count_public(lot=sealed.lot) == 1


@pytest.mark.parametrize(
    ("reader", "sees"),
    [
        ("civil_affairs", True),
        ("auditor", True),
        ("declared_evaluator", True),
        ("undeclared_evaluator", False),
        ("other_agency", False),
        ("world_agency", False),
        ("street_official", False),
    ],
)
def test_after_opening(sealed, reader, sees):
    w = sealed
    close(w.tender)
    tender_open(tender=w.tender)
    client = client_for(w.readers[reader])
    plan = client.get(paths(w.bid)["plan"])
    detail = client.get(paths(w.bid)["api_detail"])
    listing = client.get(reverse("api-bid-list")).json()
    if sees:
        assert plan.status_code == 200 and plan.content == p.PDF_BYTES
        assert detail.status_code == 200 and detail.json()["price"] == PRICE
        assert detail.json()["plan_name"] == PLAN_NAME
        assert [b["id"] for b in listing["results"]] == [w.bid.pk]
    else:
        assert plan.status_code in {403, 404} and detail.status_code == 404
        assert listing["count"] == 0
    # The owner's page of content is the owner's alone, opened or not.
    assert client.get(paths(w.bid)["page"]).status_code in {403, 404}


def test_after_opening_anonymous_still_refused(sealed):
    close(sealed.tender)
    tender_open(tender=sealed.tender)
    client = Client()
    assert client.get(paths(sealed.bid)["plan"]).status_code == 302
    assert client.get(paths(sealed.bid)["api_detail"]).status_code in {401, 403}


def test_withdrawn_bids_stay_sealed_after_opening(sealed):
    w = sealed
    from marketplace.services.tenders import bid_withdraw

    bid_withdraw(bid=w.bid, by=w.owner.staff_user)
    close(w.tender)
    tender_open(tender=w.tender)
    w.bid.refresh_from_db()
    assert w.bid.price is None and w.bid.opened_at is None
    for reader in ("civil_affairs", "auditor", "declared_evaluator"):
        client = client_for(w.readers[reader])
        assert client.get(paths(w.bid)["plan"]).status_code == 404
        assert client.get(paths(w.bid)["api_detail"]).status_code == 404
