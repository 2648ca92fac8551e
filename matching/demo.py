"""Demo data for matching: profiles for the purchasing agencies' social workers (so a run
can staff teams from several agencies, ranked by their track records) and the seeded
approval rules put back if an earlier flush removed them. No run is made: the demo journey
starts with a street official pressing “发起匹配”."""

from __future__ import annotations

from importlib import import_module

from django.db import transaction

from marketplace.demo import SeedReport
from marketplace.models import Membership, Role, ServiceType, User
from matching.models import ApprovalRule
from matching.services import approval_rule_editors_sync
from volunteers.models import SocialWorker
from volunteers.services.people import social_worker_save

# login → (level, specialties by service type code)
SOCIAL_WORKERS = {
    "sg_yg1": (SocialWorker.Level.INTERMEDIATE, ["social_integration", "visiting"]),
    "sg_yg2": (SocialWorker.Level.ASSISTANT, ["rehabilitation", "care"]),
    "sg_tx1": (SocialWorker.Level.SENIOR, ["counselling", "social_integration"]),
    "sg_tx2": (SocialWorker.Level.ASSISTANT, ["capacity_building", "visiting"]),
    "sg_nx1": (SocialWorker.Level.INTERMEDIATE, ["rehabilitation", "hospital_escort"]),
    "sg_nx2": (SocialWorker.Level.ASSISTANT, ["care", "age_friendly"]),
}


def approval_rules_ensure() -> int:
    """The rules migration 0002 seeds, put back when a flush removed every rule; how many
    were made."""
    if ApprovalRule.objects.exists():
        return 0
    rules = import_module("matching.migrations.0002_default_approval_rules")
    for position, name, amount, cross, level in rules.RULES:
        ApprovalRule.objects.create(
            position=position, name=name, min_amount=amount, cross_street=cross, level=level
        )
    return len(rules.RULES)


def matching_demo_seed(*, report: SeedReport, size: str) -> None:
    """Create what is missing of the matching demo (the same for every size)."""
    approval_rule_editors_sync()
    with transaction.atomic():
        created = approval_rules_ensure()
        if created:
            report.add("approval_rules", created)
        for username, (level, codes) in SOCIAL_WORKERS.items():
            user = User.objects.filter(username=username).first()
            if user is None or SocialWorker.objects.filter(user=user).exists():
                continue
            membership = (
                Membership.objects.filter(user=user, role=Role.SOCIAL_WORKER)
                .select_related("organisation")
                .first()
            )
            if membership is None:
                continue
            social_worker_save(
                by=user,
                user=user,
                organisation=membership.organisation,
                real_name=user.display_name or username,
                level=level,
                certificate_number=(
                    "" if level == SocialWorker.Level.NONE else f"SW2020340102{user.pk:03d}"
                ),
                specialties=list(ServiceType.objects.filter(code__in=codes)),
                max_concurrent=3,
            )
            report.add("social_workers")
