"""Red flags on an opened tender: single bidder, shared phone, shared legal representative,
prices clustered just under the budget; none before opening."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from marketplace.crypto import sealed_phone
from marketplace.models import Bid, Organisation, Tender
from marketplace.selectors.evaluation import tender_red_flags
from tests import procurement as p

D = Decimal


def opened(tender):
    tender.status = Tender.Status.OPENED
    tender.opened_at = timezone.now()
    tender.save(update_fields=["status", "opened_at"])
    return tender


def set_phone(org, number):
    Organisation.objects.filter(pk=org.pk).update(
        **sealed_phone(number, purpose="organisation.phone")
    )


def codes(flags):
    return sorted(f.code for f in flags)


def test_no_flags_before_opening(world):
    tender = p.tender(world, state="closed")
    lot = tender.lots.get()
    p.opened_bid(lot, p.agency(world.street), price=D("39900"))
    assert tender_red_flags(tender=tender) == []
    bidding = p.tender(world, state="bidding")
    assert tender_red_flags(tender=bidding) == []


def test_single_bidder(world):
    tender = opened(p.tender(world, state="closed", lots=2))
    lot1, lot2 = tender.lots.all()
    solo = p.agency(world.street, "独家社工服务中心")
    p.opened_bid(lot1, solo, price=D("30000"))
    p.opened_bid(lot2, p.agency(world.street2), price=D("30000"))
    p.opened_bid(lot2, p.agency(world.street2), price=D("31000"))
    flags = tender_red_flags(tender=tender)
    assert codes(flags) == ["SINGLE_BIDDER"]
    assert flags[0].lot == lot1 and flags[0].agencies == [solo]
    assert "独家社工服务中心" in flags[0].message and "只有一家" in flags[0].message


def test_withdrawn_bids_do_not_count(world):
    tender = opened(p.tender(world, state="closed"))
    lot = tender.lots.get()
    p.opened_bid(lot, p.agency(world.street), price=D("30000"))
    gone = p.opened_bid(lot, p.agency(world.street), price=D("31000"))
    Bid.objects.filter(pk=gone.pk).update(status=Bid.Status.WITHDRAWN)
    assert codes(tender_red_flags(tender=tender)) == ["SINGLE_BIDDER"]


def test_shared_phone_across_lots(world):
    tender = opened(p.tender(world, state="closed", lots=2))
    lot1, lot2 = tender.lots.all()
    a, b, c = (p.agency(world.street, name) for name in ("甲机构", "乙机构", "丙机构"))
    set_phone(a, "13900001111")
    set_phone(b, "13900001111")
    set_phone(c, "13900002222")
    p.opened_bid(lot1, a, price=D("20000"))
    p.opened_bid(lot1, c, price=D("21000"))
    p.opened_bid(lot2, b, price=D("20000"))
    p.opened_bid(lot2, c, price=D("21000"))
    flags = [f for f in tender_red_flags(tender=tender) if f.code == "SHARED_PHONE"]
    assert len(flags) == 1
    assert {o.pk for o in flags[0].agencies} == {a.pk, b.pk}
    assert "甲机构" in flags[0].message and "乙机构" in flags[0].message


def test_empty_phones_are_not_shared(world):
    tender = opened(p.tender(world, state="closed"))
    lot = tender.lots.get()
    p.opened_bid(lot, p.agency(world.street), price=D("20000"))
    p.opened_bid(lot, p.agency(world.street), price=D("21000"))
    assert tender_red_flags(tender=tender) == []


def test_shared_representative_ignores_spaces(world):
    tender = opened(p.tender(world, state="closed"))
    lot = tender.lots.get()
    a = p.agency(world.street, "甲机构", legal_representative="王 小明")
    b = p.agency(world.street, "乙机构", legal_representative="王小明\u3000")
    c = p.agency(world.street, "丙机构", legal_representative="")
    d = p.agency(world.street, "丁机构", legal_representative="")
    for org, price in ((a, "20000"), (b, "21000"), (c, "22000"), (d, "23000")):
        p.opened_bid(lot, org, price=D(price))
    flags = tender_red_flags(tender=tender)
    assert codes(flags) == ["SHARED_REPRESENTATIVE"]
    assert {o.pk for o in flags[0].agencies} == {a.pk, b.pk}
    assert "法定代表人相同" in flags[0].message


def test_price_cluster_just_under_budget(world):
    # Budget 40,000: 3% under is 38,800 up to 40,000.
    tender = opened(p.tender(world, state="closed", lots=2))
    lot1, lot2 = tender.lots.all()
    near1, near2 = p.agency(world.street, "近一"), p.agency(world.street, "近二")
    p.opened_bid(lot1, near1, price=D("39990"))
    p.opened_bid(lot1, near2, price=D("38800"))
    p.opened_bid(lot1, p.agency(world.street, "远"), price=D("38799.99"))
    # One near the budget is not a cluster.
    p.opened_bid(lot2, p.agency(world.street2), price=D("39999"))
    p.opened_bid(lot2, p.agency(world.street2), price=D("30000"))
    flags = tender_red_flags(tender=tender)
    assert codes(flags) == ["PRICE_CLUSTER"]
    assert flags[0].lot == lot1
    assert {o.pk for o in flags[0].agencies} == {near1.pk, near2.pk}
    assert "第1标段" in flags[0].message and "3%" in flags[0].message


def test_red_flags_query_count(world, django_assert_max_num_queries):
    tender = opened(p.tender(world, state="closed", lots=2))
    for lot in tender.lots.all():
        for i in range(5):
            p.opened_bid(lot, p.agency(world.street), price=D(39000 + i))
    with django_assert_max_num_queries(1):
        flags = tender_red_flags(tender=tender)
    assert codes(flags) == ["PRICE_CLUSTER", "PRICE_CLUSTER"]
