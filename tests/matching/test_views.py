"""Matching pages, as the people who use them: a street official starts a run for their
street, follows it to the end, reads a proposal with its reasons and approves it; the team
forms and the matched providers accept or decline on their own page. Lists and details keep
a constant number of queries as proposals and items grow."""

from __future__ import annotations

import itertools
from datetime import time
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from marketplace.models import Need, Role, ServiceType
from matching.models import Decision, Level, MatchRun, Proposal, ProposalItem
from tests import factories as f
from volunteers.models import Availability, Skill, TeamMember

pytestmark = pytest.mark.django_db

_seq = itertools.count(1)

# Tuesday and Thursday afternoons: renders as "每周二、四下午有空".
TUE_THU_AFTERNOON = ((1, 14), (3, 14))


# --- Builders (shared with test_access.py) -----------------------------------------------


def matched_volunteer(world, *, community=None, days=TUE_THU_AFTERNOON, **extra):
    """A volunteer with the 探访陪伴 skill and a weekly timetable."""
    n = next(_seq)
    user = f.user(f"mv{n}", Role.VOLUNTEER, world.federation)
    volunteer = f.volunteer(
        user,
        community or world.community,
        real_name=f"志愿者{n}",
        skills=[Skill.objects.get(code="visiting")],
        **extra,
    )
    for weekday, hour in days:
        Availability.objects.create(
            volunteer=volunteer, weekday=weekday, start=time(hour), end=time(hour + 3)
        )
    return volunteer


def street_social_worker(world):
    """The street 社工站's social worker (user `shegong`), specialised in visiting."""
    worker = f.social_worker(world.users[Role.SOCIAL_WORKER], world.station, real_name="李社工")
    worker.specialties.add(ServiceType.objects.get(code="visiting"))
    return worker


def open_need(world, *, community=None, team=None, description="独居老人，需要每周上门探访一次"):
    """A published visiting need (with the team it asks for) and its household's case."""
    result = f.household(world, community=community, description=description)
    Need.objects.filter(pk=result.need.pk).update(team=team or {})
    need = f.open_need(world, result.need)
    need.case = result.case
    return need


def build(world, *, volunteers: int = 3) -> SimpleNamespace:
    """A need of street 1 asking for one social worker and two volunteers, the street's
    social worker and `volunteers` skilled volunteers of the same community."""
    worker = street_social_worker(world)
    people = [matched_volunteer(world) for _ in range(volunteers)]
    need = open_need(world, team={"social_worker": 1, "volunteer": 2})
    return SimpleNamespace(worker=worker, volunteers=people, need=need, case=need.case)


def start_run(client, area, capture):
    """POST the start form and let the queued run execute (Celery is eager in tests)."""
    with capture(execute=True):
        return client.post(reverse("matching:run-start"), {"area": area.pk})


def run_and_get_proposal(world, login, capture, *, user=None, area=None) -> Proposal:
    """Start a run as the street official (or `user`) and return the newest proposal."""
    client = login(user or world.users[Role.STREET_OFFICIAL])
    response = start_run(client, area or world.street, capture)
    assert response.status_code == 302, response.content.decode()[:500]
    return Proposal.objects.order_by("-pk").first()


def approve(client, proposal, capture, note=""):
    with capture(execute=True):
        return client.post(reverse("matching:proposal-approve", args=[proposal.pk]), {"note": note})


def assert_no_household_data(body: str, case) -> None:
    """The pages show the need's public facts only, never who the household is."""
    assert case.head_name not in body
    assert case.full_id not in body
    assert case.full_phone not in body


# --- The journey -------------------------------------------------------------------------


def test_street_official_runs_reads_approves_and_providers_answer(
    world, login, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    m = build(world)
    official = world.users[Role.STREET_OFFICIAL]
    client = login(official)

    # The start form offers the official's own street only.
    page = client.get(reverse("matching:run-list"))
    assert page.status_code == 200
    body = page.content.decode()
    assert f'value="{world.street.pk}"' in body
    assert f'value="{world.street2.pk}"' not in body
    assert f'value="{world.district.pk}"' not in body

    response = start_run(client, world.street, capture)
    run = MatchRun.objects.get()
    assert response.status_code == 302 and response["Location"] == run.get_absolute_url()
    assert run.status == MatchRun.Status.DONE and run.progress == 100
    assert run.area == world.street and run.requested_by == official
    assert run.needs_count == 1 and run.slots_count == 3
    assert run.providers_count == 4 and run.edges_count == 4
    assert run.proposals_count == 1
    assert run.objective is not None and run.bound is not None and run.seconds is not None

    body = client.get(run.get_absolute_url()).content.decode()
    assert "已完成" in body and 'data-figure="proposals">1<' in body
    assert f"{reverse('matching:proposal-list')}?run={run.pk}" in body
    assert reverse("matching:run-status", args=[run.pk]) in body
    assert "js/matching-run.js" in body
    status = client.get(reverse("matching:run-status", args=[run.pk])).json()
    assert status["status"] == "done" and status["active"] is False
    assert status["progress"] == 100 and status["figures"]["proposals"] == 1
    assert status["figures"]["edges"] == 4

    # The list shows the need's public facts, never the household.
    proposal = Proposal.objects.get()
    body = client.get(reverse("matching:proposal-list"), {"run": run.pk}).content.decode()
    assert proposal.get_absolute_url() in body
    assert "独居老人，需要每周上门探访一次" in body and "3 / 3" in body
    assert_no_household_data(body, m.case)

    # The detail explains each provider in plain Chinese and names the rule that routed it.
    assert proposal.level == Level.STREET
    body = client.get(proposal.get_absolute_url()).content.decode()
    for text in ("同社区", "具备探访陪伴技能", "每周二、四下午有空", "当前无在办任务", "李社工"):
        assert text in body
    assert "须由街道审批：街道辖内常规需求由街道审批" in body
    assert 'data-testid="approve"' in body and 'data-testid="reject"' in body
    assert_no_household_data(body, m.case)

    response = approve(client, proposal, capture, note="同意组队")
    assert response.status_code == 302 and response["Location"] == proposal.get_absolute_url()
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.APPROVED and proposal.decided_by == official
    team = proposal.team
    assert team is not None and team.leader == m.worker and team.need_id == m.need.pk
    items = list(proposal.items.order_by("pk"))
    members = set(
        TeamMember.objects.filter(team=team, active=True).values_list("user_id", flat=True)
    )
    assert members == {i.provider_user_id for i in items}
    assert {i.response for i in items} == {ProposalItem.Response.WAITING}
    assert Decision.objects.get(proposal=proposal).note == "同意组队"
    m.need.refresh_from_db()
    assert m.need.status == Need.Status.MATCHED
    body = client.get(proposal.get_absolute_url()).content.decode()
    assert "方案已批准" in body and reverse("team-room", args=[team.pk]) in body
    assert 'data-testid="approve"' not in body and "同意组队" in body

    # The volunteers answer on their own page.
    accepter, decliner = [i for i in items if i.role == ProposalItem.Role.VOLUNTEER]
    v_client = login(accepter.volunteer.user)
    body = v_client.get(reverse("matching:assignment-list")).content.decode()
    assert "待服务方确认" in body and "独居老人，需要每周上门探访一次" in body
    assert reverse("matching:assignment-respond", args=[accepter.pk]) in body
    assert reverse("matching:assignment-respond", args=[decliner.pk]) not in body
    assert_no_household_data(body, m.case)
    response = v_client.post(
        reverse("matching:assignment-respond", args=[accepter.pk]), {"answer": "accept"}
    )
    assert response.status_code == 302
    accepter.refresh_from_db()
    assert accepter.response == ProposalItem.Response.ACCEPTED

    d_client = login(decliner.volunteer.user)
    with capture(execute=True):
        response = d_client.post(
            reverse("matching:assignment-respond", args=[decliner.pk]),
            {"answer": "decline", "reason": "这个月要外出"},
        )
    assert response.status_code == 302
    decliner.refresh_from_db()
    assert decliner.response == ProposalItem.Response.DECLINED
    assert decliner.decline_reason == "这个月要外出"
    assert not TeamMember.objects.filter(
        team=team, user=decliner.volunteer.user, active=True
    ).exists()
    m.need.refresh_from_db()
    assert m.need.status == Need.Status.OPEN
    body = d_client.get(reverse("matching:assignment-list")).content.decode()
    assert "已婉拒" in body and "这个月要外出" in body

    # The next run proposes the re-opened slot only, and not the one who declined.
    again = run_and_get_proposal(world, login, capture)
    assert again.pk != proposal.pk and again.need_id == m.need.pk
    assert again.slots_wanted == 1 and again.slots_filled == 1
    item = again.items.get()
    assert item.role == ProposalItem.Role.VOLUNTEER
    assert item.volunteer_id not in (decliner.volunteer_id, accepter.volunteer_id)


def test_civil_affairs_runs_the_district_and_sees_every_street(
    world, login, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    street_social_worker(world)
    matched_volunteer(world)
    matched_volunteer(world, community=world.community2)
    open_need(world, description="街道一的探访需求")
    open_need(world, community=world.community2, description="街道二的探访需求")
    client = login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    body = client.get(reverse("matching:run-list")).content.decode()
    for area in (world.district, world.street, world.street2):
        assert f'value="{area.pk}"' in body
    response = start_run(client, world.district, capture)
    assert response.status_code == 302
    run = MatchRun.objects.get()
    assert run.area == world.district and run.proposals_count == 2
    body = client.get(reverse("matching:proposal-list")).content.decode()
    assert "街道一的探访需求" in body and "街道二的探访需求" in body
    # The street filter narrows to one street.
    body = client.get(
        reverse("matching:proposal-list"), {"street": world.street2.pk}
    ).content.decode()
    assert "街道二的探访需求" in body and "街道一的探访需求" not in body
    # The district run shows on a street official's list, since it covers their street.
    body = login(world.users[Role.STREET_OFFICIAL]).get(reverse("matching:run-list")).content
    assert run.get_absolute_url() in body.decode()


def test_reject_and_redo_record_the_decision(world, login, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    build(world, volunteers=5)
    proposal = run_and_get_proposal(world, login, capture)
    client = login(world.users[Role.STREET_OFFICIAL])
    with capture(execute=True):
        response = client.post(
            reverse("matching:proposal-redo", args=[proposal.pk]), {"note": "换近一点的"}
        )
    assert response.status_code == 302
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.REDO
    assert Decision.objects.get(proposal=proposal).action == Decision.Action.REDO
    # The one-need run gave a new proposal without the providers set aside.
    fresh = Proposal.objects.exclude(pk=proposal.pk).get()
    assert fresh.status == Proposal.Status.PENDING
    old = set(proposal.items.values_list("volunteer_id", flat=True)) - {None}
    new = set(fresh.items.values_list("volunteer_id", flat=True)) - {None}
    assert old and new and not old & new
    response = client.post(
        reverse("matching:proposal-reject", args=[fresh.pk]), {"reason": "家属已自行安排"}
    )
    assert response.status_code == 302
    fresh.refresh_from_db()
    assert fresh.status == Proposal.Status.REJECTED and fresh.decision_note == "家属已自行安排"
    body = client.get(fresh.get_absolute_url()).content.decode()
    assert "家属已自行安排" in body and "已驳回" in body


def test_proposal_list_filters_and_bad_filter(world, login, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    build(world)
    proposal = run_and_get_proposal(world, login, capture)
    client = login(world.users[Role.STREET_OFFICIAL])
    url = reverse("matching:proposal-list")
    assert proposal.get_absolute_url() in client.get(url, {"status": "pending"}).content.decode()
    assert (
        proposal.get_absolute_url() not in client.get(url, {"status": "approved"}).content.decode()
    )
    assert (
        proposal.get_absolute_url() not in client.get(url, {"level": "district"}).content.decode()
    )
    assert proposal.get_absolute_url() in client.get(url, {"run": proposal.run_id}).content.decode()
    for bad in ({"status": "nonsense"}, {"level": "x"}, {"run": "abc"}):
        response = client.get(url, bad)
        assert response.status_code == 400
        assert proposal.get_absolute_url() not in response.content.decode()


def test_proposal_export(world, login, django_capture_on_commit_callbacks):
    import io

    capture = django_capture_on_commit_callbacks
    m = build(world)
    proposal = run_and_get_proposal(world, login, capture)
    client = login(world.users[Role.STREET_OFFICIAL])
    response = client.get(
        reverse("matching:proposal-list"), {"status": "pending", "export": "xlsx"}
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "方案编号" and len(rows) == 2
    row = rows[1]
    assert row[0] == proposal.pk and "李社工" in row[13]
    text = " ".join(str(v) for v in row if v is not None)
    assert "独居老人，需要每周上门探访一次" in text
    assert m.case.head_name not in text and m.case.full_id not in text
    assert m.case.full_phone not in text


def test_workbench_links_by_role(world, login):
    url = reverse("workbench")
    body = login(world.users[Role.STREET_OFFICIAL]).get(url).content.decode()
    assert "匹配审批" in body and reverse("matching:proposal-list") in body
    body = login(world.users[Role.VOLUNTEER]).get(url).content.decode()
    assert "我的匹配任务" in body and reverse("matching:proposal-list") not in body
    body = login(world.users[Role.APPLICANT]).get(url).content.decode()
    assert "匹配审批" not in body and "我的匹配任务" not in body


# --- Query counts ------------------------------------------------------------------------


def _count(client, url, data=None) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, data or {})
        assert response.status_code == 200
    return len(ctx.captured_queries)


def test_proposal_list_query_count_is_constant(world, login, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    street_social_worker(world)
    for _ in range(8):
        matched_volunteer(world)
    open_need(world)
    run_and_get_proposal(world, login, capture)
    client = login(world.users[Role.STREET_OFFICIAL])
    url = reverse("matching:proposal-list")
    few = _count(client, url)
    for _ in range(5):
        open_need(world)
    run_and_get_proposal(world, login, capture)
    assert Proposal.objects.count() == 6
    client = login(world.users[Role.STREET_OFFICIAL])
    assert _count(client, url) == few
    civil = login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    assert _count(civil, url) <= few + 1  # the street filter's choices


def test_proposal_detail_query_count_is_constant(world, login, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    street_social_worker(world)
    for _ in range(6):
        matched_volunteer(world)
    open_need(world, team={"volunteer": 1})
    small = run_and_get_proposal(world, login, capture)
    open_need(world, team={"social_worker": 1, "volunteer": 5})
    large = run_and_get_proposal(world, login, capture)
    assert small.items.count() == 1 and large.items.count() == 6
    client = login(world.users[Role.STREET_OFFICIAL])
    assert _count(client, small.get_absolute_url()) == _count(client, large.get_absolute_url())


def test_run_list_and_assignment_list_query_counts(
    world, login, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    build(world, volunteers=6)
    proposal = run_and_get_proposal(world, login, capture)
    official = login(world.users[Role.STREET_OFFICIAL])
    few = _count(official, reverse("matching:run-list"))
    for _ in range(3):
        open_need(world, team={"volunteer": 1})
        run_and_get_proposal(world, login, capture)
    official = login(world.users[Role.STREET_OFFICIAL])
    assert _count(official, reverse("matching:run-list")) == few
    # A social worker sees their assignments in a fixed number of queries too.
    approve(official, proposal, capture)
    worker = login(world.users[Role.SOCIAL_WORKER])
    assert _count(worker, reverse("matching:assignment-list")) <= 12


def test_reopened_slot_is_not_offered_to_who_already_serves_the_need(
    world, login, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    build(world, volunteers=2)
    proposal = run_and_get_proposal(world, login, capture)
    approve(login(world.users[Role.STREET_OFFICIAL]), proposal, capture)
    accepter, decliner = proposal.items.filter(role=ProposalItem.Role.VOLUNTEER)
    respond = lambda item, data: login(item.volunteer.user).post(  # noqa: E731
        reverse("matching:assignment-respond", args=[item.pk]), data
    )
    assert respond(accepter, {"answer": "accept"}).status_code == 302
    with capture(execute=True):
        assert respond(decliner, {"answer": "decline", "reason": "外出"}).status_code == 302
    with capture(execute=True):
        login(world.users[Role.STREET_OFFICIAL]).post(
            reverse("matching:run-start"), {"area": world.street.pk}
        )
    again = Proposal.objects.exclude(pk=proposal.pk).filter(need=proposal.need).first()
    offered = set() if again is None else set(again.items.values_list("volunteer_id", flat=True))
    assert accepter.volunteer_id not in offered


def test_charity_staff_answer_for_their_project(
    matched_world, login, django_capture_on_commit_callbacks
):
    w = matched_world
    proposal = w.proposals[w.need_funds.pk]
    item = proposal.items.get()
    assert item.role == ProposalItem.Role.CHARITY and item.project_id == w.project.pk
    body = login(w.official).get(proposal.get_absolute_url()).content.decode()
    assert w.project.title in body and "慈善项目覆盖本街道" in body
    assert (
        approve(login(w.official), proposal, django_capture_on_commit_callbacks).status_code == 302
    )

    client = login(w.charity_staff)
    body = client.get(reverse("matching:assignment-list")).content.decode()
    assert w.project.title in body and "待服务方确认" in body
    assert reverse("matching:assignment-respond", args=[item.pk]) in body
    # Staff of another charity see nothing of it and cannot answer.
    other = f.user("cishan_qita", Role.CHARITY_STAFF, w.charity_pending)
    other_client = login(other)
    assert (
        w.project.title
        not in other_client.get(reverse("matching:assignment-list")).content.decode()
    )
    url = reverse("matching:assignment-respond", args=[item.pk])
    assert other_client.post(url, {"answer": "accept"}).status_code == 404

    with django_capture_on_commit_callbacks(execute=True):
        response = login(w.charity_staff).post(url, {"answer": "accept"})
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.response == ProposalItem.Response.ACCEPTED
    assert item.disbursement is not None and item.disbursement.need_id == w.need_funds.pk
