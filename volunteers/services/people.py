"""Writes of people: volunteer registration and profile, the audited full view of a
volunteer's ID number or phone, joining volunteer organisations and the street's 志愿者联合会,
and the profiles of social workers. Each service checks the actor, validates, writes in one
transaction and tells people after commit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, time

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from marketplace import crypto, realtime
from marketplace.models import Area, Membership, Organisation, Role, ServiceType, User
from marketplace.validators import (
    normalise_phone,
    normalise_resident_id,
    resident_id_birth_date,
    validate_phone,
)
from volunteers.exceptions import AlreadyRegistered, InvalidState, NotPermitted
from volunteers.models import (
    Affiliation,
    Availability,
    Certificate,
    Skill,
    SocialWorker,
    Volunteer,
    VolunteerAccess,
)
from volunteers.selectors.people import (
    affiliation_may_decide,
    social_worker_may_manage,
    volunteer_may_reveal,
)

__all__ = [
    "ID_PURPOSE",
    "MIN_VOLUNTEER_AGE",
    "PHONE_PURPOSE",
    "AvailabilityInput",
    "CertificateInput",
    "affiliation_decide",
    "affiliation_leave",
    "affiliation_request",
    "social_worker_deactivate",
    "social_worker_save",
    "volunteer_account_register",
    "volunteer_register",
    "volunteer_reveal",
    "volunteer_update",
]

ID_PURPOSE = "volunteer.id_number"
PHONE_PURPOSE = "volunteer.phone"
# 志愿服务条例: people under 16 volunteer only with a guardian, which this registration
# does not cover.
MIN_VOLUNTEER_AGE = 16


@dataclass(frozen=True)
class AvailabilityInput:
    """One weekly free window as entered on a form (weekday 0 = Monday)."""

    weekday: int
    start: time
    end: time


@dataclass(frozen=True)
class CertificateInput:
    """One certificate as entered on a form."""

    name: str
    issuer: str = ""
    number: str = ""
    skill: Skill | None = None
    valid_until: date | None = None


# --- Helpers ------------------------------------------------------------------------------


def _age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _identity_fields(id_number: str) -> dict:
    number = normalise_resident_id(id_number)
    try:
        born = resident_id_birth_date(number)
    except ValidationError as exc:
        raise ValidationError({"id_number": exc.messages}) from None
    if _age_on(born, timezone.localdate()) < MIN_VOLUNTEER_AGE:
        raise ValidationError(
            {
                "id_number": _(
                    "志愿者注册须年满%(age)d周岁；未满%(age)d周岁请在监护人陪同下参加活动。"
                )
                % {"age": MIN_VOLUNTEER_AGE}
            }
        )
    return {**crypto.sealed_id_number(number, purpose=ID_PURPOSE), "birth_date": born}


def _phone_fields(phone: str) -> dict:
    number = normalise_phone(phone)
    try:
        validate_phone(number)
    except ValidationError as exc:
        raise ValidationError({"phone": exc.messages}) from None
    return crypto.sealed_phone(number, purpose=PHONE_PURPOSE)


def _check_availabilities(items: Sequence[AvailabilityInput]) -> None:
    """Each window ends after it starts, and no two windows of one weekday overlap."""
    errors = []
    by_day: dict[int, list[AvailabilityInput]] = {}
    for item in items:
        if item.weekday not in Availability.Weekday.values:
            errors.append(_("星期不正确。"))
            continue
        if item.end <= item.start:
            errors.append(
                _("%(day)s %(start)s–%(end)s：结束时间应晚于开始时间。")
                % {
                    "day": Availability.Weekday(item.weekday).label,
                    "start": f"{item.start:%H:%M}",
                    "end": f"{item.end:%H:%M}",
                }
            )
            continue
        by_day.setdefault(item.weekday, []).append(item)
    for weekday, windows in sorted(by_day.items()):
        windows.sort(key=lambda w: w.start)
        for before, after in zip(windows, windows[1:], strict=False):
            if after.start < before.end:
                errors.append(
                    _("%(day)s 的空闲时间 %(a)s 与 %(b)s 重叠，请合并或调整。")
                    % {
                        "day": Availability.Weekday(weekday).label,
                        "a": f"{before.start:%H:%M}–{before.end:%H:%M}",
                        "b": f"{after.start:%H:%M}–{after.end:%H:%M}",
                    }
                )
    if errors:
        raise ValidationError({"availabilities": errors})


def _check_community(community: Area) -> None:
    if community is None or community.level != Area.Level.COMMUNITY:
        raise ValidationError({"home_community": _("请选择社区或村。")})


def _check_certificates(items: Sequence[CertificateInput]) -> None:
    if any(not item.name.strip() for item in items):
        raise ValidationError({"certificates": _("请填写证书名称。")})


def _replace_availabilities(volunteer: Volunteer, items: Sequence[AvailabilityInput]) -> None:
    volunteer.availabilities.all().delete()
    rows = [
        Availability(volunteer=volunteer, weekday=i.weekday, start=i.start, end=i.end)
        for i in items
    ]
    for row in rows:
        row.full_clean(exclude=["volunteer"])
    Availability.objects.bulk_create(rows)


def _replace_certificates(volunteer: Volunteer, items: Sequence[CertificateInput]) -> None:
    volunteer.certificates.all().delete()
    rows = [
        Certificate(
            volunteer=volunteer,
            name=i.name.strip(),
            issuer=i.issuer.strip(),
            number=i.number.strip(),
            skill=i.skill,
            valid_until=i.valid_until,
        )
        for i in items
    ]
    for row in rows:
        row.full_clean(exclude=["volunteer"])
    Certificate.objects.bulk_create(rows)


def _forget_scope(user: User) -> None:
    """Roles changed: the scope cached on this user object is stale."""
    user.__dict__.pop("_scope_cache", None)


def _grant_volunteer_role(user: User, organisation: Organisation | None) -> None:
    exists = Membership.objects.filter(
        user=user, role=Role.VOLUNTEER, organisation=organisation
    ).exists()
    if not exists:
        membership = Membership(user=user, role=Role.VOLUNTEER, organisation=organisation)
        membership.full_clean()
        membership.save()
    _forget_scope(user)


def _notify(user_ids: Iterable[int], *, event: str, message: str, **data) -> None:
    ids = sorted(set(user_ids))
    if not ids:
        return
    payload = {"event": event, "message": message, **data}
    transaction.on_commit(lambda: realtime.publish_to_users(ids, payload))


def _manager_user_ids(organisation: Organisation) -> list[int]:
    """Who decides requests to join: the organisation's volunteer managers, and for a
    联合会 the street officials of its street."""
    ids = set(
        Membership.objects.filter(
            organisation=organisation, role=Role.VOLUNTEER_MANAGER
        ).values_list("user_id", flat=True)
    )
    if organisation.kind == Organisation.Kind.VOLUNTEER_FEDERATION and organisation.street_id:
        ids.update(
            Membership.objects.filter(
                role=Role.STREET_OFFICIAL, organisation__street_id=organisation.street_id
            ).values_list("user_id", flat=True)
        )
    return sorted(ids)


# --- Volunteers ---------------------------------------------------------------------------


@transaction.atomic
def volunteer_register(
    *,
    user: User,
    real_name: str,
    id_number: str,
    phone: str,
    home_community: Area,
    skills: Iterable[Skill] = (),
    availabilities: Sequence[AvailabilityInput] = (),
    certificates: Sequence[CertificateInput] = (),
    max_concurrent: int = 2,
    introduction: str = "",
) -> Volunteer:
    """Register `user` as a real-name volunteer. The ID number must be valid (GB 11643),
    its holder at least 16, and not yet registered; it and the phone are stored encrypted,
    hashed and masked, never in plain text. Grants the volunteer role if the user lacks it."""
    real_name = (real_name or "").strip()
    errors: dict[str, list] = {}
    fields: dict = {}
    for build, value in ((_identity_fields, id_number), (_phone_fields, phone)):
        try:
            fields.update(build(value))
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                errors.setdefault(name, []).extend(messages)
    if not real_name:
        errors.setdefault("real_name", []).append(_("请填写真实姓名。"))
    try:
        _check_community(home_community)
        _check_availabilities(availabilities)
        _check_certificates(certificates)
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.setdefault(name, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    if Volunteer.objects.filter(user=user).exists():
        raise AlreadyRegistered(_("该账号已注册为志愿者。"))
    if Volunteer.objects.filter(id_hash=fields["id_hash"]).exists():
        raise AlreadyRegistered()
    volunteer = Volunteer(
        user=user,
        real_name=real_name,
        home_community=home_community,
        max_concurrent=max_concurrent,
        introduction=(introduction or "").strip(),
        **fields,
    )
    volunteer.full_clean(validate_unique=False)
    try:
        # A savepoint, so a racing registration of the same ID or user is told apart from
        # other failures and the outer transaction stays usable for the rollback.
        with transaction.atomic():
            volunteer.save()
    except IntegrityError as exc:
        raise AlreadyRegistered() from exc
    volunteer.skills.set(list(skills))
    _replace_availabilities(volunteer, availabilities)
    _replace_certificates(volunteer, certificates)
    _grant_volunteer_role(user, None)
    if not user.display_name:
        user.display_name = real_name
        user.save(update_fields=["display_name"])
    return volunteer


@transaction.atomic
def volunteer_account_register(
    *,
    username: str,
    password: str,
    email: str = "",
    real_name: str,
    id_number: str,
    phone: str,
    home_community: Area,
    skills: Iterable[Skill] = (),
    availabilities: Sequence[AvailabilityInput] = (),
    certificates: Sequence[CertificateInput] = (),
    max_concurrent: int = 2,
    introduction: str = "",
) -> Volunteer:
    """A visitor's sign-up: the account and the volunteer registration together. Nothing
    is saved unless both succeed."""
    user = User(username=(username or "").strip(), email=(email or "").strip())
    user.display_name = (real_name or "").strip()
    errors: dict[str, list] = {}
    try:
        user.full_clean(exclude=["password"])
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        validate_password(password or "", user)
    except ValidationError as exc:
        errors["password"] = exc.messages
    if errors:
        raise ValidationError(errors)
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise ValidationError({"username": _("该用户名已被使用。")}) from None
    return volunteer_register(
        user=user,
        real_name=real_name,
        id_number=id_number,
        phone=phone,
        home_community=home_community,
        skills=skills,
        availabilities=availabilities,
        certificates=certificates,
        max_concurrent=max_concurrent,
        introduction=introduction,
    )


@transaction.atomic
def volunteer_update(
    *,
    volunteer: Volunteer,
    by: User,
    skills: Iterable[Skill] | None = None,
    availabilities: Sequence[AvailabilityInput] | None = None,
    certificates: Sequence[CertificateInput] | None = None,
    home_community: Area | None = None,
    max_concurrent: int | None = None,
    introduction: str | None = None,
) -> Volunteer:
    """The volunteer edits their own profile. Arguments left as None stay as they are;
    availability windows and certificates given replace the whole set."""
    if by.pk != volunteer.user_id:
        raise NotPermitted(_("只能修改本人的志愿者资料。"))
    volunteer = Volunteer.objects.select_for_update().get(pk=volunteer.pk)
    if home_community is not None:
        _check_community(home_community)
        volunteer.home_community = home_community
    if availabilities is not None:
        _check_availabilities(availabilities)
    if certificates is not None:
        _check_certificates(certificates)
    if max_concurrent is not None:
        volunteer.max_concurrent = max_concurrent
    if introduction is not None:
        volunteer.introduction = introduction.strip()
    volunteer.full_clean(validate_unique=False)
    volunteer.save()
    if skills is not None:
        volunteer.skills.set(list(skills))
    if availabilities is not None:
        _replace_availabilities(volunteer, availabilities)
    if certificates is not None:
        _replace_certificates(volunteer, certificates)
    return volunteer


def volunteer_reveal(*, volunteer: Volunteer, by: User, field: str, reason: str) -> str:
    """The full ID number or phone of a volunteer, for the roles that need it (civil
    affairs; managers of an organisation the volunteer has joined; officials of the
    volunteer's street). Every call that returns a value writes exactly one audit row."""
    if not volunteer_may_reveal(volunteer=volunteer, user=by):
        raise NotPermitted(_("您的角色不能查看该志愿者的完整信息。"))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("请填写查看事由。")})
    if field == VolunteerAccess.Field.ID_NUMBER:
        value = crypto.decrypt(volunteer.id_cipher, purpose=ID_PURPOSE)
    elif field == VolunteerAccess.Field.PHONE:
        value = crypto.decrypt(volunteer.phone_cipher, purpose=PHONE_PURPOSE)
    else:
        raise ValidationError({"field": _("未知的字段。")})
    VolunteerAccess.objects.create(user=by, volunteer=volunteer, field=field, reason=reason[:200])
    return value


# --- Joining organisations ----------------------------------------------------------------


@transaction.atomic
def affiliation_request(
    *, volunteer: Volunteer, organisation: Organisation, message: str = ""
) -> Affiliation:
    """The volunteer asks to join a verified volunteer organisation or 志愿者联合会; its
    managers are told after commit."""
    if organisation.kind not in Affiliation.KINDS:
        raise ValidationError({"organisation": _("只能加入志愿服务组织或志愿者联合会。")})
    if not organisation.verified:
        raise InvalidState(_("该组织尚未通过认证，暂不能申请加入。"))
    # One live request per organisation; the row lock orders two racing requests.
    Volunteer.objects.select_for_update().filter(pk=volunteer.pk).first()
    live = Affiliation.objects.filter(
        volunteer=volunteer,
        organisation=organisation,
        status__in=[Affiliation.Status.PENDING, Affiliation.Status.APPROVED],
    ).first()
    if live is not None:
        if live.status == Affiliation.Status.APPROVED:
            raise InvalidState(_("您已是该组织的成员。"))
        raise InvalidState(_("您已提交加入申请，请等待审核。"))
    affiliation = Affiliation(
        volunteer=volunteer, organisation=organisation, message=(message or "").strip()
    )
    affiliation.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            affiliation.save()
    except IntegrityError as exc:
        raise InvalidState(_("您已申请或已加入该组织。")) from exc
    _notify(
        _manager_user_ids(organisation),
        event="affiliation.requested",
        message=_("%(name)s 申请加入 %(org)s，请审核。")
        % {"name": volunteer.real_name, "org": organisation.name},
        affiliation={"id": affiliation.pk, "organisation": organisation.pk},
    )
    return affiliation


def _lock_affiliation(affiliation: Affiliation) -> Affiliation:
    return (
        Affiliation.objects.select_for_update(of=("self",))
        .select_related("organisation", "volunteer")
        .get(pk=affiliation.pk)
    )


@transaction.atomic
def affiliation_decide(
    *, affiliation: Affiliation, by: User, approve: bool, note: str = ""
) -> Affiliation:
    """Approve or reject a pending request to join. Deciders: the organisation's volunteer
    managers, and for a 联合会 the officials of its street. Approval grants the volunteer
    role in the organisation; the volunteer is told after commit."""
    affiliation = _lock_affiliation(affiliation)
    if not affiliation_may_decide(affiliation=affiliation, user=by):
        raise NotPermitted(_("您不能审核该组织的加入申请。"))
    if affiliation.status != Affiliation.Status.PENDING:
        raise InvalidState(_("该申请已处理。"))
    note = (note or "").strip()
    affiliation.status = Affiliation.Status.APPROVED if approve else Affiliation.Status.REJECTED
    affiliation.decided_by = by
    affiliation.decided_at = timezone.now()
    affiliation.decision_note = note[:200]
    affiliation.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    volunteer_user = affiliation.volunteer.user
    if approve:
        _grant_volunteer_role(volunteer_user, affiliation.organisation)
        message = _("您已加入 %(org)s。") % {"org": affiliation.organisation.name}
    else:
        message = _("您加入 %(org)s 的申请未通过。") % {"org": affiliation.organisation.name}
        if note:
            message += _("说明：%(note)s") % {"note": note}
    _notify(
        [affiliation.volunteer.user_id],
        event="affiliation.decided",
        message=message,
        affiliation={"id": affiliation.pk, "status": affiliation.status},
    )
    return affiliation


@transaction.atomic
def affiliation_leave(*, affiliation: Affiliation, by: User) -> Affiliation:
    """The volunteer leaves an organisation (or withdraws a pending request); a decider of
    the organisation may also remove a member. The volunteer role in that organisation is
    removed; the volunteer keeps their registration and their other organisations."""
    affiliation = _lock_affiliation(affiliation)
    is_self = by.pk == affiliation.volunteer.user_id
    if not is_self and not affiliation_may_decide(affiliation=affiliation, user=by):
        raise NotPermitted(_("您不能办理该成员的退出。"))
    if affiliation.status not in {Affiliation.Status.PENDING, Affiliation.Status.APPROVED}:
        raise InvalidState(_("该申请已处理或已退出。"))
    affiliation.status = Affiliation.Status.LEFT
    affiliation.save(update_fields=["status"])
    user = affiliation.volunteer.user
    Membership.objects.filter(
        user=user, role=Role.VOLUNTEER, organisation=affiliation.organisation
    ).delete()
    _forget_scope(user)
    if not is_self:
        _notify(
            [user.pk],
            event="affiliation.left",
            message=_("您已被移出 %(org)s。") % {"org": affiliation.organisation.name},
            affiliation={"id": affiliation.pk, "status": affiliation.status},
        )
    return affiliation


# --- Social workers -----------------------------------------------------------------------


@transaction.atomic
def social_worker_save(
    *,
    by: User,
    user: User,
    organisation: Organisation,
    real_name: str,
    level: str,
    certificate_number: str = "",
    specialties: Iterable[ServiceType] = (),
    max_concurrent: int = 3,
) -> SocialWorker:
    """Create or update the profile of a social worker. A social worker fills in their own
    (for an organisation where they hold that role); agency staff register and edit the
    social workers of their own organisation. The person must hold the social-worker role
    in that organisation."""
    if organisation.kind not in SocialWorker.KINDS:
        raise ValidationError({"organisation": _("社会工作者应属于社工机构或社工站。")})
    holds_role = Membership.objects.filter(
        user=user, organisation=organisation, role=Role.SOCIAL_WORKER
    ).exists()
    is_self = by.pk == user.pk
    staff = social_worker_may_manage(organisation=organisation, user=by)
    if not (is_self and holds_role) and not staff:
        raise NotPermitted(_("您不能登记或修改该社会工作者的资料。"))
    if not holds_role:
        raise ValidationError({"user": _("该用户不是本机构的社会工作者。")})
    worker = SocialWorker.objects.select_for_update().filter(user=user).first()
    if worker is None:
        worker = SocialWorker(user=user)
    elif (
        worker.organisation_id != organisation.pk
        and not is_self
        and not social_worker_may_manage(organisation=worker.organisation, user=by)
    ):
        raise NotPermitted(_("该社会工作者属于其他机构。"))
    worker.organisation = organisation
    worker.real_name = (real_name or "").strip()
    worker.level = level
    worker.certificate_number = (certificate_number or "").strip()
    worker.max_concurrent = max_concurrent
    worker.full_clean(validate_unique=False)
    worker.save()
    worker.specialties.set(list(specialties))
    return worker


@transaction.atomic
def social_worker_deactivate(*, social_worker: SocialWorker, by: User) -> SocialWorker:
    """Agency staff mark a social worker of their organisation as no longer serving; the
    profile stays for the record and leads no new teams."""
    worker = (
        SocialWorker.objects.select_for_update(of=("self",))
        .select_related("organisation")
        .get(pk=social_worker.pk)
    )
    if not social_worker_may_manage(organisation=worker.organisation, user=by):
        raise NotPermitted(_("只有本机构工作人员可以办理。"))
    if not worker.active:
        raise InvalidState(_("该社会工作者已离职。"))
    worker.active = False
    worker.save(update_fields=["active"])
    return worker
