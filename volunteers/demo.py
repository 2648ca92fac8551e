"""Volunteering demo data for 明光路街道: volunteers registered through the services, their
federation memberships, a social worker, upcoming opportunities (one full with a waiting
list), a past record of hours and one 社工 + 志愿者 team serving an open need.

The demo volunteer 赵磊 (login `zhiyuan`) starts 2 hours short of his first star, so the
journey register → sign up → check in → hours confirmed → star rises can be walked on the
demo data. Idempotent: run it again and it adds only what is missing."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import ROUND_CEILING, Decimal
from importlib import import_module

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from marketplace.demo import PersonFactory, SeedReport
from marketplace.models import Area, Need, Organisation, ServiceType, User
from volunteers.models import (
    Affiliation,
    Opportunity,
    ServiceRecord,
    Skill,
    SocialWorker,
    Team,
    Volunteer,
)
from volunteers.services import (
    AvailabilityInput,
    affiliation_decide,
    affiliation_request,
    opportunity_create,
    service_record_add_manual,
    service_record_confirm,
    signup_create,
    social_worker_save,
    team_create,
    team_message_post,
    team_task_create,
    volunteer_register,
)

STREET = "明光路街道"
FEDERATION = f"{STREET}志愿者联合会"
STATION = f"{STREET}社工站"
# Generated volunteers: username, skills, hours already confirmed (weekly visits of 3.5 h).
VOLUNTEERS = [
    ("zy01", ["visiting", "digital_help"], 42),
    ("zy02", ["care", "hospital_escort"], 126),
    ("zy03", ["rehabilitation", "care"], 315),
    ("zy04", ["repairs"], 0),
    ("zy05", ["tutoring", "child_care"], 21),
    ("zy06", ["driving", "hospital_escort"], 0),
    ("zy07", ["counselling", "visiting"], 84),
    ("zy08", ["sign_language"], 0),
]
ZHAO_LEI_HOURS = 98  # two short of ★


def volunteers_demo_seed(*, report: SeedReport, size: str) -> None:
    """Create what is missing of the volunteering demo (the same for every size)."""
    _skills(report)
    street = Area.objects.get(name=STREET, level=Area.Level.STREET)
    communities = list(street.children.order_by("code"))
    federation = Organisation.objects.get(name=FEDERATION)
    manager = User.objects.get(username="zhiyuanhui")
    people = PersonFactory(2025, sequences=(900, 1000))
    today = timezone.localdate()

    zhao = _volunteer(
        report,
        people,
        User.objects.get(username="zhiyuan"),
        community=communities[0],
        skills=["visiting", "hospital_escort", "digital_help"],
        today=today,
        name="赵磊",
    )
    volunteers = [zhao]
    password = make_password(settings.DEMO_PASSWORD)
    for i, (username, skills, _hours) in enumerate(VOLUNTEERS):
        male = i % 2 == 0
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"display_name": people.name(male=male), "password": password},
        )
        if created:
            report.add("users")
        volunteers.append(
            _volunteer(
                report,
                people,
                user,
                community=communities[i % len(communities)],
                skills=skills,
                today=today,
                name=user.display_name,
            )
        )
    for volunteer in volunteers:
        _join(report, volunteer, federation, manager)

    worker = _social_worker(report)
    upcoming = _opportunities(report, federation, manager, communities, today)
    _history(report, federation, manager, communities, today, volunteers)
    _signups(report, upcoming, volunteers)
    _team(report, worker, volunteers, communities, today)


def skills_ensure() -> tuple[dict[str, Skill], int]:
    """The skills a migration seeds (code → Skill), put back where missing (a flushed test
    database), and how many had to be made again."""
    seeded = import_module("volunteers.migrations.0002_signup_no_overlap_and_skills")
    skills, created_count = {}, 0
    for position, (code, name, description, certificate, types) in enumerate(
        seeded.SKILLS, start=1
    ):
        skill, created = Skill.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "description": description,
                "needs_certificate": certificate,
                "position": position,
            },
        )
        if created:
            skill.service_types.set(ServiceType.objects.filter(code__in=types))
            created_count += 1
        skills[code] = skill
    return skills, created_count


def _skills(report: SeedReport) -> None:
    _skills_by_code, created = skills_ensure()
    if created:
        report.add("skills", created)


def _volunteer(report, people, user, *, community, skills, today, name) -> Volunteer:
    existing = Volunteer.objects.filter(user=user).first()
    if existing:
        return existing
    male = people.rng.random() < 0.5
    born = people.born(people.rng.randrange(22, 66), today)
    volunteer = volunteer_register(
        user=user,
        real_name=name,
        id_number=people.resident_id(born, male=male),
        phone=people.phone(),
        home_community=community,
        skills=list(Skill.objects.filter(code__in=skills)),
        availabilities=[
            AvailabilityInput(1, time(14), time(17)),
            AvailabilityInput(3, time(14), time(17)),
            AvailabilityInput(5, time(9), time(12)),
        ],
        max_concurrent=3,
        introduction="",
    )
    report.add("volunteers")
    return volunteer


def _join(report, volunteer: Volunteer, federation: Organisation, manager: User) -> None:
    if Affiliation.objects.filter(volunteer=volunteer, organisation=federation).exists():
        return
    affiliation = affiliation_request(
        volunteer=volunteer, organisation=federation, message="申请加入本街道志愿者联合会"
    )
    affiliation_decide(affiliation=affiliation, by=manager, approve=True, note="欢迎加入")
    report.add("affiliations")


def _social_worker(report) -> SocialWorker:
    user = User.objects.get(username="shegong")
    existing = SocialWorker.objects.filter(user=user).first()
    if existing:
        return existing
    worker = social_worker_save(
        by=user,
        user=user,
        organisation=Organisation.objects.get(name=STATION),
        real_name=user.display_name or "杨洋",
        level=SocialWorker.Level.INTERMEDIATE,
        certificate_number="SW2019340102017",
        specialties=list(ServiceType.objects.filter(code__in=["visiting", "counselling"])),
        max_concurrent=3,
    )
    report.add("social_workers")
    return worker


def _at(day, hour: int, minute: int = 0) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


def _opportunities(report, federation, manager, communities, today) -> list[Opportunity]:
    """Upcoming opportunities; the third has 2 places so the demo shows a waiting list."""
    plans = [
        ("独居老人上门探访", "visiting", ["visiting"], 1, 9, 12, 6),
        ("长者智能手机课堂", "capacity_building", ["digital_help"], 2, 14, 17, 4),
        ("陪同就医（市二院）", "hospital_escort", ["hospital_escort", "driving"], 3, 8, 12, 2),
        ("楼道扶手安装（适老化）", "age_friendly", ["repairs"], 5, 9, 16, 8),
    ]
    result = []
    for i, (title, service, skills, days, start, end, slots) in enumerate(plans):
        existing = Opportunity.objects.filter(organisation=federation, title=title).first()
        if existing and existing.starts_at > timezone.now():
            result.append(existing)
            continue
        day = today + timedelta(days=days)
        result.append(
            opportunity_create(
                by=manager,
                organisation=federation,
                title=title,
                description=f"{title}：请准时到社区党群服务中心集合，佩戴志愿者马甲。",
                community=communities[i % len(communities)],
                starts_at=_at(day, start),
                ends_at=_at(day, end),
                slots=slots,
                skills=list(Skill.objects.filter(code__in=skills)),
                service_type=ServiceType.objects.get(code=service),
                address="社区党群服务中心",
            )
        )
        report.add("opportunities")
    return result


def _history(report, federation, manager, communities, today, volunteers) -> None:
    """Past weekly service days with confirmed hours, so stars and records show something.
    Each volunteer serves a share of each day that adds up to their total."""
    title = "每周助老服务日（往期）"
    if Opportunity.objects.filter(organisation=federation, title=title).exists():
        return
    targets = {volunteers[0].pk: ZHAO_LEI_HOURS}
    for volunteer, (_username, _skills, hours) in zip(volunteers[1:], VOLUNTEERS, strict=True):
        targets[volunteer.pk] = hours
    weeks = 45
    quarter = Decimal("0.25")
    shares = {
        pk: ((Decimal(total) / weeks / quarter).to_integral_value(rounding=ROUND_CEILING)) * quarter
        for pk, total in targets.items()
    }
    with transaction.atomic():
        for week in range(weeks, 0, -1):
            day = today - timedelta(days=7 * week)
            opportunity = Opportunity(
                organisation=federation,
                title=title,
                description="往期活动记录",
                community=communities[week % len(communities)],
                starts_at=_at(day, 9),
                ends_at=_at(day, 17),
                slots=len(volunteers),
                status=Opportunity.Status.FINISHED,
                created_by=manager,
            )
            opportunity.full_clean()
            opportunity.save()
            for volunteer in volunteers:
                left = targets[volunteer.pk]
                if left <= 0:
                    continue
                take = min(shares[volunteer.pk], Decimal(left))
                ends = opportunity.starts_at + timedelta(hours=float(take))
                record = service_record_add_manual(
                    by=manager,
                    volunteer=volunteer,
                    opportunity=opportunity,
                    checked_in_at=opportunity.starts_at,
                    checked_out_at=ends,
                    note="往期纸质签到表补录",
                )
                service_record_confirm(record=record, by=manager)
                targets[volunteer.pk] = left - take
        report.add("service_records", ServiceRecord.objects.count())


def _signups(report, upcoming, volunteers) -> None:
    """Fill the small opportunity and put one more on its waiting list."""
    escort = upcoming[2]
    if escort.signups.exists():
        return
    for volunteer in volunteers[1:4]:
        signup_create(volunteer=volunteer, opportunity=escort)
        report.add("signups")
    signup_create(volunteer=volunteers[4], opportunity=upcoming[0])
    report.add("signups")


def _team(report, worker, volunteers, communities, today) -> None:
    """A team led by the station's social worker for an open need of the street."""
    if Team.objects.filter(leader=worker).exists():
        return
    need = (
        Need.objects.filter(case__community__parent__name=STREET, status=Need.Status.OPEN)
        .order_by("pk")
        .first()
    )
    team = team_create(
        by=worker.user,
        name="明光路探访关爱小组",
        leader=worker,
        need=need,
        purpose="每周两次上门探访独居老人，陪同就医，协助申请适老化改造",
        volunteers=[v.user for v in volunteers[:3]],
    )
    team_task_create(team=team, by=worker.user, title="周二上门探访并记录老人近况")
    team_task_create(team=team, by=worker.user, title="联系社区卫生服务中心预约体检")
    team_message_post(team=team, by=worker.user, body="大家好，本周二下午两点社区集合。")
    day = today + timedelta(days=1)
    opportunity_create(
        by=worker.user,
        organisation=worker.organisation,
        title="探访关爱小组：周二上门探访",
        description="团队成员上门探访独居老人，带队社工现场签到。",
        community=communities[0],
        starts_at=_at(day, 14),
        ends_at=_at(day, 17),
        slots=5,
        skills=list(Skill.objects.filter(code="visiting")),
        service_type=ServiceType.objects.get(code="visiting"),
        address="明光路社区党群服务中心",
        team=team,
    )
    report.add("teams")
    report.add("opportunities")


__all__ = ["volunteers_demo_seed"]
