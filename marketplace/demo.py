"""Demo data for Yaohai district: the real streets and towns, plausible communities,
organisations of every kind, one user per role, the 低保 standards and assistance cases.
Idempotent: running it again creates only what is missing. `district` size adds the bulk
later benchmarks need.

No resident ID number or phone is ever stored in plain text, here as anywhere: the small
demo's households enter through the intake services; the district bulk encrypts, hashes and
masks with `marketplace.crypto` exactly as those services do."""

from __future__ import annotations

import json
import random
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from importlib import import_module
from pathlib import Path

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from faker import Faker

from marketplace import crypto
from marketplace.exceptions import DomainError
from marketplace.models import (
    Area,
    AssistanceStandard,
    Case,
    CaseMember,
    Consent,
    Membership,
    MonitoringRule,
    Need,
    NeedTransition,
    Organisation,
    Referral,
    Role,
    SensitiveAccess,
    ServiceType,
    User,
    Warning,
)
from marketplace.models.cases import Category, Channel
from marketplace.validators import (
    credit_code_check_char,
    resident_id_check_char,
    validate_credit_code,
)

DEFAULT_DATA = Path(__file__).resolve().parent / "data" / "yaohai.json"
SIZES = ("small", "district")

# District scale, as later issues need it (e.g. 50k volunteers, 10k households).
DISTRICT_COMMUNITIES = 150
DISTRICT_SOCIAL_ORGANISATIONS = 1_000
DISTRICT_VOLUNTEERS = 50_000
DISTRICT_APPLICANTS = 10_000
BATCH = 2_000

DEPARTMENTS = [
    (Organisation.Department.EDUCATION, "瑶海区教育体育局"),
    (Organisation.Department.HOUSING, "瑶海区住房和城乡建设局"),
    (Organisation.Department.HEALTH, "瑶海区卫生健康委员会"),
    (Organisation.Department.EMPLOYMENT, "瑶海区人力资源和社会保障局"),
    (Organisation.Department.MEDICAL_INSURANCE, "瑶海区医疗保障局"),
    (Organisation.Department.EMERGENCY, "瑶海区应急管理局"),
    (Organisation.Department.FINANCE, "瑶海区财政局"),
    (Organisation.Department.AUDIT, "瑶海区审计局"),
    (Organisation.Department.DISCIPLINE, "瑶海区纪委监委"),
]
# Social organisations left unverified so that civil affairs has work waiting in the demo.
UNVERIFIED_DEMO = {"瑶海区青年志愿者协会", "瑶海区邻里守望志愿服务队"}


class DemoDataError(DomainError):
    code = "demo_data_invalid"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    display_name: str
    role: str
    organisation: str  # name, "" for roles held without one


DEMO_LOGINS = [
    DemoLogin("minzheng", "王建国", Role.CIVIL_AFFAIRS_OFFICIAL, "瑶海区民政局"),
    DemoLogin("minzheng2", "赵立新", Role.CIVIL_AFFAIRS_OFFICIAL, "瑶海区民政局"),
    DemoLogin("jiedao", "李秀英", Role.STREET_OFFICIAL, "明光路街道办事处"),
    DemoLogin("shequ", "张敏", Role.COMMUNITY_WORKER, "明光路社区居委会"),
    DemoLogin("cishan", "刘芳", Role.CHARITY_STAFF, "瑶海区慈善协会"),
    DemoLogin("jigou", "陈静", Role.AGENCY_STAFF, "瑶海区阳光社会工作服务中心"),
    DemoLogin("jigou2", "林晓", Role.AGENCY_STAFF, "瑶海区同心社会工作服务中心"),
    DemoLogin("shegong", "杨洋", Role.SOCIAL_WORKER, "明光路街道社工站"),
    DemoLogin("zhiyuan", "赵磊", Role.VOLUNTEER, "明光路街道志愿者联合会"),
    DemoLogin("zhiyuanhui", "吴婷", Role.VOLUNTEER_MANAGER, "明光路街道志愿者联合会"),
    DemoLogin("shenqing", "黄丽", Role.APPLICANT, ""),
    DemoLogin("shenji", "周强", Role.AUDITOR, "瑶海区审计局"),
    DemoLogin("bumen", "孙伟", Role.DEPARTMENT_STAFF, "瑶海区住房和城乡建设局"),
    DemoLogin("pingshen1", "钱晓明", Role.EVALUATOR, ""),
    DemoLogin("pingshen2", "孙丽华", Role.EVALUATOR, ""),
]


@dataclass
class SeedReport:
    created: dict[str, int] = field(default_factory=dict)

    def add(self, what: str, n: int = 1) -> None:
        self.created[what] = self.created.get(what, 0) + n


def demo_data_load(path: Path | str | None = None) -> dict:
    """Read and check the district data file. Every problem is reported at once, in
    Chinese, and nothing is written when there is any."""
    path = Path(path or DEFAULT_DATA)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DemoDataError(_("找不到数据文件：%(path)s") % {"path": path}) from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise DemoDataError(_("数据文件不是有效的 JSON：%(err)s") % {"err": exc}) from exc
    errors: list[str] = []
    if not isinstance(data, dict) or not {"district", "streets", "organisations"} <= set(data):
        raise DemoDataError(_("数据文件缺少 district、streets 或 organisations。"))
    street_kinds = {k.value for k in Area.KINDS_BY_LEVEL[Area.Level.STREET]}
    community_kinds = {k.value for k in Area.KINDS_BY_LEVEL[Area.Level.COMMUNITY]}
    codes: set[str] = set()
    street_names: set[str] = set()
    for street in data["streets"]:
        name = street.get("name", "")
        street_names.add(name)
        if street.get("kind") not in street_kinds:
            errors.append(_("街道“%(name)s”的类型无效。") % {"name": name})
        for area in [street, *street.get("communities", [])]:
            code = str(area.get("code", ""))
            if not code.isdigit() or code in codes:
                errors.append(_("区划代码“%(code)s”无效或重复。") % {"code": code})
            codes.add(code)
        for community in street.get("communities", []):
            if community.get("kind") not in community_kinds:
                errors.append(_("社区“%(name)s”的类型无效。") % {"name": community.get("name", "")})
    allowed_kinds = {c.value for c in Organisation.Kind}
    for org in data["organisations"]:
        name = org.get("name", "")
        if org.get("street") not in street_names:
            errors.append(
                _("组织“%(name)s”所在的街道“%(street)s”不存在。")
                % {"name": name, "street": org.get("street")}
            )
        if org.get("kind") not in allowed_kinds:
            errors.append(_("组织“%(name)s”的类型无效。") % {"name": name})
        try:
            validate_credit_code(org.get("credit_code", ""))
        except ValidationError as exc:
            errors.append(
                _("组织“%(name)s”：%(error)s") % {"name": name, "error": " ".join(exc.messages)}
            )
    for street in data.get("mutual_aid_streets", []):
        if street not in street_names:
            errors.append(_("互助会所在的街道“%(street)s”不存在。") % {"street": street})
    errors.extend(_standards_errors(data.get("assistance_standards", []), street_names))
    if errors:
        raise DemoDataError("\n".join(errors))
    return data


def _standards_errors(rows, street_names: set[str]) -> list[str]:
    """What is wrong with the 低保 standards of the data file: one year, one area, one row;
    a plausible monthly amount."""
    if not isinstance(rows, list):
        return [_("assistance_standards 应为列表。")]
    errors: list[str] = []
    seen: set[tuple[int, str]] = set()
    for n, row in enumerate(rows, start=1):
        row = row if isinstance(row, dict) else {}
        year = row.get("year")
        if not isinstance(year, int) or isinstance(year, bool) or not 2000 <= year <= 2100:
            errors.append(_("低保标准第%(n)d条：年度“%(year)s”无效。") % {"n": n, "year": year})
            continue
        area = row.get("street", "")
        if area and area not in street_names:
            errors.append(
                _("低保标准第%(n)d条：街道“%(street)s”不存在。") % {"n": n, "street": area}
            )
        if (year, area) in seen:
            errors.append(
                _("低保标准第%(n)d条：%(year)s年%(area)s的标准重复。")
                % {"n": n, "year": year, "area": area or _("全区")}
            )
        seen.add((year, area))
        amount = row.get("dibao_monthly")
        try:
            usable = isinstance(amount, (str, int, float)) and not isinstance(amount, bool)
            value = Decimal(str(amount)) if usable else None
        except InvalidOperation:
            value = None
        if value is None or not value.is_finite() or not Decimal("1") <= value < 100000:
            errors.append(
                _("低保标准第%(n)d条：%(year)s年的金额“%(amount)s”无效（应为每人每月的元数）。")
                % {"n": n, "year": year, "amount": amount}
            )
    return errors


def _area(report: SeedReport, *, code, name, level, kind, parent) -> Area:
    area, created = Area.objects.get_or_create(
        code=code, defaults={"name": name, "level": level, "kind": kind, "parent": parent}
    )
    if created:
        area.full_clean()
        report.add("areas")
    return area


def _organisation(report: SeedReport, *, name, kind, area, verified=True, **extra):
    org = Organisation.objects.filter(name=name, kind=kind, area=area).first()
    if org:
        return org
    org = Organisation(name=name, kind=kind, area=area, verified=verified, **extra)
    org.full_clean()
    org.save()
    report.add("organisations")
    return org


def _office_name(street: Area) -> str:
    suffix = {
        Area.Kind.SUBDISTRICT: "办事处",
        Area.Kind.TOWN: "人民政府",
        Area.Kind.ZONE: "管理委员会",
    }[street.kind]
    return f"{street.name}{suffix}"


def _community_office_name(community: Area) -> str:
    return f"{community.name}{'村民委员会' if community.kind == Area.Kind.VILLAGE else '居委会'}"


@transaction.atomic
def demo_seed(*, size: str = "small", data_path: Path | str | None = None) -> SeedReport:
    """Create what is missing of the demo data. Refused where demo data is not allowed."""
    if not settings.DEMO_DATA_ALLOWED:
        raise DemoDataError(_("生产环境不允许加载演示数据。"))
    if size not in SIZES:
        raise DemoDataError(
            _("未知的数据规模：%(size)s（可选 small、district）。") % {"size": size}
        )
    data = demo_data_load(data_path)
    report = SeedReport()

    d = data["district"]
    district = _area(
        report,
        code=d["code"],
        name=d["name"],
        level=Area.Level.DISTRICT,
        kind=Area.Kind.DISTRICT,
        parent=None,
    )
    _organisation(report, name="瑶海区民政局", kind=Organisation.Kind.CIVIL_AFFAIRS, area=district)
    for department, name in DEPARTMENTS:
        _organisation(
            report,
            name=name,
            kind=Organisation.Kind.DEPARTMENT,
            area=district,
            department=department,
        )
    streets: dict[str, Area] = {}
    for s in data["streets"]:
        street = _area(
            report,
            code=s["code"],
            name=s["name"],
            level=Area.Level.STREET,
            kind=s["kind"],
            parent=district,
        )
        streets[street.name] = street
        _organisation(
            report, name=_office_name(street), kind=Organisation.Kind.STREET_OFFICE, area=street
        )
        _organisation(
            report,
            name=f"{street.name}社工站",
            kind=Organisation.Kind.SOCIAL_WORK_STATION,
            area=street,
        )
        _organisation(
            report,
            name=f"{street.name}志愿者联合会",
            kind=Organisation.Kind.VOLUNTEER_FEDERATION,
            area=street,
        )
        for c in s["communities"]:
            community = _area(
                report,
                code=c["code"],
                name=c["name"],
                level=Area.Level.COMMUNITY,
                kind=c["kind"],
                parent=street,
            )
            _organisation(
                report,
                name=_community_office_name(community),
                kind=Organisation.Kind.COMMUNITY,
                area=community,
            )
    for o in data["organisations"]:
        _organisation(
            report,
            name=o["name"],
            kind=o["kind"],
            area=streets[o["street"]],
            credit_code=o["credit_code"],
            address=o.get("address", ""),
            verified=o["name"] not in UNVERIFIED_DEMO,
        )
    for street_name in data.get("mutual_aid_streets", []):
        _organisation(
            report,
            name=f"{street_name}社区慈善公益互助会",
            kind=Organisation.Kind.MUTUAL_AID,
            area=streets[street_name],
        )
    for row in data.get("assistance_standards", []):
        _standard, created = AssistanceStandard.objects.get_or_create(
            year=row["year"],
            area=streets[row["street"]] if row.get("street") else district,
            defaults={"dibao_monthly": Decimal(str(row["dibao_monthly"]))},
        )
        if created:
            report.add("assistance_standards")
    _demo_logins(report)
    _reference_data(report)
    _demo_cases(report)
    if size == "district":
        _district_bulk(report, district=district, streets=list(streets.values()))
        _district_cases(report, district=district)
    for seeder in settings.DEMO_SEEDERS:
        import_string(seeder)(report=report, size=size)
    return report


def _demo_logins(report: SeedReport) -> None:
    password = make_password(settings.DEMO_PASSWORD)
    for login in DEMO_LOGINS:
        user, created = User.objects.get_or_create(
            username=login.username,
            defaults={
                "display_name": login.display_name,
                "password": password,
                "email": f"{login.username}@demo.yaohai.example",
            },
        )
        if created:
            report.add("users")
        organisation = (
            Organisation.objects.get(name=login.organisation) if login.organisation else None
        )
        _, created = Membership.objects.get_or_create(
            user=user, role=login.role, organisation=organisation
        )
        if created:
            report.add("memberships")
        if login.role == Role.CIVIL_AFFAIRS_OFFICIAL:
            # Civil affairs edits the site's pages and moderates projects in Wagtail.
            moderators = Group.objects.filter(name="Moderators").first()
            if moderators:
                user.groups.add(moderators)


def _reference_data(report: SeedReport) -> None:
    """The service types and monitoring rules a migration seeds, put back where missing (a
    flushed test database has lost them); rows already there are left as edited."""
    seeded = import_module("marketplace.migrations.0003_seed_service_types_and_rules")
    for position, (code, name, description) in enumerate(seeded.SERVICE_TYPES, start=1):
        _type, created = ServiceType.objects.get_or_create(
            code=code, defaults={"name": name, "description": description, "position": position}
        )
        if created:
            report.add("service_types")
    for code, params in seeded.RULES:
        _rule, created = MonitoringRule.objects.get_or_create(
            code=code, defaults={"params": params}
        )
        if created:
            report.add("monitoring_rules")


def credit_code_for(number: int, *, org_type: str = "2") -> str:
    """A valid, unique unified social credit code for generated organisation `number`
    (registration authority 5 = civil affairs, area 340102 = Yaohai)."""
    body = f"5{org_type}340102{number:09d}"
    return body + credit_code_check_char(body)


def _district_bulk(report: SeedReport, *, district: Area, streets: list[Area]) -> None:
    faker = Faker("zh_CN")
    faker.seed_instance(2021)
    # More communities, spread over the streets, up to the district's real count.
    existing = Area.objects.filter(level=Area.Level.COMMUNITY).count()
    names_taken = set(Area.objects.values_list("parent_id", "name"))
    new_areas = []
    i = 0
    while existing + len(new_areas) < DISTRICT_COMMUNITIES:
        street = streets[i % len(streets)]
        i += 1
        name = f"{faker.street_name()}社区"
        if (street.pk, name) in names_taken:
            continue
        names_taken.add((street.pk, name))
        code = f"{street.code}{100 + i:03d}"
        new_areas.append(
            Area(
                name=name,
                code=code,
                level=Area.Level.COMMUNITY,
                kind=Area.Kind.COMMUNITY,
                parent=street,
            )
        )
    Area.objects.bulk_create(new_areas, batch_size=BATCH, ignore_conflicts=True)
    report.add("areas", len(new_areas))

    communities = list(Area.objects.filter(level=Area.Level.COMMUNITY).select_related("parent"))
    kinds = [Organisation.Kind.CHARITY, Organisation.Kind.AGENCY, Organisation.Kind.VOLUNTEER_ORG]
    suffix = {
        Organisation.Kind.CHARITY: "慈善促进会",
        Organisation.Kind.AGENCY: "社会工作服务中心",
        Organisation.Kind.VOLUNTEER_ORG: "志愿服务队",
    }
    orgs = []
    for n in range(1, DISTRICT_SOCIAL_ORGANISATIONS + 1):
        community = communities[n % len(communities)]
        kind = kinds[n % len(kinds)]
        orgs.append(
            Organisation(
                name=f"瑶海区{community.name}{suffix[kind]}{n:04d}",
                kind=kind,
                area=community,
                street=community.parent,
                credit_code=credit_code_for(n),
                verified=n % 10 != 0,
            )
        )
    before = Organisation.objects.count()
    Organisation.objects.bulk_create(orgs, batch_size=BATCH, ignore_conflicts=True)
    report.add("organisations", Organisation.objects.count() - before)

    password = make_password(settings.DEMO_PASSWORD)
    for prefix, count, role in (
        ("vol", DISTRICT_VOLUNTEERS, Role.VOLUNTEER),
        ("app", DISTRICT_APPLICANTS, Role.APPLICANT),
    ):
        usernames = [f"{prefix}{n:05d}" for n in range(1, count + 1)]
        have = set(
            User.objects.filter(username__startswith=prefix).values_list("username", flat=True)
        )
        users = [
            User(username=u, display_name=faker.name(), password=password)
            for u in usernames
            if u not in have
        ]
        User.objects.bulk_create(users, batch_size=BATCH, ignore_conflicts=True)
        report.add("users", len(users))
        ids = User.objects.filter(username__in=usernames).values_list("pk", flat=True)
        before = Membership.objects.filter(role=role).count()
        Membership.objects.bulk_create(
            [Membership(user_id=pk, role=role) for pk in ids.iterator()],
            batch_size=BATCH,
            ignore_conflicts=True,
        )
        report.add("memberships", Membership.objects.filter(role=role).count() - before)


# --- People ------------------------------------------------------------------------------

# Stable submission keys of demo records are uuid5 names in this namespace: a key already on
# file means the record is there, so a second run creates nothing.
DEMO_NAMESPACE = uuid.UUID("5b0c3f0e-8a43-4d1e-9d53-7e1f0c2a3341")
REGION = "340102"  # 安徽省合肥市瑶海区
MOBILE_PREFIXES = [
    *("130", "131", "132", "133", "135", "136", "137", "138", "139"),
    *("150", "151", "152", "155", "156", "157", "158", "159"),
    *("176", "177", "180", "181", "182", "183", "186", "187", "188", "189", "199"),
]
# Resident ID sequence numbers (digits 15-17): the small demo and the district bulk use
# disjoint ranges, so their made-up people never share an ID.
SMALL_SEQUENCES = (900, 1000)
DISTRICT_SEQUENCES = (0, 900)


def demo_key(name: str) -> uuid.UUID:
    """The stable submission key of one demo record."""
    return uuid.uuid5(DEMO_NAMESPACE, name)


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


class PersonFactory:
    """Made-up people of Yaohai, the same on every run: Faker zh_CN names, resident ID
    numbers valid under GB 11643-1999 (region 340102, the birth date, a sequence number odd
    for men and even for women, the check character) and mobile numbers."""

    def __init__(self, seed: int, *, sequences: tuple[int, int]):
        self.rng = random.Random(seed)
        self.faker = Faker("zh_CN")
        self.faker.seed_instance(seed)
        self.low, self.high = sequences
        self.used: set[str] = set()

    def name(self, *, male: bool, surname: str | None = None) -> str:
        given = self.faker.first_name_male() if male else self.faker.first_name_female()
        return (surname or self.faker.last_name()) + given

    def surname(self) -> str:
        return self.faker.last_name()

    def born(self, age: int, today: date, *, shift_days: int | None = None) -> date:
        """A birth date `age` years before today, a random part of a year earlier, or
        exactly `shift_days` after the day `age` years ago."""
        anniversary = years_before(today, age)
        if shift_days is not None:
            return anniversary + timedelta(days=shift_days)
        return anniversary - timedelta(days=self.rng.randrange(1, 365))

    def resident_id(self, born: date, *, male: bool) -> str:
        for _attempt in range(500):
            seq = self.rng.randrange(self.low, self.high)
            if seq % 2 != int(male):
                seq = seq + 1 if seq + 1 < self.high else seq - 1
            first17 = f"{REGION}{born:%Y%m%d}{seq:03d}"
            number = first17 + resident_id_check_char(first17)
            if number not in self.used:
                self.used.add(number)
                return number
        raise DemoDataError(
            _("无法为%(born)s出生的人生成不重复的身份证号码。") % {"born": born.isoformat()}
        )

    def phone(self) -> str:
        return self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"

    def address(self, community: str) -> str:
        r = self.rng
        return f"{community}{r.randint(1, 40)}栋{r.randint(1, 6)}0{r.randint(1, 4)}室"


# --- Small demo: about thirty households through the services -----------------------------

DEMO_STREET = "明光路街道"
DEMO_COMMUNITY = "明光路社区"
HOUSING = "瑶海区住房和城乡建设局"

R = CaseMember.Relationship
S = Need.Status
K = Need.Kind

# The way from "submitted" to each status, one service call per step.
NEED_PATHS: dict[str, tuple[str, ...]] = {
    S.SUBMITTED: (),
    S.CONFIRMED: (S.CONFIRMED,),
    S.OPEN: (S.CONFIRMED, S.OPEN),
    S.MATCHED: (S.CONFIRMED, S.OPEN, S.MATCHED),
    S.IN_PROGRESS: (S.CONFIRMED, S.OPEN, S.MATCHED, S.IN_PROGRESS),
    S.DONE: (S.CONFIRMED, S.OPEN, S.MATCHED, S.IN_PROGRESS, S.DONE),
    S.CLOSED: (S.CONFIRMED, S.OPEN, S.MATCHED, S.IN_PROGRESS, S.DONE, S.CLOSED),
    S.CANCELLED: (S.CONFIRMED, S.OPEN, S.CANCELLED),
    S.REJECTED: (S.REJECTED,),
}


@dataclass(frozen=True)
class DemoPerson:
    relationship: str
    age: int
    male: bool
    shift_days: int | None = None  # born exactly this many days after the day `age` years ago
    disability: bool = False
    serious_illness: bool = False
    elderly_alone: bool = False


@dataclass(frozen=True)
class DemoNeed:
    service: str  # ServiceType.code
    kind: str
    status: str  # where the demo leaves it (draft: kept as a draft)
    description: str
    urgency: str = Need.Urgency.NORMAL
    amount: str | None = None
    quantity: int | None = None
    team: tuple[tuple[str, int], ...] = ()
    reason: str = ""  # for cancelled / rejected


@dataclass(frozen=True)
class DemoReferral:
    department: str
    state: str  # sent, overdue, accepted, done, returned
    reason: str
    outcome: str = ""


@dataclass(frozen=True)
class DemoHousehold:
    key: str
    community: str
    people: tuple[DemoPerson, ...]
    situation: str
    need: DemoNeed | None = None
    intake: str = "window"  # window, online, discovery, discovery_verified, department
    category: str = ""
    income: str | None = None  # per-capita monthly income as a multiple of the 低保 standard
    medical: int = 0
    phone: bool = True
    referrals: tuple[DemoReferral, ...] = ()
    # Shift every clock of the household back by this many hours, so that the overdue
    # examples are overdue on the day the demo is loaded.
    backdate_hours: int = 0


# The households' texts are stored data, not interface text: they are not translated.
P = DemoPerson
N = DemoNeed
H = DemoHousehold
SW1 = (("social_worker", 1),)
VOL2 = (("volunteer", 2),)
SW1_VOL2 = (("social_worker", 1), ("volunteer", 2))

DEMO_HOUSEHOLDS: tuple[DemoHousehold, ...] = (
    H(
        "elderly-alone-visiting",
        DEMO_COMMUNITY,
        (P(R.HEAD, 79, False, elderly_alone=True),),
        "老伴去世多年，子女在外地工作，患高血压、关节炎。",
        N(
            "visiting",
            K.SERVICE,
            S.OPEN,
            "高龄独居老人，行动不便，需要每周两次上门探访、代购生活用品。",
            team=VOL2,
        ),
        category=Category.DIBAO,
        income="0.5",
    ),
    H(
        "disabled-child",
        DEMO_COMMUNITY,
        (P(R.HEAD, 41, True), P(R.SPOUSE, 39, False), P(R.CHILD, 9, True, disability=True)),
        "孩子为脑瘫患儿，母亲全职照顾，父亲打零工。",
        N(
            "child_rehabilitation",
            K.SERVICE,
            S.MATCHED,
            "9岁残疾儿童，需要每周一次的康复训练服务。",
            team=SW1,
        ),
        category=Category.DIBAO,
        income="0.6",
    ),
    H(
        "tekun-minor-near-adult",
        DEMO_COMMUNITY,
        (P(R.HEAD, 73, False), P(R.GRANDCHILD, 18, True, shift_days=120)),
        "祖孙二人生活，孙子父母双亡，由祖母抚养。",
        N(
            "capacity_building",
            K.SERVICE,
            S.CONFIRMED,
            "高中在读学生，需要学业辅导与升学、就业规划指导。",
            team=SW1,
        ),
        category=Category.TEKUN,
        referrals=(
            DemoReferral(
                HOUSING,
                "returned",
                "祖孙二人居住的老房屋顶漏雨，申请危房鉴定与修缮。",
                "经鉴定房屋不属于危房，建议通过社区慈善资金修缮。",
            ),
        ),
    ),
    H(
        "income-near-line",
        "瑶海社区",
        (P(R.HEAD, 52, True), P(R.SPOUSE, 50, False), P(R.CHILD, 19, True)),
        "丈夫失业半年，妻子做保洁，孩子在读大学。",
        N(
            "temporary_expenditure",
            K.FUNDS,
            S.SUBMITTED,
            "家庭主要劳动力失业，子女大学学费有缺口，申请临时救助。",
            amount="3000",
        ),
        category=Category.LOW_INCOME,
        income="1.08",
        referrals=(
            DemoReferral(HOUSING, "accepted", "家庭租房居住，房租负担重，申请公共租赁住房。"),
        ),
    ),
    H(
        "medical-expense",
        "双岗社区",
        (P(R.HEAD, 58, True, serious_illness=True), P(R.SPOUSE, 56, False)),
        "户主尿毒症，每周透析三次，自付医疗费用高。",
        N(
            "hospital_escort",
            K.SERVICE,
            S.IN_PROGRESS,
            "患者需定期到医院透析，需要送医陪护服务。",
            team=(("social_worker", 1), ("volunteer", 1)),
        ),
        category=Category.EXPENDITURE,
        income="1.5",
        medical=36000,
        referrals=(DemoReferral(HOUSING, "overdue", "因病致贫，无力支付房租，申请住房保障。"),),
    ),
    H(
        "emergency-overdue",
        DEMO_COMMUNITY,
        (P(R.HEAD, 45, True), P(R.SPOUSE, 43, False), P(R.CHILD, 12, False)),
        "家中突发火灾，家具、衣物和生活用品损毁。",
        N(
            "temporary_emergency",
            K.FUNDS,
            S.SUBMITTED,
            "家中突发火灾，基本生活用品损毁，急需临时救助。",
            urgency=Need.Urgency.EMERGENCY,
            amount="5000",
        ),
        category=Category.TEMPORARY,
        backdate_hours=30,
    ),
    H(
        "emergency-within-deadline",
        "和平社区",
        (P(R.HEAD, 36, False), P(R.CHILD, 6, True)),
        "丈夫意外受伤住院，母子二人生活无着。",
        N(
            "temporary_emergency",
            K.FUNDS,
            S.SUBMITTED,
            "家庭主要收入者意外受伤住院，母子二人生活无着，急需救助。",
            urgency=Need.Urgency.EMERGENCY,
            amount="3000",
        ),
        category=Category.TEMPORARY,
    ),
    H(
        "care-done",
        "瑶海社区",
        (P(R.HEAD, 82, True, disability=True),),
        "失能老人，与老伴分居两地，由邻居照看。",
        N("care", K.SERVICE, S.DONE, "失能老人需要助餐助洁服务三个月。", team=VOL2),
        category=Category.DIBAO,
        income="0.4",
        referrals=(
            DemoReferral(
                HOUSING, "done", "老旧住房需要无障碍改造。", "已纳入适老化改造计划并完成施工。"
            ),
        ),
    ),
    H(
        "visiting-closed",
        "双岗社区",
        (P(R.HEAD, 66, False), P(R.CHILD, 40, True, disability=True)),
        "母亲年迈，儿子智力残疾，无业。",
        N(
            "visiting",
            K.SERVICE,
            S.CLOSED,
            "母亲年迈、儿子残疾，需要定期走访了解生活状况。",
            team=VOL2,
        ),
        category=Category.DIBAO,
        income="0.7",
    ),
    H(
        "counselling-cancelled",
        "和平社区",
        (P(R.HEAD, 47, False), P(R.CHILD, 15, False)),
        "单亲家庭，母亲在超市上班。",
        N(
            "counselling",
            K.SERVICE,
            S.CANCELLED,
            "单亲家庭，孩子情绪低落，需要心理疏导。",
            team=SW1,
            reason="家庭已联系学校心理老师，申请撤销。",
        ),
        category=Category.LOW_INCOME,
        income="1.4",
    ),
    H(
        "legal-aid-rejected",
        "瑶海社区",
        (P(R.HEAD, 39, True),),
        "务工受伤后被拖欠工资。",
        N(
            "legal_aid",
            K.SERVICE,
            S.REJECTED,
            "劳动争议，需要法律咨询与援助。",
            reason="经核实已由区法律援助中心受理，不重复立项。",
        ),
        category=Category.LOW_INCOME,
        income="1.6",
    ),
    H(
        "age-friendly-draft",
        DEMO_COMMUNITY,
        (P(R.HEAD, 76, True), P(R.SPOUSE, 74, False)),
        "高龄夫妇，住老小区五楼，无电梯。",
        N("age_friendly", K.SERVICE, S.DRAFT, "高龄夫妇居家需要安装扶手、防滑地垫等适老化设施。"),
        category=Category.DIBAO,
        income="0.55",
    ),
    H(
        "online-application",
        DEMO_COMMUNITY,
        (P(R.HEAD, 41, False),),
        "丈夫重病住院，家庭收入中断，孩子学费没有着落。",
        N("temporary_expenditure", K.FUNDS, S.SUBMITTED, "", amount="2000"),
        intake="online",
    ),
    H(
        "department-referral",
        "和平社区",
        (P(R.HEAD, 63, True), P(R.SPOUSE, 60, False)),
        "住建局棚改走访发现：老两口住房破旧，收入低。",
        N("age_friendly", K.SERVICE, S.SUBMITTED, "老旧小区高龄夫妇，住房需要适老化改造。"),
        intake="department",
        category=Category.LOW_INCOME,
        income="1.2",
    ),
    H(
        "discovery-candidate",
        DEMO_COMMUNITY,
        (P(R.HEAD, 69, True),),
        "网格员走访发现：独自居住，屋内杂物堆积，近期摔伤未就医。",
        intake="discovery",
    ),
    H(
        "discovery-overdue",
        DEMO_COMMUNITY,
        (P(R.HEAD, 58, False),),
        "网格员走访发现：丈夫去世后无固定收入，拖欠物业费。",
        intake="discovery",
        backdate_hours=96,
    ),
    H(
        "discovery-verified",
        DEMO_COMMUNITY,
        (P(R.HEAD, 80, False, elderly_alone=True),),
        "网格员走访发现：高龄独居，听力差，常忘记关煤气。",
        N(
            "visiting",
            K.SERVICE,
            S.OPEN,
            "高龄独居老人，需要志愿者定期上门探访并检查用气安全。",
            team=VOL2,
        ),
        intake="discovery_verified",
    ),
    H(
        "tekun-minor-two-years",
        "双岗社区",
        (P(R.HEAD, 70, True), P(R.GRANDCHILD, 16, False)),
        "祖孙二人生活，孙女父母离异后均无抚养能力。",
        N("capacity_building", K.SERVICE, S.OPEN, "初中学生需要课业辅导和陪伴。", team=VOL2),
        category=Category.TEKUN,
    ),
    H(
        "rehabilitation-open",
        "瑶海社区",
        (P(R.HEAD, 55, False, disability=True),),
        "肢体残疾二级，独自生活。",
        N("rehabilitation", K.SERVICE, S.OPEN, "肢体残疾，需要居家康复训练指导。", team=SW1),
        category=Category.DIBAO,
        income="0.6",
    ),
    H(
        "tutoring-open",
        "双岗社区",
        (
            P(R.HEAD, 44, True),
            P(R.SPOUSE, 42, False),
            P(R.CHILD, 13, True),
            P(R.CHILD, 8, False),
        ),
        "夫妻二人打零工，两个孩子上学。",
        N("capacity_building", K.SERVICE, S.OPEN, "两个孩子需要课后学业辅导。", team=VOL2),
        category=Category.LOW_INCOME,
        income="1.3",
    ),
    H(
        "winter-goods-open",
        "和平社区",
        (P(R.HEAD, 68, True, elderly_alone=True),),
        "独居老人，房屋保暖差。",
        N("care", K.GOODS, S.OPEN, "独居老人冬季需要棉被、电暖器等御寒物资。", quantity=2),
        category=Category.DIBAO,
        income="0.5",
    ),
    H(
        "hospital-escort-matched",
        DEMO_COMMUNITY,
        (P(R.HEAD, 61, False), P(R.SPOUSE, 63, True, serious_illness=True)),
        "丈夫中风后需要定期复查。",
        N(
            "hospital_escort",
            K.SERVICE,
            S.MATCHED,
            "中风康复期老人需要每月两次陪同就医。",
            team=(("volunteer", 1),),
        ),
        category=Category.LOW_INCOME,
        income="1.1",
    ),
    H(
        "tekun-care-in-progress",
        "瑶海社区",
        (P(R.HEAD, 84, True, disability=True, elderly_alone=True),),
        "特困供养人员，分散供养。",
        N("care", K.SERVICE, S.IN_PROGRESS, "特困供养老人需要上门助浴、助洁。", team=VOL2),
        category=Category.TEKUN,
    ),
    H(
        "young-mother-open",
        "双岗社区",
        (P(R.HEAD, 35, False), P(R.CHILD, 4, True), P(R.CHILD, 2, False)),
        "年轻母亲独自抚养两个幼儿，丈夫服刑。",
        N(
            "social_integration",
            K.SERVICE,
            S.OPEN,
            "年轻母亲独自抚养两个幼儿，需要亲子活动和邻里支持。",
            team=SW1_VOL2,
        ),
        category=Category.DIBAO,
        income="0.45",
    ),
    H(
        "serious-illness-confirmed",
        "和平社区",
        (
            P(R.HEAD, 49, True, serious_illness=True),
            P(R.SPOUSE, 47, False),
            P(R.CHILD, 20, False),
        ),
        "户主患白血病，化疗费用高。",
        N(
            "temporary_expenditure",
            K.FUNDS,
            S.CONFIRMED,
            "家庭成员患重病，自付医疗费用高，申请支出型临时救助。",
            amount="8000",
        ),
        category=Category.EXPENDITURE,
        income="2.1",
        medical=52000,
        referrals=(DemoReferral(HOUSING, "sent", "大病家庭住房困难，申请公共租赁住房。"),),
    ),
    H(
        "job-training-done",
        DEMO_COMMUNITY,
        (P(R.HEAD, 57, True, disability=True),),
        "听力残疾，原工厂关闭后失业。",
        N("capacity_building", K.SERVICE, S.DONE, "残疾人需要就业技能培训。", team=SW1),
        category=Category.DIBAO,
        income="0.65",
    ),
    H(
        "family-dispute-closed",
        "瑶海社区",
        (P(R.HEAD, 72, False), P(R.SPOUSE, 75, True)),
        "子女不履行赡养义务。",
        N("legal_aid", K.SERVICE, S.CLOSED, "老年夫妇遇到赡养纠纷，需要法律援助。", team=SW1),
        category=Category.LOW_INCOME,
        income="1.25",
        phone=False,
    ),
    H(
        "counselling-submitted",
        "双岗社区",
        (P(R.HEAD, 46, True), P(R.CHILD, 10, True)),
        "父子二人生活，母亲离家多年。",
        N(
            "counselling",
            K.SERVICE,
            S.SUBMITTED,
            "父子二人生活，孩子性格孤僻，需要心理疏导。",
            team=SW1,
        ),
        category=Category.DIBAO,
        income="0.5",
    ),
    H(
        "elderly-near-line-open",
        "和平社区",
        (P(R.HEAD, 78, False, elderly_alone=True),),
        "退休金微薄，独自生活。",
        N("visiting", K.SERVICE, S.OPEN, "高龄独居老人需要定期探访和健康监测。", team=VOL2),
        category=Category.LOW_INCOME,
        income="1.05",
    ),
    H(
        "welfare-home-cancelled",
        DEMO_COMMUNITY,
        (P(R.HEAD, 90, True, elderly_alone=True, disability=True),),
        "特困供养人员，已申请集中供养。",
        N(
            "care",
            K.SERVICE,
            S.CANCELLED,
            "失能老人需要上门照料。",
            team=VOL2,
            reason="老人已入住区社会福利中心，需求撤销。",
        ),
        category=Category.TEKUN,
    ),
)


def _demo_exists(key: uuid.UUID) -> bool:
    return (
        Case.objects.filter(submission_key=key).exists()
        or Need.objects.filter(submission_key=key).exists()
    )


def _backdate(case: Case, hours: int) -> None:
    """Move every clock of a demo household back (only the demo does this: it makes the
    overdue examples overdue on the day the demo is loaded)."""
    delta = timedelta(hours=hours)
    Case.objects.filter(pk=case.pk).update(created_at=F("created_at") - delta)
    Case.objects.filter(pk=case.pk, verify_deadline__isnull=False).update(
        verify_deadline=F("verify_deadline") - delta
    )
    Consent.objects.filter(case=case).update(given_at=F("given_at") - delta)
    needs = Need.objects.filter(case=case)
    needs.update(created_at=F("created_at") - delta)
    needs.filter(submitted_at__isnull=False).update(submitted_at=F("submitted_at") - delta)
    needs.filter(response_deadline__isnull=False).update(
        response_deadline=F("response_deadline") - delta
    )
    NeedTransition.objects.filter(need__case=case).update(at=F("at") - delta)


def _demo_cases(report: SeedReport) -> None:
    """About thirty households of 明光路街道 entered through the services, as their staff
    would: needs in every status, emergencies overdue and not, discovered households waiting
    for verification, referrals at every stage; then the monitoring scan and the escalation
    run, so that warnings and an escalated emergency exist."""
    from marketplace.services import cases as svc

    street = Area.objects.filter(level=Area.Level.STREET, name=DEMO_STREET).first()
    if street is None:  # a custom data file without the demo street
        return
    communities = {a.name: a for a in street.children.all()}
    users = {
        u.username: u for u in User.objects.filter(username__in=[d.username for d in DEMO_LOGINS])
    }
    shequ, jiedao, shenqing, bumen = (
        users["shequ"],
        users["jiedao"],
        users["shenqing"],
        users["bumen"],
    )
    today = timezone.localdate()
    standard = svc.standard_for(area=street, year=today.year)
    line = standard.dibao_monthly if standard else Decimal("900")
    types = {t.code: t for t in ServiceType.objects.all()}
    departments = {
        o.name: o for o in Organisation.objects.filter(kind=Organisation.Kind.DEPARTMENT)
    }
    people = PersonFactory(2021, sequences=SMALL_SEQUENCES)
    before = _case_counts()
    created: dict[str, Case] = {}

    for h in DEMO_HOUSEHOLDS:
        # Drawn for every household, present or not, so that a household added to the table
        # later does not change the people of the others.
        surname = people.surname()
        members = []
        for p in h.people:
            name = people.name(
                male=p.male,
                surname=surname if p.relationship in {R.HEAD, R.CHILD, R.GRANDCHILD} else None,
            )
            born = people.born(p.age, today, shift_days=p.shift_days)
            members.append(
                svc.MemberInput(
                    name=name,
                    id_number=people.resident_id(born, male=p.male),
                    relationship=p.relationship,
                    disability=p.disability,
                    serious_illness=p.serious_illness,
                    elderly_alone=p.elderly_alone,
                )
            )
        phone = people.phone() if h.phone else ""
        address = people.address(h.community)
        key = demo_key(f"demo-case-{h.key}")
        community = communities.get(h.community)
        if community is None or _demo_exists(key):
            continue
        head = members[0]
        spec = None
        if h.need is not None:
            spec = svc.NeedInput(
                kind=h.need.kind,
                service_type=types[h.need.service],
                window_start=today,
                window_end=today + timedelta(days=90),
                urgency=h.need.urgency,
                amount=Decimal(h.need.amount) if h.need.amount else None,
                quantity=h.need.quantity,
                team=dict(h.need.team),
                public_description=h.need.description,
            )
        staff = shequ if community.name == DEMO_COMMUNITY else jiedao
        need = None
        if h.intake == "online":
            result = svc.case_apply_online(
                applicant=shenqing,
                id_number=head.id_number,
                phone=phone,
                community=community,
                difficulty=h.situation,
                kind=spec.kind,
                service_type=spec.service_type,
                finance_check_consent=True,
                urgency=spec.urgency,
                amount=spec.amount,
                submission_key=key,
            )
            case, need = result.case, result.need
        elif h.intake in {"discovery", "discovery_verified"}:
            case = svc.case_report_discovery(
                reported_by=shequ,
                community=community,
                head_name=head.name,
                id_number=head.id_number,
                situation=h.situation,
                phone=phone,
                address=address,
                submission_key=key,
            ).case
            if h.intake == "discovery_verified":
                case = svc.case_candidate_verify(
                    case=case, by=shequ, confirmed=True, note="入户核实属实，纳入在册管理。"
                )
                need = svc.need_create(
                    case=case,
                    created_by=shequ,
                    spec=spec,
                    submission_key=demo_key(f"demo-need-{h.key}"),
                )
        else:
            income = (line * Decimal(h.income)).quantize(Decimal("0.01")) if h.income else None
            draft = h.need is not None and h.need.status == S.DRAFT
            result = svc.case_register(
                created_by=bumen if h.intake == "department" else staff,
                community=community,
                members=members,
                phone=phone,
                address=address,
                category=h.category,
                income_per_capita=income,
                medical_expense_year=Decimal(h.medical),
                situation=h.situation,
                guardian_name=head.name,
                sensitive_consent_by=head.name,
                need=None if draft else spec,
                submission_key=key,
            )
            case, need = result.case, result.need
            if draft:
                need = svc.need_create(
                    case=case,
                    created_by=staff,
                    spec=spec,
                    submit=False,
                    submission_key=demo_key(f"demo-need-{h.key}"),
                )
        if need is not None and h.need.status != S.DRAFT:
            for step in NEED_PATHS[h.need.status]:
                need = svc.need_transition(
                    need=need,
                    to=step,
                    by=jiedao,
                    reason=h.need.reason if step in {S.CANCELLED, S.REJECTED} else "",
                )
        for r in h.referrals:
            referral = svc.referral_send(
                case=case, by=staff, department=departments[r.department], reason=r.reason
            )
            if r.state in {"accepted", "done"}:
                referral = svc.referral_accept(referral=referral, by=bumen)
            if r.state == "done":
                svc.referral_complete(referral=referral, by=bumen, outcome=r.outcome)
            elif r.state == "returned":
                svc.referral_return(referral=referral, by=bumen, reason=r.outcome)
            elif r.state == "overdue":
                late = timedelta(days=settings.REFERRAL_DUE_DAYS + 3)
                Referral.objects.filter(pk=referral.pk).update(
                    sent_at=F("sent_at") - late, due_at=F("due_at") - late
                )
        if h.backdate_hours:
            _backdate(case, h.backdate_hours)
        created[h.key] = case

    if not created:
        return
    if "emergency-overdue" in created:
        # One audited full view, so the access log has an example.
        svc.sensitive_reveal(
            case=created["emergency-overdue"],
            by=shequ,
            field=SensitiveAccess.Field.PHONE,
            reason="急难求助，电话回访核实情况",
        )
    svc.need_escalate_overdue()
    svc.monitoring_scan()
    _report_growth(report, before)


CASE_MODELS = {
    "cases": Case,
    "case_members": CaseMember,
    "consents": Consent,
    "needs": Need,
    "need_transitions": NeedTransition,
    "referrals": Referral,
    "warnings": Warning,
}


def _case_counts() -> dict[str, int]:
    return {what: model.objects.count() for what, model in CASE_MODELS.items()}


def _report_growth(report: SeedReport, before: dict[str, int]) -> None:
    for what, n in _case_counts().items():
        if n > before[what]:
            report.add(what, n - before[what])


# --- District scale: 8,000 households and 10,000 needs in bulk ----------------------------

DISTRICT_CASES = 8_000
DISTRICT_NEEDS = 10_000
CASE_BATCH = 1_000

# Weights of the district's make-up (plausible, not statistics).
CHANNEL_WEIGHTS = {
    Channel.WINDOW: 55,
    Channel.ONLINE: 20,
    Channel.DISCOVERY: 17,
    Channel.REFERRAL: 8,
}
CATEGORY_WEIGHTS = {
    Category.DIBAO: 40,
    Category.TEKUN: 10,
    Category.LOW_INCOME: 25,
    Category.EXPENDITURE: 10,
    Category.TEMPORARY: 5,
    "": 10,
}
STATUS_WEIGHTS = {
    S.DRAFT: 3,
    S.SUBMITTED: 14,
    S.CONFIRMED: 10,
    S.OPEN: 26,
    S.MATCHED: 10,
    S.IN_PROGRESS: 12,
    S.DONE: 10,
    S.CLOSED: 8,
    S.CANCELLED: 4,
    S.REJECTED: 3,
}
URGENCY_WEIGHTS = {Need.Urgency.NORMAL: 80, Need.Urgency.URGENT: 15, Need.Urgency.EMERGENCY: 5}
REFERRAL_SHARE = 0.06
SITUATIONS = {
    Category.DIBAO: ["家庭收入低于低保标准，长期依靠低保金生活。", "户主患慢性病，无劳动能力。"],
    Category.TEKUN: ["无劳动能力、无生活来源、无法定赡养抚养扶养义务人。"],
    Category.LOW_INCOME: [
        "家庭收入略高于低保标准，子女上学支出大。",
        "夫妻二人灵活就业，收入不稳定。",
    ],
    Category.EXPENDITURE: ["家庭成员患大病，医疗支出远超家庭承受能力。"],
    Category.TEMPORARY: ["突发意外，家庭基本生活暂时出现困难。"],
    "": ["申请救助，待评估。"],
}
DESCRIPTIONS = {
    "visiting": "老人需要志愿者定期上门探访，了解生活和健康状况。",
    "care": "需要助餐、助洁等生活照料服务。",
    "rehabilitation": "残疾人需要居家康复训练指导。",
    "hospital_escort": "需要陪同就医和住院期间的陪护。",
    "social_integration": "需要参加社区活动，增加邻里交往。",
    "capacity_building": "需要就业技能培训或学业辅导。",
    "counselling": "家庭成员情绪压力大，需要心理疏导。",
    "legal_aid": "遇到法律纠纷，需要法律咨询与援助。",
    "age_friendly": "高龄老人居家需要适老化改造。",
    "child_rehabilitation": "残疾儿童需要康复训练服务。",
    "funeral": "家中老人去世，需要基本殡葬服务。",
    "temporary_emergency": "突发意外导致基本生活困难，需要临时救助。",
    "temporary_expenditure": "大额刚性支出导致基本生活困难，需要临时救助。",
}
FUNDS_TYPES = {"temporary_emergency", "temporary_expenditure", "funeral"}


def _pick(rng: random.Random, weights: dict):
    return rng.choices(list(weights), weights=list(weights.values()))[0]


@dataclass
class _BulkMember:
    name: str
    relationship: str
    id_number: str
    born: date
    disability: bool = False
    serious_illness: bool = False
    elderly_alone: bool = False
    left_behind: str = ""


@dataclass
class _BulkNeed:
    service_type: ServiceType
    kind: str
    urgency: str
    status: str
    channel: str
    created_by_id: int
    amount: Decimal | None
    quantity: int | None
    team: dict
    steps: list[tuple[str, str, int, datetime]]  # (from, to, by, at)
    submitted_at: datetime | None


@dataclass
class _BulkCase:
    key: uuid.UUID
    community: Area
    channel: str
    status: str
    category: str
    income: Decimal | None
    medical: Decimal
    phone: str
    address: str
    situation: str
    members: list[_BulkMember]
    created_by_id: int
    applicant_id: int | None
    referred_by_id: int | None
    registered_at: datetime
    verify_deadline: datetime | None = None
    needs: list[_BulkNeed] = field(default_factory=list)
    referral: dict | None = None


def _bulk_household(people: PersonFactory, today: date) -> list[_BulkMember]:
    r = people.rng
    head_male = r.random() < 0.55
    head_age = r.randint(28, 88)
    surname = people.surname()
    plan = [(R.HEAD, head_age, head_male)]
    alone = head_age >= 65 and r.random() < 0.45
    if not alone:
        if r.random() < 0.6:
            plan.append((R.SPOUSE, max(20, head_age + r.randint(-5, 3)), not head_male))
        if head_age < 60:
            for _n in range(r.choice([0, 1, 1, 2])):
                plan.append((R.CHILD, r.randint(0, min(25, head_age - 20)), r.random() < 0.5))
        elif r.random() < 0.2:
            plan.append((R.GRANDCHILD, r.randint(3, 17), r.random() < 0.5))
    members = []
    for relationship, age, male in plan:
        born = people.born(age, today)
        members.append(
            _BulkMember(
                name=people.name(
                    male=male,
                    surname=surname if relationship in {R.HEAD, R.CHILD, R.GRANDCHILD} else None,
                ),
                relationship=relationship,
                id_number=people.resident_id(born, male=male),
                born=born,
                disability=r.random() < 0.06,
                serious_illness=r.random() < 0.05,
                elderly_alone=alone,
                left_behind=CaseMember.LeftBehind.CHILD
                if relationship == R.GRANDCHILD and r.random() < 0.5
                else "",
            )
        )
    return members


def _income_for(category: str, line: Decimal, r: random.Random) -> Decimal | None:
    factor = {
        Category.DIBAO: r.uniform(0.2, 0.95),
        Category.LOW_INCOME: r.uniform(1.0, 1.95),
        Category.EXPENDITURE: r.uniform(1.2, 3.0),
        Category.TEMPORARY: r.uniform(0.8, 2.5),
    }.get(category)
    if factor is None:
        return None
    return (line * Decimal(str(round(factor, 3)))).quantize(Decimal("0.01"))


def _district_specs(
    *,
    today,
    now,
    line,
    communities,
    applicants,
    staff_id,
    dept_staff_id,
    housing_id,
    departments,
    service_types,
) -> list[_BulkCase]:
    """The district's households, the same on every run (seeded), with plain values that
    only ever exist in memory."""
    people = PersonFactory(2024, sequences=DISTRICT_SEQUENCES)
    r = people.rng
    specs: list[_BulkCase] = []
    online_used = 0
    for i in range(DISTRICT_CASES):
        community = communities[i % len(communities)]
        channel = _pick(r, CHANNEL_WEIGHTS)
        if channel == Channel.ONLINE and online_used >= len(applicants):
            channel = Channel.WINDOW
        members = _bulk_household(people, today)
        registered = now - timedelta(seconds=r.randrange(3600, 365 * 86400))
        status, category, income = Case.Status.ACTIVE, "", None
        created_by, applicant_id, referred_by = staff_id, None, None
        verify_deadline = None
        if channel == Channel.ONLINE:
            # Online: the applicant alone, named after the account (as the service does).
            applicant_id, members[0].name = applicants[online_used]
            members = members[:1]
            created_by = applicant_id
            online_used += 1
        elif channel == Channel.DISCOVERY:
            members = members[:1]
            roll = r.random()
            if roll < 0.25:
                status = Case.Status.CANDIDATE
                registered = now - timedelta(seconds=r.randrange(600, 6 * 86400))
            elif roll < 0.3:
                status = Case.Status.DISMISSED
            verify_deadline = registered + timedelta(days=settings.DISCOVERY_VERIFY_DAYS)
        else:
            category = _pick(r, CATEGORY_WEIGHTS)
            income = _income_for(category, line, r)
            if channel == Channel.REFERRAL:
                created_by, referred_by = dept_staff_id, housing_id
        phone = people.phone() if channel == Channel.ONLINE or r.random() < 0.9 else ""
        specs.append(
            _BulkCase(
                key=demo_key(f"district-case-{i}"),
                community=community,
                channel=channel,
                status=status,
                category=category,
                income=income,
                medical=Decimal(r.choice([0, 0, 0, 0, 1500, 8000, 26000, 60000])),
                phone=phone,
                address=people.address(community.name),
                situation=r.choice(SITUATIONS[category])
                if channel != Channel.DISCOVERY
                else "网格员走访发现的困难家庭。",
                members=members,
                created_by_id=created_by,
                applicant_id=applicant_id,
                referred_by_id=referred_by,
                registered_at=registered,
                verify_deadline=verify_deadline,
            )
        )
    active = [c for c in specs if c.status == Case.Status.ACTIVE]
    counts = [1 if n < DISTRICT_NEEDS else 0 for n in range(len(active))]
    for j in range(max(0, DISTRICT_NEEDS - len(active))):
        counts[(j * 7919) % len(active)] += 1  # a prime stride spreads second needs out
    for case, count in zip(active, counts, strict=True):
        for n in range(count):
            case.needs.append(
                _bulk_need(
                    case, r, now=now, first=n == 0, staff_id=staff_id, service_types=service_types
                )
            )
        if r.random() < REFERRAL_SHARE:
            case.referral = _bulk_referral(
                case,
                r,
                now=now,
                staff_id=staff_id,
                dept_staff_id=dept_staff_id,
                housing_id=housing_id,
                departments=departments,
            )
    return specs


def _bulk_need(case: _BulkCase, r: random.Random, *, now, first, staff_id, service_types):
    """One need with the transitions the services would have recorded on its way."""
    service_type = r.choice(service_types)
    kind = (
        K.FUNDS
        if service_type.code in FUNDS_TYPES
        else (K.GOODS if service_type.code == "care" and r.random() < 0.2 else K.SERVICE)
    )
    urgency = _pick(r, URGENCY_WEIGHTS)
    status = _pick(r, STATUS_WEIGHTS)
    # The intake need carries the intake channel; later needs come through need_create.
    intake = first and case.channel != Channel.DISCOVERY
    channel = case.channel if intake else Channel.WINDOW
    created_by = case.created_by_id if intake else staff_id
    if urgency == Need.Urgency.EMERGENCY and status in Need.AWAITING_RESPONSE:
        # Emergencies still waiting: within the last two days, so some are overdue.
        submitted = now - timedelta(seconds=r.randrange(600, 48 * 3600))
        case.registered_at = min(case.registered_at, submitted)
    else:
        span = max(int((now - case.registered_at).total_seconds()), 60)
        submitted = case.registered_at + timedelta(seconds=r.randrange(0, span))
    steps = [("", S.DRAFT, created_by, submitted)]
    submitted_at = None
    if status != S.DRAFT:
        submitted_at = submitted
        steps.append((S.DRAFT, S.SUBMITTED, created_by, submitted))
        at = submitted
        # An emergency answered is answered within its deadline (else it would have been
        # escalated); other needs move at the pace of days.
        pace = 6 * 3600 if urgency == Need.Urgency.EMERGENCY else 3 * 86400
        for to in NEED_PATHS[status]:
            at = min(now, at + timedelta(seconds=r.randrange(600, pace)))
            steps.append((steps[-1][1], to, staff_id, at))
    return _BulkNeed(
        service_type=service_type,
        kind=kind,
        urgency=urgency,
        status=status,
        channel=channel,
        created_by_id=created_by,
        amount=Decimal(r.choice([500, 1000, 2000, 3000, 5000])) if kind == K.FUNDS else None,
        quantity=r.randint(1, 5) if kind == K.GOODS else None,
        team={"volunteer": r.randint(1, 3)} if kind == K.SERVICE else {},
        steps=steps,
        submitted_at=submitted_at,
    )


def _bulk_referral(case, r, *, now, staff_id, dept_staff_id, housing_id, departments):
    department_id = r.choice(departments)
    # Only the housing bureau has a demo login to have handled its referrals.
    state = (
        r.choice(["sent", "accepted", "done", "returned"])
        if department_id == housing_id
        else "sent"
    )
    span = max(int((now - case.registered_at).total_seconds()), 60)
    sent = case.registered_at + timedelta(seconds=r.randrange(0, span))
    row = {
        "department_id": department_id,
        "reason": "家庭存在住房、就医或就业方面的困难，转介相关部门办理。",
        "status": state,
        "sent_by_id": staff_id,
        "sent_at": sent,
        "due_at": sent + timedelta(days=settings.REFERRAL_DUE_DAYS),
    }
    if state != "sent":
        row["handled_by_id"] = dept_staff_id
        row["accepted_at"] = min(now, sent + timedelta(hours=r.randint(1, 48)))
    if state in {"done", "returned"}:
        row["closed_at"] = min(now, row["accepted_at"] + timedelta(hours=r.randint(1, 120)))
        row["outcome"] = "已按政策办理。" if state == "done" else "不符合本部门受理条件。"
    return row


def _district_cases(report: SeedReport, *, district: Area) -> None:
    """Households and needs over every community, inserted in batches with bulk_create. The
    per-row services are bypassed for speed, but the rows are what they would write: ID
    numbers and phones only as ciphertext, keyed hash and mask (`marketplace.crypto`, with the
    services' purposes), birth dates derived from the IDs, streets denormalised, consents,
    and the NeedTransition rows of each need's way to its status."""
    keys = [demo_key(f"district-case-{i}") for i in range(DISTRICT_CASES)]
    have = set(Case.objects.exclude(submission_key=None).values_list("submission_key", flat=True))
    if all(k in have for k in keys):
        return
    users = {u.username: u for u in User.objects.filter(username__in=["minzheng", "bumen"])}
    housing = Organisation.objects.get(kind=Organisation.Kind.DEPARTMENT, name=HOUSING)
    today, now = timezone.localdate(), timezone.now()
    standard = AssistanceStandard.objects.filter(year=today.year, area=district).first()
    applicants = list(
        User.objects.filter(memberships__role=Role.APPLICANT, username__startswith="app")
        .order_by("username")
        .values_list("pk", "display_name")
    )
    specs = _district_specs(
        today=today,
        now=now,
        line=standard.dibao_monthly if standard else Decimal("900"),
        communities=list(Area.objects.filter(level=Area.Level.COMMUNITY).order_by("code")),
        applicants=[(pk, name or "申请人") for pk, name in applicants],
        staff_id=users["minzheng"].pk,
        dept_staff_id=users["bumen"].pk,
        housing_id=housing.pk,
        departments=sorted(
            Organisation.objects.filter(
                kind=Organisation.Kind.DEPARTMENT, department__in=Referral.DEPARTMENTS
            ).values_list("pk", flat=True)
        ),
        service_types=list(ServiceType.objects.order_by("position", "code")),
    )
    todo = [c for c in specs if c.key not in have]
    before = _case_counts()
    for start in range(0, len(todo), CASE_BATCH):
        _district_insert(todo[start : start + CASE_BATCH], staff_id=users["minzheng"].pk)
    _report_growth(report, before)


@contextmanager
def _own_created_at(model):
    """Let bulk_create keep the `created_at` the rows carry: a history spread over the past
    year instead of the moment of seeding (auto_now_add would stamp the present). Only this
    seeding command, alone in its process, turns the stamp off, and only for the insert."""
    stamp = model._meta.get_field("created_at")
    stamp.auto_now_add = False
    try:
        yield
    finally:
        stamp.auto_now_add = True


def _district_insert(batch: list[_BulkCase], *, staff_id: int) -> None:
    from marketplace.services.cases import ID_PURPOSE, PHONE_PURPOSE

    # Encrypt, hash and mask exactly as the intake services do.
    for case in batch:
        for m in case.members:
            m.id_hash = crypto.lookup_hash(m.id_number, purpose=ID_PURPOSE)
    on_file = set(
        CaseMember.objects.filter(
            id_hash__in=[m.id_hash for c in batch for m in c.members]
        ).values_list("id_hash", flat=True)
    )
    # One household per resident ID: skip a made-up household whose ID is already on file.
    batch = [c for c in batch if not any(m.id_hash in on_file for m in c.members)]
    now = timezone.now()
    cases = []
    for c in batch:
        phone = (
            {
                "phone_cipher": crypto.encrypt(c.phone, purpose=PHONE_PURPOSE),
                "phone_hash": crypto.lookup_hash(c.phone, purpose=PHONE_PURPOSE),
                "phone_masked": crypto.mask_phone(c.phone),
            }
            if c.phone
            else {}
        )
        verified = c.channel == Channel.DISCOVERY and c.status != Case.Status.CANDIDATE
        cases.append(
            Case(
                head_name=c.members[0].name,
                community=c.community,
                street_id=c.community.parent_id,
                address=c.address,
                category=c.category,
                household_size=len(c.members),
                income_per_capita=c.income,
                medical_expense_year=c.medical,
                situation=c.situation,
                channel=c.channel,
                status=c.status,
                verify_deadline=c.verify_deadline,
                verified_by_id=staff_id if verified else None,
                verified_at=min(now, c.registered_at + timedelta(days=1)) if verified else None,
                verify_note="入户核实完毕。" if verified else "",
                applicant_id=c.applicant_id,
                referred_by_id=c.referred_by_id,
                created_by_id=c.created_by_id,
                submission_key=c.key,
                **phone,
            )
        )
    for case, c in zip(cases, batch, strict=True):
        case.created_at = c.registered_at
    with _own_created_at(Case):
        Case.objects.bulk_create(cases, batch_size=BATCH)

    members, consents = [], []
    for case, c in zip(cases, batch, strict=True):
        for m in c.members:
            members.append(
                CaseMember(
                    case=case,
                    name=m.name,
                    relationship=m.relationship,
                    id_cipher=crypto.encrypt(m.id_number, purpose=ID_PURPOSE),
                    id_hash=m.id_hash,
                    id_masked=crypto.mask_id_number(m.id_number),
                    birth_date=m.born,
                    disability=m.disability,
                    serious_illness=m.serious_illness,
                    elderly_alone=m.elderly_alone,
                    left_behind=m.left_behind,
                )
            )
    CaseMember.objects.bulk_create(members, batch_size=BATCH)
    by_case: dict[int, list[CaseMember]] = {}
    for member in members:
        by_case.setdefault(member.case_id, []).append(member)
    today = timezone.localdate()
    for case, c in zip(cases, batch, strict=True):
        if c.channel == Channel.DISCOVERY:
            continue  # a discovery report records no consent (the services' way)
        given = {"case": case, "recorded_by_id": c.created_by_id, "given_at": c.registered_at}
        head = c.members[0].name
        if c.channel == Channel.ONLINE:
            consents.append(Consent(kind=Consent.Kind.FINANCE_CHECK, given_by_name=head, **given))
        consents.append(Consent(kind=Consent.Kind.SENSITIVE_INFO, given_by_name=head, **given))
        for member in by_case.get(case.pk, []):
            if member.age_on(today) < 14:
                consents.append(
                    Consent(member=member, kind=Consent.Kind.GUARDIAN, given_by_name=head, **given)
                )
    Consent.objects.bulk_create(consents, batch_size=BATCH)

    needs, plans = [], []
    for case, c in zip(cases, batch, strict=True):
        for spec in c.needs:
            status_reason = ""
            if spec.status == S.CANCELLED:
                status_reason = "家庭情况变化，需求撤销。"
            elif spec.status == S.REJECTED:
                status_reason = "经审核不符合条件。"
            needs.append(
                Need(
                    case=case,
                    kind=spec.kind,
                    service_type=spec.service_type,
                    amount=spec.amount,
                    quantity=spec.quantity,
                    urgency=spec.urgency,
                    community=c.community,
                    street_id=c.community.parent_id,
                    window_start=spec.steps[0][3].date(),
                    window_end=spec.steps[0][3].date() + timedelta(days=90),
                    team=spec.team,
                    public_description=DESCRIPTIONS.get(spec.service_type.code, ""),
                    status=spec.status,
                    status_reason=status_reason,
                    channel=spec.channel,
                    submitted_at=spec.submitted_at,
                    response_deadline=spec.submitted_at
                    + timedelta(hours=settings.EMERGENCY_RESPONSE_HOURS)
                    if spec.submitted_at and spec.urgency == Need.Urgency.EMERGENCY
                    else None,
                    created_by_id=spec.created_by_id,
                )
            )
            plans.append(spec)
    for need, spec in zip(needs, plans, strict=True):
        need.created_at = spec.steps[0][3]
    with _own_created_at(Need):
        Need.objects.bulk_create(needs, batch_size=BATCH)
    NeedTransition.objects.bulk_create(
        [
            NeedTransition(
                need=need,
                from_status=src,
                to_status=dst,
                by_id=by,
                reason=need.status_reason if dst in {S.CANCELLED, S.REJECTED} else "",
                at=at,
            )
            for need, spec in zip(needs, plans, strict=True)
            for src, dst, by, at in spec.steps
        ],
        batch_size=BATCH,
    )
    Referral.objects.bulk_create(
        [
            Referral(case=case, **c.referral)
            for case, c in zip(cases, batch, strict=True)
            if c.referral
        ],
        batch_size=BATCH,
    )
