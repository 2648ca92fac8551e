"""Writes of the evaluation and award stage of a tender: qualification of opened bids,
evaluators and their conflict-of-interest declarations, score sheets, the award of a lot to
its top-ranked bid (or its failure), the standstill with its complaints, and the award
becoming final. The ranking itself is computed by `marketplace.selectors.evaluation`; an award
stores a snapshot of the ranking it was made on."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from marketplace.exceptions import InvalidState, NotPermitted
from marketplace.models import (
    Award,
    Bid,
    Complaint,
    Criterion,
    EvaluatorAssignment,
    Lot,
    Membership,
    Organisation,
    Role,
    Score,
    Tender,
    User,
)
from marketplace.selectors.directory import user_scope
from marketplace.selectors.evaluation import LotRanking, lot_ranking

__all__ = [
    "award_decide",
    "award_finalise",
    "award_finalise_due",
    "bid_qualify",
    "complaint_answer",
    "complaint_lodge",
    "evaluator_assign",
    "evaluator_declare",
    "lot_fail",
    "ranking_snapshot",
    "score_sheet_save",
]

HUNDRED = Decimal("100")
REASON_MAX = 300
BIDDER_KINDS = {Organisation.Kind.AGENCY, Organisation.Kind.SOCIAL_WORK_STATION}


def _require_civil_affairs(by: User) -> None:
    if not user_scope(user=by).has(Role.CIVIL_AFFAIRS_OFFICIAL):
        raise NotPermitted(_("只有民政干部可以进行此项操作。"))


def _required_text(value: str, *, field: str, message: str, max_length: int) -> str:
    text = (value or "").strip()
    if not text:
        raise ValidationError({field: message})
    if len(text) > max_length:
        raise ValidationError({field: _("内容过长：最多%(max)s个字。") % {"max": max_length}})
    return text


# --- Qualification ----------------------------------------------------------------------


@transaction.atomic
def bid_qualify(*, bid: Bid, by: User, passed: bool, reason: str) -> Bid:
    """Record the qualification check of an opened bid (pass, or fail with a reason). It may
    be changed until the lot is awarded; a failed bid is left out of the ranking."""
    _require_civil_affairs(by)
    # The lot first, as the award does, so a result cannot change under a ranking being used.
    Lot.objects.select_for_update().filter(pk=bid.lot_id).first()
    bid = Bid.objects.select_for_update().select_related("lot__tender").get(pk=bid.pk)
    if bid.lot.tender.status != Tender.Status.OPENED:
        raise InvalidState(_("开标后才能进行资格审查。"))
    if bid.status != Bid.Status.SUBMITTED:
        raise InvalidState(_("该投标已撤回，不能进行资格审查。"))
    if bid.lot.status != Lot.Status.OPEN:
        raise InvalidState(_("该标段已定标或流标，资格审查结论不能再更改。"))
    reason = (reason or "").strip()
    if not passed and not reason:
        raise ValidationError({"reason": _("请填写不通过的理由")})
    if len(reason) > REASON_MAX:
        raise ValidationError({"reason": _("内容过长：最多%(max)s个字。") % {"max": REASON_MAX}})
    bid.qualification = Bid.Qualification.PASSED if passed else Bid.Qualification.FAILED
    bid.qualification_reason = reason
    bid.qualified_by = by
    bid.qualified_at = timezone.now()
    bid.save(
        update_fields=["qualification", "qualification_reason", "qualified_by", "qualified_at"]
    )
    return bid


# --- Evaluators -------------------------------------------------------------------------


@transaction.atomic
def evaluator_assign(*, tender: Tender, by: User, evaluator: User) -> EvaluatorAssignment:
    """Put an expert of the evaluator pool on a tender's evaluation panel, before any lot of
    it is awarded. They see nothing of the bids until the tender is opened and they have
    declared no conflict of interest."""
    _require_civil_affairs(by)
    tender = Tender.objects.select_for_update().get(pk=tender.pk)
    if tender.status not in {Tender.Status.PUBLISHED, Tender.Status.OPENED}:
        raise InvalidState(_("只能为公告中或已开标的项目指派评审专家。"))
    if Award.objects.filter(lot__tender=tender).exclude(status=Award.Status.CANCELLED).exists():
        raise InvalidState(_("本项目已有标段定标，不能再指派评审专家。"))
    if not Membership.objects.filter(user=evaluator, role=Role.EVALUATOR).exists():
        raise ValidationError({"evaluator": _("该用户不是评审专家")})
    if EvaluatorAssignment.objects.filter(tender=tender, evaluator=evaluator).exists():
        raise ValidationError({"evaluator": _("该专家已被指派评审本项目。")})
    assignment = EvaluatorAssignment(tender=tender, evaluator=evaluator, assigned_by=by)
    assignment.full_clean()
    assignment.save()
    return assignment


@transaction.atomic
def evaluator_declare(
    *, assignment: EvaluatorAssignment, by: User, conflict: bool, note: str = ""
) -> EvaluatorAssignment:
    """The evaluator's own declaration, once, after opening: no conflict (they may then see
    and score the qualified bids) or a conflict with a bidder (they are recused and never see
    bid content). The declaration is final."""
    assignment = (
        EvaluatorAssignment.objects.select_for_update()
        .select_related("tender")
        .get(pk=assignment.pk)
    )
    if assignment.evaluator_id != by.pk:
        raise NotPermitted(_("只能由被指派的评审专家本人声明。"))
    if assignment.tender.status != Tender.Status.OPENED:
        raise InvalidState(_("开标后才能声明"))
    if assignment.declaration != EvaluatorAssignment.Declaration.PENDING:
        raise InvalidState(_("您已作出利益冲突声明，声明不能更改。"))
    note = (note or "").strip()
    if conflict and not note:
        raise ValidationError({"note": _("请说明与投标机构存在的利益关系。")})
    if len(note) > REASON_MAX:
        raise ValidationError({"note": _("内容过长：最多%(max)s个字。") % {"max": REASON_MAX}})
    assignment.declaration = (
        EvaluatorAssignment.Declaration.CONFLICT
        if conflict
        else EvaluatorAssignment.Declaration.NO_CONFLICT
    )
    assignment.declaration_note = note
    assignment.declared_at = timezone.now()
    assignment.save(update_fields=["declaration", "declaration_note", "declared_at"])
    return assignment


# --- Scores -----------------------------------------------------------------------------


def _score_value(raw, *, field: str) -> Decimal:
    try:
        value = raw if isinstance(raw, Decimal) else Decimal(str(raw))
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise ValidationError({field: _("分值应在0到100之间")}) from exc
    if not value.is_finite() or value < 0 or value > HUNDRED:
        raise ValidationError({field: _("分值应在0到100之间")})
    if value != value.quantize(Decimal("0.01")):
        raise ValidationError({field: _("分值最多保留两位小数。")})
    return value.quantize(Decimal("0.01"))


@transaction.atomic
def score_sheet_save(
    *,
    assignment: EvaluatorAssignment,
    by: User,
    bid: Bid,
    scores: dict[int, Decimal],
    comments: dict[int, str] | None = None,
) -> list[Score]:
    """Save one evaluator's scores of one qualified bid on every non-price criterion of the
    tender (the price is scored by formula). All or nothing; saving again replaces them
    until the lot is awarded. Errors name the field `score_<criterion id>`."""
    assignment = (
        EvaluatorAssignment.objects.select_for_update()
        .select_related("tender")
        .get(pk=assignment.pk)
    )
    if assignment.evaluator_id != by.pk:
        raise NotPermitted(_("只能由被指派的评审专家本人评分。"))
    if assignment.declaration != EvaluatorAssignment.Declaration.NO_CONFLICT:
        raise NotPermitted(_("声明无利益冲突后才能评分。"))
    tender = assignment.tender
    if tender.status != Tender.Status.OPENED:
        raise InvalidState(_("项目不在评审阶段，不能评分。"))
    bid = Bid.objects.select_related("lot", "agency").get(pk=bid.pk)
    # Scores of a lot are saved one sheet at a time and never while it is being awarded.
    bid.lot = Lot.objects.select_for_update().get(pk=bid.lot_id)
    if bid.lot.tender_id != tender.pk:
        raise NotPermitted(_("该投标不属于您评审的项目。"))
    if bid.lot.status != Lot.Status.OPEN:
        raise InvalidState(_("该标段已定标或流标，评分不能再更改。"))
    if bid.status != Bid.Status.SUBMITTED or bid.qualification != Bid.Qualification.PASSED:
        raise InvalidState(_("只能对通过资格审查的投标评分。"))

    criteria = list(tender.criteria.exclude(kind=Criterion.Kind.PRICE).order_by("position", "pk"))
    known = {c.pk for c in criteria}
    comments = comments or {}
    unknown = [key for key in [*scores, *comments] if key not in known]
    if unknown:
        raise ValidationError({"scores": _("评分项不属于本项目，或是按公式计算的价格分。")})
    missing = [c.name for c in criteria if scores.get(c.pk) in (None, "")]
    if missing:
        raise ValidationError(
            {"scores": _("请为每个评分项打分，缺少：%(names)s。") % {"names": "、".join(missing)}}
        )
    values = {c.pk: _score_value(scores[c.pk], field=f"score_{c.pk}") for c in criteria}
    texts = {}
    for c in criteria:
        text = (comments.get(c.pk) or "").strip()
        if len(text) > REASON_MAX:
            raise ValidationError(
                {f"comment_{c.pk}": _("内容过长：最多%(max)s个字。") % {"max": REASON_MAX}}
            )
        texts[c.pk] = text

    existing = {s.criterion_id: s for s in Score.objects.filter(assignment=assignment, bid=bid)}
    saved = []
    for c in criteria:
        score = existing.get(c.pk) or Score(assignment=assignment, bid=bid, criterion=c)
        score.score = values[c.pk]
        score.comment = texts[c.pk]
        score.full_clean(exclude=["assignment", "bid", "criterion"], validate_constraints=False)
        score.save()
        saved.append(score)
    return saved


# --- Award ------------------------------------------------------------------------------


def ranking_snapshot(ranking: LotRanking) -> list[dict]:
    """The ranking as JSON, kept on the award so the decision can be read as it was made."""
    return [
        {
            "bid": row.bid.pk,
            "agency_id": row.bid.agency_id,
            "agency": row.bid.agency.name,
            "price": str(row.price),
            "price_score": str(row.price_score),
            "criteria": [
                {
                    "criterion": cs.criterion.pk,
                    "name": cs.criterion.name,
                    "kind": cs.criterion.kind,
                    "weight": cs.criterion.weight,
                    "mean": None if cs.mean is None else str(cs.mean),
                    "weighted": str(cs.weighted),
                }
                for cs in row.criteria
            ],
            "total": str(row.total),
            "rank": row.rank,
        }
        for row in ranking.rows
    ]


def _lock_open_lot(lot: Lot) -> Lot:
    lot = Lot.objects.select_for_update().select_related("tender").get(pk=lot.pk)
    if lot.tender.status != Tender.Status.OPENED:
        raise InvalidState(_("项目尚未开标或已结束。"))
    if lot.status != Lot.Status.OPEN:
        raise InvalidState(_("该标段已定标或流标。"))
    return lot


@transaction.atomic
def award_decide(*, lot: Lot, by: User) -> Award:
    """Award a lot to the top-ranked qualified bid once its evaluation is complete. The
    standstill starts now; bidders on the lot may complain until it ends."""
    _require_civil_affairs(by)
    lot = _lock_open_lot(lot)
    ranking = lot_ranking(lot=lot)
    pending = lot.bids.filter(
        status=Bid.Status.SUBMITTED, qualification=Bid.Qualification.PENDING
    ).exists()
    if not ranking.rows and not pending:
        raise InvalidState(_("没有通过资格审查的投标，请作流标处理"))
    if not ranking.complete:
        raise InvalidState(_("评审尚未完成：%(missing)s") % {"missing": "；".join(ranking.missing)})
    top = ranking.rows[0]
    now = timezone.now()
    award = Award(
        lot=lot,
        bid=top.bid,
        value=top.price,
        ranking=ranking_snapshot(ranking),
        status=Award.Status.STANDSTILL,
        decided_by=by,
        decided_at=now,
        standstill_ends_at=now + timedelta(days=lot.tender.standstill_days),
    )
    award.full_clean()
    award.save()
    lot.status = Lot.Status.AWARDED
    lot.save(update_fields=["status"])
    return award


@transaction.atomic
def lot_fail(*, lot: Lot, by: User, reason: str) -> Lot:
    """Declare a lot failed (流标), e.g. when no bid passed qualification."""
    _require_civil_affairs(by)
    reason = _required_text(
        reason, field="reason", message=_("请填写流标原因。"), max_length=REASON_MAX
    )
    lot = _lock_open_lot(lot)
    lot.status = Lot.Status.FAILED
    lot.failed_reason = reason
    lot.save(update_fields=["status", "failed_reason"])
    return lot


# --- Standstill and complaints ----------------------------------------------------------


@transaction.atomic
def complaint_lodge(
    *, award: Award, by: User, organisation: Organisation, grounds: str
) -> Complaint:
    """A losing bidder on the lot disputes the award during the standstill (质疑)."""
    scope = user_scope(user=by)
    if not any(
        m.role == Role.AGENCY_STAFF and m.organisation_id == organisation.pk
        for m in scope.memberships
    ):
        raise NotPermitted(_("只能以本机构的名义提出质疑。"))
    if not organisation.verified or organisation.kind not in BIDDER_KINDS:
        raise NotPermitted(_("只有通过认证的社工机构可以提出质疑。"))
    award = Award.objects.select_for_update().select_related("bid").get(pk=award.pk)
    if award.status != Award.Status.STANDSTILL or timezone.now() >= award.standstill_ends_at:
        raise InvalidState(_("质疑期已过"))
    if not Bid.objects.filter(
        lot_id=award.lot_id, agency=organisation, status=Bid.Status.SUBMITTED
    ).exists():
        raise NotPermitted(_("只有该标段的投标人可以提出质疑。"))
    if award.bid.agency_id == organisation.pk:
        raise NotPermitted(_("中标机构不能对本次定标提出质疑。"))
    grounds = _required_text(
        grounds, field="grounds", message=_("请填写质疑事项与理由。"), max_length=4000
    )
    if Complaint.objects.filter(
        award=award, organisation=organisation, status=Complaint.Status.OPEN
    ).exists():
        raise InvalidState(_("本机构对该定标已有待答复的质疑，请等待答复。"))
    complaint = Complaint(award=award, organisation=organisation, lodged_by=by, grounds=grounds)
    complaint.full_clean()
    complaint.save()
    return complaint


@transaction.atomic
def complaint_answer(*, complaint: Complaint, by: User, upheld: bool, response: str) -> Complaint:
    """Answer a complaint. Upheld: the award is cancelled and the lot is open again, so
    qualification and scores may be revised and a new award made. Dismissed: the award
    stands."""
    _require_civil_affairs(by)
    response = _required_text(
        response, field="response", message=_("请填写答复意见。"), max_length=4000
    )
    complaint = Complaint.objects.select_for_update().get(pk=complaint.pk)
    if complaint.status != Complaint.Status.OPEN:
        raise InvalidState(_("该质疑已答复。"))
    complaint.status = Complaint.Status.UPHELD if upheld else Complaint.Status.DISMISSED
    complaint.response = response
    complaint.answered_by = by
    complaint.answered_at = timezone.now()
    complaint.save(update_fields=["status", "response", "answered_by", "answered_at"])
    if upheld:
        award = Award.objects.select_for_update().get(pk=complaint.award_id)
        if award.status == Award.Status.STANDSTILL:
            award.status = Award.Status.CANCELLED
            award.cancelled_reason = (_("质疑成立：") + response)[:REASON_MAX]
            award.save(update_fields=["status", "cancelled_reason"])
            lot = Lot.objects.select_for_update().get(pk=award.lot_id)
            lot.status = Lot.Status.OPEN
            lot.save(update_fields=["status"])
    return complaint


@transaction.atomic
def award_finalise(*, award: Award) -> Award:
    """The award takes effect once the standstill is over with no complaint waiting."""
    award = Award.objects.select_for_update().get(pk=award.pk)
    if award.status != Award.Status.STANDSTILL:
        raise InvalidState(_("只有公示/质疑期中的定标可以生效。"))
    if timezone.now() < award.standstill_ends_at:
        raise InvalidState(_("质疑期尚未结束。"))
    if award.complaints.filter(status=Complaint.Status.OPEN).exists():
        raise InvalidState(_("尚有质疑未答复，定标不能生效。"))
    award.status = Award.Status.FINAL
    award.save(update_fields=["status"])
    return award


def award_finalise_due() -> int:
    """Finalise every award whose standstill is over with no open complaint (run by beat);
    each in its own transaction, so one refusal never holds back the others."""
    due = (
        Award.objects.filter(status=Award.Status.STANDSTILL, standstill_ends_at__lte=timezone.now())
        .exclude(complaints__status=Complaint.Status.OPEN)
        .values_list("pk", flat=True)
    )
    done = 0
    for pk in list(due):
        try:
            award_finalise(award=Award(pk=pk))
        except InvalidState:
            continue
        done += 1
    return done
