"""Writes of opportunities and sign-ups: posting, editing and cancelling an opportunity,
signing up with a waiting list that moves up by itself, cancelling a sign-up, reminders and
notices of changes.

No double booking, under concurrency: a sign-up locks the volunteer's row and then the
opportunity's row (always in that order), checks, and moves `confirmed_count` with an `F()`
update. The database has the last word — the check constraint `opportunity_not_overbooked`
and, on PostgreSQL, the exclusion constraint `signup_no_overlap`; their violations come back
as `OpportunityFull` / `ScheduleConflict` with nothing saved."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from smtplib import SMTPException

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from marketplace import realtime
from marketplace.models import Area, Organisation, ServiceType, User
from search.public import schedule_reindex
from volunteers.exceptions import (
    DomainError,
    InvalidState,
    NotPermitted,
    OpportunityFull,
    ScheduleConflict,
    TooManyTasks,
)
from volunteers.models import Opportunity, Signup, Skill, Team, Volunteer
from volunteers.selectors.opportunities import (
    ORGANISER_ROLES,
    opportunity_is_organiser,
)

__all__ = [
    "AlreadySignedUp",
    "opportunity_cancel",
    "opportunity_changed_notify",
    "opportunity_create",
    "opportunity_remind",
    "opportunity_update",
    "signup_cancel",
    "signup_create",
]

logger = logging.getLogger(__name__)

# Reminders go out for confirmed sign-ups starting within this window.
REMIND_AHEAD = timedelta(hours=24)


class AlreadySignedUp(DomainError):
    code = "already_signed_up"
    default_message = gettext_lazy("您已报名该活动。")


class _Keep:
    """Marks an argument of `opportunity_update` that was not given (the value stays)."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP = _Keep()


def _local(value: datetime) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


def _when(opportunity: Opportunity) -> str:
    start, end = timezone.localtime(opportunity.starts_at), timezone.localtime(opportunity.ends_at)
    if start.date() == end.date():
        return f"{start:%Y-%m-%d %H:%M}—{end:%H:%M}"
    return f"{_local(start)}—{_local(end)}"


def _place(opportunity: Opportunity) -> str:
    return " ".join(p for p in (opportunity.community.name, opportunity.address) if p)


def _may_post(*, by: User, organisation: Organisation, team: Team | None) -> bool:
    if by.memberships.filter(organisation=organisation, role__in=ORGANISER_ROLES).exists():
        return True
    return team is not None and team.leader.user_id == by.pk


# --- Posting ------------------------------------------------------------------------------


@transaction.atomic
def opportunity_create(
    *,
    by: User,
    organisation: Organisation,
    title: str,
    description: str,
    community: Area,
    starts_at: datetime,
    ends_at: datetime,
    slots: int,
    skills: Iterable[Skill] = (),
    service_type: ServiceType | None = None,
    address: str = "",
    team: Team | None = None,
) -> Opportunity:
    """Post an opportunity for an organisation (its staff) or for a team (its leader, in the
    team's organisation). It opens for sign-up at once."""
    if team is not None:
        if team.organisation_id != organisation.pk:
            raise ValidationError({"team": _("该团队不属于所选组织。")})
        if team.status != Team.Status.ACTIVE:
            raise ValidationError({"team": _("该团队已结束服务。")})
    if not _may_post(by=by, organisation=organisation, team=team):
        raise NotPermitted(_("只有该组织的工作人员或团队带队社工可以发布活动。"))
    if not organisation.verified:
        raise NotPermitted(_("组织尚未通过认证，暂不能发布活动。"))
    if starts_at <= timezone.now():
        raise ValidationError({"starts_at": _("开始时间应晚于现在。")})
    opportunity = Opportunity(
        organisation=organisation,
        team=team,
        title=title.strip(),
        description=description.strip(),
        service_type=service_type,
        community=community,
        address=address.strip(),
        starts_at=starts_at,
        ends_at=ends_at,
        slots=slots,
        created_by=by,
    )
    opportunity.full_clean()
    opportunity.save()
    opportunity.skills.set(list(skills))
    schedule_reindex(doc_type="opportunity", object_id=opportunity.pk)
    return opportunity


def _lock_open(opportunity: Opportunity, *, by: User, now: datetime) -> Opportunity:
    if not opportunity_is_organiser(opportunity=opportunity, user=by):
        raise NotPermitted(_("只有活动的组织方可以修改或取消活动。"))
    locked = (
        Opportunity.objects.select_for_update().select_related("community").get(pk=opportunity.pk)
    )
    if locked.status != Opportunity.Status.OPEN:
        raise InvalidState(_("活动已取消或已结束。"))
    if locked.starts_at <= now:
        raise InvalidState(_("活动已开始，不能修改或取消。"))
    return locked


@transaction.atomic
def opportunity_update(
    *,
    opportunity: Opportunity,
    by: User,
    title=KEEP,
    description=KEEP,
    community=KEEP,
    address=KEEP,
    starts_at=KEEP,
    ends_at=KEEP,
    slots=KEEP,
    skills=KEEP,
    service_type=KEEP,
) -> Opportunity:
    """Change an opportunity that has not started. Slots never drop below the confirmed
    sign-ups; more slots move the waiting list up; new times are copied onto live sign-ups
    (refused when they would clash with another confirmed sign-up of one of them). People
    signed up hear of a new time or place after commit."""
    now = timezone.now()
    locked = _lock_open(opportunity, by=by, now=now)
    before = (locked.starts_at, locked.ends_at, locked.community_id, locked.address)
    for name, value in {
        "title": title,
        "description": description,
        "community": community,
        "address": address,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "slots": slots,
        "service_type": service_type,
    }.items():
        if value is not KEEP:
            setattr(locked, name, value.strip() if isinstance(value, str) else value)
    times_changed = (locked.starts_at, locked.ends_at) != before[:2]
    if times_changed and locked.starts_at <= now:
        raise ValidationError({"starts_at": _("开始时间应晚于现在。")})
    locked.full_clean()
    if times_changed:
        confirmed = Signup.objects.filter(opportunity=locked, status=Signup.Status.CONFIRMED)
        clashes = (
            Signup.objects.filter(
                volunteer_id__in=confirmed.values("volunteer_id"),
                status=Signup.Status.CONFIRMED,
                starts_at__lt=locked.ends_at,
                ends_at__gt=locked.starts_at,
            )
            .exclude(opportunity=locked)
            .values("volunteer_id")
            .distinct()
            .count()
        )
        if clashes:
            raise ScheduleConflict(
                _("新的时间与 %(n)s 位已报名志愿者的其他活动冲突，请先与他们沟通。")
                % {"n": clashes}
            )
    try:
        with transaction.atomic():
            locked.save()
            if times_changed:
                # A new time deserves a new reminder.
                Signup.objects.filter(opportunity=locked, status__in=Signup.LIVE).update(
                    starts_at=locked.starts_at, ends_at=locked.ends_at, reminded_at=None
                )
    except IntegrityError as exc:
        raise _translate(exc) from exc
    if skills is not KEEP:
        locked.skills.set(list(skills))
    schedule_reindex(doc_type="opportunity", object_id=locked.pk)
    promoted = _promote_waitlist(locked, now=now)
    place_changed = (locked.community_id, locked.address) != before[2:]
    if times_changed or place_changed:
        _schedule_notice(locked.pk, "updated")
    if promoted:
        _schedule_notice(locked.pk, "promoted", user_ids=promoted)
    return locked


@transaction.atomic
def opportunity_cancel(*, opportunity: Opportunity, by: User, reason: str) -> Opportunity:
    """Cancel an opportunity that has not started: every sign-up is cancelled and each
    volunteer hears why, after commit."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("请填写取消原因。")})
    now = timezone.now()
    locked = _lock_open(opportunity, by=by, now=now)
    live = Signup.objects.filter(opportunity=locked, status__in=Signup.LIVE)
    user_ids = list(live.values_list("volunteer__user_id", flat=True))
    live.update(status=Signup.Status.CANCELLED, cancelled_at=now)
    locked.status = Opportunity.Status.CANCELLED
    locked.cancel_reason = reason[:200]
    locked.confirmed_count = 0
    locked.save(update_fields=["status", "cancel_reason", "confirmed_count", "updated_at"])
    schedule_reindex(doc_type="opportunity", object_id=locked.pk)
    if user_ids:
        _schedule_notice(locked.pk, "cancelled", reason=reason, user_ids=user_ids)
    return locked


# --- Sign-up and the waiting list ---------------------------------------------------------


def _translate(exc: IntegrityError) -> DomainError:
    """The database refused a sign-up: say which rule, in the volunteer's words."""
    text = str(exc)
    if "opportunity_not_overbooked" in text:
        return OpportunityFull()
    if "signup_no_overlap" in text:
        return ScheduleConflict()
    if "signup_one_live_per_volunteer" in text or "UNIQUE constraint failed" in text:
        return AlreadySignedUp()
    raise exc


def _blocking(volunteer: Volunteer, opportunity: Opportunity, now: datetime) -> DomainError | None:
    """Why the volunteer may not take a place in the opportunity now, if they may not."""
    holding = Signup.objects.filter(
        volunteer=volunteer, status=Signup.Status.CONFIRMED, ends_at__gt=now
    ).exclude(opportunity=opportunity)
    if holding.filter(
        starts_at__lt=opportunity.ends_at, ends_at__gt=opportunity.starts_at
    ).exists():
        return ScheduleConflict()
    if holding.count() >= volunteer.max_concurrent:
        return TooManyTasks(
            _("您已有 %(n)s 项未结束的报名，达到您设定的同时承担任务数。")
            % {"n": volunteer.max_concurrent}
        )
    return None


def signup_create(
    *, volunteer: Volunteer, opportunity: Opportunity, now: datetime | None = None
) -> Signup:
    """Sign a volunteer up: confirmed while a slot is free, else on the waiting list.
    Refused when the opportunity is not open or has started, when the volunteer already has
    a live sign-up for it, overlaps another confirmed sign-up, or holds as many unfinished
    sign-ups as they take at once."""
    now = now or timezone.now()
    try:
        with transaction.atomic():
            # Volunteer first, then opportunity: every writer takes them in this order.
            volunteer = Volunteer.objects.select_for_update().get(pk=volunteer.pk)
            locked = Opportunity.objects.select_for_update().get(pk=opportunity.pk)
            if locked.status != Opportunity.Status.OPEN:
                raise InvalidState(_("该活动已取消或已结束，不能报名。"))
            if locked.starts_at <= now:
                raise InvalidState(_("活动已开始，不能报名"))
            if Signup.objects.filter(
                volunteer=volunteer, opportunity=locked, status__in=Signup.LIVE
            ).exists():
                raise AlreadySignedUp()
            refusal = _blocking(volunteer, locked, now)
            if refusal is not None:
                raise refusal
            signup = Signup(
                volunteer=volunteer,
                opportunity=locked,
                starts_at=locked.starts_at,
                ends_at=locked.ends_at,
            )
            if locked.confirmed_count < locked.slots:
                signup.status = Signup.Status.CONFIRMED
                Opportunity.objects.filter(pk=locked.pk).update(
                    confirmed_count=F("confirmed_count") + 1
                )
            else:
                signup.status = Signup.Status.WAITLISTED
                signup.waitlisted_at = now
            signup.save()
    except IntegrityError as exc:
        raise _translate(exc) from exc
    opportunity.refresh_from_db(fields=["confirmed_count"])
    return signup


def _promote_waitlist(opportunity: Opportunity, *, now: datetime) -> list[int]:
    """Move the waiting list up into free slots, earliest first, skipping anyone who now
    clashes or is at their limit. Returns the user ids of those promoted. Call under the
    opportunity's row lock."""
    opportunity.refresh_from_db(fields=["confirmed_count", "slots"])
    free = opportunity.slots - opportunity.confirmed_count
    promoted: list[int] = []
    if free <= 0:
        return promoted
    waiting = Signup.objects.filter(
        opportunity=opportunity, status=Signup.Status.WAITLISTED
    ).order_by("waitlisted_at", "pk")
    for signup in waiting:
        if free <= 0:
            break
        # Taking a volunteer's lock after the opportunity's would invert the lock order and
        # could deadlock with that volunteer signing up elsewhere; someone busy right now is
        # passed over for this opening and keeps their place on the list.
        candidate = (
            Volunteer.objects.select_for_update(skip_locked=True)
            .filter(pk=signup.volunteer_id)
            .first()
        )
        if candidate is None or _blocking(candidate, opportunity, now) is not None:
            continue
        try:
            with transaction.atomic():
                Signup.objects.filter(pk=signup.pk).update(status=Signup.Status.CONFIRMED)
                Opportunity.objects.filter(pk=opportunity.pk).update(
                    confirmed_count=F("confirmed_count") + 1
                )
        except IntegrityError:
            continue
        free -= 1
        promoted.append(candidate.user_id)
    opportunity.refresh_from_db(fields=["confirmed_count"])
    return promoted


@transaction.atomic
def signup_cancel(*, signup: Signup, by: User, now: datetime | None = None) -> Signup:
    """The volunteer withdraws before the start. A confirmed place goes to the earliest
    waiting volunteer who can take it; they hear of it after commit."""
    now = now or timezone.now()
    volunteer = Volunteer.objects.select_for_update().get(pk=signup.volunteer_id)
    if volunteer.user_id != by.pk:
        raise NotPermitted(_("只能取消自己的报名。"))
    opportunity = Opportunity.objects.select_for_update().get(pk=signup.opportunity_id)
    locked = Signup.objects.select_for_update().get(pk=signup.pk)
    if locked.status not in Signup.LIVE:
        raise InvalidState(_("该报名已取消。"))
    if opportunity.starts_at <= now:
        raise InvalidState(_("活动已开始，不能取消报名。"))
    was_confirmed = locked.status == Signup.Status.CONFIRMED
    locked.status = Signup.Status.CANCELLED
    locked.cancelled_at = now
    locked.save(update_fields=["status", "cancelled_at"])
    if was_confirmed:
        Opportunity.objects.filter(pk=opportunity.pk).update(
            confirmed_count=F("confirmed_count") - 1
        )
        promoted = _promote_waitlist(opportunity, now=now)
        if promoted:
            _schedule_notice(opportunity.pk, "promoted", user_ids=promoted)
    return locked


# --- Notices and reminders ----------------------------------------------------------------


def _schedule_notice(
    opportunity_id: int, change: str, *, reason: str = "", user_ids: list[int] | None = None
) -> None:
    from volunteers.tasks import opportunity_changed_notify as task

    task.delay_on_commit(
        opportunity_id=opportunity_id, change=change, reason=reason, user_ids=user_ids
    )


def _tell(users: Iterable[User], *, subject: str, body: str, payload: dict) -> int:
    """Push one notice to the users' open pages and mail those with an address."""
    users = list(users)
    realtime.publish_to_users([u.pk for u in users], {**payload, "message": body})
    for user in users:
        if not user.email:
            continue
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
        except (SMTPException, OSError):
            # The notice on the page went out; one bad mailbox must not stop the others.
            logger.exception("volunteer notice mail failed for user %s", user.pk)
    return len(users)


def opportunity_changed_notify(
    *,
    opportunity_id: int,
    change: str,
    reason: str = "",
    user_ids: list[int] | None = None,
) -> int:
    """Tell volunteers that an opportunity changed ("updated"), was cancelled ("cancelled",
    with the reason) or that they moved up from the waiting list ("promoted"). Without
    `user_ids` everyone with a live sign-up hears. Returns the number of people told."""
    opportunity = Opportunity.objects.select_related("community").filter(pk=opportunity_id).first()
    if opportunity is None:
        return 0
    if user_ids is None:
        users = User.objects.filter(
            volunteer__signups__opportunity=opportunity,
            volunteer__signups__status__in=Signup.LIVE,
        )
    else:
        users = User.objects.filter(pk__in=user_ids)
    names = {"title": opportunity.title, "when": _when(opportunity), "place": _place(opportunity)}
    with translation.override(settings.LANGUAGE_CODE):
        if change == "cancelled":
            subject = _("志愿活动取消通知")
            body = _("您报名的活动“%(title)s”（%(when)s）已取消。原因：%(reason)s") % {
                **names,
                "reason": reason,
            }
        elif change == "promoted":
            subject = _("候补转正通知")
            body = _("您已从候补转为正式报名：“%(title)s”，%(when)s，%(place)s。") % names
        else:
            subject = _("志愿活动变更通知")
            body = _("您报名的活动“%(title)s”有变更，现为 %(when)s，地点：%(place)s。") % names
    payload = {"event": f"opportunity.{change}", "opportunity": {"id": opportunity.pk}}
    return _tell(users.distinct(), subject=subject, body=body, payload=payload)


def opportunity_remind(*, now: datetime | None = None) -> int:
    """Remind each confirmed volunteer once of an opportunity starting within 24 hours.
    Safe to run often and from two workers: a sign-up is claimed by setting `reminded_at`
    before the notice goes out. Returns the number of reminders sent."""
    now = now or timezone.now()
    due = (
        Signup.objects.filter(
            status=Signup.Status.CONFIRMED,
            reminded_at__isnull=True,
            opportunity__status=Opportunity.Status.OPEN,
            starts_at__gt=now,
            starts_at__lte=now + REMIND_AHEAD,
        )
        .select_related("volunteer__user", "opportunity__community")
        .order_by("starts_at", "pk")
    )
    sent = 0
    for signup in due:
        claimed = Signup.objects.filter(pk=signup.pk, reminded_at__isnull=True).update(
            reminded_at=now
        )
        if not claimed:
            continue
        opportunity = signup.opportunity
        names = {
            "title": opportunity.title,
            "when": _when(opportunity),
            "place": _place(opportunity),
        }
        with translation.override(settings.LANGUAGE_CODE):
            subject = _("志愿活动提醒")
            body = (
                _(
                    "活动提醒：“%(title)s”将于 %(when)s 进行，地点：%(place)s。"
                    "请准时到场，扫描带队人手机上的二维码签到。"
                )
                % names
            )
        _tell(
            [signup.volunteer.user],
            subject=subject,
            body=body,
            payload={"event": "opportunity.reminder", "opportunity": {"id": opportunity.pk}},
        )
        sent += 1
    return sent
