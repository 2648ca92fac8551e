"""Writes of the shared domain. Every change of organisations and memberships comes
through here: the service checks the actor's role, validates, saves in one transaction and
schedules what follows (mail, real-time events) after commit."""

from __future__ import annotations

from functools import partial

from django.conf import settings
from django.core.mail import send_mass_mail
from django.db import transaction
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from marketplace import crypto, realtime
from marketplace.exceptions import InvalidState, NotPermitted
from marketplace.models import Area, Membership, Organisation, Role, User
from marketplace.selectors import organisation_member_user_ids, user_scope
from marketplace.validators import normalise_phone, validate_phone
from search.public import schedule_reindex

ORGANISATION_PHONE = "organisation.phone"

# Kinds a street official may register in their own street; government bodies are created
# by civil affairs only.
STREET_REGISTRABLE_KINDS = {
    Organisation.Kind.COMMUNITY,
    Organisation.Kind.CHARITY,
    Organisation.Kind.AGENCY,
    Organisation.Kind.SOCIAL_WORK_STATION,
    Organisation.Kind.VOLUNTEER_ORG,
    Organisation.Kind.VOLUNTEER_FEDERATION,
    Organisation.Kind.MUTUAL_AID,
}


def _check_may_register(*, user: User, kind: str, area: Area) -> None:
    scope = user_scope(user=user)
    if scope.has(Role.CIVIL_AFFAIRS_OFFICIAL):
        return
    if scope.has(Role.STREET_OFFICIAL):
        street = area.street
        if kind in STREET_REGISTRABLE_KINDS and street and street.pk in scope.street_ids:
            return
    raise NotPermitted(_("只有区民政局或本街道工作人员可以登记该组织。"))


@transaction.atomic
def organisation_create(
    *,
    created_by: User,
    name: str,
    kind: str,
    area: Area,
    credit_code: str = "",
    department: str = "",
    address: str = "",
    description: str = "",
    legal_representative: str = "",
    phone: str = "",
) -> Organisation:
    """Register an organisation. It starts unverified; civil affairs verifies it. The phone
    is stored sealed like every phone; its lookup hash lets civil affairs see bidders that
    share one."""
    _check_may_register(user=created_by, kind=kind, area=area)
    phone = normalise_phone(phone)
    if phone:
        validate_phone(phone)
    organisation = Organisation(
        name=name.strip(),
        kind=kind,
        area=area,
        credit_code=credit_code.strip().upper(),
        department=department,
        address=address.strip(),
        description=description.strip(),
        legal_representative="".join(legal_representative.split()),
        **(crypto.sealed_phone(phone, purpose=ORGANISATION_PHONE) if phone else {}),
    )
    organisation.full_clean()
    organisation.save()
    schedule_reindex(doc_type="organisation", object_id=organisation.pk)
    return organisation


@transaction.atomic
def organisation_verify(*, organisation: Organisation, verified_by: User) -> Organisation:
    """Mark an organisation verified (civil affairs only); its members are told by mail and
    on their open pages once the change is committed."""
    if not user_scope(user=verified_by).has(Role.CIVIL_AFFAIRS_OFFICIAL):
        raise NotPermitted(_("只有区民政局可以认证组织。"))
    locked = Organisation.objects.select_for_update().get(pk=organisation.pk)
    if locked.verified:
        raise InvalidState(_("该组织已认证，无需重复认证。"))
    locked.verified = True
    locked.verified_at = timezone.now()
    locked.verified_by = verified_by
    locked.save(update_fields=["verified", "verified_at", "verified_by"])
    schedule_reindex(doc_type="organisation", object_id=locked.pk)

    from marketplace.tasks import organisation_verified_notify

    organisation_verified_notify.delay_on_commit(organisation_id=locked.pk)
    member_ids = organisation_member_user_ids(organisation=locked)
    payload = {
        "event": "organisation.verified",
        "organisation": {"id": locked.pk, "name": locked.name},
        "message": _("您所在的组织“%(name)s”已通过区民政局认证。") % {"name": locked.name},
    }
    transaction.on_commit(lambda: realtime.publish_to_users(member_ids, payload))
    return locked


def organisation_verified_notify(*, organisation_id: int) -> int:
    """Mail every member with an address that their organisation is verified. Returns the
    number of mails sent; nothing happens if the organisation is gone or not verified."""
    organisation = Organisation.objects.filter(pk=organisation_id, verified=True).first()
    if organisation is None:
        return 0
    emails = sorted(
        set(
            User.objects.filter(memberships__organisation=organisation, is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("组织认证通过通知")
        body = _(
            "您好！您所在的组织“%(name)s”已通过瑶海区民政局认证，"
            "现在可以在平台上发布项目、参与服务。"
        ) % {"name": organisation.name}
    messages = [(subject, body, settings.DEFAULT_FROM_EMAIL, [email]) for email in emails]
    return send_mass_mail(messages, fail_silently=False) if messages else 0


@transaction.atomic
def membership_add(
    *, user: User, role: str, organisation: Organisation | None = None
) -> Membership:
    """Give a user a role, in an organisation where the role needs one. Idempotent."""
    existing = Membership.objects.filter(user=user, role=role, organisation=organisation).first()
    if existing:
        return existing
    membership = Membership(user=user, role=role, organisation=organisation)
    membership.full_clean(validate_constraints=False)
    membership.save()
    for path in settings.MEMBERSHIP_LISTENERS:
        listener = import_string(path)
        transaction.on_commit(partial(listener, membership_id=membership.pk))
    return membership
