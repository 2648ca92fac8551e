"""The shared domain's models, split by aggregate: the directory (places, organisations,
people and roles) and assistance cases (households, their needs, referrals and warnings)."""

from marketplace.models.cases import (
    AssistanceStandard,
    Case,
    CaseMember,
    Consent,
    MonitoringRule,
    Need,
    NeedEscalation,
    NeedTransition,
    Referral,
    SensitiveAccess,
    ServiceType,
    Warning,
)
from marketplace.models.directory import (
    ROLE_ORGANISATION_KINDS,
    Area,
    Membership,
    Organisation,
    Role,
    User,
)

__all__ = [
    "ROLE_ORGANISATION_KINDS",
    "Area",
    "AssistanceStandard",
    "Case",
    "CaseMember",
    "Consent",
    "Membership",
    "MonitoringRule",
    "Need",
    "NeedEscalation",
    "NeedTransition",
    "Organisation",
    "Referral",
    "Role",
    "SensitiveAccess",
    "ServiceType",
    "User",
    "Warning",
]
