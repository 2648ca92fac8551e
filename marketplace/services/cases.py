"""Writes of assistance cases: the four intake channels, the need lifecycle, emergency
escalation, referrals to departments, dynamic monitoring and the audited full view of
sensitive values. Every change comes through here; each service checks the actor, validates,
writes in one transaction and tells people after commit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from celery import current_app
from django.apps import apps as django_apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from marketplace import crypto, realtime
from marketplace.exceptions import DomainError, InvalidState, NotPermitted
from marketplace.models import (
    Area,
    AssistanceStandard,
    Case,
    CaseMember,
    Consent,
    Membership,
    MonitoringRule,
    Need,
    NeedEscalation,
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
from marketplace.selectors.cases import case_may_reveal
from marketplace.selectors.directory import user_scope
from marketplace.validators import (
    normalise_phone,
    normalise_resident_id,
    resident_id_birth_date,
    validate_phone,
)
from search.public import schedule_reindex

__all__ = [
    "DuplicateSubmission",
    "IntakeResult",
    "MemberInput",
    "NeedInput",
    "case_apply_online",
    "case_candidate_verify",
    "case_register",
    "case_report_discovery",
    "category_for_income",
    "household_find",
    "monitoring_scan",
    "need_create",
    "need_escalate_overdue",
    "need_transition",
    "need_transitions_allowed",
    "referral_accept",
    "referral_complete",
    "referral_return",
    "referral_send",
    "sensitive_rekey",
    "sensitive_reveal",
    "standard_for",
    "upload_check",
    "warning_verify",
]

ID_PURPOSE = "case_member.id_number"
PHONE_PURPOSE = "case.phone"
GUARDIAN_CONSENT_AGE = 14


class DuplicateSubmission(DomainError):
    """The same form was submitted twice; the first submission stands."""

    code = "duplicate_submission"

    def __init__(self, *, existing):
        self.existing = existing
        super().__init__(_("该表单已提交过，请勿重复提交。"))


@dataclass(frozen=True)
class MemberInput:
    """One household member as entered on a form."""

    name: str
    id_number: str
    relationship: str
    disability: bool = False
    serious_illness: bool = False
    elderly_alone: bool = False
    left_behind: str = ""


@dataclass(frozen=True)
class NeedInput:
    """A need as entered with a case."""

    kind: str
    service_type: ServiceType
    window_start: date
    window_end: date
    urgency: str = Need.Urgency.NORMAL
    amount: Decimal | None = None
    quantity: int | None = None
    team: dict = field(default_factory=dict)
    public_description: str = ""


@dataclass(frozen=True)
class IntakeResult:
    """What an intake did: the case (new or found by ID), the need it created if any, and
    whether the household was already on file (then nothing was duplicated)."""

    case: Case
    need: Need | None
    linked: bool


# --- Identity helpers -------------------------------------------------------------------


def _id_fields(id_number: str) -> dict:
    number = normalise_resident_id(id_number)
    born = resident_id_birth_date(number)
    return {**crypto.sealed_id_number(number, purpose=ID_PURPOSE), "birth_date": born}


def _phone_fields(phone: str) -> dict:
    number = normalise_phone(phone)
    if not number:
        return {"phone_cipher": "", "phone_hash": "", "phone_masked": ""}
    validate_phone(number)
    return crypto.sealed_phone(number, purpose=PHONE_PURPOSE)


def household_find(*, id_numbers: list[str]) -> Case | None:
    """The case that already holds any of these resident IDs, if one does."""
    hashes = [
        crypto.lookup_hash(normalise_resident_id(n), purpose=ID_PURPOSE) for n in id_numbers if n
    ]
    member = (
        CaseMember.objects.filter(id_hash__in=hashes).select_related("case").order_by("pk").first()
    )
    return member.case if member else None


def _check_submission_key(model, key: uuid.UUID | None) -> None:
    if key is None:
        return
    existing = model.objects.filter(submission_key=key).first()
    if existing is not None:
        raise DuplicateSubmission(existing=existing)


# --- Eligibility ------------------------------------------------------------------------


def standard_for(*, area: Area, year: int) -> AssistanceStandard | None:
    """The 低保 standard for a place and year: the street's own if it has one, else the
    district's."""
    street = area.street if area.level != Area.Level.DISTRICT else None
    candidates = [a.pk for a in (street, street.parent if street else area) if a is not None]
    rows = {
        s.area_id: s for s in AssistanceStandard.objects.filter(year=year, area_id__in=candidates)
    }
    for area_id in candidates:
        if area_id in rows:
            return rows[area_id]
    return None


def category_for_income(
    *, income: Decimal, standard: Decimal, assets_within_rules: bool
) -> str | None:
    """The income-derived category: 低保 below the standard; 低收入 at or above it but below
    twice it, with assets within the rules; none otherwise."""
    if not assets_within_rules:
        return None
    if income < standard:
        return Category.DIBAO
    if income < 2 * standard:
        return Category.LOW_INCOME
    return None


def _resolve_category(
    *, category: str, income: Decimal | None, assets_within_rules: bool, community: Area
) -> str:
    """Check an income-derived category against the standard, or derive it when blank."""
    if income is None:
        if category in {Category.DIBAO, Category.LOW_INCOME}:
            raise ValidationError(
                {"income_per_capita": _("低保、低收入家庭须填写家庭人均月收入。")}
            )
        return category
    standard = standard_for(area=community, year=timezone.localdate().year)
    if standard is None:
        return category
    derived = category_for_income(
        income=income, standard=standard.dibao_monthly, assets_within_rules=assets_within_rules
    )
    if not category:
        return derived or ""
    if category in {Category.DIBAO, Category.LOW_INCOME} and category != derived:
        raise ValidationError(
            {
                "category": _(
                    "按%(year)s年低保标准%(standard)s元/人·月，人均收入%(income)s元不符合所选类别。"
                )
                % {"year": standard.year, "standard": standard.dibao_monthly, "income": income}
            }
        )
    return category


# --- Permission helpers -----------------------------------------------------------------


def _may_register_in(*, user: User, community: Area) -> bool:
    scope = user_scope(user=user)
    if scope.has(Role.CIVIL_AFFAIRS_OFFICIAL):
        return True
    if scope.has(Role.STREET_OFFICIAL) and community.parent_id in scope.street_ids:
        return True
    return scope.has(Role.COMMUNITY_WORKER) and community.pk in scope.community_ids


def _may_work_on(*, user: User, case: Case) -> bool:
    """Case staff of the case's own community / street, or civil affairs."""
    return _may_register_in(user=user, community=case.community)


def _may_decide(*, user: User, street_id: int) -> bool:
    """Street officials of the street (审核确认 is delegated to streets) and civil affairs."""
    scope = user_scope(user=user)
    return scope.has(Role.CIVIL_AFFAIRS_OFFICIAL) or (
        scope.has(Role.STREET_OFFICIAL) and street_id in scope.street_ids
    )


def _community(community: Area) -> Area:
    if community.level != Area.Level.COMMUNITY:
        raise ValidationError({"community": _("请选择社区或村。")})
    return community


# --- Intake -----------------------------------------------------------------------------


def _members_create(
    *, case: Case, members: list[MemberInput], guardian_name: str, by: User
) -> list[CaseMember]:
    created = []
    seen = set()
    for m in members:
        fields = _id_fields(m.id_number)
        if fields["id_hash"] in seen:
            raise ValidationError({"members": _("同一身份证号码在家庭成员中出现了两次。")})
        seen.add(fields["id_hash"])
        member = CaseMember(
            case=case,
            name=m.name.strip(),
            relationship=m.relationship,
            disability=m.disability,
            serious_illness=m.serious_illness,
            elderly_alone=m.elderly_alone,
            left_behind=m.left_behind,
            **fields,
        )
        member.full_clean(exclude=["case"], validate_constraints=False)
        member.save()
        created.append(member)
    heads = [m for m in created if m.relationship == CaseMember.Relationship.HEAD]
    if len(heads) != 1:
        raise ValidationError({"members": _("家庭成员中须有且只有一位户主。")})
    children = [m for m in created if m.age < GUARDIAN_CONSENT_AGE]
    if children and not guardian_name.strip():
        raise ValidationError(
            {"guardian_name": _("家庭成员中有未满14周岁的儿童，须记录监护人同意。")}
        )
    for child in children:
        Consent.objects.create(
            case=case,
            member=child,
            kind=Consent.Kind.GUARDIAN,
            given_by_name=guardian_name.strip(),
            recorded_by=by,
        )
    return created


def _need_build(*, case: Case, spec: NeedInput, channel: str, created_by: User) -> Need:
    need = Need(
        case=case,
        kind=spec.kind,
        service_type=spec.service_type,
        amount=spec.amount,
        quantity=spec.quantity,
        urgency=spec.urgency,
        community=case.community,
        window_start=spec.window_start,
        window_end=spec.window_end,
        team=spec.team or {},
        public_description=spec.public_description.strip(),
        channel=channel,
        created_by=created_by,
    )
    need.full_clean(exclude=["case"])
    need.save()
    NeedTransition.objects.create(
        need=need, from_status="", to_status=Need.Status.DRAFT, by=created_by
    )
    return need


@transaction.atomic
def case_register(
    *,
    created_by: User,
    community: Area,
    members: list[MemberInput],
    phone: str = "",
    address: str = "",
    category: str = "",
    income_per_capita: Decimal | None = None,
    assets_within_rules: bool = True,
    medical_expense_year: Decimal = Decimal("0"),
    situation: str = "",
    guardian_name: str = "",
    sensitive_consent_by: str = "",
    need: NeedInput | None = None,
    submission_key: uuid.UUID | None = None,
) -> IntakeResult:
    """Register a household and its need at the street window (一门受理), or as a referral
    from a department. If any member's ID is already on file, nothing is duplicated: the need
    joins the existing case and the result says so."""
    community = _community(community)
    scope = user_scope(user=created_by)
    if scope.has(Role.DEPARTMENT_STAFF) and not _may_register_in(
        user=created_by, community=community
    ):
        channel = Channel.REFERRAL
        referred_by = Organisation.objects.get(pk=min(scope.department_ids))
    elif _may_register_in(user=created_by, community=community):
        channel, referred_by = Channel.WINDOW, None
    else:
        raise NotPermitted(_("只能为本社区、本街道的居民登记。"))
    _check_submission_key(Case, submission_key)
    # A registration joined to a household on file leaves its key on the need it created.
    _check_submission_key(Need, submission_key)
    if not sensitive_consent_by.strip():
        raise ValidationError({"sensitive_consent_by": _("请记录申请人同意处理其敏感个人信息。")})

    existing = household_find(id_numbers=[m.id_number for m in members])
    if existing is not None:
        created_need = None
        if need is not None:
            created_need = _need_build(
                case=existing, spec=need, channel=channel, created_by=created_by
            )
            if submission_key:
                created_need.submission_key = submission_key
                created_need.save(update_fields=["submission_key"])
            _transition(need=created_need, to=Need.Status.SUBMITTED, by=created_by)
        return IntakeResult(case=existing, need=created_need, linked=True)

    case = Case(
        head_name=next((m.name for m in members if m.relationship == "head"), "").strip(),
        community=community,
        address=address.strip(),
        category=_resolve_category(
            category=category,
            income=income_per_capita,
            assets_within_rules=assets_within_rules,
            community=community,
        ),
        household_size=max(len(members), 1),
        income_per_capita=income_per_capita,
        assets_within_rules=assets_within_rules,
        medical_expense_year=medical_expense_year,
        situation=situation.strip(),
        channel=channel,
        status=Case.Status.ACTIVE,
        referred_by=referred_by,
        created_by=created_by,
        submission_key=submission_key,
        **_phone_fields(phone),
    )
    case.full_clean()
    case.save()
    _members_create(case=case, members=members, guardian_name=guardian_name, by=created_by)
    Consent.objects.create(
        case=case,
        kind=Consent.Kind.SENSITIVE_INFO,
        given_by_name=sensitive_consent_by.strip(),
        recorded_by=created_by,
    )
    created_need = None
    if need is not None:
        created_need = _need_build(case=case, spec=need, channel=channel, created_by=created_by)
        _transition(need=created_need, to=Need.Status.SUBMITTED, by=created_by)
    return IntakeResult(case=case, need=created_need, linked=False)


def upload_check(upload: UploadedFile | None) -> None:
    """Refuse an upload that is too large or is not really a PDF, JPEG or PNG (judged by its
    content, not its name)."""
    if upload is None:
        return
    import filetype

    if upload.size > settings.UPLOAD_MAX_BYTES:
        raise ValidationError(
            {
                "letter": _("文件过大：最大%(max)s MB。")
                % {"max": settings.UPLOAD_MAX_BYTES // (1024 * 1024)}
            }
        )
    head = upload.read(261)
    upload.seek(0)
    kind = filetype.guess(head)
    if kind is None or kind.mime not in settings.UPLOAD_CONTENT_TYPES:
        raise ValidationError({"letter": _("只接受 PDF、JPG 或 PNG 格式的扫描件。")})


@transaction.atomic
def case_apply_online(
    *,
    applicant: User,
    id_number: str,
    phone: str,
    community: Area,
    difficulty: str,
    kind: str,
    service_type: ServiceType,
    finance_check_consent: bool,
    letter: UploadedFile | None = None,
    urgency: str = Need.Urgency.NORMAL,
    amount: Decimal | None = None,
    submission_key: uuid.UUID | None = None,
) -> IntakeResult:
    """Online application (掌上办, 一证一书): the applicant's ID and an authorisation to check
    the household's finances, and the difficulty in their words. If the household is on
    file, the application joins its case and nothing is asked again."""
    if not user_scope(user=applicant).has(Role.APPLICANT):
        raise NotPermitted(_("请使用申请人账号提交申请。"))
    if not finance_check_consent:
        raise ValidationError(
            {"finance_check_consent": _("须授权核对家庭经济状况才能受理申请（一证一书）。")}
        )
    if not difficulty.strip():
        raise ValidationError({"difficulty": _("请简要说明遇到的困难。")})
    community = _community(community)
    upload_check(letter)
    _check_submission_key(Need, submission_key)
    id_fields = _id_fields(id_number)  # validates before anything is written
    today = timezone.localdate()
    spec = NeedInput(
        kind=kind,
        service_type=service_type,
        urgency=urgency,
        amount=amount,
        quantity=1 if kind == Need.Kind.GOODS else None,
        window_start=today,
        window_end=today + timedelta(days=30),
    )
    existing = household_find(id_numbers=[id_number])
    linked = existing is not None
    if existing is not None:
        case = existing
        if case.applicant_id is None:
            case.applicant = applicant
            case.save(update_fields=["applicant", "updated_at"])
        elif case.applicant_id != applicant.pk:
            raise NotPermitted(_("该身份证号码已由其他账号提交申请，请到社区窗口办理。"))
    else:
        case = Case(
            head_name=applicant.display_name or applicant.get_username(),
            community=community,
            situation=difficulty.strip(),
            channel=Channel.ONLINE,
            status=Case.Status.ACTIVE,
            applicant=applicant,
            created_by=applicant,
            **_phone_fields(phone),
        )
        case.full_clean()
        case.save()
        member = CaseMember(
            case=case,
            name=case.head_name,
            relationship=CaseMember.Relationship.HEAD,
            **id_fields,
        )
        member.full_clean(exclude=["case"], validate_constraints=False)
        member.save()
    Consent.objects.create(
        case=case,
        kind=Consent.Kind.FINANCE_CHECK,
        given_by_name=case.head_name,
        letter=letter or "",
        recorded_by=applicant,
    )
    Consent.objects.create(
        case=case,
        kind=Consent.Kind.SENSITIVE_INFO,
        given_by_name=case.head_name,
        recorded_by=applicant,
    )
    need = _need_build(case=case, spec=spec, channel=Channel.ONLINE, created_by=applicant)
    need.submission_key = submission_key
    need.save(update_fields=["submission_key"])
    if linked:
        case.situation = (case.situation + "\n" + difficulty.strip()).strip()
        case.save(update_fields=["situation", "updated_at"])
    _transition(need=need, to=Need.Status.SUBMITTED, by=applicant)
    return IntakeResult(case=case, need=need, linked=linked)


@transaction.atomic
def case_report_discovery(
    *,
    reported_by: User,
    community: Area,
    head_name: str,
    id_number: str,
    situation: str,
    phone: str = "",
    address: str = "",
    submission_key: uuid.UUID | None = None,
) -> IntakeResult:
    """A grid worker reports a household found while visiting (主动发现). It becomes a
    candidate that the community must verify before the deadline. A household already on file
    is not reported twice."""
    community = _community(community)
    if not _may_register_in(user=reported_by, community=community):
        raise NotPermitted(_("只能上报本社区、本街道发现的困难家庭。"))
    _check_submission_key(Case, submission_key)
    if not situation.strip():
        raise ValidationError({"situation": _("请说明发现的困难情况。")})
    id_fields = _id_fields(id_number)
    existing = household_find(id_numbers=[id_number])
    if existing is not None:
        return IntakeResult(case=existing, need=None, linked=True)
    case = Case(
        head_name=head_name.strip(),
        community=community,
        address=address.strip(),
        situation=situation.strip(),
        channel=Channel.DISCOVERY,
        status=Case.Status.CANDIDATE,
        verify_deadline=timezone.now() + timedelta(days=settings.DISCOVERY_VERIFY_DAYS),
        created_by=reported_by,
        submission_key=submission_key,
        **_phone_fields(phone),
    )
    case.full_clean()
    case.save()
    member = CaseMember(
        case=case, name=case.head_name, relationship=CaseMember.Relationship.HEAD, **id_fields
    )
    member.full_clean(exclude=["case"], validate_constraints=False)
    member.save()
    return IntakeResult(case=case, need=None, linked=False)


@transaction.atomic
def case_candidate_verify(*, case: Case, by: User, confirmed: bool, note: str) -> Case:
    """The community verifies a discovered household: on file (在册) or not as reported."""
    if not _may_work_on(user=by, case=case):
        raise NotPermitted()
    locked = Case.objects.select_for_update().get(pk=case.pk)
    if locked.status != Case.Status.CANDIDATE:
        raise InvalidState(_("该家庭不在待核实状态。"))
    if not note.strip():
        raise ValidationError({"note": _("请填写核实情况。")})
    locked.status = Case.Status.ACTIVE if confirmed else Case.Status.DISMISSED
    locked.verified_by = by
    locked.verified_at = timezone.now()
    locked.verify_note = note.strip()[:200]
    locked.save(update_fields=["status", "verified_by", "verified_at", "verify_note"])
    return locked


# --- Needs ------------------------------------------------------------------------------


@transaction.atomic
def need_create(
    *,
    case: Case,
    created_by: User,
    spec: NeedInput,
    submit: bool = True,
    submission_key: uuid.UUID | None = None,
) -> Need:
    """Add a need to a case in the worker's scope; submitted at once unless kept as draft."""
    if not _may_work_on(user=created_by, case=case):
        raise NotPermitted()
    if case.status != Case.Status.ACTIVE:
        raise InvalidState(_("只有在册家庭可以登记需求。"))
    _check_submission_key(Need, submission_key)
    need = _need_build(case=case, spec=spec, channel=Channel.WINDOW, created_by=created_by)
    if submission_key:
        need.submission_key = submission_key
        need.save(update_fields=["submission_key"])
    if submit:
        _transition(need=need, to=Need.Status.SUBMITTED, by=created_by)
    return need


# Which actors may move a need into each status. "staff": community / street staff of the
# case and civil affairs; "decide": the street's officials and civil affairs; "owner": the
# applicant who applied online.
_TRANSITION_ACTORS = {
    Need.Status.SUBMITTED: {"staff", "owner"},
    Need.Status.CONFIRMED: {"decide"},
    Need.Status.REJECTED: {"decide"},
    Need.Status.OPEN: {"decide"},
    Need.Status.MATCHED: {"decide"},
    Need.Status.IN_PROGRESS: {"decide"},
    Need.Status.DONE: {"decide"},
    Need.Status.CLOSED: {"decide"},
    Need.Status.CANCELLED: {"staff", "decide", "owner"},
}
_REASON_REQUIRED = {Need.Status.REJECTED, Need.Status.CANCELLED}


def _actor_kinds(*, user: User, need: Need) -> set[str]:
    kinds = set()
    if _may_work_on(user=user, case=need.case):
        kinds.add("staff")
    if _may_decide(user=user, street_id=need.street_id):
        kinds.add("decide")
    if need.case.applicant_id == user.pk and need.status in {
        Need.Status.DRAFT,
        Need.Status.SUBMITTED,
    }:
        kinds.add("owner")
    return kinds


def need_transitions_allowed(*, need: Need, user: User) -> list[str]:
    """The statuses this user may move the need to now, by the rule `need_transition`
    enforces; pages and the API offer exactly these."""
    kinds = _actor_kinds(user=user, need=need)
    return [
        status
        for status in Need.Status.values
        if status in Need.TRANSITIONS[need.status] and _TRANSITION_ACTORS.get(status, set()) & kinds
    ]


def _transition(*, need: Need, to: str, by: User | None, reason: str = "") -> Need:
    """Move a locked need to `to`, record it, and set the emergency clock on submission."""
    if to not in Need.TRANSITIONS[need.status]:
        raise InvalidState(
            _("需求当前为“%(current)s”，不能改为“%(target)s”。")
            % {"current": need.get_status_display(), "target": Need.Status(to).label}
        )
    if to in _REASON_REQUIRED and not reason.strip():
        raise ValidationError({"reason": _("请填写原因。")})
    if to == Need.Status.OPEN and not need.public_description.strip():
        raise ValidationError(
            {"public_description": _("发布前须填写已脱敏的公开描述，服务方只能看到这段文字。")}
        )
    now = timezone.now()
    previous = need.status
    need.status = to
    need.status_reason = reason.strip()[:200]
    fields = ["status", "status_reason", "updated_at"]
    if to == Need.Status.SUBMITTED:
        need.submitted_at = now
        fields.append("submitted_at")
        if need.is_emergency:
            need.response_deadline = now + timedelta(hours=settings.EMERGENCY_RESPONSE_HOURS)
            fields.append("response_deadline")
    need.save(update_fields=fields)
    if Need.PUBLIC & {previous, to}:  # entering or leaving the open pool (search shows it)
        schedule_reindex(doc_type="need", object_id=need.pk)
    if to == Need.Status.OPEN and need.is_emergency:
        # An emergency skips the nightly batch: matching takes it at once, on its own.
        # Dispatched by task name, so the shared domain does not import matching.
        need_id = need.pk
        transaction.on_commit(
            lambda: current_app.signature(
                "matching.tasks.emergency_match", kwargs={"need_id": need_id}
            ).delay()
        )
    NeedTransition.objects.create(
        need=need, from_status=previous, to_status=to, by=by, reason=need.status_reason, at=now
    )
    if need.case.applicant_id:
        payload = {
            "event": "need.status",
            "need": {"id": need.pk, "status": to},
            "message": _("您的申请状态已更新为：%(status)s") % {"status": Need.Status(to).label},
        }
        applicant_id = need.case.applicant_id
        transaction.on_commit(lambda: realtime.publish_to_users([applicant_id], payload))
    return need


@transaction.atomic
def need_transition(
    *,
    need: Need,
    to: str,
    by: User,
    reason: str = "",
    public_description: str | None = None,
) -> Need:
    """Move a need along its lifecycle (draft → submitted → confirmed → open → matched → in
    progress → done → closed; cancelled or rejected with a reason). The actor must be allowed
    to make this step; the street may correct the public description while confirming."""
    locked = Need.objects.select_for_update().select_related("case").get(pk=need.pk)
    if to not in Need.Status.values:
        raise InvalidState(_("未知的需求状态。"))
    allowed = _TRANSITION_ACTORS.get(to, set())
    if not allowed & _actor_kinds(user=by, need=locked):
        raise NotPermitted()
    if public_description is not None and to in {Need.Status.CONFIRMED, Need.Status.OPEN}:
        text = public_description.strip()
        if len(text) > 500:
            raise ValidationError({"public_description": _("公开描述不能超过500字。")})
        locked.public_description = text
        locked.save(update_fields=["public_description"])
    return _transition(need=locked, to=to, by=by, reason=reason)


@transaction.atomic
def need_reopen(*, need: Need, reason: str) -> Need:
    """Put a matched need back in the pool because a matched provider declined: the slot
    they held is open for the next matching run. A system step, recorded without an actor."""
    locked = Need.objects.select_for_update().select_related("case").get(pk=need.pk)
    if locked.status != Need.Status.MATCHED:
        return locked
    return _transition(need=locked, to=Need.Status.OPEN, by=None, reason=reason)


def _user_ids_with_role(*, role: str, street_id: int | None = None) -> list[int]:
    qs = Membership.objects.filter(role=role)
    if street_id is not None:
        qs = qs.filter(organisation__street_id=street_id)
    return sorted(set(qs.values_list("user_id", flat=True)))


def need_escalate_overdue(*, now: datetime | None = None) -> int:
    """Send overdue emergencies up: to the street office when the response deadline has
    passed, then to district civil affairs when the district window has passed too. Each
    level happens once per need (a unique row), so running this again changes nothing.
    Returns the number of escalations made."""
    now = now or timezone.now()
    district_after = timedelta(hours=settings.EMERGENCY_DISTRICT_ESCALATION_HOURS)
    made = 0
    waiting = Need.objects.filter(
        urgency=Need.Urgency.EMERGENCY,
        status__in=Need.AWAITING_RESPONSE,
        response_deadline__lt=now,
        escalation_level__lt=2,
    ).values_list("pk", "response_deadline", "escalation_level")
    for need_id, deadline, level in waiting:
        target = 2 if deadline + district_after < now else 1
        for next_level in range(level + 1, target + 1):
            made += _escalate(need_id=need_id, level=next_level, now=now)
    return made


@transaction.atomic
def _escalate(*, need_id: int, level: int, now: datetime) -> int:
    need = Need.objects.select_for_update().select_related("service_type").get(pk=need_id)
    if need.escalation_level >= level or need.status not in Need.AWAITING_RESPONSE:
        return 0
    NeedEscalation.objects.create(need=need, level=level, at=now)
    Need.objects.filter(pk=need.pk).update(escalation_level=level)
    if level == 1:
        user_ids = _user_ids_with_role(role=Role.STREET_OFFICIAL, street_id=need.street_id)
        message = _("急难需求 #%(id)s（%(type)s）已超过响应期限，请街道立即处置。")
    else:
        user_ids = _user_ids_with_role(role=Role.CIVIL_AFFAIRS_OFFICIAL)
        message = _("急难需求 #%(id)s（%(type)s）超期未响应，已督办至区民政局。")
    payload = {
        "event": "need.escalated",
        "need": {"id": need.pk, "level": level},
        "message": message % {"id": need.pk, "type": need.service_type.name},
    }
    transaction.on_commit(lambda: realtime.publish_to_users(user_ids, payload))
    return 1


# --- Referrals --------------------------------------------------------------------------


@transaction.atomic
def referral_send(*, case: Case, by: User, department: Organisation, reason: str) -> Referral:
    """Refer a case to a department (education, housing, health, employment, medical
    insurance, emergency management)."""
    if not _may_work_on(user=by, case=case):
        raise NotPermitted()
    if (
        department.kind != Organisation.Kind.DEPARTMENT
        or department.department not in Referral.DEPARTMENTS
    ):
        raise ValidationError(
            {"department": _("只能转介至教育、住建、卫健、人社、医保、应急部门。")}
        )
    if not reason.strip():
        raise ValidationError({"reason": _("请填写转介事由。")})
    now = timezone.now()
    referral = Referral(
        case=case,
        department=department,
        reason=reason.strip(),
        sent_by=by,
        sent_at=now,
        due_at=now + timedelta(days=settings.REFERRAL_DUE_DAYS),
    )
    referral.full_clean()
    referral.save()
    staff = sorted(
        set(
            Membership.objects.filter(
                organisation=department, role=Role.DEPARTMENT_STAFF
            ).values_list("user_id", flat=True)
        )
    )
    payload = {
        "event": "referral.sent",
        "referral": {"id": referral.pk},
        "message": _("收到新的转介：%(case)s") % {"case": case.community.name},
    }
    transaction.on_commit(lambda: realtime.publish_to_users(staff, payload))
    return referral


def _referral_step(*, referral: Referral, by: User, to: str, outcome: str = "") -> Referral:
    locked = Referral.objects.select_for_update().select_related("case").get(pk=referral.pk)
    if locked.department_id not in user_scope(user=by).department_ids:
        raise NotPermitted(_("只有接收部门的工作人员可以办理转介。"))
    if to not in Referral.TRANSITIONS[locked.status]:
        raise InvalidState(_("该转介当前状态下不能执行此操作。"))
    now = timezone.now()
    locked.status = to
    locked.handled_by = by
    if to == Referral.Status.ACCEPTED:
        locked.accepted_at = now
    else:
        if not outcome.strip():
            raise ValidationError({"outcome": _("请填写办理结果或退回原因。")})
        locked.outcome = outcome.strip()[:300]
        locked.closed_at = now
    locked.save()
    # The loop closes: the referring worker hears of each step.
    payload = {
        "event": "referral.updated",
        "referral": {"id": locked.pk, "status": to},
        "message": _("转介（%(department)s）状态：%(status)s")
        % {"department": locked.department.name, "status": Referral.Status(to).label},
    }
    sent_by = locked.sent_by_id
    transaction.on_commit(lambda: realtime.publish_to_users([sent_by], payload))
    return locked


@transaction.atomic
def referral_accept(*, referral: Referral, by: User) -> Referral:
    """The department takes the referral on."""
    return _referral_step(referral=referral, by=by, to=Referral.Status.ACCEPTED)


@transaction.atomic
def referral_complete(*, referral: Referral, by: User, outcome: str) -> Referral:
    """The department reports what it did; the referring worker is told."""
    return _referral_step(referral=referral, by=by, to=Referral.Status.DONE, outcome=outcome)


@transaction.atomic
def referral_return(*, referral: Referral, by: User, reason: str) -> Referral:
    """The department sends the referral back with a reason."""
    return _referral_step(referral=referral, by=by, to=Referral.Status.RETURNED, outcome=reason)


# --- Dynamic monitoring -----------------------------------------------------------------


def monitoring_scan(*, today: date | None = None) -> int:
    """Run every active monitoring rule over households on file and write a warning for each
    household newly at risk. A household with an open warning of the same rule is not
    flagged again. Returns the number of warnings written."""
    from marketplace.monitoring import evaluate

    today = today or timezone.localdate()
    written = 0
    for rule in MonitoringRule.objects.filter(active=True).order_by("code"):
        open_cases = set(
            Warning.objects.filter(rule=rule.code, status=Warning.Status.OPEN).values_list(
                "case_id", flat=True
            )
        )
        batch = [
            Warning(
                case_id=hit.case_id,
                member_id=hit.member_id,
                rule=rule.code,
                detail=hit.detail[:200],
            )
            for hit in evaluate(rule=rule, today=today)
            if hit.case_id not in open_cases
        ]
        with transaction.atomic():
            # The partial unique index stops a duplicate if two scans race.
            created = Warning.objects.bulk_create(batch, batch_size=1000, ignore_conflicts=True)
        written += len(created)
    return written


@transaction.atomic
def warning_verify(*, warning: Warning, by: User, confirmed: bool, note: str) -> Warning:
    """The community records what a visit found about a warning."""
    locked = Warning.objects.select_for_update().select_related("case").get(pk=warning.pk)
    if not _may_work_on(user=by, case=locked.case):
        raise NotPermitted()
    if locked.status != Warning.Status.OPEN:
        raise InvalidState(_("该预警已核实。"))
    if not note.strip():
        raise ValidationError({"note": _("请填写核实情况。")})
    locked.status = Warning.Status.CONFIRMED if confirmed else Warning.Status.DISMISSED
    locked.verified_by = by
    locked.verified_at = timezone.now()
    locked.note = note.strip()[:300]
    locked.save()
    return locked


# --- Sensitive values -------------------------------------------------------------------


@transaction.atomic
def sensitive_reveal(
    *, case: Case, by: User, field: str, reason: str, member: CaseMember | None = None
) -> str:
    """The full ID number of a member, or the case's phone, for a user whose role needs it.
    Every call that returns a value writes exactly one audit row."""
    if not case_may_reveal(case=case, user=by):
        raise NotPermitted(_("您的角色不能查看完整的敏感信息。"))
    if not reason.strip():
        raise ValidationError({"reason": _("请填写查看事由。")})
    if field == SensitiveAccess.Field.ID_NUMBER:
        if member is None or member.case_id != case.pk:
            raise ValidationError({"member": _("请选择本户的家庭成员。")})
        value = crypto.decrypt(member.id_cipher, purpose=ID_PURPOSE)
    elif field == SensitiveAccess.Field.PHONE:
        if not case.phone_cipher:
            raise InvalidState(_("该家庭未登记联系电话。"))
        value = crypto.decrypt(case.phone_cipher, purpose=PHONE_PURPOSE)
        member = None
    else:
        raise ValidationError({"field": _("未知的字段。")})
    SensitiveAccess.objects.create(
        user=by, case=case, member=member, field=field, reason=reason.strip()[:200]
    )
    return value


def sensitive_rekey(*, batch_size: int = 500) -> int:
    """Re-encrypt every sensitive value not yet under the current key (key rotation), in
    every column listed in `settings.SENSITIVE_COLUMNS` (other apps add theirs there).
    Safe to stop and run again. Returns the number of values re-encrypted."""
    current = settings.SENSITIVE_DATA_KEY_ID
    done = 0
    for label, column, purpose in settings.SENSITIVE_COLUMNS:
        model = django_apps.get_model(label)
        stale = (
            model.objects.exclude(**{f"{column}__startswith": f"{current}:"})
            .exclude(**{column: ""})
            .values_list("pk", column)
        )
        for pk, token in stale.iterator(chunk_size=batch_size):
            plain = crypto.decrypt(token, purpose=purpose)
            model.objects.filter(pk=pk, **{column: token}).update(
                **{column: crypto.encrypt(plain, purpose=purpose)}
            )
            done += 1
    return done
