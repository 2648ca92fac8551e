"""Errors of volunteering, teams and hours. Interfaces show `message`; `code` names the rule."""

from django.utils.translation import gettext_lazy as _

from marketplace.exceptions import DomainError, InvalidState, NotPermitted

__all__ = [
    "AlreadyRegistered",
    "CheckinCodeInvalid",
    "DomainError",
    "InvalidState",
    "NotPermitted",
    "OpportunityFull",
    "RateLimited",
    "ScheduleConflict",
    "TooManyTasks",
]


class AlreadyRegistered(DomainError):
    code = "already_registered"
    default_message = _("该身份证号码已注册为志愿者。")


class OpportunityFull(DomainError):
    code = "opportunity_full"
    default_message = _("名额已满。")


class ScheduleConflict(DomainError):
    code = "schedule_conflict"
    default_message = _("与您已报名的其他活动时间冲突。")


class TooManyTasks(DomainError):
    code = "too_many_tasks"
    default_message = _("已达到您设定的同时承担任务数。")


class CheckinCodeInvalid(DomainError):
    code = "checkin_code_invalid"
    default_message = _("签到码无效或已过期，请扫描带队人手机上的最新二维码。")


class RateLimited(DomainError):
    code = "rate_limited"
    default_message = _("发送太频繁，请稍后再试。")
