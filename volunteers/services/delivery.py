"""Delivered units of a purchased-service contract from the work of a team that delivers
it: each confirmed service record of the team's opportunities counts once towards a
milestone (hours when the milestone counts hours, else one unit)."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from marketplace.models import Contract, DeliveryRecord, Milestone, User
from marketplace.models.procurement import Unit
from marketplace.services.contracts import OPEN_FOR_DELIVERY, agency_staff_organisation_ids
from volunteers.exceptions import InvalidState, NotPermitted
from volunteers.models import ServiceRecord, Team

__all__ = ["service_record_ref", "team_delivery_log"]


def service_record_ref(record_id: int) -> str:
    """The `source_ref` naming a service record, unique across all delivery records."""
    return f"servicerecord:{record_id}"


@transaction.atomic
def team_delivery_log(*, team: Team, milestone: Milestone, by: User) -> list[DeliveryRecord]:
    """Log every confirmed service record of the team's opportunities not yet counted as a
    delivery record of the milestone; returns the new records. Calling it again logs
    nothing new; two calls at once cannot count a record twice (the unique `source_ref`
    holds and the loser skips it)."""
    milestone = (
        Milestone.objects.select_for_update().select_related("contract").get(pk=milestone.pk)
    )
    contract = milestone.contract
    team = Team.objects.get(pk=team.pk)
    if team.organisation_id not in agency_staff_organisation_ids(user=by):
        raise NotPermitted(_("只有团队所属机构的工作人员可以登记团队服务量。"))
    if team.organisation_id != contract.agency_id:
        raise NotPermitted(_("该团队所属机构不是合同的承接机构。"))
    if team.contract_id != contract.pk:
        raise ValidationError({"team": _("该团队不是为此合同组建的。")})
    if contract.status != Contract.Status.ACTIVE:
        raise InvalidState(_("合同不在履约中，不能登记服务量。"))
    if milestone.status not in OPEN_FOR_DELIVERY:
        raise InvalidState(_("该节点已提交验收或已验收，不能再登记服务量。"))

    records = list(
        ServiceRecord.objects.filter(opportunity__team=team, status=ServiceRecord.Status.CONFIRMED)
        .select_related("opportunity")
        .order_by("checked_in_at", "pk")
    )
    refs = {service_record_ref(r.pk): r for r in records}
    logged = set(
        DeliveryRecord.objects.filter(source_ref__in=list(refs)).values_list(
            "source_ref", flat=True
        )
    )
    by_hours = milestone.unit == Unit.HOUR
    created = []
    for ref, record in refs.items():
        if ref in logged:
            continue
        units = record.hours if by_hours else Decimal("1")
        if units <= 0:
            # A confirmed record of no time adds nothing to an hours target.
            continue
        delivery = DeliveryRecord(
            milestone=milestone,
            units=units,
            delivered_on=timezone.localdate(record.checked_in_at),
            source=DeliveryRecord.Source.TEAM,
            source_ref=ref,
            description=record.opportunity.title[:300],
            entered_by=by,
        )
        delivery.full_clean(exclude=["evidence"], validate_constraints=False)
        try:
            with transaction.atomic():
                delivery.save()
        except IntegrityError:
            # Another call logged it first: it is counted once, by that call.
            continue
        created.append(delivery)
    return created
