"""People services: registration (identity protection, duplicates, bad input), the account
sign-up in one transaction, profile edits, the audited full view, joining organisations and
social-worker profiles."""

from __future__ import annotations

import threading
from datetime import date, time, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from marketplace import crypto
from marketplace.models import Membership, Organisation, Role, ServiceType, User
from tests import factories as f
from tests.listening import deliver
from tests.volunteers import test_people_builders as b
from volunteers.exceptions import AlreadyRegistered, InvalidState, NotPermitted
from volunteers.models import (
    Affiliation,
    Availability,
    Certificate,
    SocialWorker,
    Volunteer,
    VolunteerAccess,
)
from volunteers.services import (
    ID_PURPOSE,
    PHONE_PURPOSE,
    AvailabilityInput,
    CertificateInput,
    affiliation_decide,
    affiliation_leave,
    affiliation_request,
    social_worker_deactivate,
    social_worker_save,
    volunteer_account_register,
    volunteer_register,
    volunteer_reveal,
    volunteer_update,
)

pytestmark = pytest.mark.django_db


def _nothing_saved(user=None):
    assert Volunteer.objects.count() == 0
    assert Availability.objects.count() == 0
    assert Certificate.objects.count() == 0
    if user is not None:
        assert not Membership.objects.filter(user=user, role=Role.VOLUNTEER).exists()


# --- Registration -------------------------------------------------------------------------


def test_purposes_are_the_stored_ones():
    assert ID_PURPOSE == "volunteer.id_number"
    assert PHONE_PURPOSE == "volunteer.phone"


def test_register_stores_identity_protected(world):
    user = f.user("xinren")
    data = b.registration(
        world,
        id_number=f.resident_id(date(1985, 7, 9)).lower(),
        certificates=[CertificateInput(name="红十字救护员证", issuer="合肥市红十字会")],
    )
    volunteer = volunteer_register(user=user, **data)
    plain = data["id_number"].upper()
    volunteer.refresh_from_db()
    assert plain not in volunteer.id_cipher and data["phone"] not in volunteer.phone_cipher
    assert crypto.decrypt(volunteer.id_cipher, purpose=ID_PURPOSE) == plain
    assert volunteer.id_masked == plain[:6] + "********" + plain[-4:]
    assert volunteer.phone_masked == data["phone"][:3] + "****" + data["phone"][-4:]
    assert Volunteer.objects.get(id_hash=crypto.lookup_hash(plain, purpose=ID_PURPOSE)) == volunteer
    assert volunteer.birth_date == date(1985, 7, 9)
    assert volunteer.street == world.street
    assert {s.code for s in volunteer.skills.all()} == {"care", "visiting"}
    assert [(a.weekday, a.start, a.end) for a in volunteer.availabilities.all()] == [
        (1, time(14), time(17))
    ]
    assert volunteer.certificates.get().issuer == "合肥市红十字会"
    assert Membership.objects.filter(user=user, role=Role.VOLUNTEER, organisation=None).exists()
    user.refresh_from_db()
    assert user.display_name == "张志愿"


def test_register_keeps_existing_volunteer_role(world):
    user = world.users[Role.VOLUNTEER]
    volunteer_register(user=user, **b.registration(world))
    assert Membership.objects.filter(user=user, role=Role.VOLUNTEER).count() == 2


def test_duplicate_id_refused(world):
    data = b.registration(world)
    volunteer_register(user=f.user("first"), **data)
    second = f.user("second")
    with pytest.raises(AlreadyRegistered) as exc:
        volunteer_register(user=second, **{**data, "phone": f.phone()})
    assert "已注册" in str(exc.value.message)
    assert Volunteer.objects.count() == 1
    assert not Membership.objects.filter(user=second).exists()


def test_same_user_registers_once(world):
    user = f.user("twice")
    volunteer_register(user=user, **b.registration(world))
    with pytest.raises(AlreadyRegistered):
        volunteer_register(user=user, **b.registration(world))
    assert Volunteer.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "field", "text"),
    [
        ({"id_number": "34010219900412001"}, "id_number", "18位"),
        ({"id_number": "X"}, "id_number", "18位"),
        ("bad_check", "id_number", "校验位"),
        ({"id_number": "340102199002300011"}, "id_number", "出生日期"),
        ({"phone": "12345"}, "phone", "手机号码"),
        ({"real_name": "  "}, "real_name", "姓名"),
        ("under_16", "id_number", "16周岁"),
        (
            {"availabilities": [AvailabilityInput(2, time(10), time(9))]},
            "availabilities",
            "结束时间应晚于开始时间",
        ),
        (
            {
                "availabilities": [
                    AvailabilityInput(5, time(9), time(12)),
                    AvailabilityInput(5, time(11), time(13)),
                ]
            },
            "availabilities",
            "重叠",
        ),
        ({"availabilities": [AvailabilityInput(9, time(9), time(10))]}, "availabilities", "星期"),
        ({"certificates": [CertificateInput(name=" ")]}, "certificates", "证书名称"),
        ("street_as_home", "home_community", "社区"),
    ],
)
def test_bad_registration_refused_and_nothing_saved(world, overrides, field, text):
    if overrides == "bad_check":
        good = f.resident_id(date(1990, 1, 1))
        overrides = {"id_number": good[:17] + ("0" if good[17] != "0" else "1")}
    elif overrides == "under_16":
        today = timezone.localdate()
        born = date(today.year - 16, today.month, 1) + timedelta(days=40)
        overrides = {"id_number": f.resident_id(born)}
    elif overrides == "street_as_home":
        overrides = {"home_community": world.street}
    user = f.user("bad")
    with pytest.raises(ValidationError) as exc:
        volunteer_register(user=user, **b.registration(world, **overrides))
    assert field in exc.value.message_dict
    assert any(text in m for m in exc.value.message_dict[field])
    _nothing_saved(user)


def test_sixteenth_birthday_today_is_enough(world):
    today = timezone.localdate()
    born = date(today.year - 16, today.month, min(today.day, 28))
    volunteer = volunteer_register(
        user=f.user("young"), **b.registration(world, id_number=f.resident_id(born))
    )
    assert volunteer.birth_date == born


def test_adjacent_windows_are_not_overlapping(world):
    volunteer = volunteer_register(
        user=f.user("adj"),
        **b.registration(
            world,
            availabilities=[
                AvailabilityInput(0, time(9), time(12)),
                AvailabilityInput(0, time(12), time(15)),
                AvailabilityInput(1, time(9), time(12)),
            ],
        ),
    )
    assert volunteer.availabilities.count() == 3


# --- Account and registration together ----------------------------------------------------


def test_account_register_creates_both(world):
    volunteer = volunteer_account_register(
        username="newvol",
        password="Ysh-volunteer-2024",
        email="newvol@example.test",
        **b.registration(world),
    )
    user = User.objects.get(username="newvol")
    assert volunteer.user == user
    assert user.check_password("Ysh-volunteer-2024")
    assert user.display_name == "张志愿"


@pytest.mark.parametrize(
    ("account", "field"),
    [
        ({"username": "ok1", "password": "123"}, "password"),
        ({"username": "ok2", "password": "password"}, "password"),
        ({"username": "bad name!", "password": "Ysh-volunteer-2024"}, "username"),
        ({"username": "ok3", "password": "Ysh-volunteer-2024", "email": "nope"}, "email"),
    ],
)
def test_account_register_bad_account_saves_nothing(world, account, field):
    before = User.objects.count()
    with pytest.raises(ValidationError) as exc:
        volunteer_account_register(**account, **b.registration(world))
    assert field in exc.value.message_dict
    assert User.objects.count() == before
    _nothing_saved()


def test_account_register_taken_username(world):
    with pytest.raises(ValidationError) as exc:
        volunteer_account_register(
            username="jiedao", password="Ysh-volunteer-2024", **b.registration(world)
        )
    assert "username" in exc.value.message_dict
    _nothing_saved()


def test_account_register_is_atomic_when_volunteer_fails(world):
    before = User.objects.count()
    with pytest.raises(ValidationError):
        volunteer_account_register(
            username="atomic", password="Ysh-volunteer-2024", **b.registration(world, phone="1")
        )
    assert User.objects.count() == before
    assert not User.objects.filter(username="atomic").exists()
    _nothing_saved()


def test_account_register_duplicate_id_leaves_no_account(world):
    data = b.registration(world)
    volunteer_register(user=f.user("holder"), **data)
    with pytest.raises(AlreadyRegistered):
        volunteer_account_register(username="copycat", password="Ysh-volunteer-2024", **data)
    assert not User.objects.filter(username="copycat").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_registrations_of_one_id_one_wins(world):
    data = b.registration(world)
    users = [f.user("race1"), f.user("race2")]
    barrier = threading.Barrier(2)
    outcomes = []

    def attempt(user):
        try:
            barrier.wait()
            volunteer_register(user=user, **{**data, "phone": f.phone()})
            outcomes.append("ok")
        except AlreadyRegistered:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok", "refused"]
    assert Volunteer.objects.count() == 1


# --- Profile edits ------------------------------------------------------------------------


def test_update_replaces_sets(world):
    volunteer = b.registered(world)
    volunteer_update(
        volunteer=volunteer,
        by=volunteer.user,
        skills=[],
        availabilities=[
            AvailabilityInput(5, time(8), time(11)),
            AvailabilityInput(6, time(8), time(11)),
        ],
        certificates=[CertificateInput(name="C1驾驶证")],
        home_community=world.community2,
        max_concurrent=4,
        introduction="  周末可驾车 ",
    )
    volunteer.refresh_from_db()
    assert volunteer.skills.count() == 0
    assert [a.weekday for a in volunteer.availabilities.all()] == [5, 6]
    assert volunteer.certificates.get().name == "C1驾驶证"
    assert volunteer.street == world.street2
    assert volunteer.max_concurrent == 4
    assert volunteer.introduction == "周末可驾车"


def test_update_leaves_unnamed_parts(world):
    volunteer = b.registered(world)
    volunteer_update(volunteer=volunteer, by=volunteer.user, max_concurrent=3)
    assert volunteer.availabilities.count() == 1
    assert volunteer.skills.count() == 2


def test_update_by_someone_else_refused(world):
    volunteer = b.registered(world)
    with pytest.raises(NotPermitted):
        volunteer_update(
            volunteer=volunteer, by=world.users[Role.CIVIL_AFFAIRS_OFFICIAL], max_concurrent=5
        )
    volunteer.refresh_from_db()
    assert volunteer.max_concurrent == 2


@pytest.mark.parametrize(
    "changes",
    [
        {
            "availabilities": [
                AvailabilityInput(3, time(9), time(11)),
                AvailabilityInput(3, time(10), time(12)),
            ]
        },
        {"availabilities": [AvailabilityInput(3, time(9), time(9))]},
        {"max_concurrent": 0},
        {"max_concurrent": 11},
        {"home_community": "street"},
    ],
)
def test_bad_update_changes_nothing(world, changes):
    volunteer = b.registered(world)
    if changes.get("home_community") == "street":
        changes = {"home_community": world.street}
    with pytest.raises(ValidationError):
        volunteer_update(
            volunteer=volunteer, by=volunteer.user, skills=[], introduction="改了", **changes
        )
    volunteer.refresh_from_db()
    assert volunteer.availabilities.count() == 1
    assert volunteer.skills.count() == 2
    assert volunteer.introduction == "退休教师，周二下午有空"
    assert volunteer.max_concurrent == 2


# --- The audited full view ----------------------------------------------------------------


def test_reveal_by_civil_affairs_audited(world):
    volunteer = b.registered(world)
    official = world.users[Role.CIVIL_AFFAIRS_OFFICIAL]
    value = volunteer_reveal(volunteer=volunteer, by=official, field="id_number", reason="核查")
    assert value == volunteer.full_id
    phone = volunteer_reveal(volunteer=volunteer, by=official, field="phone", reason="联系")
    assert phone == volunteer.full_phone
    rows = VolunteerAccess.objects.order_by("pk")
    assert [(r.user, r.field, r.reason) for r in rows] == [
        (official, "id_number", "核查"),
        (official, "phone", "联系"),
    ]


def test_reveal_by_street_official_and_manager(world):
    volunteer = b.registered(world)
    assert (
        volunteer_reveal(
            volunteer=volunteer, by=world.users[Role.STREET_OFFICIAL], field="phone", reason="联系"
        )
        == volunteer.full_phone
    )
    manager = world.users[Role.VOLUNTEER_MANAGER]
    with pytest.raises(NotPermitted):
        volunteer_reveal(volunteer=volunteer, by=manager, field="phone", reason="联系")
    b.member_of(world, volunteer)
    assert volunteer_reveal(volunteer=volunteer, by=manager, field="phone", reason="联系")
    assert VolunteerAccess.objects.count() == 2


@pytest.mark.parametrize(
    "who",
    [
        Role.AUDITOR,
        Role.COMMUNITY_WORKER,
        Role.AGENCY_STAFF,
        Role.SOCIAL_WORKER,
        Role.VOLUNTEER,
        Role.APPLICANT,
        "street_official2",
        "other_manager",
        "self",
    ],
)
def test_reveal_refused_for_others(world, who):
    volunteer = b.registered(world)
    b.member_of(world, volunteer)
    if who == "street_official2":
        user = world.street_official2
    elif who == "other_manager":
        user = b.other_volunteer_org(world).manager
    elif who == "self":
        user = volunteer.user
    else:
        user = world.users[who]
    with pytest.raises(NotPermitted):
        volunteer_reveal(volunteer=volunteer, by=user, field="id_number", reason="看看")
    assert VolunteerAccess.objects.count() == 0


@pytest.mark.parametrize(("field", "reason"), [("id_number", "  "), ("address", "核查")])
def test_reveal_bad_input_not_audited(world, field, reason):
    volunteer = b.registered(world)
    with pytest.raises(ValidationError):
        volunteer_reveal(
            volunteer=volunteer,
            by=world.users[Role.CIVIL_AFFAIRS_OFFICIAL],
            field=field,
            reason=reason,
        )
    assert VolunteerAccess.objects.count() == 0


# --- Joining organisations ----------------------------------------------------------------


def test_affiliation_flow_with_notices(world, django_capture_on_commit_callbacks):
    volunteer = b.registered(world)
    manager = world.users[Role.VOLUNTEER_MANAGER]
    with django_capture_on_commit_callbacks() as callbacks:
        affiliation = affiliation_request(
            volunteer=volunteer, organisation=world.federation, message="住在本街道"
        )
    got = deliver(callbacks, [manager, world.users[Role.STREET_OFFICIAL]])
    assert got[manager.pk][0]["event"] == "affiliation.requested"
    assert got[world.users[Role.STREET_OFFICIAL].pk][0]["event"] == "affiliation.requested"
    assert affiliation.status == Affiliation.Status.PENDING

    with django_capture_on_commit_callbacks() as callbacks:
        affiliation_decide(affiliation=affiliation, by=manager, approve=True, note="欢迎")
    got = deliver(callbacks, [volunteer.user])
    assert got[volunteer.user.pk] == [
        {
            "event": "affiliation.decided",
            "message": "您已加入 明光路街道志愿者联合会。",
            "affiliation": {"id": affiliation.pk, "status": "approved"},
        }
    ]
    affiliation.refresh_from_db()
    assert affiliation.status == Affiliation.Status.APPROVED
    assert affiliation.decided_by == manager and affiliation.decision_note == "欢迎"
    assert Membership.objects.filter(
        user=volunteer.user, role=Role.VOLUNTEER, organisation=world.federation
    ).exists()

    affiliation_leave(affiliation=affiliation, by=volunteer.user)
    affiliation.refresh_from_db()
    assert affiliation.status == Affiliation.Status.LEFT
    assert not Membership.objects.filter(
        user=volunteer.user, organisation=world.federation
    ).exists()
    # The registration's own role stays.
    assert Membership.objects.filter(user=volunteer.user, organisation=None).exists()
    # A member who left may ask again.
    assert affiliation_request(volunteer=volunteer, organisation=world.federation)


def test_street_official_decides_for_federation(world, django_capture_on_commit_callbacks):
    volunteer = b.registered(world)
    affiliation = affiliation_request(volunteer=volunteer, organisation=world.federation)
    with django_capture_on_commit_callbacks() as callbacks:
        affiliation_decide(
            affiliation=affiliation,
            by=world.users[Role.STREET_OFFICIAL],
            approve=False,
            note="请先参加培训",
        )
    got = deliver(callbacks, [volunteer.user])
    assert "请先参加培训" in got[volunteer.user.pk][0]["message"]
    affiliation.refresh_from_db()
    assert affiliation.status == Affiliation.Status.REJECTED
    assert not Membership.objects.filter(organisation=world.federation, user=volunteer.user)


@pytest.mark.parametrize("who", ["street_official2", "other_manager", "volunteer", "civil"])
def test_wrong_decider_refused(world, who):
    volunteer = b.registered(world)
    affiliation = affiliation_request(volunteer=volunteer, organisation=world.federation)
    user = {
        "street_official2": lambda: world.street_official2,
        "other_manager": lambda: b.other_volunteer_org(world).manager,
        "volunteer": lambda: volunteer.user,
        "civil": lambda: world.users[Role.CIVIL_AFFAIRS_OFFICIAL],
    }[who]()
    with pytest.raises(NotPermitted):
        affiliation_decide(affiliation=affiliation, by=user, approve=True)
    affiliation.refresh_from_db()
    assert affiliation.status == Affiliation.Status.PENDING
    assert not Membership.objects.filter(organisation=world.federation, user=volunteer.user)


def test_street_official_does_not_decide_for_volunteer_org(world):
    org = f.organisation("明光路青年志愿服务队", Organisation.Kind.VOLUNTEER_ORG, world.community)
    affiliation = affiliation_request(volunteer=b.registered(world), organisation=org)
    with pytest.raises(NotPermitted):
        affiliation_decide(
            affiliation=affiliation, by=world.users[Role.STREET_OFFICIAL], approve=True
        )


def test_decide_twice_refused(world):
    affiliation = affiliation_request(volunteer=b.registered(world), organisation=world.federation)
    manager = world.users[Role.VOLUNTEER_MANAGER]
    affiliation_decide(affiliation=affiliation, by=manager, approve=False)
    with pytest.raises(InvalidState):
        affiliation_decide(affiliation=affiliation, by=manager, approve=True)
    assert not Membership.objects.filter(
        organisation=world.federation, role=Role.VOLUNTEER
    ).exclude(user=world.users[Role.VOLUNTEER])


@pytest.mark.parametrize("target", ["charity", "pending_in_street", "agency"])
def test_request_to_wrong_organisation_refused(world, target):
    volunteer = b.registered(world)
    with pytest.raises((ValidationError, InvalidState)):
        affiliation_request(volunteer=volunteer, organisation=getattr(world, target))
    assert Affiliation.objects.count() == 0


def test_second_live_request_refused(world):
    volunteer = b.registered(world)
    affiliation_request(volunteer=volunteer, organisation=world.federation)
    with pytest.raises(InvalidState) as exc:
        affiliation_request(volunteer=volunteer, organisation=world.federation)
    assert "等待审核" in str(exc.value.message)
    assert Affiliation.objects.count() == 1


def test_manager_removes_member_and_outsider_cannot(world, django_capture_on_commit_callbacks):
    volunteer = b.registered(world)
    affiliation = b.member_of(world, volunteer)
    with pytest.raises(NotPermitted):
        affiliation_leave(affiliation=affiliation, by=b.registered(world).user)
    with django_capture_on_commit_callbacks() as callbacks:
        affiliation_leave(affiliation=affiliation, by=world.users[Role.VOLUNTEER_MANAGER])
    assert deliver(callbacks, [volunteer.user])[volunteer.user.pk][0]["event"] == "affiliation.left"
    with pytest.raises(InvalidState):
        affiliation_leave(affiliation=affiliation, by=volunteer.user)


# --- Social workers -----------------------------------------------------------------------


def _profile(**overrides):
    data = {
        "real_name": "李社工",
        "level": SocialWorker.Level.INTERMEDIATE,
        "certificate_number": "SW-2021-001",
        "specialties": list(ServiceType.objects.filter(code__in=["visiting", "counselling"])),
        "max_concurrent": 3,
    }
    data.update(overrides)
    return data


def test_social_worker_fills_own_profile(world):
    user = world.users[Role.SOCIAL_WORKER]
    worker = social_worker_save(by=user, user=user, organisation=world.station, **_profile())
    assert worker.organisation == world.station and worker.active
    assert worker.specialties.count() == 2
    again = social_worker_save(
        by=user, user=user, organisation=world.station, **_profile(max_concurrent=5)
    )
    assert again.pk == worker.pk and again.max_concurrent == 5


def test_agency_staff_register_and_deactivate(world):
    staff = world.users[Role.AGENCY_STAFF]
    person = f.user("agencysw", Role.SOCIAL_WORKER, world.agency)
    worker = social_worker_save(by=staff, user=person, organisation=world.agency, **_profile())
    social_worker_deactivate(social_worker=worker, by=staff)
    worker.refresh_from_db()
    assert not worker.active
    # Editing a profile does not bring a departed worker back.
    social_worker_save(by=person, user=person, organisation=world.agency, **_profile())
    worker.refresh_from_db()
    assert not worker.active
    with pytest.raises(InvalidState):
        social_worker_deactivate(social_worker=worker, by=staff)


@pytest.mark.parametrize(
    "case",
    ["staff_other_org", "not_a_member", "self_without_role", "volunteer_org", "stranger"],
)
def test_social_worker_save_refused(world, case):
    staff = world.users[Role.AGENCY_STAFF]
    station_worker = world.users[Role.SOCIAL_WORKER]
    args = {
        "staff_other_org": (staff, station_worker, world.station, NotPermitted),
        "not_a_member": (staff, f.user("nobody"), world.agency, ValidationError),
        "self_without_role": (station_worker, station_worker, world.agency, NotPermitted),
        "volunteer_org": (station_worker, station_worker, world.federation, ValidationError),
        "stranger": (world.users[Role.VOLUNTEER], station_worker, world.station, NotPermitted),
    }[case]
    by, user, organisation, error = args
    with pytest.raises(error):
        social_worker_save(by=by, user=user, organisation=organisation, **_profile())
    assert SocialWorker.objects.count() == 0


def test_certified_level_needs_number(world):
    user = world.users[Role.SOCIAL_WORKER]
    with pytest.raises(ValidationError) as exc:
        social_worker_save(
            by=user, user=user, organisation=world.station, **_profile(certificate_number=" ")
        )
    assert "certificate_number" in exc.value.message_dict
    assert SocialWorker.objects.count() == 0


def test_deactivate_by_other_org_refused(world):
    user = world.users[Role.SOCIAL_WORKER]
    worker = social_worker_save(by=user, user=user, organisation=world.station, **_profile())
    with pytest.raises(NotPermitted):
        social_worker_deactivate(social_worker=worker, by=world.users[Role.AGENCY_STAFF])
    worker.refresh_from_db()
    assert worker.active
