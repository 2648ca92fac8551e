"""Pages of 社工 + 志愿者 teams: the list, forming a team, the room (which also works without
its socket, through the plain form posts here), and managing members."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from marketplace.selectors.directory import user_scope
from marketplace.web import error_text, filtered, page_of
from volunteers.exceptions import DomainError, InvalidState, NotPermitted, RateLimited
from volunteers.forms.teams import (
    TeamCreateForm,
    TeamFilter,
    TeamMemberAddForm,
    TeamMessageForm,
    TeamTaskForm,
)
from volunteers.models import Team, TeamMember
from volunteers.selectors.teams import (
    TEAM_ROLES,
    team_checkin_list,
    team_get_for_user,
    team_is_member,
    team_last_event_id,
    team_leader_choices_for_user,
    team_list_for_user,
    team_may_manage,
    team_member_list,
    team_message_list,
    team_task_get_for_user,
    team_task_list,
    team_volunteer_candidates,
)
from volunteers.services.teams import (
    team_close,
    team_create,
    team_member_add,
    team_member_remove,
    team_message_post,
    team_presence_online,
    team_rate_check,
    team_task_claim,
    team_task_complete,
    team_task_create,
    team_task_release,
)


def _require_role(request) -> None:
    """403 for a role that has nothing to do with teams."""
    if not user_scope(user=request.user).has(*TEAM_ROLES):
        raise PermissionDenied(_("您的角色不能访问团队页面。"))


def _status_for(exc: Exception) -> int:
    if isinstance(exc, RateLimited):
        return 429
    if isinstance(exc, InvalidState):
        return 409
    return 400


def _street_ids_of(team_or_leader_organisations) -> set[int] | None:
    streets = {o.street_id for o in team_or_leader_organisations}
    return None if None in streets else streets


# --- List and forming --------------------------------------------------------------------


@login_required
def team_list_view(request):
    """My teams (members) or the teams I oversee, filtered and paged."""
    _require_role(request)
    base = team_list_for_user(user=request.user)
    filterset = TeamFilter(request.GET or None, queryset=base)
    queryset, status = filtered(filterset)
    page, query = page_of(request, queryset)
    return render(
        request,
        "volunteers/teams/team_list.html",
        {
            "filter": filterset,
            "page": page,
            "query": query,
            "can_create": team_leader_choices_for_user(user=request.user).exists(),
        },
        status=status,
    )


@login_required
def team_create_view(request):
    """Form a team: a leading social worker and volunteers of the organisation's street."""
    _require_role(request)
    leaders = team_leader_choices_for_user(user=request.user)
    leader_list = list(leaders)
    if not leader_list:
        raise PermissionDenied(_("您没有可以带队的社工，不能组建团队。"))
    volunteers = team_volunteer_candidates(
        street_ids=_street_ids_of(sw.organisation for sw in leader_list)
    )
    form = TeamCreateForm(request.POST or None, leaders=leaders, volunteers=volunteers)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                team = team_create(
                    by=request.user,
                    name=data["name"],
                    leader=data["leader"],
                    need=data["need"],
                    contract=data["contract"],
                    purpose=data["purpose"],
                    volunteers=data["volunteers"],
                )
            except NotPermitted as exc:
                raise PermissionDenied(exc.message) from exc
            except (DomainError, DjangoValidationError) as exc:
                form.add_error(None, error_text(exc))
            else:
                messages.success(request, _("团队已组建。"))
                return redirect(team)
        return render(request, "volunteers/teams/team_form.html", {"form": form}, status=400)
    return render(request, "volunteers/teams/team_form.html", {"form": form})


# --- The room ----------------------------------------------------------------------------


def _short_time(value) -> str:
    if isinstance(value, str):
        try:
            value = parse_datetime(value)
        except ValueError:
            value = None
    if value is None:
        return ""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return value.strftime("%m-%d %H:%M")


def _checkin_rows(events) -> list[dict]:
    rows = []
    for event in events:
        p = event.payload
        rows.append(
            {
                "id": event.pk,
                "name": p.get("name") or p.get("display_name") or p.get("user") or "",
                "action": p.get("action", ""),
                "at": _short_time(p.get("at") or p.get("time")) or _short_time(event.created_at),
                "opportunity": p.get("opportunity_title") or p.get("opportunity") or "",
            }
        )
    return rows


def _room_response(request, team, *, status=200, message_form=None, task_form=None):
    # Read the last id before the rows: the page may then replay something it already
    # shows (the script skips it), never miss something.
    last_event_id = team_last_event_id(team=team)
    is_member = team_is_member(team=team, user=request.user)
    members = list(team_member_list(team=team))
    online = set(team_presence_online(team_id=team.pk)) if members else set()
    context = {
        "team": team,
        "is_member": is_member,
        "is_active": team.status == Team.Status.ACTIVE,
        "may_manage": team_may_manage(team=team, user=request.user),
        "members": members,
        "online": online,
        "messages_list": team_message_list(team=team),
        "tasks": team_task_list(team=team),
        "checkins": _checkin_rows(team_checkin_list(team=team)),
        "last_event_id": last_event_id,
        "message_form": message_form or TeamMessageForm(),
        "task_form": task_form or TeamTaskForm(),
        "me": request.user.pk,
    }
    return render(request, "volunteers/teams/team_room.html", context, status=status)


@login_required
def team_room_view(request, pk: int):
    """The room: messages, task board, who is online and the check-in feed."""
    _require_role(request)
    team = team_get_for_user(team_id=pk, user=request.user)
    return _room_response(request, team)


def _room_failure(request, team, exc, **forms_):
    if isinstance(exc, NotPermitted):
        raise PermissionDenied(exc.message) from exc
    messages.error(request, error_text(exc))
    return _room_response(request, team, status=_status_for(exc), **forms_)


@login_required
@require_POST
def team_message_post_view(request, pk: int):
    """Post a message without the socket (the same service the socket uses)."""
    _require_role(request)
    team = team_get_for_user(team_id=pk, user=request.user)
    form = TeamMessageForm(request.POST)
    if not form.is_valid():
        return _room_response(request, team, status=400, message_form=form)
    try:
        team_rate_check(team_id=team.pk, user_id=request.user.pk)
        team_message_post(team=team, by=request.user, body=form.cleaned_data["body"])
    except (DomainError, DjangoValidationError) as exc:
        return _room_failure(request, team, exc, message_form=form)
    return redirect(f"{team.get_absolute_url()}#messages")


@login_required
@require_POST
def team_task_create_view(request, pk: int):
    """Put a task on the board without the socket."""
    _require_role(request)
    team = team_get_for_user(team_id=pk, user=request.user)
    form = TeamTaskForm(request.POST)
    if not form.is_valid():
        return _room_response(request, team, status=400, task_form=form)
    try:
        team_rate_check(team_id=team.pk, user_id=request.user.pk)
        team_task_create(team=team, by=request.user, **form.cleaned_data)
    except (DomainError, DjangoValidationError) as exc:
        return _room_failure(request, team, exc, task_form=form)
    return redirect(f"{team.get_absolute_url()}#tasks")


TASK_ACTIONS = {
    "claim": team_task_claim,
    "release": team_task_release,
    "complete": team_task_complete,
}


@login_required
@require_POST
def team_task_action_view(request, pk: int, action: str):
    """Claim, release or complete a task without the socket."""
    _require_role(request)
    if action not in TASK_ACTIONS:
        raise Http404
    task = team_task_get_for_user(task_id=pk, user=request.user)
    team = team_get_for_user(team_id=task.team_id, user=request.user)
    try:
        team_rate_check(team_id=team.pk, user_id=request.user.pk)
        TASK_ACTIONS[action](task=task, by=request.user)
    except (DomainError, DjangoValidationError) as exc:
        return _room_failure(request, team, exc)
    return redirect(f"{team.get_absolute_url()}#tasks")


# --- Members -----------------------------------------------------------------------------


def _members_response(request, team, *, status=200, form=None):
    may_manage = team_may_manage(team=team, user=request.user)
    candidates = team_volunteer_candidates(
        street_ids=_street_ids_of([team.organisation]), exclude_team=team
    )
    context = {
        "team": team,
        "members": team_member_list(team=team),
        "may_manage": may_manage and team.status == Team.Status.ACTIVE,
        "form": form or TeamMemberAddForm(volunteers=candidates),
        "LEADER": TeamMember.Role.LEADER,
    }
    return render(request, "volunteers/teams/team_members.html", context, status=status)


@login_required
def team_members_view(request, pk: int):
    """The team's members; its leader and organisation staff add volunteers and remove
    members here."""
    _require_role(request)
    team = team_get_for_user(team_id=pk, user=request.user)
    if request.method != "POST":
        return _members_response(request, team)
    if not team_may_manage(team=team, user=request.user):
        raise PermissionDenied(_("只有带队社工或所属机构工作人员可以管理团队成员。"))
    candidates = team_volunteer_candidates(
        street_ids=_street_ids_of([team.organisation]), exclude_team=team
    )
    try:
        if "remove" in request.POST:
            member = (
                team_member_list(team=team).filter(user_id=request.POST.get("remove")).first()
                if request.POST.get("remove", "").isdigit()
                else None
            )
            if member is None:
                messages.error(request, _("请选择团队中的成员。"))
                return _members_response(request, team, status=400)
            team_member_remove(team=team, by=request.user, user=member.user)
            messages.success(request, _("已将 %(name)s 移出团队。") % {"name": member.user})
        else:
            form = TeamMemberAddForm(request.POST, volunteers=candidates)
            if not form.is_valid():
                return _members_response(request, team, status=400, form=form)
            volunteer = form.cleaned_data["volunteer"]
            team_member_add(
                team=team, by=request.user, user=volunteer.user, role=TeamMember.Role.VOLUNTEER
            )
            messages.success(request, _("已将 %(name)s 加入团队。") % {"name": volunteer})
    except NotPermitted as exc:
        raise PermissionDenied(exc.message) from exc
    except (DomainError, DjangoValidationError) as exc:
        messages.error(request, error_text(exc))
        return _members_response(request, team, status=_status_for(exc))
    return redirect("team-members", pk=team.pk)


@login_required
@require_POST
def team_close_view(request, pk: int):
    """End the team's work (leader or organisation staff)."""
    _require_role(request)
    team = team_get_for_user(team_id=pk, user=request.user)
    try:
        team_close(team=team, by=request.user)
    except NotPermitted as exc:
        raise PermissionDenied(exc.message) from exc
    except DomainError as exc:
        messages.error(request, error_text(exc))
        return _room_response(request, team, status=_status_for(exc))
    messages.success(request, _("团队已结束服务。"))
    return redirect(team)
