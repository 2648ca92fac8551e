"""Pages of matching: runs (start one, follow its progress), proposals with their reasons and
the approval decisions, and the providers' own list of matched assignments to accept or
decline. Each view parses input with a form, resolves scope with a selector, calls one
service and renders; a service's refusal is shown as a message with status 400 (403 when
the user may not do it at all), and nothing is written."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from marketplace.models import Role
from marketplace.selectors.directory import user_scope
from marketplace.web import error_text, page_of, require_role
from matching.exceptions import DomainError, NotPermitted
from matching.exports import proposal_export
from matching.forms import (
    ApproveForm,
    ProposalFilterForm,
    RedoForm,
    RejectForm,
    RespondForm,
    RunStartForm,
)
from matching.models import MatchRun, Proposal, ProposalItem
from matching.scoring import reasons_text
from matching.selectors import (
    APPROVER_ROLES,
    assignment_get_for_user,
    assignment_list_for_user,
    assignment_may_view,
    proposal_export_list_for_user,
    proposal_get_for_user,
    proposal_list_for_user,
    run_area_choices_for_user,
    run_get_for_user,
    run_list_for_user,
)
from matching.services import (
    match_run_start,
    proposal_approve,
    proposal_item_respond,
    proposal_may_decide,
    proposal_redo,
    proposal_reject,
)

# What a service may refuse with; anything else is a bug and must surface.
REFUSALS = (DomainError, DjangoValidationError)

# Cost components as the detail page names them (keys of `ProposalItem.components`).
COMPONENT_LABELS = {
    "distance": gettext_lazy("距离"),
    "skill": gettext_lazy("技能"),
    "availability": gettext_lazy("空闲时间"),
    "continuity": gettext_lazy("服务连续性"),
    "load": gettext_lazy("当前负担"),
    "track": gettext_lazy("星级/履约"),
    "contract": gettext_lazy("购买服务合同"),
    "project": gettext_lazy("项目覆盖范围"),
}


# Steps of a run as its page names them (keys of `MatchRun.timings`).
TIMING_LABELS = {
    "snapshot": gettext_lazy("读取需求与资源"),
    "solve": gettext_lazy("求解"),
    "store": gettext_lazy("保存方案"),
}


def _require_approver(request) -> None:
    require_role(request, APPROVER_ROLES, _("只有区民政局和街道工作人员可以使用匹配审批。"))


def _refusal_status(exc: Exception) -> int:
    return 403 if isinstance(exc, NotPermitted) else 400


# --- Runs --------------------------------------------------------------------------------


def _run_list_response(request, *, form=None, status=200):
    areas = list(run_area_choices_for_user(user=request.user))
    page, query = page_of(request, run_list_for_user(user=request.user))
    return render(
        request,
        "matching/run_list.html",
        {
            "page": page,
            "query": query,
            "form": form or RunStartForm(choices_for=areas),
            "can_start": bool(areas),
        },
        status=status,
    )


@login_required
@require_safe
def run_list_view(request):
    """Runs the user may follow, with their figures, and the form to start one."""
    _require_approver(request)
    return _run_list_response(request)


@login_required
@require_POST
def run_start_view(request):
    """Start a run over a street or the district and follow it on its page."""
    _require_approver(request)
    form = RunStartForm(request.POST, choices_for=run_area_choices_for_user(user=request.user))
    status = 400
    if form.is_valid():
        try:
            run = match_run_start(
                requested_by=request.user,
                area=form.cleaned_data["area"],
                kind=MatchRun.Kind.MANUAL,
            )
        except REFUSALS as exc:
            form.add_error(None, error_text(exc))
            status = _refusal_status(exc)
        else:
            messages.success(request, _("匹配已开始，完成后方案将送审批。"))
            return redirect(run)
    return _run_list_response(request, form=form, status=status)


@login_required
@require_safe
def run_detail_view(request, pk: int):
    """One run: live progress while it works, its figures once done, and its proposals."""
    _require_approver(request)
    run = run_get_for_user(run_id=pk, user=request.user)
    timings = [(TIMING_LABELS.get(step, step), seconds) for step, seconds in run.timings.items()]
    return render(request, "matching/run_detail.html", {"run": run, "timings": timings})


def run_payload(run: MatchRun) -> dict:
    """What the run page's script shows: the same fields the progress event carries, plus
    the figures once the run is done."""
    return {
        "id": run.pk,
        "status": run.status,
        "status_display": run.get_status_display(),
        "active": run.is_active,
        "progress": run.progress,
        "stage": run.stage,
        "error": run.error,
        "figures": {
            "needs": run.needs_count,
            "slots": run.slots_count,
            "providers": run.providers_count,
            "edges": run.edges_count,
            "proposals": run.proposals_count,
            "objective": run.objective,
            "bound": run.bound,
            "gap": run.gap,
            "seconds": run.seconds,
        },
        "proposals_url": f"{reverse('matching:proposal-list')}?run={run.pk}",
    }


@never_cache
@login_required
@require_safe
def run_status_view(request, pk: int):
    """The run's progress as JSON, polled by the run page when its socket is quiet."""
    _require_approver(request)
    run = run_get_for_user(run_id=pk, user=request.user)
    return JsonResponse(run_payload(run))


# --- Proposals ---------------------------------------------------------------------------


@login_required
@require_safe
def proposal_list_view(request):
    """Proposals in the user's scope, filtered and paged; `?export=xlsx` downloads the
    same rows. A bad filter value gives 400 and no rows."""
    _require_approver(request)
    with_street = user_scope(user=request.user).has(Role.CIVIL_AFFAIRS_OFFICIAL)
    form = ProposalFilterForm(request.GET or None, with_street=with_street)
    status, filters = 200, {}
    if form.is_bound:
        if form.is_valid():
            filters = form.cleaned_data
        else:
            status = 400
    rows = proposal_list_for_user(user=request.user, filters=filters)
    if status == 400:
        rows = rows.none()
    elif request.GET.get("export") == "xlsx":
        return proposal_export(proposal_export_list_for_user(user=request.user, filters=filters))
    page, query = page_of(request, rows)
    return render(
        request,
        "matching/proposal_list.html",
        {"form": form, "page": page, "query": query},
        status=status,
    )


def _item_rows(proposal: Proposal) -> list[dict]:
    return [
        {
            "item": item,
            "reasons": reasons_text(item.reasons or []),
            "components": [
                (COMPONENT_LABELS.get(name, name), value)
                for name, value in (item.components or {}).items()
            ],
        }
        for item in proposal.items.all()
    ]


def _detail_response(request, proposal: Proposal, *, status=200, error="", **forms_):
    may_decide = proposal.status == Proposal.Status.PENDING and proposal_may_decide(
        user=request.user, proposal=proposal
    )
    context = {
        "proposal": proposal,
        "need": proposal.need,
        "rows": _item_rows(proposal),
        "decisions": list(proposal.decisions.all()),
        "may_decide": may_decide,
        "error": error,
        "approve_form": forms_.get("approve_form") or ApproveForm(),
        "reject_form": forms_.get("reject_form") or RejectForm(),
        "redo_form": forms_.get("redo_form") or RedoForm(),
    }
    return render(request, "matching/proposal_detail.html", context, status=status)


@login_required
@require_safe
def proposal_detail_view(request, pk: int):
    """One proposal: the need's public facts, each provider with cost, components and
    reasons, the rule that routed it, its decisions, and the decision forms for those who
    may decide."""
    _require_approver(request)
    proposal = proposal_get_for_user(proposal_id=pk, user=request.user)
    return _detail_response(request, proposal)


def _decide(request, pk: int, *, form_class, form_name: str, service, success: str):
    """Shared path of approve / reject / redo: scope, parse, one service call, render."""
    _require_approver(request)
    proposal = proposal_get_for_user(proposal_id=pk, user=request.user)
    form = form_class(request.POST)
    if not form.is_valid():
        return _detail_response(request, proposal, status=400, **{form_name: form})
    try:
        service(proposal, form.cleaned_data)
    except REFUSALS as exc:
        # Read again: the refusal may be because someone else decided in the meantime.
        proposal = proposal_get_for_user(proposal_id=pk, user=request.user)
        return _detail_response(
            request,
            proposal,
            status=_refusal_status(exc),
            error=error_text(exc),
            **{form_name: form},
        )
    messages.success(request, success)
    return redirect(proposal)


@login_required
@require_POST
def proposal_approve_view(request, pk: int):
    """Approve: the team is formed and each provider is asked to accept."""
    return _decide(
        request,
        pk,
        form_class=ApproveForm,
        form_name="approve_form",
        service=lambda p, data: proposal_approve(proposal=p, by=request.user, note=data["note"]),
        success=_("方案已批准，已通知服务方确认。"),
    )


@login_required
@require_POST
def proposal_reject_view(request, pk: int):
    """Reject with a reason; these providers are not proposed for the need again."""
    return _decide(
        request,
        pk,
        form_class=RejectForm,
        form_name="reject_form",
        service=lambda p, data: proposal_reject(proposal=p, by=request.user, reason=data["reason"]),
        success=_("方案已驳回。"),
    )


@login_required
@require_POST
def proposal_redo_view(request, pk: int):
    """Set the proposal aside and match the need again at once."""
    return _decide(
        request,
        pk,
        form_class=RedoForm,
        form_name="redo_form",
        service=lambda p, data: proposal_redo(proposal=p, by=request.user, note=data["note"]),
        success=_("已要求重新匹配，新方案生成后将再次送审批。"),
    )


# --- Assignments -------------------------------------------------------------------------


def _require_provider(request) -> None:
    if not assignment_may_view(user=request.user):
        raise PermissionDenied(_("只有志愿者、社工和慈善组织工作人员有匹配任务。"))


def _assignment_response(request, *, status=200, error="", failed_item=None, form=None):
    page, query = page_of(request, assignment_list_for_user(user=request.user))
    return render(
        request,
        "matching/assignment_list.html",
        {
            "page": page,
            "query": query,
            "error": error,
            "failed_item": failed_item,
            "failed_form": form,
            "Response": ProposalItem.Response,
        },
        status=status,
    )


@login_required
@require_safe
def assignment_list_view(request):
    """我的匹配任务: what approved proposals ask of the user, to accept or decline."""
    _require_provider(request)
    return _assignment_response(request)


@login_required
@require_POST
def assignment_respond_view(request, item_pk: int):
    """Accept or decline (with a reason) one assignment of the user's own."""
    _require_provider(request)
    item = assignment_get_for_user(item_id=item_pk, user=request.user)
    form = RespondForm(request.POST)
    if not form.is_valid():
        return _assignment_response(
            request, status=400, error=_form_errors(form), failed_item=item.pk, form=form
        )
    try:
        proposal_item_respond(
            item=item,
            by=request.user,
            accept=form.accepted,
            reason=form.cleaned_data["reason"],
        )
    except REFUSALS as exc:
        return _assignment_response(
            request,
            status=_refusal_status(exc),
            error=error_text(exc),
            failed_item=item.pk,
            form=form,
        )
    if form.accepted:
        messages.success(request, _("已接受，感谢您的服务。"))
    else:
        messages.success(request, _("已婉拒，该名额将重新匹配。"))
    return redirect("matching:assignment-list")


def _form_errors(form) -> str:
    """A form's errors as one line for the message banner."""
    return "；".join(str(e) for errors in form.errors.values() for e in errors)
