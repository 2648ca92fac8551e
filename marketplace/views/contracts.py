"""Contract pages of the purchase of services: the list (and its Excel export), signing a
contract for a final award, one contract with its milestones, deliveries and reviews, the
agency's delivery entry and team log, milestone acceptance, the review with its sample,
and the evidence download. Civil affairs manages, the contracted agency delivers, auditors
read; another agency gets 404 everywhere."""

from __future__ import annotations

import mimetypes
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from marketplace.exceptions import DomainError, NotPermitted
from marketplace.exports import xlsx_response
from marketplace.forms.contracts import (
    ContractFilter,
    ContractSignForm,
    DeliveryForm,
    MilestoneDecideForm,
    MilestoneFormSet,
    ReviewCompleteForm,
    ReviewDrawForm,
    SampleVerifyForm,
    TeamLogForm,
)
from marketplace.models import Contract, Milestone, PerformanceReview, ReviewSample, Role
from marketplace.models.procurement import private_storage
from marketplace.selectors.contracts import (
    agency_track_record,
    award_get_for_signing,
    award_list_awaiting_contract,
    contract_actions,
    contract_get_for_user,
    contract_list_for_user,
    delivery_record_get_for_user,
    delivery_record_list,
    milestone_get_for_user,
    milestone_progress,
    review_get_for_user,
    review_list,
    sample_get_for_user,
    sample_list,
)
from marketplace.services.contracts import (
    OPEN_FOR_DELIVERY,
    agency_staff_organisation_ids,
    contract_sign,
    delivery_record_add,
    milestone_decide,
    milestone_submit,
    review_complete,
    review_draw,
    sample_verify,
)
from marketplace.web import (
    error_text,
    filtered,
    form_refusal,
    page_of,
    require_role,
)
from volunteers.services.delivery import team_delivery_log

# Roles that open contract pages at all; the selectors narrow what each sees.
READER_ROLES = (Role.CIVIL_AFFAIRS_OFFICIAL, Role.AUDITOR, Role.AGENCY_STAFF)
REFUSALS = (DomainError, DjangoValidationError)


def _refusal(form, exc: Exception) -> tuple[int, str | None]:
    """A service's refusal on the form, the response status (403 when the user may not do
    this at all) and, for a refusal of state, a line for the page's banner (the form may no
    longer be shown once its object has moved on)."""
    status = form_refusal(form, exc)
    return status, None if isinstance(exc, DjangoValidationError) else error_text(exc)


def _require_manager(request) -> None:
    require_role(request, [Role.CIVIL_AFFAIRS_OFFICIAL], _("只有区民政局工作人员可以执行此操作。"))


def _require_deliverer(request, contract: Contract) -> None:
    if contract.agency_id not in agency_staff_organisation_ids(user=request.user):
        raise PermissionDenied(_("只有承接合同的机构工作人员可以执行此操作。"))


# --- List and export -----------------------------------------------------------------------


def _contract_export(contracts):
    headers = [
        _("合同编号"),
        _("采购项目"),
        _("标段"),
        _("街道"),
        _("承接机构"),
        _("合同金额（元）"),
        _("服务开始日期"),
        _("服务结束日期"),
        _("目标服务量"),
        _("已完成服务量"),
        _("状态"),
        _("签订时间"),
    ]
    rows = (
        [
            c.number,
            c.lot.tender.title,
            c.lot.title,
            c.lot.street.name,
            c.agency.name,
            c.value,
            c.starts_on,
            c.ends_on,
            c.units_target,
            c.units_delivered,
            c.get_status_display(),
            c.signed_at,
        ]
        for c in contracts
    )
    return xlsx_response(filename="contracts", title=_("合同"), headers=headers, rows=rows)


@login_required
@require_safe
def contract_list_view(request, export=False):
    """Contracts the user may read, filtered by status, street and agency; or the same rows
    as Excel. Civil affairs also sees the final awards still waiting for a contract."""
    require_role(request, READER_ROLES)
    filterset = ContractFilter(
        request.GET or None, queryset=contract_list_for_user(user=request.user)
    )
    queryset, status = filtered(filterset)
    if export and status == 200:
        return _contract_export(queryset)
    page, query = page_of(request, queryset)
    for contract in page.object_list:
        target = Decimal(contract.units_target or 0)
        contract.percent = (
            int(min(contract.units_delivered / target * 100, Decimal(100))) if target else 0
        )
    return render(
        request,
        "marketplace/procurement/contract_list.html",
        {
            "filter": filterset,
            "page": page,
            "query": query,
            "awaiting": list(award_list_awaiting_contract(user=request.user)),
        },
        status=status,
    )


# --- Signing -------------------------------------------------------------------------------


def _sign_initial(award) -> tuple[dict, list[dict]]:
    """Today to a year from today, and two milestones of half the quantity and half the
    value each, due at the middle and at the end."""
    start = timezone.localdate()
    end = start + timedelta(days=364)
    quantity = award.lot.quantity
    first_pay = (award.value / 2).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    halves = [
        (_("第1阶段服务"), quantity // 2, start + timedelta(days=182), first_pay),
        (_("第2阶段服务"), quantity - quantity // 2, end, award.value - first_pay),
    ]
    milestones = [
        {"title": title, "units_target": units, "due_on": due, "payment": pay}
        for title, units, due, pay in halves
        if units > 0
    ]
    return {"starts_on": start, "ends_on": end}, milestones


@login_required
def contract_sign_view(request, pk: int):
    """Sign the contract of a final award, with its milestones (civil affairs)."""
    _require_manager(request)
    award = award_get_for_signing(award_id=pk, user=request.user)
    initial, milestones = _sign_initial(award)
    context = {"award": award, "lot": award.lot}
    if request.method != "POST":
        context["form"] = ContractSignForm(initial=initial)
        context["formset"] = MilestoneFormSet(initial=milestones, prefix="m")
        return render(request, "marketplace/procurement/contract_sign.html", context)
    form = ContractSignForm(request.POST)
    formset = MilestoneFormSet(request.POST, prefix="m")
    context.update(form=form, formset=formset)
    status, error = 400, None
    if form.is_valid() and formset.is_valid():
        try:
            contract = contract_sign(
                award=award,
                by=request.user,
                milestones=formset.specs(),
                **form.cleaned_data,
            )
        except REFUSALS as exc:
            status, error = _refusal(form, exc)
        else:
            messages.success(request, _("合同已签订。"))
            return redirect(contract)
    elif formset.non_form_errors():
        form.add_error(None, formset.non_form_errors())
    return render(request, "marketplace/procurement/contract_sign.html", context, status=status)


# --- One contract --------------------------------------------------------------------------


def _chart_data(progress) -> dict:
    return {
        "labels": [p.milestone.title for p in progress],
        "target": [p.milestone.units_target for p in progress],
        "delivered": [float(p.delivered) for p in progress],
        "unit": progress[0].milestone.get_unit_display() if progress else "",
    }


def _detail_response(request, contract, *, status=200, error=None, **forms):
    actions = contract_actions(contract=contract, user=request.user)
    progress = milestone_progress(contract=contract)
    deliveries, delivery_query = page_of(request, delivery_record_list(contract=contract))
    reviews = list(review_list(contract=contract, user=request.user))
    context = {
        "contract": contract,
        "lot": contract.lot,
        "actions": actions,
        "progress": progress,
        "chart_data": _chart_data(progress),
        "deliveries": deliveries,
        "delivery_query": delivery_query,
        "reviews": reviews,
        "track": agency_track_record(organisation=contract.agency),
        "error": error,
    }
    decide_for = forms.get("decide_for")
    context["rows"] = [
        {
            "p": p,
            "decide": (
                (
                    forms["decide_form"]
                    if decide_for == p.milestone.pk
                    else MilestoneDecideForm(auto_id=f"id_m{p.milestone.pk}_%s")
                )
                if actions.manage and p.milestone.status == Milestone.Status.SUBMITTED
                else None
            ),
        }
        for p in progress
    ]
    if actions.deliver:
        open_milestones = contract.milestones.filter(status__in=OPEN_FOR_DELIVERY)
        teams = contract.teams.filter(status="active", organisation_id=contract.agency_id)
        context["delivery_form"] = forms.get("delivery_form") or DeliveryForm(
            milestones=open_milestones,
            initial={"delivered_on": timezone.localdate()},
        )
        context["team_form"] = forms.get("team_form") or TeamLogForm(
            milestones=open_milestones, teams=teams
        )
        context["has_open"] = any(p.open_for_delivery for p in progress)
        context["has_teams"] = teams.exists()
    if actions.manage:
        done_kinds = {r.kind for r in reviews}
        context["can_draw"] = contract.status in (
            Contract.Status.ACTIVE,
            Contract.Status.COMPLETED,
        ) and len(done_kinds) < len(PerformanceReview.Kind.values)
        context["draw_form"] = forms.get("draw_form") or ReviewDrawForm(
            initial={
                "kind": next(
                    (k for k in PerformanceReview.Kind.values if k not in done_kinds),
                    PerformanceReview.Kind.MIDTERM,
                )
            }
        )
    return render(request, "marketplace/procurement/contract_detail.html", context, status=status)


@login_required
@require_safe
def contract_detail_view(request, pk: int):
    """One contract: milestones with progress and a chart, delivery records (paged),
    reviews, the agency's track record and what the user may do."""
    require_role(request, READER_ROLES)
    contract = contract_get_for_user(contract_id=pk, user=request.user)
    return _detail_response(request, contract)


@login_required
@require_POST
def delivery_add_view(request, pk: int):
    """The agency enters delivered units with evidence."""
    require_role(request, READER_ROLES)
    contract = contract_get_for_user(contract_id=pk, user=request.user)
    _require_deliverer(request, contract)
    form = DeliveryForm(
        request.POST,
        request.FILES,
        milestones=contract.milestones.filter(status__in=OPEN_FOR_DELIVERY),
    )
    status, error = 400, None
    if form.is_valid():
        data = form.cleaned_data
        try:
            delivery_record_add(
                milestone=data["milestone"],
                by=request.user,
                units=data["units"],
                delivered_on=data["delivered_on"],
                description=data["description"],
                evidence=data["evidence"],
            )
        except REFUSALS as exc:
            status, error = _refusal(form, exc)
        else:
            messages.success(request, _("服务记录已登记。"))
            return redirect(contract)
    return _detail_response(request, contract, status=status, error=error, delivery_form=form)


@login_required
@require_POST
def team_log_view(request, pk: int):
    """The agency counts its contract team's confirmed service records towards a milestone."""
    require_role(request, READER_ROLES)
    contract = contract_get_for_user(contract_id=pk, user=request.user)
    _require_deliverer(request, contract)
    form = TeamLogForm(
        request.POST,
        milestones=contract.milestones.filter(status__in=OPEN_FOR_DELIVERY),
        teams=contract.teams.filter(status="active", organisation_id=contract.agency_id),
    )
    status, error = 400, None
    if form.is_valid():
        try:
            made = team_delivery_log(
                team=form.cleaned_data["team"],
                milestone=form.cleaned_data["milestone"],
                by=request.user,
            )
        except REFUSALS as exc:
            status, error = _refusal(form, exc)
        else:
            if made:
                messages.success(request, _("已从团队服务记录登记 %(n)s 条。") % {"n": len(made)})
            else:
                messages.info(request, _("没有新的已确认团队服务记录。"))
            return redirect(contract)
    return _detail_response(request, contract, status=status, error=error, team_form=form)


@login_required
@require_POST
def milestone_submit_view(request, pk: int):
    """The agency submits a milestone whose target is met for acceptance."""
    require_role(request, READER_ROLES)
    milestone = milestone_get_for_user(milestone_id=pk, user=request.user)
    contract = contract_get_for_user(contract_id=milestone.contract_id, user=request.user)
    _require_deliverer(request, contract)
    try:
        milestone_submit(milestone=milestone, by=request.user)
    except REFUSALS as exc:
        status = 403 if isinstance(exc, NotPermitted) else 400
        return _detail_response(request, contract, status=status, error=error_text(exc))
    messages.success(request, _("已提交验收。"))
    return redirect(contract)


@login_required
@require_POST
def milestone_decide_view(request, pk: int):
    """Civil affairs accepts a submitted milestone or sends it back with the reason."""
    require_role(request, READER_ROLES)
    milestone = milestone_get_for_user(milestone_id=pk, user=request.user)
    _require_manager(request)
    contract = contract_get_for_user(contract_id=milestone.contract_id, user=request.user)
    form = MilestoneDecideForm(request.POST, auto_id=f"id_m{milestone.pk}_%s")
    status, error = 400, None
    if form.is_valid():
        accepted = form.cleaned_data["decision"] == "accept"
        try:
            milestone_decide(
                milestone=milestone,
                by=request.user,
                accepted=accepted,
                note=form.cleaned_data["note"],
            )
        except REFUSALS as exc:
            status, error = _refusal(form, exc)
        else:
            messages.success(
                request, _("节点已验收通过。") if accepted else _("节点验收不通过，已退回机构。")
            )
            return redirect(contract)
    return _detail_response(
        request, contract, status=status, error=error, decide_form=form, decide_for=milestone.pk
    )


@login_required
@require_POST
def review_draw_view(request, pk: int):
    """Civil affairs opens a review and the system draws its sample."""
    require_role(request, READER_ROLES)
    contract = contract_get_for_user(contract_id=pk, user=request.user)
    _require_manager(request)
    form = ReviewDrawForm(request.POST)
    status, error = 400, None
    if form.is_valid():
        try:
            review = review_draw(
                contract=contract,
                by=request.user,
                kind=form.cleaned_data["kind"],
                rate=form.cleaned_data["rate"],
            )
        except REFUSALS as exc:
            status, error = _refusal(form, exc)
        else:
            messages.success(
                request,
                _("已随机抽取 %(k)s 条服务记录（共 %(n)s 条）用于核实。")
                % {"k": review.samples.count(), "n": review.population},
            )
            return redirect("procurement:review-detail", pk=review.pk)
    return _detail_response(request, contract, status=status, error=error, draw_form=form)


@login_required
@require_safe
def delivery_evidence_view(request, pk: int):
    """A delivery record's evidence, for the agency, civil affairs and auditors."""
    require_role(request, READER_ROLES)
    record = delivery_record_get_for_user(record_id=pk, user=request.user)
    if not record.evidence:
        raise Http404
    name = record.evidence.name
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else "bin"
    try:
        handle = private_storage.open(name, "rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=f"evidence-{record.pk}.{extension}",
        content_type=mimetypes.types_map.get(f".{extension}", "application/octet-stream"),
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- Reviews -------------------------------------------------------------------------------


def _review_response(
    request, review, *, status=200, error=None, verify_form=None, verify_for=None, **forms
):
    manage = (
        contract_actions(contract=review.contract, user=request.user).manage
        and review.status == PerformanceReview.Status.VERIFYING
    )
    samples = list(sample_list(review=review))
    rows = [
        {
            "sample": sample,
            "form": (
                (
                    verify_form
                    if verify_for == sample.pk
                    else SampleVerifyForm(
                        auto_id=f"id_s{sample.pk}_%s",
                        initial={"result": sample.result, "note": sample.note},
                    )
                )
                if manage
                else None
            ),
        }
        for sample in samples
    ]
    context = {
        "review": review,
        "contract": review.contract,
        "rows": rows,
        "remaining": sum(1 for s in samples if s.result == ReviewSample.Result.PENDING),
        "manage": manage,
        "error": error,
        "complete_form": (forms.get("complete_form") or ReviewCompleteForm()) if manage else None,
    }
    return render(request, "marketplace/procurement/review_detail.html", context, status=status)


@login_required
@require_safe
def review_detail_view(request, pk: int):
    """One review: its sample with what each visit found; verify and complete for civil
    affairs while the review is open."""
    require_role(request, READER_ROLES)
    review = review_get_for_user(review_id=pk, user=request.user)
    return _review_response(request, review)


@login_required
@require_POST
def sample_verify_view(request, pk: int):
    """Record what a verification visit found for one sampled record."""
    require_role(request, READER_ROLES)
    sample = sample_get_for_user(sample_id=pk, user=request.user)
    _require_manager(request)
    review = review_get_for_user(review_id=sample.review_id, user=request.user)
    form = SampleVerifyForm(request.POST, auto_id=f"id_s{sample.pk}_%s")
    status, error = 400, None
    if form.is_valid():
        try:
            sample_verify(sample=sample, by=request.user, **form.cleaned_data)
        except REFUSALS as exc:
            status, error = _refusal(form, exc)
        else:
            messages.success(request, _("核实结果已登记。"))
            return redirect("procurement:review-detail", pk=review.pk)
    return _review_response(request, review, status=status, verify_form=form, verify_for=sample.pk)


@login_required
@require_POST
def review_complete_view(request, pk: int):
    """Close a review with its score and findings."""
    require_role(request, READER_ROLES)
    review = review_get_for_user(review_id=pk, user=request.user)
    _require_manager(request)
    form = ReviewCompleteForm(request.POST)
    status, error = 400, None
    if form.is_valid():
        try:
            review_complete(review=review, by=request.user, **form.cleaned_data)
        except REFUSALS as exc:
            status, error = _refusal(form, exc)
        else:
            messages.success(request, _("评估已完成，得分计入机构履约记录。"))
            return redirect("procurement:review-detail", pk=review.pk)
    return _review_response(request, review, status=status, error=error, complete_form=form)


__all__ = [
    "contract_detail_view",
    "contract_list_view",
    "contract_sign_view",
    "delivery_add_view",
    "delivery_evidence_view",
    "milestone_decide_view",
    "milestone_submit_view",
    "review_complete_view",
    "review_detail_view",
    "review_draw_view",
    "sample_verify_view",
    "team_log_view",
]
