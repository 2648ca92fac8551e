"""The snapshot selector: open needs and available supply, read from the database in a fixed
number of queries, turned into an engine problem with scored candidate edges.

Supply is volunteers (capacity = `max_concurrent` less what they already carry), social
workers (likewise, ranked by their agency's purchasing track record and whether the agency
holds a contract covering the need's street and service type) and charity projects with open
places and a fund (for funds and goods needs). Candidate edges come from blocking: place
rings (same community, same street, bordering streets, then skilled providers district-wide),
role, service type and skills, the need's date window against a volunteer's weekly timetable,
and eligibility; at most `MATCHING_CANDIDATES[role]` per need and role, so a district run
stays near 40 edges per need.

Edge costs are computed inline for speed; `Snapshot.explain` recomputes the same cost with
`scoring.score` for the pairings a solution uses, with components and reasons (a test keeps
the two equal)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from charity.models import Fund
from charity.selectors.projects import project_supply_list
from marketplace.models import Area, Contract, Need
from marketplace.selectors.contracts import agency_track_records, contract_supply_list
from marketplace.selectors.directory import street_neighbour_codes
from matching import scoring
from matching.engine import Problem
from matching.engine.problem import Edge as EngineEdge
from matching.engine.problem import Need as EngineNeed
from matching.engine.problem import Provider as EngineProvider
from matching.models import Proposal, ProposalItem
from volunteers.models import Availability, SocialWorker, Team, TeamMember, Volunteer

VOLUNTEER, SOCIAL_WORKER, CHARITY = "volunteer", "social_worker", "charity"
ALL_DAYS = (1 << 7) - 1

DEFAULT_CANDIDATES = {VOLUNTEER: 30, SOCIAL_WORKER: 10, CHARITY: 5}


def _candidates_per_role() -> dict[str, int]:
    merged = dict(DEFAULT_CANDIDATES)
    merged.update(getattr(settings, "MATCHING_CANDIDATES", {}) or {})
    return merged


@dataclass
class NeedRow:
    id: int
    case_id: int
    kind: str
    service_type_id: int
    urgency: str
    community_id: int
    street_id: int
    window_mask: int
    slots: dict[str, int]
    excluded: set[str] = field(default_factory=set)


@dataclass
class SupplyRow:
    key: str  # "v12", "s3", "c45": engine provider id
    role: str
    pk: int
    user_id: int | None
    community_id: int | None
    street_id: int | None
    capacity: int
    load: int
    service_types: frozenset[int]
    skill_names: dict[int, str]  # service type → name of a skill serving it
    days: dict[int, tuple[str, ...]]  # weekday → parts of day (volunteers only)
    track: float | None = None
    organisation_id: int | None = None
    project_streets: frozenset[int] = frozenset()
    gives: frozenset[str] = frozenset()


@dataclass
class Snapshot:
    """What a run saw: the problem, the rows behind its ids, and how to explain an edge."""

    problem: Problem
    needs: dict[str, NeedRow]
    supply: dict[str, SupplyRow]
    edge_rings: dict[tuple[str, str], int]
    continuity: dict[int, set[int]]
    contracts: dict[tuple[int, int, int], tuple[int, str]]
    neighbours: dict[int, frozenset[int]]
    weights: dict

    def explain(self, need_key: str, provider_key: str) -> scoring.Scored:
        """The cost of one candidate pairing with its components and reasons."""
        need, provider = self.needs[need_key], self.supply[provider_key]
        return _score(
            self, need, provider, self.edge_rings[(need_key, provider_key)], detailed=True
        )

    def contract_for(self, need_key: str, provider_key: str) -> int | None:
        need, provider = self.needs[need_key], self.supply[provider_key]
        if provider.role != SOCIAL_WORKER:
            return None
        found = self.contracts.get((provider.organisation_id, need.street_id, need.service_type_id))
        return found[0] if found else None


def _window_mask(start: date, end: date) -> int:
    """Bit d set when weekday d (Monday 0) falls within the window."""
    if (end - start).days >= 6:
        return ALL_DAYS
    mask, day = 0, start
    while day <= end:
        mask |= 1 << day.weekday()
        day += timedelta(days=1)
    return mask


def _slots(kind: str, team: dict) -> dict[str, int]:
    if kind in (Need.Kind.FUNDS, Need.Kind.GOODS):
        return {CHARITY: 1}
    slots = {role: int(n) for role, n in (team or {}).items() if role in (VOLUNTEER, SOCIAL_WORKER)}
    return slots or {VOLUNTEER: 1}


def _need_rows(*, area: Area, need_id: int | None) -> dict[str, NeedRow]:
    needs = Need.objects.filter(status=Need.Status.OPEN).exclude(
        proposals__status=Proposal.Status.PENDING
    )
    if need_id is not None:
        needs = needs.filter(pk=need_id)
    elif area.level == Area.Level.STREET:
        needs = needs.filter(street_id=area.pk)
    elif area.level == Area.Level.COMMUNITY:
        needs = needs.filter(community_id=area.pk)
    rows: dict[str, NeedRow] = {}
    for values in needs.order_by("pk").values(
        "id",
        "case_id",
        "kind",
        "service_type_id",
        "urgency",
        "community_id",
        "street_id",
        "window_start",
        "window_end",
        "team",
    ):
        rows[f"n{values['id']}"] = NeedRow(
            id=values["id"],
            case_id=values["case_id"],
            kind=values["kind"],
            service_type_id=values["service_type_id"],
            urgency=values["urgency"],
            community_id=values["community_id"],
            street_id=values["street_id"],
            window_mask=_window_mask(values["window_start"], values["window_end"]),
            slots=_slots(values["kind"], values["team"]),
        )
    if not rows:
        return rows
    ids = [row.id for row in rows.values()]
    # Slots already held by an approved proposal (a decline re-opens only its own slot), and
    # providers an approver turned down for the need (asking for another proposal).
    held = (
        ProposalItem.objects.filter(
            proposal__need_id__in=ids,
            proposal__status=Proposal.Status.APPROVED,
            response__in=ProposalItem.HOLDING,
        )
        .values("proposal__need_id", "role")
        .annotate(n=Count("pk"))
    )
    for entry in held:
        row = rows[f"n{entry['proposal__need_id']}"]
        left = row.slots.get(entry["role"], 0) - entry["n"]
        if left > 0:
            row.slots[entry["role"]] = left
        else:
            row.slots.pop(entry["role"], None)
    for need_id_, volunteer_id, worker_id, project_id in (
        ProposalItem.objects.filter(proposal__need_id__in=ids)
        .filter(
            Q(proposal__status__in=[Proposal.Status.REDO, Proposal.Status.REJECTED])
            | Q(response=ProposalItem.Response.DECLINED)
        )
        .values_list("proposal__need_id", "volunteer_id", "social_worker_id", "project_id")
    ):
        key = (
            f"v{volunteer_id}"
            if volunteer_id
            else f"s{worker_id}"
            if worker_id
            else f"c{project_id}"
        )
        rows[f"n{need_id_}"].excluded.add(key)
    return {key: row for key, row in rows.items() if row.slots}


def _holding_counts() -> tuple[dict, dict, dict]:
    """Items that still hold a provider's capacity outside a team: pending proposals, and
    approved ones that formed no team (a team's members are counted through the team)."""
    counts = {
        VOLUNTEER: defaultdict(int),
        SOCIAL_WORKER: defaultdict(int),
        CHARITY: defaultdict(int),
    }
    rows = (
        ProposalItem.objects.filter(response__in=ProposalItem.HOLDING)
        .filter(
            Q(proposal__status=Proposal.Status.PENDING)
            | Q(proposal__status=Proposal.Status.APPROVED, proposal__team__isnull=True)
            | Q(role=CHARITY, proposal__status=Proposal.Status.APPROVED)
        )
        .values("role", "volunteer_id", "social_worker_id", "project_id")
        .annotate(n=Count("pk"))
    )
    for entry in rows:
        pk = entry["volunteer_id"] or entry["social_worker_id"] or entry["project_id"]
        counts[entry["role"]][pk] += entry["n"]
    return counts[VOLUNTEER], counts[SOCIAL_WORKER], counts[CHARITY]


def _team_loads() -> dict[int, int]:
    return dict(
        TeamMember.objects.filter(active=True, team__status=Team.Status.ACTIVE)
        .values("user_id")
        .annotate(n=Count("pk"))
        .values_list("user_id", "n")
    )


def _volunteers(holding: dict, team_load: dict) -> list[SupplyRow]:
    skills: dict[int, dict[int, str]] = defaultdict(dict)
    through = Volunteer.skills.through
    skill_types = defaultdict(list)
    from volunteers.models import Skill

    for skill_id, type_id, name in Skill.service_types.through.objects.values_list(
        "skill_id", "servicetype_id", "skill__name"
    ):
        skill_types[skill_id].append((type_id, name))
    for volunteer_id, skill_id in through.objects.values_list("volunteer_id", "skill_id"):
        for type_id, name in skill_types.get(skill_id, ()):
            skills[volunteer_id].setdefault(type_id, name)
    days: dict[int, dict[int, set]] = defaultdict(lambda: defaultdict(set))
    for volunteer_id, weekday, start in Availability.objects.values_list(
        "volunteer_id", "weekday", "start"
    ):
        days[volunteer_id][weekday].add(scoring.part_of_day(start.hour))
    rows = []
    for pk, user_id, community_id, street_id, max_concurrent, stars in (
        Volunteer.objects.filter(user__is_active=True)
        .order_by("pk")
        .values_list(
            "pk", "user_id", "home_community_id", "street_id", "max_concurrent", "star_level"
        )
    ):
        load = holding.get(pk, 0) + team_load.get(user_id, 0)
        capacity = max_concurrent - load
        if capacity <= 0:
            continue
        own = skills.get(pk, {})
        rows.append(
            SupplyRow(
                key=f"v{pk}",
                role=VOLUNTEER,
                pk=pk,
                user_id=user_id,
                community_id=community_id,
                street_id=street_id,
                capacity=capacity,
                load=load,
                service_types=frozenset(own),
                skill_names=own,
                days={d: tuple(sorted(parts)) for d, parts in days.get(pk, {}).items()},
                track=stars * 20.0,
            )
        )
    return rows


def _social_workers(holding: dict, team_load: dict) -> list[SupplyRow]:
    specialties: dict[int, dict[int, str]] = defaultdict(dict)
    for worker_id, type_id, name in SocialWorker.specialties.through.objects.values_list(
        "socialworker_id", "servicetype_id", "servicetype__name"
    ):
        specialties[worker_id][type_id] = name
    workers = list(
        SocialWorker.objects.filter(active=True, user__is_active=True)
        .order_by("pk")
        .values_list(
            "pk", "user_id", "organisation_id", "organisation__street_id", "max_concurrent"
        )
    )
    records = agency_track_records(organisation_ids={w[2] for w in workers})
    rows = []
    for pk, user_id, organisation_id, street_id, max_concurrent in workers:
        load = holding.get(pk, 0) + team_load.get(user_id, 0)
        capacity = max_concurrent - load
        if capacity <= 0:
            continue
        record = records.get(organisation_id)
        mean = record.mean_score if record is not None else None
        own = specialties.get(pk, {})
        rows.append(
            SupplyRow(
                key=f"s{pk}",
                role=SOCIAL_WORKER,
                pk=pk,
                user_id=user_id,
                community_id=None,
                street_id=street_id,
                capacity=capacity,
                load=load,
                service_types=frozenset(own),
                skill_names=own,
                days={},
                track=float(mean) if mean is not None else None,
                organisation_id=organisation_id,
            )
        )
    return rows


def _projects(holding: dict) -> list[SupplyRow]:
    projects = list(project_supply_list())
    funded = set(
        Fund.objects.filter(project_id__in=[p.pk for p in projects]).values_list(
            "project_id", flat=True
        )
    )
    rows = []
    for project in sorted(projects, key=lambda p: p.pk):
        if project.pk not in funded:
            continue
        capacity = project.capacity - project.places_taken - holding.get(project.pk, 0)
        if capacity <= 0:
            continue
        types = {t.pk: t.name for t in project.service_types.all()}
        gives = {
            kind
            for kind, flag in (
                (Need.Kind.FUNDS, project.gives_funds),
                (Need.Kind.GOODS, project.gives_goods),
            )
            if flag
        }
        rows.append(
            SupplyRow(
                key=f"c{project.pk}",
                role=CHARITY,
                pk=project.pk,
                user_id=None,
                community_id=None,
                street_id=None,
                capacity=capacity,
                load=0,
                service_types=frozenset(types),
                skill_names=types,
                days={},
                organisation_id=project.organisation_id,
                project_streets=frozenset(s.pk for s in project.streets.all()),
                gives=frozenset(gives),
            )
        )
    return rows


def _contracts() -> dict[tuple[int, int, int], tuple[int, str]]:
    """(agency, street, service type) → (contract id, number) with units still to deliver,
    less the units matched teams already hold."""
    supply = [s for s in contract_supply_list() if s.units_remaining > 0]
    if not supply:
        return {}
    held = dict(
        Team.objects.filter(
            contract_id__in={s.contract_id for s in supply}, status=Team.Status.ACTIVE
        )
        .values("contract_id")
        .annotate(n=Count("pk"))
        .values_list("contract_id", "n")
    )
    numbers = dict(
        Contract.objects.filter(pk__in={s.contract_id for s in supply}).values_list("pk", "number")
    )
    found: dict[tuple[int, int, int], tuple[int, str]] = {}
    for s in sorted(supply, key=lambda s: s.contract_id):
        if s.units_remaining - held.get(s.contract_id, 0) <= 0:
            continue
        found.setdefault(
            (s.agency_id, s.street_id, s.service_type_id), (s.contract_id, numbers[s.contract_id])
        )
    return found


def _continuity(case_ids: set[int]) -> dict[int, set[int]]:
    """Case → users who served on a team for one of its needs."""
    served: dict[int, set[int]] = defaultdict(set)
    for case_id, user_id in TeamMember.objects.filter(team__need__case_id__in=case_ids).values_list(
        "team__need__case_id", "user_id"
    ):
        served[case_id].add(user_id)
    return served


def _availability(mask: int, days: dict[int, tuple]) -> tuple:
    return tuple((d, part) for d, parts in sorted(days.items()) if mask >> d & 1 for part in parts)


def _score(snap: Snapshot, need: NeedRow, provider: SupplyRow, ring: int, *, detailed: bool):
    """The cost of a pairing (an int), or with `detailed` its components and reasons."""
    w = snap.weights
    continuity = provider.user_id is not None and provider.user_id in snap.continuity.get(
        need.case_id, ()
    )
    skill = provider.skill_names.get(need.service_type_id)
    if provider.role == VOLUNTEER:
        availability = _availability(need.window_mask, provider.days)
        if detailed:
            return scoring.score(
                w=w,
                distance=ring,
                skill=skill,
                availability=availability,
                continuity=continuity,
                load=provider.load,
                track=provider.track,
                track_label="stars",
            )
        days = len({d for d, _p in availability})
        return (
            w["distance"][ring]
            + (0 if skill else w["skill_missing"])
            + (
                w["availability_unknown"]
                if not days
                else 0
                if days >= 2
                else w["availability_one_day"]
            )
            + (0 if continuity else w["no_continuity"])
            + min(w["load_cap"], w["load_step"] * provider.load)
            + round(w["track_max"] * (100 - max(0.0, min(100.0, provider.track))) / 100)
        )
    if provider.role == SOCIAL_WORKER:
        contract = snap.contracts.get(
            (provider.organisation_id, need.street_id, need.service_type_id)
        )
        if detailed:
            return scoring.score(
                w=w,
                distance=ring,
                skill=skill,
                continuity=continuity,
                load=provider.load,
                track=provider.track,
                track_label="track",
                contract=contract[1] if contract else None,
                contract_applies=True,
            )
        track = (
            w["track_unknown"]
            if provider.track is None
            else round(w["track_max"] * (100 - max(0.0, min(100.0, provider.track))) / 100)
        )
        return (
            w["distance"][ring]
            + (0 if skill else w["skill_missing"])
            + (0 if continuity else w["no_continuity"])
            + min(w["load_cap"], w["load_step"] * provider.load)
            + track
            + (0 if contract else w["no_contract"])
        )
    local = need.street_id in provider.project_streets
    if detailed:
        return scoring.score(
            w=w,
            distance=ring,
            skill=skill,
            continuity=continuity,
            load=provider.load,
            project_local=local,
        )
    return (
        w["distance"][ring]
        + (0 if skill else w["skill_missing"])
        + (0 if continuity else w["no_continuity"])
        + min(w["load_cap"], w["load_step"] * provider.load)
        + (0 if local else w["project_not_local"])
    )


def _rings_index(rows: list[SupplyRow]):
    """Providers of one role indexed for blocking, each list in fairness order (least
    loaded first, then id)."""
    order = sorted(rows, key=lambda r: (r.load, r.pk))
    by_community: dict[int, list] = defaultdict(list)
    by_street: dict[int, list] = defaultdict(list)
    skilled_community: dict[tuple, list] = defaultdict(list)
    skilled_street: dict[tuple, list] = defaultdict(list)
    skilled_any: dict[int, list] = defaultdict(list)
    for row in order:
        if row.community_id is not None:
            by_community[row.community_id].append(row)
        if row.street_id is not None:
            by_street[row.street_id].append(row)
        for type_id in row.service_types:
            if row.community_id is not None:
                skilled_community[(row.community_id, type_id)].append(row)
            if row.street_id is not None:
                skilled_street[(row.street_id, type_id)].append(row)
            skilled_any[type_id].append(row)
    return by_community, by_street, skilled_community, skilled_street, skilled_any


def snapshot_build(*, area: Area, need_id: int | None = None) -> Snapshot:
    """Read open needs in `area` (or the one need) and the district's available supply, and
    build the engine problem with scored candidate edges. Only needs with an edge or a slot
    go in; a need no one can serve stays in the problem and is reported unfilled."""
    needs = _need_rows(area=area, need_id=need_id)
    holding_v, holding_s, holding_c = _holding_counts()
    team_load = _team_loads()
    volunteers = _volunteers(holding_v, team_load)
    workers = _social_workers(holding_s, team_load)
    projects = _projects(holding_c)
    street_codes = dict(Area.objects.filter(level=Area.Level.STREET).values_list("pk", "code"))
    code_to_pk = {code: pk for pk, code in street_codes.items()}
    neighbour_codes = street_neighbour_codes()
    neighbours = {
        pk: frozenset(code_to_pk[c] for c in neighbour_codes.get(code, ()) if c in code_to_pk)
        for pk, code in street_codes.items()
    }
    w = scoring.weights()
    snap = Snapshot(
        problem=Problem(needs=(), providers=(), edges=()),
        needs=needs,
        supply={row.key: row for row in (*volunteers, *workers, *projects)},
        edge_rings={},
        continuity=_continuity({row.case_id for row in needs.values()}),
        contracts=_contracts() if workers else {},
        neighbours=neighbours,
        weights=w,
    )
    limits = _candidates_per_role()
    indexes = {VOLUNTEER: _rings_index(volunteers), SOCIAL_WORKER: _rings_index(workers)}
    edges: list[EngineEdge] = []
    used: set[str] = set()
    for need_key, need in needs.items():
        for role in need.slots:
            if role == CHARITY:
                chosen = _charity_candidates(need, projects, limits[CHARITY])
            else:
                chosen = _people_candidates(need, indexes[role], neighbours, limits[role])
            for provider, ring in chosen:
                if provider.key in need.excluded:
                    continue
                snap.edge_rings[(need_key, provider.key)] = ring
                edges.append(
                    EngineEdge(
                        need=need_key,
                        provider=provider.key,
                        cost=_score(snap, need, provider, ring, detailed=False),
                    )
                )
                used.add(provider.key)
    unfilled = w["unfilled"]
    snap.problem = Problem(
        needs=tuple(
            EngineNeed(
                id=key,
                slots=tuple(sorted(need.slots.items())),
                unfilled_cost=unfilled.get(need.urgency, unfilled["normal"]),
            )
            for key, need in needs.items()
        ),
        providers=tuple(
            EngineProvider(id=row.key, role=row.role, capacity=row.capacity)
            for key, row in snap.supply.items()
            if key in used
        ),
        edges=tuple(edges),
    )
    return snap


def _people_candidates(need: NeedRow, index, neighbours, limit: int) -> list[tuple[SupplyRow, int]]:
    """Up to `limit` people by ring: skilled then any in the community, skilled then any in
    the street, skilled in bordering streets, skilled anywhere in the district."""
    by_community, by_street, skilled_community, skilled_street, skilled_any = index
    chosen: list[tuple[SupplyRow, int]] = []
    seen: set[str] = set()
    t = need.service_type_id

    def take(rows, ring_of) -> bool:
        for row in rows:
            if row.key in seen or row.key in need.excluded:
                continue
            if row.role == VOLUNTEER and row.days and not need.window_mask & _days_mask(row):
                continue  # keeps a timetable, and none of it falls within the window
            seen.add(row.key)
            chosen.append((row, ring_of(row)))
            if len(chosen) >= limit:
                return True
        return False

    def ring_of(row: SupplyRow) -> int:
        return scoring.distance_class(
            need_community=need.community_id,
            need_street=need.street_id,
            provider_community=row.community_id,
            provider_street=row.street_id,
            neighbours=neighbours.get(need.street_id, frozenset()),
        )

    for rows in (
        skilled_community.get((need.community_id, t), ()),
        by_community.get(need.community_id, ()),
        skilled_street.get((need.street_id, t), ()),
        by_street.get(need.street_id, ()),
        *(skilled_street.get((s, t), ()) for s in sorted(neighbours.get(need.street_id, ()))),
        skilled_any.get(t, ()),
    ):
        if take(rows, ring_of):
            break
    return chosen


def _days_mask(row: SupplyRow) -> int:
    mask = 0
    for day in row.days:
        mask |= 1 << day
    return mask


def _charity_candidates(need: NeedRow, projects: list[SupplyRow], limit: int):
    """Projects that give what the need asks (funds or goods) for its service type, those
    covering its street first."""
    fitting = [
        p
        for p in projects
        if need.kind in p.gives
        and need.service_type_id in p.service_types
        and (not p.project_streets or need.street_id in p.project_streets)
    ]
    fitting.sort(key=lambda p: (need.street_id not in p.project_streets, p.pk))
    ring = scoring.SAME_STREET
    return [
        (p, ring if need.street_id in p.project_streets else scoring.DISTRICT)
        for p in fitting[:limit]
    ]


def snapshot_today() -> date:
    return timezone.localdate()
