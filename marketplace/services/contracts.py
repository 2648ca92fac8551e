"""Writes of the contract stage of the purchase of services: signing a contract with its
milestones after a final award, delivered units entered by the agency with evidence,
milestone acceptance (which makes its payment payable) and the performance reviews
(监督评估) with a sample of delivery records drawn by the system for verification visits.

Each service checks the actor, locks the row it changes, validates and writes in one
transaction; a refusal changes nothing."""

from __future__ import annotations

import math
import random
import secrets
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from marketplace.exceptions import InvalidState, NotPermitted
from marketplace.models import (
    Area,
    Award,
    Contract,
    DeliveryRecord,
    Lot,
    Milestone,
    PerformanceReview,
    ReviewSample,
    Role,
    ServiceType,
    Tender,
    User,
)
from marketplace.selectors.directory import user_scope
from search.public import schedule_reindex

__all__ = [
    "MilestoneSpec",
    "agency_staff_organisation_ids",
    "contract_sign",
    "delivered_units",
    "delivery_record_add",
    "evidence_check",
    "milestone_decide",
    "milestone_submit",
    "review_complete",
    "review_draw",
    "sample_verify",
]

CENT = Decimal("0.01")
MIN_SAMPLE_RATE = Decimal("0.30")
# Milestones that still take delivered units (a submitted or accepted one is frozen).
OPEN_FOR_DELIVERY = (Milestone.Status.OPEN, Milestone.Status.REJECTED)


@dataclass(frozen=True)
class MilestoneSpec:
    """One milestone as entered when signing: units to deliver by a reporting date and the
    payment released on acceptance. Street and service type default to the lot's."""

    title: str
    units_target: int
    due_on: date
    payment: Decimal
    street: Area | None = None
    service_type: ServiceType | None = None


# --- Who may act ---------------------------------------------------------------------------


def _require_civil_affairs(by: User, message: str | None = None) -> None:
    if not user_scope(user=by).has(Role.CIVIL_AFFAIRS_OFFICIAL):
        raise NotPermitted(message or _("只有区民政局工作人员可以执行此操作。"))


def agency_staff_organisation_ids(*, user: User) -> set[int]:
    """Agencies and 社工站 for which the user acts as staff (a social worker alone does not
    report deliveries)."""
    return {
        m.organisation_id
        for m in user_scope(user=user).memberships
        if m.role == Role.AGENCY_STAFF and m.organisation_id
    }


def _require_agency_staff(by: User, contract: Contract) -> None:
    if contract.agency_id not in agency_staff_organisation_ids(user=by):
        raise NotPermitted(_("只有承接合同的机构工作人员可以执行此操作。"))


def _require_active(contract: Contract) -> None:
    if contract.status != Contract.Status.ACTIVE:
        raise InvalidState(_("合同不在履约中，不能执行此操作。"))


# --- Signing -------------------------------------------------------------------------------


def _lot_settled(tender: Tender) -> bool:
    settled = {Lot.Status.CONTRACTED, Lot.Status.FAILED}
    return all(lot.status in settled for lot in tender.lots.all())


@transaction.atomic
def contract_sign(
    *,
    award: Award,
    by: User,
    number: str,
    starts_on: date,
    ends_on: date,
    milestones: list[MilestoneSpec],
) -> Contract:
    """Sign the contract of a final award with its milestones. The units of the milestones
    add up to the lot's quantity and their payments stay within the awarded value; once
    every lot of the tender is contracted or failed the tender is complete."""
    _require_civil_affairs(by, _("只有区民政局工作人员可以签订合同。"))
    award = (
        Award.objects.select_for_update()
        .select_related("lot__tender", "lot__catalogue_item", "lot__street", "bid")
        .get(pk=award.pk)
    )
    if award.status != Award.Status.FINAL:
        raise InvalidState(_("中标尚未生效，不能签订合同。"))
    if Contract.objects.filter(award=award).exists():
        raise InvalidState(_("该中标已签订合同。"))
    lot = award.lot
    number = (number or "").strip()
    errors: dict[str, list[str]] = {}
    if not number:
        errors["number"] = [_("请填写合同编号。")]
    elif Contract.objects.filter(number=number).exists():
        errors["number"] = [_("合同编号已被使用。")]
    if starts_on and ends_on and starts_on > ends_on:
        errors["ends_on"] = [_("服务结束日期不能早于开始日期。")]
    specs = list(milestones or [])
    problems: list[str] = []
    if not specs:
        problems.append(_("至少设置一个履约节点。"))
    else:
        if sum(int(s.units_target or 0) for s in specs) != lot.quantity:
            problems.append(_("各节点服务量之和应等于采购数量（%(n)s）。") % {"n": lot.quantity})
        if sum((Decimal(s.payment or 0) for s in specs), Decimal("0")) > award.value:
            problems.append(
                _("各节点支付金额之和不能超过合同金额（%(v)s元）。") % {"v": award.value}
            )
        for position, spec in enumerate(specs, start=1):
            if not (spec.title or "").strip():
                problems.append(_("第%(n)s个节点：请填写节点名称。") % {"n": position})
            if spec.units_target is None or int(spec.units_target) < 1:
                problems.append(_("第%(n)s个节点：目标服务量至少为1。") % {"n": position})
            if spec.payment is None or Decimal(spec.payment) < 0:
                problems.append(_("第%(n)s个节点：支付金额不能为负数。") % {"n": position})
            if spec.due_on is None or (
                starts_on and ends_on and not (starts_on <= spec.due_on <= ends_on)
            ):
                problems.append(_("第%(n)s个节点：报告日期应在合同期内。") % {"n": position})
            if spec.street is not None and spec.street.level != Area.Level.STREET:
                problems.append(_("第%(n)s个节点：服务地点须为街道。") % {"n": position})
    if problems:
        errors["milestones"] = problems
    if errors:
        raise ValidationError(errors)

    contract = Contract(
        award=award,
        lot=lot,
        agency_id=award.bid.agency_id,
        number=number,
        value=award.value,
        starts_on=starts_on,
        ends_on=ends_on,
        signed_by=by,
        signed_at=timezone.now(),
    )
    contract.full_clean()
    contract.save()
    for position, spec in enumerate(specs, start=1):
        milestone = Milestone(
            contract=contract,
            position=position,
            title=spec.title.strip(),
            service_type=spec.service_type or lot.catalogue_item.service_type,
            street=spec.street or lot.street,
            unit=lot.catalogue_item.unit,
            units_target=int(spec.units_target),
            due_on=spec.due_on,
            payment=Decimal(spec.payment).quantize(CENT),
        )
        milestone.full_clean()
        milestone.save()
    lot = Lot.objects.select_for_update().get(pk=lot.pk)
    lot.status = Lot.Status.CONTRACTED
    lot.save(update_fields=["status"])
    tender = Tender.objects.select_for_update().get(pk=lot.tender_id)
    if tender.status != Tender.Status.COMPLETE and _lot_settled(tender):
        tender.status = Tender.Status.COMPLETE
        tender.save(update_fields=["status"])
        schedule_reindex(doc_type="tender", object_id=tender.pk)
    return contract


# --- Delivery ------------------------------------------------------------------------------


def evidence_check(upload: UploadedFile | None) -> str:
    """Refuse missing, oversized or wrongly typed evidence (judged by content, not by name);
    return the file extension its content calls for."""
    import filetype

    if upload is None:
        raise ValidationError({"evidence": _("请上传佐证材料（PDF、JPG 或 PNG）。")})
    if upload.size > settings.UPLOAD_MAX_BYTES:
        raise ValidationError(
            {
                "evidence": _("文件过大：最大%(max)s MB。")
                % {"max": settings.UPLOAD_MAX_BYTES // (1024 * 1024)}
            }
        )
    head = upload.read(261)
    upload.seek(0)
    kind = filetype.guess(head)
    if kind is None or kind.mime not in settings.UPLOAD_CONTENT_TYPES:
        raise ValidationError({"evidence": _("佐证材料只接受 PDF、JPG 或 PNG 格式。")})
    return kind.extension


def _units(value) -> Decimal:
    try:
        units = Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError({"units": _("请填写有效的服务量。")}) from None
    if not units.is_finite() or units <= 0:
        raise ValidationError({"units": _("服务量应大于0。")})
    if units != units.quantize(CENT):
        raise ValidationError({"units": _("服务量最多保留两位小数。")})
    if units >= Decimal("100000000"):
        raise ValidationError({"units": _("服务量过大。")})
    return units


@transaction.atomic
def delivery_record_add(
    *,
    milestone: Milestone,
    by: User,
    units: Decimal,
    delivered_on: date,
    description: str,
    evidence: UploadedFile | None,
) -> DeliveryRecord:
    """The agency enters units delivered towards an open milestone, with evidence kept in
    private storage under a name that says nothing about its content."""
    milestone = (
        Milestone.objects.select_for_update().select_related("contract").get(pk=milestone.pk)
    )
    contract = milestone.contract
    _require_agency_staff(by, contract)
    _require_active(contract)
    if milestone.status not in OPEN_FOR_DELIVERY:
        raise InvalidState(_("该节点已提交验收或已验收，不能再登记服务量。"))
    amount = _units(units)
    today = timezone.localdate()
    if delivered_on is None:
        raise ValidationError({"delivered_on": _("请填写服务日期。")})
    if delivered_on > today:
        raise ValidationError({"delivered_on": _("服务日期不能晚于今天。")})
    if not (contract.starts_on <= delivered_on <= contract.ends_on):
        raise ValidationError(
            {
                "delivered_on": _("服务日期应在合同期内（%(start)s 至 %(end)s）。")
                % {"start": contract.starts_on, "end": contract.ends_on}
            }
        )
    description = (description or "").strip()
    if not description:
        raise ValidationError({"description": _("请填写服务内容。")})
    extension = evidence_check(evidence)
    record = DeliveryRecord(
        milestone=milestone,
        units=amount,
        delivered_on=delivered_on,
        source=DeliveryRecord.Source.AGENCY,
        description=description,
        entered_by=by,
    )
    record.full_clean(exclude=["evidence"])
    # The stored name is random: a directory listing tells nothing about whom it concerns.
    record.evidence = File(evidence, name=f"{uuid.uuid4().hex}.{extension}")
    record.save()
    return record


def delivered_units(*, milestone: Milestone) -> Decimal:
    """Units delivered towards a milestone so far."""
    total = milestone.deliveries.aggregate(total=Sum("units"))["total"]
    return total or Decimal("0")


# --- Milestones ----------------------------------------------------------------------------


def _lock_milestone(milestone: Milestone) -> Milestone:
    return Milestone.objects.select_for_update().select_related("contract").get(pk=milestone.pk)


@transaction.atomic
def milestone_submit(*, milestone: Milestone, by: User) -> Milestone:
    """The agency asks civil affairs to accept a milestone whose target has been met."""
    milestone = _lock_milestone(milestone)
    _require_agency_staff(by, milestone.contract)
    _require_active(milestone.contract)
    if milestone.status not in OPEN_FOR_DELIVERY:
        raise InvalidState(_("该节点已提交验收或已验收。"))
    done = delivered_units(milestone=milestone)
    if done < milestone.units_target:
        raise ValidationError(
            _("已完成服务量未达到目标（%(done)s / %(target)s）。")
            % {"done": done.normalize(), "target": milestone.units_target}
        )
    milestone.status = Milestone.Status.SUBMITTED
    milestone.submitted_at = timezone.now()
    milestone.save(update_fields=["status", "submitted_at"])
    return milestone


def _contract_maybe_complete(contract: Contract) -> None:
    """A contract is complete once its final review is completed and every milestone has
    been accepted, whichever comes last."""
    if contract.status != Contract.Status.ACTIVE:
        return
    if contract.milestones.exclude(status=Milestone.Status.ACCEPTED).exists():
        return
    if not contract.reviews.filter(
        kind=PerformanceReview.Kind.FINAL, status=PerformanceReview.Status.COMPLETED
    ).exists():
        return
    contract.status = Contract.Status.COMPLETED
    contract.save(update_fields=["status"])


@transaction.atomic
def milestone_decide(
    *, milestone: Milestone, by: User, accepted: bool, note: str = ""
) -> Milestone:
    """Civil affairs accepts a submitted milestone (its payment becomes payable) or sends
    it back with the reason."""
    _require_civil_affairs(by, _("只有区民政局工作人员可以验收履约节点。"))
    milestone = _lock_milestone(milestone)
    if milestone.status != Milestone.Status.SUBMITTED:
        raise InvalidState(_("只有待验收的节点可以验收。"))
    note = (note or "").strip()
    if not accepted and not note:
        raise ValidationError({"note": _("验收不通过时须说明理由。")})
    if len(note) > 300:
        raise ValidationError({"note": _("验收意见不能超过300字。")})
    milestone.status = Milestone.Status.ACCEPTED if accepted else Milestone.Status.REJECTED
    milestone.decided_by = by
    milestone.decided_at = timezone.now()
    milestone.decision_note = note
    milestone.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    if accepted:
        contract = Contract.objects.select_for_update().get(pk=milestone.contract_id)
        _contract_maybe_complete(contract)
    return milestone


# --- Performance reviews -------------------------------------------------------------------


def _rate(value) -> Decimal:
    if value is None:
        value = settings.PROCUREMENT_SAMPLE_RATE
    try:
        rate = Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError({"rate": _("请填写有效的抽样比例。")}) from None
    if not rate.is_finite() or rate < MIN_SAMPLE_RATE or rate > 1:
        raise ValidationError({"rate": _("抽样比例应在30%至100%之间。")})
    if rate != rate.quantize(CENT):
        raise ValidationError({"rate": _("抽样比例最多保留两位小数。")})
    return rate


def sample_size(*, rate: Decimal, population: int) -> int:
    """How many records a sample at `rate` takes: never fewer than the rate (rounded up)."""
    return min(population, math.ceil(rate * population))


def sample_draw(*, seed: str, record_ids: list[int], size: int) -> list[int]:
    """The records a seed draws from a population: the same seed and population always
    give the same sample, so anyone can check that the draw was not chosen by hand."""
    # Reproducible by design: the seed is unpredictable (secrets), the draw from it is not.
    return random.Random(seed).sample(sorted(record_ids), size)  # noqa: S311


@transaction.atomic
def review_draw(
    *, contract: Contract, by: User, kind: str, rate: Decimal | None = None
) -> PerformanceReview:
    """Open a mid-term or final review and draw its random sample (at least 30%) of the
    contract's delivery records for verification visits."""
    _require_civil_affairs(by, _("只有区民政局工作人员可以开展绩效评估。"))
    contract = Contract.objects.select_for_update().get(pk=contract.pk)
    if contract.status not in (Contract.Status.ACTIVE, Contract.Status.COMPLETED):
        raise InvalidState(_("合同已终止，不能开展评估。"))
    if kind not in PerformanceReview.Kind.values:
        raise ValidationError({"kind": _("请选择评估类型。")})
    if contract.reviews.filter(kind=kind).exists():
        raise ValidationError(
            {"kind": _("该合同已开展过%(kind)s。") % {"kind": PerformanceReview.Kind(kind).label}}
        )
    sample_rate = _rate(rate)
    ids = list(
        DeliveryRecord.objects.filter(milestone__contract=contract).values_list("pk", flat=True)
    )
    if not ids:
        raise ValidationError(_("尚无服务记录，无法抽样。"))
    seed = secrets.token_hex(16)
    drawn = sample_draw(
        seed=seed, record_ids=ids, size=sample_size(rate=sample_rate, population=len(ids))
    )
    review = PerformanceReview(
        contract=contract,
        kind=kind,
        sample_rate=sample_rate,
        seed=seed,
        population=len(ids),
        drawn_by=by,
        drawn_at=timezone.now(),
    )
    review.full_clean()
    review.save()
    ReviewSample.objects.bulk_create(
        [ReviewSample(review=review, record_id=record_id) for record_id in drawn]
    )
    return review


def _lock_review(review_id: int) -> PerformanceReview:
    return (
        PerformanceReview.objects.select_for_update().select_related("contract").get(pk=review_id)
    )


@transaction.atomic
def sample_verify(*, sample: ReviewSample, by: User, result: str, note: str = "") -> ReviewSample:
    """Record what a verification visit found for one sampled record; anything other than
    "confirmed" needs a note. May be corrected until the review is completed."""
    _require_civil_affairs(by, _("只有区民政局工作人员可以登记核实结果。"))
    review = _lock_review(sample.review_id)
    if review.status != PerformanceReview.Status.VERIFYING:
        raise InvalidState(_("评估已完成，不能再修改核实结果。"))
    checked = {
        ReviewSample.Result.CONFIRMED,
        ReviewSample.Result.DISCREPANCY,
        ReviewSample.Result.NOT_FOUND,
    }
    if result not in checked:
        raise ValidationError({"result": _("请选择核实结果。")})
    note = (note or "").strip()
    if result != ReviewSample.Result.CONFIRMED and not note:
        raise ValidationError({"note": _("核实结果不符或查无此服务时须填写说明。")})
    if len(note) > 300:
        raise ValidationError({"note": _("核实说明不能超过300字。")})
    sample = ReviewSample.objects.select_for_update().get(pk=sample.pk, review=review)
    sample.result = result
    sample.note = note
    sample.checked_by = by
    sample.checked_at = timezone.now()
    sample.save(update_fields=["result", "note", "checked_by", "checked_at"])
    return sample


@transaction.atomic
def review_complete(
    *, review: PerformanceReview, by: User, score: Decimal, findings: str
) -> PerformanceReview:
    """Close a review once every sampled record is checked, with its score (0–100) and
    findings; the score joins the agency's track record. A completed final review with
    every milestone accepted completes the contract."""
    _require_civil_affairs(by, _("只有区民政局工作人员可以完成绩效评估。"))
    review = _lock_review(review.pk)
    if review.status != PerformanceReview.Status.VERIFYING:
        raise InvalidState(_("该评估已完成。"))
    remaining = review.samples.filter(result=ReviewSample.Result.PENDING).count()
    if remaining:
        raise ValidationError(_("还有%(n)s条抽查记录未核实，不能完成评估。") % {"n": remaining})
    errors = {}
    try:
        value = Decimal(str(score))
    except (InvalidOperation, TypeError, ValueError):
        value = None
    if value is None or not value.is_finite() or not (0 <= value <= 100):
        errors["score"] = _("评估得分应在0至100之间。")
    elif value != value.quantize(CENT):
        errors["score"] = _("评估得分最多保留两位小数。")
    findings = (findings or "").strip()
    if not findings:
        errors["findings"] = _("请填写评估意见。")
    elif len(findings) > 4000:
        errors["findings"] = _("评估意见不能超过4000字。")
    if errors:
        raise ValidationError(errors)
    review.score = value
    review.findings = findings
    review.status = PerformanceReview.Status.COMPLETED
    review.completed_by = by
    review.completed_at = timezone.now()
    review.full_clean()
    review.save(update_fields=["score", "findings", "status", "completed_by", "completed_at"])
    contract = Contract.objects.select_for_update().get(pk=review.contract_id)
    _contract_maybe_complete(contract)
    return review
