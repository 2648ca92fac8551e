"""Pages of the shared domain: the role-aware workbench and the organisation directory."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from marketplace.exceptions import InvalidState, NotPermitted
from marketplace.filters import OrganisationFilter
from marketplace.forms import OrganisationForm
from marketplace.models import Role
from marketplace.selectors import (
    area_list_for_user_creation,
    organisation_get_for_user,
    organisation_list_for_user,
    user_scope,
)
from marketplace.services import organisation_create, organisation_verify

PAGE_SIZE = 20


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
        },
    )


def organisation_list_view(request):
    """The organisation directory, filtered by kind, street, status and keyword."""
    base = organisation_list_for_user(user=request.user)
    filterset = OrganisationFilter(request.GET or None, queryset=base)
    status = 200
    if filterset.is_bound and not filterset.is_valid():
        status = 400
        queryset = base.none()
    else:
        queryset = filterset.qs
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "marketplace/organisation_list.html",
        {"filter": filterset, "page": page, "query": query.urlencode()},
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
