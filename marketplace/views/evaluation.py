"""Evaluation and award pages. Civil affairs: one tender's evaluation (qualification,
evaluators, ranking with its breakdown, red flags, award or failure of each lot, awards with
their standstill and complaints) and the ranking as Excel; auditors read the same page
without forms. Evaluators: their assignments, the declaration and score sheets. Agencies:
complaints about awards of lots they bid on."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from marketplace.exceptions import DomainError
from marketplace.exports import xlsx_response
from marketplace.forms.evaluation import (
    AwardForm,
    ComplaintAnswerForm,
    ComplaintForm,
    DeclarationForm,
    EvaluatorAssignForm,
    LotFailForm,
    QualifyForm,
    ScoreSheetForm,
)
from marketplace.models import Award, Bid, EvaluatorAssignment, Lot, Role, Tender
from marketplace.selectors.contracts import agency_track_record
from marketplace.selectors.directory import user_scope
from marketplace.selectors.evaluation import (
    LotRanking,
    assignment_get_for_user,
    assignment_list_for_user,
    assignment_lots,
    award_get_for_bidder,
    award_list_for_bidder,
    award_list_for_tender,
    bidding_agency_names,
    complaint_get_for_user,
    complaint_list_for_user,
    complaint_organisations,
    evaluation_lots,
    evaluation_progress,
    evaluation_tender_get_for_user,
    evaluator_choices,
    lot_ranking_get_for_user,
    score_sheet_get,
    tender_opened,
    tender_rankings,
    tender_red_flags,
)
from marketplace.services.evaluation import (
    award_decide,
    bid_qualify,
    complaint_answer,
    complaint_lodge,
    evaluator_assign,
    evaluator_declare,
    lot_fail,
    score_sheet_save,
)
from marketplace.web import form_refusal, page_of, require_role

READER_ROLES = (Role.CIVIL_AFFAIRS_OFFICIAL, Role.AUDITOR)
MANAGER_ROLES = (Role.CIVIL_AFFAIRS_OFFICIAL,)
REFUSALS = (DomainError, DjangoValidationError)


# --- Civil affairs: one tender's evaluation ---------------------------------------------


@dataclass
class BidPanel:
    bid: Bid
    qualify_form: QualifyForm | None


@dataclass
class LotPanel:
    lot: Lot
    bids: list[BidPanel]
    ranking: LotRanking
    award_form: AwardForm | None
    fail_form: LotFailForm | None


def _evaluation_url(tender_id: int, anchor: str = "") -> str:
    url = reverse("procurement:tender-evaluation", args=[tender_id])
    return f"{url}#{anchor}" if anchor else url


def _evaluation_page(request, tender: Tender, *, status: int = 200, bound=None):
    """The page, with a bound form in place of the empty one it replaces when a POST was
    refused (`bound` maps (kind, id) to that form)."""
    bound = bound or {}
    manage = user_scope(user=request.user).has(Role.CIVIL_AFFAIRS_OFFICIAL)
    opened = tender_opened(tender)
    deciding = manage and tender.status == Tender.Status.OPENED and opened
    lots = evaluation_lots(tender=tender)
    rankings = tender_rankings(tender=tender, lots=lots)
    panels = []
    for lot in lots:
        lot_open = deciding and lot.status == Lot.Status.OPEN
        bids = []
        for bid in lot.live_bids:
            form = bound.get(("qualify", bid.pk))
            if form is None and lot_open:
                form = QualifyForm(
                    auto_id=f"q{bid.pk}_%s",
                    initial={
                        "result": bid.qualification if bid.qualification != "pending" else None,
                        "reason": bid.qualification_reason,
                    },
                )
            bids.append(BidPanel(bid=bid, qualify_form=form))
        panels.append(
            LotPanel(
                lot=lot,
                bids=bids,
                ranking=rankings[lot.pk],
                award_form=bound.get(("award", lot.pk)) or (AwardForm() if lot_open else None),
                fail_form=bound.get(("fail", lot.pk))
                or (LotFailForm(auto_id=f"f{lot.pk}_%s") if lot_open else None),
            )
        )
    assignable = manage and tender.status in {Tender.Status.PUBLISHED, Tender.Status.OPENED}
    awards = award_list_for_tender(tender=tender)
    now = timezone.now()
    for award in awards:
        award.standstill_open = (
            award.status == Award.Status.STANDSTILL and now < award.standstill_ends_at
        )
        award.days_left = max((award.standstill_ends_at - now).days, 0)
        for complaint in award.complaints.all():
            complaint.answer_form = bound.get(("answer", complaint.pk)) or (
                ComplaintAnswerForm(auto_id=f"c{complaint.pk}_%s")
                if manage and complaint.status == "open"
                else None
            )
    chart = {
        str(p.lot.pk): {
            "names": [row.bid.agency.name for row in p.ranking.rows],
            "totals": [str(row.total) for row in p.ranking.rows],
        }
        for p in panels
        if p.ranking.rows
    }
    context = {
        "tender": tender,
        "opened": opened,
        "manage": manage,
        "panels": panels,
        "progress": evaluation_progress(tender=tender),
        "assign_form": bound.get(("assign", tender.pk))
        or (
            EvaluatorAssignForm(evaluators=evaluator_choices(tender=tender)) if assignable else None
        ),
        "red_flags": tender_red_flags(tender=tender),
        "awards": awards,
        "chart": chart,
    }
    return render(request, "marketplace/procurement/eval_tender.html", context, status=status)


@login_required
@require_safe
def tender_evaluation_view(request, pk: int):
    """Civil affairs' evaluation page of one tender; auditors read it after opening."""
    require_role(request, READER_ROLES)
    tender = evaluation_tender_get_for_user(tender_id=pk, user=request.user)
    return _evaluation_page(request, tender)


def _manage_post(request, tender, key, form, call, *, success: str, anchor: str):
    """Validate the form, call the service, redirect with a message; or the page again
    with the refused form and 400/403."""
    status = 400
    if form.is_valid():
        try:
            call(form)
        except REFUSALS as exc:
            status = form_refusal(form, exc)
        else:
            messages.success(request, success)
            return redirect(_evaluation_url(tender.pk, anchor))
    return _evaluation_page(request, tender, status=status, bound={key: form})


def _bid_for_manager(request, pk: int) -> Bid:
    require_role(request, MANAGER_ROLES)
    bid = Bid.objects.select_related("lot__tender", "agency").filter(pk=pk).first()
    if bid is None:
        raise Http404
    evaluation_tender_get_for_user(tender_id=bid.lot.tender_id, user=request.user)
    if not tender_opened(bid.lot.tender):
        raise Http404  # a bid before opening does not exist for anyone here
    return bid


@login_required
@require_POST
def bid_qualify_view(request, pk: int):
    """Record a bid's qualification result."""
    bid = _bid_for_manager(request, pk)
    form = QualifyForm(request.POST, auto_id=f"q{bid.pk}_%s")
    return _manage_post(
        request,
        bid.lot.tender,
        ("qualify", bid.pk),
        form,
        lambda f: bid_qualify(bid=bid, by=request.user, **f.service_arguments()),
        success=_("已记录%(agency)s的资格审查结论。") % {"agency": bid.agency.name},
        anchor=f"lot-{bid.lot_id}",
    )


@login_required
@require_POST
def evaluator_assign_view(request, pk: int):
    """Put an expert on the tender's evaluation panel."""
    require_role(request, MANAGER_ROLES)
    tender = evaluation_tender_get_for_user(tender_id=pk, user=request.user)
    form = EvaluatorAssignForm(request.POST, evaluators=evaluator_choices(tender=tender))
    return _manage_post(
        request,
        tender,
        ("assign", tender.pk),
        form,
        lambda f: evaluator_assign(
            tender=tender, by=request.user, evaluator=f.cleaned_data["evaluator"]
        ),
        success=_("已指派评审专家。"),
        anchor="evaluators",
    )


def _lot_for_manager(request, pk: int) -> Lot:
    require_role(request, MANAGER_ROLES)
    lot = Lot.objects.select_related("tender").filter(pk=pk).first()
    if lot is None:
        raise Http404
    evaluation_tender_get_for_user(tender_id=lot.tender_id, user=request.user)
    return lot


@login_required
@require_POST
def lot_award_view(request, pk: int):
    """Award the lot to its top-ranked bid; the standstill starts."""
    lot = _lot_for_manager(request, pk)
    form = AwardForm(request.POST)
    return _manage_post(
        request,
        lot.tender,
        ("award", lot.pk),
        form,
        lambda f: award_decide(lot=lot, by=request.user),
        success=_("%(lot)s已定标，进入公示/质疑期。") % {"lot": lot},
        anchor="awards",
    )


@login_required
@require_POST
def lot_fail_view(request, pk: int):
    """Declare the lot failed (流标)."""
    lot = _lot_for_manager(request, pk)
    form = LotFailForm(request.POST, auto_id=f"f{lot.pk}_%s")
    return _manage_post(
        request,
        lot.tender,
        ("fail", lot.pk),
        form,
        lambda f: lot_fail(lot=lot, by=request.user, reason=f.cleaned_data["reason"]),
        success=_("%(lot)s已作流标处理。") % {"lot": lot},
        anchor=f"lot-{lot.pk}",
    )


@login_required
@require_POST
def complaint_answer_view(request, pk: int):
    """Answer a complaint: uphold (the award is cancelled) or dismiss."""
    require_role(request, MANAGER_ROLES)
    complaint = complaint_get_for_user(complaint_id=pk, user=request.user)
    tender = complaint.award.lot.tender
    form = ComplaintAnswerForm(request.POST, auto_id=f"c{complaint.pk}_%s")
    return _manage_post(
        request,
        tender,
        ("answer", complaint.pk),
        form,
        lambda f: complaint_answer(complaint=complaint, by=request.user, **f.service_arguments()),
        success=_("已答复质疑。"),
        anchor="awards",
    )


@login_required
@require_safe
def lot_ranking_export_view(request, pk: int):
    """A lot's ranking with its score breakdown, as Excel, for comparing the bids."""
    require_role(request, READER_ROLES)
    ranking = lot_ranking_get_for_user(lot_id=pk, user=request.user)
    headers = [_("排名"), _("投标机构"), _("投标报价（元）"), _("价格分")]
    for c in ranking.criteria:
        headers += [
            _("%(name)s平均分") % {"name": c.name},
            _("%(name)s加权得分（权重%(w)s%%）") % {"name": c.name, "w": c.weight},
        ]
    headers.append(_("综合得分"))
    rows = []
    for row in ranking.rows:
        line = [row.rank, row.bid.agency.name, row.price, row.price_score]
        for part in row.criteria:
            line += [part.mean, part.weighted]
        line.append(row.total)
        rows.append(line)
    lot = ranking.lot
    return xlsx_response(
        filename=f"ranking-{lot.tender.reference}-{lot.number}",
        title=_("评审排名"),
        headers=headers,
        rows=rows,
    )


# --- Evaluators -------------------------------------------------------------------------


@login_required
@require_safe
def assignment_list_view(request):
    """我的评审: the evaluator's assignments on opened tenders."""
    require_role(request, (Role.EVALUATOR,))
    page, query = page_of(request, assignment_list_for_user(user=request.user))
    return render(
        request, "marketplace/procurement/eval_assignment_list.html", {"page": page, "query": query}
    )


def _assignment_page(request, assignment, *, form=None, status=200):
    pending = assignment.declaration == EvaluatorAssignment.Declaration.PENDING
    context = {
        "assignment": assignment,
        "tender": assignment.tender,
        "agencies": bidding_agency_names(tender=assignment.tender) if pending else [],
        "form": form or (DeclarationForm() if pending else None),
        "lots": assignment_lots(assignment=assignment),
    }
    return render(
        request, "marketplace/procurement/eval_assignment_detail.html", context, status=status
    )


@login_required
def assignment_detail_view(request, pk: int):
    """One assignment: the declaration until made; then the lots and qualified bids to
    score (none for a recused evaluator)."""
    require_role(request, (Role.EVALUATOR,))
    assignment = assignment_get_for_user(assignment_id=pk, user=request.user)
    if request.method != "POST":
        return _assignment_page(request, assignment)
    form = DeclarationForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            evaluator_declare(assignment=assignment, by=request.user, **form.service_arguments())
        except REFUSALS as exc:
            status = form_refusal(form, exc)
        else:
            messages.success(request, _("已提交利益冲突声明。"))
            return redirect("procurement:assignment-detail", pk=assignment.pk)
    return _assignment_page(request, assignment, form=form, status=status)


@login_required
def score_sheet_view(request, pk: int, bid_pk: int):
    """An evaluator's score sheet for one qualified bid."""
    require_role(request, (Role.EVALUATOR,))
    assignment = assignment_get_for_user(assignment_id=pk, user=request.user)
    bid, criteria, mine = score_sheet_get(assignment=assignment, bid_id=bid_pk)
    editable = bid.lot.status == Lot.Status.OPEN
    status = 200
    if request.method == "POST":
        form = ScoreSheetForm(request.POST, criteria=criteria, existing=mine)
        status = 400
        if form.is_valid():
            try:
                score_sheet_save(
                    assignment=assignment, by=request.user, bid=bid, **form.service_arguments()
                )
            except REFUSALS as exc:
                status = form_refusal(form, exc)
            else:
                messages.success(
                    request, _("已保存对%(agency)s的评分。") % {"agency": bid.agency.name}
                )
                return redirect("procurement:assignment-detail", pk=assignment.pk)
    else:
        form = ScoreSheetForm(criteria=criteria, existing=mine)
    context = {
        "assignment": assignment,
        "bid": bid,
        "form": form,
        "editable": editable,
        "scored": bool(mine),
        # The past-performance criterion is scored against the agency's track record.
        "track": agency_track_record(organisation=bid.agency),
    }
    return render(request, "marketplace/procurement/eval_score_sheet.html", context, status=status)


# --- Agencies: complaints ---------------------------------------------------------------


@login_required
def complaint_create_view(request, pk: int):
    """A complaint about an award of a lot the agency bid on, during the standstill."""
    require_role(request, (Role.AGENCY_STAFF,))
    award = award_get_for_bidder(award_id=pk, user=request.user)
    organisations = complaint_organisations(award=award, user=request.user)
    context = {"award": award, "organisation": organisations[0] if organisations else None}
    if request.method != "POST":
        context["form"] = ComplaintForm()
        return render(request, "marketplace/procurement/complaint_form.html", context)
    form = ComplaintForm(request.POST)
    context["form"] = form
    status = 400
    if form.is_valid():
        if not organisations:
            form.add_error(None, _("中标机构不能对本次定标提出质疑。"))
            status = 403
        else:
            try:
                complaint_lodge(
                    award=award,
                    by=request.user,
                    organisation=organisations[0],
                    grounds=form.cleaned_data["grounds"],
                )
            except REFUSALS as exc:
                status = form_refusal(form, exc)
            else:
                messages.success(request, _("质疑已提交，民政局将予以答复。"))
                return redirect("procurement:complaint-list-mine")
    return render(request, "marketplace/procurement/complaint_form.html", context, status=status)


@login_required
@require_safe
def complaint_list_mine_view(request):
    """The agency's complaints, and the awards of lots it bid on that are in standstill."""
    require_role(request, (Role.AGENCY_STAFF,))
    now = timezone.now()
    awards = list(
        award_list_for_bidder(user=request.user).filter(
            status=Award.Status.STANDSTILL, standstill_ends_at__gt=now
        )
    )
    page, query = page_of(request, complaint_list_for_user(user=request.user))
    return render(
        request,
        "marketplace/procurement/complaint_list.html",
        {"awards": awards, "page": page, "query": query},
    )
