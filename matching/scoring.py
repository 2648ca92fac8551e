"""Cost components of a candidate pairing and the plain Chinese reasons that explain them.

A component is a small integer penalty (lower is better); an edge's cost is their sum. The
weights come from `settings.MATCHING_WEIGHTS`, so the district can tune them without a
release. Reasons are stored as codes with parameters and rendered in the reader's language."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

# Distance classes, nearest first.
SAME_COMMUNITY, SAME_STREET, NEIGHBOUR_STREET, DISTRICT = 0, 1, 2, 3
DISTANCE_CODES = ("same_community", "same_street", "neighbour_street", "district")

# Parts of the day, by the hour an availability starts.
MORNING, AFTERNOON, EVENING = "morning", "afternoon", "evening"


def weights() -> dict:
    """The active weights: settings over the defaults, so a partial override is enough."""
    merged = dict(DEFAULT_WEIGHTS)
    merged.update(getattr(settings, "MATCHING_WEIGHTS", {}) or {})
    return merged


DEFAULT_WEIGHTS = {
    # Penalty by distance class: same community, same street, bordering street, district.
    "distance": (0, 10, 25, 45),
    # No skill (volunteer) serving the need's service type.
    "skill_missing": 30,
    # No availability registered / registered but not within the need's window.
    "availability_unknown": 12,
    "availability_one_day": 6,
    # Not someone who served this household before.
    "no_continuity": 15,
    # Per active assignment already carried, and the cap.
    "load_step": 4,
    "load_cap": 24,
    # Track record: penalty at the worst record; unknown records sit in the middle.
    "track_max": 20,
    "track_unknown": 10,
    # A social worker whose agency holds no contract covering the need's street and type.
    "no_contract": 10,
    # A charity project that covers the whole district rather than the need's street.
    "project_not_local": 20,
    # What leaving one slot unfilled costs, by urgency: emergencies carry far more.
    "unfilled": {"normal": 1000, "urgent": 3000, "emergency": 50000},
}


@dataclass(frozen=True)
class Scored:
    """One candidate pairing's cost, its components and its reasons (codes + params)."""

    cost: int
    components: dict
    reasons: tuple


def distance_class(
    *,
    need_community: int,
    need_street: int,
    provider_community: int | None,
    provider_street: int | None,
    neighbours: frozenset,
) -> int:
    """How far the provider is from the need: same community < same street < a bordering
    street < elsewhere in the district (a provider without a known place counts as
    district-wide)."""
    if provider_community is not None and provider_community == need_community:
        return SAME_COMMUNITY
    if provider_street is not None and provider_street == need_street:
        return SAME_STREET
    if provider_street is not None and provider_street in neighbours:
        return NEIGHBOUR_STREET
    return DISTRICT


def part_of_day(hour: int) -> str:
    if hour < 12:
        return MORNING
    if hour < 18:
        return AFTERNOON
    return EVENING


def score(
    *,
    w: dict,
    distance: int,
    skill: str | None = None,
    skill_code: str = "skill",
    skill_required: bool = True,
    availability: tuple | None = None,
    continuity: bool = False,
    load: int = 0,
    track: float | None = None,
    track_label: str = "",
    contract: str | None = None,
    contract_applies: bool = False,
    project_local: bool | None = None,
) -> Scored:
    """Sum the components of one pairing. `availability` is None when the provider keeps no
    timetable (social workers, charity projects), else a tuple of (weekday, part) pairs that
    fall within the need's window (empty when none do). `track` is 0–100 or None.
    `skill_code` names the reason for a fit (a person's skill, a project's service type)."""
    components: dict[str, int] = {}
    reasons: list[dict] = []
    components["distance"] = w["distance"][distance]
    reasons.append({"code": DISTANCE_CODES[distance]})
    if skill_required:
        if skill:
            components["skill"] = 0
            reasons.append({"code": skill_code, "name": skill})
        else:
            components["skill"] = w["skill_missing"]
            reasons.append({"code": "no_skill"})
    if availability is not None:
        days = sorted({day for day, _part in availability})
        if not availability:
            components["availability"] = w["availability_unknown"]
            reasons.append({"code": "availability_unknown"})
        else:
            components["availability"] = 0 if len(days) >= 2 else w["availability_one_day"]
            parts = sorted({part for _day, part in availability}, key=_PART_ORDER.index)
            reasons.append({"code": "available", "days": days, "parts": parts})
    components["continuity"] = 0 if continuity else w["no_continuity"]
    if continuity:
        reasons.append({"code": "continuity"})
    components["load"] = min(w["load_cap"], w["load_step"] * max(0, load))
    reasons.append({"code": "load", "count": load})
    if track is not None or track_label:
        if track is None:
            components["track"] = w["track_unknown"]
        else:
            components["track"] = round(w["track_max"] * (100 - max(0.0, min(100.0, track))) / 100)
            if track_label == "stars":  # volunteers: star level 0–5 scaled to 0–100
                reasons.append({"code": "stars", "score": round(track / 20)})
            else:
                reasons.append({"code": "track", "score": round(track, 1)})
    if contract_applies:
        components["contract"] = 0 if contract else w["no_contract"]
        if contract:
            reasons.append({"code": "contract", "number": contract})
    if project_local is not None:
        components["project"] = 0 if project_local else w["project_not_local"]
        reasons.append({"code": "project_local" if project_local else "project_district"})
    return Scored(cost=sum(components.values()), components=components, reasons=tuple(reasons))


_PART_ORDER = [MORNING, AFTERNOON, EVENING]


def _weekday_names() -> list[str]:
    return [_("一"), _("二"), _("三"), _("四"), _("五"), _("六"), _("日")]


def _part_names() -> dict[str, str]:
    return {MORNING: _("上午"), AFTERNOON: _("下午"), EVENING: _("晚上")}


def reason_text(reason: dict) -> str:
    """One reason as a plain sentence in the active language."""
    code = reason.get("code")
    if code == "same_community":
        return _("同社区")
    if code == "same_street":
        return _("同街道")
    if code == "neighbour_street":
        return _("相邻街道")
    if code == "district":
        return _("区内跨街道")
    if code == "skill":
        return _("具备%(name)s技能") % {"name": reason.get("name", "")}
    if code == "project_type":
        return _("服务类型对口：%(name)s") % {"name": reason.get("name", "")}
    if code == "no_skill":
        return _("无对口技能登记")
    if code == "available":
        names = _weekday_names()
        days = _("、").join(names[d] for d in reason.get("days", []) if 0 <= d < 7)
        parts = _("、").join(_part_names().get(p, "") for p in reason.get("parts", []))
        return _("每周%(days)s%(parts)s有空") % {"days": days, "parts": parts}
    if code == "availability_unknown":
        return _("服务期内未登记空闲时间")
    if code == "continuity":
        return _("曾服务过该家庭")
    if code == "load":
        count = int(reason.get("count", 0))
        if count == 0:
            return _("当前无在办任务")
        return ngettext("当前承担%(count)d项服务", "当前承担%(count)d项服务", count) % {
            "count": count
        }
    if code == "track":
        return _("机构履约评分%(score)s分") % {"score": reason.get("score")}
    if code == "stars":
        return _("志愿者星级%(score)s星") % {"score": reason.get("score")}
    if code == "contract":
        return _("购买服务合同%(number)s覆盖") % {"number": reason.get("number", "")}
    if code == "project_local":
        return _("慈善项目覆盖本街道")
    if code == "project_district":
        return _("慈善项目面向全区")
    return str(code or "")


def reasons_text(reasons: Iterable[dict]) -> list[str]:
    """All reasons of a pairing, in order, as sentences."""
    return [reason_text(r) for r in reasons if isinstance(r, dict)]
