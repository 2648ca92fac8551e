"""The snapshot's blocking: which candidate pairings a run considers, in which order, and
what capacity each provider brings."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.utils import timezone

from marketplace.models import Area, Need
from matching import scoring
from matching.models import Proposal
from matching.services import proposal_redo, proposal_reject
from matching.snapshot import ALL_DAYS, _window_mask, snapshot_build
from tests.matching.conftest import charity_project_make, run_now, volunteer_make

pytestmark = pytest.mark.django_db


def _edges(snap, need) -> dict[str, int]:
    """Provider key → cost of the need's candidate edges, in the order blocking chose them."""
    key = f"n{need.pk}"
    return {e.provider: e.cost for e in snap.problem.edges if e.need == key}


def _rings(snap, need) -> dict[str, int]:
    key = f"n{need.pk}"
    return {p: ring for (n, p), ring in snap.edge_rings.items() if n == key}


def _days_from_today(weekday: int) -> int:
    """Days until the next `weekday` (Monday 0), at least one day ahead."""
    today = timezone.localdate()
    return (weekday - today.weekday() - 1) % 7 + 1


# --- Distance classes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider_community", "provider_street", "expected"),
    [
        (11, 1, scoring.SAME_COMMUNITY),
        (12, 1, scoring.SAME_STREET),
        (None, 1, scoring.SAME_STREET),  # a social worker: only a street is known
        (21, 2, scoring.NEIGHBOUR_STREET),
        (31, 3, scoring.DISTRICT),
        (None, None, scoring.DISTRICT),  # a charity project without a place
    ],
)
def test_distance_class(provider_community, provider_street, expected):
    assert (
        scoring.distance_class(
            need_community=11,
            need_street=1,
            provider_community=provider_community,
            provider_street=provider_street,
            neighbours=frozenset({2}),
        )
        == expected
    )


def test_same_community_before_same_street_before_the_district(matching_world, settings):
    w = matching_world
    snap = snapshot_build(area=w.district)
    assert _rings(snap, w.need_visit) == {
        f"v{w.vol_near.pk}": scoring.SAME_COMMUNITY,
        f"v{w.vol_near2.pk}": scoring.SAME_COMMUNITY,
        f"v{w.vol_street.pk}": scoring.SAME_STREET,
        f"v{w.vol_far.pk}": scoring.DISTRICT,
    }
    assert list(_edges(snap, w.need_visit)) == [
        f"v{w.vol_near.pk}",
        f"v{w.vol_near2.pk}",
        f"v{w.vol_street.pk}",
        f"v{w.vol_far.pk}",
    ]
    # With room for fewer candidates, the nearer rings are the ones kept.
    settings.MATCHING_CANDIDATES = {"volunteer": 3}
    assert set(_edges(snapshot_build(area=w.district), w.need_visit)) == {
        f"v{w.vol_near.pk}",
        f"v{w.vol_near2.pk}",
        f"v{w.vol_street.pk}",
    }
    settings.MATCHING_CANDIDATES = {"volunteer": 2}
    assert set(_edges(snapshot_build(area=w.district), w.need_visit)) == {
        f"v{w.vol_near.pk}",
        f"v{w.vol_near2.pk}",
    }


def test_a_bordering_street_comes_before_the_rest_of_the_district(world, approval_rules):
    """Streets with Yaohai's own codes: 胜利路 (340102002) borders 明光路 (340102001), 七里站
    (340102005) does not (marketplace/data/yaohai.json)."""
    from tests.matching.conftest import need_make, skills_ensure

    skill = skills_ensure()["visiting"]
    streets = {}
    for code, name in (("340102001", "明光路"), ("340102002", "胜利路"), ("340102005", "七里站")):
        street = Area.objects.create(
            name=f"{name}街道（代码样例）",
            code=code,
            level=Area.Level.STREET,
            kind=Area.Kind.SUBDISTRICT,
            parent=world.district,
        )
        streets[code] = (
            street,
            Area.objects.create(
                name=f"{name}社区",
                code=f"{code}001",
                level=Area.Level.COMMUNITY,
                kind=Area.Kind.COMMUNITY,
                parent=street,
            ),
        )
    need = need_make(world, community=streets["340102001"][1], team={"volunteer": 1})
    far = volunteer_make(streets["340102005"][1], skills=[skill])
    border = volunteer_make(streets["340102002"][1], skills=[skill])
    snap = snapshot_build(area=world.district)
    assert snap.neighbours[streets["340102001"][0].pk] == frozenset({streets["340102002"][0].pk})
    assert _rings(snap, need) == {
        f"v{border.pk}": scoring.NEIGHBOUR_STREET,
        f"v{far.pk}": scoring.DISTRICT,
    }
    assert list(_edges(snap, need)) == [f"v{border.pk}", f"v{far.pk}"]  # despite the later id
    assert _edges(snap, need)[f"v{far.pk}"] - _edges(snap, need)[f"v{border.pk}"] == (
        scoring.DEFAULT_WEIGHTS["distance"][3] - scoring.DEFAULT_WEIGHTS["distance"][2]
    )
    # World's test streets carry codes the data file does not know: no neighbours there.
    assert snap.neighbours[world.street.pk] == frozenset()


# --- Timetables ----------------------------------------------------------------------------


def test_window_mask():
    monday = timezone.localdate() - timedelta(days=timezone.localdate().weekday())
    assert _window_mask(monday, monday) == 0b1
    assert _window_mask(monday + timedelta(days=5), monday + timedelta(days=7)) == 0b1100001
    assert _window_mask(monday + timedelta(days=3), monday + timedelta(days=9)) == ALL_DAYS


def test_volunteers_whose_timetable_misses_the_window_are_left_out(matching_world):
    w = matching_world
    wednesday = need_on(w, weekday=2)
    tuesday = need_on(w, weekday=1)
    snap = snapshot_build(area=w.district)
    # Tue/Thu, Monday and Saturday timetables miss a Wednesday; no timetable is no refusal.
    assert set(_edges(snap, wednesday)) == {f"v{w.vol_street.pk}"}
    assert snap.explain(f"n{wednesday.pk}", f"v{w.vol_street.pk}").reasons[2] == {
        "code": "availability_unknown"
    }
    assert set(_edges(snap, tuesday)) == {f"v{w.vol_near.pk}", f"v{w.vol_street.pk}"}
    assert snap.explain(f"n{tuesday.pk}", f"v{w.vol_near.pk}").reasons[2] == {
        "code": "available",
        "days": [1],
        "parts": ["afternoon"],
    }


def need_on(w, *, weekday: int) -> Need:
    """An open one-day need on the next given weekday."""
    from tests.matching.conftest import need_make

    return need_make(
        w, community=w.community, team={"volunteer": 1}, days=1, start_in=_days_from_today(weekday)
    )


# --- Holds and exclusions ---------------------------------------------------------------


def test_capacity_is_reduced_by_holds_and_pending_needs_are_left_out(matching_world):
    w = matching_world
    run = run_now(by=w.civil, area=w.district)
    assert run.proposals_count == 4
    snap = snapshot_build(area=w.district)
    assert snap.needs == {}  # every open need waits for a decision
    later = need_on(w, weekday=1)
    snap = snapshot_build(area=w.district)
    assert list(snap.needs) == [f"n{later.pk}"]
    holds = {}
    for proposal in run.proposals.all():
        for item in proposal.items.all():
            key = (
                f"v{item.volunteer_id}"
                if item.volunteer_id
                else f"s{item.social_worker_id}"
                if item.social_worker_id
                else f"c{item.project_id}"
            )
            holds[key] = holds.get(key, 0) + 1
    assert holds[f"v{w.vol_near.pk}"] == 2  # need_visit and need_team
    for key, row in snap.supply.items():
        assert row.capacity == _limit(w, key) - holds.get(key, 0)
        # People carry their holds as load; a project's places are its only measure.
        assert row.load == (0 if key.startswith("c") else holds.get(key, 0))
    # vol_near is fully held: not supply any more, so not a candidate for the Tuesday need.
    assert f"v{w.vol_near.pk}" not in snap.supply
    assert set(_edges(snap, later)) == {f"v{w.vol_street.pk}"}
    assert snap.supply[f"c{w.project.pk}"].capacity == w.project.capacity - 1


def _limit(w, key: str) -> int:
    from volunteers.models import SocialWorker, Volunteer

    kind, pk = key[0], int(key[1:])
    if kind == "v":
        return Volunteer.objects.get(pk=pk).max_concurrent
    if kind == "s":
        return SocialWorker.objects.get(pk=pk).max_concurrent
    return w.project.capacity


@pytest.mark.parametrize("decide", ["rejected", "redo"])
def test_providers_set_aside_are_not_proposed_again_for_that_need(matched_world, decide):
    w = matched_world
    proposal = w.proposals[w.need_visit.pk]
    [item] = proposal.items.all()
    assert item.volunteer_id == w.vol_near.pk
    if decide == "rejected":
        proposal_reject(proposal=proposal, by=w.official, reason="该志愿者近期不便")
    else:
        proposal_redo(proposal=proposal, by=w.official, note="换一位")
    assert Proposal.objects.get(pk=proposal.pk).status == decide
    # The redo queued a one-need run that has not executed (no commit here): the need is
    # back in the pool, without the provider set aside.
    snap = snapshot_build(area=w.district)
    assert list(snap.needs) == [f"n{w.need_visit.pk}"]
    edges = _edges(snap, w.need_visit)
    assert f"v{w.vol_near.pk}" not in edges
    assert {f"v{w.vol_near2.pk}", f"v{w.vol_street.pk}", f"v{w.vol_far.pk}"} <= set(edges)
    # Set aside for that need only: the provider is still supply for others.
    other = need_on(w, weekday=3)
    assert f"v{w.vol_near.pk}" in _edges(snapshot_build(area=w.district), other)


# --- Charity -----------------------------------------------------------------------------


def test_charity_projects_only_for_funds_and_goods_needs_of_their_service_type(matching_world):
    w = matching_world
    other_type = need_make_funds(w, service_type="temporary_emergency")
    goods = need_make_funds(w, kind=Need.Kind.GOODS)
    snap = snapshot_build(area=w.district)
    project = f"c{w.project.pk}"
    assert list(_edges(snap, w.need_funds)) == [project]
    assert snap.needs[f"n{w.need_funds.pk}"].slots == {"charity": 1}
    assert _edges(snap, other_type) == {}  # the project gives for another type
    assert _edges(snap, goods) == {}  # the project gives funds, not goods
    for need in (w.need_visit, w.need_team, w.need2):
        assert project not in _edges(snap, need)
        assert not any(p.startswith("c") for p in _edges(snap, need))


def test_a_project_full_or_without_a_fund_is_no_supply(matching_world):
    w = matching_world
    from charity.models import ProjectPage

    ProjectPage.objects.filter(pk=w.project.pk).update(places_taken=w.project.capacity)
    assert f"c{w.project.pk}" not in snapshot_build(area=w.district).supply
    ProjectPage.objects.filter(pk=w.project.pk).update(places_taken=0)
    unfunded = charity_project_make(w, funded=False)
    supply = snapshot_build(area=w.district).supply
    assert f"c{w.project.pk}" in supply
    assert f"c{unfunded.pk}" not in supply


def need_make_funds(w, *, kind=Need.Kind.FUNDS, service_type="temporary_expenditure") -> Need:
    from tests.matching.conftest import need_make

    if kind == Need.Kind.GOODS:
        return need_make(w, community=w.community, kind=kind, service_type=service_type, quantity=2)
    return need_make(
        w, community=w.community, kind=kind, service_type=service_type, amount="800.00"
    )


def test_a_street_run_reads_only_that_streets_needs(matching_world):
    w = matching_world
    snap = snapshot_build(area=w.street2)
    assert list(snap.needs) == [f"n{w.need2.pk}"]
    # Supply is the whole district's.
    assert {f"v{w.vol_near.pk}", f"v{w.vol_far.pk}"} <= set(snap.supply)
    assert f"n{w.need_visit.pk}" in snapshot_build(area=w.street).needs
    one = snapshot_build(area=w.street, need_id=w.need_team.pk)
    assert list(one.needs) == [f"n{w.need_team.pk}"]
    assert one.needs[f"n{w.need_team.pk}"].slots == {"social_worker": 1, "volunteer": 2}


def test_an_inactive_user_is_no_supply(matching_world):
    w = matching_world
    w.vol_near.user.is_active = False
    w.vol_near.user.save(update_fields=["is_active"])
    w.sw_agency.active = False
    w.sw_agency.save(update_fields=["active"])
    supply = snapshot_build(area=w.district).supply
    assert f"v{w.vol_near.pk}" not in supply and f"s{w.sw_agency.pk}" not in supply
    assert f"v{w.vol_near2.pk}" in supply and f"s{w.sw_station.pk}" in supply


def test_volunteers_elsewhere_without_the_skill_are_not_candidates(matching_world):
    w = matching_world
    lonely = volunteer_make(w.community2, slots=((2, time(9), time(11)),))  # no skills
    snap = snapshot_build(area=w.district)
    assert f"v{lonely.pk}" not in _edges(snap, w.need_visit)
    # In the need's own community an unskilled volunteer is a candidate, paying for it.
    assert f"v{lonely.pk}" in _edges(snap, w.need2)
    assert (
        snap.explain(f"n{w.need2.pk}", f"v{lonely.pk}").components["skill"]
        == (scoring.DEFAULT_WEIGHTS["skill_missing"])
    )
