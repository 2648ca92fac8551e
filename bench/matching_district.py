"""Matching over the whole district, end to end on PostgreSQL: one district run from the
database (snapshot → solve → store proposals), with its figures.

    createdb -h 127.0.0.1 -U postgres matching_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/matching_bench \\
        .venv/bin/python bench/matching_district.py
    ... --needs 2000 --volunteers 10000     # a smaller district
    ... --repeat 3                          # three runs, the data rebuilt only once
    ... --profile                           # cProfile of the measured part
    ... --fresh                             # drop every table of that database first

Setup (timed apart, printed separately) migrates the database and builds, with
`bulk_create`: the Yaohai streets and communities of marketplace/data/yaohai.json (the demo
seed's data file, checked by its loader) topped up to ten communities per street, a 社工站
and a social-work agency per street, about 2,000 social workers with specialties, 50,000
volunteers with skills and weekly timetables, 10,000 open needs (service needs with teams of
volunteers and social workers, one in ten a funds need) on as many households, and a funded
charity project per street. A later call with the same sizes reuses that data; only the
matching rows are cleared before each measured run.

The bench measures matching, not sealing: volunteers' resident IDs and phones are not
encrypted row by row (`marketplace.crypto` costs a key derivation per value); the sensitive
columns hold a fixed placeholder ciphertext and a unique placeholder lookup hash, which the
matching code never reads. Households carry no members or consents for the same reason.

Measured: `match_run_start` (which, as in the embedded mode, executes the queued run when
its transaction commits) and `match_run_execute`, wall clock. Printed: setup time, the run's
snapshot / solve / store seconds, total, needs, slots, providers, edges, proposals, objective
and solver status. Target: total ≤ 10 s on two cores.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import time as clock
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BATCH = 5_000
SEED = 2021
PLACEHOLDER_CIPHER = "bench-placeholder-ciphertext"
COMMUNITIES_PER_STREET = 10
SOCIAL_WORKERS = 2_000
# Service types volunteers' skills serve: the service needs are drawn from these.
SERVICE_TYPES = [
    "visiting",
    "care",
    "rehabilitation",
    "hospital_escort",
    "social_integration",
    "capacity_building",
    "counselling",
    "legal_aid",
    "age_friendly",
    "child_rehabilitation",
]
TEAMS = [
    ({"volunteer": 1}, 40),
    ({"volunteer": 2}, 30),
    ({"social_worker": 1, "volunteer": 2}, 20),
    ({"social_worker": 1}, 10),
]


def _refuse_without_postgres() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit(
            "matching_district.py runs on PostgreSQL only: set DATABASE_URL, e.g.\n"
            "  createdb -h 127.0.0.1 -U postgres matching_bench\n"
            "  DATABASE_URL=postgres://postgres@127.0.0.1:5432/matching_bench "
            ".venv/bin/python bench/matching_district.py"
        )


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--needs", type=int, default=10_000, help="open needs (10,000)")
    parser.add_argument("--volunteers", type=int, default=50_000, help="volunteers (50,000)")
    parser.add_argument(
        "--social-workers", type=int, default=SOCIAL_WORKERS, help="social workers (2,000)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="measured runs (1)")
    parser.add_argument("--profile", action="store_true", help="cProfile the measured part")
    parser.add_argument(
        "--fresh", action="store_true", help="drop every table of the database first"
    )
    return parser.parse_args()


def main() -> None:
    _refuse_without_postgres()
    args = _arguments()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if args.fresh:
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    began = time.perf_counter()
    call_command("migrate", verbosity=0)
    migrated = time.perf_counter() - began
    began = time.perf_counter()
    built = _district(args)
    setup = time.perf_counter() - began
    print(
        f"setup: migrate {migrated:.1f} s, data {setup:.1f} s "
        f"({'built' if built else 'reused'}: {args.needs} needs, {args.volunteers} volunteers, "
        f"{args.social_workers} social workers)"
    )
    for n in range(1, args.repeat + 1):
        _measure(args, label=f"run {n}" if args.repeat > 1 else "run")


# --- Setup -------------------------------------------------------------------------------


def _district(args) -> bool:
    """Build the bench district unless it is there with these sizes; False when reused."""
    from marketplace.models import Need, User
    from volunteers.models import SocialWorker, Volunteer

    have = (
        Need.objects.filter(case__head_name__startswith="测").count(),
        Volunteer.objects.filter(user__username__startswith="mbv").count(),
        SocialWorker.objects.filter(user__username__startswith="mbs").count(),
    )
    if have == (args.needs, args.volunteers, args.social_workers):
        return False
    if any(have) or User.objects.filter(username__startswith="mb").exists():
        sys.exit(
            f"The database holds bench data of other sizes {have}: use an empty database or "
            "--fresh (drops every table of DATABASE_URL's database)."
        )
    _build(args)
    return True


def _build(args) -> None:
    from django.db import transaction

    rng = random.Random(SEED)  # noqa: S311 - a reproducible district, not a secret
    with transaction.atomic():
        reference = _reference()
        places = _areas()
        people = _officials(places)
        organisations = _organisations(places)
        _social_workers(args.social_workers, rng, organisations, reference)
        _volunteers(args.volunteers, rng, places, reference)
        _projects(places, people, reference)
        _needs(args.needs, rng, places, people, reference)


def _reference() -> dict:
    """Service types, skills and approval rules (migrations seed them; a flushed database
    lost them)."""
    from importlib import import_module

    from marketplace.models import ServiceType
    from matching.demo import approval_rules_ensure
    from volunteers.demo import skills_ensure

    seeded = import_module("marketplace.migrations.0003_seed_service_types_and_rules")
    for position, (code, name, description) in enumerate(seeded.SERVICE_TYPES, start=1):
        ServiceType.objects.get_or_create(
            code=code, defaults={"name": name, "description": description, "position": position}
        )
    types = {t.code: t for t in ServiceType.objects.all()}
    skills = list(skills_ensure()[0].values())
    approval_rules_ensure()
    return {"types": types, "skills": skills}


def _areas() -> dict:
    """The district, its streets and communities from the data file, topped up to ten
    communities a street."""
    from marketplace.demo import demo_data_load
    from marketplace.models import Area

    data = demo_data_load()
    district, _ = Area.objects.get_or_create(
        code=data["district"]["code"],
        defaults={
            "name": data["district"]["name"],
            "level": Area.Level.DISTRICT,
            "kind": Area.Kind.DISTRICT,
        },
    )
    streets, communities = [], []
    for s in data["streets"]:
        street, _ = Area.objects.get_or_create(
            code=s["code"],
            defaults={
                "name": s["name"],
                "level": Area.Level.STREET,
                "kind": s["kind"],
                "parent": district,
            },
        )
        streets.append(street)
        rows = [
            Area(
                code=c["code"],
                name=c["name"],
                level=Area.Level.COMMUNITY,
                kind=c["kind"],
                parent=street,
            )
            for c in s["communities"]
        ]
        rows += [
            Area(
                code=f"{street.code}{100 + i:03d}",
                name=f"{street.name}第{i}社区",
                level=Area.Level.COMMUNITY,
                kind=Area.Kind.COMMUNITY,
                parent=street,
            )
            for i in range(1, COMMUNITIES_PER_STREET - len(rows) + 1)
        ]
        Area.objects.bulk_create(rows, ignore_conflicts=True)
    communities = list(Area.objects.filter(level=Area.Level.COMMUNITY, parent__in=streets))
    return {"district": district, "streets": streets, "communities": communities}


def _officials(places) -> dict:
    """Civil affairs (who starts the run) and an official per street (told of proposals)."""
    from django.contrib.auth.hashers import make_password

    from marketplace.models import Membership, Organisation, Role, User

    district = places["district"]
    bureau = Organisation.objects.create(
        name="瑶海区民政局（测）",
        kind=Organisation.Kind.CIVIL_AFFAIRS,
        area=district,
        street=None,
        verified=True,
    )
    civil = User.objects.create(
        username="mb-minzheng", display_name="民政", password=make_password(None)
    )
    Membership.objects.create(user=civil, role=Role.CIVIL_AFFAIRS_OFFICIAL, organisation=bureau)
    for n, street in enumerate(places["streets"], start=1):
        office = Organisation.objects.create(
            name=f"{street.name}办事处（测）",
            kind=Organisation.Kind.STREET_OFFICE,
            area=street,
            street=street,
            verified=True,
        )
        user = User.objects.create(
            username=f"mb-jiedao{n}", display_name="街道", password=make_password(None)
        )
        Membership.objects.create(user=user, role=Role.STREET_OFFICIAL, organisation=office)
    return {"civil": civil, "bureau": bureau}


def _organisations(places) -> list:
    """A 社工站 and a social-work agency per street."""
    from marketplace.demo import credit_code_for
    from marketplace.models import Organisation

    rows = []
    for n, street in enumerate(places["streets"], start=1):
        rows.append(
            Organisation(
                name=f"{street.name}社工站（测）",
                kind=Organisation.Kind.SOCIAL_WORK_STATION,
                area=street,
                street=street,
                verified=True,
            )
        )
        rows.append(
            Organisation(
                name=f"{street.name}社会工作服务中心（测）",
                kind=Organisation.Kind.AGENCY,
                area=street,
                street=street,
                credit_code=credit_code_for(900_100 + n),
                verified=True,
            )
        )
    return Organisation.objects.bulk_create(rows)


def _users(prefix: str, count: int) -> list[int]:
    from django.contrib.auth.hashers import make_password

    from marketplace.models import User

    unusable = make_password(None)  # nobody signs in as a bench user
    User.objects.bulk_create(
        (User(username=f"{prefix}{n:06d}", password=unusable) for n in range(count)),
        batch_size=BATCH,
    )
    return list(
        User.objects.filter(username__startswith=prefix)
        .order_by("username")
        .values_list("pk", flat=True)
    )


def _social_workers(count: int, rng, organisations, reference) -> None:
    from volunteers.models import SocialWorker

    types = [reference["types"][c] for c in SERVICE_TYPES]
    users = _users("mbs", count)
    workers = SocialWorker.objects.bulk_create(
        (
            SocialWorker(
                user_id=user_id,
                real_name=f"社工{n}",
                organisation=organisations[n % len(organisations)],
                max_concurrent=rng.randint(3, 8),
            )
            for n, user_id in enumerate(users)
        ),
        batch_size=BATCH,
    )
    through = SocialWorker.specialties.through
    through.objects.bulk_create(
        (
            through(socialworker_id=worker.pk, servicetype_id=t.pk)
            for worker in workers
            for t in rng.sample(types, rng.randint(1, 3))
        ),
        batch_size=BATCH,
    )


def _volunteers(count: int, rng, places, reference) -> None:
    from volunteers.models import Availability, Volunteer

    communities = places["communities"]
    users = _users("mbv", count)
    born = timezone_today() - timedelta(days=365 * 30)
    rows = []
    for n, user_id in enumerate(users):
        community = communities[rng.randrange(len(communities))]
        rows.append(
            Volunteer(
                user_id=user_id,
                real_name=f"志愿者{n}",
                # Placeholders: see the module docstring (no per-row sealing).
                id_cipher=PLACEHOLDER_CIPHER,
                id_hash=f"bench-id-{n:010d}",
                id_masked="340102********0000",
                birth_date=born,
                phone_cipher=PLACEHOLDER_CIPHER,
                phone_hash=f"bench-phone-{n:010d}",
                phone_masked="139****0000",
                home_community_id=community.pk,
                street_id=community.parent_id,  # save() would set it; bulk_create does not
                max_concurrent=rng.randint(1, 3),
                star_level=rng.choice((0, 0, 0, 1, 1, 2, 3, 4, 5)),
            )
        )
    volunteers = Volunteer.objects.bulk_create(rows, batch_size=BATCH)
    skills = reference["skills"]
    through = Volunteer.skills.through
    through.objects.bulk_create(
        (
            through(volunteer_id=v.pk, skill_id=s.pk)
            for v in volunteers
            for s in rng.sample(skills, rng.randint(1, 2))
        ),
        batch_size=BATCH,
    )
    slots = []
    for v in volunteers:
        if rng.random() < 0.3:  # three in ten keep no timetable
            continue
        for weekday in rng.sample(range(7), rng.randint(1, 3)):
            start = rng.choice((9, 14, 19))
            slots.append(
                Availability(
                    volunteer_id=v.pk,
                    weekday=weekday,
                    start=clock(start),
                    end=clock(start + 2),
                )
            )
    Availability.objects.bulk_create(slots, batch_size=BATCH)


def _projects(places, people, reference) -> None:
    """A charity per street with a funded project giving 临时救助 money in its street."""
    from charity.models import Fund, ProjectPage
    from charity.services.ledger import fund_create
    from charity.services.projects import project_section_ensure
    from marketplace.demo import credit_code_for
    from marketplace.models import Organisation

    today = timezone_today()
    for n, street in enumerate(places["streets"], start=1):
        charity = Organisation.objects.create(
            name=f"{street.name}慈善会（测）",
            kind=Organisation.Kind.CHARITY,
            area=street,
            street=street,
            credit_code=credit_code_for(900_200 + n),
            verified=True,
        )
        section = project_section_ensure(organisation=charity)
        page = ProjectPage(
            title=f"{street.name}临时救助金（测）",
            slug=f"bench-relief-{n}",
            summary="为支出型困难家庭提供临时救助金。",
            gives_funds=True,
            budget=Decimal("100000"),
            capacity=60,
            starts_on=today - timedelta(days=30),
            ends_on=today + timedelta(days=330),
            eligibility="辖区支出型困难家庭。",
            contact_name="张老师",
            contact_phone="13905510001",
            live=True,
        )
        section.add_child(instance=page)
        page.service_types.set([reference["types"]["temporary_expenditure"]])
        page.streets.set([street])
        page.save()
        fund_create(
            organisation=charity,
            kind=Fund.Kind.PROJECT,
            name=f"{street.name}临时救助金",
            code=f"bench-relief-{n}",
            project=page,
        )


def _needs(count: int, rng, places, people, reference) -> None:
    from marketplace.models import Case, Need
    from marketplace.models.cases import Channel

    communities = places["communities"]
    civil = people["civil"]
    cases = Case.objects.bulk_create(
        (
            Case(
                head_name=f"测{n}",
                community_id=(community := communities[rng.randrange(len(communities))]).pk,
                street_id=community.parent_id,
                household_size=1,
                channel=Channel.WINDOW,
                status=Case.Status.ACTIVE,
                created_by=civil,
            )
            for n in range(count)
        ),
        batch_size=BATCH,
    )
    today = timezone_today()
    teams, weights = zip(*TEAMS, strict=True)
    types = reference["types"]
    rows = []
    for case in cases:
        funds = rng.random() < 0.1
        short = rng.random() < 0.2  # a few days only: timetables matter
        start = today + timedelta(days=rng.randint(0, 14))
        end = start + timedelta(days=rng.randint(0, 3) if short else rng.randint(7, 60))
        urgency = rng.choices(("normal", "urgent", "emergency"), weights=(94, 5, 1))[0]
        rows.append(
            Need(
                case_id=case.pk,
                kind=Need.Kind.FUNDS if funds else Need.Kind.SERVICE,
                service_type=types["temporary_expenditure"]
                if funds
                else types[rng.choice(SERVICE_TYPES)],
                amount=Decimal(rng.choice((800, 1500, 3000, 6000))) if funds else None,
                urgency=urgency,
                community_id=case.community_id,
                street_id=case.street_id,  # save() would set it; bulk_create does not
                window_start=start,
                window_end=end,
                team={} if funds else dict(rng.choices(teams, weights=weights)[0]),
                public_description="困难家庭，需要上门服务。",
                status=Need.Status.OPEN,
                channel=Channel.WINDOW,
                created_by=civil,
            )
        )
    Need.objects.bulk_create(rows, batch_size=BATCH)


def timezone_today():
    from django.utils import timezone

    return timezone.localdate()


# --- The measured run --------------------------------------------------------------------


def _clear_matching() -> None:
    """Remove earlier runs, their proposals and decisions (setup, not measured)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE matching_decision, matching_proposalitem, matching_proposal, "
            "matching_matchrun RESTART IDENTITY CASCADE"
        )


def _measure(args, *, label: str) -> None:
    from django.db import connection

    from marketplace.models import Area, User
    from matching.models import MatchRun
    from matching.services import match_run_execute, match_run_start

    _clear_matching()
    civil = User.objects.get(username="mb-minzheng")
    district = Area.objects.get(level=Area.Level.DISTRICT)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # fresh statistics, as autovacuum would give a live system
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    began, cpu = time.perf_counter(), time.process_time()
    run = match_run_start(requested_by=civil, area=district)
    match_run_execute(run_id=run.pk)  # a no-op when the commit already executed it
    total, cpu = time.perf_counter() - began, time.process_time() - cpu
    if profiler is not None:
        import pstats

        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
    run = MatchRun.objects.get(pk=run.pk)
    t = run.timings
    print(
        f"{label}: total {total:.2f} s, of it {cpu:.2f} s CPU in this process "
        f"(snapshot {t.get('snapshot', 0):.2f} s, solve {t.get('solve', 0):.2f} s, "
        f"store {t.get('store', 0):.2f} s; "
        f"run.seconds {run.seconds}) status={run.status}{' ' + run.error if run.error else ''}"
    )
    print(
        f"  needs={run.needs_count} slots={run.slots_count} providers={run.providers_count} "
        f"edges={run.edges_count} proposals={run.proposals_count} objective={run.objective} "
        f"solver={run.solver_status}/{run.method} target≤10 s: "
        f"{'met' if total <= 10 else 'missed'}"
    )


if __name__ == "__main__":
    main()
