"""Errors of matching and approval, on the one error base."""

from django.utils.translation import gettext_lazy as _

from marketplace.exceptions import DomainError, InvalidState, NotPermitted

__all__ = ["DomainError", "InvalidState", "MatchingError", "NotPermitted", "RunBusy"]


class MatchingError(DomainError):
    code = "matching_error"
    default_message = _("匹配未能完成。")


class RunBusy(InvalidState):
    """Another run over an overlapping area is queued or running."""

    code = "run_busy"
    default_message = _("该范围已有正在进行的匹配运行，请等待其完成。")
