"""Contract services and selectors: signing with milestones (and every refusal), delivered
units with evidence, milestone submission and acceptance, reviews and the contract's
completion, the track record and the contracted supply."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import Http404
from django.utils import timezone

from marketplace.exceptions import InvalidState, NotPermitted
from marketplace.models import (
    Contract,
    DeliveryRecord,
    Lot,
    Milestone,
    PerformanceReview,
    ReviewSample,
    Role,
    Tender,
)
from marketplace.selectors.contracts import (
    agency_track_record,
    agency_track_records,
    contract_get_for_user,
    contract_list_for_user,
    contract_supply_list,
    milestone_progress,
)
from marketplace.services.contracts import (
    MilestoneSpec,
    contract_sign,
    delivery_record_add,
    milestone_decide,
    milestone_submit,
    review_complete,
    review_draw,
    sample_verify,
)
from tests import factories as f
from tests import procurement as P

pytestmark = pytest.mark.django_db

PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def evidence(name="签到表.pdf", content=P.PDF_BYTES):
    return SimpleUploadedFile(name, content, content_type="application/pdf")


@pytest.fixture
def awarded(world):
    """A final award of a one-lot tender (500 visits, 36,000 yuan), waiting for its contract."""
    tender = P.tender(world, state="closed")
    lot = tender.lots.get()
    agency = P.agency(world.street)
    bid = P.opened_bid(lot, agency, price=Decimal("36000.00"))
    award = P.award(lot, bid, world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    return SimpleNamespace(tender=tender, lot=lot, agency=agency, award=award)


@pytest.fixture
def signed(world):
    """A signed contract with two milestones of 250 visits, and its agency."""
    tender = P.tender(world, state="closed")
    lot = tender.lots.get()
    agency = P.agency(world.street)
    contract = P.contract(world, lot, agency)
    m1, m2 = contract.milestones.order_by("position")
    return SimpleNamespace(contract=contract, agency=agency, lot=lot, m1=m1, m2=m2)


def official(world):
    return world.users[Role.CIVIL_AFFAIRS_OFFICIAL]


def specs(lot, *, halves=(250, 250), pay=(Decimal("18000"), Decimal("18000")), start=None):
    start = start or timezone.localdate()
    return [
        MilestoneSpec(
            title=f"第{i}阶段", units_target=units, due_on=start + timedelta(days=90 * i), payment=p
        )
        for i, (units, p) in enumerate(zip(halves, pay, strict=True), start=1)
    ]


def sign(world, awarded, **overrides):
    today = timezone.localdate()
    values = {
        "award": awarded.award,
        "by": official(world),
        "number": "YHMZ-HT-2025-001",
        "starts_on": today,
        "ends_on": today + timedelta(days=365),
        "milestones": specs(awarded.lot),
    }
    values.update(overrides)
    return contract_sign(**values)


def add(signed, *, units="10", on=None, milestone=None, **extra):
    values = {
        "milestone": milestone or signed.m1,
        "by": signed.agency.staff_user,
        "units": Decimal(units),
        "delivered_on": on or timezone.localdate() - timedelta(days=1),
        "description": "上门探访独居老人",
        "evidence": evidence(),
    }
    values.update(extra)
    return delivery_record_add(**values)


def deliver_all(signed, milestone):
    """Enough units to meet a milestone's target, as one agency entry."""
    return add(signed, units=str(milestone.units_target), milestone=milestone)


# --- Signing -------------------------------------------------------------------------------


def test_sign_creates_contract_with_milestones_and_completes_tender(world, awarded):
    contract = sign(world, awarded)
    assert contract.value == Decimal("36000.00")
    assert contract.agency == awarded.agency
    rows = list(contract.milestones.order_by("position"))
    assert [m.position for m in rows] == [1, 2]
    assert all(m.street == awarded.lot.street for m in rows)
    assert all(m.service_type == awarded.lot.catalogue_item.service_type for m in rows)
    assert all(m.unit == awarded.lot.catalogue_item.unit for m in rows)
    awarded.lot.refresh_from_db()
    awarded.tender.refresh_from_db()
    assert awarded.lot.status == Lot.Status.CONTRACTED
    assert awarded.tender.status == Tender.Status.COMPLETE


def test_sign_keeps_tender_open_while_another_lot_waits(world):
    tender = P.tender(world, state="closed", lots=2)
    lot1, lot2 = tender.lots.order_by("number")
    agency = P.agency(world.street)
    price = Decimal("36000")
    award1 = P.award(lot1, P.opened_bid(lot1, agency, price=price), official(world))
    sign(world, SimpleNamespace(award=award1, lot=lot1))
    tender.refresh_from_db()
    assert tender.status == Tender.Status.PUBLISHED
    award2 = P.award(lot2, P.opened_bid(lot2, agency, price=price), official(world))
    sign(world, SimpleNamespace(award=award2, lot=lot2), number="YHMZ-HT-2025-002")
    tender.refresh_from_db()
    assert tender.status == Tender.Status.COMPLETE


def test_sign_completes_tender_when_other_lot_failed(world):
    tender = P.tender(world, state="closed", lots=2)
    lot1, lot2 = tender.lots.order_by("number")
    Lot.objects.filter(pk=lot2.pk).update(status=Lot.Status.FAILED)
    agency = P.agency(world.street)
    award = P.award(lot1, P.opened_bid(lot1, agency, price=Decimal("36000")), official(world))
    sign(world, SimpleNamespace(award=award, lot=lot1))
    tender.refresh_from_db()
    assert tender.status == Tender.Status.COMPLETE


def test_sign_explicit_street_and_service_type(world, awarded):
    spec = specs(awarded.lot)
    spec[1] = MilestoneSpec(
        title="第二街道",
        units_target=250,
        due_on=spec[1].due_on,
        payment=Decimal("1000"),
        street=world.street2,
    )
    contract = sign(world, awarded, milestones=spec)
    assert contract.milestones.get(position=2).street == world.street2


@pytest.mark.parametrize(
    ("overrides", "field", "text"),
    [
        ({"milestones": []}, "milestones", "至少设置一个履约节点"),
        ({"number": ""}, "number", "合同编号"),
        ({"ends_on": timezone.localdate() - timedelta(days=1)}, "ends_on", "不能早于"),
    ],
)
def test_sign_refuses_bad_input(world, awarded, overrides, field, text):
    with pytest.raises(ValidationError) as exc:
        sign(world, awarded, **overrides)
    assert text in " ".join(exc.value.message_dict[field])
    assert not Contract.objects.exists()
    awarded.lot.refresh_from_db()
    assert awarded.lot.status == Lot.Status.AWARDED


def test_sign_refuses_units_not_adding_up(world, awarded):
    with pytest.raises(ValidationError) as exc:
        sign(world, awarded, milestones=specs(awarded.lot, halves=(250, 200)))
    assert "各节点服务量之和应等于采购数量" in str(exc.value)
    assert not Contract.objects.exists() and not Milestone.objects.exists()


def test_sign_refuses_payments_above_value(world, awarded):
    with pytest.raises(ValidationError) as exc:
        sign(
            world,
            awarded,
            milestones=specs(awarded.lot, pay=(Decimal("20000"), Decimal("16000.01"))),
        )
    assert "不能超过合同金额" in str(exc.value)


def test_sign_refuses_due_date_outside_period(world, awarded):
    spec = specs(awarded.lot, start=timezone.localdate() + timedelta(days=300))
    with pytest.raises(ValidationError) as exc:
        sign(world, awarded, milestones=spec)
    assert "第2个节点：报告日期应在合同期内" in str(exc.value)


def test_sign_refuses_duplicate_number(world, awarded, signed):
    with pytest.raises(ValidationError) as exc:
        sign(world, awarded, number=signed.contract.number)
    assert "合同编号已被使用" in str(exc.value)


def test_sign_refuses_award_in_standstill(world):
    tender = P.tender(world, state="closed")
    lot = tender.lots.get()
    agency = P.agency(world.street)
    bid = P.opened_bid(lot, agency, price=Decimal("36000"))
    award = P.award(lot, bid, official(world), final=False)
    with pytest.raises(InvalidState, match="中标尚未生效"):
        sign(world, SimpleNamespace(award=award, lot=lot))


def test_sign_refuses_second_contract(world, awarded):
    sign(world, awarded)
    with pytest.raises(InvalidState, match="已签订合同"):
        sign(world, awarded, number="OTHER-1")
    assert Contract.objects.count() == 1


@pytest.mark.parametrize("role", [Role.AGENCY_STAFF, Role.AUDITOR, Role.STREET_OFFICIAL])
def test_sign_refuses_other_roles(world, awarded, role):
    with pytest.raises(NotPermitted):
        sign(world, awarded, by=world.users[role])
    assert not Contract.objects.exists()


# --- Delivery records ----------------------------------------------------------------------


def test_delivery_record_saved_with_private_evidence(signed, private_media):
    record = add(signed, units="12.5")
    assert record.units == Decimal("12.50")
    assert record.source == DeliveryRecord.Source.AGENCY
    name = record.evidence.name
    assert name.startswith("evidence/") and name.endswith(".pdf")
    assert "签到表" not in name
    assert (private_media / name).read_bytes() == P.PDF_BYTES


def test_delivery_record_accepts_png_by_content(signed):
    record = add(signed, evidence=evidence("photo.pdf", PNG_BYTES))
    assert record.evidence.name.endswith(".png")


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"units": Decimal("0")}, "units"),
        ({"units": Decimal("-1")}, "units"),
        ({"units": Decimal("1.234")}, "units"),
        ({"delivered_on": timezone.localdate() + timedelta(days=1)}, "delivered_on"),
        ({"delivered_on": timezone.localdate() - timedelta(days=400)}, "delivered_on"),
        ({"description": "  "}, "description"),
        ({"evidence": None}, "evidence"),
        ({"evidence": evidence("a.pdf", b"MZ not a pdf at all")}, "evidence"),
    ],
)
def test_delivery_record_refuses_bad_input(signed, extra, field):
    with pytest.raises(ValidationError) as exc:
        add(signed, **extra)
    assert field in exc.value.message_dict
    assert not DeliveryRecord.objects.exists()


def test_delivery_record_refuses_oversized_evidence(signed, settings):
    settings.UPLOAD_MAX_BYTES = 100
    with pytest.raises(ValidationError) as exc:
        add(signed, evidence=evidence(content=P.PDF_BYTES + b"0" * 200))
    assert "文件过大" in exc.value.message_dict["evidence"][0]


def test_delivery_record_refuses_other_agency_and_civil_affairs(world, signed):
    other = P.agency(world.street)
    for user in (other.staff_user, official(world), signed.agency.worker_users[0]):
        with pytest.raises(NotPermitted):
            add(signed, by=user)
    assert not DeliveryRecord.objects.exists()


def test_delivery_record_refuses_submitted_milestone_and_closed_contract(signed):
    deliver_all(signed, signed.m1)
    milestone_submit(milestone=signed.m1, by=signed.agency.staff_user)
    with pytest.raises(InvalidState):
        add(signed)
    Contract.objects.filter(pk=signed.contract.pk).update(status=Contract.Status.TERMINATED)
    with pytest.raises(InvalidState):
        add(signed, milestone=signed.m2)


# --- Milestones ----------------------------------------------------------------------------


def test_submit_needs_target_met(signed):
    add(signed, units="249")
    with pytest.raises(ValidationError, match="已完成服务量未达到目标"):
        milestone_submit(milestone=signed.m1, by=signed.agency.staff_user)
    signed.m1.refresh_from_db()
    assert signed.m1.status == Milestone.Status.OPEN
    add(signed, units="1")
    done = milestone_submit(milestone=signed.m1, by=signed.agency.staff_user)
    assert done.status == Milestone.Status.SUBMITTED and done.submitted_at


def test_submit_refuses_others(world, signed):
    deliver_all(signed, signed.m1)
    for user in (official(world), P.agency(world.street).staff_user):
        with pytest.raises(NotPermitted):
            milestone_submit(milestone=signed.m1, by=user)


def test_decide_accept_and_reject(world, signed):
    deliver_all(signed, signed.m1)
    milestone_submit(milestone=signed.m1, by=signed.agency.staff_user)
    with pytest.raises(ValidationError) as exc:
        milestone_decide(milestone=signed.m1, by=official(world), accepted=False)
    assert "note" in exc.value.message_dict
    rejected = milestone_decide(
        milestone=signed.m1, by=official(world), accepted=False, note="佐证材料不全"
    )
    assert rejected.status == Milestone.Status.REJECTED
    # A rejected milestone takes more units and may be submitted again.
    add(signed, units="1")
    milestone_submit(milestone=signed.m1, by=signed.agency.staff_user)
    accepted = milestone_decide(milestone=signed.m1, by=official(world), accepted=True)
    assert accepted.status == Milestone.Status.ACCEPTED
    assert accepted.decided_by == official(world)


def test_decide_refuses_open_milestone_and_other_roles(world, signed):
    with pytest.raises(InvalidState):
        milestone_decide(milestone=signed.m1, by=official(world), accepted=True)
    deliver_all(signed, signed.m1)
    milestone_submit(milestone=signed.m1, by=signed.agency.staff_user)
    for role in (Role.AUDITOR, Role.AGENCY_STAFF):
        with pytest.raises(NotPermitted):
            milestone_decide(milestone=signed.m1, by=world.users[role], accepted=True)
    with pytest.raises(NotPermitted):
        milestone_decide(milestone=signed.m1, by=signed.agency.staff_user, accepted=True)


# --- Reviews -------------------------------------------------------------------------------


def test_review_draw_refuses_without_records_and_bad_rates(world, signed):
    with pytest.raises(ValidationError, match="尚无服务记录，无法抽样"):
        review_draw(contract=signed.contract, by=official(world), kind="midterm")
    add(signed)
    for rate in ("0.29", "1.01", "0", "abc"):
        with pytest.raises(ValidationError) as exc:
            review_draw(contract=signed.contract, by=official(world), kind="midterm", rate=rate)
        assert "rate" in exc.value.message_dict
    with pytest.raises(ValidationError):
        review_draw(contract=signed.contract, by=official(world), kind="yearly")
    with pytest.raises(NotPermitted):
        review_draw(contract=signed.contract, by=world.users[Role.AUDITOR], kind="midterm")
    assert not PerformanceReview.objects.exists()


def test_review_one_per_kind(world, signed):
    add(signed)
    review_draw(contract=signed.contract, by=official(world), kind="midterm")
    with pytest.raises(ValidationError, match="已开展过中期评估"):
        review_draw(contract=signed.contract, by=official(world), kind="midterm")
    assert review_draw(contract=signed.contract, by=official(world), kind="final")


def test_review_verify_and_complete(world, signed):
    for _ in range(4):
        add(signed, units="1")
    review = review_draw(contract=signed.contract, by=official(world), kind="midterm")
    samples = list(review.samples.order_by("pk"))
    assert len(samples) == 2  # ceil(0.30 × 4)
    with pytest.raises(ValidationError, match="还有2条抽查记录未核实"):
        review_complete(review=review, by=official(world), score=Decimal("90"), findings="好")
    with pytest.raises(ValidationError) as exc:
        sample_verify(sample=samples[0], by=official(world), result="not_found")
    assert "note" in exc.value.message_dict
    with pytest.raises(ValidationError):
        sample_verify(sample=samples[0], by=official(world), result="pending")
    with pytest.raises(NotPermitted):
        sample_verify(sample=samples[0], by=world.users[Role.AUDITOR], result="confirmed")
    sample_verify(sample=samples[0], by=official(world), result="confirmed")
    sample_verify(sample=samples[1], by=official(world), result="discrepancy", note="少一次")
    for score, findings, field in [
        (Decimal("101"), "好", "score"),
        (Decimal("-1"), "好", "score"),
        (Decimal("80"), " ", "findings"),
    ]:
        with pytest.raises(ValidationError) as exc:
            review_complete(review=review, by=official(world), score=score, findings=findings)
        assert field in exc.value.message_dict
    done = review_complete(
        review=review, by=official(world), score=Decimal("86.5"), findings="服务记录基本属实"
    )
    assert done.status == PerformanceReview.Status.COMPLETED
    with pytest.raises(InvalidState):
        sample_verify(sample=samples[0], by=official(world), result="confirmed")
    signed.contract.refresh_from_db()
    assert signed.contract.status == Contract.Status.ACTIVE  # a mid-term review completes nothing


def _finish(world, signed, milestone):
    deliver_all(signed, milestone)
    milestone_submit(milestone=milestone, by=signed.agency.staff_user)
    milestone_decide(milestone=milestone, by=official(world), accepted=True)


def _final_review(world, signed, score="90"):
    review = review_draw(contract=signed.contract, by=official(world), kind="final", rate="1")
    for sample in review.samples.all():
        sample_verify(sample=sample, by=official(world), result="confirmed")
    return review_complete(
        review=review, by=official(world), score=Decimal(score), findings="完成良好"
    )


def test_contract_completes_after_final_review_and_all_milestones(world, signed):
    _finish(world, signed, signed.m1)
    _final_review(world, signed)
    signed.contract.refresh_from_db()
    assert signed.contract.status == Contract.Status.ACTIVE  # milestone 2 still open
    _finish(world, signed, signed.m2)
    signed.contract.refresh_from_db()
    assert signed.contract.status == Contract.Status.COMPLETED


def test_contract_completes_when_final_review_comes_last(world, signed):
    _finish(world, signed, signed.m1)
    _finish(world, signed, signed.m2)
    signed.contract.refresh_from_db()
    assert signed.contract.status == Contract.Status.ACTIVE
    _final_review(world, signed)
    signed.contract.refresh_from_db()
    assert signed.contract.status == Contract.Status.COMPLETED


# --- Selectors -----------------------------------------------------------------------------


def test_contract_scope(world, signed):
    other = P.agency(world.street)
    assert contract_get_for_user(contract_id=signed.contract.pk, user=official(world))
    assert contract_get_for_user(contract_id=signed.contract.pk, user=world.users[Role.AUDITOR])
    assert contract_get_for_user(contract_id=signed.contract.pk, user=signed.agency.staff_user)
    for user in (
        other.staff_user,
        signed.agency.worker_users[0],
        world.users[Role.STREET_OFFICIAL],
        world.users[Role.VOLUNTEER],
    ):
        assert not contract_list_for_user(user=user).exists()
        with pytest.raises(Http404):
            contract_get_for_user(contract_id=signed.contract.pk, user=user)


def test_milestone_progress_one_query(signed, django_assert_num_queries):
    add(signed, units="100")
    add(signed, units="25.5")
    add(signed, units="300", milestone=signed.m2)
    with django_assert_num_queries(1):
        rows = milestone_progress(contract=signed.contract)
    assert [r.delivered for r in rows] == [Decimal("125.50"), Decimal("300.00")]
    assert [r.percent for r in rows] == [50, 100]
    assert rows[0].remaining == Decimal("124.50") and rows[1].remaining == 0


def test_contract_list_annotates_units(world, signed):
    add(signed, units="100")
    row = contract_list_for_user(user=official(world)).get()
    assert row.units_target == 500 and row.units_delivered == Decimal("100")


def test_track_record(world, signed):
    empty_record = agency_track_record(organisation=signed.agency)
    assert empty_record.contracts == 1 and empty_record.reviews == 0
    assert empty_record.mean_score is None and empty_record.verification_rate is None
    for _ in range(3):
        add(signed, units="1")
    mid = review_draw(contract=signed.contract, by=official(world), kind="midterm", rate="1")
    results = ["confirmed", "confirmed", "not_found"]
    for sample, result in zip(mid.samples.order_by("pk"), results, strict=True):
        sample_verify(sample=sample, by=official(world), result=result, note="核实")
    review_complete(review=mid, by=official(world), score=Decimal("70"), findings="一般")
    final = _final_review(world, signed, score="91")
    record = agency_track_record(organisation=signed.agency)
    assert record.reviews == 2
    assert record.mean_score == Decimal("80.50")
    assert record.latest_score == Decimal("91.00")
    assert record.latest_reviewed_at == final.completed_at
    assert record.samples_checked == 6 and record.samples_confirmed == 5
    assert record.verification_rate == Decimal(5) / Decimal(6)


def test_track_records_many_in_constant_queries(world, signed, django_assert_num_queries):
    others = [P.agency(world.street) for _ in range(3)]
    ids = [signed.agency.pk, *(o.pk for o in others)]
    with django_assert_num_queries(3):
        records = agency_track_records(organisation_ids=ids)
    assert set(records) == set(ids)
    assert records[signed.agency.pk].contracts == 1
    assert records[others[0].pk].contracts == 0
    assert agency_track_records(organisation_ids=[]) == {}


def test_contract_supply_list(world, signed, django_assert_num_queries):
    add(signed, units="40")
    add(signed, units="10", milestone=signed.m2)
    # A second, completed contract is no longer supply.
    tender = P.tender(world, state="closed")
    done = P.contract(world, tender.lots.get(), P.agency(world.street))
    Contract.objects.filter(pk=done.pk).update(status=Contract.Status.COMPLETED)
    with django_assert_num_queries(1):
        rows = contract_supply_list()
    assert len(rows) == 1
    row = rows[0]
    assert row.contract_id == signed.contract.pk
    assert row.agency_id == signed.agency.pk
    assert row.street_id == world.street.pk
    assert row.service_type_id == signed.lot.catalogue_item.service_type_id
    assert row.unit == "visit"
    assert row.units_target == 500
    assert row.units_delivered == Decimal("50")
    assert row.units_remaining == Decimal("450")


def test_supply_splits_by_street(world, awarded):
    spec = specs(awarded.lot)
    spec[1] = MilestoneSpec(
        title="胜利路",
        units_target=250,
        due_on=spec[1].due_on,
        payment=Decimal("0"),
        street=world.street2,
    )
    sign(world, awarded, milestones=spec)
    rows = sorted(contract_supply_list(), key=lambda r: r.street_id)
    assert [(r.street_id, r.units_target) for r in rows] == sorted(
        [(world.street.pk, 250), (world.street2.pk, 250)]
    )


def test_unverified_helper_users_see_nothing(world, signed):
    stranger = f.user("passer")
    assert not contract_list_for_user(user=stranger).exists()
    assert ReviewSample.objects.count() == 0
