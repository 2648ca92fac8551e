"""The one error base of the product. Apps subclass it; interfaces turn `code` into a
response (HTTP status, API error, websocket error frame) and show `message` translated."""

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    """A rule of the domain refused an operation. Nothing was changed."""

    code = "domain_error"
    default_message = _("操作未能完成。")

    def __init__(self, message=None, *, code: str | None = None):
        self.message = message if message is not None else self.default_message
        if code is not None:
            self.code = code
        super().__init__(str(self.message))


class NotPermitted(DomainError):
    """The acting user's role or organisation does not allow this."""

    code = "not_permitted"
    default_message = _("您没有权限执行此操作。")


class InvalidState(DomainError):
    """The object is not in a state that allows this operation."""

    code = "invalid_state"
    default_message = _("当前状态下不能执行此操作。")
