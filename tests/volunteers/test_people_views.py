"""People pages: sign-up, own profile, the record page with its audited full view and
export, the roster, joining and deciding, and social workers. Each page is tried by the role
it serves, refused to others, fed bad input, and counted for queries."""

from __future__ import annotations

import io
from datetime import date

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from marketplace.models import Membership, Role, ServiceType, User
from tests import factories as f
from tests.volunteers import test_opportunity_builders as ob
from tests.volunteers import test_people_builders as b
from volunteers.models import (
    Affiliation,
    ServiceRecord,
    Skill,
    SocialWorker,
    Volunteer,
    VolunteerAccess,
)
from volunteers.services import affiliation_request, social_worker_save, volunteer_register

pytestmark = pytest.mark.django_db

PASSWORD = "Ysh-volunteer-2024"


def _body(response) -> str:
    return response.content.decode()


def _register_post(world, **overrides) -> dict:
    data = {
        "account-username": "newvol",
        "account-email": "newvol@example.test",
        "account-password": PASSWORD,
        "account-password_again": PASSWORD,
        "real_name": "王志愿",
        "id_number": f.resident_id(date(1992, 8, 8)),
        "phone": f.phone(),
        "home_community": str(world.community.pk),
        "skills": [str(s.pk) for s in Skill.objects.filter(code__in=["care", "legal"])],
        "max_concurrent": "2",
        "introduction": "",
        "avail-TOTAL_FORMS": "2",
        "avail-INITIAL_FORMS": "0",
        "avail-MIN_NUM_FORMS": "0",
        "avail-MAX_NUM_FORMS": "21",
        "avail-0-weekday": "5",
        "avail-0-start": "09:00",
        "avail-0-end": "12:00",
        "avail-1-weekday": "",
        "avail-1-start": "",
        "avail-1-end": "",
        "cert-TOTAL_FORMS": "1",
        "cert-INITIAL_FORMS": "0",
        "cert-MIN_NUM_FORMS": "0",
        "cert-MAX_NUM_FORMS": "20",
        "cert-0-name": "",
        "cert-0-issuer": "",
        "cert-0-number": "",
        "cert-0-skill": "",
        "cert-0-valid_until": "",
    }
    data.update(overrides)
    return data


def _profile_post(world, volunteer, **overrides) -> dict:
    data = _register_post(world)
    for key in list(data):
        if key.startswith("account-") or key in {"real_name", "id_number", "phone"}:
            data.pop(key)
    data.update({"introduction": "周末有空", "max_concurrent": "3"})
    data.update(overrides)
    return data


# --- Sign-up ------------------------------------------------------------------------------


def test_register_page_for_visitor_shows_account_and_tables(client, world):
    response = client.get(reverse("volunteer-register"))
    assert response.status_code == 200
    body = _body(response)
    assert 'data-testid="account"' in body
    assert "avail-template" in body and "volunteers_people.js" in body
    assert "明光路街道" in body and "<optgroup" in body
    assert 'type="checkbox"' in body


def test_visitor_registers_and_is_signed_in(client, world):
    data = _register_post(world)
    response = client.post(reverse("volunteer-register"), data)
    volunteer = Volunteer.objects.get()
    assert response.status_code == 302 and response.url == volunteer.get_absolute_url()
    assert volunteer.user.username == "newvol"
    assert volunteer.availabilities.count() == 1 and volunteer.certificates.count() == 0
    page = client.get(response.url)
    assert page.status_code == 200
    body = _body(page)
    assert volunteer.id_masked in body and data["id_number"] not in body
    assert data["phone"] not in body


@pytest.mark.parametrize(
    ("overrides", "text"),
    [
        ({"id_number": "340102199208081234"}, "校验位"),
        ({"phone": "0000"}, "手机号码"),
        ({"account-password_again": "other-Password-1"}, "两次输入的密码不一致"),
        ({"account-password": "123", "account-password_again": "123"}, "密码"),
        ({"account-username": "jiedao"}, "用户名"),
        ({"home_community": "999999"}, "选择"),
        ({"avail-0-end": "08:00"}, "结束时间应晚于开始时间"),
        ({"avail-1-weekday": "5", "avail-1-start": "11:00", "avail-1-end": "13:00"}, "重叠"),
        ({"avail-TOTAL_FORMS": "x"}, ""),
        ({"max_concurrent": "50"}, "10"),
    ],
)
def test_bad_registration_shows_errors_and_saves_nothing(client, world, overrides, text):
    users = User.objects.count()
    response = client.post(reverse("volunteer-register"), _register_post(world, **overrides))
    assert response.status_code == 400
    assert text in _body(response)
    assert Volunteer.objects.count() == 0
    assert User.objects.count() == users
    assert "_auth_user_id" not in client.session


def test_duplicate_id_on_signup_refused(client, world):
    existing = b.registered(world)
    response = client.post(
        reverse("volunteer-register"), _register_post(world, id_number=existing.full_id)
    )
    assert response.status_code == 409
    assert "已注册" in _body(response)
    assert Volunteer.objects.count() == 1
    assert not User.objects.filter(username="newvol").exists()


def test_signed_in_user_fills_profile_only(login, world):
    user = world.users[Role.APPLICANT]
    client = login(user)
    page = client.get(reverse("volunteer-register"))
    assert 'data-testid="account"' not in _body(page)
    data = {k: v for k, v in _register_post(world).items() if not k.startswith("account-")}
    response = client.post(reverse("volunteer-register"), data)
    assert response.status_code == 302
    assert Volunteer.objects.get().user == user
    assert client.get(reverse("volunteer-register")).url == reverse("volunteer-me")


# --- Own profile --------------------------------------------------------------------------


def test_me_without_registration_goes_to_register(login, world):
    response = login(world.users[Role.APPLICANT]).get(reverse("volunteer-me"))
    assert response.status_code == 302 and response.url == reverse("volunteer-register")


def test_me_anonymous_goes_to_login(client, world):
    response = client.get(reverse("volunteer-me"))
    assert response.status_code == 302 and "/login/" in response.url


def test_me_edits_profile(login, world):
    volunteer = b.registered(world)
    client = login(volunteer.user)
    page = client.get(reverse("volunteer-me"))
    assert page.status_code == 200
    assert 'value="14:00"' in _body(page)
    response = client.post(
        reverse("volunteer-me"),
        _profile_post(
            world,
            volunteer,
            **{"cert-0-name": "急救员证", "home_community": str(world.community2.pk)},
        ),
    )
    assert response.status_code == 302
    volunteer.refresh_from_db()
    assert volunteer.introduction == "周末有空" and volunteer.max_concurrent == 3
    assert volunteer.street == world.street2
    assert [a.weekday for a in volunteer.availabilities.all()] == [5]
    assert volunteer.certificates.get().name == "急救员证"


def test_me_bad_availability_changes_nothing(login, world):
    volunteer = b.registered(world)
    client = login(volunteer.user)
    response = client.post(
        reverse("volunteer-me"),
        _profile_post(
            world,
            volunteer,
            **{"avail-1-weekday": "5", "avail-1-start": "10:00", "avail-1-end": "11:00"},
        ),
    )
    assert response.status_code == 400
    assert "重叠" in _body(response)
    volunteer.refresh_from_db()
    assert volunteer.introduction == "退休教师，周二下午有空"
    assert [a.weekday for a in volunteer.availabilities.all()] == [1]


# --- The record page ----------------------------------------------------------------------


def _viewer(world, who, volunteer):
    if who == "self":
        return volunteer.user
    if who == "street_official2":
        return world.street_official2
    if who == "other_manager":
        return b.other_volunteer_org(world).manager
    if who == "other_volunteer":
        return b.registered(world).user
    return world.users[who]


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("self", 200),
        (Role.CIVIL_AFFAIRS_OFFICIAL, 200),
        (Role.AUDITOR, 200),
        (Role.STREET_OFFICIAL, 200),
        (Role.VOLUNTEER_MANAGER, 200),
        ("street_official2", 404),
        ("other_manager", 404),
        (Role.COMMUNITY_WORKER, 403),
        (Role.AGENCY_STAFF, 403),
        (Role.APPLICANT, 403),
        ("other_volunteer", 403),
    ],
)
def test_record_page_access(login, world, who, status):
    volunteer = b.registered(world)
    b.member_of(world, volunteer)
    client = login(_viewer(world, who, volunteer))
    assert client.get(reverse("volunteer-detail", args=[volunteer.pk])).status_code == status
    export = client.get(reverse("volunteer-records-export", args=[volunteer.pk]))
    assert export.status_code == status


def test_record_page_shows_stars_hours_and_records(login, world):
    volunteer = b.registered(world)
    b.member_of(world, volunteer)
    opportunity = ob.opportunity(world, title="重阳节敬老活动")
    b.record(volunteer, opportunity, hours="3")
    b.record(volunteer, ob.opportunity(world, starts_at=ob.at(2)), hours="1.5", status="pending")
    Volunteer.objects.filter(pk=volunteer.pk).update(confirmed_hours=120, star_level=1)
    response = login(volunteer.user).get(reverse("volunteer-detail", args=[volunteer.pk]))
    body = _body(response)
    progress = response.context["progress"]
    assert progress.stars == 1 and progress.next_threshold == 300
    assert progress.percent == 10 and progress.pending_hours == 1.5
    assert "重阳节敬老活动" in body and "明光路街道志愿者联合会" in body
    assert "<progress" in body and "★★（300 小时）" in body
    assert "显示完整号码" not in body  # a volunteer does not reveal their own numbers here


def test_record_page_query_count_constant(login, world):
    volunteer = b.registered(world)
    client = login(volunteer.user)
    url = reverse("volunteer-detail", args=[volunteer.pk])

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx)

    for i in range(2):
        b.record(volunteer, ob.opportunity(world, starts_at=ob.at(i + 1)))
    few = count()
    for i in range(2, 12):
        b.record(volunteer, ob.opportunity(world, starts_at=ob.at(i + 1)))
    assert count() == few


def test_records_export_masked(login, world):
    volunteer = b.registered(world)
    b.record(volunteer, ob.opportunity(world, title="助老探访"), hours="2.5")
    response = login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL]).get(
        reverse("volunteer-records-export", args=[volunteer.pk])
    )
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == (
        "姓名",
        "身份证号码",
        "服务组织",
        "活动名称",
        "服务日期",
        "服务时长（小时）",
        "状态",
    )
    assert rows[1][0] == volunteer.real_name and rows[1][1] == volunteer.id_masked
    assert rows[1][2] == "明光路街道志愿者联合会" and rows[1][3] == "助老探访"
    assert rows[1][5] == 2.5 and rows[1][6] == "已确认"
    flat = repr(rows)
    assert volunteer.full_id not in flat and volunteer.full_phone not in flat


# --- The audited full view ----------------------------------------------------------------


def test_reveal_shows_once_and_audits(login, world):
    volunteer = b.registered(world)
    client = login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    detail = _body(client.get(reverse("volunteer-detail", args=[volunteer.pk])))
    assert "显示完整号码" in detail and volunteer.full_id not in detail
    url = reverse("volunteer-reveal", args=[volunteer.pk])
    response = client.post(url, {"field": "id_number", "reason": "核对身份"})
    assert response.status_code == 200
    assert volunteer.full_id in _body(response)
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    assert VolunteerAccess.objects.get().reason == "核对身份"


@pytest.mark.parametrize(
    "data", [{"field": "id_number", "reason": ""}, {"field": "x", "reason": "a"}]
)
def test_reveal_bad_input(login, world, data):
    volunteer = b.registered(world)
    client = login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    response = client.post(reverse("volunteer-reveal", args=[volunteer.pk]), data)
    assert response.status_code == 400
    assert volunteer.full_id not in _body(response)
    assert VolunteerAccess.objects.count() == 0


@pytest.mark.parametrize(
    ("who", "status"),
    [(Role.AUDITOR, 403), ("self", 403), ("street_official2", 404), (Role.APPLICANT, 403)],
)
def test_reveal_refused(login, world, who, status):
    volunteer = b.registered(world)
    client = login(_viewer(world, who, volunteer))
    response = client.post(
        reverse("volunteer-reveal", args=[volunteer.pk]), {"field": "phone", "reason": "看看"}
    )
    assert response.status_code == status
    assert VolunteerAccess.objects.count() == 0


def test_reveal_needs_post(login, world):
    volunteer = b.registered(world)
    client = login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    assert client.get(reverse("volunteer-reveal", args=[volunteer.pk])).status_code == 405


# --- The roster ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "who", [Role.COMMUNITY_WORKER, Role.AGENCY_STAFF, Role.SOCIAL_WORKER, Role.VOLUNTEER]
)
def test_roster_refused_for_other_roles(login, world, who):
    client = login(world.users[who])
    assert client.get(reverse("volunteer-list")).status_code == 403
    assert client.get(reverse("volunteer-export")).status_code == 403


def test_roster_scope(login, world):
    here = b.registered(world, name="本街道志愿者")
    there = b.registered(world, community=world.community2, name="外街道志愿者")
    member = b.registered(world, name="联合会成员")
    b.member_of(world, member)
    other_org = b.other_volunteer_org(world)
    b.member_of(world, there, other_org)

    def names(user):
        response = login(user).get(reverse("volunteer-list"))
        assert response.status_code == 200
        return {v.real_name for v in response.context["page"].object_list}

    everyone = {here.real_name, there.real_name, member.real_name}
    assert names(world.users[Role.CIVIL_AFFAIRS_OFFICIAL]) == everyone
    assert names(world.users[Role.AUDITOR]) == everyone
    assert names(world.users[Role.STREET_OFFICIAL]) == {here.real_name, member.real_name}
    assert names(world.street_official2) == {there.real_name}
    assert names(world.users[Role.VOLUNTEER_MANAGER]) == {member.real_name}
    assert names(other_org.manager) == {there.real_name}


def test_roster_filters(login, world):
    legal = Skill.objects.get(code="legal")
    a = b.registered(world, name="甲", skills=[legal])
    b.registered(world, name="乙", community=world.community2)
    c = b.registered(world, name="丙")
    b.member_of(world, c)
    Volunteer.objects.filter(pk=c.pk).update(star_level=2, confirmed_hours=350)
    client = login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])

    def names(params):
        response = client.get(reverse("volunteer-list"), params)
        assert response.status_code == 200
        return {v.real_name for v in response.context["page"].object_list}

    assert names({"skill": legal.pk}) == {a.real_name}
    assert names({"street": world.street2.pk}) == {"乙"}
    assert names({"star_level": 2}) == {"丙"}
    assert names({"star_level": 0}) == {"甲", "乙"}
    assert names({"organisation": world.federation.pk}) == {"丙"}
    assert names({"q": "甲"}) == {"甲"}


@pytest.mark.parametrize(
    "params", [{"skill": "999999"}, {"star_level": "9"}, {"street": "abc"}, {"organisation": "0"}]
)
def test_roster_bad_filter(login, world, params):
    b.registered(world)
    client = login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    response = client.get(reverse("volunteer-list"), params)
    assert response.status_code == 400
    assert list(response.context["page"].object_list) == []
    assert client.get(reverse("volunteer-export"), params).status_code == 400


def _queries(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url, params or {}).status_code == 200
    return len(ctx)


def _many_volunteers(world, n, start=0):
    skills = list(Skill.objects.filter(code__in=["care", "legal"]))
    for i in range(start, start + n):
        v = b.registered(world, name=f"名册{i}", skills=skills)
        b.member_of(world, v)


@pytest.mark.parametrize(
    "who", [Role.CIVIL_AFFAIRS_OFFICIAL, Role.STREET_OFFICIAL, Role.VOLUNTEER_MANAGER]
)
def test_roster_query_count_constant(login, world, who):
    client = login(world.users[who])
    url = reverse("volunteer-list")
    care = {"skill": Skill.objects.get(code="care").pk, "star_level": "0"}
    _many_volunteers(world, 3)
    few, few_filtered = _queries(client, url), _queries(client, url, care)
    _many_volunteers(world, 27, start=3)
    assert _queries(client, url) == few
    assert _queries(client, url, care) == few_filtered


def test_roster_export_masked_and_scoped(login, world):
    inside = b.registered(world, name="本街道")
    outside = b.registered(world, community=world.community2, name="外街道")
    b.member_of(world, inside)
    client = login(world.users[Role.STREET_OFFICIAL])
    response = client.get(reverse("volunteer-export"))
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 2 and rows[1][1] == "本街道"
    assert rows[1][2] == inside.id_masked and rows[1][3] == inside.phone_masked
    assert "明光路街道志愿者联合会" in rows[1][7]
    flat = repr(rows)
    assert inside.full_id not in flat and inside.full_phone not in flat
    assert outside.real_name not in flat


def test_roster_export_query_count_constant(login, world):
    client = login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    url = reverse("volunteer-export")
    _many_volunteers(world, 3)
    few = _queries(client, url)
    _many_volunteers(world, 27, start=3)
    assert _queries(client, url) == few


# --- Joining and deciding -----------------------------------------------------------------


def test_join_button_and_request(login, world):
    volunteer = b.registered(world)
    client = login(volunteer.user)
    request = RequestFactory().get("/organisations/1/")
    request.user = volunteer.user
    html = render_to_string(
        "volunteers/people/_join_button.html", {"organisation": world.federation}, request=request
    )
    assert reverse("affiliation-request", args=[world.federation.pk]) in html
    response = client.post(
        reverse("affiliation-request", args=[world.federation.pk]),
        {"message": "我住明光路", "next": "/volunteers/me/"},
    )
    assert response.status_code == 302 and response.url == "/volunteers/me/"
    affiliation = Affiliation.objects.get()
    assert affiliation.status == "pending" and affiliation.message == "我住明光路"


def test_join_button_for_non_volunteer_links_register(world, rf):
    request = rf.get("/")
    request.user = world.users[Role.APPLICANT]
    html = render_to_string(
        "volunteers/people/_join_button.html", {"organisation": world.federation}, request=request
    )
    assert reverse("volunteer-register") in html
    html = render_to_string(
        "volunteers/people/_join_button.html", {"organisation": world.charity}, request=request
    )
    assert html.strip() == ""


def test_join_refused_without_registration(login, world):
    client = login(world.users[Role.APPLICANT])
    response = client.post(reverse("affiliation-request", args=[world.federation.pk]))
    assert response.status_code == 403
    assert Affiliation.objects.count() == 0


def test_join_wrong_kind_of_organisation(login, world):
    volunteer = b.registered(world)
    client = login(volunteer.user)
    response = client.post(reverse("affiliation-request", args=[world.charity.pk]), follow=True)
    assert "只能加入" in _body(response)
    assert Affiliation.objects.count() == 0


def test_join_unverified_organisation(login, world):
    # Hidden from a plain volunteer; an official of its street sees it but cannot join yet.
    volunteer = b.registered(world)
    url = reverse("affiliation-request", args=[world.pending_in_street.pk])
    assert login(volunteer.user).post(url).status_code == 404
    official = world.users[Role.STREET_OFFICIAL]
    volunteer_register(user=official, **b.registration(world))
    response = login(official).post(url, follow=True)
    assert "尚未通过认证" in _body(response)
    assert Affiliation.objects.count() == 0


def test_join_unseen_organisation_404(login, world):
    volunteer = b.registered(world)
    response = login(volunteer.user).post(reverse("affiliation-request", args=[999999]))
    assert response.status_code == 404


def test_join_twice_and_bad_message(login, world):
    volunteer = b.registered(world)
    client = login(volunteer.user)
    url = reverse("affiliation-request", args=[world.federation.pk])
    client.post(url)
    response = client.post(url, follow=True)
    assert "等待审核" in _body(response)
    response = client.post(url, {"message": "长" * 201}, follow=True)
    assert "200" in _body(response)
    assert Affiliation.objects.count() == 1


def test_join_ignores_offsite_next(login, world):
    volunteer = b.registered(world)
    response = login(volunteer.user).post(
        reverse("affiliation-request", args=[world.federation.pk]),
        {"next": "https://evil.example/"},
    )
    assert response.url == world.federation.get_absolute_url()


@pytest.mark.parametrize(
    "who", [Role.COMMUNITY_WORKER, Role.VOLUNTEER, Role.CIVIL_AFFAIRS_OFFICIAL, Role.AGENCY_STAFF]
)
def test_affiliation_pages_refused_for_other_roles(login, world, who):
    affiliation = affiliation_request(volunteer=b.registered(world), organisation=world.federation)
    client = login(world.users[who])
    assert client.get(reverse("affiliation-list")).status_code == 403
    response = client.post(
        reverse("affiliation-decide", args=[affiliation.pk]), {"decision": "approve"}
    )
    assert response.status_code == 403
    affiliation.refresh_from_db()
    assert affiliation.status == "pending"


def test_manager_approves_from_list(login, world):
    volunteer = b.registered(world, name="待审志愿者")
    affiliation = affiliation_request(volunteer=volunteer, organisation=world.federation)
    client = login(world.users[Role.VOLUNTEER_MANAGER])
    page = client.get(reverse("affiliation-list"))
    assert page.status_code == 200 and "待审志愿者" in _body(page)
    response = client.post(
        reverse("affiliation-decide", args=[affiliation.pk]),
        {"decision": "approve", "note": "欢迎"},
    )
    assert response.status_code == 302
    affiliation.refresh_from_db()
    assert affiliation.status == "approved"
    assert Membership.objects.filter(user=volunteer.user, organisation=world.federation).exists()
    # Pending is the default view: the decided request has left it.
    assert list(client.get(reverse("affiliation-list")).context["page"].object_list) == []
    approved = client.get(reverse("affiliation-list"), {"status": "approved"})
    assert [a.pk for a in approved.context["page"].object_list] == [affiliation.pk]
    again = client.post(
        reverse("affiliation-decide", args=[affiliation.pk]), {"decision": "reject"}
    )
    assert again.status_code == 409


def test_street_official_rejects_from_list(login, world):
    affiliation = affiliation_request(volunteer=b.registered(world), organisation=world.federation)
    client = login(world.users[Role.STREET_OFFICIAL])
    response = client.post(
        reverse("affiliation-decide", args=[affiliation.pk]), {"decision": "reject"}
    )
    assert response.status_code == 302
    affiliation.refresh_from_db()
    assert affiliation.status == "rejected"


@pytest.mark.parametrize("who", ["street_official2", "other_manager"])
def test_wrong_street_or_organisation_cannot_decide(login, world, who):
    affiliation = affiliation_request(volunteer=b.registered(world), organisation=world.federation)
    user = (
        world.street_official2
        if who == "street_official2"
        else b.other_volunteer_org(world).manager
    )
    client = login(user)
    assert affiliation.volunteer.real_name not in _body(client.get(reverse("affiliation-list")))
    response = client.post(
        reverse("affiliation-decide", args=[affiliation.pk]), {"decision": "approve"}
    )
    assert response.status_code == 404
    affiliation.refresh_from_db()
    assert affiliation.status == "pending"


@pytest.mark.parametrize(
    "data", [{}, {"decision": "maybe"}, {"decision": "approve", "note": "长" * 201}]
)
def test_decide_bad_input(login, world, data):
    affiliation = affiliation_request(volunteer=b.registered(world), organisation=world.federation)
    response = login(world.users[Role.VOLUNTEER_MANAGER]).post(
        reverse("affiliation-decide", args=[affiliation.pk]), data
    )
    assert response.status_code == 400
    affiliation.refresh_from_db()
    assert affiliation.status == "pending"


def test_affiliation_list_query_count_constant(login, world):
    client = login(world.users[Role.VOLUNTEER_MANAGER])
    url = reverse("affiliation-list")
    for _ in range(3):
        affiliation_request(volunteer=b.registered(world), organisation=world.federation)
    few = _queries(client, url)
    for _ in range(27):
        affiliation_request(volunteer=b.registered(world), organisation=world.federation)
    assert _queries(client, url) == few


def test_volunteer_leaves_from_me_page(login, world):
    volunteer = b.registered(world)
    affiliation = b.member_of(world, volunteer)
    client = login(volunteer.user)
    assert reverse("affiliation-leave", args=[affiliation.pk]) in _body(
        client.get(reverse("volunteer-me"))
    )
    response = client.post(reverse("affiliation-leave", args=[affiliation.pk]))
    assert response.status_code == 302
    affiliation.refresh_from_db()
    assert affiliation.status == "left"
    assert client.post(reverse("affiliation-leave", args=[affiliation.pk])).status_code == 302
    other = b.member_of(world, b.registered(world))
    assert client.post(reverse("affiliation-leave", args=[other.pk])).status_code == 404
    other.refresh_from_db()
    assert other.status == "approved"


# --- Social workers -----------------------------------------------------------------------


def _sw_post(org, **overrides):
    data = {
        "organisation": str(org.pk),
        "real_name": "赵社工",
        "level": "assistant",
        "certificate_number": "ZS-001",
        "specialties": [str(ServiceType.objects.get(code="visiting").pk)],
        "max_concurrent": "3",
    }
    data.update(overrides)
    return data


def test_social_worker_fills_own_profile(login, world):
    user = world.users[Role.SOCIAL_WORKER]
    client = login(user)
    assert client.get(reverse("social-worker-me")).status_code == 200
    response = client.post(reverse("social-worker-me"), _sw_post(world.station))
    assert response.status_code == 302
    worker = SocialWorker.objects.get(user=user)
    assert worker.level == "assistant" and worker.organisation == world.station
    page = client.get(reverse("social-worker-me"))
    assert 'value="ZS-001"' in _body(page)


@pytest.mark.parametrize(
    ("overrides", "text"),
    [
        ({"certificate_number": ""}, "证书编号"),
        ({"organisation": "agency"}, "选择"),
        ({"max_concurrent": "0"}, "1"),
        ({"level": "master"}, "选择"),
        ({"real_name": ""}, "必需"),
    ],
)
def test_social_worker_me_bad_input(login, world, overrides, text):
    if overrides.get("organisation") == "agency":
        overrides = {"organisation": str(world.agency.pk)}
    client = login(world.users[Role.SOCIAL_WORKER])
    response = client.post(reverse("social-worker-me"), _sw_post(world.station, **overrides))
    assert response.status_code == 400
    assert text in _body(response)
    assert SocialWorker.objects.count() == 0


@pytest.mark.parametrize("who", [Role.VOLUNTEER, Role.AGENCY_STAFF, Role.STREET_OFFICIAL])
def test_social_worker_me_refused(login, world, who):
    client = login(world.users[who])
    assert client.get(reverse("social-worker-me")).status_code == 403
    assert client.post(reverse("social-worker-me"), _sw_post(world.station)).status_code == 403
    assert SocialWorker.objects.count() == 0


def _agency_worker(world, name="机构社工"):
    person = f.user(
        f"sw{SocialWorker.objects.count() + User.objects.count()}", Role.SOCIAL_WORKER, world.agency
    )
    return social_worker_save(
        by=world.users[Role.AGENCY_STAFF],
        user=person,
        organisation=world.agency,
        real_name=name,
        level="none",
        max_concurrent=3,
    )


def _station_worker(world):
    user = world.users[Role.SOCIAL_WORKER]
    return social_worker_save(
        by=user, user=user, organisation=world.station, real_name="社工站社工", level="none"
    )


def test_social_worker_roster_scope(login, world):
    _agency_worker(world)
    _station_worker(world)

    def names(user):
        response = login(user).get(reverse("social-worker-list"))
        assert response.status_code == 200
        return {w.real_name for w in response.context["page"].object_list}

    assert names(world.users[Role.CIVIL_AFFAIRS_OFFICIAL]) == {"机构社工", "社工站社工"}
    assert names(world.users[Role.AGENCY_STAFF]) == {"机构社工"}
    assert names(world.users[Role.STREET_OFFICIAL]) == {"社工站社工"}
    assert names(world.street_official2) == set()


@pytest.mark.parametrize(
    "who", [Role.VOLUNTEER, Role.SOCIAL_WORKER, Role.COMMUNITY_WORKER, Role.VOLUNTEER_MANAGER]
)
def test_social_worker_roster_refused(login, world, who):
    assert login(world.users[who]).get(reverse("social-worker-list")).status_code == 403


def test_social_worker_roster_bad_filter_and_query_count(login, world):
    client = login(world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    url = reverse("social-worker-list")
    assert client.get(url, {"level": "master"}).status_code == 400
    for i in range(3):
        _agency_worker(world, name=f"社工{i}")
    few = _queries(client, url)
    for i in range(3, 30):
        _agency_worker(world, name=f"社工{i}")
    assert _queries(client, url) == few


def test_staff_registers_edits_and_deactivates(login, world):
    person = f.user("newsw", Role.SOCIAL_WORKER, world.agency)
    client = login(world.users[Role.AGENCY_STAFF])
    page = client.get(reverse("social-worker-create"))
    assert page.status_code == 200 and "newsw" in _body(page)
    response = client.post(
        reverse("social-worker-create"), {**_sw_post(world.agency), "user": str(person.pk)}
    )
    assert response.status_code == 302
    worker = SocialWorker.objects.get(user=person)
    edit = reverse("social-worker-edit", args=[worker.pk])
    assert 'value="赵社工"' in _body(client.get(edit))
    response = client.post(edit, _sw_post(world.agency, level="senior", real_name="赵高工"))
    assert response.status_code == 302
    worker.refresh_from_db()
    assert worker.level == "senior" and worker.real_name == "赵高工"
    response = client.post(reverse("social-worker-deactivate", args=[worker.pk]))
    assert response.status_code == 302
    worker.refresh_from_db()
    assert not worker.active


def test_staff_create_bad_input(login, world):
    outsider = f.user("outsider")
    client = login(world.users[Role.AGENCY_STAFF])
    response = client.post(
        reverse("social-worker-create"), {**_sw_post(world.agency), "user": str(outsider.pk)}
    )
    assert response.status_code == 400
    response = client.post(
        reverse("social-worker-create"),
        {**_sw_post(world.station), "user": str(world.users[Role.SOCIAL_WORKER].pk)},
    )
    assert response.status_code == 400
    assert SocialWorker.objects.count() == 0


@pytest.mark.parametrize(
    ("who", "status"),
    [
        (Role.SOCIAL_WORKER, 403),
        (Role.CIVIL_AFFAIRS_OFFICIAL, 403),
        (Role.VOLUNTEER, 403),
        ("station_staff", 404),
    ],
)
def test_staff_pages_refused(login, world, who, status):
    worker = _agency_worker(world)
    if who == "station_staff":
        user = f.user("zhanzhang", Role.AGENCY_STAFF, world.station)
    else:
        user = world.users[who]
    client = login(user)
    assert client.get(reverse("social-worker-edit", args=[worker.pk])).status_code == status
    assert (
        client.post(
            reverse("social-worker-edit", args=[worker.pk]), _sw_post(world.agency)
        ).status_code
        == status
    )
    assert client.post(reverse("social-worker-deactivate", args=[worker.pk])).status_code == status
    worker.refresh_from_db()
    assert worker.active and worker.real_name == "机构社工"
    if who != "station_staff":
        assert client.get(reverse("social-worker-create")).status_code == 403


def test_anonymous_pages_go_to_login(client, world):
    volunteer = b.registered(world)
    for url in [
        reverse("volunteer-detail", args=[volunteer.pk]),
        reverse("volunteer-list"),
        reverse("affiliation-list"),
        reverse("social-worker-list"),
        reverse("social-worker-me"),
    ]:
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response.url
    assert ServiceRecord.objects.count() == 0
