"""The REST API of cases, needs, intake, referrals, warnings and the audited reveal. Each
endpoint is tried by the role it serves, refused to the others (other street, other
community, providers, auditors), fed bad input, searched for full ID numbers and phones, and
counted for queries."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

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
from marketplace.services import (
    case_apply_online,
    need_transition,
)
from tests import factories as f

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
PROVIDERS = [Role.CHARITY_STAFF, Role.AGENCY_STAFF, Role.SOCIAL_WORKER, Role.VOLUNTEER]
CHINESE = re.compile(r"[\u4e00-\u9fff]")
SECRET_KEYS = ("id_cipher", "id_hash", "phone_cipher", "phone_hash", "id_number")


# --- Builders ---------------------------------------------------------------------------


def _service(code="visiting") -> ServiceType:
    return ServiceType.objects.get(code=code)


def _bad_check(number: str) -> str:
    """The same number with a wrong check character."""
    return number[:17] + ("0" if number[17] != "0" else "1")


def _impossible_birth_date() -> str:
    """A number whose check character is right but whose birth date (30 Feb) does not exist."""
    from marketplace.validators import resident_id_check_char

    first17 = "34010219990230001"
    return first17 + resident_id_check_char(first17)


def _referral(world, case, *, department=None) -> Referral:
    return Referral.objects.create(
        case=case,
        department=department or world.housing,
        reason="住房困难",
        sent_by=world.users[Role.COMMUNITY_WORKER],
        due_at=timezone.now() + timedelta(days=7),
    )


def _window(world, *, members=None, need=None, **overrides) -> dict:
    data = {
        "community": world.community.pk,
        "address": "明光路88号",
        "phone": f.phone(),
        "income_per_capita": "500",
        "situation": "因病致贫",
        "sensitive_consent_by": "李桂兰",
        "members": [
            {
                "name": "李桂兰",
                "id_number": f.resident_id(date(1950, 3, 1)),
                "relationship": "head",
            }
        ]
        if members is None
        else members,
        "need": {
            "kind": Need.Kind.SERVICE,
            "service_type": _service().pk,
            "urgency": Need.Urgency.NORMAL,
            "window_start": TODAY.isoformat(),
            "window_end": (TODAY + timedelta(days=30)).isoformat(),
            "team": {"social_worker": 1, "volunteer": 2},
            "public_description": "老人行动不便，需要助餐助洁",
            **(need or {}),
        },
        "submission_key": str(uuid.uuid4()),
    }
    data.update(overrides)
    return data


def _apply(world, **overrides) -> dict:
    data = {
        "id_number": f.resident_id(date(1982, 11, 9)),
        "phone": f.phone(),
        "community": world.community.pk,
        "kind": Need.Kind.FUNDS,
        "service_type": _service("temporary_emergency").pk,
        "amount": "2000",
        "urgency": Need.Urgency.URGENT,
        "difficulty": "丈夫住院，家里没有收入",
        "finance_check_consent": "true",
        "submission_key": str(uuid.uuid4()),
    }
    data.update(overrides)
    return data


OUTSIDERS = {"street_official2", "community_worker2"}


def _user(world, who):
    """A user by role, or one of the outsiders: the other street's official, the other
    community's worker."""
    return getattr(world, who) if who in OUTSIDERS else world.users[who]


def _post(client, url, data=None):
    return client.post(url, data or {}, content_type="application/json")


def _counts():
    return (
        Case.objects.count(),
        CaseMember.objects.count(),
        Need.objects.count(),
        NeedTransition.objects.count(),
        Consent.objects.count(),
        Referral.objects.count(),
        SensitiveAccess.objects.count(),
    )


def _text(response) -> str:
    return response.content.decode()


def _ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


def _assert_no_secrets(response, *cases):
    """No full ID number or phone of these households, and no cipher or hash column."""
    body = _text(response)
    for case in cases:
        assert case.full_id not in body
        assert case.full_phone not in body
    for key in SECRET_KEYS:
        assert f'"{key}"' not in body


# --- Cases: list and detail -------------------------------------------------------------


def test_case_list_and_detail_show_masked_values_only(login, world):
    result = f.household(world)
    member = result.case.members.get()
    client = login(world.users[Role.COMMUNITY_WORKER])
    listing = client.get("/api/cases/")
    assert listing.status_code == 200
    row = listing.json()["results"][0]
    assert row["head_name"] == "王秀兰" and row["head_id_masked"] == member.id_masked
    assert row["phone_masked"] == result.case.phone_masked and "*" in row["phone_masked"]
    _assert_no_secrets(listing, result.case)

    detail = client.get(f"/api/cases/{result.case.pk}/")
    assert detail.status_code == 200
    body = detail.json()
    assert body["members"][0]["id_masked"] == member.id_masked
    assert "birth_date" not in body["members"][0]  # with the masked ID it would complete it
    assert body["may_reveal"] is True
    assert [n["status"] for n in body["needs"]] == [Need.Status.SUBMITTED]
    assert {c["kind"] for c in body["consents"]} == {Consent.Kind.SENSITIVE_INFO}
    _assert_no_secrets(detail, result.case)


def test_case_list_filters(login, world):
    mine = f.household(world)
    f.household(world, head="张三", community=world.community2)
    client = login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    assert len(_ids(client.get("/api/cases/"))) == 2
    assert _ids(client.get("/api/cases/", {"community": world.community.pk})) == [mine.case.pk]
    assert _ids(client.get("/api/cases/", {"q": "秀兰"})) == [mine.case.pk]
    assert _ids(client.get("/api/cases/", {"status": "candidate"})) == []
    bad = client.get("/api/cases/", {"status": "flying"})
    assert bad.status_code == 400 and "status" in bad.json()


def test_case_scope_other_street_and_other_community(login, world):
    result = f.household(world)
    url = f"/api/cases/{result.case.pk}/"
    for outsider in (world.street_official2, world.community_worker2, world.health_staff):
        client = login(outsider)
        assert client.get("/api/cases/").json()["count"] == 0
        assert client.get(url).status_code == 404


@pytest.mark.parametrize("role", PROVIDERS)
def test_providers_see_no_case(login, world, role):
    result = f.household(world)
    client = login(world.users[role])
    listing = client.get("/api/cases/")
    assert listing.status_code == 200 and listing.json()["count"] == 0
    detail = client.get(f"/api/cases/{result.case.pk}/")
    assert detail.status_code == 404
    assert "王秀兰" not in _text(listing) + _text(detail)


def test_applicant_sees_only_own_case_as_summary(login, world):
    other = f.household(world)
    applicant = world.users[Role.APPLICANT]
    own = case_apply_online(
        applicant=applicant,
        id_number=f.resident_id(date(1980, 1, 1)),
        phone=f.phone(),
        community=world.community,
        difficulty="生活困难",
        kind=Need.Kind.SERVICE,
        service_type=_service(),
        finance_check_consent=True,
    )
    client = login(applicant)
    assert _ids(client.get("/api/cases/")) == [own.case.pk]
    detail = client.get(f"/api/cases/{own.case.pk}/")
    assert detail.status_code == 200 and "situation" not in detail.json()
    assert client.get(f"/api/cases/{other.case.pk}/").status_code == 404


def test_auditor_reads_masked_but_may_not_reveal(login, world):
    result = f.household(world)
    client = login(world.users[Role.AUDITOR])
    assert _ids(client.get("/api/cases/")) == [result.case.pk]
    detail = client.get(f"/api/cases/{result.case.pk}/")
    assert detail.status_code == 200 and detail.json()["may_reveal"] is False
    _assert_no_secrets(detail, result.case)


def test_department_sees_referred_cases_only(login, world):
    referred = f.household(world)
    f.household(world, head="张三")
    _referral(world, referred.case)
    client = login(world.users[Role.DEPARTMENT_STAFF])
    assert _ids(client.get("/api/cases/")) == [referred.case.pk]
    assert login(world.health_staff).get("/api/cases/").json()["count"] == 0


def test_anonymous_is_refused(client, world):
    for url in ["/api/cases/", "/api/needs/", "/api/open-needs/", "/api/warnings/"]:
        response = client.get(url)
        assert response.status_code == 403 and CHINESE.search(response.json()["detail"])


# --- Street window (一门受理) ------------------------------------------------------------


def test_window_registers_household_member_and_need(login, world):
    client = login(world.users[Role.COMMUNITY_WORKER])
    data = _window(world)
    before = _counts()
    response = _post(client, "/api/cases/", data)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["linked"] is False and body["detail"] == "已登记，需求已提交街道审核。"
    case = Case.objects.get(pk=body["case"]["id"])
    assert case.head_name == "李桂兰" and case.channel == Channel.WINDOW
    assert case.category == "dibao"  # 500 < the 800 standard
    need = case.needs.get()
    assert body["need"]["id"] == need.pk and need.status == Need.Status.SUBMITTED
    assert need.team == {"social_worker": 1, "volunteer": 2}
    assert _counts()[:3] == (before[0] + 1, before[1] + 1, before[2] + 1)
    case.full_id, case.full_phone = data["members"][0]["id_number"], data["phone"]
    _assert_no_secrets(response, case)


def test_department_registration_becomes_a_referral_case(login, world):
    response = _post(login(world.users[Role.DEPARTMENT_STAFF]), "/api/cases/", _window(world))
    assert response.status_code == 201
    case = Case.objects.get(pk=response.json()["case"]["id"])
    assert case.channel == Channel.REFERRAL and case.referred_by == world.housing


def test_household_on_file_is_linked_with_200(login, world):
    existing = f.household(world)
    client = login(world.users[Role.COMMUNITY_WORKER])
    members = [{"name": "王秀兰", "id_number": existing.case.full_id, "relationship": "head"}]
    cases = Case.objects.count()
    response = _post(client, "/api/cases/", _window(world, members=members))
    assert response.status_code == 200
    body = response.json()
    assert body["linked"] is True and body["case"]["id"] == existing.case.pk
    assert "该家庭已在册（明光路社区）" in body["detail"]
    assert Case.objects.count() == cases and existing.case.needs.count() == 2


def test_household_on_file_elsewhere_is_linked_but_not_shown(login, world):
    """A worker of another community learns the household is on file, not who it is."""
    existing = f.household(world)
    client = login(world.community_worker2)
    members = [{"name": "王秀兰", "id_number": existing.case.full_id, "relationship": "head"}]
    response = _post(
        client, "/api/cases/", _window(world, members=members, community=world.community2.pk)
    )
    assert response.status_code == 200
    body = response.json()
    assert body["linked"] is True and body["case"] is None and body["need"] is None
    assert "王秀兰" not in _text(response)
    _assert_no_secrets(response, existing.case)


def test_same_submission_key_twice_creates_nothing_the_second_time(login, world):
    client = login(world.users[Role.COMMUNITY_WORKER])
    data = _window(world)
    assert _post(client, "/api/cases/", data).status_code == 201
    after_first = _counts()
    again = _post(client, "/api/cases/", data)
    assert again.status_code == 400
    assert again.json()["code"] == "duplicate_submission"
    assert "该表单已提交过" in again.json()["detail"]
    assert _counts() == after_first


def _window_case(world, case_id):
    """Overrides for one bad-input case of the window form."""
    head = {"name": "李桂兰", "relationship": "head"}
    cases = {
        "bad_check": ({"members": [{**head, "id_number": _bad_check(f.resident_id())}]}, None),
        "birth_date": ({"members": [{**head, "id_number": _impossible_birth_date()}]}, None),
        "negative_income": ({"income_per_capita": "-1"}, "income_per_capita"),
        "unknown_community": ({"community": 999999}, "community"),
        "street_as_community": ({"community": world.street.pk}, "community"),
        "team_list": ({"need": {"team": ["volunteer"]}}, "need"),
        "team_role": ({"need": {"team": {"cook": 1}}}, "team"),
        "team_count": ({"need": {"team": {"volunteer": 0}}}, "need"),
        "no_consent": ({"sensitive_consent_by": " "}, "sensitive_consent_by"),
        "bad_phone": ({"phone": "12345"}, None),
        "no_members": ({"members": []}, "members"),
        "funds_without_amount": ({"need": {"kind": "funds"}}, "amount"),
        "window_reversed": (
            {"need": {"window_end": (TODAY - timedelta(days=1)).isoformat()}},
            "window_end",
        ),
    }
    overrides, field = cases[case_id]
    if "need" in overrides:
        overrides = {**overrides}
        need = overrides.pop("need")
        return _window(world, need=need, **overrides), field
    return _window(world, **overrides), field


@pytest.mark.parametrize(
    ("case_id", "message"),
    [
        ("bad_check", "身份证号码校验位错误"),
        ("birth_date", "身份证号码中的出生日期不存在"),
        ("negative_income", None),
        ("unknown_community", None),
        ("street_as_community", None),
        ("team_list", None),
        ("team_role", "未知的团队角色：cook"),
        ("team_count", None),
        ("no_consent", "请记录申请人同意处理其敏感个人信息"),
        ("bad_phone", "请输入11位手机号码"),
        ("no_members", None),
        ("funds_without_amount", "资金需求须填写金额"),
        ("window_reversed", "结束日期不能早于开始日期"),
    ],
)
def test_window_bad_input_is_400_in_chinese_and_changes_nothing(login, world, case_id, message):
    client = login(world.users[Role.COMMUNITY_WORKER])
    data, field = _window_case(world, case_id)
    before = _counts()
    response = _post(client, "/api/cases/", data)
    assert response.status_code == 400, response.content
    body = _text(response)
    assert CHINESE.search(body)
    if message:
        assert message in body
    if field:
        assert field in body
    assert _counts() == before


def test_child_without_guardian_is_refused_and_nothing_remains(login, world):
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
    response = _post(client, "/api/cases/", _window(world, members=members))
    assert response.status_code == 400 and "须记录监护人同意" in _text(response)
    assert _counts() == before
    response = _post(client, "/api/cases/", _window(world, members=members, guardian_name="李桂兰"))
    assert response.status_code == 201
    assert Consent.objects.filter(kind=Consent.Kind.GUARDIAN).count() == 1


@pytest.mark.parametrize(
    "who", ["auditor", "applicant", *PROVIDERS, "street_official2", "community_worker2"]
)
def test_window_refused(login, world, who):
    user = _user(world, who)
    before = _counts()
    response = _post(login(user), "/api/cases/", _window(world))
    assert response.status_code == 403
    assert CHINESE.search(response.json()["detail"])
    assert _counts() == before


# --- Discovery and verification ---------------------------------------------------------


def _discovery(world, **overrides):
    data = {
        "community": world.community.pk,
        "head_name": "赵德明",
        "id_number": f.resident_id(date(1944, 2, 2)),
        "situation": "独居，行动不便",
        "submission_key": str(uuid.uuid4()),
    }
    data.update(overrides)
    return data


def test_discovery_then_verify(login, world):
    client = login(world.users[Role.COMMUNITY_WORKER])
    data = _discovery(world)
    response = _post(client, "/api/cases/discover/", data)
    assert response.status_code == 201
    body = response.json()
    assert body["linked"] is False and body["case"]["status"] == Case.Status.CANDIDATE
    case = Case.objects.get(pk=body["case"]["id"])
    again = _post(client, "/api/cases/discover/", {**data, "submission_key": str(uuid.uuid4())})
    assert again.status_code == 200 and again.json()["linked"] is True
    assert Case.objects.filter(head_name="赵德明").count() == 1

    url = f"/api/cases/{case.pk}/verify/"
    no_note = _post(client, url, {"confirmed": True, "note": ""})
    assert no_note.status_code == 400 and "请填写核实情况" in _text(no_note)
    case.refresh_from_db()
    assert case.status == Case.Status.CANDIDATE
    assert (
        _post(login(world.users[Role.AUDITOR]), url, {"confirmed": True, "note": "x"}).status_code
        == 403
    )
    assert (
        _post(login(world.community_worker2), url, {"confirmed": True, "note": "x"}).status_code
        == 404
    )
    assert (
        _post(login(world.street_official2), url, {"confirmed": True, "note": "x"}).status_code
        == 404
    )
    client = login(world.users[Role.COMMUNITY_WORKER])
    done = _post(client, url, {"confirmed": True, "note": "入户属实"})
    assert done.status_code == 200 and done.json()["status"] == Case.Status.ACTIVE
    twice = _post(client, url, {"confirmed": False, "note": "再次核实"})
    assert twice.status_code == 409 and "不在待核实状态" in twice.json()["detail"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"id_number": "12345"}, "身份证号码应为18位"),
        ({"situation": ""}, "请说明发现的困难情况"),
        ({"community": 999999}, None),
    ],
)
def test_discovery_bad_input_changes_nothing(login, world, overrides, message):
    client = login(world.users[Role.COMMUNITY_WORKER])
    before = _counts()
    response = _post(client, "/api/cases/discover/", _discovery(world, **overrides))
    assert response.status_code == 400 and CHINESE.search(_text(response))
    if message:
        assert message in _text(response)
    assert _counts() == before


@pytest.mark.parametrize("role", [Role.AUDITOR, Role.DEPARTMENT_STAFF, Role.APPLICANT, *PROVIDERS])
def test_discovery_refused(login, world, role):
    before = _counts()
    response = _post(login(world.users[role]), "/api/cases/discover/", _discovery(world))
    assert response.status_code == 403 and _counts() == before


# --- Sensitive reveal -------------------------------------------------------------------


def test_reveal_id_number_writes_one_audit_row(login, world):
    result = f.household(world)
    member = result.case.members.get()
    client = login(world.users[Role.COMMUNITY_WORKER])
    response = _post(
        client,
        f"/api/cases/{result.case.pk}/reveal/",
        {"field": "id_number", "member": member.pk, "reason": "核对低保申请材料"},
    )
    assert response.status_code == 200
    assert response.json() == {"value": result.case.full_id}
    assert "no-store" in response["Cache-Control"]
    access = SensitiveAccess.objects.get()
    assert (access.user, access.member, access.field, access.reason) == (
        world.users[Role.COMMUNITY_WORKER],
        member,
        "id_number",
        "核对低保申请材料",
    )
    # Not carried by the next response.
    _assert_no_secrets(client.get(f"/api/cases/{result.case.pk}/"), result.case)


def test_reveal_phone_by_street_official(login, world):
    result = f.household(world)
    response = _post(
        login(world.users[Role.STREET_OFFICIAL]),
        f"/api/cases/{result.case.pk}/reveal/",
        {"field": "phone", "reason": "电话回访"},
    )
    assert response.status_code == 200 and response.json()["value"] == result.case.full_phone
    assert SensitiveAccess.objects.filter(field="phone").count() == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"field": "phone", "reason": ""}, "请填写查看事由"),
        ({"field": "id_number", "reason": "核对"}, "请选择本户的家庭成员"),
        ({"field": "id_number", "member": "other", "reason": "核对"}, "请选择本户的家庭成员"),
        ({"field": "address", "reason": "核对"}, None),
    ],
)
def test_reveal_bad_input_writes_nothing(login, world, data, message):
    result = f.household(world)
    other = f.household(world, head="张三")
    if data.get("member") == "other":
        data = {**data, "member": other.case.members.get().pk}
    response = _post(
        login(world.users[Role.COMMUNITY_WORKER]), f"/api/cases/{result.case.pk}/reveal/", data
    )
    assert response.status_code == 400 and CHINESE.search(_text(response))
    if message:
        assert message in _text(response)
    assert SensitiveAccess.objects.count() == 0
    _assert_no_secrets(response, result.case, other.case)


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (Role.AUDITOR, 403),
        (Role.DEPARTMENT_STAFF, 403),
        (Role.APPLICANT, 403),
        *[(role, 403) for role in PROVIDERS],
        ("street_official2", 404),
        ("community_worker2", 404),
    ],
)
def test_reveal_refused(login, world, who, status):
    result = f.household(world)
    _referral(world, result.case)
    user = _user(world, who)
    client = login(user)
    member = result.case.members.get()
    response = _post(
        client,
        f"/api/cases/{result.case.pk}/reveal/",
        {"field": "id_number", "member": member.pk, "reason": "查看"},
    )
    assert response.status_code == status
    assert SensitiveAccess.objects.count() == 0
    _assert_no_secrets(response, result.case)


# --- Online applications (掌上办) --------------------------------------------------------


def test_applicant_applies_with_letter_and_lists_own(login, world, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    client = login(world.users[Role.APPLICANT])
    letter = SimpleUploadedFile(
        "授权书.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
    )
    data = _apply(world, letter=letter)
    response = client.post("/api/applications/", data)  # multipart
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["linked"] is False and body["application"]["status"] == Need.Status.SUBMITTED
    need = Need.objects.get(pk=body["application"]["id"])
    assert need.channel == Channel.ONLINE and need.case.applicant == world.users[Role.APPLICANT]
    consent = Consent.objects.get(case=need.case, kind=Consent.Kind.FINANCE_CHECK)
    assert consent.letter.name.endswith(".pdf")

    other = f.user("shenqing2", Role.APPLICANT)
    _post(login(other), "/api/applications/", _apply(world, kind="service", amount=None))
    need_transition(need=need, to=Need.Status.CONFIRMED, by=world.users[Role.STREET_OFFICIAL])
    listing = login(world.users[Role.APPLICANT]).get("/api/applications/")
    assert _ids(listing) == [need.pk]
    row = listing.json()["results"][0]
    assert row["status"] == Need.Status.CONFIRMED and row["status_display"] == "街道已确认"
    assert [t["to_status"] for t in row["transitions"]] == ["draft", "submitted", "confirmed"]
    assert row["cancellable"] is False
    assert data["id_number"] not in _text(listing) and data["phone"] not in _text(listing)


def test_applicant_household_on_file_is_linked(login, world):
    existing = f.household(world)
    client = login(world.users[Role.APPLICANT])
    cases = Case.objects.count()
    response = _post(client, "/api/applications/", _apply(world, id_number=existing.case.full_id))
    assert response.status_code == 201 and response.json()["linked"] is True
    assert "您的家庭已在册（明光路社区）" in response.json()["detail"]
    assert Case.objects.count() == cases
    _assert_no_secrets(response, existing.case)


def _letter(kind):
    if kind == "big":
        return SimpleUploadedFile("big.pdf", b"%PDF-1.4\n" + b"0" * (5 * 1024 * 1024))
    return SimpleUploadedFile("letter.pdf", b"this is plain text, not a scan")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"id_number": "bad_check"}, "身份证号码校验位错误"),
        ({"id_number": "birth_date"}, "身份证号码中的出生日期不存在"),
        ({"finance_check_consent": "false"}, "须授权核对家庭经济状况"),
        ({"amount": ""}, "资金需求须填写金额"),
        ({"community": "999999"}, None),
        ({"community": "district"}, None),
        ({"letter": "big"}, "文件过大：最大5 MB"),
        ({"letter": "text"}, "只接受 PDF、JPG 或 PNG 格式的扫描件"),
    ],
)
def test_apply_bad_input_changes_nothing(login, world, settings, tmp_path, overrides, message):
    settings.MEDIA_ROOT = str(tmp_path)
    overrides = dict(overrides)
    if overrides.get("community") == "district":
        overrides["community"] = world.district.pk
    if overrides.get("id_number") == "bad_check":
        overrides["id_number"] = _bad_check(f.resident_id())
    if overrides.get("id_number") == "birth_date":
        overrides["id_number"] = _impossible_birth_date()
    if "letter" in overrides:
        overrides["letter"] = _letter(overrides["letter"])
    client = login(world.users[Role.APPLICANT])
    before = _counts()
    response = client.post("/api/applications/", _apply(world, **overrides))
    assert response.status_code == 400, response.content
    assert CHINESE.search(_text(response))
    if message:
        assert message in _text(response)
    assert _counts() == before
    assert list(tmp_path.iterdir()) == []


def test_apply_same_submission_key_twice_creates_nothing(login, world):
    client = login(world.users[Role.APPLICANT])
    data = _apply(world)
    assert _post(client, "/api/applications/", data).status_code == 201
    after_first = _counts()
    again = _post(client, "/api/applications/", data)
    assert again.status_code == 400 and again.json()["code"] == "duplicate_submission"
    assert _counts() == after_first


@pytest.mark.parametrize(
    "role", [Role.COMMUNITY_WORKER, Role.STREET_OFFICIAL, Role.AUDITOR, *PROVIDERS]
)
def test_applications_are_for_applicants_only(login, world, role):
    client = login(world.users[role])
    assert client.get("/api/applications/").status_code == 403
    before = _counts()
    assert _post(client, "/api/applications/", _apply(world)).status_code == 403
    assert _counts() == before


# --- Needs ------------------------------------------------------------------------------


def test_need_list_filters_and_detail(login, world):
    normal = f.household(world)
    emergency = f.household(world, head="张三", urgency=Need.Urgency.EMERGENCY)
    client = login(world.users[Role.STREET_OFFICIAL])
    assert set(_ids(client.get("/api/needs/"))) == {normal.need.pk, emergency.need.pk}
    assert _ids(client.get("/api/needs/", {"urgency": "emergency"})) == [emergency.need.pk]
    Need.objects.filter(pk=emergency.need.pk).update(
        response_deadline=timezone.now() - timedelta(hours=1)
    )
    overdue = client.get("/api/needs/", {"overdue": "true"})
    assert _ids(overdue) == [emergency.need.pk] and overdue.json()["results"][0]["overdue"]
    assert client.get("/api/needs/", {"urgency": "panic"}).status_code == 400

    detail = client.get(f"/api/needs/{normal.need.pk}/")
    assert detail.status_code == 200
    body = detail.json()
    assert body["case_label"] == "王秀兰户"
    assert set(body["allowed_transitions"]) == {"confirmed", "rejected", "cancelled"}
    assert [t["to_status"] for t in body["transitions"]] == ["draft", "submitted"]
    _assert_no_secrets(detail, normal.case)


@pytest.mark.parametrize("who", ["street_official2", "community_worker2", "applicant", *PROVIDERS])
def test_need_list_and_detail_refused(login, world, who):
    result = f.household(world)
    user = _user(world, who)
    client = login(user)
    assert client.get("/api/needs/").json()["count"] == 0
    assert client.get(f"/api/needs/{result.need.pk}/").status_code == 404


def test_street_confirms_and_opens(login, world):
    result = f.household(world)
    client = login(world.users[Role.STREET_OFFICIAL])
    url = f"/api/needs/{result.need.pk}/transition/"
    confirmed = _post(client, url, {"to": "confirmed", "reason": "符合条件"})
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    opened = _post(client, url, {"to": "open", "public_description": "七旬老人独居，需每周探访"})
    assert opened.status_code == 200
    need = Need.objects.get(pk=result.need.pk)
    assert need.status == Need.Status.OPEN
    assert need.public_description == "七旬老人独居，需每周探访"


@pytest.mark.parametrize(
    ("who", "data", "status", "message"),
    [
        (Role.STREET_OFFICIAL, {"to": "done"}, 409, "不能改为“已完成”"),
        (Role.STREET_OFFICIAL, {"to": "rejected", "reason": ""}, 400, "请填写原因"),
        (Role.STREET_OFFICIAL, {"to": "cancelled"}, 400, "请填写原因"),
        (Role.STREET_OFFICIAL, {"to": "flying"}, 400, "未知的需求状态"),
        (Role.STREET_OFFICIAL, {"to": "confirmed", "reason": "长" * 201}, 400, None),
        (Role.COMMUNITY_WORKER, {"to": "confirmed"}, 403, None),
        (Role.AUDITOR, {"to": "confirmed"}, 403, None),
        (Role.VOLUNTEER, {"to": "confirmed"}, 404, None),
        ("street_official2", {"to": "confirmed"}, 404, None),
        ("community_worker2", {"to": "cancelled", "reason": "x"}, 404, None),
    ],
)
def test_transition_refused_changes_nothing(login, world, who, data, status, message):
    result = f.household(world)
    user = _user(world, who)
    client = login(user)
    before = _counts()
    response = _post(client, f"/api/needs/{result.need.pk}/transition/", data)
    assert response.status_code == status
    assert CHINESE.search(_text(response))
    if message:
        assert message in _text(response)
    assert _counts() == before
    assert Need.objects.get(pk=result.need.pk).status == Need.Status.SUBMITTED


def test_applicant_withdraws_own_application(login, world):
    applicant = world.users[Role.APPLICANT]
    client = login(applicant)
    created = _post(client, "/api/applications/", _apply(world))
    need_id = created.json()["application"]["id"]
    url = f"/api/needs/{need_id}/transition/"
    assert _post(client, url, {"to": "confirmed"}).status_code == 403
    response = _post(client, url, {"to": "cancelled", "reason": "困难已解决"})
    assert response.status_code == 200
    assert Need.objects.get(pk=need_id).status == Need.Status.CANCELLED


def _need_data(**overrides):
    data = {
        "kind": "goods",
        "service_type": _service("care").pk,
        "quantity": 2,
        "window_start": TODAY.isoformat(),
        "window_end": TODAY.isoformat(),
        "submission_key": str(uuid.uuid4()),
    }
    data.update(overrides)
    return data


def test_add_need_to_case(login, world):
    result = f.household(world)
    client = login(world.users[Role.COMMUNITY_WORKER])
    url = f"/api/cases/{result.case.pk}/needs/"
    data = _need_data()
    response = _post(client, url, data)
    assert response.status_code == 201
    assert response.json()["status"] == "submitted" and result.case.needs.count() == 2
    draft = _post(client, url, _need_data(submit=False))
    assert draft.status_code == 201 and draft.json()["status"] == "draft"
    after = _counts()
    again = _post(client, url, data)
    assert again.status_code == 400 and "该表单已提交过" in again.json()["detail"]
    assert _counts() == after


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"quantity": None}, "实物需求须填写数量"),
        ({"team": {"volunteer": "many"}}, None),
        ({"team": "volunteer"}, None),
        ({"service_type": 999999}, None),
        ({"public_description": "长" * 501}, None),
    ],
)
def test_add_need_bad_input_changes_nothing(login, world, overrides, message):
    result = f.household(world)
    before = _counts()
    response = _post(
        login(world.users[Role.COMMUNITY_WORKER]),
        f"/api/cases/{result.case.pk}/needs/",
        _need_data(**overrides),
    )
    assert response.status_code == 400 and CHINESE.search(_text(response))
    if message:
        assert message in _text(response)
    assert _counts() == before


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (Role.AUDITOR, 403),
        (Role.DEPARTMENT_STAFF, 403),
        (Role.VOLUNTEER, 403),
        ("community_worker2", 404),
        ("street_official2", 404),
    ],
)
def test_add_need_refused(login, world, who, status):
    result = f.household(world)
    user = _user(world, who)
    before = _counts()
    response = _post(login(user), f"/api/cases/{result.case.pk}/needs/", _need_data())
    assert response.status_code == status and _counts() == before


# --- Open needs for providers -----------------------------------------------------------

OPEN_NEED_KEYS = {
    "id",
    "kind",
    "kind_display",
    "service_type_name",
    "service_type_code",
    "amount",
    "quantity",
    "urgency",
    "urgency_display",
    "community_name",
    "street_name",
    "window_start",
    "window_end",
    "team",
    "public_description",
    "status",
    "response_deadline",
    "created_at",
}


@pytest.mark.parametrize("role", [*PROVIDERS, Role.APPLICANT, Role.AUDITOR])
def test_open_needs_are_deidentified(login, world, role):
    result = f.household(world, head="孙桂芝", description="七旬老人独居，需每周探访两次")
    need = f.open_need(world, result.need)
    f.household(world, head="张三")  # submitted, not open
    member = result.case.members.get()
    client = login(world.users[role])
    listing = client.get("/api/open-needs/")
    detail = client.get(f"/api/open-needs/{need.pk}/")
    assert listing.status_code == 200 and detail.status_code == 200
    assert _ids(listing) == [need.pk]
    assert set(listing.json()["results"][0]) == OPEN_NEED_KEYS
    assert set(detail.json()) == OPEN_NEED_KEYS
    assert detail.json()["public_description"] == "七旬老人独居，需每周探访两次"
    for response in (listing, detail):
        body = _text(response)
        for secret in ["孙桂芝", "张三", member.id_masked, result.case.phone_masked, '"case']:
            assert secret not in body
        _assert_no_secrets(response, result.case)


def test_open_need_filters_and_hidden_needs(login, world):
    first = f.open_need(world, f.household(world).need)
    second = f.open_need(world, f.household(world, head="张三", community=world.community2).need)
    hidden = f.household(world, head="李四")
    client = login(world.users[Role.VOLUNTEER])
    assert set(_ids(client.get("/api/open-needs/"))) == {first.pk, second.pk}
    assert _ids(client.get("/api/open-needs/", {"street": world.street2.pk})) == [second.pk]
    assert client.get("/api/open-needs/", {"street": 999999}).status_code == 400
    assert client.get(f"/api/open-needs/{hidden.need.pk}/").status_code == 404


# --- Referrals --------------------------------------------------------------------------


def test_referral_loop(login, world):
    result = f.household(world)
    worker = login(world.users[Role.COMMUNITY_WORKER])
    url = f"/api/cases/{result.case.pk}/referrals/"
    wrong = _post(worker, url, {"department": world.audit_dept.pk, "reason": "x"})
    assert wrong.status_code == 400 and "只能转介至" in _text(wrong)
    no_reason = _post(worker, url, {"department": world.housing.pk, "reason": " "})
    assert no_reason.status_code == 400 and "请填写转介事由" in _text(no_reason)
    unknown = _post(worker, url, {"department": 999999, "reason": "危房"})
    assert unknown.status_code == 400 and CHINESE.search(_text(unknown))
    assert Referral.objects.count() == 0
    sent = _post(worker, url, {"department": world.housing.pk, "reason": "危房"})
    assert sent.status_code == 201 and sent.json()["status"] == "sent"
    referral_id = sent.json()["id"]
    assert _ids(worker.get("/api/referrals/")) == [referral_id]
    assert _post(worker, f"/api/referrals/{referral_id}/accept/").status_code == 403

    health = login(world.health_staff)
    assert health.get("/api/referrals/").json()["count"] == 0
    assert _post(health, f"/api/referrals/{referral_id}/accept/").status_code == 404

    staff = login(world.users[Role.DEPARTMENT_STAFF])
    listing = staff.get("/api/referrals/", {"status": "sent"})
    assert (
        _ids(listing) == [referral_id] and listing.json()["results"][0]["case_label"] == "王秀兰户"
    )
    _assert_no_secrets(listing, result.case)
    accepted = _post(staff, f"/api/referrals/{referral_id}/accept/")
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    again = _post(staff, f"/api/referrals/{referral_id}/accept/")
    assert again.status_code == 409 and "该转介当前状态下不能执行此操作" in _text(again)
    no_outcome = _post(staff, f"/api/referrals/{referral_id}/complete/", {"outcome": ""})
    assert no_outcome.status_code == 400 and "请填写办理结果或退回原因" in _text(no_outcome)
    assert Referral.objects.get().status == Referral.Status.ACCEPTED
    done = _post(staff, f"/api/referrals/{referral_id}/complete/", {"outcome": "已纳入公租房"})
    assert done.status_code == 200 and done.json()["outcome"] == "已纳入公租房"
    back = _post(staff, f"/api/referrals/{referral_id}/return/", {"reason": "不属本部门"})
    assert back.status_code == 409


def test_referral_return(login, world):
    result = f.household(world)
    referral = _referral(world, result.case)
    staff = login(world.users[Role.DEPARTMENT_STAFF])
    url = f"/api/referrals/{referral.pk}/return/"
    assert _post(staff, url, {"reason": ""}).status_code == 400
    response = _post(staff, url, {"reason": "不属本部门职责"})
    assert response.status_code == 200 and response.json()["status"] == "returned"


@pytest.mark.parametrize(
    ("who", "list_count", "send", "act"),
    [
        (Role.AUDITOR, 1, 403, 403),
        (Role.APPLICANT, 0, 403, 403),
        *[(role, 0, 403, 403) for role in PROVIDERS],
        ("street_official2", 0, 404, 403),
        ("community_worker2", 0, 404, 403),
    ],
)
def test_referral_access(login, world, who, list_count, send, act):
    result = f.household(world)
    referral = _referral(world, result.case)
    user = _user(world, who)
    client = login(user)
    assert client.get("/api/referrals/").json()["count"] == list_count
    detail = client.get(f"/api/referrals/{referral.pk}/")
    assert detail.status_code == (200 if list_count else 404)
    before = _counts()
    sent = _post(
        client,
        f"/api/cases/{result.case.pk}/referrals/",
        {"department": world.health.pk, "reason": "慢病"},
    )
    assert sent.status_code == send
    assert _post(client, f"/api/referrals/{referral.pk}/accept/").status_code == act
    assert _counts() == before
    assert Referral.objects.get(pk=referral.pk).status == Referral.Status.SENT


# --- Warnings ---------------------------------------------------------------------------


def test_warning_list_and_verify(login, world):
    result = f.household(world)
    warning = Warning.objects.create(case=result.case, rule="disability", detail="家有残疾人")
    client = login(world.users[Role.COMMUNITY_WORKER])
    listing = client.get("/api/warnings/", {"status": "open"})
    assert _ids(listing) == [warning.pk]
    _assert_no_secrets(listing, result.case)
    assert client.get("/api/warnings/", {"rule": "nonsense"}).status_code == 400
    url = f"/api/warnings/{warning.pk}/verify/"
    no_note = _post(client, url, {"confirmed": True, "note": ""})
    assert no_note.status_code == 400 and "请填写核实情况" in _text(no_note)
    no_choice = _post(client, url, {"note": "已入户"})
    assert no_choice.status_code == 400 and "confirmed" in no_choice.json()
    warning.refresh_from_db()
    assert warning.status == Warning.Status.OPEN
    done = _post(client, url, {"confirmed": False, "note": "已入户，情况已改善"})
    assert done.status_code == 200 and done.json()["status"] == "dismissed"
    assert _ids(client.get("/api/warnings/", {"status": "open"})) == []
    again = _post(client, url, {"confirmed": True, "note": "再次核实"})
    assert again.status_code == 409 and "该预警已核实" in _text(again)


@pytest.mark.parametrize(
    ("who", "list_count", "verify"),
    [
        (Role.AUDITOR, 1, 403),
        (Role.DEPARTMENT_STAFF, 0, 403),
        (Role.APPLICANT, 0, 403),
        *[(role, 0, 403) for role in PROVIDERS],
        ("street_official2", 0, 404),
        ("community_worker2", 0, 404),
    ],
)
def test_warning_access(login, world, who, list_count, verify):
    result = f.household(world)
    warning = Warning.objects.create(case=result.case, rule="disability", detail="家有残疾人")
    user = _user(world, who)
    client = login(user)
    assert client.get("/api/warnings/").json()["count"] == list_count
    assert client.get(f"/api/warnings/{warning.pk}/").status_code == (200 if list_count else 404)
    response = _post(
        client, f"/api/warnings/{warning.pk}/verify/", {"confirmed": True, "note": "x"}
    )
    assert response.status_code == verify
    warning.refresh_from_db()
    assert warning.status == Warning.Status.OPEN


# --- No full values anywhere ------------------------------------------------------------


def test_no_full_id_or_phone_in_any_read_endpoint(login, world):
    result = f.household(world)
    member = result.case.members.get()
    _referral(world, result.case)
    warning = Warning.objects.create(
        case=result.case, member=member, rule="disability", detail="家有残疾人"
    )
    f.open_need(world, result.need)
    urls = [
        "/api/cases/",
        f"/api/cases/{result.case.pk}/",
        "/api/needs/",
        f"/api/needs/{result.need.pk}/",
        "/api/open-needs/",
        f"/api/open-needs/{result.need.pk}/",
        "/api/referrals/",
        "/api/warnings/",
        f"/api/warnings/{warning.pk}/",
    ]
    for role in [Role.CIVIL_AFFAIRS_OFFICIAL, Role.AUDITOR, Role.COMMUNITY_WORKER]:
        client = login(world.users[role])
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, (role, url)
            _assert_no_secrets(response, result.case)
            if url.startswith("/api/cases/"):
                assert member.id_masked in _text(response)


# --- Query counts -----------------------------------------------------------------------


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx)


def _many(world, n, *, start=0):
    """n households at the window (each with a warning and a referral) and n online
    applications."""
    for i in range(start, start + n):
        result = f.household(world, head=f"住户{i}", urgency=Need.Urgency.EMERGENCY)
        Warning.objects.create(case=result.case, rule="disability", detail="家有残疾人")
        _referral(world, result.case)
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


@pytest.mark.parametrize(
    ("url", "role"),
    [
        ("/api/cases/", Role.COMMUNITY_WORKER),
        ("/api/cases/", Role.AUDITOR),
        ("/api/cases/", Role.DEPARTMENT_STAFF),
        ("/api/needs/", Role.STREET_OFFICIAL),
        ("/api/open-needs/", Role.VOLUNTEER),
        ("/api/referrals/", Role.DEPARTMENT_STAFF),
        ("/api/warnings/", Role.COMMUNITY_WORKER),
        ("/api/applications/", Role.APPLICANT),
    ],
)
def test_list_query_count_is_constant(login, world, url, role):
    """3 rows and 13 rows cost the same number of queries."""
    client = login(world.users[role])
    _many(world, 3)
    Need.objects.update(status=Need.Status.OPEN, public_description="需要上门探访")
    small = _queries(client, url)
    _many(world, 10, start=3)
    Need.objects.update(status=Need.Status.OPEN, public_description="需要上门探访")
    assert client.get(url).json()["count"] >= 13
    assert _queries(client, url) == small
    assert small <= 10


# --- OpenAPI schema ---------------------------------------------------------------------


def test_openapi_schema_documents_the_new_endpoints(client, db):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    paths = schema["paths"]
    for path in [
        "/api/cases/",
        "/api/cases/{id}/",
        "/api/cases/discover/",
        "/api/cases/{id}/verify/",
        "/api/cases/{id}/reveal/",
        "/api/cases/{id}/needs/",
        "/api/cases/{id}/referrals/",
        "/api/applications/",
        "/api/needs/",
        "/api/needs/{id}/transition/",
        "/api/open-needs/",
        "/api/open-needs/{id}/",
        "/api/referrals/",
        "/api/referrals/{id}/accept/",
        "/api/referrals/{id}/complete/",
        "/api/referrals/{id}/return/",
        "/api/warnings/",
        "/api/warnings/{id}/verify/",
    ]:
        assert path in paths, path
    components = schema["components"]["schemas"]
    register = components["CaseRegister"]["properties"]
    assert {"members", "need", "sensitive_consent_by", "submission_key"} <= set(register)
    assert "multipart/form-data" in paths["/api/applications/"]["post"]["requestBody"]["content"]
    reveal = paths["/api/cases/{id}/reveal/"]["post"]["responses"]["200"]
    assert reveal["content"]["application/json"]["schema"]["$ref"].endswith("/RevealResult")
    for name, component in components.items():
        for key in ("id_cipher", "id_hash", "phone_cipher", "phone_hash"):
            assert key not in component.get("properties", {}), name
    assert "case" not in components["OpenNeed"]["properties"]


def test_openapi_schema_generates_without_warnings(tmp_path, db):
    """`--fail-on-warn` turns any schema warning (an enum name collision, an unresolvable
    field) into an error."""
    out = tmp_path / "schema.json"
    call_command(
        "spectacular",
        "--fail-on-warn",
        "--validate",
        "--format",
        "openapi-json",
        "--file",
        str(out),
    )
    assert "/api/cases/{id}/reveal/" in json.loads(out.read_text())["paths"]
