"""Pages of opportunities and hours: the public list and detail, posting and editing,
sign-up and cancel, the volunteer's own sign-ups, the organiser's rotating check-in code,
check-in and check-out, the records waiting for confirmation and the roster export."""

from __future__ import annotations

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from marketplace.exports import xlsx_response
from marketplace.web import add_validation_error, filtered, page_of
from volunteers.exceptions import DomainError, InvalidState, NotPermitted
from volunteers.filters_opportunities import OpportunityFilter, ServiceRecordFilter
from volunteers.forms.opportunities import CheckinForm, OpportunityForm, ReasonForm
from volunteers.models import Opportunity, ServiceRecord, Signup
from volunteers.selectors.opportunities import (
    opportunity_get,
    opportunity_get_for_organiser,
    opportunity_is_organiser,
    opportunity_public_list,
    organiser_organisations,
    organiser_teams,
    service_record_get_for_organiser,
    service_record_list_for_organiser,
    signup_get_for_volunteer,
    signup_list_for_volunteer,
    signup_live_for,
    signup_positions,
    signup_roster,
    signup_waitlist_position,
    user_may_organise,
    volunteer_acting,
)
from volunteers.selectors.people import service_record_list_for_volunteer
from volunteers.services.hours import (
    CHECKIN_OPENS_BEFORE,
    CODE_INTERVAL_SECONDS,
    SERVICE_RECORD_FLAGS,
    checkin_code_current,
    hours_display,
    service_record_check_in,
    service_record_check_out,
    service_record_confirm,
    service_record_revoke,
)
from volunteers.services.opportunities import (
    opportunity_cancel,
    opportunity_create,
    opportunity_update,
    signup_cancel,
    signup_create,
)

# How often the organiser's code page asks for a fresh code (a code lives about a minute).
CODE_REFRESH_SECONDS = 20


def _require_organiser(request) -> None:
    if not user_may_organise(user=request.user):
        raise PermissionDenied(_("只有组织方工作人员或团队带队社工可以访问此页面。"))


def _require_volunteer(request):
    volunteer = volunteer_acting(user=request.user)
    if volunteer is None:
        raise PermissionDenied(_("请使用已实名注册的志愿者账号。"))
    return volunteer


def _status_for(exc: DomainError) -> int:
    if isinstance(exc, NotPermitted):
        return 403
    return 409


# --- The public list and the detail page --------------------------------------------------


def opportunity_list_view(request):
    """Open opportunities that have not started, filtered and paged."""
    filterset = OpportunityFilter(request.GET or None, queryset=opportunity_public_list())
    queryset, status = filtered(filterset)
    page, query = page_of(request, queryset)
    return render(
        request,
        "volunteers/opportunities/list.html",
        {
            "filter": filterset,
            "page": page,
            "query": query,
            "can_post": user_may_organise(user=request.user),
        },
        status=status,
    )


def _detail_response(request, opportunity, *, status=200, error=None):
    now = timezone.now()
    volunteer = volunteer_acting(user=request.user)
    signup = position = record = None
    if volunteer is not None:
        signup = signup_live_for(volunteer=volunteer, opportunity=opportunity)
        if signup is not None:
            position = signup_waitlist_position(signup=signup)
        record = ServiceRecord.objects.filter(volunteer=volunteer, opportunity=opportunity).first()
    is_open = opportunity.status == Opportunity.Status.OPEN
    is_organiser = opportunity_is_organiser(opportunity=opportunity, user=request.user)
    confirmed = signup is not None and signup.status == Signup.Status.CONFIRMED
    context = {
        "opportunity": opportunity,
        "volunteer": volunteer,
        "signup": signup,
        "position": position,
        "record": record,
        "error": error,
        "is_organiser": is_organiser,
        "roster": signup_roster(opportunity=opportunity) if is_organiser else None,
        "can_signup": volunteer is not None
        and signup is None
        and is_open
        and opportunity.starts_at > now,
        "can_cancel": signup is not None and opportunity.starts_at > now,
        "can_checkin": confirmed
        and is_open
        and opportunity.starts_at - CHECKIN_OPENS_BEFORE <= now <= opportunity.ends_at,
        "can_edit": is_organiser and is_open and opportunity.starts_at > now,
        "started": opportunity.starts_at <= now,
    }
    return render(request, "volunteers/opportunities/detail.html", context, status=status)


def opportunity_detail_view(request, pk: int):
    """One opportunity: sign-up, cancel or waiting-list place for a volunteer; the roster,
    the check-in code and the export for its organisers."""
    return _detail_response(request, opportunity_get(opportunity_id=pk))


# --- Posting, editing and cancelling ------------------------------------------------------


@login_required
def opportunity_create_view(request):
    """Post an opportunity for one of the user's organisations or led teams."""
    _require_organiser(request)
    kwargs = {
        "organisations": organiser_organisations(user=request.user),
        "teams": organiser_teams(user=request.user),
    }
    if request.method != "POST":
        form = OpportunityForm(**kwargs)
        return render(request, "volunteers/opportunities/form.html", {"form": form})
    form = OpportunityForm(request.POST, **kwargs)
    status = 400
    if form.is_valid():
        try:
            opportunity = opportunity_create(by=request.user, **form.cleaned_data)
        except DomainError as exc:
            form.add_error(None, exc.message)
            status = _status_for(exc)
        except DjangoValidationError as exc:
            add_validation_error(form, exc)
        else:
            messages.success(request, _("活动已发布，志愿者现在可以报名。"))
            return redirect(opportunity)
    return render(request, "volunteers/opportunities/form.html", {"form": form}, status=status)


@login_required
def opportunity_edit_view(request, pk: int):
    """Change an opportunity that has not started."""
    _require_organiser(request)
    opportunity = opportunity_get_for_organiser(opportunity_id=pk, user=request.user)
    context = {"opportunity": opportunity}
    if request.method != "POST":
        context["form"] = OpportunityForm(initial=OpportunityForm.initial_for(opportunity))
        return render(request, "volunteers/opportunities/form.html", context)
    form = OpportunityForm(request.POST)
    context["form"] = form
    status = 400
    if form.is_valid():
        try:
            opportunity = opportunity_update(
                opportunity=opportunity, by=request.user, **form.cleaned_data
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
            status = _status_for(exc)
        except DjangoValidationError as exc:
            add_validation_error(form, exc)
        else:
            messages.success(request, _("活动已更新，已报名的志愿者会收到变更通知。"))
            return redirect(opportunity)
    return render(request, "volunteers/opportunities/form.html", context, status=status)


@login_required
def opportunity_cancel_view(request, pk: int):
    """Cancel an opportunity with a reason; everyone signed up is told."""
    _require_organiser(request)
    opportunity = opportunity_get_for_organiser(opportunity_id=pk, user=request.user)
    label = _("取消原因")
    if request.method != "POST":
        form = ReasonForm(label=label)
        return render(
            request,
            "volunteers/opportunities/cancel.html",
            {"form": form, "opportunity": opportunity},
        )
    form = ReasonForm(request.POST, label=label)
    status = 400
    if form.is_valid():
        try:
            opportunity_cancel(
                opportunity=opportunity, by=request.user, reason=form.cleaned_data["reason"]
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
            status = _status_for(exc)
        except DjangoValidationError as exc:
            add_validation_error(form, exc)
        else:
            messages.success(request, _("活动已取消，已通知报名的志愿者。"))
            return redirect(opportunity)
    return render(
        request,
        "volunteers/opportunities/cancel.html",
        {"form": form, "opportunity": opportunity},
        status=status,
    )


# --- Sign-up ------------------------------------------------------------------------------


@login_required
@require_POST
def signup_create_view(request, pk: int):
    """A volunteer signs up: a place, or a place on the waiting list."""
    volunteer = _require_volunteer(request)
    opportunity = opportunity_get(opportunity_id=pk)
    try:
        signup = signup_create(volunteer=volunteer, opportunity=opportunity)
    except DomainError as exc:
        return _detail_response(
            request, opportunity, status=_status_for(exc), error=str(exc.message)
        )
    if signup.status == Signup.Status.CONFIRMED:
        messages.success(request, _("报名成功！活动开始前一天会提醒您。"))
    else:
        messages.info(
            request,
            _("名额已满，您已进入候补，当前排第 %(n)s 位。有人取消时将自动递补并通知您。")
            % {"n": signup_waitlist_position(signup=signup)},
        )
    return redirect(opportunity)


@login_required
@require_POST
def signup_cancel_view(request, pk: int):
    """A volunteer withdraws before the start."""
    volunteer = _require_volunteer(request)
    signup = signup_get_for_volunteer(signup_id=pk, volunteer=volunteer)
    opportunity = opportunity_get(opportunity_id=signup.opportunity_id)
    try:
        signup_cancel(signup=signup, by=request.user)
    except DomainError as exc:
        return _detail_response(
            request, opportunity, status=_status_for(exc), error=str(exc.message)
        )
    messages.success(request, _("已取消报名。"))
    return redirect(opportunity)


@login_required
def my_opportunities_view(request):
    """The volunteer's sign-ups (with waiting-list places) and latest service records."""
    volunteer = _require_volunteer(request)
    page, query = page_of(request, signup_list_for_volunteer(volunteer=volunteer))
    signup_positions(page.object_list)
    records = list(service_record_list_for_volunteer(volunteer=volunteer)[:20])
    return render(
        request,
        "volunteers/opportunities/mine.html",
        {
            "volunteer": volunteer,
            "page": page,
            "query": query,
            "records": records,
            "now": timezone.now(),
        },
    )


# --- Check-in code and check-in -----------------------------------------------------------


def _code_payload(request, opportunity) -> dict:
    code = checkin_code_current(opportunity=opportunity)
    url = request.build_absolute_uri(f"{reverse('checkin', args=[opportunity.pk])}?code={code}")
    svg = segno.make(url, error="m").svg_inline(scale=6, border=2)
    return {
        "code": code,
        "url": url,
        "svg": svg,
        "interval": CODE_INTERVAL_SECONDS,
        "refresh": CODE_REFRESH_SECONDS,
    }


@never_cache
@login_required
def checkin_code_view(request, pk: int):
    """The organiser's phone shows this: a QR code of the check-in link and the digits,
    refreshed every 20 seconds."""
    _require_organiser(request)
    opportunity = opportunity_get_for_organiser(opportunity_id=pk, user=request.user)
    is_open = opportunity.status == Opportunity.Status.OPEN
    context = {"opportunity": opportunity, "is_open": is_open}
    if is_open:
        context.update(_code_payload(request, opportunity))
    return render(request, "volunteers/opportunities/checkin_code.html", context)


@never_cache
@login_required
def checkin_code_json_view(request, pk: int):
    """The current code for the code page's refresh (organisers only)."""
    _require_organiser(request)
    opportunity = opportunity_get_for_organiser(opportunity_id=pk, user=request.user)
    if opportunity.status != Opportunity.Status.OPEN:
        return JsonResponse(
            {"error": "invalid_state", "message": _("该活动已取消或已结束。")}, status=409
        )
    return JsonResponse(_code_payload(request, opportunity))


def _checkin_context(volunteer, opportunity, form):
    record = ServiceRecord.objects.filter(volunteer=volunteer, opportunity=opportunity).first()
    return {
        "opportunity": opportunity,
        "form": form,
        "record": record,
        "next_action": "out" if record and record.status == ServiceRecord.Status.OPEN else "in",
    }


@never_cache
@login_required
def checkin_view(request, pk: int):
    """A volunteer checks in or out with the code from the organiser's phone (the QR code
    opens this page with the code filled in)."""
    volunteer = _require_volunteer(request)
    opportunity = opportunity_get(opportunity_id=pk)
    if request.method != "POST":
        code = request.GET.get("code", "")[:6]
        form = CheckinForm(initial={"code": code if code.isdigit() else ""})
        return render(
            request,
            "volunteers/opportunities/checkin.html",
            _checkin_context(volunteer, opportunity, form),
        )
    form = CheckinForm(request.POST)
    status = 400
    if form.is_valid():
        service = (
            service_record_check_in
            if form.cleaned_data["action"] == "in"
            else service_record_check_out
        )
        try:
            record = service(
                volunteer=volunteer, opportunity=opportunity, code=form.cleaned_data["code"]
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
            status = 409 if isinstance(exc, InvalidState) else 400
        else:
            if record.status == ServiceRecord.Status.OPEN:
                messages.success(
                    request,
                    _("签到成功（%(t)s）。离开时请再次扫码签退。")
                    % {"t": timezone.localtime(record.checked_in_at).strftime("%H:%M")},
                )
            else:
                messages.success(
                    request,
                    _("签退成功，本次服务 %(h)s 小时，待组织方确认。")
                    % {"h": hours_display(record.hours)},
                )
            return redirect("checkin", pk=opportunity.pk)
    return render(
        request,
        "volunteers/opportunities/checkin.html",
        _checkin_context(volunteer, opportunity, form),
        status=status,
    )


# --- Records: confirm and revoke ----------------------------------------------------------


@login_required
def record_pending_view(request):
    """Service records of the organiser's opportunities, pending ones first by default."""
    _require_organiser(request)
    data = request.GET.copy()
    data.setdefault("status", ServiceRecord.Status.PENDING)
    filterset = ServiceRecordFilter(
        data, queryset=service_record_list_for_organiser(user=request.user)
    )
    queryset, status = filtered(filterset)
    page, query = page_of(request, queryset)
    for record in page.object_list:
        record.flag_labels = [SERVICE_RECORD_FLAGS.get(f, f) for f in record.flags]
    return render(
        request,
        "volunteers/opportunities/records.html",
        {"filter": filterset, "page": page, "query": query},
        status=status,
    )


def _back_to_records(request):
    target = request.POST.get("next", "")
    if target.startswith(reverse("record-pending")):
        return redirect(target)
    return redirect("record-pending")


@login_required
@require_POST
def record_confirm_view(request, pk: int):
    """Confirm a pending record; its hours count towards the volunteer's stars."""
    _require_organiser(request)
    record = service_record_get_for_organiser(record_id=pk, user=request.user)
    try:
        service_record_confirm(record=record, by=request.user)
    except NotPermitted as exc:
        raise PermissionDenied(exc.message) from exc
    except DomainError as exc:
        messages.warning(request, exc.message)
    else:
        messages.success(
            request,
            _("已确认 %(name)s 的服务时长 %(h)s 小时。")
            % {"name": record.volunteer.real_name, "h": hours_display(record.hours)},
        )
    return _back_to_records(request)


@login_required
def record_revoke_view(request, pk: int):
    """Revoke an abnormal record, with a reason."""
    _require_organiser(request)
    record = service_record_get_for_organiser(record_id=pk, user=request.user)
    record.flag_labels = [SERVICE_RECORD_FLAGS.get(f, f) for f in record.flags]
    label = _("撤销原因")
    context = {"record": record}
    if request.method != "POST":
        context["form"] = ReasonForm(label=label)
        return render(request, "volunteers/opportunities/record_revoke.html", context)
    form = ReasonForm(request.POST, label=label)
    context["form"] = form
    status = 400
    if form.is_valid():
        try:
            service_record_revoke(
                record=record, by=request.user, reason=form.cleaned_data["reason"]
            )
        except NotPermitted as exc:
            raise PermissionDenied(exc.message) from exc
        except DomainError as exc:
            form.add_error(None, exc.message)
            status = 409
        except DjangoValidationError as exc:
            add_validation_error(form, exc)
        else:
            messages.success(request, _("已撤销该服务记录。"))
            return _back_to_records(request)
    return render(request, "volunteers/opportunities/record_revoke.html", context, status=status)


# --- Export -------------------------------------------------------------------------------


@login_required
def opportunity_roster_export_view(request, pk: int):
    """The roster as Excel: masked ID numbers and phones only."""
    _require_organiser(request)
    opportunity = opportunity_get_for_organiser(opportunity_id=pk, user=request.user)
    headers = [
        _("姓名"),
        _("身份证号码"),
        _("手机号码"),
        _("报名状态"),
        _("候补顺序"),
        _("报名时间"),
        _("签到时间"),
        _("签退时间"),
        _("服务时长（小时）"),
        _("时长状态"),
    ]
    rows = (
        [
            s.volunteer.real_name,
            s.volunteer.id_masked,
            s.volunteer.phone_masked,
            s.get_status_display(),
            s.position,
            s.created_at,
            s.record.checked_in_at if s.record else None,
            s.record.checked_out_at if s.record else None,
            s.record.hours if s.record else None,
            s.record.get_status_display() if s.record else "",
        ]
        for s in signup_roster(opportunity=opportunity)
    )
    return xlsx_response(
        filename=f"opportunity-{opportunity.pk}-signups",
        title=_("报名名单"),
        headers=headers,
        rows=rows,
    )
