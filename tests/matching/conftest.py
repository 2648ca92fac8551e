"""Fixtures for matching tests (services, snapshot, scoring, views): `world` with supply —
volunteers with skills and weekly timetables, social workers of the agency and the street's
社工站, a charity project with a funded project fund — and open needs in both streets.

`matching_world` is the one most tests want; `approval_rules` puts back the rules a
migration seeds (a transactional test's flush removes them); `make_need` builds and opens
one more need through the case services; `volunteer_make` and `social_worker_make` add
supply."""

from __future__ import annotations

import itertools
from datetime import time, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from marketplace.models import Area, Need, Role, ServiceType
from marketplace.services import MemberInput, NeedInput, case_register, need_transition
from matching.models import ApprovalRule
from tests import factories as f

_seq = itertools.count(1)

# Tuesday and Thursday afternoons: renders as "每周二、四下午有空".
TUE_THU_AFTERNOON = ((1, time(14), time(17)), (3, time(14), time(17)))


def approval_rules_ensure() -> list[ApprovalRule]:
    """The authority rules as the migration seeds them, put back when a flush removed them."""
    from matching.demo import approval_rules_ensure as ensure

    ensure()
    return list(ApprovalRule.objects.order_by("position", "pk"))


def skills_ensure() -> dict:
    """The seeded skills taxonomy (code → Skill), put back when a flush removed it."""
    from volunteers.demo import skills_ensure as ensure

    return ensure()[0]


@pytest.fixture
def approval_rules(db) -> list[ApprovalRule]:
    """The seeded approval rules: above 5,000 yuan → district; cross-street → district;
    else the street."""
    return approval_rules_ensure()


def need_make(
    w,
    *,
    community: Area | None = None,
    team: dict | None = None,
    service_type: str = "visiting",
    kind: str = Need.Kind.SERVICE,
    urgency: str = Need.Urgency.NORMAL,
    amount: Decimal | str | None = None,
    quantity: int | None = None,
    days: int = 30,
    start_in: int = 0,
    publish: bool = True,
    case=None,
) -> Need:
    """One need through the case services (registered by civil affairs, confirmed and, with
    `publish`, opened): a window of `days` days starting `start_in` days from today. With
    `case`, the need is added to that household."""
    from marketplace.services.cases import need_create

    official = w.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    today = timezone.localdate()
    spec = NeedInput(
        kind=kind,
        service_type=ServiceType.objects.get(code=service_type),
        window_start=today + timedelta(days=start_in),
        window_end=today + timedelta(days=start_in + days - 1),
        urgency=urgency,
        amount=Decimal(str(amount)) if amount is not None else None,
        quantity=quantity,
        team=team or {},
        public_description="独居老人，需要定期上门探访与生活帮助。",
    )
    if case is not None:
        need = need_create(case=case, created_by=official, spec=spec)
    else:
        need = case_register(
            created_by=official,
            community=community or w.community,
            members=[MemberInput(name="王秀兰", id_number=f.resident_id(), relationship="head")],
            phone=f.phone(),
            sensitive_consent_by="王秀兰",
            need=spec,
        ).need
    need_transition(need=need, to=Need.Status.CONFIRMED, by=official)
    if publish:
        need_transition(need=need, to=Need.Status.OPEN, by=official)
    need.refresh_from_db()
    return need


@pytest.fixture
def make_need(world):
    """Build one more open need: `make_need(community=..., team={...}, urgency=...)`."""

    def _make(**kwargs):
        return need_make(world, **kwargs)

    return _make


def volunteer_make(
    community: Area,
    *,
    name: str | None = None,
    user=None,
    skills=(),
    slots=(),
    max_concurrent: int = 2,
    **extra,
):
    """A registered volunteer in `community` with skills and weekly `slots` of (weekday,
    start, end); a fresh user unless one is given."""
    from volunteers.models import Availability

    n = next(_seq)
    user = user or f.user(f"mvol{n}")
    volunteer = f.volunteer(
        user,
        community,
        real_name=name or f"志愿者{n}",
        skills=skills,
        max_concurrent=max_concurrent,
        **extra,
    )
    for weekday, start, end in slots:
        slot = Availability(volunteer=volunteer, weekday=weekday, start=start, end=end)
        slot.full_clean()
        slot.save()
    return volunteer


def social_worker_make(organisation, *, name: str | None = None, user=None, types=(), **extra):
    """A social worker of an agency or 社工站 with specialties (service type codes)."""
    n = next(_seq)
    user = user or f.user(f"msw{n}", Role.SOCIAL_WORKER, organisation)
    worker = f.social_worker(user, organisation, real_name=name or f"社工{n}", **extra)
    if types:
        worker.specialties.set(ServiceType.objects.filter(code__in=types))
    return worker


def charity_project_make(
    w, *, organisation=None, capacity: int = 5, donate: str = "20000", funded: bool = True
):
    """A published charity project that gives funds for 临时救助（支出型） in `w.street`, with
    a project fund holding `donate` yuan (none when not `funded`)."""
    from charity.models import Donation, Fund
    from charity.services import (
        project_approve,
        project_create,
        project_editors_sync,
        project_reviewers_sync,
        project_section_ensure,
    )
    from charity.services.donations import donation_record

    organisation = organisation or w.charity
    staff = w.users[Role.CHARITY_STAFF]
    project_section_ensure(organisation=organisation)
    project_editors_sync(organisation=organisation)
    project_reviewers_sync()
    today = timezone.localdate()
    page = project_create(
        organisation=organisation,
        owner=staff,
        title=f"困难家庭临时救助金{next(_seq)}",
        summary="为支出型困难家庭提供临时救助金。",
        gives_funds=True,
        service_types=[ServiceType.objects.get(code="temporary_expenditure")],
        streets=[w.street],
        budget=Decimal("50000"),
        capacity=capacity,
        starts_on=today - timedelta(days=10),
        ends_on=today + timedelta(days=180),
        eligibility="明光路街道支出型困难家庭。",
        contact_name="张老师",
        contact_phone="13905510001",
        submit=True,
    )
    page = project_approve(page=page, by=w.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    if not funded:
        page.fund = None
        return page
    fund = f.fund(organisation, Fund.Kind.PROJECT, project=page)
    donation_record(
        fund=fund,
        by=staff,
        idempotency_key=f.key(),
        kind=Donation.Kind.MONEY,
        donor_kind=Donation.DonorKind.ORGANISATION,
        donor_name="合肥某某科技有限公司",
        amount=donate,
    )
    page.fund = fund
    return page


def matching_supply_make(w):
    """Add the supply and the service needs of `matching_world` to a `world` (no Wagtail
    pages, so a transactional test can use it after a flush)."""
    w.rules = approval_rules_ensure()
    w.skills = skills_ensure()
    w.civil = w.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    w.official = w.users[Role.STREET_OFFICIAL]
    w.official2 = w.street_official2
    w.charity_staff = w.users[Role.CHARITY_STAFF]
    w.community_b = f.area("瑶海社区", Area.Level.COMMUNITY, Area.Kind.COMMUNITY, w.street)
    visit = [w.skills["visiting"]]
    w.vol_near = volunteer_make(
        w.community,
        name="赵磊",
        user=w.users[Role.VOLUNTEER],
        skills=visit,
        slots=TUE_THU_AFTERNOON,
    )
    w.vol_near2 = volunteer_make(
        w.community, name="钱敏", skills=visit, slots=((0, time(9), time(11)),)
    )
    w.vol_street = volunteer_make(w.community_b, name="孙立", skills=visit)
    w.vol_far = volunteer_make(
        w.community2, name="李娜", skills=visit, slots=((5, time(9), time(12)),)
    )
    w.sw_station = social_worker_make(
        w.station, name="杨洋", user=w.users[Role.SOCIAL_WORKER], types=["visiting"]
    )
    w.sw_agency = social_worker_make(w.agency, name="陈晨", types=["visiting"])
    w.need_visit = need_make(w, community=w.community, team={"volunteer": 1})
    w.need_team = need_make(w, community=w.community, team={"social_worker": 1, "volunteer": 2})
    w.need2 = need_make(w, community=w.community2, team={"volunteer": 1})
    return w


@pytest.fixture
def matching_supply(world):
    """`matching_world` without the funds need and the charity project (no Wagtail pages:
    usable by transactional tests, after `seeded`)."""
    return matching_supply_make(world)


@pytest.fixture
def matching_world(world, approval_rules):
    """`world` with matching supply and demand. Added attributes:

    - `skills` (code → Skill); `community_b`: a second community of `street`;
    - volunteers: `vol_near` (user `zhiyuan`, `community`, 探访陪伴, Tue/Thu afternoons),
      `vol_near2` (`community`, 探访陪伴, Monday mornings), `vol_street` (`community_b`,
      探访陪伴, no timetable), `vol_far` (`community2` of `street2`, 探访陪伴, Saturdays);
    - social workers: `sw_station` (user `shegong` of `station`) and `sw_agency` (of
      `agency`), both with the 走访探视 specialty;
    - open needs: `need_visit` ({"volunteer": 1}, `community`), `need_team`
      ({"social_worker": 1, "volunteer": 2}, `community`), `need2` ({"volunteer": 1},
      `community2`), `need_funds` (3,000 yuan, 临时救助（支出型）, `community`);
    - `project`: a charity project of `charity` giving funds for that type in `street`, with
      `project.fund` holding 20,000 yuan;
    - `rules` (the approval rules), `civil` (civil affairs official), `official` (street
      official of `street`), `official2` (of `street2`), `charity_staff`."""
    w = matching_supply_make(world)
    w.need_funds = need_make(
        w,
        community=w.community,
        kind=Need.Kind.FUNDS,
        service_type="temporary_expenditure",
        amount="3000.00",
    )
    w.project = charity_project_make(w)
    return w


def agency_contract_make(w, *, street: Area | None = None, score: str | None = None):
    """An active purchased-service contract of `w.agency` for 走访探视 in `street` (default
    `w.street`); with `score`, a completed review gives the agency that track record."""
    from marketplace.models import PerformanceReview
    from tests import procurement as p

    agency = w.agency
    agency.staff_user = w.users[Role.AGENCY_STAFF]
    agency.worker_users = [w.sw_agency.user] if hasattr(w, "sw_agency") else []
    tender = p.tender(w, state="closed", lots=2)
    lot = tender.lots.get(street=street or w.street)
    contract = p.contract(w, lot, agency)
    if score is not None:
        PerformanceReview.objects.create(
            contract=contract,
            kind=PerformanceReview.Kind.MIDTERM,
            status=PerformanceReview.Status.COMPLETED,
            sample_rate=Decimal("0.30"),
            population=10,
            drawn_by=w.users[Role.CIVIL_AFFAIRS_OFFICIAL],
            drawn_at=timezone.now() - timedelta(days=30),
            score=Decimal(score),
            completed_at=timezone.now() - timedelta(days=20),
        )
    return contract


@pytest.fixture
def agency_contract(matching_world):
    """An active contract of `agency` covering 走访探视 in `street`, with a reviewed score of
    80 (so `sw_agency` ranks with a contract and a track record)."""
    return agency_contract_make(matching_world, score="80")


def run_now(*, by, area: Area, kind: str | None = None):
    """Start a run and execute it at once (the task would run at commit); return it fresh
    from the database. In a transactional test the commit already ran it."""
    from matching.models import MatchRun
    from matching.services import match_run_execute, match_run_start

    extra = {"kind": kind} if kind else {}
    run = match_run_start(requested_by=by, area=area, **extra)
    match_run_execute(run_id=run.pk)
    return MatchRun.objects.get(pk=run.pk)


def proposals_by_need(run) -> dict:
    """The run's proposals keyed by need id."""
    return {p.need_id: p for p in run.proposals.prefetch_related("items")}


@pytest.fixture
def matched_world(matching_world):
    """`matching_world` after a district run started by civil affairs: `run` (done) and
    `proposals` (need id → pending Proposal) for `need_visit`, `need_team`, `need2` and
    `need_funds`."""
    w = matching_world
    w.run = run_now(by=w.civil, area=w.district)
    w.proposals = proposals_by_need(w.run)
    return w
