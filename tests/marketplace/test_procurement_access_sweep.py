"""Every purchase-of-services staff URL, swept with GET and POST by every kind of user:
anonymous visitors go to the login page; people with no part in purchasing (street and
community staff, charities, volunteers, applicants, departments) are refused everywhere;
another agency never reaches a bid, contract or complaint that is not its own; an
evaluator never reaches another's assignment; and before the close nobody but the bidding
agency reaches a sealed bid — civil affairs and auditors included — and its price never
appears in any answer. A refused POST changes nothing. A new URL pattern fails
`test_every_pattern_is_swept` until it is given objects here."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from marketplace import urls_contracts, urls_evaluation, urls_tenders
from marketplace.models import (
    Bid,
    Complaint,
    DeliveryRecord,
    EvaluatorAssignment,
    Role,
    Tender,
    TenderQuestion,
)
from marketplace.services.contracts import delivery_record_add, review_draw
from marketplace.services.tenders import bid_submit
from tests import procurement as p

pytestmark = pytest.mark.django_db

SEALED_PRICE = "38765.43"
PATTERNS = [*urls_tenders.urlpatterns, *urls_evaluation.urlpatterns, *urls_contracts.urlpatterns]


@pytest.fixture
def market(world):
    """One tender still sealed (a bid by `mine`), one opened and awarded in standstill with a
    complaint by `rival`, and one under contract with a delivery and a review."""
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    mine, rival = p.agency(world.street), p.agency(world.street2)
    sealed_tender = p.tender(world, state="bidding")
    sealed_lot = sealed_tender.lots.get()
    sealed_bid = bid_submit(
        lot=sealed_lot,
        by=mine.staff_user,
        agency=mine,
        price=Decimal(SEALED_PRICE),
        plan=p.plan_upload(),
        team=mine.worker_users,
        declarations={"info_true": True, "no_collusion": True, "no_debarment": True},
    )
    question = TenderQuestion.objects.create(
        tender=sealed_tender, organisation=mine, asked_by=mine.staff_user, question="能否分包？"
    )

    opened = p.tender(world, state="closed")
    Tender.objects.filter(pk=opened.pk).update(
        status=Tender.Status.OPENED, opened_at=timezone.now()
    )
    opened.refresh_from_db()
    lot = opened.lots.get()
    my_bid = p.opened_bid(lot, mine, price=Decimal("35000.00"))
    rival_bid = p.opened_bid(lot, rival, price=Decimal("36000.00"))
    expert, other_expert = p.evaluator(), p.evaluator()
    assignment = EvaluatorAssignment.objects.create(
        tender=opened,
        evaluator=expert,
        assigned_by=official,
        declaration=EvaluatorAssignment.Declaration.NO_CONFLICT,
        declared_at=timezone.now(),
    )
    award = p.award(lot, my_bid, official, final=False)
    complaint = Complaint.objects.create(
        award=award, organisation=rival, lodged_by=rival.staff_user, grounds="评分不公"
    )

    contracted = p.tender(world, state="closed")
    contract = p.contract(world, contracted.lots.get(), mine)
    milestone = contract.milestones.order_by("position").first()
    delivery = delivery_record_add(
        milestone=milestone,
        by=mine.staff_user,
        units=Decimal("3"),
        delivered_on=timezone.localdate() - timedelta(days=5),
        description="上门探访三户",
        evidence=p.plan_upload("记录.pdf"),
    )
    review = review_draw(contract=contract, by=official, kind="midterm")
    objects = {
        "tender": sealed_tender,
        "lot": sealed_lot,
        "criterion": sealed_tender.criteria.first(),
        "question": question,
        "sealed_bid": sealed_bid,
        "opened": opened,
        "opened_lot": lot,
        "my_bid": my_bid,
        "rival_bid": rival_bid,
        "assignment": assignment,
        "award": award,
        "complaint": complaint,
        "contract": contract,
        "milestone": milestone,
        "delivery": delivery,
        "review": review,
        "sample": review.samples.first(),
    }
    actors = {
        "official": official,
        "auditor": world.users[Role.AUDITOR],
        "mine": mine.staff_user,
        "rival": rival.staff_user,
        "expert": expert,
        "other_expert": other_expert,
        "street": world.users[Role.STREET_OFFICIAL],
        "community": world.users[Role.COMMUNITY_WORKER],
        "charity": world.users[Role.CHARITY_STAFF],
        "volunteer": world.users[Role.VOLUNTEER],
        "applicant": world.users[Role.APPLICANT],
        "department": world.users[Role.DEPARTMENT_STAFF],
        "social_worker_elsewhere": world.users[Role.SOCIAL_WORKER],
    }
    return objects, actors


def _kwargs(name: str, o: dict) -> dict:
    """Arguments for each pattern, pointing at the fixture's objects."""
    table = {
        "tender-manage": {"pk": o["tender"].pk},
        "tender-update": {"pk": o["tender"].pk},
        "lot-add": {"pk": o["tender"].pk},
        "lot-remove": {"pk": o["tender"].pk, "lot_id": o["lot"].pk},
        "criterion-add": {"pk": o["tender"].pk},
        "criterion-remove": {"pk": o["tender"].pk, "criterion_id": o["criterion"].pk},
        "tender-publish": {"pk": o["tender"].pk},
        "tender-cancel": {"pk": o["tender"].pk},
        "tender-open": {"pk": o["tender"].pk},
        "question-answer": {"pk": o["tender"].pk, "question_id": o["question"].pk},
        "tender-detail-agency": {"pk": o["tender"].pk},
        "question-ask": {"pk": o["tender"].pk},
        "bid-create": {"lot_id": o["lot"].pk},
        "bid-update": {"pk": o["sealed_bid"].pk},
        "bid-withdraw": {"pk": o["sealed_bid"].pk},
        "bid-plan": {"pk": o["sealed_bid"].pk},
        "tender-evaluation": {"pk": o["opened"].pk},
        "evaluator-assign": {"pk": o["opened"].pk},
        "bid-qualify": {"pk": o["my_bid"].pk},
        "lot-award": {"pk": o["opened_lot"].pk},
        "lot-fail": {"pk": o["opened_lot"].pk},
        "lot-ranking-export": {"pk": o["opened_lot"].pk},
        "complaint-answer": {"pk": o["complaint"].pk},
        "assignment-detail": {"pk": o["assignment"].pk},
        "score-sheet": {"pk": o["assignment"].pk, "bid_pk": o["my_bid"].pk},
        "complaint-create": {"pk": o["award"].pk},
        "contract-sign": {"pk": o["award"].pk},
        "contract-detail": {"pk": o["contract"].pk},
        "delivery-add": {"pk": o["contract"].pk},
        "delivery-team-log": {"pk": o["contract"].pk},
        "review-draw": {"pk": o["contract"].pk},
        "milestone-submit": {"pk": o["milestone"].pk},
        "milestone-decide": {"pk": o["milestone"].pk},
        "delivery-evidence": {"pk": o["delivery"].pk},
        "review-detail": {"pk": o["review"].pk},
        "review-complete": {"pk": o["review"].pk},
        "sample-verify": {"pk": o["sample"].pk},
    }
    return table.get(name, {})


def _urls(objects):
    for pattern in PATTERNS:
        yield (
            pattern.name,
            reverse(f"procurement:{pattern.name}", kwargs=_kwargs(pattern.name, objects) or None),
        )


OUTSIDERS = [
    "street",
    "community",
    "charity",
    "volunteer",
    "applicant",
    "department",
    "social_worker_elsewhere",
]
# Pages of one agency's own things: the other agency must be refused.
AGENCY_OWN = {
    "bid-update",
    "bid-withdraw",
    "bid-plan",
    "contract-detail",
    "delivery-add",
    "delivery-team-log",
    "milestone-submit",
    "delivery-evidence",
}
# Pages of one evaluator's assignment.
EVALUATOR_OWN = {"assignment-detail", "score-sheet"}
# Civil affairs' pages of management and decision.
BUYER_ONLY = {
    "tender-create",
    "tender-update",
    "lot-add",
    "lot-remove",
    "criterion-add",
    "criterion-remove",
    "tender-publish",
    "tender-cancel",
    "tender-open",
    "question-answer",
    "evaluator-assign",
    "bid-qualify",
    "lot-award",
    "lot-fail",
    "complaint-answer",
    "contract-sign",
    "review-draw",
    "milestone-decide",
    "review-complete",
    "sample-verify",
}
REFUSED = {403, 404, 405}


def _state():
    """What a refused request must leave untouched."""
    return (
        list(Tender.objects.order_by("pk").values_list("status", "title")),
        list(Bid.objects.order_by("pk").values_list("status", "qualification", "revision")),
        list(EvaluatorAssignment.objects.order_by("pk").values_list("declaration")),
        Complaint.objects.filter(status="open").count(),
        DeliveryRecord.objects.count(),
    )


def test_every_pattern_is_swept(market):
    objects, _actors = market
    names = [name for name, _ in _urls(objects)]
    assert len(names) == len(set(names)) == len(PATTERNS)
    for pattern in PATTERNS:
        params = set(pattern.pattern.regex.groupindex)
        assert params == set(_kwargs(pattern.name, objects)), pattern.name


def test_anonymous_goes_to_login_everywhere(client, market):
    objects, _actors = market
    login = reverse("login")
    for name, url in _urls(objects):
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code in (302, *REFUSED), (name, method)
            if response.status_code == 302:
                assert response["Location"].startswith(login), (name, method)


def _refused(client, user, url, name):
    client.force_login(user)
    before = _state()
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        assert response.status_code in REFUSED, (name, method, response.status_code)
    assert _state() == before, name


def test_outsiders_are_refused_everywhere(client, market):
    objects, actors = market
    for name, url in _urls(objects):
        for who in OUTSIDERS:
            _refused(client, actors[who], url, f"{name} by {who}")


def test_another_agency_never_reaches_what_is_not_its_own(client, market):
    objects, actors = market
    for name, url in _urls(objects):
        if name in AGENCY_OWN or name in BUYER_ONLY or name in EVALUATOR_OWN:
            _refused(client, actors["rival"], url, name)


def test_an_evaluator_never_reaches_another_evaluators_work(client, market):
    objects, actors = market
    for name, url in _urls(objects):
        if name in EVALUATOR_OWN or name in BUYER_ONLY or name in AGENCY_OWN:
            _refused(client, actors["other_expert"], url, name)


def test_agencies_and_evaluators_cannot_use_the_buyers_pages(client, market):
    objects, actors = market
    for name, url in _urls(objects):
        if name in BUYER_ONLY:
            for who in ("mine", "expert", "auditor"):
                _refused(client, actors[who], url, f"{name} by {who}")


def test_nobody_but_the_bidder_reaches_a_sealed_bid(client, market):
    objects, actors = market
    bid = objects["sealed_bid"]
    sealed = [
        reverse("procurement:bid-update", args=[bid.pk]),
        reverse("procurement:bid-plan", args=[bid.pk]),
        reverse("api-bid-detail", args=[bid.pk]),
    ]
    for who in ("official", "auditor", "expert", "rival", "street", "charity"):
        client.force_login(actors[who])
        for url in sealed:
            assert client.get(url).status_code in REFUSED, (who, url)
        for name, url in _urls(objects):
            response = client.get(url)
            if response.status_code == 200 and response.get("Content-Type", "").startswith(
                "text/html"
            ):
                body = response.content.decode()
                assert SEALED_PRICE not in body and "38,765.43" not in body, (who, name)
        listing = client.get(reverse("api-bid-list")).content.decode()
        assert SEALED_PRICE not in listing, who
    client.force_login(actors["mine"])
    assert client.get(sealed[0]).status_code == 200
    assert client.get(sealed[1]).status_code == 200


def test_the_bidder_and_buyer_reach_their_own_pages(client, market):
    """The sweep's refusals mean something: the same URLs answer their rightful users."""
    objects, actors = market
    allowed = {
        "mine": [
            "tender-open-list",
            "tender-detail-agency",
            "bid-list-mine",
            "bid-update",
            "contract-detail",
            "delivery-evidence",
            "contract-list",
        ],
        "official": [
            "tender-list",
            "tender-manage",
            "tender-evaluation",
            "contract-detail",
            "review-detail",
            "delivery-evidence",
            "contract-list",
        ],
        "expert": ["assignment-list", "assignment-detail", "score-sheet"],
        "rival": ["complaint-list-mine", "tender-open-list"],
        "auditor": ["tender-list", "tender-evaluation", "contract-list", "contract-detail"],
    }
    urls = dict(_urls(objects))
    for who, names in allowed.items():
        client.force_login(actors[who])
        for name in names:
            assert client.get(urls[name]).status_code == 200, (who, name)
