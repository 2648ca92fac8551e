"""The case services on the real database: intake through the window, online and by
discovery; one household per resident ID; consents; duplicate submissions; the need
lifecycle; referrals and their loop back to the referring worker; the audited full view of
sensitive values. Every refusal is checked to change nothing."""

import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from marketplace import crypto
from marketplace.exceptions import InvalidState, NotPermitted
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
)
from marketplace.services import (
    DuplicateSubmission,
    MemberInput,
    NeedInput,
    case_apply_online,
    case_candidate_verify,
    case_register,
    case_report_discovery,
    household_find,
    need_create,
    need_transition,
    referral_accept,
    referral_complete,
    referral_return,
    referral_send,
    sensitive_reveal,
)
from marketplace.services.cases import ID_PURPOSE, PHONE_PURPOSE
from marketplace.validators import resident_id_check_char
from tests import factories as f
from tests.listening import deliver

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
PROVIDERS = [Role.CHARITY_STAFF, Role.AGENCY_STAFF, Role.SOCIAL_WORKER, Role.VOLUNTEER]
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
    b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


# --- helpers ------------------------------------------------------------------------------


def _snapshot():
    """Row counts of everything the case services write."""
    return tuple(
        m.objects.count()
        for m in (Case, CaseMember, Consent, Need, NeedTransition, Referral, SensitiveAccess)
    )


def _member(name="王建国", born=date(1968, 5, 1), relationship="head", **flags):
    return MemberInput(name=name, id_number=f.resident_id(born), relationship=relationship, **flags)


def _need_input(**overrides):
    today = timezone.localdate()
    values = {
        "kind": Need.Kind.SERVICE,
        "service_type": ServiceType.objects.get(code="visiting"),
        "window_start": today,
        "window_end": today + timedelta(days=30),
        "public_description": "高龄老人需要每周上门探访。",
        "team": {"volunteer": 1},
    }
    values.update(overrides)
    return NeedInput(**values)


def _register(world, *, by=None, community=None, members=None, **kwargs):
    kwargs.setdefault("sensitive_consent_by", "王建国")
    return case_register(
        created_by=by or world.users[Role.COMMUNITY_WORKER],
        community=community or world.community,
        members=members or [_member()],
        **kwargs,
    )


def _years_ago(years, days=0):
    today = timezone.localdate()
    try:
        born = today.replace(year=today.year - years)
    except ValueError:
        born = today.replace(year=today.year - years, day=28)
    return born + timedelta(days=days)


# --- case_register ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("income", "expected"),
    [
        ("0", "dibao"),
        ("799.99", "dibao"),
        ("800", "low_income"),  # at the standard: no longer 低保
        ("1599.99", "low_income"),
        ("1600", ""),  # twice the standard: neither
    ],
)
def test_register_derives_the_category_from_the_standard(world, income, expected):
    result = _register(world, income_per_capita=Decimal(income))
    assert result.case.category == expected
    assert not result.linked


def test_register_keeps_a_category_the_income_supports(world):
    case = _register(world, category="low_income", income_per_capita=Decimal("1200")).case
    assert case.category == "low_income"


@pytest.mark.parametrize(
    ("category", "income", "assets"),
    [
        ("low_income", "1700", True),  # above twice the standard
        ("low_income", "500", True),  # that is 低保, not 低收入
        ("dibao", "900", True),
        ("low_income", "1000", False),  # assets outside the rules
    ],
)
def test_register_refuses_a_category_the_income_does_not_support(world, category, income, assets):
    before = _snapshot()
    with pytest.raises(ValidationError) as exc:
        _register(
            world,
            category=category,
            income_per_capita=Decimal(income),
            assets_within_rules=assets,
        )
    assert "category" in exc.value.message_dict
    assert "低保标准800" in exc.value.message_dict["category"][0]
    assert _snapshot() == before


def test_register_requires_an_income_for_income_categories(world):
    with pytest.raises(ValidationError) as exc:
        _register(world, category="dibao")
    assert "income_per_capita" in exc.value.message_dict


@pytest.mark.parametrize("income", ["-1", "100000.01", "9999999"])
def test_register_refuses_impossible_incomes(world, income):
    before = _snapshot()
    with pytest.raises(ValidationError) as exc:
        _register(world, income_per_capita=Decimal(income))
    assert "income_per_capita" in exc.value.message_dict
    assert _snapshot() == before


def _with_check(first17):
    return first17 + resident_id_check_char(first17)


def _wrong_check():
    valid = f.resident_id(date(1980, 1, 1))
    other = next(c for c in "0123456789X" if c != valid[-1])
    return valid[:17] + other


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_wrong_check, "校验位"),
        (lambda: _with_check("34010219990230123"), "不存在"),  # 30 February
        (lambda: _with_check(f"340102{timezone.localdate().year + 1}0101123"), "不合理"),
        (lambda: "3401021980010112", "18位"),
        (lambda: "34010219800101123Y", "18位"),
    ],
)
def test_register_refuses_invalid_resident_ids(world, make, message):
    before = _snapshot()
    with pytest.raises(ValidationError) as exc:
        _register(
            world, members=[MemberInput(name="王建国", id_number=make(), relationship="head")]
        )
    assert message in " ".join(exc.value.messages)
    assert _snapshot() == before


def test_register_stores_ids_and_phones_only_protected(world):
    head = _member()
    phone = f.phone()
    case = _register(world, members=[head], phone=phone, address="明光路1号").case
    member = case.members.get()
    assert head.id_number not in member.id_cipher and phone not in case.phone_cipher
    assert crypto.decrypt(member.id_cipher, purpose=ID_PURPOSE) == head.id_number
    assert member.id_hash == crypto.lookup_hash(head.id_number, purpose=ID_PURPOSE)
    assert member.id_masked == head.id_number[:6] + "********" + head.id_number[-4:]
    assert member.birth_date == date(1968, 5, 1)
    assert case.phone_masked == phone[:3] + "****" + phone[-4:]
    assert crypto.decrypt(case.phone_cipher, purpose=PHONE_PURPOSE) == phone
    assert case.street == world.street and case.channel == "window"


def test_one_household_per_resident_id(world):
    head, spouse = _member(), _member("李秀兰", date(1970, 3, 3), "spouse")
    first = _register(world, members=[head, spouse], need=_need_input())
    newcomer = _member("赵六", date(1990, 1, 1))
    before = _snapshot()
    # Any member's ID on file (here with spaces, as typed at a window) finds the household.
    spaced = spouse.id_number[:6] + " " + spouse.id_number[6:]
    second = _register(
        world,
        by=world.users[Role.STREET_OFFICIAL],
        members=[newcomer, MemberInput(name="李秀兰", id_number=spaced, relationship="spouse")],
        need=_need_input(public_description="再次申请"),
        sensitive_consent_by="赵六",
    )
    assert second.linked and second.case == first.case
    assert second.need.case == first.case and second.need.status == Need.Status.SUBMITTED
    cases, members, consents, needs, *_ = _snapshot()
    assert (cases, members, consents) == before[:3]
    assert needs == before[3] + 1
    assert household_find(id_numbers=[newcomer.id_number]) is None


def test_guardian_consent_is_required_for_a_child_under_14_and_recorded(world):
    child = _member("王小明", _years_ago(10), "child")
    members = [_member(), child]
    before = _snapshot()
    with pytest.raises(ValidationError) as exc:
        _register(world, members=members)
    assert "guardian_name" in exc.value.message_dict
    assert _snapshot() == before
    case = _register(world, members=members, guardian_name="王建国").case
    consent = case.consents.get(kind=Consent.Kind.GUARDIAN)
    assert consent.member.name == "王小明" and consent.given_by_name == "王建国"
    assert consent.recorded_by == world.users[Role.COMMUNITY_WORKER]


def test_a_child_of_14_needs_no_guardian_consent(world):
    case = _register(world, members=[_member(), _member("王小红", _years_ago(14), "child")]).case
    assert not case.consents.filter(kind=Consent.Kind.GUARDIAN).exists()


def test_sensitive_information_consent_is_required_and_recorded(world):
    before = _snapshot()
    with pytest.raises(ValidationError) as exc:
        _register(world, sensitive_consent_by="  ")
    assert "sensitive_consent_by" in exc.value.message_dict
    assert _snapshot() == before
    case = _register(world, sensitive_consent_by="王建国").case
    consent = case.consents.get(kind=Consent.Kind.SENSITIVE_INFO)
    assert consent.given_by_name == "王建国" and consent.given_at is not None


def test_the_same_form_submitted_twice_is_refused(world):
    key = uuid.uuid4()
    first = _register(world, need=_need_input(), submission_key=key)
    before = _snapshot()
    with pytest.raises(DuplicateSubmission) as exc:
        _register(world, members=[_member("另一户")], need=_need_input(), submission_key=key)
    assert exc.value.existing == first.case
    assert _snapshot() == before


def test_a_linked_registration_submitted_twice_is_refused(world):
    head = _member()
    _register(world, members=[head])
    key = uuid.uuid4()
    again = MemberInput(name="王建国", id_number=head.id_number, relationship="head")
    linked = _register(world, members=[again], need=_need_input(), submission_key=key)
    assert linked.linked
    before = _snapshot()
    with pytest.raises(DuplicateSubmission):
        _register(world, members=[again], need=_need_input(), submission_key=key)
    assert _snapshot() == before


@pytest.mark.parametrize("role", [*PROVIDERS, Role.AUDITOR, Role.APPLICANT])
def test_register_refused_for_roles_without_case_work(world, role):
    before = _snapshot()
    with pytest.raises(NotPermitted):
        _register(world, by=world.users[role])
    assert _snapshot() == before


def test_register_refused_outside_the_workers_community_or_street(world):
    before = _snapshot()
    with pytest.raises(NotPermitted):
        _register(world, by=world.community_worker2)
    with pytest.raises(NotPermitted):
        _register(world, by=world.street_official2)
    assert _snapshot() == before
    # Their own places are fine; so is the street official of the case's street.
    assert _register(world, by=world.community_worker2, community=world.community2).case
    assert _register(world, by=world.users[Role.STREET_OFFICIAL], members=[_member("甲")]).case


def test_department_staff_register_a_referral(world):
    case = _register(world, by=world.users[Role.DEPARTMENT_STAFF], need=_need_input()).case
    assert case.channel == "referral" and case.referred_by == world.housing
    assert case.needs.get().channel == "referral"


# --- case_apply_online --------------------------------------------------------------------


def _apply(world, *, applicant=None, id_number=None, **kwargs):
    values = {
        "applicant": applicant or world.users[Role.APPLICANT],
        "id_number": id_number or f.resident_id(date(1985, 6, 1)),
        "phone": f.phone(),
        "community": world.community,
        "difficulty": "丈夫住院，收入中断。",
        "kind": Need.Kind.FUNDS,
        "service_type": ServiceType.objects.get(code="temporary_expenditure"),
        "finance_check_consent": True,
        "amount": Decimal("2000"),
    }
    values.update(kwargs)
    return case_apply_online(**values)


def test_online_application_creates_a_case_and_a_submitted_need(world):
    result = _apply(world)
    case, need = result.case, result.need
    assert not result.linked
    assert case.channel == "online" and case.applicant == world.users[Role.APPLICANT]
    assert need.channel == "online" and need.status == Need.Status.SUBMITTED
    assert case.members.get().relationship == "head"
    assert {c.kind for c in case.consents.all()} == {"finance_check", "sensitive_info"}


@pytest.mark.parametrize(
    "role", [Role.COMMUNITY_WORKER, Role.VOLUNTEER, Role.CIVIL_AFFAIRS_OFFICIAL]
)
def test_online_application_is_for_applicants_only(world, role):
    before = _snapshot()
    with pytest.raises(NotPermitted):
        _apply(world, applicant=world.users[role])
    assert _snapshot() == before


def test_online_application_requires_the_finance_check_consent(world):
    before = _snapshot()
    with pytest.raises(ValidationError) as exc:
        _apply(world, finance_check_consent=False)
    assert "finance_check_consent" in exc.value.message_dict
    assert _snapshot() == before


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (lambda: SimpleUploadedFile("scan.png", PNG + b"\0" * (5 * 1024 * 1024)), "文件过大"),
        (lambda: SimpleUploadedFile("letter.pdf", "我同意核对。".encode() * 10), "只接受"),
        (lambda: SimpleUploadedFile("letter.pdf", b""), "只接受"),
    ],
)
def test_online_application_refuses_bad_letters(world, upload, message):
    before = _snapshot()
    with pytest.raises(ValidationError) as exc:
        _apply(world, letter=upload())
    assert message in exc.value.message_dict["letter"][0]
    assert _snapshot() == before


@pytest.mark.parametrize(("name", "content"), [("scan.png", PNG), ("letter.pdf", PDF)])
def test_online_application_accepts_real_png_and_pdf_letters(
    world, settings, tmp_path, name, content
):
    settings.MEDIA_ROOT = str(tmp_path)
    case = _apply(world, letter=SimpleUploadedFile(name, content)).case
    consent = case.consents.get(kind=Consent.Kind.FINANCE_CHECK)
    assert consent.letter.name.startswith("consents/")
    assert consent.letter.read() == content


def test_online_application_joins_a_household_on_file(world):
    head = _member()
    registered = _register(world, members=[head]).case
    before = _snapshot()
    result = _apply(world, id_number=head.id_number)
    assert result.linked and result.case == registered
    registered.refresh_from_db()
    assert registered.applicant == world.users[Role.APPLICANT]
    assert "丈夫住院" in registered.situation
    cases, members, *_ = _snapshot()
    assert (cases, members) == before[:2]
    assert result.need.case == registered


def test_another_applicant_with_the_same_id_is_refused(world):
    id_number = f.resident_id(date(1985, 6, 1))
    _apply(world, id_number=id_number)
    other = f.user("shenqing2", Role.APPLICANT)
    before = _snapshot()
    with pytest.raises(NotPermitted):
        _apply(world, applicant=other, id_number=id_number)
    assert _snapshot() == before


def test_the_applicant_hears_of_each_status_change(world, django_capture_on_commit_callbacks):
    need = _apply(world).need
    applicant = world.users[Role.APPLICANT]
    with django_capture_on_commit_callbacks() as callbacks:
        need_transition(need=need, to=Need.Status.CONFIRMED, by=world.users[Role.STREET_OFFICIAL])
    received = deliver(callbacks, [applicant, world.users[Role.VOLUNTEER]])
    assert [p["event"] for p in received[applicant.pk]] == ["need.status"]
    assert received[applicant.pk][0]["need"] == {"id": need.pk, "status": "confirmed"}
    assert received[world.users[Role.VOLUNTEER].pk] == []


# --- discovery ----------------------------------------------------------------------------

T = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)


def _discover(world, *, by=None, id_number=None, **kwargs):
    values = {
        "reported_by": by or world.users[Role.COMMUNITY_WORKER],
        "community": world.community,
        "head_name": "孙大爷",
        "id_number": id_number or f.resident_id(date(1950, 1, 1)),
        "situation": "网格员走访发现：独居，摔伤未就医。",
    }
    values.update(kwargs)
    return case_report_discovery(**values)


def test_discovery_makes_a_candidate_with_a_deadline(world):
    with time_machine.travel(T, tick=False):
        case = _discover(world).case
    assert case.status == Case.Status.CANDIDATE and case.channel == "discovery"
    assert case.verify_deadline == T + timedelta(days=3)
    assert case.members.get().relationship == "head"
    with time_machine.travel(T + timedelta(days=3) - timedelta(minutes=1), tick=False):
        assert not case.candidate_overdue
    with time_machine.travel(T + timedelta(days=3, minutes=1), tick=False):
        assert case.candidate_overdue


def test_discovery_deadline_follows_the_setting(world, settings):
    settings.DISCOVERY_VERIFY_DAYS = 5
    with time_machine.travel(T, tick=False):
        assert _discover(world).case.verify_deadline == T + timedelta(days=5)


def test_discovery_refusals_change_nothing(world):
    before = _snapshot()
    with pytest.raises(NotPermitted):
        _discover(world, by=world.community_worker2)
    with pytest.raises(NotPermitted):
        _discover(world, by=world.users[Role.VOLUNTEER])
    with pytest.raises(ValidationError):
        _discover(world, situation=" ")
    with pytest.raises(ValidationError):
        _discover(world, id_number="340102195001011234X")
    assert _snapshot() == before


def test_discovery_of_a_household_on_file_links_it(world):
    head = _member()
    registered = _register(world, members=[head]).case
    before = _snapshot()
    result = _discover(world, id_number=head.id_number)
    assert result.linked and result.case == registered
    assert _snapshot() == before


def test_the_community_verifies_a_candidate(world):
    with time_machine.travel(T, tick=False):
        case = _discover(world).case
    worker = world.users[Role.COMMUNITY_WORKER]
    for outsider in (world.community_worker2, world.street_official2, world.users[Role.AUDITOR]):
        with pytest.raises(NotPermitted):
            case_candidate_verify(case=case, by=outsider, confirmed=True, note="看过了")
    with pytest.raises(ValidationError):
        case_candidate_verify(case=case, by=worker, confirmed=True, note=" ")
    case.refresh_from_db()
    assert case.status == Case.Status.CANDIDATE and case.verified_by is None
    with time_machine.travel(T + timedelta(days=4), tick=False):
        verified = case_candidate_verify(case=case, by=worker, confirmed=True, note="入户核实属实")
        assert not verified.candidate_overdue
    assert verified.status == Case.Status.ACTIVE
    assert verified.verified_by == worker and verified.verified_at == T + timedelta(days=4)
    assert verified.verify_note == "入户核实属实"
    with pytest.raises(InvalidState):
        case_candidate_verify(case=case, by=worker, confirmed=False, note="再核")


def test_a_candidate_not_as_reported_is_dismissed(world):
    case = _discover(world).case
    dismissed = case_candidate_verify(
        case=case, by=world.users[Role.STREET_OFFICIAL], confirmed=False, note="已搬离本社区"
    )
    assert dismissed.status == Case.Status.DISMISSED
    with pytest.raises(InvalidState):
        need_create(
            case=dismissed, created_by=world.users[Role.COMMUNITY_WORKER], spec=_need_input()
        )


# --- need lifecycle -----------------------------------------------------------------------

HAPPY = [
    Need.Status.SUBMITTED,
    Need.Status.CONFIRMED,
    Need.Status.OPEN,
    Need.Status.MATCHED,
    Need.Status.IN_PROGRESS,
    Need.Status.DONE,
    Need.Status.CLOSED,
]


def _draft(world, **need):
    case = _register(world).case
    return need_create(
        case=case,
        created_by=world.users[Role.COMMUNITY_WORKER],
        spec=_need_input(**need),
        submit=False,
    )


def test_the_happy_path_records_every_step(world):
    worker, official = world.users[Role.COMMUNITY_WORKER], world.users[Role.STREET_OFFICIAL]
    need = _draft(world)
    assert need.status == Need.Status.DRAFT
    for n, status in enumerate(HAPPY, start=1):
        actor = worker if status == Need.Status.SUBMITTED else official
        with time_machine.travel(T + timedelta(hours=n), tick=False):
            need = need_transition(need=need, to=status, by=actor)
        assert need.status == status
    steps = list(NeedTransition.objects.filter(need=need).order_by("pk"))
    assert [(s.from_status, s.to_status) for s in steps] == list(
        zip(["", "draft", *HAPPY[:-1]], ["draft", *HAPPY], strict=True)
    )
    assert [s.by for s in steps] == [worker, worker] + [official] * 6
    assert [s.at for s in steps[1:]] == [T + timedelta(hours=n) for n in range(1, 8)]
    assert all(s.reason == "" for s in steps)
    need.refresh_from_db()
    assert need.submitted_at == T + timedelta(hours=1)


def test_civil_affairs_may_decide_too(world):
    need = _register(world, need=_need_input()).need
    need = need_transition(need=need, to="confirmed", by=world.users[Role.CIVIL_AFFAIRS_OFFICIAL])
    assert need.status == "confirmed"


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ([], Need.Status.OPEN),  # draft → open skips submission
        ([], Need.Status.DONE),
        ([Need.Status.SUBMITTED], Need.Status.MATCHED),
        ([Need.Status.SUBMITTED, Need.Status.REJECTED], Need.Status.CONFIRMED),
        (HAPPY, Need.Status.OPEN),  # closed is final
        (HAPPY[:6], Need.Status.CANCELLED),  # done cannot be cancelled
        ([], "flying"),
    ],
)
def test_disallowed_transitions_change_nothing(world, path, target):
    official = world.users[Role.STREET_OFFICIAL]
    need = _draft(world)
    for status in path:
        need = need_transition(need=need, to=status, by=official, reason="不符合条件")
    before = (need.status, NeedTransition.objects.filter(need=need).count())
    with pytest.raises(InvalidState):
        need_transition(need=need, to=target, by=official, reason="试试")
    need.refresh_from_db()
    assert (need.status, NeedTransition.objects.filter(need=need).count()) == before


@pytest.mark.parametrize("target", [Need.Status.REJECTED, Need.Status.CANCELLED])
def test_reject_and_cancel_require_a_reason(world, target):
    official = world.users[Role.STREET_OFFICIAL]
    need = _register(world, need=_need_input()).need
    with pytest.raises(ValidationError) as exc:
        need_transition(need=need, to=target, by=official, reason="  ")
    assert "reason" in exc.value.message_dict
    need.refresh_from_db()
    assert need.status == Need.Status.SUBMITTED
    need = need_transition(need=need, to=target, by=official, reason="家庭情况已改善")
    assert need.status == target and need.status_reason == "家庭情况已改善"
    assert NeedTransition.objects.filter(need=need).last().reason == "家庭情况已改善"


def test_opening_requires_a_public_description(world):
    official = world.users[Role.STREET_OFFICIAL]
    need = _register(world, need=_need_input(public_description="")).need
    need = need_transition(need=need, to=Need.Status.CONFIRMED, by=official)
    with pytest.raises(ValidationError) as exc:
        need_transition(need=need, to=Need.Status.OPEN, by=official)
    assert "public_description" in exc.value.message_dict
    need.refresh_from_db()
    assert need.status == Need.Status.CONFIRMED
    need = need_transition(
        need=need, to=Need.Status.OPEN, by=official, public_description="独居老人需要探访。"
    )
    assert need.status == Need.Status.OPEN and need.public_description == "独居老人需要探访。"


@pytest.mark.parametrize("who", ["community_worker", "street_official2", "auditor", "charity"])
def test_only_the_streets_officials_and_civil_affairs_confirm(world, who):
    actor = {
        "community_worker": world.users[Role.COMMUNITY_WORKER],
        "street_official2": world.street_official2,
        "auditor": world.users[Role.AUDITOR],
        "charity": world.users[Role.CHARITY_STAFF],
    }[who]
    need = _register(world, need=_need_input()).need
    with pytest.raises(NotPermitted):
        need_transition(need=need, to=Need.Status.CONFIRMED, by=actor)
    need.refresh_from_db()
    assert need.status == Need.Status.SUBMITTED
    assert NeedTransition.objects.filter(need=need).count() == 2


def test_staff_may_cancel_with_a_reason(world):
    need = _register(world, need=_need_input()).need
    need = need_transition(
        need=need, to="cancelled", by=world.users[Role.COMMUNITY_WORKER], reason="重复登记"
    )
    assert need.status == "cancelled"


# --- referrals ----------------------------------------------------------------------------


def _send(world, **kwargs):
    if "case" not in kwargs:
        kwargs["case"] = _register(world, members=[_member(f"户主{uuid.uuid4().hex[:4]}")]).case
    values = {
        "by": world.users[Role.COMMUNITY_WORKER],
        "department": world.housing,
        "reason": "住房困难，申请公租房。",
    }
    values.update(kwargs)
    return referral_send(**values)


def test_referral_send_accept_complete_closes_the_loop(world, django_capture_on_commit_callbacks):
    worker, staff = world.users[Role.COMMUNITY_WORKER], world.users[Role.DEPARTMENT_STAFF]
    with time_machine.travel(T, tick=False), django_capture_on_commit_callbacks() as sent:
        referral = _send(world)
    assert referral.status == Referral.Status.SENT
    assert referral.due_at == T + timedelta(days=7)
    received = deliver(sent, [staff, world.health_staff])
    assert [p["event"] for p in received[staff.pk]] == ["referral.sent"]
    assert received[world.health_staff.pk] == []

    with django_capture_on_commit_callbacks() as accepted:
        referral = referral_accept(referral=referral, by=staff)
    assert referral.status == Referral.Status.ACCEPTED and referral.accepted_at
    with pytest.raises(ValidationError) as exc:
        referral_complete(referral=referral, by=staff, outcome=" ")
    assert "outcome" in exc.value.message_dict
    referral.refresh_from_db()
    assert referral.status == Referral.Status.ACCEPTED
    with django_capture_on_commit_callbacks() as completed:
        referral = referral_complete(referral=referral, by=staff, outcome="已配租公租房一套。")
    assert referral.status == Referral.Status.DONE
    assert referral.handled_by == staff and referral.closed_at and not referral.overdue
    assert referral.outcome == "已配租公租房一套。"
    # The referring worker hears of each step.
    received = deliver(accepted + completed, [worker, world.users[Role.STREET_OFFICIAL]])
    assert [(p["event"], p["referral"]["status"]) for p in received[worker.pk]] == [
        ("referral.updated", "accepted"),
        ("referral.updated", "done"),
    ]
    assert received[world.users[Role.STREET_OFFICIAL].pk] == []
    with pytest.raises(InvalidState):
        referral_accept(referral=referral, by=staff)


def test_referral_return_needs_a_reason(world):
    staff = world.users[Role.DEPARTMENT_STAFF]
    referral = _send(world)
    with pytest.raises(ValidationError):
        referral_return(referral=referral, by=staff, reason="")
    referral.refresh_from_db()
    assert referral.status == Referral.Status.SENT
    referral = referral_return(referral=referral, by=staff, reason="不属于本部门职责。")
    assert referral.status == Referral.Status.RETURNED
    assert referral.outcome == "不属于本部门职责。" and referral.closed_at


def test_another_departments_staff_may_not_handle_a_referral(world):
    referral = _send(world)
    for step in (
        lambda: referral_accept(referral=referral, by=world.health_staff),
        lambda: referral_return(referral=referral, by=world.health_staff, reason="不管"),
        lambda: referral_accept(referral=referral, by=world.users[Role.COMMUNITY_WORKER]),
    ):
        with pytest.raises(NotPermitted):
            step()
    referral.refresh_from_db()
    assert referral.status == Referral.Status.SENT and referral.handled_by is None


def test_referral_send_refusals_change_nothing(world):
    case = _register(world).case
    before = _snapshot()
    with pytest.raises(ValidationError) as exc:
        _send(world, case=case, reason="  ")
    assert "reason" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        _send(world, case=case, department=world.audit_dept)
    assert "department" in exc.value.message_dict
    for outsider in (world.community_worker2, world.users[Role.CHARITY_STAFF]):
        with pytest.raises(NotPermitted):
            _send(world, case=case, by=outsider)
    assert _snapshot() == before


def test_referral_overdue_after_the_due_date(world, settings):
    settings.REFERRAL_DUE_DAYS = 5
    with time_machine.travel(T, tick=False):
        referral = _send(world)
        accepted = referral_accept(referral=_send(world), by=world.users[Role.DEPARTMENT_STAFF])
    assert referral.due_at == T + timedelta(days=5)
    with time_machine.travel(T + timedelta(days=5) - timedelta(minutes=1), tick=False):
        assert not referral.overdue and not accepted.overdue
    with time_machine.travel(T + timedelta(days=5, minutes=1), tick=False):
        assert referral.overdue and accepted.overdue
        done = referral_complete(
            referral=accepted, by=world.users[Role.DEPARTMENT_STAFF], outcome="已办结"
        )
        assert not done.overdue


# --- sensitive_reveal ---------------------------------------------------------------------


def test_reveal_writes_one_audit_row_per_view(world):
    head, phone = _member(), f.phone()
    case = _register(world, members=[head], phone=phone).case
    member = case.members.get()
    for n, user in enumerate(
        (
            world.users[Role.COMMUNITY_WORKER],
            world.users[Role.STREET_OFFICIAL],
            world.users[Role.CIVIL_AFFAIRS_OFFICIAL],
        ),
        start=1,
    ):
        value = sensitive_reveal(
            case=case, by=user, field="id_number", member=member, reason="核对身份"
        )
        assert value == head.id_number
        assert SensitiveAccess.objects.count() == n
        row = SensitiveAccess.objects.latest("pk")
        assert (row.user, row.case, row.member, row.field, row.reason) == (
            user,
            case,
            member,
            "id_number",
            "核对身份",
        )
    value = sensitive_reveal(
        case=case, by=world.users[Role.COMMUNITY_WORKER], field="phone", reason="电话回访"
    )
    assert value == phone
    row = SensitiveAccess.objects.latest("pk")
    assert row.field == "phone" and row.member is None
    assert SensitiveAccess.objects.count() == 4


@pytest.mark.parametrize(
    "who",
    ["auditor", *PROVIDERS, "street_official2", "community_worker2", "applicant", "department"],
)
def test_reveal_refused_for_others_without_a_trace(world, who):
    actor = {
        "auditor": world.users[Role.AUDITOR],
        "street_official2": world.street_official2,
        "community_worker2": world.community_worker2,
        "applicant": world.users[Role.APPLICANT],
        "department": world.users[Role.DEPARTMENT_STAFF],
    }.get(who) or world.users[who]
    case = _register(world, phone=f.phone()).case
    member = case.members.get()
    with pytest.raises(NotPermitted):
        sensitive_reveal(case=case, by=actor, field="id_number", member=member, reason="看看")
    with pytest.raises(NotPermitted):
        sensitive_reveal(case=case, by=actor, field="phone", reason="看看")
    assert SensitiveAccess.objects.count() == 0


def test_reveal_bad_requests_write_nothing(world):
    worker = world.users[Role.COMMUNITY_WORKER]
    case = _register(world).case  # no phone
    other = _register(world, members=[_member("另一户")]).case.members.get()
    with pytest.raises(ValidationError):
        sensitive_reveal(
            case=case, by=worker, field="id_number", member=case.members.get(), reason=""
        )
    with pytest.raises(ValidationError):
        sensitive_reveal(case=case, by=worker, field="id_number", member=other, reason="核对")
    with pytest.raises(InvalidState):
        sensitive_reveal(case=case, by=worker, field="phone", reason="核对")
    with pytest.raises(ValidationError):
        sensitive_reveal(case=case, by=worker, field="address", reason="核对")
    assert SensitiveAccess.objects.count() == 0
