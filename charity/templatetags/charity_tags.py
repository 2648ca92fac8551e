"""The fund card of the workbench, self-contained: `{% charity_workbench as wb %}` reads the
acting user from the request and returns what the card shows."""

from __future__ import annotations

from django import template
from django.db.models import Q
from django.utils import timezone

from charity.models import Disbursement
from charity.selectors.funds import (
    MANAGER_ROLES,
    disbursement_awaiting,
    disbursement_list_for_user,
    fund_list_for_user,
)
from charity.views.common import READER_ROLES
from marketplace.selectors import user_scope

register = template.Library()

# How many managed funds the card lists before pointing to the full list.
CARD_FUNDS = 5


@register.simple_tag(takes_context=True)
def charity_workbench(context) -> dict | None:
    """For a user of the fund pages: the funds they manage with balances, how many
    disbursements wait for their decision, how many emergency payments they can see still
    wait for regularisation and how many of those are overdue. None for other users."""
    request = context.get("request")
    user = getattr(request, "user", None)
    scope = user_scope(user=user)
    if not scope.has(*READER_ROLES):
        return None
    managed = {m.organisation_id for m in scope.memberships if m.role in MANAGER_ROLES}
    funds = list(fund_list_for_user(user=user).filter(organisation_id__in=managed)[:CARD_FUNDS])
    to_regularise = disbursement_list_for_user(user=user).filter(
        emergency=True, status=Disbursement.Status.PAID, regularised_at__isnull=True
    )
    overdue = to_regularise.filter(
        Q(flagged_at__isnull=False) | Q(regularise_by__lt=timezone.now())
    )
    return {
        "funds": funds,
        "awaiting": disbursement_awaiting(user=user).count(),
        "to_regularise": to_regularise.count(),
        "overdue": overdue.count(),
    }
