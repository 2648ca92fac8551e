"""Pages of people: volunteer sign-up and own profile, the volunteer's record page with its
audited full view and Excel export, the volunteer roster, joining organisations and deciding
on requests, and the social-worker roster and profiles."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from marketplace.models import Role
from marketplace.selectors.directory import organisation_get_for_user, user_scope
from marketplace.web import filtered, page_of, require_role
from volunteers.exceptions import AlreadyRegistered, DomainError, InvalidState, NotPermitted
from volunteers.exports import service_record_export, volunteer_export
from volunteers.filters import AffiliationFilter, SocialWorkerFilter, VolunteerFilter
from volunteers.forms.people import (
    AccountForm,
    AffiliationDecisionForm,
    JoinForm,
    SocialWorkerForm,
    VolunteerProfileForm,
    VolunteerRegisterForm,
    VolunteerRevealForm,
    availability_formset,
    certificate_formset,
)
from volunteers.models import Affiliation, VolunteerAccess
from volunteers.selectors.people import (
    SOCIAL_WORKER_VIEWER_ROLES,
    VOLUNTEER_VIEWER_ROLES,
    affiliation_get_for_manager,
    affiliation_list_for_manager,
    affiliation_list_for_volunteer,
    service_record_list_for_volunteer,
    social_worker_candidates,
    social_worker_get_for_staff,
    social_worker_get_own,
    social_worker_list_for_user,
    social_worker_organisations,
    volunteer_get_for_user,
    volunteer_get_own,
    volunteer_list_for_user,
    volunteer_may_reveal,
    volunteer_star_progress,
)
from volunteers.services.people import (
    affiliation_decide,
    affiliation_leave,
    affiliation_request,
    social_worker_deactivate,
    social_worker_save,
    volunteer_account_register,
    volunteer_register,
    volunteer_reveal,
    volunteer_update,
)

# Deciders of requests to join: volunteer managers, and street officials for their 联合会.
DECIDER_ROLES = frozenset({Role.VOLUNTEER_MANAGER, Role.STREET_OFFICIAL})
# New accounts sign in with the password they chose; the lockout backend only guards logins.
_LOGIN_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _spread(exc: DjangoValidationError, forms_, errors: list) -> None:
    """Put a service's ValidationError on the form that has the named field; the rest (for
    example the availability table as a whole) goes to `errors` shown above the forms."""
    if not hasattr(exc, "error_dict"):
        errors.extend(exc.messages)
        return
    for name, items in exc.error_dict.items():
        target = next((f for f in forms_ if f is not None and name in f.fields), None)
        for item in items:
            if target is not None:
                target.add_error(name, item)
            else:
                errors.extend(item.messages)


def _refuse(exc: DomainError):
    if isinstance(exc, NotPermitted):
        raise PermissionDenied(exc.message) from exc


def _safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


# --- Volunteer sign-up and own profile ----------------------------------------------------


def volunteer_register_view(request):
    """Sign up as a volunteer: a visitor creates an account and registers at once; a
    signed-in user without a registration fills in the profile only."""
    user = request.user
    if user.is_authenticated and volunteer_get_own(user=user) is not None:
        return redirect("volunteer-me")
    anonymous = not user.is_authenticated
    data = request.POST if request.method == "POST" else None
    account = AccountForm(data, prefix="account") if anonymous else None
    form = VolunteerRegisterForm(data)
    availability = availability_formset(data)
    certificates = certificate_formset(data)
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        parts = [form, availability, certificates] + ([account] if account else [])
        if all(p.is_valid() for p in parts):
            fields = {
                **form.cleaned_data,
                "skills": list(form.cleaned_data["skills"]),
                "availabilities": availability.inputs(),
                "certificates": certificates.inputs(),
            }
            try:
                if anonymous:
                    volunteer = volunteer_account_register(
                        username=account.cleaned_data["username"],
                        password=account.cleaned_data["password"],
                        email=account.cleaned_data["email"],
                        **fields,
                    )
                    login(request, volunteer.user, backend=_LOGIN_BACKEND)
                else:
                    volunteer = volunteer_register(user=user, **fields)
            except DjangoValidationError as exc:
                _spread(exc, [form, account], errors)
            except AlreadyRegistered as exc:
                form.add_error("id_number" if anonymous else None, exc.message)
                status = 409
            else:
                messages.success(request, _("注册成功，欢迎加入志愿服务！"))
                return redirect(volunteer)
        status = status if status != 200 else 400
    return render(
        request,
        "volunteers/people/register.html",
        {
            "account": account,
            "form": form,
            "availability": availability,
            "certificates": certificates,
            "errors": errors,
        },
        status=status,
    )


@login_required
def volunteer_me_view(request):
    """The volunteer edits their own profile; without a registration, go and register."""
    volunteer = volunteer_get_own(user=request.user)
    if volunteer is None:
        return redirect("volunteer-register")
    data = request.POST if request.method == "POST" else None
    form = VolunteerProfileForm(data, volunteer=volunteer)
    availability = availability_formset(data, volunteer=volunteer)
    certificates = certificate_formset(data, volunteer=volunteer)
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        if all(p.is_valid() for p in (form, availability, certificates)):
            try:
                volunteer_update(
                    volunteer=volunteer,
                    by=request.user,
                    skills=list(form.cleaned_data["skills"]),
                    availabilities=availability.inputs(),
                    certificates=certificates.inputs(),
                    home_community=form.cleaned_data["home_community"],
                    max_concurrent=form.cleaned_data["max_concurrent"],
                    introduction=form.cleaned_data["introduction"],
                )
            except DjangoValidationError as exc:
                _spread(exc, [form], errors)
            else:
                messages.success(request, _("资料已保存。"))
                return redirect("volunteer-me")
        status = 400
    return render(
        request,
        "volunteers/people/me.html",
        {
            "volunteer": volunteer,
            "form": form,
            "availability": availability,
            "certificates": certificates,
            "errors": errors,
            "affiliations": affiliation_list_for_volunteer(volunteer=volunteer),
        },
        status=status,
    )


# --- The record page ----------------------------------------------------------------------


def _volunteer_for(request, pk: int):
    try:
        return volunteer_get_for_user(pk=pk, user=request.user)
    except NotPermitted as exc:
        raise PermissionDenied(_("您不能查看该志愿者的资料。")) from exc


def _detail_response(request, volunteer, *, status=200):
    records, query = page_of(request, service_record_list_for_volunteer(volunteer=volunteer))
    return render(
        request,
        "volunteers/people/detail.html",
        {
            "volunteer": volunteer,
            "is_self": volunteer.user_id == request.user.pk,
            "may_reveal": volunteer_may_reveal(volunteer=volunteer, user=request.user),
            "progress": volunteer_star_progress(volunteer=volunteer),
            "records": records,
            "query": query,
        },
        status=status,
    )


@login_required
def volunteer_detail_view(request, pk: int):
    """A volunteer's record page: profile (masked), organisations, stars and hours, and the
    service records."""
    return _detail_response(request, _volunteer_for(request, pk))


@never_cache
@login_required
@require_POST
def volunteer_reveal_view(request, pk: int):
    """Show a volunteer's full ID number or phone, once, on this response only; audited."""
    volunteer = _volunteer_for(request, pk)
    if not volunteer_may_reveal(volunteer=volunteer, user=request.user):
        raise PermissionDenied(_("您的角色不能查看该志愿者的完整信息。"))
    form = VolunteerRevealForm(request.POST)
    if not form.is_valid():
        for items in form.errors.values():
            for error in items:
                messages.error(request, error)
        return _detail_response(request, volunteer, status=400)
    try:
        value = volunteer_reveal(
            volunteer=volunteer,
            by=request.user,
            field=form.cleaned_data["field"],
            reason=form.cleaned_data["reason"],
        )
    except NotPermitted as exc:
        raise PermissionDenied(exc.message) from exc
    except DjangoValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return _detail_response(request, volunteer, status=400)
    return render(
        request,
        "volunteers/people/reveal.html",
        {
            "volunteer": volunteer,
            "label": VolunteerAccess.Field(form.cleaned_data["field"]).label,
            "value": value,
        },
    )


@login_required
def volunteer_records_export_view(request, pk: int):
    """The volunteer's service records as Excel (masked ID only)."""
    volunteer = _volunteer_for(request, pk)
    return service_record_export(
        volunteer=volunteer, records=service_record_list_for_volunteer(volunteer=volunteer)
    )


# --- The roster ---------------------------------------------------------------------------


@login_required
def volunteer_list_view(request, export: bool = False):
    """Volunteers in the user's scope, filtered and paged; or the same rows as Excel."""
    require_role(request, VOLUNTEER_VIEWER_ROLES)
    filterset = VolunteerFilter(
        request.GET or None, queryset=volunteer_list_for_user(user=request.user)
    )
    queryset, status = filtered(filterset)
    if export and status == 200:
        return volunteer_export(queryset)
    page, query = page_of(request, queryset)
    return render(
        request,
        "volunteers/people/list.html",
        {"filter": filterset, "page": page, "query": query},
        status=status,
    )


# --- Joining organisations ----------------------------------------------------------------


@login_required
@require_POST
def affiliation_request_view(request, org_pk: int):
    """A volunteer asks to join a volunteer organisation or their street's 联合会."""
    volunteer = volunteer_get_own(user=request.user)
    if volunteer is None:
        raise PermissionDenied(_("请先注册为志愿者。"))
    organisation = organisation_get_for_user(organisation_id=org_pk, user=request.user)
    back = _safe_next(request, organisation.get_absolute_url())
    form = JoinForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("申请说明最多200字。"))
        return redirect(back)
    try:
        affiliation_request(
            volunteer=volunteer, organisation=organisation, message=form.cleaned_data["message"]
        )
    except DjangoValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    except DomainError as exc:
        _refuse(exc)
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已提交加入申请，请等待组织审核。"))
    return redirect(back)


@login_required
@require_POST
def affiliation_leave_view(request, pk: int):
    """The volunteer leaves an organisation or withdraws a pending request."""
    volunteer = volunteer_get_own(user=request.user)
    if volunteer is None:
        raise PermissionDenied(_("请先注册为志愿者。"))
    affiliation = affiliation_list_for_volunteer(volunteer=volunteer).filter(pk=pk).first()
    if affiliation is None:
        raise Http404
    try:
        affiliation_leave(affiliation=affiliation, by=request.user)
    except DomainError as exc:
        _refuse(exc)
        messages.error(request, exc.message)
    else:
        messages.success(request, _("已退出 %(org)s。") % {"org": affiliation.organisation.name})
    return redirect("volunteer-me")


def _affiliation_list_response(request, *, status=200):
    base = affiliation_list_for_manager(user=request.user)
    data = request.GET.copy()
    if "status" not in data:
        data["status"] = Affiliation.Status.PENDING
    filterset = AffiliationFilter(data, queryset=base)
    queryset, filter_status = filtered(filterset)
    page, query = page_of(request, queryset)
    return render(
        request,
        "volunteers/people/affiliation_list.html",
        {
            "filter": filterset,
            "page": page,
            "query": query,
            "decision_form": AffiliationDecisionForm(),
        },
        status=status if status != 200 else filter_status,
    )


@login_required
def affiliation_list_view(request):
    """Requests to join the organisations the user decides for (pending by default)."""
    require_role(request, DECIDER_ROLES)
    return _affiliation_list_response(request)


@login_required
@require_POST
def affiliation_decide_view(request, pk: int):
    """Approve or reject one request."""
    require_role(request, DECIDER_ROLES)
    affiliation = affiliation_get_for_manager(pk=pk, user=request.user)
    form = AffiliationDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请选择审核结果。"))
        return _affiliation_list_response(request, status=400)
    try:
        affiliation_decide(
            affiliation=affiliation,
            by=request.user,
            approve=form.cleaned_data["decision"] == "approve",
            note=form.cleaned_data["note"],
        )
    except DomainError as exc:
        _refuse(exc)
        messages.error(request, exc.message)
        return _affiliation_list_response(
            request, status=409 if isinstance(exc, InvalidState) else 400
        )
    messages.success(request, _("已处理 %(name)s 的申请。") % {"name": affiliation.volunteer})
    return redirect("affiliation-list")


# --- Social workers -----------------------------------------------------------------------


@login_required
def social_worker_list_view(request):
    """Social workers in the user's scope, filtered and paged."""
    require_role(request, SOCIAL_WORKER_VIEWER_ROLES)
    filterset = SocialWorkerFilter(
        request.GET or None, queryset=social_worker_list_for_user(user=request.user)
    )
    queryset, status = filtered(filterset)
    page, query = page_of(request, queryset)
    scope = user_scope(user=request.user)
    return render(
        request,
        "volunteers/people/social_worker_list.html",
        {
            "filter": filterset,
            "page": page,
            "query": query,
            "is_staff": scope.has(Role.AGENCY_STAFF),
        },
        status=status,
    )


def _social_worker_form_response(request, form, *, title, worker=None, status=200):
    return render(
        request,
        "volunteers/people/social_worker_form.html",
        {"form": form, "title": title, "worker": worker},
        status=status,
    )


def _save_social_worker(request, form, *, user, title, worker=None):
    """Validate and save through the service; the page again with errors otherwise."""
    if not form.is_valid():
        return _social_worker_form_response(request, form, title=title, worker=worker, status=400)
    data = dict(form.cleaned_data)
    target = data.pop("user", None) or user
    try:
        saved = social_worker_save(
            by=request.user,
            user=target,
            organisation=data["organisation"],
            real_name=data["real_name"],
            level=data["level"],
            certificate_number=data["certificate_number"],
            specialties=list(data["specialties"]),
            max_concurrent=data["max_concurrent"],
        )
    except DjangoValidationError as exc:
        errors: list[str] = []
        _spread(exc, [form], errors)
        for message in errors:
            form.add_error(None, message)
        return _social_worker_form_response(request, form, title=title, worker=worker, status=400)
    except DomainError as exc:
        _refuse(exc)
        form.add_error(None, exc.message)
        return _social_worker_form_response(request, form, title=title, worker=worker, status=409)
    messages.success(request, _("已保存 %(name)s 的资料。") % {"name": saved.real_name})
    return None


@login_required
def social_worker_me_view(request):
    """A social worker fills in their own profile."""
    require_role(request, {Role.SOCIAL_WORKER})
    worker = social_worker_get_own(user=request.user)
    organisations = social_worker_organisations(user=request.user, role=Role.SOCIAL_WORKER)
    extra = {"worker": worker} if worker else {"initial": {"real_name": request.user.display_name}}
    form = SocialWorkerForm(
        request.POST if request.method == "POST" else None, organisations=organisations, **extra
    )
    title = _("我的社工资料")
    if request.method == "POST":
        response = _save_social_worker(request, form, user=request.user, title=title, worker=worker)
        return response or redirect("social-worker-me")
    return _social_worker_form_response(request, form, title=title, worker=worker)


@login_required
def social_worker_create_view(request):
    """Agency staff register a social worker of their organisation."""
    require_role(request, {Role.AGENCY_STAFF})
    form = SocialWorkerForm(
        request.POST if request.method == "POST" else None,
        organisations=social_worker_organisations(user=request.user, role=Role.AGENCY_STAFF),
        candidates=social_worker_candidates(user=request.user),
    )
    title = _("登记社会工作者")
    if request.method == "POST":
        response = _save_social_worker(request, form, user=None, title=title)
        return response or redirect("social-worker-list")
    return _social_worker_form_response(request, form, title=title)


@login_required
def social_worker_edit_view(request, pk: int):
    """Agency staff edit a social worker of their organisation."""
    require_role(request, {Role.AGENCY_STAFF})
    worker = social_worker_get_for_staff(pk=pk, user=request.user)
    form = SocialWorkerForm(
        request.POST if request.method == "POST" else None,
        organisations=social_worker_organisations(user=request.user, role=Role.AGENCY_STAFF),
        worker=worker,
    )
    title = _("编辑社工资料：%(name)s") % {"name": worker.real_name}
    if request.method == "POST":
        response = _save_social_worker(request, form, user=worker.user, title=title, worker=worker)
        return response or redirect("social-worker-list")
    return _social_worker_form_response(request, form, title=title, worker=worker)


@login_required
@require_POST
def social_worker_deactivate_view(request, pk: int):
    """Agency staff mark a social worker as no longer serving."""
    require_role(request, {Role.AGENCY_STAFF})
    worker = social_worker_get_for_staff(pk=pk, user=request.user)
    try:
        social_worker_deactivate(social_worker=worker, by=request.user)
    except DomainError as exc:
        _refuse(exc)
        messages.error(request, exc.message)
        return redirect(reverse("social-worker-edit", args=[worker.pk]))
    messages.success(request, _("已将 %(name)s 标记为离职。") % {"name": worker.real_name})
    return redirect("social-worker-list")
