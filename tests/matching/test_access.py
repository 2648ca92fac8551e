"""Who may use the matching pages, and what bad input does: other roles are refused, a street
official of the other street finds nothing of street 1 and may not run it, a street official
may not approve above their authority, anonymous users are sent to log in, and every refused
or malformed request leaves the data as it was."""

from __future__ import annotations

import pytest
from django.urls import reverse

from marketplace.models import Need, Role
from marketplace.services import need_transition
from matching.models import Decision, Level, MatchRun, Proposal, ProposalItem
from tests.matching.test_views import (
    approve,
    build,
    matched_volunteer,
    open_need,
    run_and_get_proposal,
    start_run,
)
from volunteers.models import Team

pytestmark = pytest.mark.django_db

APPROVER_PAGES_REFUSED = [
    Role.VOLUNTEER,
    Role.CHARITY_STAFF,
    Role.APPLICANT,
    Role.SOCIAL_WORKER,
    Role.AGENCY_STAFF,
    Role.COMMUNITY_WORKER,
    Role.AUDITOR,
]


@pytest.fixture
def pending(world, login, django_capture_on_commit_callbacks):
    """A street-level proposal of street 1, pending, from a run the street official made."""
    m = build(world)
    m.proposal = run_and_get_proposal(world, login, django_capture_on_commit_callbacks)
    m.run = m.proposal.run
    assert m.proposal.level == Level.STREET
    return m


def _unchanged(proposal: Proposal) -> None:
    """Nothing was decided: still pending, no decision, no team, items still proposed."""
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.PENDING
    assert proposal.decided_by is None and proposal.team is None
    assert not Decision.objects.filter(proposal=proposal).exists()
    assert set(proposal.items.values_list("response", flat=True)) == {
        ProposalItem.Response.PROPOSED
    }


def _urls(m) -> dict[str, list[str]]:
    p, r = m.proposal.pk, m.run.pk
    return {
        "get": [
            reverse("matching:run-list"),
            reverse("matching:run-detail", args=[r]),
            reverse("matching:run-status", args=[r]),
            reverse("matching:proposal-list"),
            reverse("matching:proposal-detail", args=[p]),
        ],
        "post": [
            reverse("matching:run-start"),
            reverse("matching:proposal-approve", args=[p]),
            reverse("matching:proposal-reject", args=[p]),
            reverse("matching:proposal-redo", args=[p]),
        ],
    }


# --- Roles -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", APPROVER_PAGES_REFUSED)
def test_run_and_proposal_pages_refuse_other_roles(world, pending, login, role):
    client = login(world.users[role])
    urls = _urls(pending)
    for url in urls["get"]:
        assert client.get(url).status_code == 403, url
    for url in urls["post"]:
        data = {"area": world.street.pk, "note": "x", "reason": "x"}
        assert client.post(url, data).status_code == 403, url
    _unchanged(pending.proposal)
    assert MatchRun.objects.count() == 1


@pytest.mark.parametrize(
    "role", [Role.STREET_OFFICIAL, Role.CIVIL_AFFAIRS_OFFICIAL, Role.APPLICANT, Role.AUDITOR]
)
def test_assignment_pages_refuse_roles_that_are_never_matched(world, pending, login, role):
    client = login(world.users[role])
    assert client.get(reverse("matching:assignment-list")).status_code == 403
    item = pending.proposal.items.first()
    response = client.post(
        reverse("matching:assignment-respond", args=[item.pk]), {"answer": "accept"}
    )
    assert response.status_code == 403


def test_charity_staff_have_an_assignment_page(world, login):
    response = login(world.users[Role.CHARITY_STAFF]).get(reverse("matching:assignment-list"))
    assert response.status_code == 200
    assert "目前没有需要您确认的匹配任务" in response.content.decode()


def test_anonymous_is_sent_to_login(client, world, pending):
    client.logout()  # building `pending` signed the shared client in
    urls = _urls(pending)
    item = pending.proposal.items.first()
    for url in [*urls["get"], reverse("matching:assignment-list")]:
        response = client.get(url)
        assert response.status_code == 302 and "login" in response["Location"], url
    for url in [*urls["post"], reverse("matching:assignment-respond", args=[item.pk])]:
        response = client.post(url, {"area": world.street.pk, "answer": "accept"})
        assert response.status_code == 302 and "login" in response["Location"], url
    _unchanged(pending.proposal)


def test_wrong_methods_are_refused(world, pending, login):
    client = login(world.users[Role.STREET_OFFICIAL])
    assert client.get(reverse("matching:run-start")).status_code == 405
    assert (
        client.get(reverse("matching:proposal-approve", args=[pending.proposal.pk])).status_code
        == 405
    )
    assert client.post(reverse("matching:proposal-list")).status_code == 405


# --- The other street --------------------------------------------------------------------


def test_street_official_of_the_other_street_finds_nothing_of_street_1(
    world, pending, login, django_capture_on_commit_callbacks
):
    client = login(world.street_official2)
    p = pending.proposal
    assert client.get(reverse("matching:proposal-detail", args=[p.pk])).status_code == 404
    assert client.get(reverse("matching:run-detail", args=[pending.run.pk])).status_code == 404
    assert client.get(reverse("matching:run-status", args=[pending.run.pk])).status_code == 404
    body = client.get(reverse("matching:proposal-list")).content.decode()
    assert p.get_absolute_url() not in body
    # Asking for street 1 by filter does not widen the scope (the filter is not offered).
    body = client.get(reverse("matching:proposal-list"), {"street": world.street.pk}).content
    assert p.get_absolute_url() not in body.decode()
    assert (
        pending.run.get_absolute_url()
        not in client.get(reverse("matching:run-list")).content.decode()
    )
    with django_capture_on_commit_callbacks(execute=True):
        for name, data in (
            ("matching:proposal-approve", {}),
            ("matching:proposal-reject", {"reason": "不同意"}),
            ("matching:proposal-redo", {}),
        ):
            assert client.post(reverse(name, args=[p.pk]), data).status_code == 404
    _unchanged(p)


def test_street_official_may_not_run_the_other_street(
    world, login, django_capture_on_commit_callbacks
):
    client = login(world.street_official2)
    for area in (world.street, world.district):
        response = start_run(client, area, django_capture_on_commit_callbacks)
        assert response.status_code == 403
        assert "只有区民政局或本街道工作人员可以发起本范围的匹配" in response.content.decode()
    assert not MatchRun.objects.exists()
    # Their own street is fine.
    response = start_run(client, world.street2, django_capture_on_commit_callbacks)
    assert response.status_code == 302 and MatchRun.objects.get().area == world.street2


# --- Authority ---------------------------------------------------------------------------


def test_street_official_may_not_approve_a_district_level_proposal(
    world, login, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    # The only skilled volunteer lives in street 2: the proposal draws across streets.
    far = matched_volunteer(world, community=world.community2)
    need = open_need(world, description="需要跨街道调配的探访")
    proposal = run_and_get_proposal(world, login, capture)
    assert proposal.need_id == need.pk and proposal.cross_street
    assert proposal.level == Level.DISTRICT
    assert proposal.items.get().volunteer_id == far.pk

    client = login(world.users[Role.STREET_OFFICIAL])
    body = client.get(proposal.get_absolute_url()).content.decode()
    assert "须由区民政局审批：跨街道调配服务方报区民政局审批" in body
    assert 'data-testid="approve"' not in body and 'data-testid="read-only"' in body
    for name, data in (
        ("matching:proposal-approve", {"note": ""}),
        ("matching:proposal-reject", {"reason": "不同意"}),
        ("matching:proposal-redo", {"note": ""}),
    ):
        with capture(execute=True):
            response = client.post(reverse(name, args=[proposal.pk]), data)
        assert response.status_code == 403, name
        assert "该方案超出街道审批权限，须由区民政局审批" in response.content.decode()
    _unchanged(proposal)
    assert Proposal.objects.count() == 1

    # District civil affairs decides it.
    civil = login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    assert 'data-testid="approve"' in civil.get(proposal.get_absolute_url()).content.decode()
    assert approve(civil, proposal, capture).status_code == 302
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.APPROVED
    assert Decision.objects.get(proposal=proposal).level == Level.DISTRICT


def test_volunteer_cannot_answer_for_another(
    world, pending, login, django_capture_on_commit_callbacks
):
    approve(
        login(world.users[Role.STREET_OFFICIAL]),
        pending.proposal,
        django_capture_on_commit_callbacks,
    )
    mine, theirs = pending.proposal.items.filter(role=ProposalItem.Role.VOLUNTEER)
    client = login(mine.volunteer.user)
    for data in ({"answer": "accept"}, {"answer": "decline", "reason": "替他婉拒"}):
        response = client.post(reverse("matching:assignment-respond", args=[theirs.pk]), data)
        assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.response == ProposalItem.Response.WAITING
    # A volunteer not named at all has nothing to answer either.
    stranger = matched_volunteer(world)
    response = login(stranger.user).post(
        reverse("matching:assignment-respond", args=[mine.pk]), {"answer": "accept"}
    )
    assert response.status_code == 404
    mine.refresh_from_db()
    assert mine.response == ProposalItem.Response.WAITING


def test_items_of_a_pending_proposal_are_not_yet_assignments(world, pending, login):
    item = pending.proposal.items.filter(role=ProposalItem.Role.VOLUNTEER).first()
    client = login(item.volunteer.user)
    body = client.get(reverse("matching:assignment-list")).content.decode()
    assert reverse("matching:assignment-respond", args=[item.pk]) not in body
    response = client.post(
        reverse("matching:assignment-respond", args=[item.pk]), {"answer": "accept"}
    )
    assert response.status_code == 404
    _unchanged(pending.proposal)


# --- Bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "请选择匹配范围"),
        ({"area": ""}, "请选择匹配范围"),
        ({"area": "abc"}, "所选匹配范围不存在"),
        ({"area": "999999"}, "所选匹配范围不存在"),
    ],
)
def test_run_start_with_a_bad_area(world, login, django_capture_on_commit_callbacks, data, message):
    client = login(world.users[Role.STREET_OFFICIAL])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("matching:run-start"), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not MatchRun.objects.exists()


def test_run_start_of_a_community_is_refused(world, login, django_capture_on_commit_callbacks):
    client = login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    response = start_run(client, world.community, django_capture_on_commit_callbacks)
    assert response.status_code == 400 and "所选匹配范围不存在" in response.content.decode()
    assert not MatchRun.objects.exists()


def test_run_start_while_busy(world, login):
    client = login(world.users[Role.STREET_OFFICIAL])
    # Not executing the on-commit callbacks leaves the first run queued.
    assert client.post(reverse("matching:run-start"), {"area": world.street.pk}).status_code == 302
    first = MatchRun.objects.get()
    assert first.status == MatchRun.Status.QUEUED
    response = client.post(reverse("matching:run-start"), {"area": world.street.pk})
    assert response.status_code == 400
    assert f"第{first.pk}号" in response.content.decode()
    # A district run overlaps every street.
    civil = login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    assert civil.post(reverse("matching:run-start"), {"area": world.district.pk}).status_code == 400
    assert MatchRun.objects.count() == 1
    body = civil.get(first.get_absolute_url()).content.decode()
    assert 'data-active="1"' in body and "排队中" in body
    status = civil.get(reverse("matching:run-status", args=[first.pk])).json()
    assert status["active"] is True and status["status"] == "queued"


def test_reject_without_reason(world, pending, login):
    client = login(world.users[Role.STREET_OFFICIAL])
    for data in ({}, {"reason": ""}, {"reason": "   "}):
        response = client.post(
            reverse("matching:proposal-reject", args=[pending.proposal.pk]), data
        )
        assert response.status_code == 400
        assert "驳回须填写原因" in response.content.decode()
    _unchanged(pending.proposal)


def test_approving_twice(world, pending, login, django_capture_on_commit_callbacks):
    client = login(world.users[Role.STREET_OFFICIAL])
    capture = django_capture_on_commit_callbacks
    assert approve(client, pending.proposal, capture).status_code == 302
    teams = Team.objects.count()
    response = approve(client, pending.proposal, capture)
    assert response.status_code == 400
    assert "已处理" in response.content.decode()
    assert Decision.objects.filter(proposal=pending.proposal).count() == 1
    assert Team.objects.count() == teams
    response = client.post(
        reverse("matching:proposal-reject", args=[pending.proposal.pk]), {"reason": "晚了"}
    )
    assert response.status_code == 400 and "已处理" in response.content.decode()
    pending.proposal.refresh_from_db()
    assert pending.proposal.status == Proposal.Status.APPROVED


def test_approving_after_the_need_was_cancelled(
    world, pending, login, django_capture_on_commit_callbacks
):
    need_transition(
        need=pending.need,
        to=Need.Status.CANCELLED,
        by=world.users[Role.CIVIL_AFFAIRS_OFFICIAL],
        reason="家属已接回同住",
    )
    client = login(world.users[Role.STREET_OFFICIAL])
    response = approve(client, pending.proposal, django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert "需求当前为“已撤销”，不能批准该方案" in response.content.decode()
    _unchanged(pending.proposal)
    assert not Team.objects.exists()
    pending.need.refresh_from_db()
    assert pending.need.status == Need.Status.CANCELLED


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"answer": "maybe"}, 400, "答复只能是接受或婉拒"),
        ({}, 400, "请选择接受或婉拒"),
        ({"answer": "decline"}, 400, "婉拒须填写原因"),
        ({"answer": "decline", "reason": "  "}, 400, "婉拒须填写原因"),
    ],
)
def test_respond_with_bad_input(
    world, pending, login, django_capture_on_commit_callbacks, data, status, message
):
    approve(
        login(world.users[Role.STREET_OFFICIAL]),
        pending.proposal,
        django_capture_on_commit_callbacks,
    )
    item = pending.proposal.items.filter(role=ProposalItem.Role.VOLUNTEER).first()
    client = login(item.volunteer.user)
    response = client.post(reverse("matching:assignment-respond", args=[item.pk]), data)
    assert response.status_code == status
    assert message in response.content.decode()
    item.refresh_from_db()
    assert item.response == ProposalItem.Response.WAITING
    assert item.responded_at is None
    pending.need.refresh_from_db()
    assert pending.need.status == Need.Status.MATCHED


def test_answering_twice(world, pending, login, django_capture_on_commit_callbacks):
    approve(
        login(world.users[Role.STREET_OFFICIAL]),
        pending.proposal,
        django_capture_on_commit_callbacks,
    )
    item = pending.proposal.items.filter(role=ProposalItem.Role.VOLUNTEER).first()
    client = login(item.volunteer.user)
    url = reverse("matching:assignment-respond", args=[item.pk])
    assert client.post(url, {"answer": "accept"}).status_code == 302
    response = client.post(url, {"answer": "decline", "reason": "改主意了"})
    assert response.status_code == 400 and "不能再答复" in response.content.decode()
    item.refresh_from_db()
    assert item.response == ProposalItem.Response.ACCEPTED
