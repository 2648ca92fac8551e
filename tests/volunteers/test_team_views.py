"""Team pages: the list, forming a team, the room and its HTTP fallbacks, managing members.
Each is tried by the roles it serves, refused to others and to other organisations, fed bad
input, and counted for queries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from marketplace.models import Role
from tests import factories as f
from tests.volunteers.test_team_services import build_team, new_volunteer
from volunteers.models import Team, TeamMember, TeamMessage, TeamTask
from volunteers.services.teams import (
    TEAM_RATE_LIMIT,
    team_message_post,
    team_task_claim,
    team_task_create,
)

pytestmark = pytest.mark.django_db

# A fixed instant well inside one rate-limit window, so slow runs do not cross into the next.
RATE_WINDOW_START = datetime(2025, 6, 2, 9, 0, 3, tzinfo=UTC)

REFUSED_ROLES = [Role.APPLICANT, Role.CHARITY_STAFF, Role.AUDITOR, Role.DEPARTMENT_STAFF]


@pytest.fixture
def t(world):
    return build_team(world)


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


# --- List --------------------------------------------------------------------------------


def test_team_list_by_role_and_scope(world, t, login):
    url = reverse("team-list")
    member = t.volunteers[0]
    seen = lambda user: login(user).get(url).content.decode()  # noqa: E731
    assert t.team.name in seen(member)
    assert t.team.name in seen(t.leader_user)
    assert t.team.name in seen(world.users[Role.STREET_OFFICIAL])
    assert t.team.name in seen(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    assert t.team.name in seen(f.user("zhanwu", Role.AGENCY_STAFF, world.station))
    # other street, other agency, a volunteer not in the team
    assert t.team.name not in seen(world.street_official2)
    assert t.team.name not in seen(world.users[Role.AGENCY_STAFF])
    assert t.team.name not in seen(world.users[Role.VOLUNTEER])


@pytest.mark.parametrize("role", REFUSED_ROLES)
def test_team_pages_refuse_other_roles(world, t, login, role):
    client = login(world.users[role])
    assert client.get(reverse("team-list")).status_code == 403
    assert client.get(reverse("team-create")).status_code == 403
    assert client.get(t.team.get_absolute_url()).status_code == 403
    assert (
        client.post(reverse("team-message-post", args=[t.team.pk]), {"body": "x"}).status_code
        == 403
    )


def test_anonymous_is_sent_to_login(client, t):
    response = client.get(reverse("team-list"))
    assert response.status_code == 302 and "login" in response["Location"]


def test_team_list_filters_and_bad_filter(world, t, login):
    client = login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    other = build_team(world, volunteers=0)
    Team.objects.filter(pk=other.team.pk).update(name="胜利路帮扶队", status="closed")
    body = client.get(reverse("team-list"), {"q": "助老"}).content.decode()
    assert t.team.name in body and "胜利路帮扶队" not in body
    body = client.get(reverse("team-list"), {"status": "closed"}).content.decode()
    assert t.team.name not in body and "胜利路帮扶队" in body
    assert client.get(reverse("team-list"), {"status": "nonsense"}).status_code == 400


def test_team_list_query_count_is_constant(world, login):
    client = login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    build_team(world, volunteers=1)
    few = _count(client, reverse("team-list"))
    for _ in range(6):
        build_team(world, volunteers=2)
    assert _count(client, reverse("team-list")) == few
    member_client = login(world.users[Role.SOCIAL_WORKER])
    assert _count(member_client, reverse("team-list")) <= few + 2


# --- Forming -----------------------------------------------------------------------------


def test_social_worker_forms_a_team(world, login):
    leader_user = world.users[Role.SOCIAL_WORKER]
    leader = f.social_worker(leader_user, world.station, real_name="李社工")
    v1, v2 = new_volunteer(world), new_volunteer(world)
    far = new_volunteer(world, community=world.community2)
    client = login(leader_user)
    page = client.get(reverse("team-create")).content.decode()
    assert v1.volunteer.real_name in page and far.volunteer.real_name not in page
    response = client.post(
        reverse("team-create"),
        {
            "name": "明光路探访队",
            "leader": leader.pk,
            "purpose": "每周探访",
            "volunteers": [v1.volunteer.pk, v2.volunteer.pk],
        },
    )
    team = Team.objects.get()
    assert response.status_code == 302 and response["Location"] == team.get_absolute_url()
    assert set(team.members.values_list("user_id", flat=True)) == {leader_user.pk, v1.pk, v2.pk}


def test_forming_a_team_with_bad_input_changes_nothing(world, login):
    leader_user = world.users[Role.SOCIAL_WORKER]
    leader = f.social_worker(leader_user, world.station)
    far = new_volunteer(world, community=world.community2)
    other_leader = f.social_worker(
        f.user("waijigou", Role.SOCIAL_WORKER, world.agency), world.agency
    )
    client = login(leader_user)
    for data in [
        {"name": "", "leader": leader.pk},
        {"name": "队", "leader": other_leader.pk},  # not a leader this user may name
        {"name": "队", "leader": leader.pk, "volunteers": [far.volunteer.pk]},
        {"name": "队" * 81, "leader": leader.pk},
        {"name": "队", "leader": "abc"},
    ]:
        assert client.post(reverse("team-create"), data).status_code == 400
    assert not Team.objects.exists()


def test_volunteer_without_a_leader_cannot_form_a_team(world, login):
    client = login(world.users[Role.VOLUNTEER])
    assert client.get(reverse("team-create")).status_code == 403


# --- Room --------------------------------------------------------------------------------


def test_member_sees_the_live_room(world, t, login):
    team_message_post(team=t.team, by=t.volunteers[0], body="我到了")
    team_task_create(team=t.team, by=t.leader_user, title="买药")
    response = login(t.volunteers[1]).get(t.team.get_absolute_url())
    body = response.content.decode()
    assert response.status_code == 200
    assert "我到了" in body and "买药" in body
    assert 'data-live="1"' in body and "js/team_room.js" in body
    last = t.team.events.order_by("pk").last().pk
    assert f'data-last-event="{last}"' in body
    assert reverse("team-message-post", args=[t.team.pk]) in body


def test_overseer_reads_the_room_without_forms_and_outsiders_get_404(world, t, login):
    body = login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL]).get(t.team.get_absolute_url())
    assert body.status_code == 200
    assert 'data-live="0"' in body.content.decode()
    assert reverse("team-message-post", args=[t.team.pk]) not in body.content.decode()
    for outsider in [
        world.street_official2,
        world.users[Role.AGENCY_STAFF],
        world.users[Role.VOLUNTEER],
    ]:
        client = login(outsider)
        assert client.get(t.team.get_absolute_url()).status_code == 404
        assert client.get(reverse("team-members", args=[t.team.pk])).status_code == 404


def test_room_query_count_is_constant(world, t, login):
    client = login(t.volunteers[0])
    url = t.team.get_absolute_url()
    few = _count(client, url)
    for i in range(8):
        team_message_post(team=t.team, by=t.volunteers[i % 2], body=f"消息{i}")
        task = team_task_create(team=t.team, by=t.leader_user, title=f"任务{i}")
        if i % 2:
            team_task_claim(task=task, by=t.leader_user)
    for _ in range(3):
        user = new_volunteer(world)
        TeamMember.objects.create(team=t.team, user=user, role="volunteer")
    assert _count(client, url) == few


# --- HTTP fallbacks ----------------------------------------------------------------------


def test_message_post_over_http(world, t, login):
    client = login(t.volunteers[0])
    url = reverse("team-message-post", args=[t.team.pk])
    response = client.post(url, {"body": "  下午三点集合  "})
    assert response.status_code == 302
    assert TeamMessage.objects.get().body == "下午三点集合"
    for bad in ["", "   ", "字" * 1001]:
        response = client.post(url, {"body": bad})
        assert response.status_code == 400
        assert "消息" in response.content.decode()
    assert TeamMessage.objects.count() == 1
    assert client.get(url).status_code == 405


def test_message_post_refused_outside_membership(world, t, login):
    url = reverse("team-message-post", args=[t.team.pk])
    # in scope but not a member: the room is read-only
    assert login(world.users[Role.STREET_OFFICIAL]).post(url, {"body": "你好"}).status_code == 403
    assert login(world.street_official2).post(url, {"body": "你好"}).status_code == 404
    assert not TeamMessage.objects.exists()


@time_machine.travel(RATE_WINDOW_START, tick=False)
def test_http_posts_are_rate_limited(world, t, login):
    client = login(t.volunteers[0])
    url = reverse("team-message-post", args=[t.team.pk])
    for i in range(TEAM_RATE_LIMIT):
        assert client.post(url, {"body": f"第{i}条"}).status_code == 302
    response = client.post(url, {"body": "再一条"})
    assert response.status_code == 429 and "频繁" in response.content.decode()
    assert TeamMessage.objects.count() == TEAM_RATE_LIMIT


def test_tasks_over_http(world, t, login):
    first, second = t.volunteers
    client = login(first)
    response = client.post(
        reverse("team-task-create", args=[t.team.pk]), {"title": "陪同就医", "description": ""}
    )
    assert response.status_code == 302
    task = TeamTask.objects.get()
    assert (
        client.post(reverse("team-task-create", args=[t.team.pk]), {"title": ""}).status_code == 400
    )
    bad_due = {"title": "x", "due_at": "明天"}
    assert client.post(reverse("team-task-create", args=[t.team.pk]), bad_due).status_code == 400
    assert TeamTask.objects.count() == 1
    action = lambda name: reverse("team-task-action", args=[task.pk, name])  # noqa: E731
    assert client.post(action("claim")).status_code == 302
    other = login(second)
    assert other.post(action("complete")).status_code == 403  # someone else's task
    assert other.post(action("claim")).status_code == 409  # already claimed
    assert other.post(action("explode")).status_code == 404
    task.refresh_from_db()
    assert task.status == "claimed" and task.claimed_by == first
    assert login(first).post(action("complete")).status_code == 302
    task.refresh_from_db()
    assert task.status == "done"
    assert login(world.street_official2).post(action("claim")).status_code == 404


# --- Members -----------------------------------------------------------------------------


def test_leader_manages_members(world, t, login):
    client = login(t.leader_user)
    url = reverse("team-members", args=[t.team.pk])
    newcomer = new_volunteer(world, name="赵志愿")
    far = new_volunteer(world, community=world.community2, name="孙远方")
    page = client.get(url).content.decode()
    assert "赵志愿" in page and "孙远方" not in page
    assert client.post(url, {"volunteer": newcomer.volunteer.pk}).status_code == 302
    assert TeamMember.objects.filter(team=t.team, user=newcomer, active=True).exists()
    # bad input: someone from another street, nothing chosen, the leader, a stranger's id
    assert client.post(url, {"volunteer": far.volunteer.pk}).status_code == 400
    assert client.post(url, {"volunteer": ""}).status_code == 400
    assert client.post(url, {"remove": t.leader_user.pk}).status_code == 409
    assert client.post(url, {"remove": "abc"}).status_code == 400
    assert client.post(url, {"remove": far.pk}).status_code == 400
    assert client.post(url, {"remove": newcomer.pk}).status_code == 302
    assert not TeamMember.objects.get(team=t.team, user=newcomer).active


def test_members_cannot_be_managed_by_others(world, t, login):
    url = reverse("team-members", args=[t.team.pk])
    target = t.volunteers[1]
    for user in [t.volunteers[0], world.users[Role.STREET_OFFICIAL]]:
        client = login(user)
        assert client.get(url).status_code == 200
        assert client.post(url, {"remove": target.pk}).status_code == 403
    assert TeamMember.objects.get(team=t.team, user=target).active


def test_closing_a_team(world, t, login):
    url = reverse("team-close", args=[t.team.pk])
    assert login(t.volunteers[0]).post(url).status_code == 403
    assert login(t.leader_user).post(url).status_code == 302
    assert login(t.leader_user).post(url).status_code == 409
    t.team.refresh_from_db()
    assert t.team.status == Team.Status.CLOSED
    body = login(t.volunteers[0]).get(t.team.get_absolute_url()).content.decode()
    assert 'data-live="0"' in body


def test_agency_forms_a_team_for_its_contract_and_not_another(world, login):
    from marketplace.models import Contract
    from tests import procurement as P

    agency = P.agency(world.street)
    leader = f.social_worker(agency.worker_users[0], agency, real_name="许社工")
    tender = P.tender(world, state="closed", lots=2)
    first, second = tender.lots.order_by("number")
    mine = P.contract(world, first, agency)
    theirs = P.contract(world, second, P.agency(world.street2))
    client = login(agency.staff_user)
    page = client.get(reverse("team-create")).content.decode()
    assert mine.number in page and theirs.number not in page
    refused = client.post(
        reverse("team-create"),
        {"name": "合同服务队", "leader": leader.pk, "contract": theirs.pk},
    )
    assert refused.status_code == 400 and not Team.objects.exists()
    response = client.post(
        reverse("team-create"),
        {"name": "合同服务队", "leader": leader.pk, "contract": mine.pk},
    )
    team = Team.objects.get()
    assert response.status_code == 302 and team.contract == mine
    assert Contract.objects.get(pk=mine.pk).teams.get() == team
