"""What the fund pages share: who may read them, and a service's refusal turned into a form
error. Which actions a user may take on a fund are the selectors' predicates."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError

from charity.exceptions import DomainError, NotPermitted
from marketplace.models import Role
from marketplace.web import add_validation_error, error_text

# Roles that see the staff pages of funds at all; the selectors narrow what each sees.
READER_ROLES = (
    Role.CIVIL_AFFAIRS_OFFICIAL,
    Role.AUDITOR,
    Role.CHARITY_STAFF,
    Role.AGENCY_STAFF,
    Role.STREET_OFFICIAL,
)
# Roles that pay an emergency need from the reserve (street officials for their street).
RESERVE_ROLES = (Role.CIVIL_AFFAIRS_OFFICIAL, Role.STREET_OFFICIAL)


def refusal(form, exc: Exception) -> int:
    """Put a service's refusal on the form and return the response status: 403 when the
    user may not do this at all, 400 for anything else (nothing was written)."""
    if isinstance(exc, DjangoValidationError):
        add_validation_error(form, exc)
        return 400
    form.add_error(None, error_text(exc))
    return 403 if isinstance(exc, NotPermitted) else 400


REFUSALS = (DomainError, DjangoValidationError)
