"""Pages of the shared domain: the role-aware workbench, the organisation directory, and
the assistance pages (online application, street window, discovery, cases, needs, open needs
for providers, referrals and monitoring warnings)."""

import uuid
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from marketplace.exceptions import DomainError, InvalidState, NotPermitted
from marketplace.exports import case_export, need_export
from marketplace.filters import (
    CaseFilter,
    NeedFilter,
    OrganisationFilter,
    PublicNeedFilter,
    ReferralFilter,
    WarningFilter,
)
from marketplace.forms import (
    ApplyForm,
    CaseRegisterForm,
    DiscoveryForm,
    MemberFormSet,
    NeedForm,
    NeedTransitionForm,
    OrganisationForm,
    ReferralActionForm,
    ReferralForm,
    RevealForm,
    VerifyForm,
    referral_departments,
)
from marketplace.models import CaseMember, Need, Referral, Role, SensitiveAccess, Warning
from marketplace.models.cases import Case
from marketplace.selectors import (
    CASE_STAFF_ROLES,
    area_list_for_user_creation,
    case_get_for_user,
    case_list_for_user,
    case_may_reveal,
    case_member_list,
    community_list_for_user,
    need_get_for_user,
    need_list_for_user,
    need_public_get,
    need_public_list,
    organisation_get_for_user,
    organisation_list_for_user,
    referral_get_for_user,
    referral_list_for_user,
    user_scope,
    warning_get_for_user,
    warning_list_for_user,
)
from marketplace.selectors.workbench import procurement_counts
from marketplace.services import (
    DuplicateSubmission,
    case_apply_online,
    case_candidate_verify,
    case_register,
    case_report_discovery,
    need_create,
    need_transition,
    organisation_create,
    organisation_verify,
    referral_accept,
    referral_complete,
    referral_return,
    referral_send,
    sensitive_reveal,
    warning_verify,
)

# The need lifecycle's actor rule lives in the service; the detail page offers exactly the
# steps it would accept.
from marketplace.services.cases import need_transitions_allowed
from marketplace.web import add_validation_error, error_text, filtered, page_of, require_role


@login_required
def workbench_view(request):
    """The page after login: what this user can do, by role."""
    scope = user_scope(user=request.user)
    pending = []
    if scope.has(Role.CIVIL_AFFAIRS_OFFICIAL):
        pending = list(organisation_list_for_user(user=request.user).filter(verified=False)[:10])
    can_register = scope.has(Role.CIVIL_AFFAIRS_OFFICIAL, Role.STREET_OFFICIAL)
    return render(
        request,
        "marketplace/workbench.html",
        {
            "scope": scope,
            "memberships": scope.memberships,
            "pending_organisations": pending,
            "can_register": can_register,
            "Role": Role,
            "counts": _workbench_counts(request.user, scope),
            "procurement": procurement_counts(user=request.user),
        },
    )


PROVIDER_ROLES = {Role.CHARITY_STAFF, Role.AGENCY_STAFF, Role.SOCIAL_WORKER, Role.VOLUNTEER}


def _workbench_counts(user, scope) -> dict:
    """The few numbers that tell each role what is waiting for them."""
    counts = {}
    if scope.has(Role.CIVIL_AFFAIRS_OFFICIAL, Role.STREET_OFFICIAL, Role.COMMUNITY_WORKER):
        counts["candidates"] = (
            case_list_for_user(user=user).filter(status=Case.Status.CANDIDATE).count()
        )
        counts["warnings"] = (
            warning_list_for_user(user=user).filter(status=Warning.Status.OPEN).count()
        )
    if scope.has(Role.CIVIL_AFFAIRS_OFFICIAL, Role.STREET_OFFICIAL):
        needs = need_list_for_user(user=user)
        counts["to_confirm"] = needs.filter(status=Need.Status.SUBMITTED).count()
        counts["overdue"] = needs.filter(
            urgency=Need.Urgency.EMERGENCY,
            status__in=Need.AWAITING_RESPONSE,
            response_deadline__lt=timezone.now(),
        ).count()
    if scope.has(Role.DEPARTMENT_STAFF):
        counts["referrals"] = (
            referral_list_for_user(user=user)
            .filter(
                department_id__in=scope.department_ids,
                status__in=[Referral.Status.SENT, Referral.Status.ACCEPTED],
            )
            .count()
        )
    if scope.has(Role.APPLICANT):
        counts["applications"] = need_list_for_user(user=user).filter(case__applicant=user).count()
    if scope.has(*PROVIDER_ROLES):
        counts["open_needs"] = need_public_list().count()
    return counts


def organisation_list_view(request):
    """The organisation directory, filtered by kind, street, status and keyword."""
    base = organisation_list_for_user(user=request.user)
    filterset = OrganisationFilter(request.GET or None, queryset=base)
    queryset, status = filtered(filterset)
    page, query = page_of(request, queryset)
    return render(
        request,
        "marketplace/organisation_list.html",
        {"filter": filterset, "page": page, "query": query},
        status=status,
    )


def organisation_detail_view(request, pk: int):
    """One organisation, if the user may see it."""
    organisation = organisation_get_for_user(organisation_id=pk, user=request.user)
    scope = user_scope(user=request.user)
    return render(
        request,
        "marketplace/organisation_detail.html",
        {
            "organisation": organisation,
            "can_verify": scope.has(Role.CIVIL_AFFAIRS_OFFICIAL) and not organisation.verified,
        },
    )


@login_required
def organisation_create_view(request):
    """Register an organisation (civil affairs anywhere, street officials in their street)."""
    areas = area_list_for_user_creation(user=request.user)
    if not areas.exists():
        raise PermissionDenied(_("只有区民政局或街道工作人员可以登记组织。"))
    form = OrganisationForm(request.POST or None, areas=areas)
    if request.method == "POST":
        if form.is_valid():
            try:
                organisation = organisation_create(created_by=request.user, **form.cleaned_data)
            except NotPermitted as exc:
                form.add_error(None, exc.message)
            except DjangoValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("组织已登记，等待区民政局认证。"))
                return redirect(organisation)
        return render(request, "marketplace/organisation_form.html", {"form": form}, status=400)
    return render(request, "marketplace/organisation_form.html", {"form": form})


@login_required
@require_POST
def organisation_verify_view(request, pk: int):
    """Civil affairs verifies an organisation."""
    organisation = organisation_get_for_user(organisation_id=pk, user=request.user)
    try:
        organisation_verify(organisation=organisation, verified_by=request.user)
    except NotPermitted as exc:
        raise PermissionDenied(exc.message) from exc
    except InvalidState as exc:
        messages.warning(request, exc.message)
    else:
        messages.success(request, _("已认证，组织成员将收到通知。"))
    return redirect(organisation)


# --- Assistance cases, needs, referrals and warnings ------------------------------------

# Who takes a household in at the window or reports one found on a visit.
INTAKE_ROLES = {Role.CIVIL_AFFAIRS_OFFICIAL, Role.STREET_OFFICIAL, Role.COMMUNITY_WORKER}
# Departments register too: their cases come in through the referral channel.
REGISTER_ROLES = INTAKE_ROLES | {Role.DEPARTMENT_STAFF}
# The warnings worklist: the community verifies; auditors read.
WARNING_ROLES = INTAKE_ROLES | {Role.AUDITOR}


# Online application (掌上办) ------------------------------------------------------------


@login_required
def apply_view(request):
    """An applicant applies online with an ID, a finance-check authorisation (一证一书) and
    the difficulty in their own words."""
    require_role(request, {Role.APPLICANT}, _("请使用申请人账号在线申请。"))
    communities = community_list_for_user(user=request.user)
    if request.method != "POST":
        form = ApplyForm(communities=communities, initial={"submission_key": uuid.uuid4()})
        return render(request, "marketplace/apply_form.html", {"form": form})
    form = ApplyForm(request.POST, request.FILES, communities=communities)
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        try:
            result = case_apply_online(
                applicant=request.user,
                id_number=data["id_number"],
                phone=data["phone"],
                community=data["community"],
                difficulty=data["difficulty"],
                kind=data["kind"],
                service_type=data["service_type"],
                finance_check_consent=data["finance_check_consent"],
                letter=data["letter"] or None,
                urgency=data["urgency"],
                amount=data["amount"],
                submission_key=data["submission_key"],
            )
        except DuplicateSubmission as exc:
            messages.warning(request, exc.message)
            return redirect(f"{reverse('my-applications')}#need-{exc.existing.pk}")
        except NotPermitted as exc:
            form.add_error(None, exc.message)
            status = 403
        except DomainError as exc:
            form.add_error(None, exc.message)
            status = 409 if isinstance(exc, InvalidState) else 400
        except DjangoValidationError as exc:
            add_validation_error(form, exc)
        else:
            messages.success(request, _("申请已提交，社区和街道将尽快审核。"))
            if result.linked:
                messages.info(
                    request,
                    _("您的家庭已在册（%(community)s），本次申请已并入原档案，无需重复提交材料。")
                    % {"community": result.case.community.name},
                )
            return redirect(f"{reverse('my-applications')}#need-{result.need.pk}")
    return render(request, "marketplace/apply_form.html", {"form": form}, status=status)


def _my_applications_response(request, status=200):
    needs = (
        need_list_for_user(user=request.user)
        .filter(case__applicant=request.user)
        .prefetch_related("transitions")
        .order_by("-created_at", "-pk")
    )
    return render(
        request,
        "marketplace/my_applications.html",
        {"needs": needs, "cancellable": {Need.Status.DRAFT, Need.Status.SUBMITTED}},
        status=status,
    )


@login_required
def my_applications_view(request):
    """An applicant's own applications, each with its status and timeline."""
    require_role(request, {Role.APPLICANT}, _("请使用申请人账号查看申请。"))
    return _my_applications_response(request)


# Intake at the window and by discovery -------------------------------------------------


def _redirect_to_case(request, case):
    """To the case when the user can see it, else to the case list (a household on file in
    another community is not opened to this worker). A need stands for its case."""
    if isinstance(case, Need):
        case = case.case
    if case_list_for_user(user=request.user).filter(pk=case.pk).exists():
        return redirect(case)
    return redirect("case-list")


@login_required
def case_register_view(request):
    """The street window (一门受理): household, members, consents and the need on one form."""
    require_role(request, REGISTER_ROLES, _("只有社区、街道、民政或部门工作人员可以登记。"))
    communities = community_list_for_user(user=request.user)
    if request.method != "POST":
        form = CaseRegisterForm(
            communities=communities,
            initial={"submission_key": uuid.uuid4(), "assets_within_rules": True},
        )
        members = MemberFormSet(prefix="members", initial=[{"relationship": "head"}])
        return render(request, "marketplace/case_register.html", {"form": form, "members": members})
    form = CaseRegisterForm(request.POST, communities=communities)
    members = MemberFormSet(request.POST, prefix="members")
    valid = form.is_valid()
    valid = members.is_valid() and valid
    status = 400
    if valid:
        data = form.cleaned_data
        try:
            result = case_register(
                created_by=request.user,
                community=data["community"],
                members=members.member_inputs(),
                phone=data["phone"],
                address=data["address"],
                category=data["category"],
                income_per_capita=data["income_per_capita"],
                assets_within_rules=data["assets_within_rules"],
                medical_expense_year=data["medical_expense_year"] or Decimal("0"),
                situation=data["situation"],
                guardian_name=data["guardian_name"],
                sensitive_consent_by=data["sensitive_consent_by"],
                need=form.need_input(),
                submission_key=data["submission_key"],
            )
        except DuplicateSubmission as exc:
            messages.warning(request, exc.message)
            return _redirect_to_case(request, exc.existing)
        except NotPermitted as exc:
            form.add_error(None, exc.message)
            status = 403
        except DomainError as exc:
            form.add_error(None, exc.message)
            status = 409 if isinstance(exc, InvalidState) else 400
        except DjangoValidationError as exc:
            add_validation_error(form, exc)
        else:
            if result.linked:
                messages.warning(
                    request,
                    _("该家庭已在册（%(community)s），需求已并入原档案，未重复建档。")
                    % {"community": result.case.community.name},
                )
            else:
                messages.success(request, _("已登记，需求已提交街道审核。"))
            return _redirect_to_case(request, result.case)
    return render(
        request,
        "marketplace/case_register.html",
        {"form": form, "members": members},
        status=status,
    )


@login_required
def case_discover_view(request):
    """A worker reports a household found in need on a visit (主动发现)."""
    require_role(request, INTAKE_ROLES, _("只有社区、街道或民政工作人员可以上报。"))
    communities = community_list_for_user(user=request.user)
    if request.method != "POST":
        form = DiscoveryForm(communities=communities, initial={"submission_key": uuid.uuid4()})
        return render(request, "marketplace/case_discover.html", {"form": form})
    form = DiscoveryForm(request.POST, communities=communities)
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        try:
            result = case_report_discovery(
                reported_by=request.user,
                community=data["community"],
                head_name=data["head_name"],
                id_number=data["id_number"],
                situation=data["situation"],
                phone=data["phone"],
                address=data["address"],
                submission_key=data["submission_key"],
            )
        except DuplicateSubmission as exc:
            messages.warning(request, exc.message)
            return _redirect_to_case(request, exc.existing)
        except NotPermitted as exc:
            form.add_error(None, exc.message)
            status = 403
        except DomainError as exc:
            form.add_error(None, exc.message)
            status = 409 if isinstance(exc, InvalidState) else 400
        except DjangoValidationError as exc:
            add_validation_error(form, exc)
        else:
            if result.linked:
                messages.warning(
                    request,
                    _("该家庭已在册（%(community)s），无需重复上报。")
                    % {"community": result.case.community.name},
                )
            else:
                messages.success(
                    request,
                    _("已上报，请在%(days)s日内入户核实。")
                    % {"days": settings.DISCOVERY_VERIFY_DAYS},
                )
            return _redirect_to_case(request, result.case)
    return render(request, "marketplace/case_discover.html", {"form": form}, status=status)


# Cases ---------------------------------------------------------------------------------


def _cases_with_heads(user):
    return case_list_for_user(user=user).prefetch_related(
        Prefetch(
            "members",
            queryset=CaseMember.objects.filter(relationship=CaseMember.Relationship.HEAD),
            to_attr="heads",
        )
    )


@login_required
def case_list_view(request, export=False):
    """Households on file in the user's scope, filtered; or the same rows as Excel."""
    require_role(request, CASE_STAFF_ROLES)
    filterset = CaseFilter(request.GET or None, queryset=_cases_with_heads(request.user))
    queryset, status = filtered(filterset)
    if export and status == 200:
        return case_export(queryset)
    page, query = page_of(request, queryset)
    return render(
        request,
        "marketplace/case_list.html",
        {
            "filter": filterset,
            "page": page,
            "query": query,
            "can_register": user_scope(user=request.user).has(*REGISTER_ROLES),
        },
        status=status,
    )


def _case_detail_response(request, case, *, status=200, **forms_):
    can_act = case_may_reveal(case=case, user=request.user)
    context = {
        "case": case,
        "members": case_member_list(case=case),
        "consents": case.consents.select_related("member"),
        "needs": case.needs.select_related("service_type"),
        "referrals": case.referrals.select_related("department", "sent_by"),
        "warnings": case.warnings.select_related("member"),
        # Those who may see the full values are the case's own staff (community, street,
        # civil affairs): the same people the services let act on it.
        "may_reveal": can_act,
        "can_act": can_act,
        "verify_form": forms_.get("verify_form") or VerifyForm(),
        "referral_form": forms_.get("referral_form") or ReferralForm(),
    }
    return render(request, "marketplace/case_detail.html", context, status=status)


@login_required
def case_detail_view(request, pk: int):
    """One household: members (masked), consents, needs, referrals and warnings."""
    require_role(request, CASE_STAFF_ROLES)
    case = case_get_for_user(case_id=pk, user=request.user)
    return _case_detail_response(request, case)


@never_cache
@login_required
@require_POST
def case_reveal_view(request, pk: int):
    """Show one full ID number or the phone, once, on this response only; audit-logged."""
    require_role(request, CASE_STAFF_ROLES)
    case = case_get_for_user(case_id=pk, user=request.user)
    if not case_may_reveal(case=case, user=request.user):
        raise PermissionDenied(_("您的角色不能查看完整的敏感信息。"))
    form = RevealForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return _case_detail_response(request, case, status=400)
    member = None
    if form.cleaned_data["field"] == SensitiveAccess.Field.ID_NUMBER:
        member = case_member_list(case=case).filter(pk=form.cleaned_data["member"]).first()
    try:
        value = sensitive_reveal(
            case=case,
            by=request.user,
            field=form.cleaned_data["field"],
            reason=form.cleaned_data["reason"],
            member=member,
        )
    except NotPermitted as exc:
        raise PermissionDenied(exc.message) from exc
    except (DjangoValidationError, InvalidState) as exc:
        messages.error(request, error_text(exc))
        return _case_detail_response(
            request, case, status=409 if isinstance(exc, InvalidState) else 400
        )
    return render(
        request,
        "marketplace/case_reveal.html",
        {"case": case, "member": member, "field": form.cleaned_data["field"], "value": value},
    )


def _domain_failure(request, exc, respond):
    """Turn a refused action into its response: 403, or the page again with the message
    (409 for a wrong state, 400 for bad input)."""
    if isinstance(exc, NotPermitted):
        raise PermissionDenied(exc.message) from exc
    messages.error(request, error_text(exc))
    return respond(409 if isinstance(exc, InvalidState) else 400)


@login_required
@require_POST
def case_verify_view(request, pk: int):
    """The community records what the visit to a discovered household found."""
    require_role(request, CASE_STAFF_ROLES)
    case = case_get_for_user(case_id=pk, user=request.user)
    form = VerifyForm(request.POST)
    if not form.is_valid():
        return _case_detail_response(request, case, status=400, verify_form=form)
    try:
        case_candidate_verify(
            case=case, by=request.user, confirmed=form.is_confirmed, note=form.cleaned_data["note"]
        )
    except (DomainError, DjangoValidationError) as exc:
        return _domain_failure(
            request, exc, lambda s: _case_detail_response(request, case, status=s)
        )
    messages.success(request, _("核实结果已记录。"))
    return redirect(case)


@login_required
@require_POST
def referral_create_view(request, pk: int):
    """Refer a case to a department (转介)."""
    require_role(request, CASE_STAFF_ROLES)
    case = case_get_for_user(case_id=pk, user=request.user)
    form = ReferralForm(request.POST)
    if not form.is_valid():
        return _case_detail_response(request, case, status=400, referral_form=form)
    try:
        referral = referral_send(case=case, by=request.user, **form.cleaned_data)
    except (DomainError, DjangoValidationError) as exc:
        return _domain_failure(
            request, exc, lambda s: _case_detail_response(request, case, status=s)
        )
    messages.success(
        request, _("已转介至%(department)s。") % {"department": referral.department.name}
    )
    return redirect(case)


@login_required
def need_create_view(request, pk: int):
    """Add a need to a household on file."""
    require_role(request, INTAKE_ROLES, _("只有社区、街道或民政工作人员可以登记需求。"))
    case = case_get_for_user(case_id=pk, user=request.user)
    if request.method != "POST":
        form = NeedForm(initial={"submission_key": uuid.uuid4(), "submit": True})
        return render(request, "marketplace/need_form.html", {"form": form, "case": case})
    form = NeedForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            need = need_create(
                case=case,
                created_by=request.user,
                spec=form.need_input(),
                submit=form.cleaned_data["submit"],
                submission_key=form.cleaned_data["submission_key"],
            )
        except DuplicateSubmission as exc:
            messages.warning(request, exc.message)
            return redirect(exc.existing)
        except NotPermitted as exc:
            raise PermissionDenied(exc.message) from exc
        except DomainError as exc:
            form.add_error(None, exc.message)
            status = 409 if isinstance(exc, InvalidState) else 400
        except DjangoValidationError as exc:
            add_validation_error(form, exc)
        else:
            messages.success(request, _("需求已登记。"))
            return redirect(need)
    return render(
        request, "marketplace/need_form.html", {"form": form, "case": case}, status=status
    )


# Needs ---------------------------------------------------------------------------------


def _with_countdown(needs, now):
    """Hours left to respond to each waiting emergency, or hours past its deadline."""
    for need in needs:
        need.hours_left = need.hours_over = None
        if need.awaiting_response and need.response_deadline:
            hours = (need.response_deadline - now).total_seconds() / 3600
            if hours >= 0:
                need.hours_left = hours
            else:
                need.hours_over = -hours
        need.escalation_label = Need.ESCALATION_LABELS.get(need.escalation_level, "")
    return needs


@login_required
def need_list_view(request, export=False):
    """Needs of the households in the user's scope; emergencies show their countdown."""
    require_role(request, CASE_STAFF_ROLES)
    filterset = NeedFilter(request.GET or None, queryset=need_list_for_user(user=request.user))
    queryset, status = filtered(filterset)
    if export and status == 200:
        return need_export(queryset)
    page, query = page_of(request, queryset)
    _with_countdown(page.object_list, timezone.now())
    return render(
        request,
        "marketplace/need_list.html",
        {"filter": filterset, "page": page, "query": query},
        status=status,
    )


def _need_detail_response(request, need, *, status=200):
    _with_countdown([need], timezone.now())
    allowed = need_transitions_allowed(need=need, user=request.user)
    return render(
        request,
        "marketplace/need_detail.html",
        {
            "need": need,
            "transitions": need.transitions.select_related("by"),
            "escalations": need.escalations.all(),
            "allowed": [(s, Need.Status(s).label) for s in allowed],
            "describe_on": {Need.Status.CONFIRMED, Need.Status.OPEN},
            "reason_required": {Need.Status.REJECTED, Need.Status.CANCELLED},
        },
        status=status,
    )


@login_required
def need_detail_view(request, pk: int):
    """One need, its history and the steps the user may take."""
    require_role(request, CASE_STAFF_ROLES)
    need = need_get_for_user(need_id=pk, user=request.user)
    return _need_detail_response(request, need)


@login_required
@require_POST
def need_transition_view(request, pk: int):
    """Move a need one step along its lifecycle (staff, or the applicant withdrawing)."""
    need = need_get_for_user(need_id=pk, user=request.user)
    staff = user_scope(user=request.user).has(*CASE_STAFF_ROLES)

    def respond(status):
        if staff:
            return _need_detail_response(request, need, status=status)
        return _my_applications_response(request, status=status)

    form = NeedTransitionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("未知的需求状态。"))
        return respond(400)
    described = "public_description" in request.POST
    try:
        need_transition(
            need=need,
            to=form.cleaned_data["to"],
            by=request.user,
            reason=form.cleaned_data["reason"],
            public_description=form.cleaned_data["public_description"] if described else None,
        )
    except (DomainError, DjangoValidationError) as exc:
        return _domain_failure(request, exc, respond)
    messages.success(
        request,
        _("需求状态已改为“%(status)s”。") % {"status": Need.Status(form.cleaned_data["to"]).label},
    )
    return redirect(need if staff else reverse("my-applications"))


@login_required
def need_open_list_view(request):
    """Open needs as providers see them: de-identified, no household behind them."""
    filterset = PublicNeedFilter(request.GET or None, queryset=need_public_list())
    queryset, status = filtered(filterset)
    page, query = page_of(request, queryset)
    return render(
        request,
        "marketplace/need_open_list.html",
        {"filter": filterset, "page": page, "query": query},
        status=status,
    )


@login_required
def need_open_detail_view(request, pk: int):
    """One open need, de-identified."""
    need = need_public_get(need_id=pk)
    return render(request, "marketplace/need_open_detail.html", {"need": need})


# Referrals -----------------------------------------------------------------------------


def _referral_list_response(request, *, status=200):
    filterset = ReferralFilter(
        request.GET or None, queryset=referral_list_for_user(user=request.user)
    )
    filterset.form.fields["department"].queryset = referral_departments()
    queryset, filter_status = filtered(filterset)
    page, query = page_of(request, queryset)
    return render(
        request,
        "marketplace/referral_list.html",
        {
            "filter": filterset,
            "page": page,
            "query": query,
            "my_departments": user_scope(user=request.user).department_ids,
            "Status": Referral.Status,
        },
        status=max(status, filter_status),
    )


@login_required
def referral_list_view(request):
    """Referrals received by the user's department, or sent from cases in scope."""
    require_role(request, CASE_STAFF_ROLES)
    return _referral_list_response(request)


REFERRAL_ACTIONS = {
    "accept": lambda referral, by, outcome: referral_accept(referral=referral, by=by),
    "complete": lambda referral, by, outcome: referral_complete(
        referral=referral, by=by, outcome=outcome
    ),
    "return": lambda referral, by, outcome: referral_return(
        referral=referral, by=by, reason=outcome
    ),
}


@login_required
@require_POST
def referral_action_view(request, pk: int, action: str):
    """The receiving department accepts, completes or returns a referral."""
    require_role(request, CASE_STAFF_ROLES)
    if action not in REFERRAL_ACTIONS:
        raise Http404
    referral = referral_get_for_user(referral_id=pk, user=request.user)
    form = ReferralActionForm(request.POST)
    outcome = form.cleaned_data["outcome"] if form.is_valid() else ""
    try:
        REFERRAL_ACTIONS[action](referral, request.user, outcome)
    except (DomainError, DjangoValidationError) as exc:
        return _domain_failure(request, exc, lambda s: _referral_list_response(request, status=s))
    messages.success(request, _("转介已更新，转介人将收到通知。"))
    return redirect("referral-list")


# Monitoring warnings -------------------------------------------------------------------


def _warning_list_response(request, *, status=200):
    data = request.GET.copy()
    data.setdefault("status", Warning.Status.OPEN)
    filterset = WarningFilter(data, queryset=warning_list_for_user(user=request.user))
    queryset, filter_status = filtered(filterset)
    page, query = page_of(request, queryset)
    return render(
        request,
        "marketplace/warning_list.html",
        {
            "filter": filterset,
            "page": page,
            "query": query,
            "can_verify": user_scope(user=request.user).has(*INTAKE_ROLES),
            "OPEN": Warning.Status.OPEN,
        },
        status=max(status, filter_status),
    )


@login_required
def warning_list_view(request):
    """The dynamic-monitoring worklist; open warnings first by default."""
    require_role(request, WARNING_ROLES)
    return _warning_list_response(request)


@login_required
@require_POST
def warning_verify_view(request, pk: int):
    """The community records what a visit found about a warning."""
    require_role(request, WARNING_ROLES)
    warning = warning_get_for_user(warning_id=pk, user=request.user)
    form = VerifyForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请选择核实结果并填写核实情况。"))
        return _warning_list_response(request, status=400)
    try:
        warning_verify(
            warning=warning,
            by=request.user,
            confirmed=form.is_confirmed,
            note=form.cleaned_data["note"],
        )
    except (DomainError, DjangoValidationError) as exc:
        return _domain_failure(request, exc, lambda s: _warning_list_response(request, status=s))
    messages.success(request, _("核实结果已记录。"))
    return redirect("warning-list")
