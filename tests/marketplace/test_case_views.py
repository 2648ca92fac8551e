"""The assistance pages: online application, street window, discovery, cases, needs, open
needs for providers, referrals and warnings. Each page is tried by the role it serves, refused
to the others, fed bad input, and counted for queries."""

from __future__ import annotations

import io
import uuid
from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from marketplace.models import (
    Case,
    CaseMember,
    Consent,
    Need,
    NeedTransition,
    Referral,
    Role,
    SensitiveAccess,
    ServiceType,
    Warning,
)
from marketplace.models.cases import Channel
from marketplace.selectors import CASE_STAFF_ROLES
from marketplace.services import (
    case_apply_online,
    need_transition,
)
from tests import factories as f

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
VALID_ID = f.resident_id(date(1950, 3, 1))
# The same number with a wrong check character.
BAD_CHECK_ID = VALID_ID[:17] + ("0" if VALID_ID[17] != "0" else "1")
PROVIDERS = [Role.CHARITY_STAFF, Role.AGENCY_STAFF, Role.SOCIAL_WORKER, Role.VOLUNTEER]
INTAKE = {Role.CIVIL_AFFAIRS_OFFICIAL, Role.STREET_OFFICIAL, Role.COMMUNITY_WORKER}


# --- Builders ---------------------------------------------------------------------------


def _service(code="visiting") -> ServiceType:
    return ServiceType.objects.get(code=code)


def _register_post(world, *, members=None, **overrides) -> dict:
    data = {
        "community": world.community.pk,
        "address": "明光路88号",
        "phone": f.phone(),
        "category": "",
        "income_per_capita": "500",
        "assets_within_rules": "on",
        "medical_expense_year": "0",
        "situation": "因病致贫",
        "guardian_name": "",
        "sensitive_consent_by": "李桂兰",
        "kind": Need.Kind.SERVICE,
        "service_type": _service().pk,
        "amount": "",
        "quantity": "",
        "urgency": Need.Urgency.NORMAL,
        "window_start": TODAY.isoformat(),
        "window_end": (TODAY + timedelta(days=30)).isoformat(),
        "team_social_worker": "1",
        "team_volunteer": "2",
        "public_description": "老人行动不便，需要助餐助洁",
        "submission_key": str(uuid.uuid4()),
    }
    members = members or [
        {"name": "李桂兰", "id_number": f.resident_id(date(1950, 3, 1)), "relationship": "head"}
    ]
    data.update(
        {
            "members-TOTAL_FORMS": str(len(members)),
            "members-INITIAL_FORMS": "0",
            "members-MIN_NUM_FORMS": "1",
            "members-MAX_NUM_FORMS": "30",
        }
    )
    for i, member in enumerate(members):
        for key, value in member.items():
            data[f"members-{i}-{key}"] = value
    data.update(overrides)
    return data


def _apply_post(world, **overrides) -> dict:
    data = {
        "id_number": f.resident_id(date(1982, 11, 9)),
        "phone": f.phone(),
        "community": world.community.pk,
        "kind": Need.Kind.FUNDS,
        "service_type": _service("temporary_emergency").pk,
        "amount": "2000",
        "urgency": Need.Urgency.URGENT,
        "difficulty": "丈夫住院，家里没有收入",
        "finance_check_consent": "on",
        "submission_key": str(uuid.uuid4()),
    }
    data.update(overrides)
    return data


def _counts():
    return (
        Case.objects.count(),
        CaseMember.objects.count(),
        Need.objects.count(),
        NeedTransition.objects.count(),
        Consent.objects.count(),
    )


def _body(response) -> str:
    return response.content.decode()


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


# --- Pages render for the roles they serve ----------------------------------------------


@pytest.mark.parametrize(
    ("name", "role", "heading"),
    [
        ("apply", Role.APPLICANT, "掌上办：在线申请救助"),
        ("my-applications", Role.APPLICANT, "我的申请"),
        ("case-register", Role.COMMUNITY_WORKER, "一门受理：登记困难家庭"),
        ("case-register", Role.STREET_OFFICIAL, "一门受理：登记困难家庭"),
        ("case-register", Role.DEPARTMENT_STAFF, "一门受理：登记困难家庭"),
        ("case-discover", Role.COMMUNITY_WORKER, "主动发现：上报困难家庭"),
        ("case-list", Role.COMMUNITY_WORKER, "救助对象"),
        ("case-list", Role.AUDITOR, "救助对象"),
        ("need-list", Role.STREET_OFFICIAL, "需求管理"),
        ("need-list", Role.CIVIL_AFFAIRS_OFFICIAL, "需求管理"),
        ("need-open-list", Role.VOLUNTEER, "待对接需求"),
        ("need-open-list", Role.CHARITY_STAFF, "待对接需求"),
        ("referral-list", Role.DEPARTMENT_STAFF, "转介"),
        ("warning-list", Role.COMMUNITY_WORKER, "监测预警"),
    ],
)
def test_page_renders_for_its_role(login, world, name, role, heading):
    response = login(world.users[role]).get(reverse(name))
    assert response.status_code == 200
    assert f"<h1>{heading}</h1>" in _body(response)


def test_object_pages_render_for_case_staff(login, world):
    result = f.household(world)
    client = login(world.users[Role.COMMUNITY_WORKER])
    detail = client.get(reverse("case-detail", args=[result.case.pk]))
    assert detail.status_code == 200
    assert "家庭成员" in _body(detail) and "王秀兰户" in _body(detail)
    need = client.get(reverse("need-detail", args=[result.need.pk]))
    assert need.status_code == 200 and "办理记录" in _body(need)
    new_need = client.get(reverse("need-create", args=[result.case.pk]))
    assert new_need.status_code == 200 and "登记新需求" in _body(new_need)


def test_pages_require_login(client, world):
    for name in ["apply", "case-list", "need-list", "need-open-list", "warning-list"]:
        response = client.get(reverse(name))
        assert response.status_code == 302 and "/login/" in response["Location"]


# --- Every other role is refused --------------------------------------------------------

ROLE_PAGES = {
    "apply": {Role.APPLICANT},
    "my-applications": {Role.APPLICANT},
    "case-register": INTAKE | {Role.DEPARTMENT_STAFF},
    "case-discover": INTAKE,
    "case-list": CASE_STAFF_ROLES,
    "case-export": CASE_STAFF_ROLES,
    "need-list": CASE_STAFF_ROLES,
    "need-export": CASE_STAFF_ROLES,
    "referral-list": CASE_STAFF_ROLES,
    "warning-list": INTAKE | {Role.AUDITOR},
}
REFUSED = [
    (name, role)
    for name, allowed in ROLE_PAGES.items()
    for role in Role.values
    if role not in allowed
]


@pytest.mark.parametrize(("name", "role"), REFUSED)
def test_other_roles_get_403(login, world, name, role):
    response = login(world.users[role]).get(reverse(name))
    assert response.status_code == 403
    assert "无权访问" in _body(response)


@pytest.mark.parametrize("role", [*PROVIDERS, Role.APPLICANT])
def test_providers_and_applicants_never_open_a_case(login, world, role):
    result = f.household(world)
    client = login(world.users[role])
    for name, pk in [("case-detail", result.case.pk), ("need-detail", result.need.pk)]:
        response = client.get(reverse(name, args=[pk]))
        assert response.status_code == 403
        assert result.case.head_name not in _body(response)


def _outsiders(world):
    return {
        "street_official2": world.street_official2,
        "community_worker2": world.community_worker2,
    }


@pytest.mark.parametrize("outsider", ["street_official2", "community_worker2"])
@pytest.mark.parametrize(
    ("method", "name", "target"),
    [
        ("get", "case-detail", "case"),
        ("get", "need-detail", "need"),
        ("get", "need-create", "case"),
        ("post", "case-reveal", "case"),
        ("post", "case-verify", "case"),
        ("post", "referral-create", "case"),
        ("post", "need-transition", "need"),
    ],
)
def test_objects_outside_scope_are_404(login, world, outsider, method, name, target):
    result = f.household(world)
    pk = result.case.pk if target == "case" else result.need.pk
    before = (_counts(), SensitiveAccess.objects.count(), Referral.objects.count())
    client = login(_outsiders(world)[outsider])
    data = {"field": "phone", "reason": "核对", "to": "confirmed", "confirmed": "yes", "note": "x"}
    response = getattr(client, method)(reverse(name, args=[pk]), data if method == "post" else None)
    assert response.status_code == 404
    assert (_counts(), SensitiveAccess.objects.count(), Referral.objects.count()) == before


def test_warning_and_referral_outside_scope_are_404(login, world):
    result = f.household(world)
    warning = Warning.objects.create(case=result.case, rule="disability", detail="家有残疾人")
    response = login(world.community_worker2).post(
        reverse("warning-verify", args=[warning.pk]), {"confirmed": "yes", "note": "已入户"}
    )
    assert response.status_code == 404
    referral = Referral.objects.create(
        case=result.case,
        department=world.housing,
        reason="住房困难",
        sent_by=world.users[Role.COMMUNITY_WORKER],
        due_at=timezone.now() + timedelta(days=7),
    )
    # The health commission did not receive it and does not see the case.
    health = login(world.health_staff)
    assert health.post(reverse("referral-action", args=[referral.pk, "accept"])).status_code == 404
    assert health.get(reverse("case-detail", args=[result.case.pk])).status_code == 404
    warning.refresh_from_db()
    referral.refresh_from_db()
    assert warning.status == Warning.Status.OPEN and referral.status == Referral.Status.SENT


# --- Street window (一门受理) ------------------------------------------------------------


def test_window_registers_household_member_and_need(login, world):
    client = login(world.users[Role.COMMUNITY_WORKER])
    before = _counts()
    response = client.post(reverse("case-register"), _register_post(world))
    case = Case.objects.get(head_name="李桂兰")
    assert response.status_code == 302 and response["Location"] == case.get_absolute_url()
    assert case.channel == Channel.WINDOW and case.category == "dibao"
    need = case.needs.get()
    assert need.status == Need.Status.SUBMITTED
    assert need.team == {"social_worker": 1, "volunteer": 2}
    assert _counts()[:3] == (before[0] + 1, before[1] + 1, before[2] + 1)
    detail = client.get(response["Location"])
    assert "已登记，需求已提交街道审核。" in _body(detail)
    assert case.members.get().id_masked in _body(detail)


def test_department_registration_becomes_a_referral_case(login, world):
    client = login(world.users[Role.DEPARTMENT_STAFF])
    response = client.post(reverse("case-register"), _register_post(world))
    assert response.status_code == 302
    case = Case.objects.get(head_name="李桂兰")
    assert case.channel == Channel.REFERRAL and case.referred_by == world.housing
    assert client.get(response["Location"]).status_code == 200


@pytest.mark.parametrize(
    ("overrides", "member", "message"),
    [
        ({}, {"id_number": BAD_CHECK_ID}, "身份证号码校验位错误"),
        ({}, {"id_number": "340102199902300012"}, "身份证号码中的出生日期不存在"),
        ({"income_per_capita": "-1"}, {}, "确保该值大于或等于0"),
        ({"community": "999999"}, {}, "选择一个有效的选项"),
        ({"phone": "12345"}, {}, "请输入11位手机号码"),
        ({"sensitive_consent_by": ""}, {}, "必需字段"),
        ({"kind": "funds"}, {}, "资金需求须填写金额"),
        ({"window_end": (TODAY - timedelta(days=1)).isoformat()}, {}, "结束日期不能早于开始日期"),
    ],
)
def test_window_bad_input_changes_nothing(login, world, overrides, member, message):
    client = login(world.users[Role.COMMUNITY_WORKER])
    head = {"name": "李桂兰", "id_number": f.resident_id(date(1950, 3, 1)), "relationship": "head"}
    head.update(member)
    before = _counts()
    response = client.post(
        reverse("case-register"), _register_post(world, members=[head], **overrides)
    )
    assert response.status_code == 400
    assert message in _body(response)
    assert _counts() == before


def test_window_refuses_another_communitys_household(login, world):
    client = login(world.users[Role.COMMUNITY_WORKER])
    before = _counts()
    response = client.post(
        reverse("case-register"), _register_post(world, community=world.community2.pk)
    )
    assert response.status_code == 400
    assert "选择一个有效的选项" in _body(response)
    assert _counts() == before


def test_child_without_guardian_is_refused_by_the_service(login, world):
    """The service's error lands on the form, and its transaction leaves nothing behind."""
    client = login(world.users[Role.COMMUNITY_WORKER])
    members = [
        {"name": "李桂兰", "id_number": f.resident_id(date(1985, 3, 1)), "relationship": "head"},
        {
            "name": "李小宝",
            "id_number": f.resident_id(TODAY.replace(year=TODAY.year - 6, day=1)),
            "relationship": "child",
        },
    ]
    before = _counts()
    response = client.post(reverse("case-register"), _register_post(world, members=members))
    assert response.status_code == 400
    assert "须记录监护人同意" in _body(response)
    assert _counts() == before
    response = client.post(
        reverse("case-register"), _register_post(world, members=members, guardian_name="李桂兰")
    )
    assert response.status_code == 302
    assert Consent.objects.filter(kind=Consent.Kind.GUARDIAN, given_by_name="李桂兰").count() == 1


def test_household_on_file_is_linked_not_duplicated(login, world):
    existing = f.household(world)
    client = login(world.users[Role.COMMUNITY_WORKER])
    cases = Case.objects.count()
    members = [{"name": "王秀兰", "id_number": existing.case.full_id, "relationship": "head"}]
    response = client.post(
        reverse("case-register"), _register_post(world, members=members), follow=True
    )
    assert response.redirect_chain[-1][0] == existing.case.get_absolute_url()
    assert "该家庭已在册（明光路社区），需求已并入原档案，未重复建档" in _body(response)
    assert Case.objects.count() == cases
    assert existing.case.needs.count() == 2


def test_window_duplicate_submission_creates_nothing(login, world):
    client = login(world.users[Role.COMMUNITY_WORKER])
    data = _register_post(world)
    assert client.post(reverse("case-register"), data).status_code == 302
    after_first = _counts()
    response = client.post(reverse("case-register"), data, follow=True)
    assert response.status_code == 200
    assert "该表单已提交过" in _body(response)
    assert _counts() == after_first


def test_linked_duplicate_submission_creates_no_second_need(login, world):
    existing = f.household(world)
    client = login(world.users[Role.COMMUNITY_WORKER])
    members = [{"name": "王秀兰", "id_number": existing.case.full_id, "relationship": "head"}]
    data = _register_post(world, members=members)
    assert client.post(reverse("case-register"), data).status_code == 302
    after_first = _counts()
    response = client.post(reverse("case-register"), data, follow=True)
    assert "该表单已提交过" in _body(response)
    assert _counts() == after_first


# --- Online application (掌上办) ---------------------------------------------------------


def test_applicant_applies_online_and_sees_status(login, world):
    client = login(world.users[Role.APPLICANT])
    page = client.get(reverse("apply"))
    assert 'enctype="multipart/form-data"' in _body(page)
    assert 'name="submission_key"' in _body(page)
    response = client.post(reverse("apply"), _apply_post(world), follow=True)
    assert response.status_code == 200
    need = Need.objects.get(case__applicant=world.users[Role.APPLICANT])
    assert need.status == Need.Status.SUBMITTED and need.channel == Channel.ONLINE
    body = _body(response)
    assert "申请已提交" in body and "已提交" in body and "临时救助（急难型）" in body
    assert Consent.objects.filter(case=need.case, kind=Consent.Kind.FINANCE_CHECK).exists()


def test_applicant_with_valid_letter(login, world, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    letter = SimpleUploadedFile(
        "授权书.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
    )
    client = login(world.users[Role.APPLICANT])
    response = client.post(reverse("apply"), _apply_post(world, letter=letter))
    assert response.status_code == 302
    assert Consent.objects.get(kind=Consent.Kind.FINANCE_CHECK).letter.name.endswith(".pdf")


def test_applicant_household_on_file_is_told(login, world):
    existing = f.household(world)
    client = login(world.users[Role.APPLICANT])
    cases = Case.objects.count()
    response = client.post(
        reverse("apply"), _apply_post(world, id_number=existing.case.full_id), follow=True
    )
    assert "您的家庭已在册（明光路社区）" in _body(response)
    assert Case.objects.count() == cases


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"id_number": BAD_CHECK_ID}, "身份证号码校验位错误"),
        ({"id_number": "340102199902300012"}, "身份证号码中的出生日期不存在"),
        ({"finance_check_consent": ""}, "须授权核对家庭经济状况"),
        ({"amount": ""}, "申请资金须填写金额"),
        ({"community": "999999"}, "选择一个有效的选项"),
        ({"community": "district"}, "选择一个有效的选项"),
        (
            {"letter": SimpleUploadedFile("big.pdf", b"%PDF-1.4\n" + b"0" * (5 * 1024 * 1024))},
            "文件过大：最大5 MB",
        ),
        (
            {"letter": SimpleUploadedFile("letter.pdf", b"this is plain text, not a scan")},
            "只接受 PDF、JPG 或 PNG 格式的扫描件",
        ),
    ],
)
def test_apply_bad_input_changes_nothing(login, world, settings, tmp_path, overrides, message):
    settings.MEDIA_ROOT = str(tmp_path)
    if overrides.get("community") == "district":
        overrides["community"] = world.district.pk
    client = login(world.users[Role.APPLICANT])
    before = _counts()
    response = client.post(reverse("apply"), _apply_post(world, **overrides))
    assert response.status_code == 400
    assert message in _body(response)
    assert _counts() == before
    assert list(tmp_path.iterdir()) == []


def test_apply_duplicate_submission_creates_nothing(login, world):
    client = login(world.users[Role.APPLICANT])
    data = _apply_post(world)
    assert client.post(reverse("apply"), data).status_code == 302
    after_first = _counts()
    response = client.post(reverse("apply"), data)
    need = Need.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('my-applications')}#need-{need.pk}"
    assert _counts() == after_first
    assert "该表单已提交过" in _body(client.get(response["Location"]))


def test_my_applications_shows_only_own_with_timeline(login, world):
    client = login(world.users[Role.APPLICANT])
    client.post(reverse("apply"), _apply_post(world, difficulty="本人的困难"))
    other = f.user("shenqing2", Role.APPLICANT)
    login(other).post(reverse("apply"), _apply_post(world, kind="service", amount=""))
    mine = Need.objects.get(case__applicant=world.users[Role.APPLICANT])
    need_transition(need=mine, to=Need.Status.CONFIRMED, by=world.users[Role.STREET_OFFICIAL])
    response = login(world.users[Role.APPLICANT]).get(reverse("my-applications"))
    applications = list(response.context["needs"])
    assert applications == [mine]
    body = _body(response)
    assert "街道已确认" in body and "草稿" in body and "已提交" in body


def test_applicant_withdraws_submitted_application(login, world):
    client = login(world.users[Role.APPLICANT])
    client.post(reverse("apply"), _apply_post(world))
    need = Need.objects.get()
    url = reverse("need-transition", args=[need.pk])
    response = client.post(url, {"to": "cancelled", "reason": ""})
    assert response.status_code == 400 and "请填写原因" in _body(response)
    response = client.post(url, {"to": "cancelled", "reason": "困难已解决"})
    assert response.status_code == 302 and response["Location"] == reverse("my-applications")
    need.refresh_from_db()
    assert need.status == Need.Status.CANCELLED


# --- Discovery and verification ---------------------------------------------------------


def test_discovery_then_verify(login, world):
    client = login(world.users[Role.COMMUNITY_WORKER])
    data = {
        "community": world.community.pk,
        "head_name": "赵德明",
        "id_number": f.resident_id(date(1944, 2, 2)),
        "phone": "",
        "address": "",
        "situation": "独居，行动不便",
        "submission_key": str(uuid.uuid4()),
    }
    response = client.post(reverse("case-discover"), data)
    case = Case.objects.get(head_name="赵德明")
    assert response.status_code == 302 and case.status == Case.Status.CANDIDATE
    listing = _body(client.get(reverse("case-list"), {"status": "candidate"}))
    assert "赵德明" in listing and "核实期限" in listing and "逾期" not in listing
    Case.objects.filter(pk=case.pk).update(verify_deadline=timezone.now() - timedelta(hours=1))
    assert "逾期" in _body(client.get(reverse("case-list"), {"status": "candidate"}))
    # Reported twice: nothing new.
    again = client.post(reverse("case-discover"), {**data, "submission_key": str(uuid.uuid4())})
    assert again.status_code == 302 and Case.objects.filter(head_name="赵德明").count() == 1
    verify = reverse("case-verify", args=[case.pk])
    assert client.post(verify, {"confirmed": "yes", "note": ""}).status_code == 400
    case.refresh_from_db()
    assert case.status == Case.Status.CANDIDATE
    assert client.post(verify, {"confirmed": "yes", "note": "入户属实"}).status_code == 302
    case.refresh_from_db()
    assert (
        case.status == Case.Status.ACTIVE and case.verified_by == world.users[Role.COMMUNITY_WORKER]
    )


def test_discovery_bad_id_changes_nothing(login, world):
    client = login(world.users[Role.COMMUNITY_WORKER])
    before = _counts()
    response = client.post(
        reverse("case-discover"),
        {
            "community": world.community.pk,
            "head_name": "赵德明",
            "id_number": "12345",
            "situation": "独居",
        },
    )
    assert response.status_code == 400 and "身份证号码应为18位" in _body(response)
    assert _counts() == before


# --- Sensitive values -------------------------------------------------------------------


def test_reveal_writes_one_audit_row_and_shows_the_number_once(login, world):
    result = f.household(world)
    member = result.case.members.get()
    full = result.case.full_id
    client = login(world.users[Role.COMMUNITY_WORKER])
    detail = _body(client.get(reverse("case-detail", args=[result.case.pk])))
    assert full not in detail and member.id_masked in detail and "显示完整号码" in detail
    response = client.post(
        reverse("case-reveal", args=[result.case.pk]),
        {"field": "id_number", "member": member.pk, "reason": "核对低保申请材料"},
    )
    assert response.status_code == 200
    assert full in _body(response)
    assert "no-store" in response["Cache-Control"]
    access = SensitiveAccess.objects.get()
    assert (access.user, access.member, access.field) == (
        world.users[Role.COMMUNITY_WORKER],
        member,
        "id_number",
    )
    assert access.reason == "核对低保申请材料"
    # Not kept anywhere: the next page and the session do not carry it.
    assert full not in _body(client.get(reverse("case-detail", args=[result.case.pk])))
    assert all(full not in str(value) for value in client.session.values())


def test_reveal_phone(login, world):
    phone = f.phone()
    result = f.household(world, phone=phone)
    client = login(world.users[Role.STREET_OFFICIAL])
    response = client.post(
        reverse("case-reveal", args=[result.case.pk]), {"field": "phone", "reason": "电话回访"}
    )
    assert response.status_code == 200 and phone in _body(response)
    assert SensitiveAccess.objects.filter(field="phone").count() == 1


def test_reveal_needs_a_reason(login, world):
    result = f.household(world)
    client = login(world.users[Role.COMMUNITY_WORKER])
    response = client.post(
        reverse("case-reveal", args=[result.case.pk]), {"field": "phone", "reason": ""}
    )
    assert response.status_code == 400 and "请填写查看事由" in _body(response)
    assert SensitiveAccess.objects.count() == 0


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.DEPARTMENT_STAFF, *PROVIDERS])
def test_reveal_refused_to_auditors_departments_and_providers(login, world, role):
    result = f.household(world)
    Referral.objects.create(
        case=result.case,
        department=world.housing,
        reason="住房困难",
        sent_by=world.users[Role.COMMUNITY_WORKER],
        due_at=timezone.now() + timedelta(days=7),
    )
    client = login(world.users[role])
    if role in CASE_STAFF_ROLES:
        detail = client.get(reverse("case-detail", args=[result.case.pk]))
        assert detail.status_code == 200
        assert "显示完整号码" not in _body(detail)
    member = result.case.members.get()
    response = client.post(
        reverse("case-reveal", args=[result.case.pk]),
        {"field": "id_number", "member": member.pk, "reason": "查看"},
    )
    assert response.status_code == 403
    assert result.case.full_id not in _body(response)
    assert SensitiveAccess.objects.count() == 0


# --- Needs: lifecycle and countdown -----------------------------------------------------


def test_street_confirms_and_opens_then_providers_see_it_deidentified(login, world):
    result = f.household(world, head="孙桂芝")
    official = login(world.users[Role.STREET_OFFICIAL])
    url = reverse("need-transition", args=[result.need.pk])
    detail = _body(official.get(reverse("need-detail", args=[result.need.pk])))
    assert "改为“街道已确认”" in detail and "改为“未通过”" in detail
    assert official.post(url, {"to": "confirmed", "reason": "符合条件"}).status_code == 302
    response = official.post(
        url,
        {"to": "open", "reason": "", "public_description": "七旬老人独居，需每周探访两次"},
        follow=True,
    )
    assert "需求状态已改为“对接中”" in _body(response)
    history = _body(response)
    assert "jiedao" in history and "符合条件" in history
    need = Need.objects.get(pk=result.need.pk)
    assert need.status == Need.Status.OPEN
    assert need.public_description == "七旬老人独居，需每周探访两次"

    provider = login(world.users[Role.VOLUNTEER])
    for page in [
        provider.get(reverse("need-open-list")),
        provider.get(reverse("need-open-detail", args=[need.pk])),
    ]:
        body = _body(page)
        assert page.status_code == 200 and "七旬老人独居" in body
        member = result.case.members.get()
        for secret in ["孙桂芝", member.id_masked, result.case.phone_masked, result.case.full_id]:
            assert secret not in body
        assert reverse("case-detail", args=[result.case.pk]) not in body


def test_open_need_detail_hides_needs_not_open(login, world):
    result = f.household(world)
    response = login(world.users[Role.CHARITY_STAFF]).get(
        reverse("need-open-detail", args=[result.need.pk])
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("role", "data", "status", "message"),
    [
        (Role.STREET_OFFICIAL, {"to": "done"}, 409, "不能改为“已完成”"),
        (Role.STREET_OFFICIAL, {"to": "rejected", "reason": ""}, 400, "请填写原因"),
        (Role.STREET_OFFICIAL, {"to": "flying"}, 400, "未知的需求状态"),
        (Role.COMMUNITY_WORKER, {"to": "confirmed"}, 403, "无权访问"),
        (Role.AUDITOR, {"to": "confirmed"}, 403, "无权访问"),
    ],
)
def test_transition_not_allowed_changes_nothing(login, world, role, data, status, message):
    result = f.household(world)
    before = _counts()
    response = login(world.users[role]).post(
        reverse("need-transition", args=[result.need.pk]), data
    )
    assert response.status_code == status
    assert message in _body(response)
    assert _counts() == before
    assert Need.objects.get(pk=result.need.pk).status == Need.Status.SUBMITTED


def test_open_needs_a_public_description(login, world):
    result = f.household(world, description="")
    official = login(world.users[Role.STREET_OFFICIAL])
    url = reverse("need-transition", args=[result.need.pk])
    official.post(url, {"to": "confirmed"})
    response = official.post(url, {"to": "open", "public_description": "  "})
    assert response.status_code == 400
    assert "发布前须填写已脱敏的公开描述" in _body(response)
    assert Need.objects.get(pk=result.need.pk).status == Need.Status.CONFIRMED


def test_emergency_countdown_and_escalation_label(login, world):
    result = f.household(world, urgency=Need.Urgency.EMERGENCY)
    client = login(world.users[Role.STREET_OFFICIAL])
    body = _body(client.get(reverse("need-list")))
    assert "剩余 2" in body and "小时" in body  # 24 hours, less a moment
    Need.objects.filter(pk=result.need.pk).update(
        response_deadline=timezone.now() - timedelta(hours=3), escalation_level=1
    )
    response = client.get(reverse("need-list"), {"overdue": "true"})
    body = _body(response)
    assert [n.pk for n in response.context["page"].object_list] == [result.need.pk]
    assert "已超期 3" in body and "已督办至街道" in body and 'class="overdue"' in body


def test_add_need_to_case(login, world):
    result = f.household(world)
    client = login(world.users[Role.COMMUNITY_WORKER])
    url = reverse("need-create", args=[result.case.pk])
    data = {
        "kind": "goods",
        "service_type": _service("care").pk,
        "quantity": "",
        "urgency": "normal",
        "window_start": TODAY.isoformat(),
        "window_end": TODAY.isoformat(),
        "submit": "on",
        "submission_key": str(uuid.uuid4()),
    }
    before = _counts()
    response = client.post(url, data)
    assert response.status_code == 400 and "实物需求须填写数量" in _body(response)
    assert _counts() == before
    response = client.post(url, {**data, "quantity": "2"})
    assert response.status_code == 302
    assert result.case.needs.count() == 2
    assert client.post(url, {**data, "quantity": "2"}).status_code == 302
    assert result.case.needs.count() == 2  # same submission key
    assert login(world.users[Role.AUDITOR]).get(url).status_code == 403


# --- Referrals --------------------------------------------------------------------------


def test_referral_loop(login, world):
    result = f.household(world)
    worker = login(world.users[Role.COMMUNITY_WORKER])
    url = reverse("referral-create", args=[result.case.pk])
    bad = worker.post(url, {"department": world.audit_dept.pk, "reason": "x"})
    assert bad.status_code == 400 and "选择一个有效的选项" in _body(bad)
    assert Referral.objects.count() == 0
    assert worker.post(url, {"department": world.housing.pk, "reason": "危房"}).status_code == 302
    referral = Referral.objects.get()

    worker_list = _body(worker.get(reverse("referral-list")))
    assert "王秀兰户" in worker_list and "办结或退回" not in worker_list  # only the department acts

    staff = login(world.users[Role.DEPARTMENT_STAFF])
    listing = _body(staff.get(reverse("referral-list")))
    assert "王秀兰户" in listing and "办结或退回" in listing
    assert staff.post(reverse("referral-action", args=[referral.pk, "accept"])).status_code == 302
    again = staff.post(reverse("referral-action", args=[referral.pk, "accept"]))
    assert again.status_code == 409 and "该转介当前状态下不能执行此操作" in _body(again)
    no_outcome = staff.post(reverse("referral-action", args=[referral.pk, "complete"]))
    assert no_outcome.status_code == 400 and "请填写办理结果或退回原因" in _body(no_outcome)
    referral.refresh_from_db()
    assert referral.status == Referral.Status.ACCEPTED
    done = staff.post(
        reverse("referral-action", args=[referral.pk, "complete"]), {"outcome": "已纳入公租房"}
    )
    assert done.status_code == 302
    assert staff.post(reverse("referral-action", args=[referral.pk, "fly"])).status_code == 404

    worker = login(world.users[Role.COMMUNITY_WORKER])
    case_page = _body(worker.get(result.case.get_absolute_url()))
    assert "已办结" in case_page and "已纳入公租房" in case_page
    assert "已办结" in _body(worker.get(reverse("referral-list")))


def test_referral_overdue_flag(login, world):
    result = f.household(world)
    Referral.objects.create(
        case=result.case,
        department=world.housing,
        reason="住房困难",
        sent_by=world.users[Role.COMMUNITY_WORKER],
        due_at=timezone.now() - timedelta(days=1),
    )
    response = login(world.users[Role.DEPARTMENT_STAFF]).get(
        reverse("referral-list"), {"overdue": "true"}
    )
    assert len(response.context["page"].object_list) == 1 and "超期" in _body(response)


# --- Warnings ---------------------------------------------------------------------------


def test_warning_worklist_and_verify(login, world):
    result = f.household(world)
    warning = Warning.objects.create(case=result.case, rule="disability", detail="家有残疾人")
    client = login(world.users[Role.COMMUNITY_WORKER])
    response = client.get(reverse("warning-list"))
    assert [w.pk for w in response.context["page"].object_list] == [warning.pk]
    url = reverse("warning-verify", args=[warning.pk])
    assert client.post(url, {"confirmed": "yes", "note": ""}).status_code == 400
    warning.refresh_from_db()
    assert warning.status == Warning.Status.OPEN
    assert client.post(url, {"confirmed": "no", "note": "已入户，情况已改善"}).status_code == 302
    warning.refresh_from_db()
    assert warning.status == Warning.Status.DISMISSED
    # The default view lists open ones only; the verified one shows under its status.
    assert list(client.get(reverse("warning-list")).context["page"].object_list) == []
    dismissed = client.get(reverse("warning-list"), {"status": "dismissed"})
    assert len(dismissed.context["page"].object_list) == 1
    again = client.post(url, {"confirmed": "yes", "note": "再次核实"})
    assert again.status_code == 409 and "该预警已核实" in _body(again)
    # Auditors read the worklist but may not verify.
    auditor = login(world.users[Role.AUDITOR])
    assert auditor.get(reverse("warning-list")).status_code == 200
    w2 = Warning.objects.create(case=result.case, rule="elderly_alone", detail="独居老人")
    assert (
        auditor.post(
            reverse("warning-verify", args=[w2.pk]), {"confirmed": "yes", "note": "x"}
        ).status_code
        == 403
    )


# --- Workbench --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "expected", "absent"),
    [
        (
            Role.COMMUNITY_WORKER,
            ["一门受理登记", "主动发现上报", "待核实家庭", "监测预警待核实"],
            ["待确认需求"],
        ),
        (Role.STREET_OFFICIAL, ["待确认需求", "急难超期未响应", "一门受理登记"], ["在线申请"]),
        (Role.DEPARTMENT_STAFF, ["收到的转介（待办）"], ["待确认需求", "主动发现上报"]),
        (Role.APPLICANT, ["在线申请", "我的申请"], ["一门受理登记", "待对接需求"]),
        (Role.VOLUNTEER, ["待对接需求"], ["一门受理登记", "在线申请"]),
    ],
)
def test_workbench_links_by_role(login, world, role, expected, absent):
    f.household(world)
    body = _body(login(world.users[role]).get(reverse("workbench")))
    for text in expected:
        assert text in body
    for text in absent:
        assert text not in body


def test_workbench_counts_needs_to_confirm(login, world):
    f.household(world)
    f.household(world, community=world.community2)
    response = login(world.users[Role.STREET_OFFICIAL]).get(reverse("workbench"))
    assert response.context["counts"]["to_confirm"] == 1
    assert response.context["counts"]["overdue"] == 0


# --- Query counts and exports -----------------------------------------------------------


def _queries(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url, params or {}).status_code == 200
    return len(ctx)


def _many(world, n, *, start=0):
    """n households at the window (each with a warning and a referral) and n online
    applications."""
    out = []
    for i in range(start, start + n):
        result = f.household(world, head=f"住户{i}", urgency=Need.Urgency.EMERGENCY)
        Warning.objects.create(case=result.case, rule="disability", detail="家有残疾人")
        Referral.objects.create(
            case=result.case,
            department=world.housing,
            reason="住房困难",
            sent_by=world.users[Role.COMMUNITY_WORKER],
            due_at=timezone.now() + timedelta(days=7),
        )
        case_apply_online(
            applicant=world.users[Role.APPLICANT],
            id_number=f.resident_id(date(1980, 1, 1)),
            phone=f.phone(),
            community=world.community,
            difficulty="生活困难",
            kind=Need.Kind.SERVICE,
            service_type=_service(),
            finance_check_consent=True,
        )
        out.append(result)
    return out


PAGES_BY_ROLE = [
    ("case-list", Role.COMMUNITY_WORKER),
    ("case-list", Role.AUDITOR),
    ("need-list", Role.STREET_OFFICIAL),
    ("need-open-list", Role.VOLUNTEER),
    ("referral-list", Role.DEPARTMENT_STAFF),
    ("warning-list", Role.COMMUNITY_WORKER),
    ("my-applications", Role.APPLICANT),
]


@pytest.mark.parametrize(("name", "role"), PAGES_BY_ROLE)
def test_list_query_count_is_constant(login, world, name, role):
    """3 rows and 13 rows cost the same number of queries."""
    client = login(world.users[role])
    url = reverse(name)
    _many(world, 3)
    if name == "need-open-list":
        Need.objects.update(status=Need.Status.OPEN)
    small = _queries(client, url)
    _many(world, 10, start=3)
    if name == "need-open-list":
        Need.objects.update(status=Need.Status.OPEN)
    response = client.get(url)
    rows = response.context["page"].object_list if "page" in response.context else None
    assert len(rows if rows is not None else response.context["needs"]) >= 13
    assert _queries(client, url) == small
    assert small <= 12


def _cells(response) -> list[str]:
    book = load_workbook(io.BytesIO(response.content), read_only=True)
    return [
        "" if value is None else str(value)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
        for value in row
    ]


def test_case_export_has_masked_ids_only(login, world):
    results = _many(world, 3)
    client = login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    response = client.get(reverse("case-export"), {"community": world.community.pk})
    assert response.status_code == 200
    assert response["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    cells = _cells(response)
    assert "户主身份证号码" in cells
    for result in results:
        member = result.case.members.get()
        assert member.id_masked in cells and "*" in member.id_masked
        assert result.case.phone_masked in cells
        assert not any(result.case.full_id in c for c in cells)
        assert not any(result.case.full_phone in c for c in cells)


def test_export_respects_filter_and_scope(login, world):
    f.household(world, head="本社区户")
    f.household(world, community=world.community2, head="外街道户")
    worker = login(world.users[Role.COMMUNITY_WORKER])
    cells = _cells(worker.get(reverse("case-export")))
    assert "本社区户" in cells and "外街道户" not in cells
    cells = _cells(worker.get(reverse("need-export")))
    assert "本社区户" in cells and "外街道户" not in cells
    assert worker.get(reverse("case-export"), {"street": "999999"}).status_code == 400


def test_need_export_has_masked_phones_only(login, world):
    phone = f.phone()
    result = f.household(world, phone=phone)
    cells = _cells(login(world.users[Role.AUDITOR]).get(reverse("need-export")))
    assert "户主姓名" in cells and "王秀兰" in cells
    assert result.case.phone_masked in cells
    assert not any(phone in c for c in cells)
    assert not any(result.case.full_id in c for c in cells)


def test_export_neutralises_formulas(login, world):
    f.household(world, head="=HYPERLINK(1)")
    cells = _cells(login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL]).get(reverse("case-export")))
    assert "'=HYPERLINK(1)" in cells and "=HYPERLINK(1)" not in cells
