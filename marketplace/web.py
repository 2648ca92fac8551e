"""What every app's pages share: paging, the status of a filtered list, the role gate and
turning a service's errors into form errors or a line of text."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.paginator import Paginator
from django.utils.translation import gettext as _

from marketplace.exceptions import InvalidState, NotPermitted
from marketplace.selectors.directory import user_scope

PAGE_SIZE = 20


def require_role(request, roles, message=None) -> None:
    """403 for a role that may not use the page at all."""
    if not user_scope(user=request.user).has(*roles):
        raise PermissionDenied(message or _("您的角色不能访问此页面。"))


def add_validation_error(form, exc: DjangoValidationError) -> None:
    """Put a service's ValidationError on the form: on the field it names if the form has
    one, else above the form."""
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            for error in errors:
                form.add_error(name if name in form.fields else None, error)
    else:
        form.add_error(None, exc)


def error_text(exc: Exception) -> str:
    """A service error as one line for a message banner."""
    if isinstance(exc, DjangoValidationError):
        return "；".join(str(m) for m in exc.messages)
    return str(getattr(exc, "message", exc))


def form_refusal(form, exc: Exception, *, conflict: bool = False) -> int:
    """Put a service's refusal on the form (nothing was written) and return the response
    status: 400 for what was entered, 403 when the user may not do this at all, and with
    `conflict` 409 when the object's state refuses it."""
    if isinstance(exc, DjangoValidationError):
        add_validation_error(form, exc)
        return 400
    form.add_error(None, error_text(exc))
    if isinstance(exc, NotPermitted):
        return 403
    return 409 if conflict and isinstance(exc, InvalidState) else 400


def page_of(request, queryset, *, param: str = "page"):
    """One page of rows, evaluated once (the template and the view both walk them), and the
    query string without the page number for the pager's links."""
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get(param))
    page.object_list = list(page.object_list)
    query = request.GET.copy()
    query.pop(param, None)
    return page, query.urlencode()


def filtered(filterset):
    """The filtered rows and the status: 400 with nothing for a bad filter value."""
    if filterset.is_bound and not filterset.is_valid():
        return filterset.queryset.none(), 400
    return filterset.qs, 200
