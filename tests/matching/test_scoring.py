"""Cost components and reasons: the snapshot's inline edge costs equal what `Snapshot.explain`
(through `scoring.score`) gives for every candidate pairing, the reasons read as the plain
Chinese a street official sees, and the weights follow the settings."""

from __future__ import annotations

import pytest

from matching import scoring
from matching.snapshot import snapshot_build
from volunteers.models import Volunteer
from volunteers.services.teams import team_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def rich(matching_world, agency_contract):
    """Supply covering every component: a contract and a track record (`sw_agency`), a
    volunteer who served the household before and now carries a team (`vol_near2`), a
    leader carrying that team (`sw_station`), a star volunteer (`vol_street`), a charity
    project."""
    w = matching_world
    w.contract = agency_contract
    w.served_team = team_create(
        by=w.sw_station.user,
        name="探访服务队",
        leader=w.sw_station,
        need=w.need_visit,
        volunteers=[w.vol_near2],
    )
    Volunteer.objects.filter(pk=w.vol_street.pk).update(star_level=3)
    w.snap = snapshot_build(area=w.district)
    return w


def _texts(snap, need, provider_key: str) -> list[str]:
    return scoring.reasons_text(snap.explain(f"n{need.pk}", provider_key).reasons)


def test_every_inline_edge_cost_equals_the_explained_cost(rich):
    snap = rich.snap
    assert len(snap.problem.edges) >= 12
    seen_components = set()
    for edge in snap.problem.edges:
        explained = snap.explain(edge.need, edge.provider)
        assert explained.cost == edge.cost, (edge, explained.components)
        assert sum(explained.components.values()) == explained.cost
        seen_components |= set(explained.components)
    # The comparison is only worth something if every branch of the inline path ran.
    assert seen_components == {
        "distance",
        "skill",
        "availability",
        "continuity",
        "load",
        "track",
        "contract",
        "project",
    }


def test_components_follow_the_supply(rich):
    w, snap = rich, rich.snap
    weights = scoring.weights()
    agency = snap.explain(f"n{w.need_team.pk}", f"s{w.sw_agency.pk}").components
    station = snap.explain(f"n{w.need_team.pk}", f"s{w.sw_station.pk}").components
    assert agency["contract"] == 0 and station["contract"] == weights["no_contract"]
    assert agency["track"] == round(weights["track_max"] * 20 / 100)  # score 80
    assert station["track"] == weights["track_unknown"]
    assert station["load"] == weights["load_step"]  # leads one team
    served = snap.explain(f"n{w.need_visit.pk}", f"v{w.vol_near2.pk}").components
    assert served["continuity"] == 0 and served["load"] == weights["load_step"]
    assert served["availability"] == weights["availability_one_day"]  # Mondays only
    near = snap.explain(f"n{w.need_visit.pk}", f"v{w.vol_near.pk}").components
    assert near["availability"] == 0 and near["continuity"] == weights["no_continuity"]
    assert near["track"] == weights["track_max"]  # no stars yet
    street = snap.explain(f"n{w.need_visit.pk}", f"v{w.vol_street.pk}").components
    assert street["availability"] == weights["availability_unknown"]
    assert street["distance"] == weights["distance"][scoring.SAME_STREET]
    assert street["track"] == round(weights["track_max"] * 40 / 100)  # three stars


def test_reasons_read_as_plain_chinese(rich):
    w, snap = rich, rich.snap
    near = _texts(snap, w.need_team, f"v{w.vol_near.pk}")
    assert near[:3] == ["同社区", "具备探访陪伴技能", "每周二、四下午有空"]
    assert "当前无在办任务" in near
    assert "曾服务过该家庭" in _texts(snap, w.need_visit, f"v{w.vol_near2.pk}")
    assert "曾服务过该家庭" not in near
    agency = _texts(snap, w.need_team, f"s{w.sw_agency.pk}")
    assert agency[0] == "同街道"
    assert f"购买服务合同{w.contract.number}覆盖" in agency
    assert "机构履约评分80.0分" in agency
    assert "当前承担1项服务" in _texts(snap, w.need_team, f"s{w.sw_station.pk}")
    assert "志愿者星级3星" in _texts(snap, w.need_visit, f"v{w.vol_street.pk}")
    assert _texts(snap, w.need_team, f"v{w.vol_far.pk}")[0] == "区内跨街道"
    project = _texts(snap, w.need_funds, f"c{w.project.pk}")
    assert "慈善项目覆盖本街道" in project


@pytest.mark.parametrize(
    ("reason", "text"),
    [
        ({"code": "same_community"}, "同社区"),
        ({"code": "same_street"}, "同街道"),
        ({"code": "neighbour_street"}, "相邻街道"),
        ({"code": "district"}, "区内跨街道"),
        ({"code": "skill", "name": "探访陪伴"}, "具备探访陪伴技能"),
        ({"code": "no_skill"}, "无对口技能登记"),
        ({"code": "available", "days": [1, 3], "parts": ["afternoon"]}, "每周二、四下午有空"),
        (
            {"code": "available", "days": [0, 5, 6], "parts": ["morning", "evening"]},
            "每周一、六、日上午、晚上有空",
        ),
        ({"code": "availability_unknown"}, "服务期内未登记空闲时间"),
        ({"code": "continuity"}, "曾服务过该家庭"),
        ({"code": "load", "count": 0}, "当前无在办任务"),
        ({"code": "load", "count": 2}, "当前承担2项服务"),
        ({"code": "contract", "number": "HT-2025-001"}, "购买服务合同HT-2025-001覆盖"),
        ({"code": "project_local"}, "慈善项目覆盖本街道"),
        ({"code": "project_district"}, "慈善项目面向全区"),
    ],
)
def test_reason_codes_render(reason, text):
    assert scoring.reason_text(reason) == text


def test_reasons_text_skips_what_is_not_a_reason():
    assert scoring.reasons_text([{"code": "same_street"}, "junk", None]) == ["同街道"]


def test_score_sums_its_components():
    w = scoring.weights()
    scored = scoring.score(
        w=w,
        distance=scoring.NEIGHBOUR_STREET,
        skill=None,
        availability=((2, scoring.MORNING),),
        continuity=True,
        load=9,
        track=50.0,
        track_label="stars",
    )
    assert scored.components == {
        "distance": w["distance"][scoring.NEIGHBOUR_STREET],
        "skill": w["skill_missing"],
        "availability": w["availability_one_day"],
        "continuity": 0,
        "load": w["load_cap"],  # nine assignments, capped
        "track": w["track_max"] // 2,
    }
    assert scored.cost == sum(scored.components.values())
    assert [r["code"] for r in scored.reasons] == [
        "neighbour_street",
        "no_skill",
        "available",
        "continuity",
        "load",
        "stars",
    ]


def test_weights_override_through_settings(matching_world, settings):
    w = matching_world
    before = snapshot_build(area=w.district)
    settings.MATCHING_WEIGHTS = {"distance": (0, 100, 200, 300), "no_continuity": 7}
    merged = scoring.weights()
    assert merged["distance"] == (0, 100, 200, 300) and merged["no_continuity"] == 7
    assert merged["skill_missing"] == scoring.DEFAULT_WEIGHTS["skill_missing"]  # not overridden
    after = snapshot_build(area=w.district)
    old = {(e.need, e.provider): e.cost for e in before.problem.edges}
    new = {(e.need, e.provider): e.cost for e in after.problem.edges}
    assert old.keys() == new.keys()
    key = (f"n{w.need_team.pk}", f"v{w.vol_far.pk}")  # district-wide, no history
    assert new[key] - old[key] == (300 - 45) + (7 - 15)
    key = (f"n{w.need_team.pk}", f"v{w.vol_near.pk}")  # same community
    assert new[key] - old[key] == 7 - 15
    for edge in after.problem.edges:
        assert after.explain(edge.need, edge.provider).cost == edge.cost
