"""Demo data for Yaohai district: the real streets and towns, plausible communities,
organisations of every kind and one user per role. Idempotent: running it again creates
only what is missing. `district` size adds the bulk later benchmarks need."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from faker import Faker

from marketplace.exceptions import DomainError
from marketplace.models import Area, Membership, Organisation, Role, User
from marketplace.validators import credit_code_check_char, validate_credit_code

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
    DemoLogin("jiedao", "李秀英", Role.STREET_OFFICIAL, "明光路街道办事处"),
    DemoLogin("shequ", "张敏", Role.COMMUNITY_WORKER, "明光路社区居委会"),
    DemoLogin("cishan", "刘芳", Role.CHARITY_STAFF, "瑶海区慈善协会"),
    DemoLogin("jigou", "陈静", Role.AGENCY_STAFF, "瑶海区阳光社会工作服务中心"),
    DemoLogin("shegong", "杨洋", Role.SOCIAL_WORKER, "明光路街道社工站"),
    DemoLogin("zhiyuan", "赵磊", Role.VOLUNTEER, "明光路街道志愿者联合会"),
    DemoLogin("shenqing", "黄丽", Role.APPLICANT, ""),
    DemoLogin("shenji", "周强", Role.AUDITOR, "瑶海区审计局"),
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
    if errors:
        raise DemoDataError("\n".join(errors))
    return data


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
    _demo_logins(report)
    if size == "district":
        _district_bulk(report, district=district, streets=list(streets.values()))
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
