"""Tender and bid pages. Civil affairs: the tender list and its export, drafting a tender
(lots, criteria), publishing, answering questions, cancelling and the opening, then the
opened bids. Agency staff: tenders open for bids, one tender with its lots and answered
questions, their sealed bids (submit, revise, withdraw), their bid list and plan downloads.

No page shows a bid's content, or how many bids there are, before the close to anyone but
the bidding agency: the selectors give nobody else the rows."""

from __future__ import annotations

from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from marketplace.exceptions import DomainError, NotPermitted
from marketplace.exports import xlsx_response
from marketplace.forms.tenders import (
    AnswerForm,
    BidForm,
    CancelForm,
    CriterionForm,
    LotForm,
    QuestionForm,
    TenderFilter,
    TenderForm,
)
from marketplace.models import Criterion, Lot, Role, TenderQuestion, User
from marketplace.models.procurement import Tender
from marketplace.selectors.directory import user_scope
from marketplace.selectors.tenders import (
    agency_list_for_bidder,
    agency_may_bid,
    bid_get_for_user,
    bid_list_for_tender,
    bid_list_of_my_agencies,
    bid_plan_read,
    bid_sealed_content,
    bids_of_agencies_by_lot,
    criterion_weight_total,
    lot_get_for_user,
    question_list_answered,
    question_list_for_tender,
    tender_get_for_user,
    tender_list_for_user,
    tender_list_open_for_bids,
    user_is_agency_staff,
)
from marketplace.services.tenders import (
    bid_revise,
    bid_submit,
    bid_withdraw,
    criterion_add,
    criterion_remove,
    lot_add,
    lot_remove,
    question_answer,
    question_ask,
    tender_cancel,
    tender_create,
    tender_open,
    tender_publish,
    tender_update,
)
from marketplace.web import (
    error_text,
    filtered,
    form_refusal,
    page_of,
    require_role,
)

# Who reads the tender list and a tender's management page (auditors never write).
MANAGER_ROLES = (Role.CIVIL_AFFAIRS_OFFICIAL, Role.AUDITOR)
OFFICIAL = (Role.CIVIL_AFFAIRS_OFFICIAL,)
BIDDER = (Role.AGENCY_STAFF,)
REFUSALS = (DomainError, DjangoValidationError)


def _roles(request) -> frozenset:
    return user_scope(user=request.user).roles


def _official_only(request) -> None:
    require_role(request, OFFICIAL, _("只有民政干部可以管理采购项目。"))


# --- Civil affairs ----------------------------------------------------------------------


def tender_export(tenders) -> HttpResponse:
    """The filtered tender list as Excel."""
    headers = [
        _("项目编号"),
        _("项目名称"),
        _("年度"),
        _("状态"),
        _("标段数"),
        _("答疑截止"),
        _("投标开始"),
        _("投标截止"),
        _("发布时间"),
        _("开标时间"),
    ]
    rows = (
        [
            t.reference,
            t.title,
            t.year,
            t.get_status_display(),
            t.lot_count,
            t.enquiry_ends_at,
            t.bid_opens_at,
            t.bid_closes_at,
            t.published_at,
            t.opened_at,
        ]
        for t in tenders
    )
    return xlsx_response(filename="tenders", title=_("采购项目"), headers=headers, rows=rows)


@login_required
@require_safe
def tender_list_view(request, export=False):
    """All tenders for civil affairs and auditors, filtered by status and year; or Excel."""
    require_role(request, MANAGER_ROLES)
    filterset = TenderFilter(request.GET or None, queryset=tender_list_for_user(user=request.user))
    queryset, status = filtered(filterset)
    if export and status == 200:
        return tender_export(queryset)
    page, query = page_of(request, queryset)
    return render(
        request,
        "marketplace/procurement/tender_list.html",
        {
            "filter": filterset,
            "page": page,
            "query": query,
            "can_create": Role.CIVIL_AFFAIRS_OFFICIAL in _roles(request),
        },
        status=status,
    )


@login_required
def tender_create_view(request):
    """Draft a new tender; lots and criteria are added on its page."""
    _official_only(request)
    if request.method != "POST":
        form = TenderForm()
        return render(request, "marketplace/procurement/tender_form.html", {"form": form})
    form = TenderForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            tender = tender_create(by=request.user, **form.cleaned_data)
        except REFUSALS as exc:
            status = form_refusal(form, exc, conflict=True)
        else:
            messages.success(request, _("采购项目草稿已创建，请添加标段和评分项。"))
            return redirect("procurement:tender-manage", pk=tender.pk)
    return render(
        request, "marketplace/procurement/tender_form.html", {"form": form}, status=status
    )


def _manage_response(request, tender: Tender, *, status: int = 200, **forms):
    official = Role.CIVIL_AFFAIRS_OFFICIAL in _roles(request)
    draft = tender.status == Tender.Status.DRAFT
    lots = list(tender.lots.select_related("street", "catalogue_item"))
    criteria = list(tender.criteria.all())
    questions = list(question_list_for_tender(tender=tender))
    context = {
        "tender": tender,
        "lots": lots,
        "criteria": criteria,
        "weight_total": criterion_weight_total(criteria=criteria),
        "questions": questions,
        "bids": bid_list_for_tender(tender=tender, user=request.user),
        "official": official,
        "can_edit": official and draft,
        "can_cancel": official and tender.status in {Tender.Status.DRAFT, Tender.Status.PUBLISHED},
        "can_open": official and tender.status == Tender.Status.PUBLISHED and tender.closed(),
        "can_answer": official and tender.status == Tender.Status.PUBLISHED,
        "now": timezone.now(),
    }
    if context["can_edit"]:
        context["tender_form"] = forms.get("tender_form") or TenderForm.for_tender(tender)
        context["lot_form"] = forms.get("lot_form") or LotForm(year=tender.year)
        context["criterion_form"] = forms.get("criterion_form") or CriterionForm()
    context["publish_errors"] = forms.get("publish_errors")
    if context["can_cancel"]:
        context["cancel_form"] = forms.get("cancel_form") or CancelForm()
    context["answer_form"] = forms.get("answer_form")
    context["answer_for"] = forms.get("answer_for")
    context["open_error"] = forms.get("open_error")
    return render(request, "marketplace/procurement/tender_manage.html", context, status=status)


@login_required
@require_safe
def tender_manage_view(request, pk: int):
    """One tender for civil affairs (auditors read it): its draft, lots, criteria with the
    weight total, questions, and after opening the bids with their prices."""
    require_role(request, MANAGER_ROLES)
    tender = tender_get_for_user(tender_id=pk, user=request.user)
    return _manage_response(request, tender)


def _manage_post(request, pk: int):
    _official_only(request)
    return tender_get_for_user(tender_id=pk, user=request.user)


@login_required
@require_POST
def tender_update_view(request, pk: int):
    """Save a draft's own fields."""
    tender = _manage_post(request, pk)
    form = TenderForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            tender_update(tender=tender, by=request.user, **form.cleaned_data)
        except REFUSALS as exc:
            status = form_refusal(form, exc, conflict=True)
        else:
            messages.success(request, _("已保存。"))
            return redirect("procurement:tender-manage", pk=tender.pk)
    return _manage_response(request, tender, status=status, tender_form=form)


@login_required
@require_POST
def lot_add_view(request, pk: int):
    """Add a lot to a draft."""
    tender = _manage_post(request, pk)
    form = LotForm(request.POST, year=tender.year)
    status = 400
    if form.is_valid():
        try:
            lot = lot_add(tender=tender, by=request.user, **form.cleaned_data)
        except REFUSALS as exc:
            status = form_refusal(form, exc, conflict=True)
        else:
            messages.success(request, _("已添加第%(n)s标段。") % {"n": lot.number})
            return redirect("procurement:tender-manage", pk=tender.pk)
    return _manage_response(request, tender, status=status, lot_form=form)


@login_required
@require_POST
def lot_remove_view(request, pk: int, lot_id: int):
    """Remove a lot of a draft."""
    tender = _manage_post(request, pk)
    lot = get_object_or_404(Lot, pk=lot_id, tender=tender)
    try:
        lot_remove(lot=lot, by=request.user)
    except REFUSALS as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, _("已删除标段。"))
    return redirect("procurement:tender-manage", pk=tender.pk)


@login_required
@require_POST
def criterion_add_view(request, pk: int):
    """Add an evaluation criterion to a draft."""
    tender = _manage_post(request, pk)
    form = CriterionForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            criterion_add(tender=tender, by=request.user, **form.cleaned_data)
        except REFUSALS as exc:
            status = form_refusal(form, exc, conflict=True)
        else:
            messages.success(request, _("已添加评分项。"))
            return redirect("procurement:tender-manage", pk=tender.pk)
    return _manage_response(request, tender, status=status, criterion_form=form)


@login_required
@require_POST
def criterion_remove_view(request, pk: int, criterion_id: int):
    """Remove a criterion of a draft."""
    tender = _manage_post(request, pk)
    criterion = get_object_or_404(Criterion, pk=criterion_id, tender=tender)
    try:
        criterion_remove(criterion=criterion, by=request.user)
    except REFUSALS as exc:
        messages.error(request, error_text(exc))
    else:
        messages.success(request, _("已删除评分项。"))
    return redirect("procurement:tender-manage", pk=tender.pk)


@login_required
@require_POST
def tender_publish_view(request, pk: int):
    """Publish a complete draft; what is missing is listed and nothing changes."""
    tender = _manage_post(request, pk)
    try:
        tender_publish(tender=tender, by=request.user)
    except DjangoValidationError as exc:
        return _manage_response(request, tender, status=400, publish_errors=exc.messages)
    except DomainError as exc:
        status = 403 if isinstance(exc, NotPermitted) else 409
        return _manage_response(request, tender, status=status, publish_errors=[error_text(exc)])
    messages.success(request, _("采购公告已发布。"))
    return redirect("procurement:tender-manage", pk=tender.pk)


@login_required
@require_POST
def tender_cancel_view(request, pk: int):
    """Terminate a tender before its opening, with the reason."""
    tender = _manage_post(request, pk)
    form = CancelForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            tender_cancel(tender=tender, by=request.user, reason=form.cleaned_data["reason"])
        except REFUSALS as exc:
            status = form_refusal(form, exc, conflict=True)
        else:
            messages.success(request, _("采购项目已终止。"))
            return redirect("procurement:tender-manage", pk=tender.pk)
    return _manage_response(request, tender, status=status, cancel_form=form)


@login_required
@require_POST
def question_answer_view(request, pk: int, question_id: int):
    """Answer a question; the answer is public without the asker."""
    tender = _manage_post(request, pk)
    question = get_object_or_404(TenderQuestion, pk=question_id, tender=tender)
    form = AnswerForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            question_answer(question=question, by=request.user, answer=form.cleaned_data["answer"])
        except REFUSALS as exc:
            status = form_refusal(form, exc, conflict=True)
        else:
            messages.success(request, _("答复已发布。"))
            return redirect("procurement:tender-manage", pk=tender.pk)
    return _manage_response(
        request, tender, status=status, answer_form=form, answer_for=question.pk
    )


@login_required
@require_POST
def tender_open_view(request, pk: int):
    """开标: decrypt the bids after the close."""
    tender = _manage_post(request, pk)
    try:
        tender_open(tender=tender, by=request.user)
    except DomainError as exc:
        status = 403 if isinstance(exc, NotPermitted) else 409
        return _manage_response(request, tender, status=status, open_error=error_text(exc))
    messages.success(request, _("已开标。"))
    return redirect("procurement:tender-manage", pk=tender.pk)


# --- Agency staff -----------------------------------------------------------------------


@login_required
@require_safe
def tender_open_list_view(request):
    """可投标项目: published tenders whose window has not closed, with the time left."""
    require_role(request, BIDDER, _("只有社工机构工作人员可以查看可投标项目。"))
    page, query = page_of(request, tender_list_open_for_bids(user=request.user))
    return render(
        request,
        "marketplace/procurement/tender_open_list.html",
        {"page": page, "query": query, "now": timezone.now()},
    )


def _agency_detail_response(request, tender: Tender, *, status=200, question_form=None):
    user = request.user
    agencies = list(agency_list_for_bidder(user=user))
    lots = list(tender.lots.select_related("street", "catalogue_item"))
    mine = bids_of_agencies_by_lot(tender=tender, user=user)
    reasons = (
        agency_may_bid(lot=lots[0], agency=agencies[0], user=user) if agencies and lots else []
    )
    now = timezone.now()
    rows = [{"lot": lot, "bid": mine.get(lot.pk)} for lot in lots]
    context = {
        "tender": tender,
        "rows": rows,
        "criteria": list(tender.criteria.all()),
        "answered": list(question_list_answered(tender=tender)),
        "agencies": agencies,
        "reasons": reasons if agencies else [_("您所在的机构尚未认证，不能投标或提问。")],
        "window_open": tender.window_open(now),
        "may_ask": bool(agencies)
        and tender.status == Tender.Status.PUBLISHED
        and now < tender.enquiry_ends_at,
        "question_form": question_form or QuestionForm(),
        "now": now,
    }
    return render(
        request, "marketplace/procurement/tender_detail_agency.html", context, status=status
    )


@login_required
@require_safe
def tender_detail_agency_view(request, pk: int):
    """One tender as a bidder sees it: lots, budgets, criteria, answered questions, the
    question form, and the agency's own bid on each lot."""
    require_role(request, BIDDER, _("只有社工机构工作人员可以投标。"))
    tender = tender_get_for_user(tender_id=pk, user=request.user)
    return _agency_detail_response(request, tender)


@login_required
@require_POST
def question_ask_view(request, pk: int):
    """Ask a question in the enquiry period."""
    require_role(request, BIDDER, _("只有社工机构工作人员可以提问。"))
    tender = tender_get_for_user(tender_id=pk, user=request.user)
    agencies = list(agency_list_for_bidder(user=request.user))
    form = QuestionForm(request.POST)
    status = 400
    if not agencies:
        form.add_error(None, _("您所在的机构尚未认证，不能提问。"))
        status = 403
    elif form.is_valid():
        try:
            question_ask(
                tender=tender,
                by=request.user,
                organisation=agencies[0],
                question=form.cleaned_data["question"],
            )
        except REFUSALS as exc:
            status = form_refusal(form, exc, conflict=True)
        else:
            messages.success(request, _("问题已提交，答复将在本页公开。"))
            return redirect("procurement:tender-detail-agency", pk=tender.pk)
    return _agency_detail_response(request, tender, status=status, question_form=form)


def _workers(agencies) -> object:
    return (
        User.objects.filter(
            memberships__organisation__in=agencies, memberships__role=Role.SOCIAL_WORKER
        )
        .distinct()
        .order_by("display_name", "username")
    )


def _file_refused(form, request) -> None:
    if request.FILES.get("plan"):
        form.add_error("plan", _("出于安全原因，已选择的文件未保留，请重新选择服务方案文件。"))


@login_required
def bid_create_view(request, lot_id: int):
    """Submit a sealed bid on a lot."""
    require_role(request, BIDDER, _("只有社工机构工作人员可以投标。"))
    lot = lot_get_for_user(lot_id=lot_id, user=request.user)
    agencies = agency_list_for_bidder(user=request.user)
    if not agencies.exists():
        raise PermissionDenied(_("您所在的机构尚未认证，不能投标。"))
    workers = _workers(agencies)
    context = {"lot": lot, "tender": lot.tender, "revising": False}
    if request.method != "POST":
        context["form"] = BidForm(agencies=agencies, workers=workers)
        return render(request, "marketplace/procurement/bid_form.html", context)
    form = BidForm(request.POST, request.FILES, agencies=agencies, workers=workers)
    context["form"] = form
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        try:
            bid_submit(
                lot=lot,
                by=request.user,
                agency=data["agency"],
                price=data["price"],
                plan=data["plan"] or None,
                team=list(data["team"]),
                declarations=form.declarations(),
            )
        except REFUSALS as exc:
            status = form_refusal(form, exc, conflict=True)
        else:
            messages.success(request, _("投标文件已密封递交。截止前您可以修改或撤回。"))
            return redirect("procurement:tender-detail-agency", pk=lot.tender_id)
    _file_refused(form, request)
    return render(request, "marketplace/procurement/bid_form.html", context, status=status)


def _own_bid(request, pk: int):
    bid = bid_get_for_user(bid_id=pk, user=request.user)
    content = bid_sealed_content(bid=bid, user=request.user)
    return bid, content


@login_required
@never_cache
def bid_update_view(request, pk: int):
    """The agency's own bid: its sealed content, revised while the window is open."""
    require_role(request, BIDDER, _("只有社工机构工作人员可以投标。"))
    bid, content = _own_bid(request, pk)
    agencies = agency_list_for_bidder(user=request.user)
    workers = _workers([bid.agency_id])
    window_open = bid.lot.tender.window_open() and bid.status == bid.Status.SUBMITTED
    context = {
        "bid": bid,
        "content": content,
        "lot": bid.lot,
        "tender": bid.lot.tender,
        "revising": True,
        "window_open": window_open,
    }
    if request.method != "POST":
        initial = {
            "price": content.price,
            "team": [u.pk for u in content.team],
            **content.declarations,
        }
        context["form"] = BidForm(
            initial=initial, agencies=agencies, workers=workers, revising=True
        )
        return render(request, "marketplace/procurement/bid_form.html", context)
    form = BidForm(request.POST, request.FILES, agencies=agencies, workers=workers, revising=True)
    context["form"] = form
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        try:
            bid_revise(
                bid=bid,
                by=request.user,
                price=data["price"],
                plan=data["plan"] or None,
                team=list(data["team"]),
                declarations=form.declarations(),
            )
        except REFUSALS as exc:
            status = form_refusal(form, exc, conflict=True)
        else:
            messages.success(request, _("投标已修改并重新密封。"))
            return redirect("procurement:tender-detail-agency", pk=bid.lot.tender_id)
    _file_refused(form, request)
    return render(request, "marketplace/procurement/bid_form.html", context, status=status)


@login_required
@require_POST
def bid_withdraw_view(request, pk: int):
    """Withdraw the agency's own bid before the close."""
    require_role(request, BIDDER, _("只有社工机构工作人员可以撤回投标。"))
    bid = bid_get_for_user(bid_id=pk, user=request.user)
    if not user_is_agency_staff(user=request.user, organisation=bid.agency_id):
        raise PermissionDenied(_("只能撤回本机构的投标。"))
    try:
        bid_withdraw(bid=bid, by=request.user)
    except REFUSALS as exc:
        messages.error(request, error_text(exc))
        return redirect("procurement:tender-detail-agency", pk=bid.lot.tender_id)
    messages.success(request, _("投标已撤回，截止前可以重新投标。"))
    return redirect("procurement:tender-detail-agency", pk=bid.lot.tender_id)


@login_required
@require_safe
def bid_list_mine_view(request):
    """我的投标: the bids of the user's agencies, newest first."""
    require_role(request, BIDDER, _("只有社工机构工作人员可以查看投标。"))
    page, query = page_of(request, bid_list_of_my_agencies(user=request.user))
    return render(
        request,
        "marketplace/procurement/bid_list_mine.html",
        {"page": page, "query": query},
    )


PLAN_TYPES = {b"%PDF": "application/pdf"}


@login_required
@require_safe
def bid_plan_view(request, pk: int):
    """A bid's plan document: for the bidding agency at any time; for civil affairs,
    auditors and declared evaluators of the tender only after opening; 404 otherwise."""
    bid = bid_get_for_user(bid_id=pk, user=request.user)
    name, content = bid_plan_read(bid=bid, user=request.user)
    kind = PLAN_TYPES.get(
        content[:4], "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    response = HttpResponse(content, content_type=kind)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
