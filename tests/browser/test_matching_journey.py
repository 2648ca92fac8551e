"""Matching on a phone, with the demo data: the 明光路 street official starts a run for the
street, follows it to the end, reads a proposal's reasons and approves it; the 社工 +
志愿者 team appears and its room opens. Then an emergency need, opened by the street, has a
proposal at once, without anyone starting a run."""

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from marketplace.models import Need
from matching.models import MatchRun, Proposal
from tests.browser.pages import fits_phone, login
from volunteers.models import Team

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_street_runs_reads_reasons_approves_and_the_team_room_opens(live_server, phone, artifacts):
    call_command("seed_demo", verbosity=0)
    page, base = phone, live_server.url
    login(page, base, "jiedao")
    page.get_by_test_id("matching-approval").get_by_role("link", name="发起匹配").click()
    page.wait_for_url(f"{base}/matching/")
    start = page.get_by_test_id("run-start")
    start.get_by_label("匹配范围").select_option(label="明光路街道")
    fits_phone(page)
    start.get_by_role("button", name="开始匹配").click()
    page.wait_for_url(f"{base}/matching/runs/*/")
    expect(page.get_by_test_id("status")).to_have_text("已完成", timeout=15000)
    run = MatchRun.objects.get()
    assert run.status == MatchRun.Status.DONE
    assert run.needs_count > 0 and run.edges_count > 0 and run.proposals_count > 0
    page.screenshot(path=str(artifacts / "matching-run-phone.png"), full_page=True)

    # The proposal for the need that asks for a social worker and two volunteers.
    team_need = next(
        n
        for n in Need.objects.filter(status=Need.Status.OPEN, street__name="明光路街道")
        if n.team.get("social_worker") and n.team.get("volunteer")
    )
    proposal = Proposal.objects.get(need=team_need, status=Proposal.Status.PENDING)
    page.get_by_role("link", name="查看本次匹配方案").click()
    page.get_by_role("link", name=f"#{proposal.pk}", exact=True).click()
    page.wait_for_url(f"{base}/matching/proposals/{proposal.pk}/")
    reasons = page.get_by_test_id("reason")
    expect(reasons.first).to_be_visible()
    texts = reasons.all_inner_texts()
    assert any(t in ("同社区", "同街道", "相邻街道", "区内跨街道") for t in texts)
    assert any(t.startswith("具备") or t.startswith("每周") for t in texts)
    # Never the household's identity on the page.
    assert team_need.case.head_name not in page.content()
    fits_phone(page)
    page.screenshot(path=str(artifacts / "matching-proposal-phone.png"), full_page=True)

    page.get_by_test_id("approve").get_by_role("button", name="批准").click()
    team_link = page.get_by_test_id("team-link")
    expect(team_link).to_be_visible()
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.APPROVED
    team = Team.objects.get(need=team_need)
    assert team.members.filter(active=True).count() == 1 + team_need.team["volunteer"]
    team_link.click()
    page.wait_for_url(f"{base}/teams/{team.pk}/")
    assert team.name in page.content()


def test_an_emergency_opened_by_the_street_has_a_proposal_at_once(live_server, phone):
    call_command("seed_demo", verbosity=0)
    need = (
        Need.objects.filter(
            urgency=Need.Urgency.EMERGENCY,
            status=Need.Status.SUBMITTED,
            street__name="明光路街道",
        )
        .order_by("pk")
        .first()
    )
    page, base = phone, live_server.url
    login(page, base, "jiedao")
    # The street confirms the emergency, then opens it to providers.
    for to in ("confirmed", "open"):
        page.goto(f"{base}/needs/{need.pk}/")
        form = page.locator("form.transition").filter(has=page.locator(f"input[value='{to}']"))
        form.get_by_role("button").click()
        page.wait_for_load_state()
    need.refresh_from_db()
    assert need.status == Need.Status.OPEN
    run = MatchRun.objects.get(need=need)
    assert run.kind == MatchRun.Kind.EMERGENCY
    assert run.status == MatchRun.Status.DONE
    proposal = Proposal.objects.filter(need=need).first()
    assert proposal is not None, "the emergency run proposed nothing"
    page.goto(f"{base}/matching/proposals/{proposal.pk}/")
    expect(page.get_by_test_id("item").first).to_be_visible()
