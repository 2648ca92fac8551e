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
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from charity.models import Disbursement, Fund
from charity.selectors.projects import project_supply_list
from marketplace.models import Area, Contract, Need
from marketplace.selectors.contracts import agency_track_records, contract_supply_list
from marketplace.selectors.directory import street_neighbour_codes
from matching import scoring
from matching.engine import Problem
from matching.engine.problem import EdgeTable
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
    mask: int = 0  # bit d set when the timetable has weekday d (volunteers only)


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
    # Provider key → the part of its inline edge cost no need changes (load, track record).
    fixed: dict[str, int] = field(default_factory=dict, repr=False)

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


def open_needs(*, area: Area, need_id: int | None = None) -> QuerySet[Need]:
    """The needs a run over `area` (or for the one need) takes: open, and not already
    waiting for a decision on a proposal."""
    needs = Need.objects.filter(status=Need.Status.OPEN).exclude(
        proposals__status=Proposal.Status.PENDING
    )
    if need_id is not None:
        return needs.filter(pk=need_id)
    if area.level == Area.Level.STREET:
        return needs.filter(street_id=area.pk)
    if area.level == Area.Level.COMMUNITY:
        return needs.filter(community_id=area.pk)
    return needs


def _need_rows(needs: QuerySet[Need]) -> dict[str, NeedRow]:
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
    # The needs as a subquery, not a list of ten thousand ids to bind (a need opened
    # meanwhile may come back from it: it is not in this snapshot, so it is skipped).
    ids = needs.values("pk")
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
        row = rows.get(f"n{entry['proposal__need_id']}")
        if row is None:
            continue
        left = row.slots.get(entry["role"], 0) - entry["n"]
        if left > 0:
            row.slots[entry["role"]] = left
        else:
            row.slots.pop(entry["role"], None)
    # Also left out: whoever already holds one of the need's slots, so a re-opened slot
    # never goes to a person serving the need in another slot.
    for need_id_, volunteer_id, worker_id, project_id in (
        ProposalItem.objects.filter(proposal__need_id__in=ids)
        .filter(
            Q(proposal__status__in=[Proposal.Status.REDO, Proposal.Status.REJECTED])
            | Q(response=ProposalItem.Response.DECLINED)
            | Q(proposal__status=Proposal.Status.APPROVED, response__in=ProposalItem.HOLDING)
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
        if f"n{need_id_}" in rows:
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
        # A paid disbursement has counted the place in the project's `places_taken`.
        .exclude(disbursement__status=Disbursement.Status.PAID)
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


def _person_row(
    *, max_concurrent: int, load: int, own: dict[int, str], **fields
) -> SupplyRow | None:
    """A volunteer's or social worker's supply row: capacity is what their
    `max_concurrent` leaves after the load they carry (None when nothing is left); `own`
    maps the service types they serve to the skill or specialty that serves each."""
    capacity = max_concurrent - load
    if capacity <= 0:
        return None
    return SupplyRow(
        capacity=capacity, load=load, service_types=frozenset(own), skill_names=own, **fields
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
        timetable = days.get(pk, {})
        row = _person_row(
            key=f"v{pk}",
            role=VOLUNTEER,
            pk=pk,
            user_id=user_id,
            max_concurrent=max_concurrent,
            load=holding.get(pk, 0) + team_load.get(user_id, 0),
            own=skills.get(pk, {}),
            community_id=community_id,
            street_id=street_id,
            days={d: tuple(sorted(parts)) for d, parts in timetable.items()},
            track=stars * 20.0,
            mask=sum(1 << d for d in timetable),
        )
        if row is not None:
            rows.append(row)
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
        record = records.get(organisation_id)
        mean = record.mean_score if record is not None else None
        row = _person_row(
            key=f"s{pk}",
            role=SOCIAL_WORKER,
            pk=pk,
            user_id=user_id,
            max_concurrent=max_concurrent,
            load=holding.get(pk, 0) + team_load.get(user_id, 0),
            own=specialties.get(pk, {}),
            community_id=None,
            street_id=street_id,
            days={},
            track=float(mean) if mean is not None else None,
            organisation_id=organisation_id,
        )
        if row is not None:
            rows.append(row)
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


def _continuity(case_ids) -> dict[int, set[int]]:
    """Case → users who served on a team for one of its needs."""
    served: dict[int, set[int]] = defaultdict(set)
    for case_id, user_id in TeamMember.objects.filter(team__need__case_id__in=case_ids).values_list(
        "team__need__case_id", "user_id"
    ):
        served[case_id].add(user_id)
    return served


def _availability(mask: int, days: dict[int, tuple]) -> tuple:
    return tuple((d, part) for d, parts in sorted(days.items()) if mask >> d & 1 for part in parts)


def _fixed_cost(w: dict, provider: SupplyRow) -> int:
    """The need-independent part of a provider's inline edge cost, as `scoring.score`
    counts it: load, and the track record of people."""
    cost = min(w["load_cap"], w["load_step"] * max(0, provider.load))
    if provider.role == VOLUNTEER:
        cost += round(w["track_max"] * (100 - max(0.0, min(100.0, provider.track))) / 100)
    elif provider.role == SOCIAL_WORKER:
        cost += (
            w["track_unknown"]
            if provider.track is None
            else round(w["track_max"] * (100 - max(0.0, min(100.0, provider.track))) / 100)
        )
    return cost


def _score(snap: Snapshot, need: NeedRow, provider: SupplyRow, ring: int, *, detailed: bool):
    """The cost of a pairing (an int), or with `detailed` its components and reasons.

    The inline path runs for every candidate edge of a district (hundreds of thousands), so
    it adds integers only: the need-independent part comes precomputed (`Snapshot.fixed`)
    and timetable days are counted on bit masks. A test keeps it equal to the detailed
    path for every edge."""
    if not detailed:
        return _inline_costs(snap, need, [(provider, ring)])[0]
    continuity = provider.user_id is not None and provider.user_id in snap.continuity.get(
        need.case_id, ()
    )
    skill = provider.skill_names.get(need.service_type_id)
    return _explain(snap, need, provider, ring, continuity=continuity, skill=skill)


def _inline_costs(snap: Snapshot, need: NeedRow, chosen) -> list[int]:
    """The inline costs of one need's candidates, (provider, ring) pairs: what the lookups
    of the need and the weights cost is paid once per need, not once per edge."""
    w, fixed = snap.weights, snap.fixed
    distance, skill_missing, no_continuity = w["distance"], w["skill_missing"], w["no_continuity"]
    unknown, one_day = w["availability_unknown"], w["availability_one_day"]
    served = snap.continuity.get(need.case_id, ())
    type_id, street_id, window = need.service_type_id, need.street_id, need.window_mask
    contract_key = (street_id, type_id)
    costs = []
    for provider, ring in chosen:
        cost = fixed[provider.key] + distance[ring]
        if not provider.skill_names.get(type_id):
            cost += skill_missing
        if provider.user_id is None or provider.user_id not in served:
            cost += no_continuity
        role = provider.role
        if role == VOLUNTEER:
            days = (window & provider.mask).bit_count()
            cost += unknown if not days else 0 if days >= 2 else one_day
        elif role == SOCIAL_WORKER:
            if (provider.organisation_id, *contract_key) not in snap.contracts:
                cost += w["no_contract"]
        elif street_id not in provider.project_streets:
            cost += w["project_not_local"]
        costs.append(cost)
    return costs


def _explain(
    snap: Snapshot, need: NeedRow, provider: SupplyRow, ring: int, *, continuity: bool, skill
) -> scoring.Scored:
    """The detailed path: `scoring.score` with the components and reasons it stores."""
    w = snap.weights
    if provider.role == VOLUNTEER:
        return scoring.score(
            w=w,
            distance=ring,
            skill=skill,
            availability=_availability(need.window_mask, provider.days),
            continuity=continuity,
            load=provider.load,
            track=provider.track,
            track_label="stars",
        )
    if provider.role == SOCIAL_WORKER:
        contract = snap.contracts.get(
            (provider.organisation_id, need.street_id, need.service_type_id)
        )
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
    return scoring.score(
        w=w,
        distance=ring,
        skill=skill,
        skill_code="project_type",
        continuity=continuity,
        load=provider.load,
        project_local=need.street_id in provider.project_streets,
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
    pool = open_needs(area=area, need_id=need_id)
    needs = _need_rows(pool)
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
        continuity=_continuity(pool.values("case_id")),
        contracts=_contracts() if workers else {},
        neighbours=neighbours,
        weights=w,
    )
    snap.fixed = {key: _fixed_cost(w, row) for key, row in snap.supply.items()}
    limits = _candidates_per_role()
    indexes = {VOLUNTEER: _rings_index(volunteers), SOCIAL_WORKER: _rings_index(workers)}
    # Edges as three columns (the engine's EdgeTable): a district has hundreds of
    # thousands, and the solver reads columns, never edge objects.
    edge_needs: list[str] = []
    edge_providers: list[str] = []
    edge_costs: list[int] = []
    rings = snap.edge_rings
    used: set[str] = set()
    for need_key, need in needs.items():
        for role in need.slots:
            if role == CHARITY:
                chosen = _charity_candidates(need, projects, limits[CHARITY])
            else:
                chosen = _people_candidates(need, indexes[role], neighbours, limits[role])
            if need.excluded:
                chosen = [(p, ring) for p, ring in chosen if p.key not in need.excluded]
            keys = [provider.key for provider, _ring in chosen]
            rings.update(((need_key, p.key), ring) for p, ring in chosen)
            edge_needs.extend([need_key] * len(keys))
            edge_providers.extend(keys)
            edge_costs.extend(_inline_costs(snap, need, chosen))
            used.update(keys)
    unfilled = w["unfilled"]
    snap.problem = Problem(
        needs=tuple(
            EngineNeed(
                id=key,
                slots=tuple(sorted(need.slots.items())),
                unfilled_cost=unfilled.get(need.urgency, unfilled["normal"]),
                # Streets are the tiles of a split solve (used only above the size
                # MATCHING_TILE_MIN_NEEDS; the engine ignores tiles otherwise).
                tile=f"street-{need.street_id}",
            )
            for key, need in needs.items()
        ),
        providers=tuple(
            EngineProvider(
                id=row.key,
                role=row.role,
                capacity=row.capacity,
                tile=f"street-{row.street_id}" if row.street_id else None,
            )
            for key, row in snap.supply.items()
            if key in used
        ),
        edges=EdgeTable(edge_needs, edge_providers, edge_costs),
    )
    return snap


def _people_candidates(need: NeedRow, index, neighbours, limit: int) -> list[tuple[SupplyRow, int]]:
    """Up to `limit` people by ring: skilled then any in the community, skilled then any in
    the street, skilled in bordering streets, skilled anywhere in the district."""
    by_community, by_street, skilled_community, skilled_street, skilled_any = index
    chosen: list[tuple[SupplyRow, int]] = []
    seen: set[str] = set()
    t = need.service_type_id

    def take(rows, ring) -> bool:
        for row in rows:
            if row.key in seen or row.key in excluded:
                continue
            if row.mask and not window & row.mask:
                continue  # keeps a timetable, and none of it falls within the window
            seen.add(row.key)
            chosen.append((row, ring if ring is not None else ring_of(row)))
            if len(chosen) >= limit:
                return True
        return False

    def ring_of(row: SupplyRow) -> int:
        return scoring.distance_class(
            need_community=need.community_id,
            need_street=need.street_id,
            provider_community=row.community_id,
            provider_street=row.street_id,
            neighbours=near,
        )

    # Each list's ring is known: whoever of the need's community or street appears in a
    # later list was taken or refused in an earlier one. Only the district-wide list is
    # classed row by row.
    excluded, window = need.excluded, need.window_mask
    near = neighbours.get(need.street_id, frozenset())
    for rows, ring in (
        (skilled_community.get((need.community_id, t), ()), scoring.SAME_COMMUNITY),
        (by_community.get(need.community_id, ()), scoring.SAME_COMMUNITY),
        (skilled_street.get((need.street_id, t), ()), scoring.SAME_STREET),
        (by_street.get(need.street_id, ()), scoring.SAME_STREET),
        *((skilled_street.get((s, t), ()), scoring.NEIGHBOUR_STREET) for s in sorted(near)),
        (skilled_any.get(t, ()), None),
    ):
        if take(rows, ring):
            break
    return chosen


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
